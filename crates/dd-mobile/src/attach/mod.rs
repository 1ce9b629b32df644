//! Attaching: [`AttachHandle`] is what the host holds; a background task
//! (`runner`) streams to the host's [`SessionListener`], reconnects with
//! backoff on network drops and resumes from the last offset delivered
//! (all three decided by `dd_client_core::resume`).

mod policy;
mod prompts;
mod runner;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dd_client_core::resume::Cursor;
use dd_client_core::sync::lock;
use dd_client_core::{AttachStream, Connection, StreamItem};
use dd_proto::methods::Resume;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use policy::{base_delay, delay, fresh, on_end, on_error, Next, BACKOFF_MAX, BACKOFF_MIN};
pub(crate) use runner::{open as runner_open, run, went_live, Run};

use crate::error::MobileError;
use crate::prompt::InputNeeded;
use crate::types::{ConnectionState, SessionMeta};

/// Receives what an attach delivers. Implemented by the host; called from
/// a background thread, in order.
#[uniffi::export(with_foreign)]
pub trait SessionListener: Send + Sync {
    /// Repaint: reset the terminal to `rows` x `cols` and feed `data`.
    /// Output continues from `offset`.
    fn on_snapshot(&self, offset: u64, rows: u16, cols: u16, data: Vec<u8>);
    /// More output, starting at transcript offset `offset`.
    fn on_output(&self, offset: u64, data: Vec<u8>);
    /// The session's metadata (on attach and whenever it changes).
    fn on_meta(&self, meta: SessionMeta);
    /// The connection state changed.
    fn on_state(&self, state: ConnectionState);
    /// A non-fatal notice, e.g. input refused on a read-only grant.
    fn on_notice(&self, code: String, message: String);
    /// The session waits for an answer (also delivered on attach and after
    /// a reconnect when a prompt already waits). At most one prompt is
    /// shown at a time; each is delivered once.
    fn on_input_needed(&self, prompt: InputNeeded);
    /// Prompt `seq` no longer waits (answered, the screen moved on, the
    /// session ended, or this attach ended): drop its notification.
    fn on_input_cleared(&self, seq: u64);
}

/// Offsets each `Companion` remembers per session, for `ResumeFrom::LastSeen`.
pub(crate) type LastSeen = Arc<Mutex<HashMap<String, u64>>>;

/// State shared by the handle and its runner.
pub(crate) struct Inner {
    pub(crate) session_id: String,
    /// Right after the last byte delivered to the listener.
    cursor: Mutex<Cursor>,
    /// The live stream's connection and id, while attached.
    live: Mutex<Option<(Connection, u64)>>,
    /// Set by `detach` (or dropping the handle).
    stopping: AtomicBool,
    stop: Notify,
    /// Cuts a reconnect wait short (the network path changed).
    wake: Notify,
    last_seen: LastSeen,
    /// The prompt the listener was last told about and not yet cleared.
    waiting: Mutex<Option<dd_proto::methods::InputNeeded>>,
}

impl Inner {
    pub(crate) fn new(session_id: String, last_seen: LastSeen) -> Self {
        Inner {
            session_id,
            cursor: Mutex::new(Cursor::new()),
            live: Mutex::new(None),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
            wake: Notify::new(),
            last_seen,
            waiting: Mutex::new(None),
        }
    }

    pub(crate) fn next_offset(&self) -> Option<u64> {
        lock(&self.cursor).next()
    }

    /// Where a reconnect resumes: after the last byte delivered, else at
    /// `fallback`.
    pub(crate) fn resume_or(&self, fallback: Resume) -> Resume {
        lock(&self.cursor).resume_or(fallback)
    }

    /// Passes `item` through the cursor ([`Cursor::admit`]: repeated
    /// output trimmed, `None` when nothing is new) and remembers the new
    /// offset for `ResumeFrom::LastSeen`.
    pub(crate) fn admit(&self, item: StreamItem) -> Option<StreamItem> {
        let mut cursor = lock(&self.cursor);
        let item = cursor.admit(item)?;
        if let (StreamItem::Output { .. } | StreamItem::Snapshot { .. }, Some(next)) =
            (&item, cursor.next())
        {
            lock(&self.last_seen).insert(self.session_id.clone(), next);
        }
        Some(item)
    }

    pub(crate) fn set_live(&self, stream: Option<&AttachStream>) {
        *lock(&self.live) = stream.map(|s| (s.connection().clone(), s.stream_id()));
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub(crate) async fn stopped(&self) {
        if !self.is_stopping() {
            self.stop.notified().await;
        }
    }

    /// The live stream's connection, while attached.
    pub(crate) fn live_connection(&self) -> Option<Connection> {
        lock(&self.live).as_ref().map(|(c, _)| c.clone())
    }

    /// Makes a reconnect wait (or a connect attempt) in progress retry now.
    pub(crate) fn wake_now(&self) {
        self.wake.notify_one();
    }

    /// Resolves on [`Inner::wake_now`].
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    fn request_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stop.notify_one();
    }
}

/// A live attach. Dropping it detaches.
#[derive(uniffi::Object)]
pub struct AttachHandle {
    inner: Arc<Inner>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for AttachHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachHandle")
            .field("session", &self.inner.session_id)
            .finish()
    }
}

impl AttachHandle {
    pub(crate) fn new(inner: Arc<Inner>, task: JoinHandle<()>) -> Self {
        AttachHandle {
            inner,
            task: Mutex::new(Some(task)),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl AttachHandle {
    /// Types `data` into the session. A refusal by the agent (read-only
    /// grant) arrives as `on_notice`; fails with `Network` while not
    /// connected.
    pub async fn send_input(&self, data: Vec<u8>) -> Result<(), MobileError> {
        let live = lock(&self.inner.live).clone();
        let Some((conn, stream)) = live else {
            return Err(MobileError::Network {
                message: "not connected".into(),
            });
        };
        conn.send_input(stream, &data).await?;
        Ok(())
    }

    /// Answers the waiting prompt: `choice` is a choice's label (any
    /// case), its typed key (`y`) or its 1-based index (`1`); sends that
    /// choice's input. Fails with `Agent { code: "not_waiting" }` when no
    /// prompt waits, `Agent { code: "no_such_choice" }` when none matches,
    /// `Denied { code: "forbidden" }` on a read-only grant, `Network` while
    /// not connected.
    pub async fn answer(&self, choice: String) -> Result<(), MobileError> {
        let (_seq, bytes) = prompts::answer_bytes(&self.inner, &choice)?;
        let live = lock(&self.inner.live).clone();
        let Some((conn, _stream)) = live else {
            return Err(MobileError::Network {
                message: "not connected".into(),
            });
        };
        // A call rather than an Input message, so a refusal comes back here.
        let params = dd_proto::methods::SendInput {
            session: self.inner.session_id.clone(),
            data: dd_proto::keys::encode_bytes(&bytes),
        };
        let _: serde_json::Value = conn
            .call_typed(dd_proto::methods::SESSION_INPUT, &params)
            .await?;
        Ok(())
    }

    /// Ends the stream. The listener gets `on_state(Detached)` (unless the
    /// attach had already ended) before this returns.
    pub async fn detach(&self) {
        self.inner.request_stop();
        let task = lock(&self.task).take();
        if let Some(mut task) = task {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }

    /// The transcript offset right after the last byte delivered to the
    /// listener (where a resume continues); 0 before any.
    pub fn last_offset(&self) -> u64 {
        self.inner.next_offset().unwrap_or(0)
    }

    /// The session this handle streams.
    pub fn session_id(&self) -> String {
        self.inner.session_id.clone()
    }
}

impl Drop for AttachHandle {
    fn drop(&mut self) {
        self.inner.request_stop();
    }
}
