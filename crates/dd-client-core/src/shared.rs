//! The state one connection's handles and its two tasks share: the
//! outgoing queue, pending calls, open streams, request ids and the closed
//! flag. Below the connection, the pump and the streams, so all three can
//! use it without using each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use dd_proto::methods::{self, Detach};
use dd_proto::{ErrorBody, Message};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use crate::item::StreamItem;
use crate::sync::lock;

/// Where a call's answer goes.
pub(crate) type Pending = oneshot::Sender<Result<Value, ErrorBody>>;

pub(crate) struct Shared {
    pub(crate) out: mpsc::Sender<Message>,
    pub(crate) pending: Mutex<HashMap<u64, Pending>>,
    pub(crate) streams: Mutex<HashMap<u64, mpsc::Sender<StreamItem>>>,
    pub(crate) next_id: AtomicU64,
    /// `Some(reason)` once the connection is closed.
    pub(crate) closed: watch::Sender<Option<String>>,
    /// Items each attach stream may queue before the reader waits.
    pub(crate) stream_queue: usize,
    /// How long the reader waits on a full stream queue before dropping
    /// that stream locally.
    pub(crate) stream_stall: Duration,
}

impl Shared {
    pub(crate) fn new(
        out: mpsc::Sender<Message>,
        stream_queue: usize,
        stream_stall: Duration,
    ) -> Self {
        let (closed, _) = watch::channel(None);
        Shared {
            out,
            pending: Mutex::new(HashMap::new()),
            streams: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            closed,
            stream_queue,
            stream_stall,
        }
    }

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

    /// The `session.detach` request for `stream`, with a fresh id. The only
    /// place a client builds one: [`Connection::detach_stream`], a dropped
    /// [`AttachStream`] and a stream the reader gave up on all send it.
    /// Its answer is never awaited (it would route to no pending call).
    ///
    /// [`Connection::detach_stream`]: crate::Connection::detach_stream
    /// [`AttachStream`]: crate::AttachStream
    pub(crate) fn detach_request(&self, stream: u64) -> Message {
        Message::Request {
            id: self.take_id(),
            method: methods::SESSION_DETACH.to_owned(),
            params: serde_json::to_value(Detach { stream })
                .unwrap_or_default()
                .into(),
        }
    }

    /// Sends a message without waiting (used from `Drop`).
    pub(crate) fn try_send(&self, msg: Message) {
        let _ = self.out.try_send(msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_requests_carry_fresh_ids_and_the_stream() {
        let (tx, _rx) = mpsc::channel(1);
        let s = Shared::new(tx, 1, Duration::from_secs(1));
        let ids: Vec<u64> = (0..2)
            .map(|_| match s.detach_request(7) {
                Message::Request { id, method, params } => {
                    assert_eq!(method, "session.detach");
                    assert_eq!(params.to_value(), serde_json::json!({ "stream": 7 }));
                    id
                }
                other => panic!("not a request: {other:?}"),
            })
            .collect();
        assert_ne!(ids[0], ids[1]);
    }
}
