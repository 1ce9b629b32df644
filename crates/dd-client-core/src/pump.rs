//! The two tasks behind a connection: the writer seals and sends what the
//! client queues; the reader opens every frame and routes it to the waiting
//! call or the stream it belongs to.

use std::sync::Arc;
use std::time::Duration;

use dd_proto::keepalive::Keepalive;
use dd_proto::noise::{Opener, Sealer};
use dd_proto::{Event, Message};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::alive::{self, Beat, Clock};
use crate::item::StreamItem;
use crate::shared::Shared;
use crate::sync::lock;
use crate::transport::Ws;

pub(crate) async fn writer(
    shared: Arc<Shared>,
    mut sealer: Sealer,
    mut sink: SplitSink<Ws, WsMessage>,
    mut rx: mpsc::Receiver<Message>,
    beat: Arc<Beat>,
    keepalive: Keepalive,
) {
    let mut closed = shared.closed.subscribe();
    let mut clock = Clock::new(keepalive);
    loop {
        let next = tokio::select! {
            m = rx.recv() => match m { Some(m) => Some(m), None => break },
            _ = closed.wait_for(|c| c.is_some()) => break,
            _ = clock.next(&beat) => None,
        };
        let Some(msg) = next else {
            // Keepalive: ping (the pong, like any frame, is heard).
            if let Err(e) = sink.send(WsMessage::Ping(Default::default())).await {
                shared.mark_closed(&format!("send failed: {e}"));
                break;
            }
            beat.sent();
            continue;
        };
        let frames = match sealer.seal(&msg) {
            Ok(f) => f,
            Err(e) => {
                shared.mark_closed(&format!("cannot encrypt: {e}"));
                break;
            }
        };
        let mut failed = None;
        for f in frames {
            if let Err(e) = sink.feed(WsMessage::binary(f)).await {
                failed = Some(e);
                break;
            }
        }
        if failed.is_none() && rx.is_empty() {
            failed = sink.flush().await.err();
        }
        beat.sent();
        if let Some(e) = failed {
            shared.mark_closed(&format!("send failed: {e}"));
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
}

pub(crate) async fn reader(
    shared: Arc<Shared>,
    mut opener: Opener,
    mut source: SplitStream<Ws>,
    beat: Arc<Beat>,
    keepalive: Keepalive,
) {
    let mut closed = shared.closed.subscribe();
    loop {
        let frame = tokio::select! {
            f = source.next() => f,
            _ = closed.wait_for(|c| c.is_some()) => break,
            silent = alive::dead(&beat, keepalive.timeout) => {
                shared.mark_closed(&format!(
                    "link dead: nothing heard from the agent for {:.1}s",
                    silent.as_secs_f32()
                ));
                break;
            }
        };
        beat.heard();
        let bytes = match frame {
            Some(Ok(WsMessage::Binary(b))) => b,
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => continue,
            Some(Ok(WsMessage::Text(_))) => {
                shared.mark_closed("agent sent a text frame");
                break;
            }
            Some(Ok(WsMessage::Close(c))) => {
                let why = c
                    .map(|c| c.reason.to_string())
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "agent closed the connection".into());
                shared.mark_closed(&why);
                break;
            }
            Some(Err(e)) => {
                shared.mark_closed(&format!("connection lost: {e}"));
                break;
            }
            None => {
                shared.mark_closed("connection lost");
                break;
            }
        };
        match opener.open(&bytes) {
            Ok(Some(msg)) => {
                tokio::select! {
                    _ = route(&shared, msg) => {}
                    _ = closed.wait_for(|c| c.is_some()) => break,
                }
                // Waiting on a full stream queue is this side's pause, not
                // the link's silence.
                beat.heard();
            }
            Ok(None) => {}
            Err(e) => {
                shared.mark_closed(&format!("bad frame from agent: {e}"));
                break;
            }
        }
    }
    finish(&shared).await;
}

/// Fails every pending call and tells every stream why the connection ended.
async fn finish(shared: &Shared) {
    let reason = shared.close_reason();
    lock(&shared.pending).clear();
    let streams: Vec<_> = lock(&shared.streams).drain().map(|(_, tx)| tx).collect();
    for tx in streams {
        let item = StreamItem::Disconnected(reason.clone());
        let _ = tokio::time::timeout(Duration::from_secs(1), tx.send(item)).await;
    }
}

async fn route(shared: &Shared, msg: Message) {
    let (stream, item, last) = match msg {
        Message::Response { id, result } => {
            match lock(&shared.pending).remove(&id) {
                Some(tx) => {
                    let _ = tx.send(result);
                }
                None => tracing::debug!(id, "response to no pending call"),
            }
            return;
        }
        Message::Output {
            stream,
            offset,
            data,
        } => (stream, StreamItem::Output { offset, data }, false),
        Message::Snapshot {
            stream,
            offset,
            rows,
            cols,
            data,
        } => (
            stream,
            StreamItem::Snapshot {
                offset,
                rows,
                cols,
                data,
            },
            false,
        ),
        Message::Event { stream, event } => {
            let last = matches!(event, Event::End { .. });
            (stream, StreamItem::Event(event), last)
        }
        Message::Request { method, .. } => {
            tracing::debug!(%method, "ignoring request from agent");
            return;
        }
        Message::Input { .. } => {
            tracing::debug!("ignoring input from agent");
            return;
        }
    };
    let tx = lock(&shared.streams).get(&stream).cloned();
    let Some(tx) = tx else {
        tracing::trace!(stream, "message for unknown stream");
        return;
    };
    let delivered = match tokio::time::timeout(shared.stream_stall, tx.send(item)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::warn!(stream, "stream consumer stalled; dropping the stream");
            false
        }
    };
    if last || !delivered {
        shared.remove_stream(stream);
    }
    if !delivered && !last {
        shared.try_send(shared.detach_request(stream));
    }
}
