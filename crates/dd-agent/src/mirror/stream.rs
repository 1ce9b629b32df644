//! Attach streams: pull-based readers of a session's transcript.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use std::collections::VecDeque;

use bytes::Bytes;
use dd_proto::methods::{InputNeeded, SessionInfo};
use tokio::sync::watch;

use dd_proto::methods::Resume;

use super::detect::PromptEvent;
use super::screen::Screen;
use super::session::{lock, Session, State, Step};
use super::SessionError;

/// One item of an attach stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// The screen as it stood at `offset` (first item of a `Screen` resume).
    Snapshot {
        /// Transcript offset the snapshot corresponds to; output follows from here.
        offset: u64,
        /// Screen rows.
        rows: u16,
        /// Screen columns.
        cols: u16,
        /// Bytes that repaint the screen on a fresh terminal.
        data: Vec<u8>,
    },
    /// Transcript bytes starting at `offset`, at most
    /// [`dd_proto::MAX_OUTPUT_CHUNK`] of them.
    Output {
        /// Offset of `data[0]`.
        offset: u64,
        /// The bytes.
        data: Bytes,
    },
    /// The session's metadata changed (size, title or status). Coalesced:
    /// several changes while the subscriber was away give one item.
    Meta(SessionInfo),
    /// The session waits for input (after the output that caused it).
    InputNeeded(InputNeeded),
    /// The prompt with this seq no longer waits.
    InputCleared(u64),
    /// Bytes `from..to` were dropped by the transcript size cap before this
    /// stream got them; output goes on at `to`.
    Dropped {
        /// The offset the stream was at.
        from: u64,
        /// The oldest kept offset, where output resumes.
        to: u64,
    },
    /// The session ended and every byte up to `end_offset` was delivered.
    /// The last item.
    Exited {
        /// Exit code, if the process exited normally.
        exit_code: Option<i32>,
        /// The final transcript length.
        end_offset: u64,
    },
}

/// An attach stream on one session. It only remembers where it is: output
/// is pulled from the session's in-memory tail or transcript file when
/// [`Subscription::next`] is called, so a subscriber that stops reading
/// stalls nobody and loses nothing. Dropping it detaches.
pub struct Subscription {
    session: Arc<Session>,
    rx: watch::Receiver<()>,
    next: u64,
    seen: (u64, u64),
    first: Option<StreamItem>,
    /// Tail chunks read but not yet delivered (starting at `next`): each
    /// is delivered as it is, shared with the tail, instead of being
    /// copied into one buffer per subscriber.
    queued: VecDeque<Bytes>,
    done: bool,
    events_only: bool,
    /// Live mode (`Resume::Live`): fall behind by more than [`LIVE_LAG`]
    /// bytes and the next item is a fresh snapshot instead of the backlog.
    live: bool,
}

/// How far (bytes of output) a live-mode stream may fall behind the
/// session before it is sent a fresh snapshot instead of the backlog.
pub const LIVE_LAG: u64 = 8 * 1024;

/// Largest output item a live-mode stream sends (smaller items let it
/// notice sooner that it fell behind).
const LIVE_CHUNK: usize = 4 * 1024;

impl Subscription {
    pub(crate) fn new(
        session: Arc<Session>,
        rx: watch::Receiver<()>,
        next: u64,
        seen: (u64, u64),
        first: Option<StreamItem>,
        events_only: bool,
    ) -> Subscription {
        Subscription {
            session,
            rx,
            next,
            seen,
            first,
            queued: VecDeque::new(),
            done: false,
            events_only,
            live: false,
        }
    }

    /// Makes this a live-mode stream (see [`LIVE_LAG`]).
    pub(crate) fn live(mut self, live: bool) -> Subscription {
        self.live = live;
        self
    }

    /// True for a live-mode stream: its writer should pull only when the
    /// link has drained.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The session this stream reads.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The offset of the next output byte this stream will deliver.
    pub fn offset(&self) -> u64 {
        self.next
    }

    /// The next item, waiting for one if needed; `None` after `Exited` (or
    /// if the transcript cannot be read). Cancel-safe: dropping the future
    /// loses nothing, the next call picks up at the same offset.
    pub async fn next(&mut self) -> Option<StreamItem> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.live && !self.done {
            if let Some(snap) = self.session.live_resync(self.next, LIVE_LAG) {
                if let StreamItem::Snapshot { offset, .. } = &snap {
                    self.next = *offset;
                }
                self.queued.clear();
                return Some(snap);
            }
        }
        if let Some(chunk) = self.queued.pop_front() {
            return Some(self.output(chunk));
        }
        loop {
            if self.done {
                return None;
            }
            self.rx.borrow_and_update();
            // An events-only stream is always "caught up" with the output.
            let at = if self.events_only {
                u64::MAX
            } else {
                self.next
            };
            let max = if self.live {
                LIVE_CHUNK
            } else {
                dd_proto::MAX_OUTPUT_CHUNK
            };
            let step = self.session.step(at, &mut self.seen, max);
            match step {
                Step::Meta(info) => return Some(StreamItem::Meta(info)),
                Step::Prompt(PromptEvent::Needed(p)) => return Some(StreamItem::InputNeeded(p)),
                Step::Prompt(PromptEvent::Cleared(seq)) => {
                    return Some(StreamItem::InputCleared(seq))
                }
                Step::Memory(chunks) => {
                    // Never empty (`step` only reads what is there).
                    let mut chunks = VecDeque::from(chunks);
                    if let Some(chunk) = chunks.pop_front() {
                        self.queued = chunks;
                        return Some(self.output(chunk));
                    }
                    if self.rx.changed().await.is_err() {
                        self.done = true;
                    }
                }
                Step::Dropped(to) => {
                    let from = self.next;
                    self.next = to;
                    return Some(StreamItem::Dropped { from, to });
                }
                Step::File(len) => {
                    let session = Arc::clone(&self.session);
                    let offset = self.next;
                    let read =
                        tokio::task::spawn_blocking(move || session.read_file(offset, len)).await;
                    match read {
                        Ok(Ok(data)) => return Some(self.output(Bytes::from(data))),
                        Ok(Err(e)) => {
                            tracing::error!(session = %self.session.id(), offset, error = %e,
                                "cannot read transcript; ending stream");
                        }
                        Err(e) => {
                            tracing::error!(session = %self.session.id(), error = %e,
                                "transcript read task failed; ending stream");
                        }
                    }
                    self.done = true;
                }
                Step::Exited(exit_code, end_offset) => {
                    self.done = true;
                    return Some(StreamItem::Exited {
                        exit_code,
                        end_offset,
                    });
                }
                Step::Wait => {
                    if self.rx.changed().await.is_err() {
                        self.done = true;
                    }
                }
            }
        }
    }

    fn output(&mut self, data: Bytes) -> StreamItem {
        let offset = self.next;
        self.next += data.len() as u64;
        StreamItem::Output { offset, data }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.session.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Opening streams of a session.
impl Session {
    /// Opens a stream of this session's output, starting as `resume` says.
    /// Works on ended sessions too: the transcript, then `Exited`.
    pub fn attach(self: &Arc<Self>, resume: Resume) -> Result<Subscription, SessionError> {
        let live = resume == Resume::Live;
        let resume = if live { Resume::Screen } else { resume };
        if resume == Resume::Screen && lock(&self.state).screen.is_none() {
            let screen = self.rebuild_screen()?;
            let mut st = lock(&self.state);
            if st.screen.is_none() {
                st.screen = Some(screen);
            }
        }
        let rx = self.wake.subscribe();
        let mut st = lock(&self.state);
        if resume == Resume::Screen && self.feed_screen(&mut st) {
            self.wake.send_replace(());
        }
        let end = st.tail.end();
        let (next, first) = match resume {
            Resume::Offset { offset } if offset > end => {
                return Err(SessionError::BadRequest(format!(
                    "offset {offset} is beyond the end of the transcript ({end})"
                )));
            }
            // An offset older than the oldest kept byte gets a `Dropped`
            // item first (see `step`).
            Resume::Offset { offset } => (offset, None),
            Resume::Tail { bytes } => (end.saturating_sub(bytes), None),
            Resume::Screen | Resume::Live => (end, Some(Self::snapshot_locked(&st))),
        };
        self.clients.fetch_add(1, Ordering::Relaxed);
        Ok(Subscription::new(
            Arc::clone(self),
            rx,
            next,
            (st.meta_gen, st.prompts.gen()),
            first,
            false,
        )
        .live(live))
    }

    /// The screen as it stands at the end of the transcript (the caller
    /// brought it up to date).
    fn snapshot_locked(st: &State) -> StreamItem {
        StreamItem::Snapshot {
            // The screen holds everything up to the end, or, while a
            // resize waits, up to where it takes effect (not past it).
            offset: st.resize_at.unwrap_or(st.tail.end()),
            rows: st.rows,
            cols: st.cols,
            data: st.screen.as_ref().map(Screen::repaint).unwrap_or_default(),
        }
    }

    /// For a live-mode stream at `next`: a fresh snapshot of the present
    /// when the stream is more than `bound` bytes behind the end (the
    /// stream then goes on from the snapshot's offset), else None.
    pub(crate) fn live_resync(&self, next: u64, bound: u64) -> Option<StreamItem> {
        let mut st = lock(&self.state);
        if st.tail.end().saturating_sub(next) <= bound
            || st.screen.is_none()
            || st.resize_at.is_some()
        {
            return None;
        }
        let fed = self.feed_screen(&mut st);
        let snap = Self::snapshot_locked(&st);
        drop(st);
        if fed {
            self.wake.send_replace(());
        }
        Some(snap)
    }

    /// Opens an events-only stream: metadata changes, input-needed and
    /// input-cleared events from now on, then `Exited`; no output.
    pub fn events(self: &Arc<Self>) -> Subscription {
        let rx = self.wake.subscribe();
        let st = lock(&self.state);
        self.clients.fetch_add(1, Ordering::Relaxed);
        Subscription::new(
            Arc::clone(self),
            rx,
            st.tail.end(),
            (st.meta_gen, st.prompts.gen()),
            None,
            true,
        )
    }
}
