//! Attach and events streams: one task per stream pulls from the session's
//! subscription and queues messages for the connection's writer.
//!
//! The subscription reads the transcript at the stream's own pace, so a slow
//! client holds back only its own stream, never the PTY or other clients.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dd_proto::message::{EndReason, Event};
use dd_proto::Message;
use tokio::sync::mpsc;

use super::peer::Conn;
use crate::mirror::{StreamItem, Subscription};
use crate::policy::Lease;
use crate::store::AuditAction;
use crate::util::{lock, now_secs};

/// What a stream task needs besides its connection.
pub(crate) struct StreamStart {
    pub(crate) stream: u64,
    pub(crate) session: String,
    pub(crate) sub: Subscription,
    /// The companion grant it runs under (None for owners), as the policy
    /// returned it: the stream ends when it expires or is revoked.
    pub(crate) lease: Option<Lease>,
}

/// Bytes a live-mode stream lets wait in the connection's queue before it
/// pulls more.
const LIVE_QUEUE: usize = 4 * 1024;

fn until(unix_secs: i64) -> Duration {
    let deadline = UNIX_EPOCH + Duration::from_secs(unix_secs.max(0) as u64);
    deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

/// Registers and spawns the stream task. Call after the attach response was
/// queued, so the client sees the response before any stream message.
pub(crate) fn spawn(conn: &Arc<Conn>, start: StreamStart) {
    let (stop_tx, stop_rx) = mpsc::channel(2);
    let stale = conn.agent.live.drop_stale(
        &conn.key,
        &start.session,
        conn.id,
        conn.agent.liveness.stale_after,
    );
    if stale > 0 {
        tracing::info!(conn = conn.id, session = %start.session, stale, "dropped stale connections of the same key");
    }
    conn.agent.live.add_stream(
        conn.id,
        start.stream,
        &start.session,
        start.lease.as_ref().map(|l| l.grant_id.clone()),
        stop_tx,
    );
    let stream = start.stream;
    *lock(&conn.last_session) = Some(start.session.clone());
    let handle = tokio::spawn(run(conn.clone(), start, stop_rx));
    lock(&conn.streams).insert(stream, handle);
}

async fn run(conn: Arc<Conn>, mut s: StreamStart, mut stop: mpsc::Receiver<EndReason>) {
    let id = s.stream;
    let expires_at = s.lease.as_ref().map(|l| l.expires_at);
    let expiry = tokio::time::sleep(expires_at.map(until).unwrap_or(Duration::MAX / 4));
    tokio::pin!(expiry);
    let has_expiry = expires_at.is_some();
    let live = s.sub.is_live();
    let reason = loop {
        let msg = tokio::select! {
            biased;
            r = stop.recv() => break r.unwrap_or(EndReason::Shutdown),
            _ = &mut expiry, if has_expiry => break EndReason::Expired,
            // A live-mode stream pulls only once the link has drained, so
            // what it falls behind by shows in the session, where it is
            // replaced by a fresh snapshot (`Subscription::next`).
            item = async {
                if live {
                    conn.drained(LIVE_QUEUE).await;
                }
                s.sub.next().await
            } => match item {
                Some(StreamItem::Output { offset, data }) => {
                    if !conn.send_output(id, offset, data).await {
                        break conn.lost_reason();
                    }
                    continue;
                }
                Some(StreamItem::Snapshot { offset, rows, cols, data }) => Message::Snapshot {
                    stream: id,
                    offset,
                    rows,
                    cols,
                    data: data.to_vec(),
                },
                Some(StreamItem::Meta(session)) => Message::Event {
                    stream: id,
                    event: Event::Meta { session },
                },
                Some(StreamItem::InputNeeded(prompt)) => Message::Event {
                    stream: id,
                    event: Event::InputNeeded { prompt },
                },
                Some(StreamItem::Dropped { from, to }) => Message::Event {
                    stream: id,
                    event: Event::Error {
                        error: dd_proto::ErrorBody::new(
                            dd_proto::ErrorCode::Truncated,
                            format!(
                                "{} bytes of older output were dropped by the transcript size cap; output resumes at offset {to}",
                                to - from
                            ),
                        ),
                    },
                },
                Some(StreamItem::InputCleared(seq)) => Message::Event {
                    stream: id,
                    event: Event::InputCleared { seq },
                },
                Some(StreamItem::Exited { exit_code, end_offset }) => {
                    conn.send(Message::Event {
                        stream: id,
                        event: Event::Exited { exit_code, end_offset },
                    })
                    .await;
                    break EndReason::SessionEnded;
                }
                None => break EndReason::SessionEnded,
            },
        };
        if !conn.send(msg).await {
            break conn.lost_reason();
        }
    };
    end(&conn, &s, reason).await;
}

/// Sends the stream's `end` event, forgets the stream and, for a
/// companion's stream, records how it ended.
async fn end(conn: &Conn, s: &StreamStart, reason: EndReason) {
    let id = s.stream;
    let message = match reason {
        EndReason::Detached => "detached",
        EndReason::SessionEnded => "the session has ended",
        EndReason::Revoked => "access to this session was revoked",
        EndReason::Expired => "access to this session expired",
        EndReason::TooSlow => "the client fell too far behind",
        EndReason::Shutdown => "the agent is shutting down",
    };
    conn.send(Message::Event {
        stream: id,
        event: Event::End {
            reason,
            message: message.into(),
        },
    })
    .await;
    conn.agent.live.remove_stream(conn.id, id);
    lock(&conn.streams).remove(&id);
    if let Some(lease) = &s.lease {
        let now = now_secs();
        let action = if reason == EndReason::Expired {
            AuditAction::GrantExpired
        } else {
            AuditAction::GrantDetached
        };
        conn.agent.store.audit(
            action,
            &format!("grant:{}", lease.grant_id),
            Some(&s.session),
            &format!(
                "stream {id} ended: {}",
                serde_json::to_value(reason).unwrap_or_default()
            ),
            now,
        );
    }
}
