//! The session host: terminal sessions on real PTYs, their transcripts and
//! screens, and attach streams.
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
//! When the agent starts again, sessions that were running are marked
//! `lost`; their transcripts stay readable.

mod detect;
mod error;
mod heuristic;
mod meta;
mod pty;
mod screen;
mod session;
mod signals;
mod stream;
mod tail;

pub use detect::PromptSettings;
pub use error::SessionError;
pub use session::Session;
pub use stream::{StreamItem, Subscription};

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dd_proto::methods::{CreateSession, SessionInfo, SessionStatus};
use tokio::sync::watch;

use crate::util::{is_valid_id, new_id, now_secs};
use session::{check_size, lock, Fixed, State};
use tail::Tail;

/// Longest session name accepted, in characters.
const MAX_NAME_CHARS: usize = 200;

/// All sessions of this agent, running and ended.
pub struct SessionManager {
    dir: PathBuf,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    seq: AtomicU64,
    prompts: Arc<PromptSettings>,
}

impl SessionManager {
    /// Opens the session store under `<root>/sessions` (created, mode 0700)
    /// and loads past sessions; those whose meta says `running` become
    /// `lost`. Unreadable session directories are skipped with a warning.
    pub fn open(root: &Path) -> Result<Arc<SessionManager>, SessionError> {
        let dir = root.join("sessions");
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
        Ok(Arc::new(SessionManager {
            dir,
            seq: AtomicU64::new(sessions.len() as u64),
            sessions: Mutex::new(sessions),
            prompts,
        }))
    }

    /// The input-needed detection settings every session uses.
    pub fn prompt_settings(&self) -> &Arc<PromptSettings> {
        &self.prompts
    }

    /// Starts a new session on a fresh PTY.
    pub async fn create(&self, req: CreateSession) -> Result<Arc<Session>, SessionError> {
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
        let started = start_in(&dir, &id, &command, &cwd, &req.env, rows, cols);
        let (spawned, writer, reader) = match started {
            Ok(v) => v,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let fixed = Fixed {
            id: id.clone(),
            name,
            command,
            cwd,
            created_at: now_secs(),
        };
        let state = new_state(Tail::new(0), rows, cols, SessionStatus::Running);
        let mut session = new_session(fixed, dir, state, reader);
        session.seq = self.seq.fetch_add(1, Ordering::Relaxed);
        session.prompt_settings = Arc::clone(&self.prompts);
        let session = Arc::new(session);
        session.persist(&session.info());
        lock(&self.sessions).insert(id, Arc::clone(&session));
        pty::start(Arc::clone(&session), spawned, writer);
        Ok(session)
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

/// Creates the transcript and spawns the child: (child, append handle,
/// read handle).
fn start_in(
    dir: &Path,
    id: &str,
    command: &[String],
    cwd: &str,
    env: &std::collections::BTreeMap<String, String>,
    rows: u16,
    cols: u16,
) -> Result<(pty::Spawned, fs::File, fs::File), SessionError> {
    let path = dir.join(meta::TRANSCRIPT_FILE);
    let writer = fs::OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    let reader = fs::File::open(&path)?;
    let spec = pty::Spec {
        id,
        command,
        cwd,
        env,
        rows,
        cols,
    };
    Ok((pty::spawn(&spec)?, writer, reader))
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
        closing: false,
        prompts: detect::Prompts::new(),
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
    }
}

/// Loads one past session; a `running` one becomes `lost`.
fn load(dir: &Path, id: &str) -> Result<Session, SessionError> {
    let info = meta::read(dir)?;
    if info.id != id {
        return Err(bad(format!("meta.json names {:?}", info.id)));
    }
    let transcript = fs::File::open(dir.join(meta::TRANSCRIPT_FILE))?;
    let end = transcript.metadata()?.len();
    let status = match info.status {
        SessionStatus::Running => SessionStatus::Lost,
        s => s,
    };
    let rows = info.rows.clamp(1, session::MAX_DIM);
    let cols = info.cols.clamp(1, session::MAX_DIM);
    let mut state = new_state(Tail::new(end), rows, cols, status);
    state.exit_code = info.exit_code;
    state.title = info.title.clone();
    let fixed = Fixed {
        id: info.id,
        name: info.name,
        command: info.command,
        cwd: info.cwd,
        created_at: info.created_at,
    };
    let session = new_session(fixed, dir.to_owned(), state, transcript);
    if info.status == SessionStatus::Running {
        session.persist(&session.info());
    }
    Ok(session)
}
