//! One session: its shared state (transcript tail, screen, status), input,
//! resize and attach.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dd_proto::host::{HostSignal, ToHost};
use dd_proto::methods::{SessionInfo, SessionStatus};
use tokio::sync::watch;

use super::backlog::Backlog;
use super::detect::{PromptEvent, PromptSettings, Prompts};
use super::host_link::HostLink;
use super::screen::Screen;
use super::tail::Tail;
use super::{meta, SessionError};

/// Gaps in the host's output (bytes it did not send) are read from the
/// transcript in pieces of this size.
const GAP_READ: u64 = 1024 * 1024;

/// Largest PTY dimension accepted.
pub(crate) const MAX_DIM: u16 = 1000;

/// How much transcript is replayed to rebuild the screen of a session loaded
/// from disk or adopted from the session host by a new gateway. The screen
/// model parses well over 100 MB/s, so this costs a fraction of a second,
/// once per session; state set before it (rare: a program that switched
/// to the alternate screen and then printed 16 MiB without redrawing) is
/// the one thing a rebuild can miss.
const REBUILD_BYTES: u64 = 16 * 1024 * 1024;

/// What never changes about a session.
pub(crate) struct Fixed {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) command: Vec<String>,
    pub(crate) cwd: String,
    pub(crate) created_at: i64,
}

/// The handle on a running session: its session host.
pub(crate) struct Control {
    pub(crate) link: Arc<HostLink>,
}

/// What changes, all under one lock.
pub(crate) struct State {
    pub(crate) tail: Tail,
    /// None for a session loaded from disk until a screen is asked for.
    pub(crate) screen: Option<Screen>,
    /// Output not yet fed to `screen` (see [`super::backlog`]).
    pub(crate) backlog: Backlog,
    pub(crate) rows: u16,
    pub(crate) cols: u16,
    pub(crate) title: String,
    pub(crate) status: SessionStatus,
    pub(crate) exit_code: Option<i32>,
    /// Bumped on every size, title or status change.
    pub(crate) meta_gen: u64,
    /// The end offset when `meta_gen` was last bumped.
    pub(crate) meta_offset: u64,
    /// While a resize waits for the session host: the output offset it
    /// takes effect at. Output after it is neither parsed nor streamed
    /// until the screen model has the new size, so every viewer (and the
    /// model) draws what the program wrote after SIGWINCH at the new size.
    pub(crate) resize_at: Option<u64>,
    /// Set by `close`, so the end is recorded as `closed`.
    pub(crate) closing: bool,
    /// Input-needed detection.
    pub(crate) prompts: Prompts,
    /// The first transcript offset still stored (older bytes were dropped
    /// by the size cap).
    pub(crate) first: u64,
}

impl State {
    fn bump_meta(&mut self) {
        self.meta_gen += 1;
        self.meta_offset = self.tail.end();
    }
}

/// What a subscriber should do next (see [`Session::step`]).
pub(crate) enum Step {
    Meta(SessionInfo),
    Prompt(PromptEvent),
    Memory(Vec<Bytes>),
    /// Bytes before this offset are no longer stored.
    Dropped(u64),
    File(usize),
    Exited(Option<i32>, u64),
    Wait,
}

/// A terminal session: a process on a PTY, its transcript and screen.
pub struct Session {
    pub(crate) fixed: Fixed,
    pub(crate) dir: PathBuf,
    pub(crate) seq: u64,
    pub(crate) state: Mutex<State>,
    pub(crate) wake: watch::Sender<()>,
    pub(crate) clients: AtomicU32,
    pub(crate) transcript: Arc<File>,
    pub(crate) control: Mutex<Option<Control>>,
    pub(crate) prompt_settings: Arc<PromptSettings>,
    /// Tells the session's timer task that output started waiting for the
    /// screen (see [`super::backlog`]).
    pub(crate) screen_kick: Arc<tokio::sync::Notify>,
}

pub(crate) use crate::util::lock;

/// Checks a PTY size.
pub(crate) fn check_size(rows: u16, cols: u16) -> Result<(), SessionError> {
    if (1..=MAX_DIM).contains(&rows) && (1..=MAX_DIM).contains(&cols) {
        Ok(())
    } else {
        Err(SessionError::BadRequest(format!(
            "size {rows}x{cols} is outside 1..={MAX_DIM}"
        )))
    }
}

impl Session {
    /// The session id.
    pub fn id(&self) -> &str {
        &self.fixed.id
    }

    /// True while the process runs.
    pub fn is_running(&self) -> bool {
        lock(&self.state).status == SessionStatus::Running
    }

    /// The session's metadata as it stands.
    pub fn info(&self) -> SessionInfo {
        self.info_locked(&lock(&self.state))
    }

    fn info_locked(&self, st: &State) -> SessionInfo {
        SessionInfo {
            id: self.fixed.id.clone(),
            name: self.fixed.name.clone(),
            command: self.fixed.command.clone(),
            cwd: self.fixed.cwd.clone(),
            status: st.status,
            exit_code: st.exit_code,
            created_at: self.fixed.created_at,
            rows: st.rows,
            cols: st.cols,
            title: st.title.clone(),
            end_offset: st.tail.end(),
            clients: self.clients.load(Ordering::Relaxed),
            waiting: st.prompts.waiting().cloned().map(Box::new),
        }
    }

    /// A receiver that is marked changed whenever output arrives or the
    /// metadata changes.
    pub fn changed(&self) -> watch::Receiver<()> {
        self.wake.subscribe()
    }

    /// Writes input to the PTY. Waits while the PTY's input queue is full
    /// (only this session's callers wait).
    pub async fn write_input(&self, data: &[u8]) -> Result<(), SessionError> {
        let link = self.link().ok_or(SessionError::SessionEnded)?;
        if data.is_empty() {
            return Ok(());
        }
        // Noted before it is queued, so output the program writes in
        // answer always comes after it.
        self.note_input(data);
        link.input(&self.fixed.id, data).await
    }

    /// The session host link while the session runs.
    fn link(&self) -> Option<Arc<HostLink>> {
        lock(&self.control).as_ref().map(|c| Arc::clone(&c.link))
    }

    /// Resizes the PTY (the program gets SIGWINCH) and the screen model, and
    /// tells subscribers with a `Meta` item.
    pub async fn resize(&self, rows: u16, cols: u16) -> Result<(), SessionError> {
        check_size(rows, cols)?;
        let link = self.link().ok_or(SessionError::SessionEnded)?;
        let id = self.fixed.id.clone();
        // Output so far was written for the old size (the program cannot
        // have seen SIGWINCH yet): drawn at it; what comes while the host
        // resizes waits (see `State::resize_at`).
        let at = {
            let mut st = lock(&self.state);
            if (st.rows, st.cols) == (rows, cols) || st.resize_at.is_some() {
                None
            } else {
                self.feed_screen(&mut st);
                let at = st.tail.end();
                st.resize_at = Some(at);
                Some(at)
            }
        };
        /// Ends the wait however the call ends (an error, a dropped
        /// request); disarmed once the new size is in place.
        struct Held<'a>(&'a Session, bool);
        impl Drop for Held<'_> {
            fn drop(&mut self) {
                if self.1 {
                    lock(&self.0.state).resize_at = None;
                    self.0.wake.send_replace(());
                }
            }
        }
        let mut held = Held(self, at.is_some());
        link.call(|req| ToHost::Resize {
            req,
            id,
            rows,
            cols,
        })
        .await?;
        let info = {
            let mut st = lock(&self.state);
            if (st.rows, st.cols) == (rows, cols) {
                return Ok(());
            }
            st.resize_at = None;
            held.1 = false;
            st.rows = rows;
            st.cols = cols;
            if let Some(screen) = st.screen.as_mut() {
                screen.resize(rows, cols);
            }
            st.bump_meta();
            // Streams see the new size exactly where it took effect.
            if let Some(at) = at {
                st.meta_offset = at;
            }
            self.feed_screen(&mut st);
            self.info_locked(&st)
        };
        self.wake.send_replace(());
        self.persist(&info);
        Ok(())
    }

    /// Rebuilds the screen of a running session this gateway adopts from
    /// the session host (a failure leaves a blank screen).
    pub(crate) fn adopt_screen(&self) {
        let screen = self.rebuild_screen().unwrap_or_else(|e| {
            tracing::warn!(session = %self.fixed.id, error = %e, "cannot rebuild the screen");
            let st = lock(&self.state);
            Screen::new(st.rows, st.cols)
        });
        let mut st = lock(&self.state);
        // The rebuild read the transcript, which holds what waited.
        st.backlog = Backlog::default();
        st.screen = Some(screen);
    }

    /// Rebuilds the screen of a session loaded from disk from the end of
    /// its transcript.
    pub(crate) fn rebuild_screen(&self) -> Result<Screen, SessionError> {
        let (end, rows, cols) = {
            let st = lock(&self.state);
            (st.tail.end(), st.rows, st.cols)
        };
        let first = lock(&self.state).first;
        let from = end.saturating_sub(REBUILD_BYTES).max(first).min(end);
        let mut buf = vec![0u8; (end - from) as usize];
        self.transcript.read_exact_at(&mut buf, from)?;
        let mut screen = Screen::new(rows, cols);
        screen.process(&buf);
        Ok(screen)
    }

    /// What a subscriber at `next`, having seen metadata generation
    /// `seen.0` and prompt event generation `seen.1`, gets next. Takes the
    /// lock briefly; never blocks on I/O.
    pub(crate) fn step(&self, next: u64, seen: &mut (u64, u64), max: usize) -> Step {
        let st = lock(&self.state);
        // While a resize waits, nothing past where it takes effect.
        let end = match st.resize_at {
            Some(at) => at.min(st.tail.end()),
            None => st.tail.end(),
        };
        if st.meta_gen != seen.0 && next >= st.meta_offset {
            seen.0 = st.meta_gen;
            return Step::Meta(self.info_locked(&st));
        }
        if let Some((gen, ev)) = st.prompts.next_event(seen.1, next) {
            seen.1 = gen;
            return Step::Prompt(ev);
        }
        if next < end {
            if next >= st.tail.start() {
                return Step::Memory(st.tail.read(next, max));
            }
            if next < st.first {
                return Step::Dropped(st.first.min(end));
            }
            return Step::File(max.min((end - next) as usize));
        }
        if st.status != SessionStatus::Running && st.resize_at.is_none() {
            return Step::Exited(st.exit_code, end);
        }
        Step::Wait
    }

    /// Reads transcript bytes from the file (blocking; call off the runtime).
    pub(crate) fn read_file(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.transcript.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    /// Publishes output already appended to the transcript file: adds it to
    /// the tail and wakes subscribers; the screen gets it now or, under
    /// sustained output, later (see [`super::backlog`]).
    pub(crate) fn publish(&self, data: Bytes) {
        let kick = {
            let mut st = lock(&self.state);
            st.tail.push(data.clone());
            if st.screen.is_some() {
                let was_empty = st.backlog.is_empty();
                if st.backlog.push(data, std::time::Instant::now()) {
                    self.feed_screen(&mut st);
                    false
                } else {
                    was_empty
                }
            } else {
                false
            }
        };
        self.wake.send_replace(());
        if kick {
            self.screen_kick.notify_one();
        }
    }

    /// Feeds the output waiting in the backlog to the screen: title,
    /// notification signals and prompt detection follow. True if there
    /// was any (the caller wakes subscribers).
    pub(crate) fn feed_screen(&self, st: &mut State) -> bool {
        if st.backlog.is_empty() || st.resize_at.is_some() {
            return false;
        }
        let pending = st.backlog.take();
        let Some(screen) = st.screen.as_mut() else {
            return false;
        };
        let mut title_changed = false;
        for chunk in &pending.chunks {
            title_changed |= screen.process(chunk);
        }
        let title = title_changed.then(|| screen.title().to_owned());
        let signals = screen.take_signals();
        if let Some(title) = title {
            st.title = title;
            st.bump_meta();
        }
        // Borrowed again (the title update needed `st`); still there.
        let Some(screen) = st.screen.as_ref() else {
            return true;
        };
        let title = if st.title.is_empty() {
            &self.fixed.name
        } else {
            &st.title
        };
        let ctx = super::detect::Ctx {
            session: &self.fixed.id,
            title,
            screen,
            offset: st.tail.end(),
        };
        let before = st.prompts.deadline(&self.prompt_settings);
        st.prompts.on_output(&ctx, signals, &self.prompt_settings);
        // Output usually moves the check later; after an early check or a
        // signal it can move it earlier: wake the reader task so it does
        // not sleep to the old deadline.
        let after = st.prompts.deadline(&self.prompt_settings);
        if after.is_some_and(|a| before.is_none_or(|b| a < b)) {
            self.screen_kick.notify_one();
        }
        true
    }

    /// Brings the screen up to date with all output (see
    /// [`super::backlog`]).
    pub(crate) fn catch_up_screen(&self) {
        let fed = self.feed_screen(&mut lock(&self.state));
        if fed {
            self.wake.send_replace(());
        }
    }

    /// When output waiting for the screen is due to be fed.
    fn screen_due(&self) -> Option<tokio::time::Instant> {
        lock(&self.state)
            .backlog
            .due()
            .map(tokio::time::Instant::from_std)
    }

    /// Takes output the host reports at `offset`: bytes already seen are
    /// skipped, and bytes the host did not send (before `offset`) are read
    /// from the transcript first, so the tail stays contiguous.
    pub(crate) fn ingest(&self, offset: u64, data: Bytes) {
        let mut end = lock(&self.state).tail.end();
        while end < offset {
            let n = (offset - end).min(GAP_READ);
            match self.read_file(end, n as usize) {
                Ok(buf) => self.publish(Bytes::from(buf)),
                Err(e) => {
                    tracing::error!(session = %self.fixed.id, error = %e,
                        "cannot read missed output from the transcript");
                    return;
                }
            }
            end += n;
        }
        let len = data.len() as u64;
        if offset + len <= end {
            return;
        }
        self.publish(data.slice((end - offset) as usize..));
    }

    /// The host dropped transcript bytes before `start` (the size cap).
    pub(crate) fn trimmed(&self, start: u64) {
        let mut st = lock(&self.state);
        st.first = st.first.max(start);
    }

    /// The session host went away with this session running: it is lost.
    pub(crate) fn lose(&self) {
        if self.end(|st| st.status = SessionStatus::Lost) {
            tracing::warn!(session = %self.fixed.id, "session lost: the session host stopped");
        }
    }

    /// Marks a session recorded `lost` running again (the host still runs
    /// it; see `SessionManager::adopt`).
    pub(crate) fn revive(&self) {
        let mut st = lock(&self.state);
        if st.status == SessionStatus::Lost {
            st.status = SessionStatus::Running;
            st.bump_meta();
        }
    }

    /// Runs the input-needed quiet timer while the session runs.
    pub(crate) fn start_quiet_timer(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let mut rx = self.wake.subscribe();
        let kick = Arc::clone(&self.screen_kick);
        tokio::spawn(async move {
            loop {
                rx.borrow_and_update();
                let (quiet, due) = match weak.upgrade() {
                    Some(s) if s.is_running() => (s.quiet_deadline(), s.screen_due()),
                    _ => return,
                };
                let now = tokio::time::Instant::now();
                if due.is_some_and(|d| d <= now) {
                    if let Some(s) = weak.upgrade() {
                        s.catch_up_screen();
                    }
                    continue;
                }
                if quiet.is_some_and(|q| q <= now) {
                    if let Some(s) = weak.upgrade() {
                        s.quiet_tick();
                    }
                    // The tick moved the deadline on (or cleared it).
                    continue;
                }
                // Sleep to the earlier deadline, then look again: output in
                // the meantime only moved the quiet deadline later, so this
                // task is not woken for every chunk (one task less per
                // echo); output that starts waiting for the screen kicks it.
                match quiet.into_iter().chain(due).min() {
                    Some(at) => tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = kick.notified() => {}
                    },
                    None => tokio::select! {
                        r = rx.changed() => if r.is_err() { return },
                        _ = kick.notified() => {}
                    },
                }
            }
        });
    }

    /// Records the end of the process (all output read), persists it and
    /// wakes everyone.
    pub(crate) fn finish(&self, exit_code: Option<i32>) {
        self.end(|st| {
            st.status = if st.closing {
                SessionStatus::Closed
            } else {
                SessionStatus::Exited
            };
            st.exit_code = exit_code;
        });
    }

    /// Ends a running session once: drops the host link, lets `set` record
    /// how it ended, clears any waiting prompt, persists and wakes
    /// everyone. False if it had already ended.
    fn end(&self, set: impl FnOnce(&mut State)) -> bool {
        let info = {
            let mut st = lock(&self.state);
            if st.status != SessionStatus::Running {
                return false;
            }
            lock(&self.control).take();
            set(&mut st);
            let end = st.tail.end();
            st.prompts.clear(end);
            st.bump_meta();
            self.info_locked(&st)
        };
        self.persist(&info);
        self.wake.send_replace(());
        true
    }

    /// Ends the process group: SIGHUP, then SIGTERM, then SIGKILL, waiting
    /// about a second between each, until the session has ended.
    pub(crate) async fn close(&self) -> SessionInfo {
        let Some(link) = self.link() else {
            return self.info();
        };
        lock(&self.state).closing = true;
        let steps = [
            (HostSignal::Hup, Duration::from_secs(1)),
            (HostSignal::Term, Duration::from_secs(1)),
            (HostSignal::Kill, Duration::from_secs(5)),
        ];
        for (signal, wait) in steps {
            if lock(&self.control).is_none() {
                break;
            }
            let id = self.fixed.id.clone();
            // An error (already gone) is fine: the end is on its way.
            let _ = link.call(|req| ToHost::Signal { req, id, signal }).await;
            if self.wait_ended(wait).await {
                break;
            }
        }
        self.info()
    }

    /// Waits up to `limit` for the session to end; true if it has.
    async fn wait_ended(&self, limit: Duration) -> bool {
        let mut rx = self.wake.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            rx.borrow_and_update();
            if !self.is_running() {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return !self.is_running(),
            }
        }
    }

    /// Writes `meta.json`; a failure is logged (the session goes on).
    pub(crate) fn persist(&self, info: &SessionInfo) {
        if let Err(e) = meta::write(&self.dir, info) {
            tracing::warn!(session = %self.fixed.id, error = %e, "cannot write session meta");
        }
    }
}

/// Prompt detection's hooks (see [`super::detect`]).
impl Session {
    /// When the reader should call [`Session::quiet_tick`], if at all.
    pub(crate) fn quiet_deadline(&self) -> Option<tokio::time::Instant> {
        lock(&self.state).prompts.deadline(&self.prompt_settings)
    }

    /// Output has been quiet for the period (called by the reader task).
    pub(crate) fn quiet_tick(&self) {
        let changed = {
            let mut st = lock(&self.state);
            let fed = self.feed_screen(&mut st);
            let st = &mut *st;
            let title = if st.title.is_empty() {
                self.fixed.name.as_str()
            } else {
                st.title.as_str()
            };
            match st.screen.as_ref() {
                Some(screen) => {
                    let ctx = super::detect::Ctx {
                        session: &self.fixed.id,
                        title,
                        screen,
                        offset: st.tail.end(),
                    };
                    let full = st.prompts.quiet_for_period(&self.prompt_settings);
                    st.prompts.on_quiet(&ctx, &self.prompt_settings, full) | fed
                }
                None => fed,
            }
        };
        if changed {
            self.wake.send_replace(());
        }
    }

    /// Input is on its way to the PTY: it answers (clears) the waiting
    /// prompt and cancels a pending heuristic check.
    pub(crate) fn note_input(&self, data: &[u8]) {
        let changed = {
            let mut st = lock(&self.state);
            let end = st.tail.end();
            st.prompts.on_input(data, end)
        };
        if changed {
            self.wake.send_replace(());
        }
    }
}
