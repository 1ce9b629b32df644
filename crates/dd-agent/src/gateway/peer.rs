//! A connection's shared state after its handshake: what requests and
//! stream tasks use to reach the peer (queueing messages for the writer
//! within the connection's byte budget), who the peer is now, and its
//! open streams.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dd_proto::message::EndReason;
use dd_proto::{ErrorBody, ErrorCode, Message};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::bounds::MAX_QUEUED_BYTES;
use super::writer::{self, Out};
use super::Agent;
use crate::policy::{self, Principal};
use crate::store::AuditAction;
use crate::util::{lock, now_secs};

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
    too_slow: Arc<AtomicBool>,
    /// True once access was revoked: queued sends give up instead of
    /// waiting on a peer that does not read.
    pub(crate) revoked: watch::Receiver<bool>,
    pub(crate) streams: Mutex<HashMap<u64, JoinHandle<()>>>,
    /// The session of the most recent stream opened on this connection:
    /// a `too_slow` record names it even when the streams ended first.
    pub(crate) last_session: Mutex<Option<String>>,
    /// When "last seen" was last written for this connection's principal.
    pub(crate) last_touch: AtomicI64,
    /// Requests refused while the peer was an unknown key.
    pub(crate) unknown_denials: std::sync::atomic::AtomicU32,
}

/// "Last seen" is written at most this often per connection (seconds): each
/// write is a durable SQLite commit, too dear for every keystroke request.
const TOUCH_EVERY_SECS: i64 = 30;

impl Conn {
    /// The state of a connection that just finished its handshake.
    pub(crate) fn new(
        agent: Arc<Agent>,
        key: [u8; 32],
        peer: SocketAddr,
        id: u64,
        out: mpsc::Sender<Out>,
        too_slow: Arc<AtomicBool>,
        revoked: watch::Receiver<bool>,
    ) -> Conn {
        Conn {
            agent,
            key,
            peer,
            id,
            out,
            budget: Arc::new(Semaphore::new(MAX_QUEUED_BYTES)),
            principal_cache: Mutex::new(None),
            too_slow,
            revoked,
            streams: Mutex::new(HashMap::new()),
            last_session: Mutex::new(None),
            last_touch: AtomicI64::new(0),
            unknown_denials: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// True (and records `now`) when "last seen" should be written again.
    pub(crate) fn due_for_touch(&self, now: i64) -> bool {
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

    /// Waits until at most `limit` bytes wait in this connection's queue to
    /// the writer (polled: a live-mode stream calls it before each item,
    /// so it pulls output only as fast as the link drains).
    pub(crate) async fn drained(&self, limit: usize) {
        let want = super::bounds::MAX_QUEUED_BYTES.saturating_sub(limit);
        while self.budget.available_permits() < want {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
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

    /// Why a stream of this connection can no longer send: `too_slow` if
    /// the writer gave up on the peer, else `detached`.
    pub(crate) fn lost_reason(&self) -> EndReason {
        if self.too_slow.load(Ordering::SeqCst) {
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
        let mut cache = lock(&self.principal_cache);
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
pub(crate) async fn until_true(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

impl Conn {
    /// Records that the connection was dropped for not reading, with the
    /// sessions it was streaming.
    pub(crate) fn audit_too_slow(&self) {
        let streams: Vec<u64> = lock(&self.streams).keys().copied().collect();
        let sessions: Vec<String> = streams
            .iter()
            .filter_map(|s| self.agent.live.stream_session(self.id, *s))
            .collect();
        // The streams may have ended (cut as too slow) before this runs: then
        // the session of the last stream opened.
        let last = lock(&self.last_session).clone();
        let session = sessions.first().or(last.as_ref()).map(String::as_str);
        // A companion is named by its grant on that session, as elsewhere.
        let actor = match self.principal() {
            Ok(p) => p.actor_on(session),
            Err(_) => "unknown".into(),
        };
        tracing::info!(peer = %self.peer, conn = self.id, "dropped a client that stopped reading");
        self.agent.store.audit(
            AuditAction::TooSlow,
            &actor,
            session,
            &format!(
                "connection from {} dropped: no write progress for {}s ({} streams)",
                self.peer,
                self.agent.bounds.slow_timeout.as_secs_f32(),
                streams.len()
            ),
            now_secs(),
        );
    }
}
