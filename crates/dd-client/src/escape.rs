//! The attach escape key: `Ctrl-]` followed by a command key.
//!
//! * `Ctrl-]` `d` detaches,
//! * `Ctrl-]` `p` shows a pairing QR for a phone,
//! * `Ctrl-]` `Ctrl-]` sends one literal `Ctrl-]`,
//! * `Ctrl-]` followed by anything else sends both bytes unchanged.

/// The escape byte, `Ctrl-]` (0x1d).
pub const ESCAPE: u8 = 0x1d;

/// What the input means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes to the session.
    Send(Vec<u8>),
    /// Detach.
    Detach,
    /// Show the pairing QR.
    Pair,
}

/// The escape state machine; an escape may span two reads.
#[derive(Debug, Default)]
pub struct Escape {
    pending: bool,
}

impl Escape {
    /// Feeds the bytes of one read; returns the actions in order.
    pub fn feed(&mut self, input: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for &b in input {
            if self.pending {
                self.pending = false;
                match b {
                    b'd' | b'D' => {
                        flush(&mut buf, &mut out);
                        out.push(Action::Detach);
                    }
                    b'p' | b'P' => {
                        flush(&mut buf, &mut out);
                        out.push(Action::Pair);
                    }
                    ESCAPE => buf.push(ESCAPE),
                    other => buf.extend_from_slice(&[ESCAPE, other]),
                }
            } else if b == ESCAPE {
                self.pending = true;
            } else {
                buf.push(b);
            }
        }
        flush(&mut buf, &mut out);
        out
    }
}

fn flush(buf: &mut Vec<u8>, out: &mut Vec<Action>) {
    if !buf.is_empty() {
        out.push(Action::Send(std::mem::take(buf)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_bytes_pass() {
        let mut e = Escape::default();
        assert_eq!(e.feed(b"ls\r"), vec![Action::Send(b"ls\r".to_vec())]);
        assert_eq!(e.feed(b""), vec![]);
    }

    #[test]
    fn commands_even_across_reads() {
        let mut e = Escape::default();
        assert_eq!(
            e.feed(b"a\x1dd"),
            vec![Action::Send(b"a".to_vec()), Action::Detach]
        );
        assert_eq!(e.feed(b"x\x1d"), vec![Action::Send(b"x".to_vec())]);
        assert_eq!(e.feed(b"p"), vec![Action::Pair]);
        assert_eq!(e.feed(b"\x1d"), vec![]);
        assert_eq!(e.feed(b"\x1d"), vec![Action::Send(vec![ESCAPE])]);
        assert_eq!(e.feed(b"\x1dq"), vec![Action::Send(vec![ESCAPE, b'q'])]);
        assert_eq!(
            e.feed(b"\x1d\x1d\x1dd"),
            vec![Action::Send(vec![ESCAPE]), Action::Detach]
        );
    }
}
