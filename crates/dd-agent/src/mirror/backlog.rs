//! Output not yet fed to a session's screen model.
//!
//! The screen is only looked at for late joiners' snapshots, titles and
//! prompt detection, none of which needs every intermediate frame of a
//! flood, so output is parsed as it comes only up to a budget per window
//! ([`PARSE_BUDGET`] bytes per [`WINDOW`], about 1.3 MB/s: far above what a
//! person or a prompt produces); beyond it, chunks wait here and are parsed
//! together later, which costs less (one lock, one pass, prompt detection
//! once). Nothing is ever skipped: every byte reaches the screen, in order,
//! so state drawn long ago and never redrawn (a status row, the alternate
//! screen, a scroll region, a charset) is never lost. Memory stays bounded:
//! once more than [`KEEP`] bytes wait they are parsed at once, whatever the
//! budget says. Whoever needs the screen brings it up to date first (a
//! snapshot, a resize, the prompt heuristic); a timer does so [`DEFER`]
//! after output stops, and at least every [`MAX_WAIT`] while it goes on,
//! so titles and prompts are never later than that.
//!
//! What a flood delays: notification signals (BEL, OSC 9/777/99) and title
//! changes are seen when their chunk is parsed, up to [`MAX_WAIT`] late.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Bytes parsed as they come per window; more waits in the backlog.
pub(crate) const PARSE_BUDGET: usize = 64 * 1024;
/// The budget's window.
pub(crate) const WINDOW: Duration = Duration::from_millis(50);
/// Most output kept waiting; more is parsed at once.
pub(crate) const KEEP: usize = 256 * 1024;
/// How long output may wait after it stops before the screen catches up.
pub(crate) const DEFER: Duration = Duration::from_millis(50);
/// How long output may wait while it goes on.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(1);

/// The waiting output and the parse budget.
pub(crate) struct Backlog {
    chunks: VecDeque<Bytes>,
    len: usize,
    /// When the oldest and the newest waiting chunks arrived.
    since: Option<Instant>,
    last: Option<Instant>,
    window_start: Instant,
    window_parsed: usize,
}

/// What [`Backlog::take`] hands to the screen: every waiting chunk, oldest
/// first.
pub(crate) struct Pending {
    pub(crate) chunks: VecDeque<Bytes>,
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog {
            chunks: VecDeque::new(),
            len: 0,
            since: None,
            last: None,
            window_start: Instant::now(),
            window_parsed: 0,
        }
    }
}

impl Backlog {
    /// Adds output. True when it should be parsed now (the window's budget
    /// allows it, or more than [`KEEP`] bytes wait); false when it waits.
    pub(crate) fn push(&mut self, data: Bytes, now: Instant) -> bool {
        if now.duration_since(self.window_start) >= WINDOW {
            self.window_start = now;
            self.window_parsed = 0;
        }
        self.len += data.len();
        self.chunks.push_back(data);
        self.since.get_or_insert(now);
        self.last = Some(now);
        self.len > KEEP || self.window_parsed + self.len <= PARSE_BUDGET
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
            assert_eq!(joined(&p).len(), 100);
            assert!(b.is_empty() && b.due().is_none());
        }
    }

    #[test]
    fn a_flood_waits_beyond_the_budget_and_nothing_is_skipped() {
        let mut b = Backlog::default();
        let t = Instant::now();
        let mut parsed = Vec::new();
        let mut sent = Vec::new();
        let mut waited_max = 0;
        // 4 MiB within one window, in 16 KiB chunks, each chunk distinct.
        for i in 0..256u32 {
            let chunk = vec![(i % 251) as u8; 16 * 1024];
            sent.extend_from_slice(&chunk);
            if b.push(Bytes::from(chunk), t) {
                parsed.extend(joined(&b.take()));
            }
            waited_max = waited_max.max(b.len);
        }
        // Beyond the budget output waits, but never more than KEEP.
        assert!(waited_max <= KEEP, "{waited_max}");
        assert!(!b.is_empty());
        assert_eq!(b.due(), Some(t + DEFER));
        // Output going on pushes the deadline, up to MAX_WAIT.
        b.push(Bytes::from_static(b"."), t + WINDOW / 4);
        sent.push(b'.');
        assert_eq!(b.due(), Some(t + WINDOW / 4 + DEFER));
        b.push(Bytes::from_static(b"."), t + MAX_WAIT);
        sent.push(b'.');
        assert_eq!(b.due(), Some(t + MAX_WAIT));
        parsed.extend(joined(&b.take()));
        // Every byte, in order.
        assert_eq!(parsed.len(), sent.len());
        assert!(parsed == sent);
        // The budget is spent for this window; the next window parses again.
        let t = t + MAX_WAIT;
        assert!(!b.push(Bytes::from_static(b"y"), t + WINDOW / 2));
        assert!(b.push(Bytes::from_static(b"z"), t + WINDOW));
        assert_eq!(joined(&b.take()), b"yz");
    }

    #[test]
    fn a_chunk_bigger_than_what_waits_is_parsed_at_once_whole() {
        let mut b = Backlog::default();
        let mut data = vec![b'a'; KEEP + 10];
        data[0] = b'<';
        data[KEEP + 9] = b'z';
        assert!(b.push(Bytes::from(data), Instant::now()));
        let bytes = joined(&b.take());
        assert_eq!(bytes.len(), KEEP + 10);
        assert_eq!((bytes[0], bytes[KEEP + 9]), (b'<', b'z'));
    }
}
