//! Attach streams: what one `session.attach` (or `session.events`)
//! delivers, and the calls on [`Connection`] that open them.

use dd_proto::methods::{self, Attach, Attached, Resume};
use dd_proto::Event;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::connection::Connection;
use crate::error::ClientError;
use crate::item::StreamItem;
use crate::resume::Cursor;
use crate::sync::lock;

/// An open attach stream. Dropping it before its end detaches it.
pub struct AttachStream {
    /// The agent's answer to the attach: stream id, session, input right.
    pub attached: Attached,
    rx: mpsc::Receiver<StreamItem>,
    conn: Connection,
    done: bool,
    cursor: Cursor,
}

impl std::fmt::Debug for AttachStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachStream")
            .field("stream", &self.attached.stream)
            .field("session", &self.attached.session.id)
            .field("done", &self.done)
            .finish()
    }
}

impl Connection {
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
        let shared = self.shared();
        let id = shared.take_id();
        let (tx, rx) = mpsc::channel(shared.stream_queue.max(1));
        lock(&shared.streams).insert(id, tx);
        let result = self.call_id(id, method, params).await;
        let attached = result.and_then(|v| {
            serde_json::from_value::<Attached>(v)
                .map_err(|e| ClientError::Protocol(format!("{method} result: {e}")))
        });
        match attached {
            Ok(a) if a.stream == id => Ok(AttachStream::new(a, rx, self.clone())),
            Ok(a) => {
                shared.remove_stream(id);
                Err(ClientError::Protocol(format!(
                    "agent opened stream {} for {method} request {id}",
                    a.stream
                )))
            }
            Err(e) => {
                shared.remove_stream(id);
                Err(e)
            }
        }
    }
}

impl AttachStream {
    fn new(attached: Attached, rx: mpsc::Receiver<StreamItem>, conn: Connection) -> Self {
        AttachStream {
            attached,
            rx,
            conn,
            done: false,
            cursor: Cursor::new(),
        }
    }

    /// The next item, or `None` once the stream is over (after an
    /// [`Event::End`] or a [`StreamItem::Disconnected`]). Output goes
    /// through the stream's [`Cursor`]: a byte is never delivered twice.
    pub async fn next(&mut self) -> Option<StreamItem> {
        loop {
            if self.done {
                return None;
            }
            let item = match self.rx.recv().await {
                Some(item) => item,
                // The reader dropped this stream without a last word: the
                // consumer fell too far behind.
                None => StreamItem::Disconnected("stream dropped: the reader fell behind".into()),
            };
            if let StreamItem::Event(Event::End { .. }) | StreamItem::Disconnected(_) = &item {
                self.done = true;
                self.conn.shared().remove_stream(self.attached.stream);
            }
            if let Some(item) = self.cursor.admit(item) {
                return Some(item);
            }
        }
    }

    /// The transcript offset right after the last byte this stream
    /// delivered (resume from here to lose and repeat nothing), if any
    /// output or snapshot has arrived yet. To carry it across reconnects,
    /// keep a [`Cursor`] of your own.
    pub fn next_offset(&self) -> Option<u64> {
        self.cursor.next()
    }

    /// The stream id (the attach request's id).
    pub fn stream_id(&self) -> u64 {
        self.attached.stream
    }

    /// The connection the stream runs on.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// True once the stream has delivered its last item.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Sends input to the session (fast path, no answer).
    pub async fn send_input(&self, data: &[u8]) -> Result<(), ClientError> {
        self.conn.send_input(self.attached.stream, data).await
    }

    /// Asks the agent to end this stream. Keep calling [`AttachStream::next`]:
    /// `Event::End { reason: Detached }` follows.
    pub async fn detach(&self) -> Result<(), ClientError> {
        self.conn.detach_stream(self.attached.stream).await
    }
}

impl Drop for AttachStream {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let shared = self.conn.shared();
        shared.remove_stream(self.attached.stream);
        // Best effort: no answer awaited, nothing sent if the queue is full.
        shared.try_send(shared.detach_request(self.attached.stream));
    }
}
