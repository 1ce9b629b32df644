//! Attach streams: what one `session.attach` delivers.

use dd_proto::methods::Attached;
use dd_proto::{Event, Message};
use tokio::sync::mpsc;

use crate::connection::Connection;
use crate::error::ClientError;

/// One item of an attach stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// The screen as it stood at `offset` (for `Resume::Screen`): bytes
    /// that repaint a `rows` x `cols` terminal. Output follows from `offset`.
    Snapshot {
        /// Transcript offset the snapshot corresponds to.
        offset: u64,
        /// Screen rows.
        rows: u16,
        /// Screen columns.
        cols: u16,
        /// Repaint bytes.
        data: Vec<u8>,
    },
    /// Output bytes starting at transcript offset `offset`.
    Output {
        /// Offset of `data[0]`.
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A stream event. After [`Event::End`] the stream yields nothing more.
    Event(Event),
    /// The connection (or this stream, locally) went away; nothing more
    /// will come. The string says why.
    Disconnected(String),
}

/// An open attach stream. Dropping it before its end detaches it.
pub struct AttachStream {
    /// The agent's answer to the attach: stream id, session, input right.
    pub attached: Attached,
    rx: mpsc::Receiver<StreamItem>,
    conn: Connection,
    done: bool,
    next_offset: Option<u64>,
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

impl AttachStream {
    pub(crate) fn new(
        attached: Attached,
        rx: mpsc::Receiver<StreamItem>,
        conn: Connection,
    ) -> Self {
        AttachStream {
            attached,
            rx,
            conn,
            done: false,
            next_offset: None,
        }
    }

    /// The next item, or `None` once the stream is over (after an
    /// [`Event::End`] or a [`StreamItem::Disconnected`]).
    pub async fn next(&mut self) -> Option<StreamItem> {
        if self.done {
            return None;
        }
        let item = match self.rx.recv().await {
            Some(item) => item,
            // The reader dropped this stream without a last word: the
            // consumer fell too far behind.
            None => StreamItem::Disconnected("stream dropped: the reader fell behind".into()),
        };
        match &item {
            StreamItem::Output { offset, data } => {
                self.next_offset = Some(offset.saturating_add(data.len() as u64));
            }
            StreamItem::Snapshot { offset, .. } => self.next_offset = Some(*offset),
            StreamItem::Event(Event::End { .. }) | StreamItem::Disconnected(_) => {
                self.done = true;
                self.conn.shared().remove_stream(self.attached.stream);
            }
            StreamItem::Event(_) => {}
        }
        Some(item)
    }

    /// The transcript offset right after the last byte this stream
    /// delivered (resume from here to lose and repeat nothing), if any
    /// output or snapshot has arrived yet.
    pub fn next_offset(&self) -> Option<u64> {
        self.next_offset
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
        let params = serde_json::json!({ "stream": self.attached.stream });
        // Best effort: no answer awaited, nothing sent if the queue is full.
        shared.try_send(Message::Request {
            id: shared.take_id(),
            method: dd_proto::methods::SESSION_DETACH.to_owned(),
            params: params.into(),
        });
    }
}
