//! Fragments: the plaintext of each Noise transport message.
//!
//! ```text
//! fragment = flags:u8 || body
//! flags    = 0x00 (more fragments follow) | 0x01 (final fragment)
//! ```
//!
//! A message is the concatenation of the bodies of its fragments, up to and
//! including the first final one. Each fragment is at most [`MAX_FRAGMENT`]
//! bytes; a reassembled message is at most [`MAX_MESSAGE_SIZE`] bytes.

use crate::{MAX_FRAGMENT, MAX_MESSAGE_SIZE};

/// Flag byte: more fragments of this message follow.
pub const FLAG_MORE: u8 = 0x00;
/// Flag byte: this is the last fragment of the message.
pub const FLAG_FINAL: u8 = 0x01;

/// Why a fragment stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A fragment with no flag byte.
    #[error("empty fragment")]
    Empty,
    /// A flag byte other than 0x00 or 0x01.
    #[error("unknown fragment flags {0:#04x}")]
    BadFlags(u8),
    /// A fragment larger than one Noise message can carry.
    #[error("fragment of {0} bytes exceeds the {MAX_FRAGMENT}-byte limit")]
    FragmentTooLarge(usize),
    /// The message being reassembled grew past the limit.
    #[error("message exceeds the {limit}-byte limit")]
    MessageTooLarge {
        /// The limit in force.
        limit: usize,
    },
}

/// Splits an encoded message into fragments, each no larger than
/// [`MAX_FRAGMENT`]. An empty message still yields one (final) fragment.
pub fn fragment(message: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let body_max = MAX_FRAGMENT - 1;
    let count = message.len().div_ceil(body_max).max(1);
    (0..count).map(move |i| {
        let start = i * body_max;
        let end = (start + body_max).min(message.len());
        let mut out = Vec::with_capacity(1 + end - start);
        out.push(if i + 1 == count {
            FLAG_FINAL
        } else {
            FLAG_MORE
        });
        out.extend_from_slice(&message[start..end]);
        out
    })
}

/// Reassembles fragments into messages, enforcing the size limits.
#[derive(Debug)]
pub struct Reassembler {
    buf: Vec<u8>,
    limit: usize,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new(MAX_MESSAGE_SIZE)
    }
}

impl Reassembler {
    /// A reassembler refusing messages over `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Reassembler {
            buf: Vec::new(),
            limit,
        }
    }

    /// Changes the limit for the messages that follow (and the one being
    /// reassembled: it is refused at its next fragment if already over).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// The limit in force.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// True while a message is partly received.
    pub fn in_progress(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Feeds one fragment. Returns the complete message when this fragment
    /// was the final one. After an error the stream is unusable: close it.
    pub fn push(&mut self, fragment: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        let (&flags, body) = fragment.split_first().ok_or(FrameError::Empty)?;
        if fragment.len() > MAX_FRAGMENT {
            return Err(FrameError::FragmentTooLarge(fragment.len()));
        }
        if flags != FLAG_MORE && flags != FLAG_FINAL {
            return Err(FrameError::BadFlags(flags));
        }
        if self.buf.len() + body.len() > self.limit {
            self.buf = Vec::new();
            return Err(FrameError::MessageTooLarge { limit: self.limit });
        }
        if flags == FLAG_FINAL && self.buf.is_empty() {
            return Ok(Some(body.to_vec()));
        }
        self.buf.extend_from_slice(body);
        if flags == FLAG_FINAL {
            Ok(Some(std::mem::take(&mut self.buf)))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_message_is_one_final_fragment() {
        let frags: Vec<_> = fragment(b"hi").collect();
        assert_eq!(frags, vec![vec![FLAG_FINAL, b'h', b'i']]);
        let frags: Vec<_> = fragment(b"").collect();
        assert_eq!(frags, vec![vec![FLAG_FINAL]]);
    }

    #[test]
    fn large_message_splits_within_noise_limit() {
        let msg = vec![0xabu8; 200_000];
        let frags: Vec<_> = fragment(&msg).collect();
        assert_eq!(frags.len(), 4);
        assert!(frags.iter().all(|f| f.len() <= MAX_FRAGMENT));
        assert!(frags[..3].iter().all(|f| f[0] == FLAG_MORE));
        assert_eq!(frags[3][0], FLAG_FINAL);
        let mut r = Reassembler::default();
        let mut out = None;
        for f in &frags {
            out = r.push(f).unwrap();
        }
        assert_eq!(out.unwrap(), msg);
    }

    #[test]
    fn rejects_bad_fragments() {
        let mut r = Reassembler::default();
        assert_eq!(r.push(&[]), Err(FrameError::Empty));
        assert_eq!(r.push(&[0x07, 1]), Err(FrameError::BadFlags(7)));
        let big = vec![FLAG_FINAL; MAX_FRAGMENT + 1];
        assert_eq!(
            r.push(&big),
            Err(FrameError::FragmentTooLarge(MAX_FRAGMENT + 1))
        );
    }

    #[test]
    fn rejects_oversized_message() {
        let mut r = Reassembler::new(100);
        assert_eq!(r.push(&[FLAG_MORE; 60]).unwrap(), None);
        assert_eq!(
            r.push(&[FLAG_MORE; 60]),
            Err(FrameError::MessageTooLarge { limit: 100 })
        );
    }

    proptest! {
        #[test]
        fn fragment_then_reassemble_is_identity(msg in proptest::collection::vec(any::<u8>(), 0..150_000)) {
            let mut r = Reassembler::default();
            let mut got = None;
            for f in fragment(&msg) {
                prop_assert!(got.is_none());
                got = r.push(&f).unwrap();
            }
            prop_assert_eq!(got.unwrap(), msg);
        }

        #[test]
        fn reassembler_never_panics(frags in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20)) {
            let mut r = Reassembler::new(1000);
            for f in frags {
                let _ = r.push(&f);
            }
        }
    }
}
