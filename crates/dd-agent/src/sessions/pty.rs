//! The PTY side of a session: spawning the child, the reader task that
//! appends output to the transcript and publishes it, and the writer task
//! that feeds input.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use pty_process::{OwnedReadPty, OwnedWritePty, Pty};
use rustix::process::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Child;
use tokio::sync::mpsc;

use super::error::pty_io;
use super::session::{lock, Control, Session};
use super::SessionError;

/// PTY read buffer size.
const READ_BUF: usize = 64 * 1024;

/// Queued input writes per session before `write_input` waits.
const INPUT_QUEUE: usize = 64;

/// After the child exits, how long output still in the PTY (or written by
/// leftover processes holding it open) is read before the session ends.
const DRAIN: Duration = Duration::from_millis(500);

/// What to run.
pub(crate) struct Spec<'a> {
    pub(crate) id: &'a str,
    pub(crate) command: &'a [String],
    pub(crate) cwd: &'a str,
    pub(crate) env: &'a BTreeMap<String, String>,
    pub(crate) rows: u16,
    pub(crate) cols: u16,
}

/// A spawned child on its PTY, not yet serviced.
pub(crate) struct Spawned {
    child: Child,
    pty: Pty,
    pub(crate) control: Control,
    rx: mpsc::Receiver<Vec<u8>>,
}

/// Opens a PTY and starts the command on it as a session leader (its own
/// process group). The agent keeps no handle on the PTY's slave side, so
/// the master reads EOF once the session's processes have closed it.
pub(crate) fn spawn(spec: &Spec<'_>) -> Result<Spawned, SessionError> {
    let (pty, pts) = pty_process::open().map_err(pty_io)?;
    pty.resize(pty_process::Size::new(spec.rows, spec.cols))
        .map_err(pty_io)?;
    let master = pty.as_fd().try_clone_to_owned()?;
    let program = &spec.command[0];
    let child = pty_process::Command::new(program)
        .args(&spec.command[1..])
        .current_dir(spec.cwd)
        .env("TERM", "xterm-256color")
        .envs(spec.env)
        .env("DD_SESSION_ID", spec.id)
        .spawn(pts)
        .map_err(|e| SessionError::Spawn {
            program: program.clone(),
            source: pty_io(e),
        })?;
    let pid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other("spawned child has no pid"))?;
    let (input, rx) = mpsc::channel(INPUT_QUEUE);
    Ok(Spawned {
        child,
        pty,
        control: Control {
            input,
            master,
            pgid: pid,
        },
        rx,
    })
}

/// Starts the reader and writer tasks. `transcript` is the session's
/// transcript opened for appending.
pub(crate) fn start(session: Arc<Session>, spawned: Spawned, transcript: File) {
    let Spawned {
        child,
        pty,
        control,
        rx,
    } = spawned;
    *lock(&session.control) = Some(control);
    let (read, write) = pty.into_split();
    let writer = tokio::spawn(write_loop(write, rx));
    tokio::spawn(async move {
        let exit_code = read_loop(&session, child, read, transcript).await;
        writer.abort();
        session.finish(exit_code);
    });
}

async fn write_loop(mut pty: OwnedWritePty, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(data) = rx.recv().await {
        if pty.write_all(&data).await.is_err() {
            break;
        }
    }
}

/// Reads the PTY until it closes (or the drain after the child's exit runs
/// out), appending each read to the transcript and publishing it, and
/// tells the session when output has gone quiet (input-needed detection).
/// Never waits for a subscriber. Returns the child's exit code.
async fn read_loop(
    session: &Session,
    mut child: Child,
    mut read: OwnedReadPty,
    mut transcript: File,
) -> Option<i32> {
    let mut buf = BytesMut::with_capacity(READ_BUF);
    let mut status = None;
    let mut deadline = None;
    let mut write_failed = false;
    loop {
        buf.reserve(READ_BUF);
        let quiet_at = session.quiet_deadline();
        let result = match deadline {
            None => tokio::select! {
                r = read.read_buf(&mut buf) => r,
                st = child.wait() => {
                    status = Some(st);
                    deadline = Some(tokio::time::Instant::now() + DRAIN);
                    continue;
                }
                _ = tokio::time::sleep_until(quiet_at.unwrap_or_else(tokio::time::Instant::now)),
                    if quiet_at.is_some() => {
                    session.quiet_tick();
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
                let data = buf.split().freeze();
                // The file gets the bytes before anyone learns they exist.
                if let Err(e) = transcript.write_all(&data) {
                    if !write_failed {
                        tracing::error!(session = %session.id(), error = %e,
                            "cannot append to transcript");
                        write_failed = true;
                    }
                }
                session.publish(data);
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
