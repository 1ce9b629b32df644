//! The attach escape key: `Ctrl-]` followed by a command key.
//!
//! Each CLI names its command keys (matched case-insensitively; dd-client
//! uses `d` to detach and `p` for a pairing QR, the companion only `d`):
//!
//! * `Ctrl-]` then a command key is reported as [`Action::Key`] (lowercase),
//! * `Ctrl-]` `Ctrl-]` sends one literal `Ctrl-]`,
//! * `Ctrl-]` followed by anything else sends both bytes unchanged.

/// The escape byte, `Ctrl-]` (0x1d).
pub const ESCAPE: u8 = 0x1d;

/// What the input means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes to the session.
    Send(Vec<u8>),
    /// The escape was followed by this command key (ASCII lowercase).
    Key(u8),
}

/// The escape state machine; an escape may span two reads.
#[derive(Debug)]
pub struct Escape {
    keys: &'static [u8],
    pending: bool,
}

impl Escape {
    /// A parser for these command keys (lowercase ASCII letters).
    pub fn new(keys: &'static [u8]) -> Self {
        Escape {
            keys,
            pending: false,
        }
    }

    /// True when the last read ended with an escape byte still waiting for
    /// its command key.
    pub fn pending(&self) -> bool {
        self.pending
    }

    /// Feeds the bytes of one read; returns the actions in order.
    pub fn feed(&mut self, input: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for &b in input {
            if self.pending {
                self.pending = false;
                let key = b.to_ascii_lowercase();
                if b != ESCAPE && self.keys.contains(&key) {
                    flush(&mut buf, &mut out);
                    out.push(Action::Key(key));
                } else if b == ESCAPE {
                    buf.push(ESCAPE);
                } else {
                    buf.extend_from_slice(&[ESCAPE, b]);
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

    fn send(b: &[u8]) -> Action {
        Action::Send(b.to_vec())
    }

    #[test]
    fn plain_bytes_pass() {
        let mut e = Escape::new(b"dp");
        assert_eq!(e.feed(b"ls\r"), vec![send(b"ls\r")]);
        assert_eq!(e.feed(b""), vec![]);
    }

    #[test]
    fn commands_even_across_reads() {
        let mut e = Escape::new(b"dp");
        assert_eq!(e.feed(b"a\x1dd"), vec![send(b"a"), Action::Key(b'd')]);
        assert_eq!(e.feed(b"x\x1d"), vec![send(b"x")]);
        assert_eq!(e.feed(b"p"), vec![Action::Key(b'p')]);
        assert_eq!(e.feed(b"\x1d"), vec![]);
        assert_eq!(e.feed(b"\x1d"), vec![Action::Send(vec![ESCAPE])]);
        assert_eq!(e.feed(b"\x1dq"), vec![Action::Send(vec![ESCAPE, b'q'])]);
        assert_eq!(
            e.feed(b"\x1d\x1d\x1dd"),
            vec![Action::Send(vec![ESCAPE]), Action::Key(b'd')]
        );
        assert_eq!(
            e.feed(b"\x1dD\x1dP"),
            vec![Action::Key(b'd'), Action::Key(b'p')]
        );
    }

    /// The companion's key set: only `d`; `p` after the escape is plain
    /// input.
    #[test]
    fn detach_only() {
        let mut e = Escape::new(b"d");
        assert_eq!(e.feed(b"ls\r"), vec![send(b"ls\r")]);
        assert_eq!(e.feed(b"ab\x1dd"), vec![send(b"ab"), Action::Key(b'd')]);
        assert!(!e.pending());
        assert_eq!(e.feed(b"x\x1d"), vec![send(b"x")]);
        assert!(e.pending());
        assert_eq!(e.feed(b"d"), vec![Action::Key(b'd')]);
        assert_eq!(e.feed(b"\x1d\x1d"), vec![Action::Send(vec![0x1d])]);
        assert_eq!(e.feed(b"\x1dq"), vec![Action::Send(vec![0x1d, b'q'])]);
        assert!(!e.pending());
        assert_eq!(e.feed(b"\x1dp"), vec![Action::Send(vec![0x1d, b'p'])]);
        assert_eq!(e.feed(b"\x1dP"), vec![Action::Send(vec![0x1d, b'P'])]);
    }
}
