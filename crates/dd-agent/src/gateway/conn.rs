//! One client connection: the Noise handshake, then a reader loop that
//! decodes requests and input, and a writer task that seals and sends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket};
use bytes::Bytes;
use dd_proto::message::{EndReason, Event};
use dd_proto::methods::{Hello, Welcome};
use dd_proto::noise::Responder;
use dd_proto::{ErrorBody, ErrorCode, Message, MAX_NOISE_MESSAGE, PROTOCOL_VERSION};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::bounds::MAX_QUEUED_BYTES;
use super::dispatch::{self, Handled};
use super::writer::{
    self, close, Out, WriterEnd, CLOSE_NORMAL, CLOSE_POLICY, CLOSE_PROTOCOL, CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED,
};
use super::Agent;
use crate::policy::{self, Principal};
use crate::util::now_secs;

/// How long a peer has to send its first handshake message.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages queued for the writer per connection.
const OUT_QUEUE: usize = 256;
type Source = SplitStream<WebSocket>;

/// A connection after its handshake.
pub(crate) struct Conn {
    pub(crate) agent: Arc<Agent>,
    pub(crate) key: [u8; 32],
    pub(crate) peer: SocketAddr,
    pub(crate) id: u64,
    pub(crate) out: mpsc::Sender<Out>,
    /// Bytes the writer queue may hold ([`MAX_QUEUED_BYTES`]).
    budget: Arc<Semaphore>,
    /// The last principal resolved, with the store generation and second
    /// it was resolved at (see [`Conn::principal`]).
    principal_cache: Mutex<Option<(u64, i64, Principal)>>,
    /// Set by the writer when it gave up on a peer that does not read.
    too_slow: Arc<std::sync::atomic::AtomicBool>,
    /// True once access was revoked: queued sends give up instead of
    /// waiting on a peer that does not read.
    pub(crate) revoked: tokio::sync::watch::Receiver<bool>,
    pub(crate) streams: Mutex<HashMap<u64, JoinHandle<()>>>,
    /// The session of the most recent stream opened on this connection:
    /// a `too_slow` record names it even when the streams ended first.
    pub(crate) last_session: Mutex<Option<String>>,
    /// When "last seen" was last written for this connection's principal.
    pub(crate) last_touch: std::sync::atomic::AtomicI64,
}

/// "Last seen" is written at most this often per connection (seconds): each
/// write is a durable SQLite commit, too dear for every keystroke request.
const TOUCH_EVERY_SECS: i64 = 30;

impl Conn {
    /// True (and records `now`) when "last seen" should be written again.
    pub(crate) fn due_for_touch(&self, now: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.last_touch.load(Ordering::Relaxed);
        now - last >= TOUCH_EVERY_SECS
            && self
                .last_touch
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Queues a message; false when the connection is gone, or revoked
    /// while the queue is full (a peer that stopped reading cannot hold a
    /// revoked connection open).
    pub(crate) async fn send(&self, m: Message) -> bool {
        let cost = writer::cost(&m);
        self.queue(cost, |permit| Out::Msg(m, permit)).await
    }

    /// Queues stream output (sealed from the shared bytes, no copy); as
    /// [`Conn::send`].
    pub(crate) async fn send_output(&self, stream: u64, offset: u64, data: Bytes) -> bool {
        let cost = writer::output_cost(data.len());
        self.queue(cost, |permit| Out::Output {
            stream,
            offset,
            data,
            permit,
        })
        .await
    }

    async fn queue(&self, cost: u32, out: impl FnOnce(OwnedSemaphorePermit) -> Out) -> bool {
        let mut revoked = self.revoked.clone();
        let queue = async {
            let permit = self.budget.clone().acquire_many_owned(cost).await.ok()?;
            self.out.send(out(permit)).await.ok()
        };
        tokio::select! {
            biased;
            r = queue => r.is_some(),
            _ = until_true(&mut revoked) => false,
        }
    }

    /// Waits until at most `limit` bytes wait in this connection's queue to
    /// the writer (polled: a live-mode stream calls it before each item,
    /// so it pulls output only as fast as the link drains).
    pub(crate) async fn drained(&self, limit: usize) {
        let want = super::bounds::MAX_QUEUED_BYTES.saturating_sub(limit);
        while self.budget.available_permits() < want {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Why a stream of this connection can no longer send: `too_slow` if
    /// the writer gave up on the peer, else `detached`.
    pub(crate) fn lost_reason(&self) -> EndReason {
        if self.too_slow.load(std::sync::atomic::Ordering::SeqCst) {
            EndReason::TooSlow
        } else {
            EndReason::Detached
        }
    }

    /// Who the peer is now (re-read on every request: revocation and expiry
    /// take effect at once).
    ///
    /// The answer is reused while the store has made no write and the
    /// second has not changed (a keystroke then costs no database read);
    /// any enrollment, redemption or revocation made through this agent
    /// invalidates it at once, and a write by another process within a
    /// second.
    pub(crate) fn principal(&self) -> Result<Principal, ErrorBody> {
        let store = &self.agent.store;
        let (gen, now) = (store.generation(), now_secs());
        let mut cache = self
            .principal_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((g, t, p)) = cache.as_ref() {
            if (*g, *t) == (gen, now) {
                return Ok(p.clone());
            }
        }
        let p = policy::resolve(store, &self.key, now)
            .map_err(|e| ErrorBody::new(ErrorCode::Internal, format!("store: {e}")))?;
        *cache = Some((gen, now, p.clone()));
        Ok(p)
    }
}

/// Resolves when the flag turns true (or its sender is gone).
pub(crate) async fn until_true(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// Reads the next binary message; `Err` carries the close code and reason.
async fn next_binary(source: &mut Source) -> Result<Option<Vec<u8>>, (u16, String)> {
    loop {
        match source.next().await {
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
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, next_binary(&mut source)).await {
        Err(_) => {
            return close(
                &mut sink,
                CLOSE_POLICY,
                "bad_request: handshake timed out".into(),
            )
            .await
        }
        Ok(Ok(Some(b))) => b,
        Ok(Ok(None)) => return,
        Ok(Err((code, reason))) => return close(&mut sink, code, reason).await,
    };
    let responder = match Responder::read_first(&agent.key, &first) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "handshake refused");
            return close(
                &mut sink,
                CLOSE_PROTOCOL,
                "bad_request: noise handshake failed".into(),
            )
            .await;
        }
    };
    let key = responder.remote_key();
    let welcome = match admit(&agent, &key, responder.hello()) {
        Ok(principal) => Welcome {
            version: PROTOCOL_VERSION,
            principal: Some(principal.to_owned()),
            error: None,
        },
        Err(error) => Welcome {
            version: PROTOCOL_VERSION,
            principal: None,
            error: Some(error),
        },
    };
    let (transport, reply) = match responder.finish(&welcome) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(%peer, error = %e, "handshake reply failed");
            return close(
                &mut sink,
                CLOSE_PROTOCOL,
                "internal: handshake failed".into(),
            )
            .await;
        }
    };
    if sink.send(WsMessage::Binary(reply.into())).await.is_err() {
        return;
    }
    if let Some(err) = welcome.error {
        let code = if err.code == ErrorCode::UnsupportedVersion {
            CLOSE_PROTOCOL
        } else {
            CLOSE_POLICY
        };
        return close(&mut sink, code, format!("{}: {}", err.code, err.message)).await;
    }
    let (sealer, mut opener) = transport.split();
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    let too_slow = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writer = tokio::spawn(writer::run(
        sink,
        sealer,
        out_rx,
        agent.bounds.slow_timeout,
        too_slow.clone(),
    ));
    let mut writer_done = false;
    let (id, mut revoked) = agent.live.add_conn(key);
    let mut shutdown = agent.shutdown.clone();
    let conn = Arc::new(Conn {
        agent: agent.clone(),
        key,
        peer,
        id,
        out: out_tx,
        budget: Arc::new(Semaphore::new(MAX_QUEUED_BYTES)),
        principal_cache: Mutex::new(None),
        too_slow,
        revoked: revoked.clone(),
        streams: Mutex::new(HashMap::new()),
        last_session: Mutex::new(None),
        last_touch: std::sync::atomic::AtomicI64::new(0),
    });
    tracing::debug!(%peer, conn = id, "connected");

    let (end_reason, close_with) = loop {
        tokio::select! {
            biased;
            _ = until_true(&mut revoked) => {
                break (EndReason::Revoked, (CLOSE_POLICY, "revoked: access revoked".to_owned()));
            }
            _ = until_true(&mut shutdown) => {
                break (EndReason::Shutdown, (CLOSE_NORMAL, "agent shutting down".to_owned()));
            }
            end = &mut writer => {
                writer_done = true;
                let end = end.unwrap_or(WriterEnd::Failed);
                let reason = if end == WriterEnd::TooSlow {
                    EndReason::TooSlow
                } else {
                    EndReason::Detached
                };
                break (reason, (CLOSE_NORMAL, String::new()));
            }
            frame = next_binary(&mut source) => {
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
                if let Some(close) = on_message(&conn, msg).await {
                    break (EndReason::Detached, close);
                }
            }
        }
    };
    if end_reason == EndReason::TooSlow {
        writer::audit_too_slow(&conn);
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
    if let Err(d) = policy::check_handshake(&principal, now) {
        agent.store.audit(
            "denied",
            &principal.actor(),
            None,
            &format!("handshake: {}", d.code),
            now,
        );
        return Err(ErrorBody::new(d.code, d.message));
    }
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
    let handles: Vec<(u64, JoinHandle<()>)> = conn
        .streams
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain()
        .collect();
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
