//! A companion that stops reading while another client streams at full
//! speed: the fast one gets every byte, the slow one is dropped with
//! `too_slow` after `--slow-timeout`, and on reconnect it resumes from its
//! offset with nothing lost and nothing repeated.

use std::time::Duration;

use dd_client_core::{connect_with, AttachStream, ConnectOptions, Connection, StreamItem};
use dd_proto::methods::{self as m, Resume};
use dd_proto::Event;
use dd_testkit::{command_session, companion, owner, AgentProc};
use serde_json::json;

/// Lines the session prints: ~10 MB through the PTY, more than the
/// socket buffers between the agent and a client that does not read.
const LINES: u64 = 1_200_000;

/// Reads a stream until its session exits (or the stream ends otherwise);
/// returns the bytes from `from` on and how the stream ended.
async fn drain(s: &mut AttachStream, from: u64, out: &mut Vec<u8>) -> String {
    loop {
        match s.next().await {
            Some(StreamItem::Output { offset, data }) => {
                assert_eq!(offset, from + out.len() as u64, "gap or repeat");
                out.extend_from_slice(&data);
            }
            Some(StreamItem::Event(Event::Exited { end_offset, .. })) => {
                assert_eq!(end_offset, from + out.len() as u64);
                return "exited".into();
            }
            Some(StreamItem::Event(Event::End { reason, .. })) => {
                return format!("end: {reason:?}");
            }
            Some(StreamItem::Disconnected(why)) => return format!("disconnected: {why}"),
            Some(_) => {}
            None => return "none".into(),
        }
    }
}

fn expected() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 1..=LINES {
        v.extend_from_slice(format!("{i}\r\n").as_bytes());
    }
    v
}

async fn too_slow_records(own: &Connection) -> Vec<serde_json::Value> {
    let v = own
        .call(m::AUDIT_LIST, json!({"limit": 1000}))
        .await
        .unwrap();
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "too_slow")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_that_stops_reading_is_dropped_and_resumes_without_loss() {
    let agent = AgentProc::start_with(&["--slow-timeout", "3s"]);
    let (own, _) = owner(&agent).await;
    let script = format!("sleep 1; seq 1 {LINES}");
    let session = command_session(&own, &["/bin/sh", "-c", &script]).await;

    // The slow phone: its client queues at most one item per stream and
    // never drops a stream locally, so not reading here stops it reading
    // the socket.
    let (paired, phone_key, _) = companion(&own, &session, json!({})).await;
    paired.close().await;
    let slow_opts = ConnectOptions {
        stream_queue: 1,
        stream_stall: Duration::from_secs(600),
        ..ConnectOptions::default()
    };
    let (slow_conn, _) = connect_with(&agent.url, &agent.key, &phone_key, "slow", slow_opts)
        .await
        .unwrap();
    let mut slow = slow_conn
        .attach(&session, Resume::Offset { offset: 0 })
        .await
        .unwrap();

    // The fast client reads everything as it comes.
    let (fast_conn, _) = owner(&agent).await;
    let fast = tokio::spawn(async move {
        let mut s = fast_conn
            .attach(&session, Resume::Offset { offset: 0 })
            .await
            .unwrap();
        let mut out = Vec::new();
        let end = drain(&mut s, 0, &mut out).await;
        (end, out, session)
    });
    let t0 = std::time::Instant::now();
    let (end, fast_bytes, session) = tokio::time::timeout(Duration::from_secs(300), fast)
        .await
        .expect("the fast client was held up")
        .unwrap();
    assert_eq!(end, "exited");
    eprintln!("fast client done in {:?}", t0.elapsed());
    assert_eq!(fast_bytes.len(), expected().len());
    assert!(fast_bytes == expected(), "fast client got other bytes");

    // The slow one is dropped with too_slow (audited) after its timeout.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let rec = loop {
        // The phone's own record (a busy machine can also drop the
        // short-lived pairing connection, which streamed nothing).
        let mine = too_slow_records(&own)
            .await
            .into_iter()
            .find(|r| r["session_id"].as_str() == Some(session.as_str()));
        if let Some(r) = mine {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no too_slow audit record for {session}: {:?}",
            own.call(m::AUDIT_LIST, json!({"limit": 20})).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        rec["actor"].as_str().unwrap().starts_with("grant:"),
        "{rec}"
    );
    assert_eq!(rec["session_id"].as_str(), Some(session.as_str()), "{rec}");

    // Catching up now gives what was already in flight, then the end of
    // the connection — never the whole session.
    let mut first = Vec::new();
    let end = tokio::time::timeout(Duration::from_secs(60), drain(&mut slow, 0, &mut first))
        .await
        .expect("the dropped connection never ended");
    assert!(end.starts_with("disconnected"), "{end}");
    assert!(
        first.len() < fast_bytes.len(),
        "the slow client was not dropped early ({} bytes)",
        first.len()
    );
    assert!(slow_conn.is_closed());

    // Reconnect and resume from the last offset: the rest, byte for byte.
    let (again, _) = dd_client_core::connect(&agent.url, &agent.key, &phone_key, "slow")
        .await
        .unwrap();
    let from = first.len() as u64;
    let mut rest_stream = again
        .attach(&session, Resume::Offset { offset: from })
        .await
        .unwrap();
    let mut rest = Vec::new();
    let end = tokio::time::timeout(
        Duration::from_secs(120),
        drain(&mut rest_stream, from, &mut rest),
    )
    .await
    .expect("resume stalled");
    assert_eq!(end, "exited");
    first.extend_from_slice(&rest);
    assert!(first == fast_bytes, "resumed bytes differ");
    // The resumed stream kept up: no second drop of the phone.
    let phone_drops = too_slow_records(&own)
        .await
        .into_iter()
        .filter(|r| r["session_id"].as_str() == Some(session.as_str()))
        .count();
    assert_eq!(phone_drops, 1);
}
