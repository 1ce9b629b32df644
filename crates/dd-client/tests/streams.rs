//! End-to-end through the client library: several clients on one session,
//! and resuming a stream with nothing lost and nothing repeated.

mod common;

use std::time::Duration;

use common::{Agent, Client};
use dd_client_core::dd_proto::message::EndReason;
use dd_client_core::dd_proto::methods::{Resume, SessionList};
use dd_client_core::dd_proto::Event;
use dd_client_core::{AttachStream, StreamItem};

/// Reads until `needle` shows up in the stream's bytes.
async fn read_until(s: &mut AttachStream, needle: &str) -> Vec<u8> {
    let mut seen = Vec::new();
    let fut = async {
        while let Some(item) = s.next().await {
            match item {
                StreamItem::Output { data, .. } | StreamItem::Snapshot { data, .. } => {
                    seen.extend_from_slice(&data);
                    if String::from_utf8_lossy(&seen).contains(needle) {
                        return;
                    }
                }
                StreamItem::Event(Event::End { .. }) | StreamItem::Disconnected(_) => {
                    panic!("stream ended before {needle:?}")
                }
                StreamItem::Event(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} in time"));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_see_the_same_output_and_detach_alone() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_on(&dir.path().join("state"));
    let c = Client::new();
    c.enroll(&agent);
    let id = c.new_session(&["sh"]);
    let (a, b) = (c.connect().await, c.connect().await);
    let mut sa = a.attach(&id, Resume::Screen).await.unwrap();
    let mut sb = b.attach(&id, Resume::Screen).await.unwrap();
    sa.send_input(b"echo both-$((3*3))\r").await.unwrap();
    read_until(&mut sa, "both-9").await;
    read_until(&mut sb, "both-9").await;

    sa.detach().await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match sa.next().await {
                Some(StreamItem::Event(Event::End { reason, .. })) => return reason,
                Some(_) => continue,
                None => panic!("no end"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(end, EndReason::Detached);
    // B keeps streaming and the session keeps running.
    sb.send_input(b"echo still-$((2+2))\r").await.unwrap();
    read_until(&mut sb, "still-4").await;
    let list: SessionList = a
        .call_typed("session.list", &serde_json::json!({}))
        .await
        .unwrap();
    let s = list.sessions.iter().find(|s| s.id == id).unwrap();
    assert!(s.status.is_live());
}

/// Reads output from `s` (checking contiguous offsets from `start`) until
/// the stream ends or `stop_after` bytes were read.
async fn collect(s: &mut AttachStream, start: u64, stop_after: Option<usize>) -> Vec<u8> {
    let mut got = Vec::new();
    let mut expect = start;
    let fut = async {
        while let Some(item) = s.next().await {
            match item {
                StreamItem::Output { offset, data } => {
                    assert_eq!(offset, expect, "gap or repeat in the stream");
                    expect += data.len() as u64;
                    got.extend_from_slice(&data);
                    if stop_after.is_some_and(|n| got.len() >= n) {
                        return;
                    }
                }
                StreamItem::Event(Event::End { reason, message }) => {
                    assert_eq!(reason, EndReason::SessionEnded, "{message}");
                    return;
                }
                StreamItem::Disconnected(why) => panic!("disconnected: {why}"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(300), fut)
        .await
        .expect("stream too slow");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_disconnect_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_on(&dir.path().join("state"));
    let c = Client::new();
    c.enroll(&agent);
    const TOTAL: usize = 20_000_000;
    let script =
        format!("head -c {TOTAL} /dev/urandom | od -An -tx1 -v | head -c {TOTAL}; echo; echo END");
    let id = c.new_session(&["sh", "-c", &script]);

    let first = c.connect().await;
    let mut s = first
        .attach(&id, Resume::Offset { offset: 0 })
        .await
        .unwrap();
    let part1 = collect(&mut s, 0, Some(3_000_000)).await;
    let resume_at = s.next_offset().unwrap();
    assert_eq!(resume_at, part1.len() as u64);
    first.close().await;
    drop(s);

    let second = c.connect().await;
    let mut s = second
        .attach(&id, Resume::Offset { offset: resume_at })
        .await
        .unwrap();
    let part2 = collect(&mut s, resume_at, None).await;

    let third = c.connect().await;
    let mut s = third
        .attach(&id, Resume::Offset { offset: 0 })
        .await
        .unwrap();
    let whole = collect(&mut s, 0, None).await;

    assert!(whole.len() >= TOTAL, "only {} bytes", whole.len());
    let joined = [part1, part2].concat();
    assert_eq!(joined.len(), whole.len());
    assert!(
        joined == whole,
        "resumed bytes differ from a from-start read"
    );
}
