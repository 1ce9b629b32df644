//! A connection's writer task: seals queued messages and writes them, and
//! gives up on a client whose socket has not taken a write for the
//! slow-client timeout (`too_slow`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use bytes::Bytes;
use dd_proto::noise::Sealer;
use dd_proto::Message;
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::bounds::MAX_QUEUED_BYTES;

/// WebSocket close codes we use.
pub(crate) const CLOSE_NORMAL: u16 = 1000;
pub(crate) const CLOSE_PROTOCOL: u16 = 1002;
pub(crate) const CLOSE_UNSUPPORTED: u16 = 1003;
pub(crate) const CLOSE_POLICY: u16 = 1008;
pub(crate) const CLOSE_TOO_BIG: u16 = 1009;

/// How long the close frame of a too-slow client may take before the
/// socket is simply dropped.
const SLOW_CLOSE: Duration = Duration::from_secs(1);

pub(crate) type Sink = SplitSink<WebSocket, WsMessage>;

/// What the writer task is asked to do.
pub(crate) enum Out {
    /// Seal and send a message; the permit holds its share of the
    /// connection's queued-bytes budget until it is written.
    Msg(Message, OwnedSemaphorePermit),
    /// Seal and send stream output (`Message::Output` on the wire), from
    /// the session's shared bytes.
    Output {
        stream: u64,
        offset: u64,
        data: Bytes,
        permit: OwnedSemaphorePermit,
    },
    /// Send a WebSocket ping (keepalive; see `alive`).
    Ping,
    /// Send a close frame and stop.
    Close(u16, String),
}

/// How the writer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriterEnd {
    /// Its queue closed, or it sent the close frame it was asked to.
    Closed,
    /// The socket failed (the peer went away).
    Failed,
    /// One write stayed blocked longer than the slow-client timeout.
    TooSlow,
}

/// The budget share of a message: its size, roughly. A response is
/// measured (a large `audit.list` must not count as a small message, or a
/// peer that pipelines requests without reading queues megabytes).
pub(crate) fn cost(m: &Message) -> u32 {
    match m {
        Message::Output { data, .. } | Message::Snapshot { data, .. } => output_cost(data.len()),
        Message::Response { .. } => (m.encode().len() + 64).clamp(256, MAX_QUEUED_BYTES) as u32,
        _ => 256,
    }
}

/// The budget share of `len` bytes of output.
pub(crate) fn output_cost(len: usize) -> u32 {
    (len + 64).min(MAX_QUEUED_BYTES) as u32
}

pub(crate) async fn close(sink: &mut Sink, code: u16, reason: String) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(truncate_reason(reason)),
    };
    let _ = sink.send(WsMessage::Close(Some(frame))).await;
    let _ = sink.close().await;
}

/// Close reasons must fit a control frame (123 bytes).
fn truncate_reason(mut s: String) -> String {
    if s.len() > 120 {
        let mut cut = 120;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Marks the connection too slow and tries (briefly) to say so.
async fn too_slow(sink: &mut Sink, slow: Duration, flag: &AtomicBool) -> WriterEnd {
    flag.store(true, Ordering::SeqCst);
    let reason = format!("too_slow: no write progress for {}s", slow.as_secs_f32());
    let _ = tokio::time::timeout(SLOW_CLOSE, close(sink, CLOSE_POLICY, reason)).await;
    WriterEnd::TooSlow
}

/// Seals and writes messages, batching frames into one flush when the queue
/// holds several. A feed or flush blocked for longer than `slow` ends the
/// connection with [`WriterEnd::TooSlow`] (and sets `flag` first).
pub(crate) async fn run(
    mut sink: Sink,
    mut sealer: Sealer,
    mut rx: mpsc::Receiver<Out>,
    slow: Duration,
    flag: Arc<AtomicBool>,
) -> WriterEnd {
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(out) = next.take() {
            let (sealed, permit) = match out {
                Out::Msg(m, permit) => (sealer.seal(&m), permit),
                Out::Output {
                    stream,
                    offset,
                    data,
                    permit,
                } => (sealer.seal_output(stream, offset, &data), permit),
                Out::Ping => {
                    let fed = tokio::time::timeout(slow, sink.feed(WsMessage::Ping(Bytes::new())));
                    match fed.await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return WriterEnd::Failed,
                        Err(_) => return too_slow(&mut sink, slow, &flag).await,
                    }
                    next = rx.try_recv().ok();
                    continue;
                }
                Out::Close(code, reason) => {
                    // A courtesy to a peer that is leaving or being sent
                    // away: not answering it is not being too slow.
                    let _ = tokio::time::timeout(SLOW_CLOSE, close(&mut sink, code, reason)).await;
                    return WriterEnd::Closed;
                }
            };
            match sealed {
                Ok(frames) => {
                    for f in frames {
                        let fed =
                            tokio::time::timeout(slow, sink.feed(WsMessage::Binary(f.into())));
                        match fed.await {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) => return WriterEnd::Failed,
                            Err(_) => return too_slow(&mut sink, slow, &flag).await,
                        }
                    }
                    drop(permit);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "seal failed");
                    close(&mut sink, CLOSE_PROTOCOL, "internal: seal failed".into()).await;
                    return WriterEnd::Failed;
                }
            }
            next = rx.try_recv().ok();
        }
        match tokio::time::timeout(slow, sink.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return WriterEnd::Failed,
            Err(_) => return too_slow(&mut sink, slow, &flag).await,
        }
    }
    let _ = tokio::time::timeout(SLOW_CLOSE, sink.close()).await;
    WriterEnd::Closed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_are_cut_at_a_char_boundary() {
        let s = "é".repeat(100);
        let t = truncate_reason(s);
        assert!(t.len() <= 120);
        assert!(t.chars().all(|c| c == 'é'));
        assert_eq!(truncate_reason("short".into()), "short");
    }

    #[test]
    fn cost_counts_payload_and_is_capped() {
        let small = Message::Output {
            stream: 1,
            offset: 0,
            data: vec![0; 10],
        };
        assert_eq!(cost(&small), 74);
        let big = Message::Snapshot {
            stream: 1,
            offset: 0,
            rows: 1,
            cols: 1,
            data: vec![0; MAX_QUEUED_BYTES * 2],
        };
        assert_eq!(cost(&big) as usize, MAX_QUEUED_BYTES);
    }
}
