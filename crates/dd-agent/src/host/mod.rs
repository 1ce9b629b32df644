//! The session host: the process that owns every session's PTY and child
//! and appends their output to the transcripts, so sessions outlive the
//! network gateway.
//!
//! It listens on `<state>/host.sock` (mode 0600 in the 0700 state dir; the
//! peer's uid must be ours) and speaks the local protocol of
//! [`dd_proto::host`] with one gateway at a time: a new gateway connection
//! replaces the previous one. With no gateway connected it keeps reading
//! every PTY into the transcripts. `host.lock` (flock) keeps it single.
//!
//! It stops when told to (`Shutdown`, SIGTERM, SIGINT: ending every
//! session), when its socket file disappears (the state dir was removed:
//! ending every session), or after [`IDLE_EXIT`] with no running session and
//! no gateway.

mod conn;
mod session;

pub(crate) use conn::{read_frame, write_loop};

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dd_proto::host::encode_control;
use tokio::net::UnixListener;
use tokio::sync::{mpsc, watch};

use crate::layout;
use session::{lock, HostedSession};

/// With no running session and no gateway for this long, the host exits.
pub const IDLE_EXIT: Duration = Duration::from_secs(30);

/// How long a send to the gateway may wait before the gateway is taken for
/// dead and dropped (it re-syncs from the transcripts when it comes back).
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Frames queued for the gateway connection.
const OUT_QUEUE: usize = 1024;

/// Errors running the host.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// Another host holds the lock for this state dir.
    #[error("a session host is already running for this state dir")]
    AlreadyRunning,
    /// An I/O failure.
    #[error("session host I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The path of the host socket for a state dir.
pub fn socket_path(root: &Path) -> PathBuf {
    layout::host_socket(root)
}

/// The running host.
pub(crate) struct Host {
    root: PathBuf,
    sessions: Mutex<HashMap<String, Arc<HostedSession>>>,
    /// The current gateway connection's queue and generation.
    out: Mutex<Option<(u64, mpsc::Sender<Vec<u8>>)>>,
    gen: AtomicU64,
    /// The current gateway generation, so a replaced connection stops.
    gen_watch: watch::Sender<u64>,
    cap: AtomicU64,
    stop: watch::Sender<bool>,
    /// Set once every session has ended on the way out.
    done: watch::Sender<bool>,
}

impl Host {
    pub(crate) fn cap(&self) -> u64 {
        self.cap.load(Ordering::Relaxed)
    }

    /// Sends a frame to the current gateway, if any. A gateway that does
    /// not take it within [`SEND_TIMEOUT`] is dropped.
    pub(crate) async fn send(&self, frame: Vec<u8>) {
        let Some((gen, tx)) = lock(&self.out).clone() else {
            return;
        };
        match tx.send_timeout(frame, SEND_TIMEOUT).await {
            Ok(()) => {}
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                tracing::warn!("gateway is not reading; dropping its connection");
                self.drop_gateway(gen);
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => self.drop_gateway(gen),
        }
    }

    pub(crate) async fn send_control<T: serde::Serialize>(&self, msg: &T) {
        self.send(encode_control(msg)).await;
    }

    /// Forgets gateway connection `gen` (if still current); sessions stop
    /// being followed until the next gateway asks.
    pub(crate) fn drop_gateway(&self, gen: u64) {
        let mut out = lock(&self.out);
        if out.as_ref().is_some_and(|(g, _)| *g == gen) {
            *out = None;
            for s in lock(&self.sessions).values() {
                lock(&s.progress).followed = false;
            }
        }
    }

    /// Makes `tx` the gateway connection; returns its generation.
    pub(crate) fn set_gateway(&self, tx: mpsc::Sender<Vec<u8>>) -> u64 {
        let gen = self.gen.fetch_add(1, Ordering::Relaxed) + 1;
        let mut out = lock(&self.out);
        for s in lock(&self.sessions).values() {
            lock(&s.progress).followed = false;
        }
        *out = Some((gen, tx));
        self.gen_watch.send_replace(gen);
        gen
    }

    pub(crate) fn is_current(&self, gen: u64) -> bool {
        lock(&self.out).as_ref().is_some_and(|(g, _)| *g == gen)
    }

    fn has_gateway(&self) -> bool {
        lock(&self.out).is_some()
    }

    fn any_running(&self) -> bool {
        lock(&self.sessions).values().any(|s| s.is_running())
    }

    /// Ends every running session: SIGHUP, then SIGKILL a second later.
    async fn end_all(&self) {
        let running: Vec<_> = lock(&self.sessions)
            .values()
            .filter(|s| s.is_running())
            .cloned()
            .collect();
        for signal in [rustix::process::Signal::HUP, rustix::process::Signal::KILL] {
            for s in &running {
                s.signal(signal);
            }
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline && running.iter().any(|s| s.is_running()) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// Runs a session host for the state dir `root` until it stops. With
/// `handle_signals`, SIGTERM and SIGINT stop it too (the `session-host`
/// process); an in-process host leaves the process's signals alone.
pub async fn run(root: &Path, handle_signals: bool) -> Result<(), HostError> {
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(layout::HOST_LOCK))?;
    if rustix::fs::flock(
        &lock_file,
        rustix::fs::FlockOperation::NonBlockingLockExclusive,
    )
    .is_err()
    {
        return Err(HostError::AlreadyRunning);
    }
    let path = socket_path(root);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let inode = std::fs::metadata(&path)?.ino();
    let (stop, mut stopped) = watch::channel(false);
    let host = Arc::new(Host {
        root: root.to_owned(),
        sessions: Mutex::new(HashMap::new()),
        out: Mutex::new(None),
        gen: AtomicU64::new(0),
        gen_watch: watch::Sender::new(0),
        cap: AtomicU64::new(0),
        stop,
        done: watch::Sender::new(false),
    });
    tracing::info!(socket = %path.display(), pid = std::process::id(), "session host ready");
    let watchdog = tokio::spawn(watchdog(
        Arc::clone(&host),
        path.clone(),
        inode,
        handle_signals,
    ));
    let uid = rustix::process::getuid().as_raw();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                match stream.peer_cred() {
                    Ok(c) if c.uid() == uid => {}
                    _ => {
                        tracing::warn!("refused a host connection from another user");
                        continue;
                    }
                }
                tokio::spawn(conn::serve(Arc::clone(&host), stream));
            }
            _ = async { let _ = stopped.wait_for(|s| *s).await; } => break,
        }
    }
    watchdog.abort();
    host.end_all().await;
    host.done.send_replace(true);
    // Leave the socket if a newer host already replaced it.
    if std::fs::metadata(&path).is_ok_and(|m| m.ino() == inode) {
        let _ = std::fs::remove_file(&path);
    }
    drop(lock_file);
    tracing::info!("session host stopped");
    Ok(())
}

/// Stops the host when its socket disappears, when it is idle, or on
/// SIGTERM/SIGINT.
async fn watchdog(host: Arc<Host>, path: PathBuf, inode: u64, handle_signals: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = handle_signals
        .then(|| signal(SignalKind::terminate()).ok())
        .flatten();
    let mut int = handle_signals
        .then(|| signal(SignalKind::interrupt()).ok())
        .flatten();
    let mut idle_since = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => break,
            _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => break,
        }
        if !std::fs::metadata(&path).is_ok_and(|m| m.ino() == inode) {
            tracing::warn!("host socket is gone; ending sessions");
            break;
        }
        if host.has_gateway() || host.any_running() {
            idle_since = None;
        } else if idle_since.get_or_insert_with(Instant::now).elapsed() >= IDLE_EXIT {
            tracing::info!("idle: no sessions and no gateway");
            break;
        }
    }
    let _ = host.stop.send(true);
}

/// Asks the host of `root` to end every session and stop. False if no
/// host answers.
pub async fn stop(root: &Path) -> Result<bool, HostError> {
    use dd_proto::host::ToHost;
    use tokio::io::AsyncWriteExt;
    let Ok(mut s) = tokio::net::UnixStream::connect(socket_path(root)).await else {
        return Ok(false);
    };
    // Shutdown as the first message: an admin request that does not take
    // the host from the running gateway.
    s.write_all(&encode_control(&ToHost::Shutdown { req: 1 }))
        .await?;
    // The host closes the socket once it has ended the sessions.
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(15),
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut sink),
    )
    .await;
    Ok(true)
}
