//! One session inside the session host: its child on a PTY, the reader that
//! appends output to the transcript and forwards it to the gateway, the
//! writer that feeds input, the fsync schedule and the size cap.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use dd_proto::host::{encode_output, FromHost, HostSession};
use futures_util::FutureExt;
use pty_process::{OwnedReadPty, OwnedWritePty};
use rustix::process::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Child;
use tokio::sync::mpsc;

use super::Host;
use crate::layout::{tmp_of, START_FILE, TRANSCRIPT_FILE};

/// PTY read buffer size.
const READ_BUF: usize = 64 * 1024;

/// After the child exits, how long output still in the PTY (or written by
/// leftover processes holding it open) is read before the session ends.
const DRAIN: Duration = Duration::from_millis(500);

/// Transcripts are fsynced at most this long after bytes were appended.
pub(crate) const FSYNC_EVERY: Duration = Duration::from_secs(1);

/// Input queued for a PTY that is not reading it, per session, before more
/// is refused.
const MAX_PENDING_INPUT: usize = 8 * 1024 * 1024;

/// What to run.
pub(crate) struct Spec<'a> {
    pub(crate) id: &'a str,
    pub(crate) command: &'a [String],
    pub(crate) cwd: &'a str,
    pub(crate) env: &'a BTreeMap<String, String>,
    pub(crate) rows: u16,
    pub(crate) cols: u16,
}

/// Where a session's output stands.
pub(crate) struct Progress {
    pub(crate) end: u64,
    pub(crate) start: u64,
    pub(crate) running: bool,
    pub(crate) exit_code: Option<i32>,
    /// Output goes to the gateway connection (it asked to follow).
    pub(crate) followed: bool,
}

/// A session the host owns.
pub(crate) struct HostedSession {
    pub(crate) id: String,
    dir: PathBuf,
    pgid: Pid,
    master: OwnedFd,
    input: mpsc::UnboundedSender<Vec<u8>>,
    pending_input: Arc<AtomicUsize>,
    pub(crate) progress: Mutex<Progress>,
    transcript: Arc<File>,
    dirty: AtomicBool,
}

pub(crate) use crate::util::lock;

/// Why a spawn failed.
pub(crate) enum SpawnError {
    Io(std::io::Error),
    Spawn(String),
}

fn pty_io(e: pty_process::Error) -> std::io::Error {
    match e {
        pty_process::Error::Io(e) => e,
        pty_process::Error::Rustix(e) => e.into(),
        other => std::io::Error::other(other.to_string()),
    }
}

impl HostedSession {
    /// Opens the transcript the gateway created in `dir`, starts the
    /// command on a fresh PTY as a session leader, and starts its tasks.
    pub(crate) fn spawn(
        host: &Arc<Host>,
        dir: &Path,
        spec: &Spec<'_>,
    ) -> Result<Arc<HostedSession>, SpawnError> {
        let transcript = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join(TRANSCRIPT_FILE))
            .map_err(SpawnError::Io)?;
        let end = transcript.metadata().map_err(SpawnError::Io)?.len();
        let (pty, pts) = pty_process::open().map_err(|e| SpawnError::Io(pty_io(e)))?;
        pty.resize(pty_process::Size::new(spec.rows, spec.cols))
            .map_err(|e| SpawnError::Io(pty_io(e)))?;
        let master = pty.as_fd().try_clone_to_owned().map_err(SpawnError::Io)?;
        let program = &spec.command[0];
        let child = pty_process::Command::new(program)
            .args(&spec.command[1..])
            .current_dir(spec.cwd)
            .env("TERM", "xterm-256color")
            .envs(spec.env)
            .env("DD_SESSION_ID", spec.id)
            .spawn(pts)
            .map_err(|e| SpawnError::Spawn(format!("cannot start {program}: {}", pty_io(e))))?;
        let pgid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .and_then(Pid::from_raw)
            .ok_or_else(|| SpawnError::Io(std::io::Error::other("spawned child has no pid")))?;
        let (input, rx) = mpsc::unbounded_channel();
        let session = Arc::new(HostedSession {
            id: spec.id.to_owned(),
            dir: dir.to_owned(),
            pgid,
            master,
            input,
            pending_input: Arc::new(AtomicUsize::new(0)),
            progress: Mutex::new(Progress {
                end,
                start: 0,
                running: true,
                exit_code: None,
                followed: true,
            }),
            transcript: Arc::new(transcript),
            dirty: AtomicBool::new(false),
        });
        let (read, write) = pty.into_split();
        let writer = tokio::spawn(write_loop(write, rx, Arc::clone(&session.pending_input)));
        let syncer = tokio::spawn(sync_loop(Arc::downgrade(&session)));
        let (h, s) = (Arc::clone(host), Arc::clone(&session));
        tokio::spawn(async move {
            let exit_code = read_loop(&h, &s, child, read).await;
            writer.abort();
            syncer.abort();
            s.sync();
            let end = {
                let mut p = lock(&s.progress);
                p.running = false;
                p.exit_code = exit_code;
                p.end
            };
            h.send_control(&FromHost::Exited {
                id: s.id.clone(),
                exit_code,
                end,
            })
            .await;
            tracing::info!(session = %s.id, ?exit_code, "session ended");
        });
        Ok(session)
    }

    /// The session's state for a `List` reply.
    pub(crate) fn describe(&self) -> HostSession {
        let p = lock(&self.progress);
        HostSession {
            id: self.id.clone(),
            running: p.running,
            exit_code: p.exit_code,
            end: p.end,
            start: p.start,
        }
    }

    /// The session leader's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pgid.as_raw_nonzero().get() as u32
    }

    pub(crate) fn is_running(&self) -> bool {
        lock(&self.progress).running
    }

    /// Queues input for the PTY; refused (false) when too much is pending.
    pub(crate) fn write_input(&self, data: &[u8]) -> bool {
        let pending = self.pending_input.load(Ordering::Relaxed);
        if pending + data.len() > MAX_PENDING_INPUT {
            return false;
        }
        self.pending_input.fetch_add(data.len(), Ordering::Relaxed);
        self.input.send(data.to_vec()).is_ok()
    }

    pub(crate) fn resize(&self, rows: u16, cols: u16) -> std::io::Result<()> {
        rustix::termios::tcsetwinsize(&self.master, pty_process::Size::new(rows, cols).into())
            .map_err(std::io::Error::from)
    }

    pub(crate) fn signal(&self, signal: rustix::process::Signal) {
        // ESRCH (already gone) is fine: the reader is finishing up.
        let _ = rustix::process::kill_process_group(self.pgid, signal);
    }

    /// fsyncs the transcript if bytes were appended since the last sync.
    fn sync(&self) {
        if self.dirty.swap(false, Ordering::AcqRel) {
            if let Err(e) = self.transcript.sync_data() {
                tracing::warn!(session = %self.id, error = %e, "transcript fsync failed");
            }
        }
    }

    /// Drops the oldest bytes beyond `cap` (punching a hole keeps every
    /// later offset where it was), records the new start and tells the
    /// gateway. Returns the new start when it moved.
    fn trim(&self, cap: u64) -> Option<u64> {
        let (start, end) = {
            let p = lock(&self.progress);
            (p.start, p.end)
        };
        // Trim in steps of an eighth of the cap (at least 64 KiB), on
        // 4 KiB boundaries, so a hole is punched rarely.
        let slack = (cap / 8).max(64 * 1024);
        if cap == 0 || end.saturating_sub(start) <= cap + slack {
            return None;
        }
        let new_start = (end - cap) & !4095;
        if new_start <= start {
            return None;
        }
        use rustix::fs::FallocateFlags;
        if let Err(e) = rustix::fs::fallocate(
            &*self.transcript,
            FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
            start,
            new_start - start,
        ) {
            tracing::warn!(session = %self.id, error = %e, "cannot drop old transcript bytes");
            return None;
        }
        if let Err(e) = write_start(&self.dir, new_start) {
            tracing::warn!(session = %self.id, error = %e, "cannot record transcript start");
        }
        lock(&self.progress).start = new_start;
        Some(new_start)
    }
}

fn write_start(dir: &Path, start: u64) -> std::io::Result<()> {
    let tmp = tmp_of(dir, START_FILE);
    let mut f = File::create(&tmp)?;
    writeln!(f, "{start}")?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(START_FILE))
}

async fn write_loop(
    mut pty: OwnedWritePty,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    pending: Arc<AtomicUsize>,
) {
    while let Some(data) = rx.recv().await {
        let n = data.len();
        let ok = pty.write_all(&data).await.is_ok();
        pending.fetch_sub(n, Ordering::Relaxed);
        if !ok {
            break;
        }
    }
}

async fn sync_loop(session: std::sync::Weak<HostedSession>) {
    let mut tick = tokio::time::interval(FSYNC_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(s) = session.upgrade() else { return };
        if s.dirty.load(Ordering::Acquire) {
            let _ = tokio::task::spawn_blocking(move || s.sync()).await;
        }
    }
}

/// Reads the PTY until it closes (or the drain after the child's exit runs
/// out), appending each read to the transcript before forwarding it.
/// Returns the child's exit code.
async fn read_loop(
    host: &Host,
    session: &HostedSession,
    mut child: Child,
    mut read: OwnedReadPty,
) -> Option<i32> {
    let mut buf = BytesMut::with_capacity(READ_BUF);
    let mut status = None;
    let mut deadline = None;
    let mut write_failed = false;
    loop {
        buf.reserve(READ_BUF);
        let result = match deadline {
            None => tokio::select! {
                r = read.read_buf(&mut buf) => r,
                st = child.wait() => {
                    status = Some(st);
                    deadline = Some(tokio::time::Instant::now() + DRAIN);
                    continue;
                }
            },
            Some(at) => match tokio::time::timeout_at(at, read.read_buf(&mut buf)).await {
                Ok(r) => r,
                Err(_) => break,
            },
        };
        match result {
            // EOF, or EIO: every slave handle is closed.
            Ok(0) | Err(_) => break,
            Ok(_) => {
                // Take what else is readable right now (a PTY read returns
                // at most 4 KiB): under a flood the transcript append, the
                // frame and every client's message then carry up to 64 KiB
                // instead of 4 KiB; a keystroke's echo costs nothing more
                // (the read that finds nothing is the one that re-arms
                // readiness anyway).
                let mut ended = false;
                while buf.len() < READ_BUF {
                    match read.read_buf(&mut buf).now_or_never() {
                        Some(Ok(0)) | Some(Err(_)) => {
                            ended = true;
                            break;
                        }
                        Some(Ok(_)) => {}
                        None => break,
                    }
                }
                let data = buf.split().freeze();
                // The file gets the bytes before anyone learns they exist.
                if let Err(e) = (&*session.transcript).write_all(&data) {
                    if !write_failed {
                        tracing::error!(session = %session.id, error = %e,
                            "cannot append to transcript");
                        write_failed = true;
                    }
                }
                session.dirty.store(true, Ordering::Release);
                let frame = {
                    let mut p = lock(&session.progress);
                    let offset = p.end;
                    p.end += data.len() as u64;
                    p.followed
                        .then(|| encode_output(&session.id, offset, &data))
                };
                if let Some(frame) = frame {
                    host.send(frame).await;
                }
                if let Some(start) = session.trim(host.cap()) {
                    host.send_control(&FromHost::Trimmed {
                        id: session.id.clone(),
                        start,
                    })
                    .await;
                }
                if ended {
                    break;
                }
            }
        }
    }
    drop(read);
    let status = match status {
        Some(st) => st,
        None => child.wait().await,
    };
    status.ok().and_then(|s| s.code())
}
