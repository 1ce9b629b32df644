//! Output not yet fed to a session's screen model.
//!
//! Parsing every byte into the vt100 screen was most of the gateway's CPU
//! under sustained output (`cat` of a big file): the screen is only looked
//! at for late joiners' snapshots, titles and prompt detection, none of
//! which needs every intermediate frame of a flood. So output is parsed as
//! it comes only up to a budget per window ([`PARSE_BUDGET`] bytes per
//! [`WINDOW`], about 1.3 MB/s: far above what a person or a prompt
//! produces); beyond it, chunks wait here, and once more than [`KEEP`]
//! bytes wait, the oldest are dropped and the screen is rebuilt from the
//! newest `KEEP` bytes when it is next brought up to date (as a session
//! loaded from disk already is). Whoever needs the screen brings it up to
//! date first (a snapshot, a resize, the prompt heuristic); a timer does
//! so [`DEFER`] after output stops, and at least every [`MAX_WAIT`] while
//! it goes on, so titles and prompts are never later than that.
//!
//! What a flood loses: notification signals (BEL, OSC 9/777/99) and title
//! changes inside skipped output. Output that ends a flood — where a
//! program waiting for input puts its prompt — is always parsed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Bytes parsed as they come per window; more waits in the backlog.
pub(crate) const PARSE_BUDGET: usize = 64 * 1024;
/// The budget's window.
pub(crate) const WINDOW: Duration = Duration::from_millis(50);
/// Most output kept waiting; older bytes are skipped.
pub(crate) const KEEP: usize = 256 * 1024;
/// How long output may wait after it stops before the screen catches up.
pub(crate) const DEFER: Duration = Duration::from_millis(50);
/// How long output may wait while it goes on.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(1);

/// The waiting output and the parse budget.
pub(crate) struct Backlog {
    chunks: VecDeque<Bytes>,
    len: usize,
    /// Older output was skipped: rebuild the screen from `chunks`.
    stale: bool,
    /// When the oldest and the newest waiting chunks arrived.
    since: Option<Instant>,
    last: Option<Instant>,
    window_start: Instant,
    window_parsed: usize,
}

/// What [`Backlog::take`] hands to the screen.
pub(crate) struct Pending {
    /// Start from a blank screen (output before these chunks was skipped).
    pub(crate) rebuild: bool,
    pub(crate) chunks: VecDeque<Bytes>,
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog {
            chunks: VecDeque::new(),
            len: 0,
            stale: false,
            since: None,
            last: None,
            window_start: Instant::now(),
            window_parsed: 0,
        }
    }
}

impl Backlog {
    /// Adds output. True when it should be parsed now (the window's budget
    /// allows it); false when it waits.
    pub(crate) fn push(&mut self, data: Bytes, now: Instant) -> bool {
        if now.duration_since(self.window_start) >= WINDOW {
            self.window_start = now;
            self.window_parsed = 0;
        }
        self.len += data.len();
        self.chunks.push_back(data);
        self.since.get_or_insert(now);
        self.last = Some(now);
        while self.len > KEEP {
            let over = self.len - KEEP;
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            if front.len() <= over {
                self.len -= front.len();
                self.chunks.pop_front();
            } else {
                *front = front.slice(over..);
                self.len -= over;
            }
            self.stale = true;
        }
        self.window_parsed + self.len <= PARSE_BUDGET
    }

    /// True when output waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// When the waiting output is due to be parsed anyway: [`DEFER`]
    /// after the last chunk, [`MAX_WAIT`] after the first at the latest.
    pub(crate) fn due(&self) -> Option<Instant> {
        Some((self.last? + DEFER).min(self.since? + MAX_WAIT))
    }

    /// Takes the waiting output, counting it against the window's budget.
    pub(crate) fn take(&mut self) -> Pending {
        self.window_parsed += self.len;
        self.len = 0;
        self.since = None;
        self.last = None;
        Pending {
            rebuild: std::mem::take(&mut self.stale),
            chunks: std::mem::take(&mut self.chunks),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(p: &Pending) -> Vec<u8> {
        p.chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }

    #[test]
    fn small_output_is_parsed_as_it_comes() {
        let mut b = Backlog::default();
        let t = Instant::now();
        for i in 0..1000u32 {
            assert!(b.push(Bytes::from(vec![b'x'; 100]), t + WINDOW * i));
            let p = b.take();
            assert!(!p.rebuild);
            assert_eq!(joined(&p).len(), 100);
            assert!(b.is_empty() && b.due().is_none());
        }
    }

    #[test]
    fn a_flood_waits_beyond_the_budget_and_keeps_only_the_newest_bytes() {
        let mut b = Backlog::default();
        let t = Instant::now();
        let mut parsed_now = 0;
        let mut n = 0u8;
        // 4 MiB within one window, in 16 KiB chunks, each chunk distinct.
        for _ in 0..256 {
            n = n.wrapping_add(1);
            if b.push(Bytes::from(vec![n; 16 * 1024]), t) {
                parsed_now += b.take().chunks.iter().map(|c| c.len()).sum::<usize>();
            }
        }
        assert_eq!(parsed_now, PARSE_BUDGET);
        assert_eq!(b.due(), Some(t + DEFER));
        // Output going on pushes the deadline, up to MAX_WAIT.
        b.push(Bytes::from_static(b"."), t + WINDOW / 4);
        assert_eq!(b.due(), Some(t + WINDOW / 4 + DEFER));
        b.push(Bytes::from_static(b"."), t + MAX_WAIT);
        assert_eq!(b.due(), Some(t + MAX_WAIT));
        let p = b.take();
        assert!(p.rebuild);
        let bytes = joined(&p);
        assert_eq!(bytes.len(), KEEP);
        // The newest KEEP bytes: two dots and the end of the last chunks.
        assert_eq!(&bytes[KEEP - 3..], &[n, b'.', b'.']);
        assert_eq!(bytes[0], n.wrapping_sub(15));
        // The budget is spent for this window; the next window parses again.
        let t = t + MAX_WAIT;
        assert!(!b.push(Bytes::from_static(b"y"), t + WINDOW / 2));
        assert!(b.push(Bytes::from_static(b"z"), t + WINDOW));
        let p = b.take();
        assert!(!p.rebuild);
        assert_eq!(joined(&p), b"yz");
    }

    #[test]
    fn a_chunk_bigger_than_what_is_kept_is_cut_to_its_end() {
        let mut b = Backlog::default();
        let mut data = vec![b'a'; KEEP + 10];
        data[KEEP + 9] = b'z';
        // More than the budget: it waits, and is a rebuild.
        assert!(!b.push(Bytes::from(data), Instant::now()));
        let p = b.take();
        assert!(p.rebuild);
        let bytes = joined(&p);
        assert_eq!(bytes.len(), KEEP);
        assert_eq!(bytes.last(), Some(&b'z'));
    }
}
