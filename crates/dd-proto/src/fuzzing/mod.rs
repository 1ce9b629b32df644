//! Entry points of the cargo-fuzz targets in `fuzz/`, kept here so the
//! targets and the corpus replay test (`tests/fuzz_corpus.rs`) run the very
//! same code. Each function takes arbitrary bytes, drives the real parsers
//! of this crate with them and panics only when an invariant is broken
//! (a round trip that does not round-trip, an error that should not be, or a
//! panic inside the crate itself).
//!
//! Not a stable API: for the fuzzers and tests only.

mod frame;
mod handshake;
mod link;
mod message;

pub use frame::frame;
pub use handshake::{
    handshake, seed_first_message, seed_reply, seed_transport_script, AGENT_PRIVATE, CLIENT_PRIVATE,
};
pub use link::link;
pub use message::message;

/// Reads structured values out of fuzzer bytes; runs dry into zeros.
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Cursor { data }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes (fewer when the input runs out).
    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
}
