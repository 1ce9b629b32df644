//! The in-memory tail of a transcript: the most recent output, kept as
//! shared immutable chunks so live subscribers read it without copying.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Bytes kept in memory (at least; the oldest chunk is dropped only while
/// the rest still holds this much).
pub(crate) const TAIL_BYTES: usize = 1024 * 1024;

/// Reads smaller than this are merged into the previous chunk, which bounds
/// the number of chunks when a program writes a byte at a time.
const MERGE_BELOW: usize = 4096;

/// The retained output, chunk by chunk, with each chunk's start offset.
pub(crate) struct Tail {
    chunks: VecDeque<(u64, Bytes)>,
    end: u64,
    held: usize,
}

impl Tail {
    /// An empty tail whose next byte has offset `end`.
    pub(crate) fn new(end: u64) -> Tail {
        Tail {
            chunks: VecDeque::new(),
            end,
            held: 0,
        }
    }

    /// The offset of the next byte to be pushed.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// The offset of the oldest byte held (== `end()` when empty).
    pub(crate) fn start(&self) -> u64 {
        self.chunks.front().map_or(self.end, |(o, _)| *o)
    }

    /// Appends output, dropping the oldest chunks beyond [`TAIL_BYTES`].
    pub(crate) fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let len = data.len();
        match self.chunks.back_mut() {
            Some((_, last)) if last.len() + len <= MERGE_BELOW => {
                let mut merged = BytesMut::with_capacity(last.len() + len);
                merged.extend_from_slice(last);
                merged.extend_from_slice(&data);
                *last = merged.freeze();
            }
            _ => self.chunks.push_back((self.end, data)),
        }
        self.end += len as u64;
        self.held += len;
        while let Some((_, front)) = self.chunks.front() {
            if self.held - front.len() < TAIL_BYTES {
                break;
            }
            self.held -= front.len();
            self.chunks.pop_front();
        }
    }

    /// Up to `max` bytes starting at `offset` (which must lie in
    /// `start()..end()`), as one or more contiguous slices (no copying).
    pub(crate) fn read(&self, offset: u64, max: usize) -> Vec<Bytes> {
        let mut out = Vec::new();
        if offset < self.start() || offset >= self.end {
            return out;
        }
        // Index of the chunk holding `offset`: the last one starting at or before it.
        let idx = self.chunks.partition_point(|(o, _)| *o <= offset) - 1;
        let mut want = max;
        let mut at = offset;
        for (start, chunk) in self.chunks.range(idx..) {
            if want == 0 {
                break;
            }
            let from = (at - start) as usize;
            let to = chunk.len().min(from.saturating_add(want));
            out.push(chunk.slice(from..to));
            want -= to - from;
            at += (to - from) as u64;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concat(v: Vec<Bytes>) -> Vec<u8> {
        v.iter().flat_map(|b| b.iter().copied()).collect()
    }

    #[test]
    fn reads_across_chunks_and_merges_small_ones() {
        let mut t = Tail::new(100);
        t.push(Bytes::from_static(b"abc"));
        t.push(Bytes::from_static(b"def"));
        assert_eq!(t.chunks.len(), 1, "small reads merge");
        t.push(Bytes::from(vec![b'x'; 5000]));
        assert_eq!(t.chunks.len(), 2);
        assert_eq!((t.start(), t.end()), (100, 5106));
        assert_eq!(concat(t.read(102, 3)), b"cde");
        let r = t.read(104, 4);
        assert_eq!(r.len(), 2);
        assert_eq!(concat(r), b"efxx");
        assert!(t.read(99, 10).is_empty());
        assert!(t.read(5106, 10).is_empty());
        assert_eq!(concat(t.read(5105, 10)), b"x");
        t.push(Bytes::new());
        assert_eq!(t.end(), 5106);
    }

    #[test]
    fn keeps_at_least_the_cap() {
        let mut t = Tail::new(0);
        let chunk = 60_000usize;
        for i in 0..100u8 {
            t.push(Bytes::from(vec![i; chunk]));
        }
        let total = 100 * chunk as u64;
        assert_eq!(t.end(), total);
        let held = (t.end() - t.start()) as usize;
        assert!(held >= TAIL_BYTES && held < TAIL_BYTES + chunk, "{held}");
        let r = concat(t.read(t.start(), usize::MAX));
        assert_eq!(r.len(), held);
        assert_eq!(*r.last().unwrap(), 99);
    }
}
