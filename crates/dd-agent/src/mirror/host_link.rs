//! The gateway's link to the session host (see [`crate::host`]): connects
//! (starting the host if none answers), sends requests and input, and feeds
//! the output and exits the host reports into the sessions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use dd_proto::host::{
    decode, encode_control, encode_input, FromHost, HostErrorKind, HostFrame, Reply, ToHost,
    HOST_PROTOCOL_VERSION,
};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

use super::{SessionError, SessionManager};
use crate::host;
use crate::util::lock;

/// How long a request to the host may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// How long to wait for a freshly started host's socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Frames queued for the host.
const QUEUE: usize = 1024;

/// Where the session host comes from when none answers.
#[derive(Debug, Clone)]
pub enum HostMode {
    /// Run it as a task inside this process (tests, embedding). Sessions
    /// then end with the process.
    InProcess,
    /// Start `<exe> session-host --state-dir <root>` as a separate process
    /// in its own process group, logging to `<root>/host.log`.
    Spawn(PathBuf),
}

/// How the session manager reaches its host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where the host comes from.
    pub mode: HostMode,
    /// Per-session transcript size cap in bytes (0: none); older bytes are
    /// dropped beyond it.
    pub transcript_cap: u64,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            mode: HostMode::InProcess,
            transcript_cap: DEFAULT_TRANSCRIPT_CAP,
        }
    }
}

/// The default per-session transcript cap: 2 GiB.
pub const DEFAULT_TRANSCRIPT_CAP: u64 = 2 << 30;

/// A connection to the session host.
pub(crate) struct HostLink {
    tx: mpsc::Sender<Vec<u8>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    next: AtomicU64,
    alive: AtomicBool,
    /// The host's process id, from its Hello reply (0 until then).
    pid: AtomicU32,
}

fn lost() -> SessionError {
    SessionError::Host("the session host is not running".into())
}

impl HostLink {
    /// Connects to the host of `root` (with `start`, starting one per
    /// `cfg.mode` if none answers) and says hello.
    pub(crate) async fn open(
        root: &Path,
        cfg: &HostConfig,
        start: bool,
        mgr: Weak<SessionManager>,
    ) -> Result<Arc<HostLink>, SessionError> {
        let stream = if start {
            connect_or_start(root, &cfg.mode).await?
        } else {
            UnixStream::connect(crate::layout::host_socket(root))
                .await
                .map_err(|e| SessionError::Host(format!("no session host answers: {e}")))?
        };
        let (rd, wr) = stream.into_split();
        // Buffered: a small frame (an echo) is one read, not two.
        let mut rd = tokio::io::BufReader::with_capacity(64 * 1024, rd);
        let (tx, rx) = mpsc::channel(QUEUE);
        let link = Arc::new(HostLink {
            tx,
            pending: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            alive: AtomicBool::new(true),
            pid: AtomicU32::new(0),
        });
        tokio::spawn(host::write_loop(wr, rx));
        let reader = Arc::clone(&link);
        tokio::spawn(async move {
            while let Some(body) = host::read_frame(&mut rd).await {
                // Supervised: a panic handling one frame (no code path
                // should panic; a screen model's own panics are already
                // contained in `Screen::process`) drops this link the
                // ordinary way, so the manager relinks and re-adopts every
                // session, instead of killing this task silently.
                let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    reader.on_frame(body, &mgr)
                }));
                match handled {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(_) => {
                        tracing::error!(
                            "panic while handling a frame from the session host; relinking"
                        );
                        break;
                    }
                }
            }
            reader.alive.store(false, Ordering::Release);
            lock(&reader.pending).clear();
            if let Some(mgr) = mgr.upgrade() {
                tokio::spawn(mgr.relink(reader));
            }
        });
        let cap = cfg.transcript_cap;
        match link
            .call(|req| ToHost::Hello {
                req,
                version: HOST_PROTOCOL_VERSION,
                transcript_cap: cap,
            })
            .await?
        {
            Reply::Hello { version, pid } if version == HOST_PROTOCOL_VERSION => {
                tracing::info!(host_pid = pid, "connected to the session host");
                link.pid.store(pid, Ordering::Release);
                Ok(link)
            }
            other => Err(SessionError::Host(format!(
                "the session host refused this gateway: {other:?}"
            ))),
        }
    }

    /// The host's process id, as its Hello reply said.
    pub(crate) fn pid(&self) -> u32 {
        self.pid.load(Ordering::Acquire)
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Sends a request and waits for its reply. A host-side error comes
    /// back as the matching [`SessionError`].
    pub(crate) async fn call(
        &self,
        make: impl FnOnce(u64) -> ToHost,
    ) -> Result<Reply, SessionError> {
        if !self.is_alive() {
            return Err(lost());
        }
        let req = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(req, tx);
        if self.tx.send(encode_control(&make(req))).await.is_err() {
            lock(&self.pending).remove(&req);
            return Err(lost());
        }
        let reply = match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => return Err(lost()),
            Err(_) => {
                lock(&self.pending).remove(&req);
                return Err(SessionError::Host("the session host did not answer".into()));
            }
        };
        match reply {
            Reply::Error { kind, message } => Err(match kind {
                HostErrorKind::NotFound => SessionError::NotFound,
                HostErrorKind::Ended => SessionError::SessionEnded,
                HostErrorKind::BadRequest => SessionError::BadRequest(message),
                HostErrorKind::Spawn | HostErrorKind::Io | HostErrorKind::Version => {
                    SessionError::Host(message)
                }
            }),
            ok => Ok(ok),
        }
    }

    /// Sends input for a session (in order with everything else sent).
    pub(crate) async fn input(&self, id: &str, data: &[u8]) -> Result<(), SessionError> {
        if !self.is_alive() {
            return Err(SessionError::SessionEnded);
        }
        self.tx
            .send(encode_input(id, data))
            .await
            .map_err(|_| SessionError::SessionEnded)
    }

    /// Handles one frame from the host; false stops the link.
    fn on_frame(&self, body: Vec<u8>, mgr: &Weak<SessionManager>) -> bool {
        let Some(mgr) = mgr.upgrade() else {
            return false;
        };
        let (id, offset, range) = match decode(&body) {
            Ok(HostFrame::Output { id, offset, data }) => {
                let start = body.len() - data.len();
                (id.to_owned(), offset, start..body.len())
            }
            Ok(HostFrame::Control(json)) => {
                match serde_json::from_slice::<FromHost>(json) {
                    Ok(FromHost::Reply { req, result }) => {
                        if let Some(tx) = lock(&self.pending).remove(&req) {
                            let _ = tx.send(result);
                        }
                    }
                    Ok(FromHost::Exited { id, exit_code, end }) => {
                        if let Some(s) = mgr.get(&id) {
                            s.ingest(end, Bytes::new());
                            s.finish(exit_code);
                        }
                    }
                    Ok(FromHost::Trimmed { id, start }) => {
                        if let Some(s) = mgr.get(&id) {
                            s.trimmed(start);
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "bad message from the session host");
                        return false;
                    }
                }
                return true;
            }
            Ok(HostFrame::Input { .. }) | Err(_) => {
                tracing::error!("bad frame from the session host");
                return false;
            }
        };
        match mgr.get(&id) {
            Some(s) => s.ingest(offset, Bytes::from(body).slice(range)),
            None => tracing::debug!(session = %id, offset, "output for an unknown session"),
        }
        true
    }
}

/// Connects to the host socket; if nothing answers, starts a host and
/// waits for its socket.
async fn connect_or_start(root: &Path, mode: &HostMode) -> Result<UnixStream, SessionError> {
    let path = crate::layout::host_socket(root);
    if let Ok(s) = UnixStream::connect(&path).await {
        return Ok(s);
    }
    match mode {
        HostMode::InProcess => {
            let root = root.to_owned();
            tokio::spawn(async move {
                if let Err(e) = host::run(&root, false).await {
                    tracing::debug!(error = %e, "in-process session host");
                }
            });
        }
        HostMode::Spawn(exe) => {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(root.join(crate::layout::HOST_LOG))?;
            use std::os::unix::process::CommandExt;
            let mut child = std::process::Command::new(exe)
                .arg("session-host")
                .arg("--state-dir")
                .arg(root)
                // Its own process group: a Ctrl-C or a signal to the
                // gateway's group does not reach the sessions.
                .process_group(0)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| SessionError::Host(format!("cannot start {}: {e}", exe.display())))?;
            tracing::info!(pid = child.id(), "started the session host");
            // Reap it if it exits while this gateway runs.
            std::thread::spawn(move || child.wait());
        }
    }
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        match UnixStream::connect(&path).await {
            Ok(s) => return Ok(s),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(SessionError::Host(format!(
                    "the session host did not start ({e}); see {}",
                    root.join(crate::layout::HOST_LOG).display()
                )))
            }
            Err(_) => {}
        }
    }
}
