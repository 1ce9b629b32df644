//! `watch --until TEXT`: finds TEXT in a byte stream, across chunk
//! boundaries, keeping only the last `len(TEXT) - 1` bytes.

/// Searches a stream of chunks for a needle.
#[derive(Debug)]
pub struct Until {
    needle: Vec<u8>,
    tail: Vec<u8>,
}

impl Until {
    /// A matcher for `needle`.
    pub fn new(needle: &[u8]) -> Self {
        Until {
            needle: needle.to_vec(),
            tail: Vec::new(),
        }
    }

    /// Feeds a chunk; true once the needle has appeared in what was fed.
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        if self.needle.is_empty() {
            return true;
        }
        self.tail.extend_from_slice(chunk);
        let found = self
            .tail
            .windows(self.needle.len())
            .any(|w| w == self.needle.as_slice());
        let keep = self.needle.len() - 1;
        if self.tail.len() > keep {
            self.tail.drain(..self.tail.len() - keep);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_and_across_chunks() {
        let mut u = Until::new(b"hello");
        assert!(!u.feed(b"say he"));
        assert!(!u.feed(b"l"));
        assert!(u.feed(b"lo world"));
        let mut u = Until::new(b"abc");
        assert!(u.feed(b"xxabcxx"));
        let mut u = Until::new(b"abc");
        for c in [b"a", b"b"] {
            assert!(!u.feed(c));
        }
        assert!(u.feed(b"c"));
    }

    #[test]
    fn near_misses_do_not_match() {
        let mut u = Until::new(b"abc");
        assert!(!u.feed(b"ab"));
        assert!(!u.feed(b"xc"));
        assert!(!u.feed(b"a"));
        assert!(!u.feed(b"b"));
        assert!(!u.feed(b"b"));
        assert!(!u.feed(b"c"));
        // Each byte alone, long stream: memory stays bounded.
        for _ in 0..10_000 {
            assert!(!u.feed(b"z"));
        }
        assert!(u.tail.len() <= 2);
        assert!(Until::new(b"").feed(b""));
    }
}
