//! Scrollback: the session's transcript, loaded backwards in pages through
//! the agent (an attach at `Resume::Offset` read up to where the page ends,
//! then detached) and rendered here as text lines at the session's width.
//!
//! A [`History`] is the host's scrollback for one session. Its first load
//! anchors at the transcript's end at that moment; [`History::load_older`]
//! then grows it backwards page by page and [`History::load_newer`] brings
//! it up to the transcript's end again. It is independent of any attach:
//! a new snapshot, a reconnect or a resume on the live view never wipes
//! what was loaded. What it keeps is bounded ([`LOADED_MAX`] bytes,
//! [`LINES_MAX`] rendered lines).

use std::sync::Arc;
use std::time::Duration;

use dd_client_core::StreamItem;
use dd_proto::methods::Resume;
use dd_proto::{ErrorCode, Event};

use crate::companion::Companion;
use crate::error::MobileError;
use crate::net::Dialer;

/// The smallest page `load_older` asks for.
pub const PAGE_MIN: u32 = 1024;
/// The largest page `load_older` or `load_newer` asks for.
pub const PAGE_MAX: u32 = 1 << 20;
/// At most this many transcript bytes are kept per [`History`].
pub const LOADED_MAX: usize = 4 << 20;
/// At most this many rendered lines (the newest) are returned.
pub const LINES_MAX: usize = 20_000;
/// One page load, connect included, gives up after this long.
const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// The loaded scrollback, rendered.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryPage {
    /// Transcript offset of the oldest loaded byte.
    pub start: u64,
    /// Offset right after the newest loaded byte.
    pub end: u64,
    /// Bytes the call that returned this added (0 when nothing was new).
    pub added: u64,
    /// Nothing older can be loaded: `start` is the transcript's start or
    /// the oldest byte the agent still keeps (its transcript cap).
    pub at_beginning: bool,
    /// [`LOADED_MAX`] bytes are loaded: nothing older will be.
    pub at_limit: bool,
    /// The loaded bytes as a terminal of the session's size shows them,
    /// oldest line first (scrolled-off lines, then the last screen), without
    /// colours, trailing blanks trimmed, at most [`LINES_MAX`] (the newest).
    pub lines: Vec<String>,
    /// The width the lines were rendered at (the session's columns).
    pub cols: u16,
}

#[derive(Debug, Default)]
struct State {
    anchored: bool,
    start: u64,
    end: u64,
    data: Vec<u8>,
    at_beginning: bool,
    rows: u16,
    cols: u16,
    /// `data` rendered, until `data` or the size changes.
    lines: Option<Vec<String>>,
}

impl State {
    /// Everything loaded, rendered once per change of what is loaded.
    fn page(&mut self, added: u64) -> HistoryPage {
        if added > 0 {
            self.lines = None;
        }
        let (data, rows, cols) = (&self.data, self.rows, self.cols);
        let lines = self
            .lines
            .get_or_insert_with(|| render(data, rows, cols))
            .clone();
        HistoryPage {
            start: self.start,
            end: self.end,
            added,
            at_beginning: self.at_beginning,
            at_limit: self.data.len() >= LOADED_MAX,
            lines,
            cols: self.cols,
        }
    }

    /// The session's size as the last fetch saw it.
    fn resized(&mut self, rows: u16, cols: u16) {
        if (rows, cols) != (self.rows, self.cols) {
            self.rows = rows;
            self.cols = cols;
            self.lines = None;
        }
    }
}

/// One session's scrollback (see the module docs). Made by
/// [`Companion::history`]; loads are serialized.
#[derive(uniffi::Object)]
pub struct History {
    session_id: String,
    dialer: Dialer,
    state: tokio::sync::Mutex<State>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("session", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// What one fetch brought.
struct Fetched {
    /// Offset of `data[0]` (later than asked when the agent dropped older bytes).
    start: u64,
    data: Vec<u8>,
    /// Nothing before `start` is kept (dropped by the cap, or `start` is 0).
    at_beginning: bool,
    /// The transcript's end when the fetch attached.
    session_end: u64,
    rows: u16,
    cols: u16,
}

/// Where a fetch starts.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// At this transcript offset.
    Offset(u64),
    /// This many bytes before the transcript's end.
    Tail(u64),
}

/// Reads transcript bytes from `from` to `to` (the transcript's end when
/// `None`, never past it) over an attach of its own.
async fn fetch(
    dialer: &Dialer,
    session: &str,
    from: Start,
    to: Option<u64>,
) -> Result<Fetched, MobileError> {
    let conn = dialer.connect().await?;
    let read = async {
        let resume = match from {
            Start::Offset(offset) => Resume::Offset { offset },
            Start::Tail(bytes) => Resume::Tail { bytes },
        };
        let mut stream = conn.attach(session, resume).await?;
        let info = &stream.attached.session;
        let session_end = info.end_offset;
        let to = to.unwrap_or(session_end).min(session_end);
        let from = match from {
            Start::Offset(offset) => offset,
            Start::Tail(bytes) => session_end.saturating_sub(bytes),
        };
        let (rows, cols) = (info.rows.max(1), info.cols.max(1));
        let mut data = Vec::new();
        let mut first: Option<u64> = None;
        let mut truncated = false;
        let mut more = to > from;
        while more {
            let Some(item) = stream.next().await else {
                break;
            };
            match item {
                StreamItem::Output { offset, data: d } => {
                    let begin = offset.max(from);
                    first.get_or_insert(begin);
                    let end = offset.saturating_add(d.len() as u64).min(to);
                    if end > begin {
                        let lo = (begin - offset) as usize;
                        let hi = (end - offset) as usize;
                        data.extend_from_slice(&d[lo..hi]);
                    }
                    more = end < to;
                }
                StreamItem::Event(Event::Error { error }) if error.code == ErrorCode::Truncated => {
                    truncated = true;
                }
                StreamItem::Event(Event::End { .. }) | StreamItem::Disconnected(_) => break,
                _ => {}
            }
        }
        let _ = stream.detach().await;
        let start = first.unwrap_or(if truncated { to } else { from });
        Ok::<_, MobileError>(Fetched {
            start,
            at_beginning: start == 0 || truncated || start > from,
            data,
            session_end,
            rows,
            cols,
        })
    };
    let result = tokio::time::timeout(PAGE_TIMEOUT, read).await;
    conn.close().await;
    result.unwrap_or_else(|_| {
        Err(MobileError::Network {
            message: "timed out loading history".into(),
        })
    })
}

#[uniffi::export(async_runtime = "tokio")]
impl History {
    /// Loads up to `max_bytes` (clamped to [`PAGE_MIN`]..=[`PAGE_MAX`])
    /// of transcript older than what is loaded (the first call: the bytes
    /// before the transcript's end now) and returns everything loaded.
    /// Once `at_beginning` or `at_limit`, returns what is loaded, unchanged.
    pub async fn load_older(&self, max_bytes: u32) -> Result<HistoryPage, MobileError> {
        let mut st = self.state.lock().await;
        let room = LOADED_MAX.saturating_sub(st.data.len()) as u64;
        if (st.anchored && st.at_beginning) || room == 0 {
            return Ok(st.page(0));
        }
        let want = u64::from(max_bytes.clamp(PAGE_MIN, PAGE_MAX)).min(room);
        let got = if st.anchored {
            let to = st.start;
            fetch(
                &self.dialer,
                &self.session_id,
                Start::Offset(to.saturating_sub(want)),
                Some(to),
            )
            .await?
        } else {
            // The first page anchors at the transcript's end now.
            let got = fetch(&self.dialer, &self.session_id, Start::Tail(want), None).await?;
            st.anchored = true;
            st.start = got.session_end;
            st.end = got.session_end;
            got
        };
        let to = st.start;
        let added = got.data.len() as u64;
        let mut data = got.data;
        data.extend_from_slice(&st.data);
        st.data = data;
        st.start = if added > 0 { got.start } else { to };
        st.at_beginning = got.at_beginning || st.start == 0;
        st.resized(got.rows, got.cols);
        Ok(st.page(added))
    }

    /// Loads what the transcript gained since the newest loaded byte (at
    /// most [`PAGE_MAX`] per call) and returns everything loaded. Before
    /// any `load_older`, it anchors there like `load_older` would.
    pub async fn load_newer(&self) -> Result<HistoryPage, MobileError> {
        if !self.state.lock().await.anchored {
            return self.load_older(PAGE_MIN).await;
        }
        let mut st = self.state.lock().await;
        let room = LOADED_MAX.saturating_sub(st.data.len()) as u64;
        let want = u64::from(PAGE_MAX).min(room);
        if want == 0 {
            return Ok(st.page(0));
        }
        let from = st.end;
        let got = fetch(
            &self.dialer,
            &self.session_id,
            Start::Offset(from),
            Some(from.saturating_add(want)),
        )
        .await?;
        let added = got.data.len() as u64;
        if got.start != from && added > 0 {
            // Bytes between what is loaded and what came were dropped by
            // the agent's cap: the history cannot be contiguous any more.
            st.data.clear();
            st.start = got.start;
            st.at_beginning = true;
        }
        st.data.extend_from_slice(&got.data);
        st.end = from.max(got.start).saturating_add(added);
        st.resized(got.rows, got.cols);
        Ok(st.page(added))
    }

    /// What is loaded, rendered (no network).
    pub async fn page(&self) -> HistoryPage {
        self.state.lock().await.page(0)
    }

    /// The session this history reads.
    pub fn session_id(&self) -> String {
        self.session_id.clone()
    }
}

#[uniffi::export]
impl Companion {
    /// The session's scrollback, empty until its first `load_older`. One
    /// per screen that shows it; it keeps what it loaded across attaches.
    pub fn history(&self, session_id: String) -> Result<Arc<History>, MobileError> {
        let stored = self.load(&session_id)?;
        Ok(Arc::new(History {
            dialer: self.dialer(&stored)?,
            session_id,
            state: tokio::sync::Mutex::new(State::default()),
        }))
    }
}

/// Renders transcript bytes on a `rows` x `cols` terminal with scrollback
/// and returns its lines, oldest first (see [`HistoryPage::lines`]). Program
/// output is arbitrary: if the terminal model panics on it, the bytes are
/// shown as plain text lines instead.
pub fn render(data: &[u8], rows: u16, cols: u16) -> Vec<String> {
    // vt100 0.16 underflows on a 1-column grid: two is the floor.
    let (rows, cols) = (rows.max(2), cols.max(2));
    let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut parser = vt100::Parser::new(rows, cols, LINES_MAX);
        parser.process(data);
        let screen = parser.screen_mut();
        screen.set_scrollback(usize::MAX);
        let mut pos = screen.scrollback();
        let mut lines = Vec::with_capacity(pos + usize::from(rows));
        while pos > 0 {
            screen.set_scrollback(pos);
            let take = pos.min(usize::from(rows));
            lines.extend(screen.rows(0, cols).take(take));
            pos -= take;
        }
        screen.set_scrollback(0);
        lines.extend(screen.rows(0, cols));
        lines
    }))
    .unwrap_or_else(|_| plain_lines(data));
    let mut lines: Vec<String> = rendered
        .into_iter()
        .map(|l| l.trim_end().to_owned())
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    if lines.len() > LINES_MAX {
        lines.drain(..lines.len() - LINES_MAX);
    }
    lines
}

/// The fallback: printable text split at newlines, control bytes dropped.
fn plain_lines(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .split('\n')
        .map(|l| l.chars().filter(|c| !c.is_control()).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_scrolled_lines_then_the_screen() {
        let mut out = Vec::new();
        for i in 1..=10 {
            out.extend_from_slice(format!("line {i}\r\n").as_bytes());
        }
        out.extend_from_slice(b"$ ");
        let lines = render(&out, 4, 20);
        let want: Vec<String> = (1..=10)
            .map(|i| format!("line {i}"))
            .chain(["$".to_owned()])
            .collect();
        assert_eq!(lines, want);
    }

    #[test]
    fn wraps_at_the_width_and_applies_carriage_returns_and_colours() {
        let lines = render(b"abcdefgh\r\nxx\rY\x1b[31mred\x1b[0m\r\n", 3, 4);
        assert_eq!(lines, ["abcd", "efgh", "Yred"]);
    }

    #[test]
    fn empty_and_degenerate_sizes() {
        assert!(render(b"", 24, 80).is_empty());
        assert_eq!(render(b"abc", 0, 0), ["ab", "c"]);
        assert_eq!(plain_lines(b"a\x07b\nc"), ["ab", "c"]);
    }

    #[test]
    fn keeps_only_the_newest_lines() {
        let out = "x\r\n".repeat(LINES_MAX + 50);
        let lines = render(out.as_bytes(), 5, 10);
        assert!(lines.len() <= LINES_MAX);
        assert!(lines.iter().all(|l| l == "x"));
    }
}
