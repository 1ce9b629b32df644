//! The connection: request ids, the reader that routes what the agent sends,
//! and the writer that seals what the client sends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dd_proto::methods::{self, Attach, Attached, Detach, Resume, Welcome};
use dd_proto::noise::StaticKeypair;
use dd_proto::{ErrorBody, Message};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::ClientError;
use crate::pump;
use crate::stream::{AttachStream, StreamItem};
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
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            stream_queue: 256,
            stream_stall: Duration::from_secs(10),
            bind_addr: None,
        }
    }
}

type Pending = oneshot::Sender<Result<Value, ErrorBody>>;

pub(crate) struct Shared {
    pub(crate) out: mpsc::Sender<Message>,
    pub(crate) pending: Mutex<HashMap<u64, Pending>>,
    pub(crate) streams: Mutex<HashMap<u64, mpsc::Sender<StreamItem>>>,
    pub(crate) next_id: AtomicU64,
    /// `Some(reason)` once the connection is closed.
    pub(crate) closed: watch::Sender<Option<String>>,
    pub(crate) opts: ConnectOptions,
}

/// A live connection to an agent. Cheap to clone; all clones share it.
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
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
    let (ws, transport, welcome) = transport::open(
        agent_url,
        agent_key,
        key,
        client_name,
        opts.connect_timeout,
        opts.handshake_timeout,
        opts.bind_addr,
    )
    .await?;
    let (sealer, opener) = transport.split();
    let (sink, source) = ws.split();
    let (out_tx, out_rx) = mpsc::channel(64);
    let (closed, _) = watch::channel(None);
    let shared = Arc::new(Shared {
        out: out_tx,
        pending: Mutex::new(HashMap::new()),
        streams: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        closed,
        opts,
    });
    tokio::spawn(pump::writer(shared.clone(), sealer, sink, out_rx));
    tokio::spawn(pump::reader(shared.clone(), opener, source));
    Ok((Connection { shared }, welcome))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.borrow().is_some()
    }

    /// Marks the connection closed (first reason wins).
    pub(crate) fn mark_closed(&self, reason: &str) {
        self.closed.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason.to_owned());
                true
            } else {
                false
            }
        });
    }

    pub(crate) fn close_reason(&self) -> String {
        self.closed
            .borrow()
            .clone()
            .unwrap_or_else(|| "connection closed".into())
    }

    pub(crate) fn remove_stream(&self, id: u64) {
        lock(&self.streams).remove(&id);
    }

    pub(crate) fn take_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a message without waiting (used from `Drop`).
    pub(crate) fn try_send(&self, msg: Message) {
        let _ = self.out.try_send(msg);
    }
}

impl Connection {
    fn next_id(&self) -> u64 {
        self.shared.take_id()
    }

    async fn send(&self, msg: Message) -> Result<(), ClientError> {
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

    async fn call_id(&self, id: u64, method: &str, params: Value) -> Result<Value, ClientError> {
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

    /// Sends a request and does not wait for its answer (which is ignored).
    pub(crate) async fn notify(&self, method: &str, params: Value) -> Result<(), ClientError> {
        let id = self.next_id();
        self.send(Message::Request {
            id,
            method: method.to_owned(),
            params: params.into(),
        })
        .await
    }

    /// Attaches to `session`, starting at `resume`. The stream receives
    /// everything the agent sends for it from the moment of the request.
    pub async fn attach(&self, session: &str, resume: Resume) -> Result<AttachStream, ClientError> {
        let params = serde_json::to_value(Attach {
            session: session.to_owned(),
            resume,
        })
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.open_stream(methods::SESSION_ATTACH, params).await
    }

    /// Subscribes to `session`'s events only (`session.events`): metadata
    /// changes, `input_needed`, `input_cleared`, `exited`, `end`; no
    /// output. `attached.session.waiting` is the prompt waiting now.
    pub async fn events(&self, session: &str) -> Result<AttachStream, ClientError> {
        let params = serde_json::json!({ "session": session });
        self.open_stream(methods::SESSION_EVENTS, params).await
    }

    /// Sends a stream-opening request and wires its stream up.
    async fn open_stream(&self, method: &str, params: Value) -> Result<AttachStream, ClientError> {
        let id = self.next_id();
        let (tx, rx) = mpsc::channel(self.shared.opts.stream_queue.max(1));
        lock(&self.shared.streams).insert(id, tx);
        let result = self.call_id(id, method, params).await;
        let attached = result.and_then(|v| {
            serde_json::from_value::<Attached>(v)
                .map_err(|e| ClientError::Protocol(format!("{method} result: {e}")))
        });
        match attached {
            Ok(a) if a.stream == id => Ok(AttachStream::new(a, rx, self.clone())),
            Ok(a) => {
                self.shared.remove_stream(id);
                Err(ClientError::Protocol(format!(
                    "agent opened stream {} for {method} request {id}",
                    a.stream
                )))
            }
            Err(e) => {
                self.shared.remove_stream(id);
                Err(e)
            }
        }
    }

    /// Sends input bytes on attach stream `stream` (no answer; a refusal
    /// arrives as an [`Event::Error`] on the stream).
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
        let params = serde_json::to_value(Detach { stream }).unwrap_or_default();
        self.notify(methods::SESSION_DETACH, params).await
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
    /// [`StreamItem::Disconnected`].
    pub async fn close(&self) {
        self.shared.mark_closed("closed by client");
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}
