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

use super::conn::Conn;
use crate::mirror::{StreamItem, Subscription};
use crate::util::now_secs;

/// What a stream task needs besides its connection.
pub(crate) struct StreamStart {
    pub(crate) stream: u64,
    pub(crate) session: String,
    pub(crate) sub: Subscription,
    /// The companion grant behind it (None for owners).
    pub(crate) grant: Option<String>,
    /// When that grant expires (Unix seconds).
    pub(crate) expires_at: Option<i64>,
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
    conn.agent.live.add_stream(
        conn.id,
        start.stream,
        &start.session,
        start.grant.clone(),
        stop_tx,
    );
    let stream = start.stream;
    *conn.last_session.lock().unwrap_or_else(|e| e.into_inner()) = Some(start.session.clone());
    let handle = tokio::spawn(run(conn.clone(), start, stop_rx));
    conn.streams
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(stream, handle);
}

async fn run(conn: Arc<Conn>, mut s: StreamStart, mut stop: mpsc::Receiver<EndReason>) {
    let id = s.stream;
    let expiry = tokio::time::sleep(s.expires_at.map(until).unwrap_or(Duration::MAX / 4));
    tokio::pin!(expiry);
    let has_expiry = s.expires_at.is_some();
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
    conn.streams
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    if let Some(grant) = &s.grant {
        let now = now_secs();
        let action = if reason == EndReason::Expired {
            "grant_expired"
        } else {
            "grant_detached"
        };
        conn.agent.store.audit(
            action,
            &format!("grant:{grant}"),
            Some(&s.session),
            &format!(
                "stream {id} ended: {}",
                serde_json::to_value(reason).unwrap_or_default()
            ),
            now,
        );
    }
}
