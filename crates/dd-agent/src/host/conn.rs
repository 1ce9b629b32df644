//! One gateway connection to the session host.

use std::sync::Arc;

use dd_proto::host::{
    body_len, decode, encode_control, encode_output, FromHost, HostErrorKind, HostFrame,
    HostSignal, Reply, ToHost, HOST_PROTOCOL_VERSION,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::session::{lock, HostedSession, SpawnError, Spec};
use super::{Host, OUT_QUEUE};
use crate::util::is_valid_id;

/// Reads one frame body. None on EOF or a bad frame.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(rd: &mut R) -> Option<Vec<u8>> {
    let mut prefix = [0u8; 4];
    rd.read_exact(&mut prefix).await.ok()?;
    let len = match body_len(prefix) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "bad frame on the host socket");
            return None;
        }
    };
    let mut body = vec![0u8; len];
    rd.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// Serves one gateway connection until it closes or a newer one replaces it.
pub(super) async fn serve(host: Arc<Host>, stream: UnixStream) {
    let (rd, wr) = stream.into_split();
    // Buffered: a small frame (a keystroke) is one read, not two.
    let mut rd = tokio::io::BufReader::with_capacity(16 * 1024, rd);
    let Some(first) = read_frame(&mut rd).await else {
        return;
    };
    let hello = match decode(&first) {
        Ok(HostFrame::Control(json)) => serde_json::from_slice::<ToHost>(json).ok(),
        _ => None,
    };
    let (req, version, transcript_cap) = match hello {
        Some(ToHost::Hello {
            req,
            version,
            transcript_cap,
        }) => (req, version, transcript_cap),
        Some(ToHost::Shutdown { req }) => {
            // `dd-agent stop-sessions`: no gateway needed (and none is
            // displaced). The socket stays open until every session has
            // ended, so the caller can wait for that.
            let mut wr = wr;
            let _ = wr.write_all(&reply(req, Reply::Ok)).await;
            let mut done = host.done.subscribe();
            let _ = host.stop.send(true);
            let _ = done.wait_for(|d| *d).await;
            return;
        }
        _ => {
            tracing::warn!("host connection did not start with hello or shutdown");
            return;
        }
    };
    let (tx, rx) = mpsc::channel(OUT_QUEUE);
    let writer = tokio::spawn(write_loop(wr, rx));
    if version != HOST_PROTOCOL_VERSION {
        let _ = tx
            .send(reply(
                req,
                error(
                    HostErrorKind::Version,
                    format!(
                        "the session host speaks version {HOST_PROTOCOL_VERSION}, not {version}"
                    ),
                ),
            ))
            .await;
        drop(tx);
        let _ = writer.await;
        return;
    }
    host.cap
        .store(transcript_cap, std::sync::atomic::Ordering::Relaxed);
    let gen = host.set_gateway(tx.clone());
    tracing::info!(gen, "gateway connected");
    let _ = tx
        .send(reply(
            req,
            Reply::Hello {
                version: HOST_PROTOCOL_VERSION,
                pid: std::process::id(),
            },
        ))
        .await;
    let mut replaced = host.gen_watch.subscribe();
    loop {
        let body = tokio::select! {
            b = read_frame(&mut rd) => b,
            _ = async { let _ = replaced.wait_for(|g| *g != gen).await; } => None,
        };
        let Some(body) = body else { break };
        if !host.is_current(gen) {
            break;
        }
        match decode(&body) {
            Ok(HostFrame::Control(json)) => match serde_json::from_slice::<ToHost>(json) {
                Ok(msg) => {
                    let stop = matches!(msg, ToHost::Shutdown { .. });
                    let out = handle(&host, msg);
                    for frame in out {
                        if tx.send(frame).await.is_err() {
                            break;
                        }
                    }
                    if stop {
                        let _ = host.stop.send(true);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "bad control message on the host socket");
                    break;
                }
            },
            Ok(HostFrame::Input { id, data }) => {
                let session = lock(&host.sessions).get(id).cloned();
                match session {
                    Some(s) if s.write_input(data) => {}
                    Some(_) => tracing::warn!(session = %id, "input refused: too much pending"),
                    None => tracing::debug!(session = %id, "input for an unknown session"),
                }
            }
            Ok(HostFrame::Output { .. }) | Err(_) => {
                tracing::warn!("unexpected frame from the gateway");
                break;
            }
        }
    }
    host.drop_gateway(gen);
    drop(tx);
    let _ = writer.await;
    tracing::info!(gen, "gateway disconnected");
}

/// Writes queued frames to one side of the host socket, flushing once the
/// queue is empty (both the host and the gateway use it). Ends when the
/// queue closes or a write fails.
pub(crate) async fn write_loop(
    wr: tokio::net::unix::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let mut wr = BufWriter::with_capacity(256 * 1024, wr);
    while let Some(frame) = rx.recv().await {
        if wr.write_all(&frame).await.is_err() {
            return;
        }
        while let Ok(frame) = rx.try_recv() {
            if wr.write_all(&frame).await.is_err() {
                return;
            }
        }
        if wr.flush().await.is_err() {
            return;
        }
    }
}

fn reply(req: u64, result: Reply) -> Vec<u8> {
    encode_control(&FromHost::Reply { req, result })
}

fn error(kind: HostErrorKind, message: impl Into<String>) -> Reply {
    Reply::Error {
        kind,
        message: message.into(),
    }
}

/// Handles one control request; returns the frames to send back, in order.
fn handle(host: &Arc<Host>, msg: ToHost) -> Vec<Vec<u8>> {
    let req = msg.req();
    let get = |id: &str| lock(&host.sessions).get(id).cloned();
    let not_found = || error(HostErrorKind::NotFound, "no such session");
    let result = match msg {
        ToHost::Hello { .. } => error(HostErrorKind::BadRequest, "already said hello"),
        ToHost::Create {
            id,
            command,
            cwd,
            env,
            rows,
            cols,
            ..
        } => {
            let dir = crate::layout::session_dir(&host.root, &id);
            if !is_valid_id(&id, "s") || !dir.is_dir() || command.is_empty() {
                error(HostErrorKind::BadRequest, "invalid session id or command")
            } else if get(&id).is_some() {
                error(HostErrorKind::BadRequest, "session exists")
            } else {
                let spec = Spec {
                    id: &id,
                    command: &command,
                    cwd: &cwd,
                    env: &env,
                    rows,
                    cols,
                };
                match HostedSession::spawn(host, &dir, &spec) {
                    Ok(s) => {
                        let pid = s.pid();
                        lock(&host.sessions).insert(id, s);
                        Reply::Created { pid }
                    }
                    Err(SpawnError::Io(e)) => error(HostErrorKind::Io, e.to_string()),
                    Err(SpawnError::Spawn(m)) => error(HostErrorKind::Spawn, m),
                }
            }
        }
        ToHost::List { .. } => Reply::Sessions {
            sessions: lock(&host.sessions)
                .values()
                .map(|s| s.describe())
                .collect(),
        },
        ToHost::Follow { id, .. } => match get(&id) {
            Some(s) => {
                let end = {
                    let mut p = lock(&s.progress);
                    p.followed = true;
                    p.end
                };
                // The end marker first: the gateway reads what it missed
                // from the transcript up to here.
                return vec![encode_output(&id, end, &[]), reply(req, Reply::Ok)];
            }
            None => not_found(),
        },
        ToHost::Resize { id, rows, cols, .. } => match get(&id) {
            Some(s) if !s.is_running() => error(HostErrorKind::Ended, "the session has ended"),
            Some(s) => match s.resize(rows, cols) {
                Ok(()) => Reply::Ok,
                Err(e) => error(HostErrorKind::Io, e.to_string()),
            },
            None => not_found(),
        },
        ToHost::Signal { id, signal, .. } => match get(&id) {
            Some(s) => {
                s.signal(match signal {
                    HostSignal::Hup => rustix::process::Signal::HUP,
                    HostSignal::Term => rustix::process::Signal::TERM,
                    HostSignal::Kill => rustix::process::Signal::KILL,
                });
                Reply::Ok
            }
            None => not_found(),
        },
        ToHost::Shutdown { .. } => Reply::Ok,
    };
    vec![reply(req, result)]
}
