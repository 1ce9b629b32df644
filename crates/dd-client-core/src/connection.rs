//! The connection: connecting, request ids and calls. The reader and the
//! writer behind it are in `pump`; attach streams (and the calls that open
//! them) in `stream`.

use std::sync::Arc;
use std::time::Duration;

use dd_proto::keepalive::Keepalive;
use dd_proto::methods::Welcome;
use dd_proto::noise::StaticKeypair;
use dd_proto::{ErrorBody, Message};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::alive::Beat;
use crate::error::ClientError;
use crate::pump;
use crate::shared::Shared;
use crate::sync::lock;
use crate::tls::TlsOptions;
use crate::transport;

/// Tunables of [`connect_with`]. [`Default`] gives the values [`connect`] uses.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Deadline for TCP connect and WebSocket upgrade (10 s).
    pub connect_timeout: Duration,
    /// Deadline for the Noise handshake (10 s).
    pub handshake_timeout: Duration,
    /// Items each attach stream may queue before the reader waits (256).
    pub stream_queue: usize,
    /// How long the reader waits on a full stream queue before dropping
    /// that stream locally (10 s).
    pub stream_stall: Duration,
    /// Local address to connect from (None: let the OS choose).
    pub bind_addr: Option<std::net::IpAddr>,
    /// Certificates trusted for `https://`/`wss://` agents (system store
    /// by default).
    pub tls: TlsOptions,
    /// When to ping and when a silent link counts as dead
    /// ([`Keepalive::CLIENT`]: ping after 3 s of quiet, dead after 8 s).
    pub keepalive: Keepalive,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            stream_queue: 256,
            stream_stall: Duration::from_secs(10),
            bind_addr: None,
            tls: TlsOptions::default(),
            keepalive: Keepalive::CLIENT,
        }
    }
}

/// A live connection to an agent. Cheap to clone; all clones share it.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    /// Liveness stamps shared with the pump tasks.
    beat: Arc<Beat>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Connects to the agent at `agent_url` (its base URL, e.g.
/// `http://127.0.0.1:7777`), pinning `agent_key`, as the holder of `key`.
/// Fails with [`ClientError::Refused`] when the agent's welcome carries an
/// error.
pub async fn connect(
    agent_url: &str,
    agent_key: &[u8; 32],
    key: &StaticKeypair,
    client_name: &str,
) -> Result<(Connection, Welcome), ClientError> {
    connect_with(
        agent_url,
        agent_key,
        key,
        client_name,
        ConnectOptions::default(),
    )
    .await
}

/// [`connect`] with explicit [`ConnectOptions`].
pub async fn connect_with(
    agent_url: &str,
    agent_key: &[u8; 32],
    key: &StaticKeypair,
    client_name: &str,
    opts: ConnectOptions,
) -> Result<(Connection, Welcome), ClientError> {
    let target = transport::Target {
        agent_url,
        bind: opts.bind_addr,
        tls: &opts.tls,
        keepalive: opts.keepalive,
    };
    let (ws, transport, welcome) = transport::open(
        target,
        agent_key,
        key,
        client_name,
        opts.connect_timeout,
        opts.handshake_timeout,
    )
    .await?;
    let (sealer, opener) = transport.split();
    let (sink, source) = ws.split();
    let (out_tx, out_rx) = mpsc::channel(64);
    let shared = Arc::new(Shared::new(out_tx, opts.stream_queue, opts.stream_stall));
    let beat = Arc::new(Beat::new());
    let keepalive = opts.keepalive;
    tokio::spawn(pump::writer(
        shared.clone(),
        sealer,
        sink,
        out_rx,
        beat.clone(),
        keepalive,
    ));
    tokio::spawn(pump::reader(
        shared.clone(),
        opener,
        source,
        beat.clone(),
        keepalive,
    ));
    Ok((Connection { shared, beat }, welcome))
}

impl Connection {
    fn next_id(&self) -> u64 {
        self.shared.take_id()
    }

    pub(crate) async fn send(&self, msg: Message) -> Result<(), ClientError> {
        if self.shared.is_closed() {
            return Err(ClientError::Closed);
        }
        self.shared
            .out
            .send(msg)
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Registers a pending response for `id`, failing if already closed.
    fn register(
        &self,
        id: u64,
    ) -> Result<oneshot::Receiver<Result<Value, ErrorBody>>, ClientError> {
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(id, tx);
        // The reader sets `closed` before draining `pending`: if it is not
        // set now, the drain has not happened and will reach this entry.
        if self.shared.is_closed() {
            lock(&self.shared.pending).remove(&id);
            return Err(ClientError::Closed);
        }
        Ok(rx)
    }

    pub(crate) async fn call_id(
        &self,
        id: u64,
        method: &str,
        params: Value,
    ) -> Result<Value, ClientError> {
        let rx = self.register(id)?;
        let sent = self
            .send(Message::Request {
                id,
                method: method.to_owned(),
                params: params.into(),
            })
            .await;
        if let Err(e) = sent {
            lock(&self.shared.pending).remove(&id);
            return Err(e);
        }
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(body)) => Err(ClientError::Rpc(body)),
            Err(_) => Err(ClientError::Closed),
        }
    }

    /// Calls `method` with JSON `params` and waits for the answer.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.next_id();
        self.call_id(id, method, params).await
    }

    /// Calls `method` with typed parameters and result.
    pub async fn call_typed<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, ClientError> {
        let params = serde_json::to_value(params)
            .map_err(|e| ClientError::Protocol(format!("params: {e}")))?;
        let v = self.call(method, params).await?;
        serde_json::from_value(v)
            .map_err(|e| ClientError::Protocol(format!("{method} result: {e}")))
    }

    /// `session.meta`: the session's metadata (size, status, the prompt
    /// waiting now).
    pub async fn session_meta(
        &self,
        session: &str,
    ) -> Result<dd_proto::methods::SessionInfo, ClientError> {
        self.call_typed(
            dd_proto::methods::SESSION_META,
            &dd_proto::methods::SessionRef {
                session: session.to_owned(),
            },
        )
        .await
    }

    /// Sends input bytes on attach stream `stream` (no answer; a refusal
    /// arrives as an [`Event::Error`](dd_proto::Event::Error) on the stream).
    pub async fn send_input(&self, stream: u64, data: &[u8]) -> Result<(), ClientError> {
        for chunk in data.chunks(dd_proto::MAX_OUTPUT_CHUNK) {
            self.send(Message::Input {
                stream,
                data: chunk.to_vec(),
            })
            .await?;
        }
        Ok(())
    }

    /// Asks the agent to end stream `stream`; the stream then receives
    /// `Event::End { reason: Detached }`. Does not wait for the answer, so
    /// it cannot stall behind a full stream queue.
    pub async fn detach_stream(&self, stream: u64) -> Result<(), ClientError> {
        self.send(self.shared.detach_request(stream)).await
    }

    /// Checks the link at once: pings and waits up to `timeout` for any
    /// frame from the agent. A link that stays silent is closed as dead
    /// (streams get [`StreamItem::Disconnected`] and resume elsewhere) and
    /// this fails with [`ClientError::Closed`]. Meant for moments when the
    /// link may have died unnoticed: the app came back to the foreground,
    /// the network path changed.
    pub async fn probe(&self, timeout: Duration) -> Result<Duration, ClientError> {
        if self.is_closed() {
            return Err(ClientError::Closed);
        }
        let started = std::time::Instant::now();
        if self.beat.probe(timeout).await {
            return Ok(started.elapsed());
        }
        self.shared.mark_closed(&format!(
            "link dead: no answer to a probe within {:.1}s",
            timeout.as_secs_f32()
        ));
        Err(ClientError::Closed)
    }

    /// True once the connection is closed or lost.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<String> {
        self.shared.closed.borrow().clone()
    }

    /// Closes the connection: pending calls fail with
    /// [`ClientError::Closed`], open streams get
    /// [`StreamItem::Disconnected`](crate::StreamItem::Disconnected).
    pub async fn close(&self) {
        self.shared.mark_closed("closed by client");
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}
