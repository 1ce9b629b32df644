//! Keeps this terminal's answers to the program's questions out of the
//! session.
//!
//! When `attach` passes the session's bytes through, a question the
//! program asks its terminal (device attributes, a mode report, a colour,
//! a capability) reaches this terminal too, and its answer would arrive on
//! stdin like typing: the program, already answered by the owner's
//! terminal, would get a second answer, as keystrokes. So the answers are
//! dropped from what is typed here:
//!
//! - `CSI ? … c`, `CSI > … c`, `CSI = … c` (device attributes),
//! - `CSI … $ y` (mode reports), `CSI ? … u` (keyboard-protocol flags),
//! - every OSC (`ESC ]` … BEL/ST) and DCS (`ESC P` … ST) string.
//!
//! No key produces any of these. A cursor-position report (`CSI r ; c R`)
//! is let through: it is spelled like Shift-F3 with modifiers, so it
//! cannot be told from typing. A lone ESC is passed on at once (it is the
//! Escape key); only a sequence that has shown it is an answer is held
//! until it ends (at most [`MAX_HELD`] bytes, then it is let go).

/// Most bytes of one answer held while it is incomplete.
pub const MAX_HELD: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    /// ESC seen (at the end of a chunk it is passed on).
    Esc,
    /// `CSI` then a private marker (`?`, `>`, `=`): an answer if it ends
    /// in `c` or `u` (or `$ y`).
    CsiPrivate,
    /// `CSI` with plain parameters: only `$ y` makes it an answer.
    Csi,
    /// Inside an OSC or DCS string.
    Str,
    /// ESC inside a string (ST is `ESC \`).
    StrEsc,
}

/// The filter over typed bytes.
#[derive(Debug)]
pub struct Replies {
    state: State,
    held: Vec<u8>,
}

impl Default for Replies {
    fn default() -> Self {
        Replies {
            state: State::Ground,
            held: Vec::new(),
        }
    }
}

impl Replies {
    /// What of `input` is typing, in order.
    pub fn feed(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            self.step(b, &mut out);
        }
        // An ESC alone at the end of what was read is the Escape key.
        if self.state == State::Esc {
            out.append(&mut self.held);
            self.state = State::Ground;
        }
        out
    }

    fn step(&mut self, b: u8, out: &mut Vec<u8>) {
        match self.state {
            State::Ground => {
                if b == 0x1b {
                    self.held.push(b);
                    self.state = State::Esc;
                } else {
                    out.push(b);
                }
            }
            State::Esc => match b {
                b']' | b'P' => {
                    self.held.push(b);
                    self.state = State::Str;
                }
                b'[' => {
                    self.held.push(b);
                    self.state = State::Csi;
                }
                _ => {
                    out.append(&mut self.held);
                    self.state = State::Ground;
                    self.step(b, out);
                }
            },
            State::Csi | State::CsiPrivate => {
                self.held.push(b);
                let first = self.held.len() == 3;
                match b {
                    b'?' | b'>' | b'=' if first => self.state = State::CsiPrivate,
                    0x20..=0x3f => {}
                    0x40..=0x7e => {
                        let answer = match (self.state, b) {
                            (State::CsiPrivate, b'c' | b'u') => true,
                            (_, b'y') => self.held.get(self.held.len() - 2) == Some(&b'$'),
                            _ => false,
                        };
                        if answer {
                            self.held.clear();
                        } else {
                            out.append(&mut self.held);
                        }
                        self.state = State::Ground;
                    }
                    _ => {
                        // Not a sequence after all.
                        out.append(&mut self.held);
                        self.state = State::Ground;
                    }
                }
                if self.held.len() > MAX_HELD {
                    out.append(&mut self.held);
                    self.state = State::Ground;
                }
            }
            State::Str => match b {
                0x07 => {
                    self.held.clear();
                    self.state = State::Ground;
                }
                0x1b => self.state = State::StrEsc,
                _ => {
                    self.held.push(b);
                    // Alt-] or Alt-P typed: not an answer's opening, given
                    // back as typed.
                    if !answer_opening(&self.held) || self.held.len() > MAX_HELD {
                        out.append(&mut self.held);
                        self.state = State::Ground;
                    }
                }
            },
            State::StrEsc => {
                if b == b'\\' {
                    self.held.clear();
                    self.state = State::Ground;
                } else {
                    self.held.push(0x1b);
                    self.state = State::Str;
                    self.step(b, out);
                }
            }
        }
    }
}

/// True while `held` (from its ESC) can still be the start of an OSC or
/// DCS answer: `ESC ] digits ;` (colours, palette, clipboard) or
/// `ESC P 0|1 +|$ r`, `ESC P > |` (capabilities, settings, version).
fn answer_opening(held: &[u8]) -> bool {
    match held {
        [0x1b, b']', rest @ ..] => {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            match rest.get(digits) {
                None => digits <= 3,
                Some(b';') => digits >= 1,
                Some(_) => digits >= 1 && rest[..=digits].contains(&b';'),
            }
        }
        [0x1b, b'P', rest @ ..] => match rest {
            [] | [b'0' | b'1' | b'>'] => true,
            [b'0' | b'1', b'+' | b'$', ..] => rest.len() < 3 || rest[2] == b'r',
            [b'>', b'|', ..] => true,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<u8> {
        let mut r = Replies::default();
        chunks.iter().flat_map(|c| r.feed(c)).collect()
    }

    #[test]
    fn typing_passes_unchanged() {
        for keys in [
            &b"ls -la\r"[..],
            b"\x1b",
            b"\x1b[A\x1b[1;5C\x1bOP",
            b"\x1b[200~pasted\x1b[201~",
            b"\x1b[1;2R",
            b"\x1b[I\x1b[O",
            b"\x1bx",
            b"\x1b[97;5u",
        ] {
            assert_eq!(all(&[keys]), keys, "{keys:?}");
        }
    }

    #[test]
    fn answers_are_dropped_whole_even_split() {
        assert_eq!(all(&[b"a\x1b[?62;22c", b"b"]), b"ab");
        assert_eq!(all(&[b"a\x1b[>0;95;0cb"]), b"ab");
        assert_eq!(all(&[b"\x1b[?2004;1$y"]), b"");
        assert_eq!(all(&[b"\x1b[?1u"]), b"");
        assert_eq!(all(&[b"x\x1b]11;rgb:0000/0000/0000\x1b\\y"]), b"xy");
        assert_eq!(all(&[b"x\x1b]10;rgb:ff", b"ff/ffff/ffff\x07y"]), b"xy");
        assert_eq!(all(&[b"\x1bP1+r544e=787465726d\x1b\\q"]), b"q");
        assert_eq!(all(&[b"a\x1b[", b"?6", b"2c", b"b"]), b"ab");
    }

    #[test]
    fn alt_bracket_and_alt_p_are_typing() {
        assert_eq!(all(&[b"\x1b]abc"]), b"\x1b]abc");
        assert_eq!(all(&[b"\x1bPx"]), b"\x1bPx");
        assert_eq!(all(&[b"\x1b]1x"]), b"\x1b]1x");
    }

    #[test]
    fn a_lone_escape_is_not_held() {
        let mut r = Replies::default();
        assert_eq!(r.feed(b"\x1b"), b"\x1b");
        assert_eq!(r.feed(b":wq\r"), b":wq\r");
    }

    #[test]
    fn an_endless_private_sequence_is_let_go() {
        let mut input = b"\x1b[?".to_vec();
        input.extend(std::iter::repeat_n(b'1', MAX_HELD + 10));
        let out = all(&[&input]);
        assert!(out.len() > MAX_HELD, "held bytes were let go");
    }
}
