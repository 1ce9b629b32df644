//! The gateway's mirror of every session: its screen, in-memory tail,
//! subscribers (attach streams) and prompt detection, fed by the session
//! host process that owns the PTYs ([`crate::host`]).
//!
//! Each session lives in `<root>/sessions/<id>/`: `meta.json` (its
//! [`SessionInfo`], replaced atomically on every status change) and
//! `transcript`, every byte the PTY produced, append-only. A byte's
//! *offset* is its position in the transcript.
//!
//! One reader task per session reads the PTY in 64 KiB buffers, appends
//! each read to the transcript file, then — under one lock — feeds the
//! vt100 screen model, appends the bytes to an in-memory tail (the last
//! MiB or so) and advances the end offset, and finally wakes subscribers.
//! It never waits for a subscriber.
//!
//! A [`Subscription`] is pull-based: it only remembers the next offset it
//! owes its client. Each [`Subscription::next`] serves bytes from the
//! in-memory tail (shared, no copy) or, for a subscriber further behind,
//! from the transcript file. A subscriber that stops reading holds nothing
//! up and loses nothing; it catches up later.
//!
//! The processes themselves live in the session host ([`crate::host`]), a
//! separate process that reads each PTY and appends to its transcript
//! *before* sending the bytes here over [`host_link`]; this side keeps the
//! screen model, the tail and the subscribers. When the gateway starts
//! again it re-adopts every session the host still runs (rebuilding the
//! screen from the transcript and reading whatever it missed from the
//! file); sessions the host no longer knows (it died) are marked `lost`,
//! their transcripts kept.

mod backlog;
mod detect;
mod error;
mod heuristic;
mod host_link;
mod meta;
mod screen;
mod session;
mod signals;
mod stream;
mod tail;

pub use detect::PromptSettings;
pub use error::SessionError;
pub use host_link::{HostConfig, HostMode, DEFAULT_TRANSCRIPT_CAP};
pub use session::Session;
pub use stream::{StreamItem, Subscription};

/// The screen model alone, driven as [`Session`]'s `feed_screen` drives it
/// (each output chunk through `Screen::process`, then the notification
/// signals taken), without a session, a tail or prompt detection around
/// it. It exists only so `benches/screen.rs` can measure the emulator's
/// parse speed: the screen module stays private, and this is not an API.
#[doc(hidden)]
pub struct ScreenBench(screen::Screen);

#[doc(hidden)]
impl ScreenBench {
    /// A blank `rows` x `cols` screen.
    pub fn new(rows: u16, cols: u16) -> ScreenBench {
        ScreenBench(screen::Screen::new(rows, cols))
    }

    /// Feeds one chunk of output; returns how many signals it raised.
    pub fn feed(&mut self, chunk: &[u8]) -> usize {
        self.0.process(chunk);
        self.0.take_signals().len()
    }

    /// The visible rows as text.
    pub fn lines(&self) -> Vec<String> {
        self.0.lines()
    }
}

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dd_proto::host::{HostSession, Reply, ToHost};
use dd_proto::methods::{CreateSession, SessionInfo, SessionStatus};
use tokio::sync::watch;

use crate::layout;
use crate::util::{is_valid_id, new_id, now_secs};
use host_link::HostLink;
use session::{check_size, lock, Control, Fixed, State};
use tail::Tail;

/// Longest session name accepted, in characters.
const MAX_NAME_CHARS: usize = 200;

/// All sessions of this agent, running and ended.
pub struct SessionManager {
    root: PathBuf,
    dir: PathBuf,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    seq: AtomicU64,
    prompts: Arc<PromptSettings>,
    host: HostConfig,
    link: tokio::sync::Mutex<Option<Arc<HostLink>>>,
}

impl SessionManager {
    /// Opens the session store under `<root>/sessions` (created, mode 0700),
    /// loads past sessions and connects to the session host (starting it
    /// as `host` says if none runs). Sessions the host still runs are
    /// re-adopted; those whose meta says `running` but that the host does
    /// not know become `lost`. Unreadable session directories are skipped
    /// with a warning.
    pub async fn open(root: &Path, host: HostConfig) -> Result<Arc<SessionManager>, SessionError> {
        let dir = layout::sessions_dir(root);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        let mut loaded = Vec::new();
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(id) = name.to_str().filter(|n| is_valid_id(n, "s")) else {
                continue;
            };
            match load(&entry.path(), id) {
                Ok(s) => loaded.push(s),
                Err(e) => tracing::warn!(session = %id, error = %e, "skipping unreadable session"),
            }
        }
        loaded.sort_by(|a, b| {
            (a.fixed.created_at, &a.fixed.id).cmp(&(b.fixed.created_at, &b.fixed.id))
        });
        let prompts = Arc::new(PromptSettings::default());
        let mut sessions = HashMap::new();
        for (seq, mut s) in loaded.into_iter().enumerate() {
            s.prompt_settings = Arc::clone(&prompts);
            s.seq = seq as u64;
            sessions.insert(s.fixed.id.clone(), Arc::new(s));
        }
        let mgr = Arc::new(SessionManager {
            root: root.to_owned(),
            dir,
            seq: AtomicU64::new(sessions.len() as u64),
            sessions: Mutex::new(sessions),
            prompts,
            host,
            link: tokio::sync::Mutex::new(None),
        });
        mgr.adopt(true).await?;
        Ok(mgr)
    }

    /// The live link to the session host, connecting (and starting the
    /// host unless `start` is false) if there is none. (Boxed: a broken link reconnects through
    /// here from a task the link itself spawned.)
    fn link(
        self: &Arc<Self>,
        start: bool,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Arc<HostLink>, SessionError>> + Send + '_>,
    > {
        Box::pin(async move {
            let mut guard = self.link.lock().await;
            if let Some(l) = guard.as_ref().filter(|l| l.is_alive()) {
                return Ok(Arc::clone(l));
            }
            let l = HostLink::open(&self.root, &self.host, start, Arc::downgrade(self)).await?;
            *guard = Some(Arc::clone(&l));
            Ok(l)
        })
    }

    /// The process id of the session host this gateway is linked to, if
    /// the link is up.
    pub async fn host_pid(&self) -> Option<u32> {
        let guard = self.link.lock().await;
        guard
            .as_ref()
            .filter(|l| l.is_alive())
            .map(|l| l.pid())
            .filter(|&p| p != 0)
    }

    /// Connects to the host and takes back the sessions it still runs;
    /// marks the others that were running `lost`.
    async fn adopt(self: &Arc<Self>, start: bool) -> Result<(), SessionError> {
        let link = self.link(start).await?;
        let hosted: HashMap<String, HostSession> =
            match link.call(|req| ToHost::List { req }).await? {
                Reply::Sessions { sessions } => {
                    sessions.into_iter().map(|s| (s.id.clone(), s)).collect()
                }
                other => return Err(SessionError::Host(format!("unexpected reply {other:?}"))),
            };
        // `lost` too: a gateway that lost its link may have recorded that
        // while the host (and the session) lived on.
        let was_running: Vec<Arc<Session>> = lock(&self.sessions)
            .values()
            .filter(|s| {
                let st = s.info().status;
                st == SessionStatus::Running
                    || (st == SessionStatus::Lost && hosted.contains_key(s.id()))
            })
            .cloned()
            .collect();
        let mut lost = 0;
        for s in was_running {
            let Some(h) = hosted.get(s.id()) else {
                if s.is_running() {
                    s.lose();
                    lost += 1;
                }
                continue;
            };
            s.trimmed(h.start);
            s.revive();
            // A session still on a broken link keeps its screen and timer.
            let fresh = lock(&s.control)
                .replace(Control {
                    link: Arc::clone(&link),
                })
                .is_none();
            if h.running {
                if fresh {
                    if lock(&s.state).screen.is_none() {
                        s.adopt_screen();
                    }
                    s.start_quiet_timer();
                }
                let id = s.id().to_owned();
                link.call(|req| ToHost::Follow { req, id }).await?;
            } else {
                s.ingest(h.end, bytes::Bytes::new());
                s.finish(h.exit_code);
            }
        }
        if lost > 0 {
            tracing::warn!(
                lost,
                "sessions were lost: the session host had stopped (their transcripts are kept)"
            );
        }
        Ok(())
    }

    /// The link to the host broke: reconnect and take back what the host
    /// still runs. If no host answers (it died or was stopped), everything
    /// on the link is lost; a new host starts with the next new session.
    pub(crate) async fn relink(self: Arc<Self>, old: Arc<HostLink>) {
        tracing::warn!("lost the link to the session host; reconnecting");
        if let Err(e) = self.adopt(false).await {
            tracing::warn!(error = %e, "no session host answers");
            self.host_lost(&old);
        }
    }

    /// Every session on `link` is lost.
    fn host_lost(&self, link: &Arc<HostLink>) {
        let running: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        for s in running {
            let on_link = lock(&s.control)
                .as_ref()
                .is_some_and(|c| Arc::ptr_eq(&c.link, link));
            if on_link {
                s.lose();
            }
        }
    }

    /// The input-needed detection settings every session uses.
    pub fn prompt_settings(&self) -> &Arc<PromptSettings> {
        &self.prompts
    }

    /// Starts a new session on a fresh PTY.
    pub async fn create(
        self: &Arc<Self>,
        req: CreateSession,
    ) -> Result<Arc<Session>, SessionError> {
        let rows = req.rows.unwrap_or(24);
        let cols = req.cols.unwrap_or(80);
        check_size(rows, cols)?;
        let command = match req.command {
            Some(c) => c,
            None => vec![std::env::var("SHELL")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".into())],
        };
        if command.first().is_none_or(|p| p.is_empty()) {
            return Err(bad("the command is empty"));
        }
        if command.iter().any(|a| a.contains('\0')) {
            return Err(bad("the command contains a NUL byte"));
        }
        let cwd = match req.cwd {
            Some(c) => c,
            None => std::env::var("HOME").unwrap_or_else(|_| "/".into()),
        };
        if !Path::new(&cwd).is_absolute() || !Path::new(&cwd).is_dir() {
            return Err(bad(format!(
                "cwd {cwd:?} is not an existing absolute directory"
            )));
        }
        for (k, v) in &req.env {
            if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
                return Err(bad(format!("invalid environment variable {k:?}")));
            }
        }
        let req_env = req.env;
        let name = match req.name {
            Some(n) => n,
            None => Path::new(&command[0])
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| command[0].clone()),
        };
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(bad("the name is too long or has control characters"));
        }

        let id = new_id("s");
        let dir = self.dir.join(&id);
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let transcript = match create_transcript(&dir) {
            Ok(t) => t,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e.into());
            }
        };
        let link = match self.link(true).await {
            Ok(l) => l,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let fixed = Fixed {
            id: id.clone(),
            name,
            command: command.clone(),
            cwd: cwd.clone(),
            created_at: now_secs(),
        };
        let state = new_state(Tail::new(0), rows, cols, SessionStatus::Running);
        let mut session = new_session(fixed, dir.clone(), state, transcript);
        session.seq = self.seq.fetch_add(1, Ordering::Relaxed);
        session.prompt_settings = Arc::clone(&self.prompts);
        *lock(&session.control) = Some(Control {
            link: Arc::clone(&link),
        });
        let session = Arc::new(session);
        // Registered before the host starts it, so no output is missed.
        lock(&self.sessions).insert(id.clone(), Arc::clone(&session));
        let result = link
            .call(|req| ToHost::Create {
                req,
                id: id.clone(),
                command: command.clone(),
                cwd,
                env: req_env,
                rows,
                cols,
            })
            .await;
        match result {
            Ok(_) => {
                session.persist(&session.info());
                session.start_quiet_timer();
                Ok(session)
            }
            Err(e) => {
                lock(&self.sessions).remove(&id);
                let _ = fs::remove_dir_all(&dir);
                Err(match e {
                    SessionError::Host(m) if m.starts_with("cannot start") => SessionError::Spawn {
                        program: command[0].clone(),
                        source: std::io::Error::other(m),
                    },
                    e => e,
                })
            }
        }
    }

    /// All sessions, newest first.
    pub fn list(&self) -> Vec<SessionInfo> {
        let mut all: Vec<Arc<Session>> = lock(&self.sessions).values().cloned().collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.seq));
        all.iter().map(|s| s.info()).collect()
    }

    /// The session with this id.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        lock(&self.sessions).get(id).cloned()
    }

    /// Ends a session's processes (SIGHUP, SIGTERM, then SIGKILL to its
    /// process group, about a second apart) and returns its final info
    /// (status `closed`). Closing an ended session just returns its info.
    pub async fn close(&self, id: &str) -> Result<SessionInfo, SessionError> {
        let session = self.get(id).ok_or(SessionError::NotFound)?;
        Ok(session.close().await)
    }

    /// Closes every running session, concurrently (the agent is stopping).
    pub async fn shutdown(&self) {
        let running: Vec<Arc<Session>> = lock(&self.sessions)
            .values()
            .filter(|s| s.is_running())
            .cloned()
            .collect();
        futures_util::future::join_all(running.iter().map(|s| s.close())).await;
    }
}

fn bad(msg: impl Into<String>) -> SessionError {
    SessionError::BadRequest(msg.into())
}

/// Creates the empty transcript (0600) for the host to append to, and
/// returns a read handle on it.
fn create_transcript(dir: &Path) -> std::io::Result<fs::File> {
    let path = dir.join(layout::TRANSCRIPT_FILE);
    fs::OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    fs::File::open(&path)
}

fn new_state(tail: Tail, rows: u16, cols: u16, status: SessionStatus) -> State {
    let screen = (status == SessionStatus::Running).then(|| screen::Screen::new(rows, cols));
    State {
        tail,
        screen,
        rows,
        cols,
        title: String::new(),
        status,
        exit_code: None,
        meta_gen: 0,
        meta_offset: 0,
        resize_at: None,
        closing: false,
        prompts: detect::Prompts::new(),
        first: 0,
        backlog: backlog::Backlog::default(),
    }
}

fn new_session(fixed: Fixed, dir: PathBuf, state: State, transcript: fs::File) -> Session {
    Session {
        fixed,
        dir,
        seq: 0,
        state: Mutex::new(state),
        wake: watch::Sender::new(()),
        clients: AtomicU32::new(0),
        transcript: Arc::new(transcript),
        control: Mutex::new(None),
        prompt_settings: Arc::default(),
        screen_kick: Arc::default(),
    }
}

/// Loads one past session. A `running` one stays `running` until the host
/// says whether it still runs (see [`SessionManager::adopt`]).
fn load(dir: &Path, id: &str) -> Result<Session, SessionError> {
    let info = meta::read(dir)?;
    if info.id != id {
        return Err(bad(format!("meta.json names {:?}", info.id)));
    }
    let transcript = fs::File::open(dir.join(layout::TRANSCRIPT_FILE))?;
    let end = transcript.metadata()?.len();
    let status = info.status;
    let rows = info.rows.clamp(1, session::MAX_DIM);
    let cols = info.cols.clamp(1, session::MAX_DIM);
    let mut state = new_state(Tail::new(end), rows, cols, status);
    // The screen of a session still running is rebuilt when it is adopted.
    state.screen = None;
    state.first = layout::read_start(dir);
    state.exit_code = info.exit_code;
    state.title = info.title.clone();
    let fixed = Fixed {
        id: info.id,
        name: info.name,
        command: info.command,
        cwd: info.cwd,
        created_at: info.created_at,
    };
    Ok(new_session(fixed, dir.to_owned(), state, transcript))
}
