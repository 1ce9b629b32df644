//! One client connection: the Noise handshake, then a reader loop that
//! decodes requests and input, and a writer task that seals and sends.
//! The connection's shared state, which requests and streams use, is
//! [`super::peer::Conn`].

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket};
use dd_proto::message::{EndReason, Event};
use dd_proto::methods::{Hello, Welcome};
use dd_proto::noise::{Opener, Responder, Transport};
use dd_proto::{ErrorBody, ErrorCode, Message, MAX_NOISE_MESSAGE, PROTOCOL_VERSION};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::alive::{Clock, Heard, Tick};
use super::dispatch::{self, Handled};
use super::peer::{until_true, Conn};
use super::writer::{
    self, close, Out, Sink, WriterEnd, CLOSE_NORMAL, CLOSE_POLICY, CLOSE_PROTOCOL, CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED,
};
use super::Agent;
use crate::policy::{self, Ask};
use crate::util::{lock, now_secs};

/// How long a peer has to send its first handshake message.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages queued for the writer per connection.
const OUT_QUEUE: usize = 256;
type Source = SplitStream<WebSocket>;

/// Reads the next binary message, stamping `heard` for every frame (pings
/// and pongs included); `Err` carries the close code and reason.
async fn next_binary(source: &mut Source, heard: &Heard) -> Result<Option<Vec<u8>>, (u16, String)> {
    loop {
        let frame = source.next().await;
        heard.mark();
        match frame {
            None | Some(Ok(WsMessage::Close(_))) => return Ok(None),
            Some(Err(e)) => return Err((CLOSE_PROTOCOL, format!("bad_request: {e}"))),
            Some(Ok(WsMessage::Binary(b))) => {
                if b.len() > MAX_NOISE_MESSAGE {
                    return Err((
                        CLOSE_TOO_BIG,
                        format!(
                            "too_large: frame of {} bytes exceeds {MAX_NOISE_MESSAGE}",
                            b.len()
                        ),
                    ));
                }
                return Ok(Some(b.to_vec()));
            }
            Some(Ok(WsMessage::Text(_))) => {
                return Err((CLOSE_UNSUPPORTED, "bad_request: binary frames only".into()))
            }
            Some(Ok(_)) => continue, // ping/pong
        }
    }
}

/// Runs one WebSocket connection to its end.
pub(crate) async fn run(agent: Arc<Agent>, socket: WebSocket, peer: SocketAddr) {
    let (mut sink, mut source) = socket.split();
    let Some((transport, key)) = handshake(&agent, &mut sink, &mut source, peer).await else {
        return;
    };
    let (sealer, opener) = transport.split();
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    let too_slow = Arc::new(AtomicBool::new(false));
    let mut writer = tokio::spawn(writer::run(
        sink,
        sealer,
        out_rx,
        agent.bounds.slow_timeout,
        too_slow.clone(),
    ));
    let (id, revoked) = agent.live.add_conn(key);
    let conn = Arc::new(Conn::new(
        agent.clone(),
        key,
        peer,
        id,
        out_tx,
        too_slow,
        revoked.clone(),
    ));
    tracing::debug!(%peer, conn = id, "connected");
    let heard = Heard::new();
    let supersede = Arc::new(tokio::sync::Notify::new());
    agent.live.track(id, heard.clone(), supersede.clone());
    let alive = Alive { heard, supersede };
    let (end_reason, close_with, writer_done) =
        read_loop(&conn, &mut source, opener, &mut writer, revoked, alive).await;
    if end_reason == EndReason::TooSlow {
        conn.audit_too_slow();
    }
    finish(&conn, end_reason).await;
    if !writer_done {
        // Bounded waits: a peer that stopped reading must not keep us here.
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            conn.out.send(Out::Close(close_with.0, close_with.1)),
        )
        .await;
        drop(conn);
        let abort = writer.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), writer)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    agent.live.remove_conn(id);
    tracing::debug!(%peer, conn = id, "disconnected");
}

/// The Noise handshake: the first message (within [`HANDSHAKE_TIMEOUT`]),
/// the admission decision, the reply. `None` when the connection ended or
/// was refused (the close frame already sent).
async fn handshake(
    agent: &Agent,
    sink: &mut Sink,
    source: &mut Source,
    peer: SocketAddr,
) -> Option<(Transport, [u8; 32])> {
    // The handshake has its own deadline; liveness starts after it.
    let unused = Heard::new();
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, next_binary(source, &unused)).await {
        Err(_) => {
            close(
                sink,
                CLOSE_POLICY,
                "bad_request: handshake timed out".into(),
            )
            .await;
            return None;
        }
        Ok(Ok(Some(b))) => b,
        Ok(Ok(None)) => return None,
        Ok(Err((code, reason))) => {
            close(sink, code, reason).await;
            return None;
        }
    };
    let responder = match Responder::read_first(&agent.key, &first) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "handshake refused");
            close(
                sink,
                CLOSE_PROTOCOL,
                "bad_request: noise handshake failed".into(),
            )
            .await;
            return None;
        }
    };
    let key = responder.remote_key();
    let admitted = admit(agent, &key, responder.hello());
    let welcome = Welcome {
        version: PROTOCOL_VERSION,
        principal: admitted.as_ref().ok().map(|p| (*p).to_owned()),
        error: admitted.err(),
    };
    let (transport, reply) = match responder.finish(&welcome) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(%peer, error = %e, "handshake reply failed");
            close(sink, CLOSE_PROTOCOL, "internal: handshake failed".into()).await;
            return None;
        }
    };
    sink.send(WsMessage::Binary(reply.into())).await.ok()?;
    if let Some(err) = welcome.error {
        let code = if err.code == ErrorCode::UnsupportedVersion {
            CLOSE_PROTOCOL
        } else {
            CLOSE_POLICY
        };
        close(sink, code, format!("{}: {}", err.code, err.message)).await;
        return None;
    }
    Some((transport, key))
}

/// A connection's liveness: when it last heard its peer, and the signal
/// that a newer connection of the same key replaced it (see `alive`).
struct Alive {
    heard: Heard,
    supersede: Arc<tokio::sync::Notify>,
}

/// Reads and handles messages until the connection ends: returns why
/// (for its streams), the close frame to send, and whether the writer
/// already ended.
async fn read_loop(
    conn: &Arc<Conn>,
    source: &mut Source,
    mut opener: Opener,
    writer: &mut JoinHandle<WriterEnd>,
    mut revoked: watch::Receiver<bool>,
    alive: Alive,
) -> (EndReason, (u16, String), bool) {
    let mut shutdown = conn.agent.shutdown.clone();
    let mut writer_done = false;
    let Alive { heard, supersede } = alive;
    let mut clock = Clock::new(conn.agent.liveness.keepalive, heard.clone());
    let peer = conn.peer;
    let id = conn.id;
    let (end_reason, close_with) = loop {
        tokio::select! {
            biased;
            _ = until_true(&mut revoked) => {
                break (EndReason::Revoked, (CLOSE_POLICY, "revoked: access revoked".to_owned()));
            }
            _ = until_true(&mut shutdown) => {
                break (EndReason::Shutdown, (CLOSE_NORMAL, "agent shutting down".to_owned()));
            }
            _ = supersede.notified() => {
                tracing::info!(%peer, conn = id, "superseded by a new connection of the same key");
                break (EndReason::Detached, (CLOSE_POLICY, "superseded: the same key attached on a new connection".to_owned()));
            }
            tick = clock.next() => match tick {
                Tick::Ping => {
                    // A full queue means traffic flows anyway.
                    let _ = conn.out.try_send(Out::Ping);
                    continue;
                }
                Tick::Dead(silent) => {
                    tracing::info!(%peer, conn = id, silent_ms = silent.as_millis() as u64, "client silent past the keepalive timeout; closing");
                    break (EndReason::Detached, (CLOSE_POLICY, format!("timeout: nothing heard from the client for {}s", silent.as_secs())));
                }
            },
            end = &mut *writer => {
                writer_done = true;
                let end = end.unwrap_or(WriterEnd::Failed);
                let reason = if end == WriterEnd::TooSlow {
                    EndReason::TooSlow
                } else {
                    EndReason::Detached
                };
                break (reason, (CLOSE_NORMAL, String::new()));
            }
            frame = next_binary(source, &heard) => {
                let bytes = match frame {
                    Ok(Some(b)) => b,
                    Ok(None) => break (EndReason::Detached, (CLOSE_NORMAL, String::new())),
                    Err(c) => break (EndReason::Detached, c),
                };
                let msg = match opener.open(&bytes) {
                    Ok(Some(m)) => m,
                    Ok(None) => continue,
                    Err(e) => {
                        let code = if matches!(e, dd_proto::noise::NoiseError::Frame(dd_proto::frame::FrameError::MessageTooLarge { .. })) {
                            (CLOSE_TOO_BIG, format!("too_large: {e}"))
                        } else {
                            (CLOSE_PROTOCOL, format!("bad_request: {e}"))
                        };
                        break (EndReason::Detached, code);
                    }
                };
                if let Some(close) = on_message(conn, msg).await {
                    break (EndReason::Detached, close);
                }
            }
        }
    };
    (end_reason, close_with, writer_done)
}

/// Decides whether a handshaking key may connect: the principal's name for
/// the welcome, or the refusal.
fn admit(
    agent: &Agent,
    key: &[u8; 32],
    hello: Result<&Hello, dd_proto::noise::NoiseError>,
) -> Result<&'static str, ErrorBody> {
    let hello =
        hello.map_err(|_| ErrorBody::new(ErrorCode::BadRequest, "invalid hello payload"))?;
    if hello.version != PROTOCOL_VERSION {
        return Err(ErrorBody::new(
            ErrorCode::UnsupportedVersion,
            format!(
                "client speaks version {}, agent speaks {PROTOCOL_VERSION}",
                hello.version
            ),
        ));
    }
    let now = now_secs();
    let principal = policy::resolve(&agent.store, key, now)
        .map_err(|e| ErrorBody::new(ErrorCode::Internal, format!("store: {e}")))?;
    dispatch::gate(agent, &principal, &Ask::Connect, now)?;
    Ok(principal.kind())
}

/// Handles one decoded message; `Some` closes the connection.
async fn on_message(conn: &Arc<Conn>, msg: Message) -> Option<(u16, String)> {
    match msg {
        Message::Request { id, method, params } => {
            match dispatch::handle(conn, id, &method, params).await {
                Handled::Reply(result) => {
                    conn.send(Message::Response { id, result }).await;
                    None
                }
                Handled::Sent => None,
                Handled::ReplyThenClose(err) => {
                    let reason = format!("{}: {}", err.code, err.message);
                    conn.send(Message::Response {
                        id,
                        result: Err(err),
                    })
                    .await;
                    Some((CLOSE_POLICY, reason))
                }
            }
        }
        Message::Input { stream, data } => {
            if let Err(e) = dispatch::stream_input(conn, stream, &data).await {
                conn.send(Message::Event {
                    stream,
                    event: Event::Error { error: e },
                })
                .await;
            }
            None
        }
        other => Some((
            CLOSE_PROTOCOL,
            format!(
                "bad_request: clients may not send {} messages",
                kind_name(&other)
            ),
        )),
    }
}

fn kind_name(m: &Message) -> &'static str {
    match m {
        Message::Request { .. } => "request",
        Message::Response { .. } => "response",
        Message::Output { .. } => "output",
        Message::Input { .. } => "input",
        Message::Event { .. } => "event",
        Message::Snapshot { .. } => "snapshot",
    }
}

/// Ends every stream of the connection with `reason` and waits (briefly)
/// for their last messages to be queued.
async fn finish(conn: &Arc<Conn>, reason: EndReason) {
    let handles: Vec<(u64, JoinHandle<()>)> = lock(&conn.streams).drain().collect();
    for (stream, _) in &handles {
        conn.agent.live.stop_stream(conn.id, *stream, reason);
    }
    for (_, h) in handles {
        let abort = h.abort_handle();
        if tokio::time::timeout(Duration::from_millis(500), h)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}
