//! Every kind of bad input at once while an honest companion streams: each
//! bad peer is refused or closed, the honest stream completes byte for
//! byte, and the agent's memory stays under a stated bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dd_client_core::StreamItem;
use dd_proto::message::TYPE_REQUEST;
use dd_proto::methods::{self as m, Hello, Resume};
use dd_proto::noise::{Initiator, StaticKeypair};
use dd_proto::{Event, Message};
use dd_testkit::raw::{close_of, handshaken, rss_kib, send_msg, tcp_from, ws_from};
use dd_testkit::{command_session, companion, owner, AgentProc};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as Ws;

/// The agent's resident memory must stay under this during and after.
const RSS_BOUND_KIB: u64 = 200 * 1024;
/// Bounds the agent runs with here.
const PER_SOURCE: usize = 16;
/// Lines the honest session prints.
const LINES: u64 = 150_000;

/// Sends an HTTP request head one byte a second; the agent must hang up
/// within its head deadline.
async fn slowloris(agent: &AgentProc) {
    let mut tcp = tcp_from(agent, "127.0.0.2").await.unwrap();
    let head = b"GET /noise/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
    let started = tokio::time::Instant::now();
    for b in head.iter().cycle() {
        if tcp.write_all(&[*b]).await.is_err() {
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => continue, // an error response; EOF follows
            Err(_) => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "slowloris kept its connection"
        );
    }
}

async fn bad_handshakes(agent: &AgentProc) {
    // Garbage instead of a handshake.
    let mut ws = ws_from(agent, "127.0.0.2").await.unwrap();
    ws.send(Ws::binary(vec![0x42; 300])).await.unwrap();
    assert_eq!(close_of(&mut ws).await.0, 1002);
    // A truncated first handshake message.
    let hello = Hello {
        version: 1,
        client: "x".into(),
    };
    let (_i, m1) = Initiator::start(&StaticKeypair::generate(), &agent.key, &hello).unwrap();
    let mut ws = ws_from(agent, "127.0.0.2").await.unwrap();
    ws.send(Ws::binary(m1[..m1.len() / 2].to_vec()))
        .await
        .unwrap();
    assert_eq!(close_of(&mut ws).await.0, 1002);
    // A random static key aimed at another agent key: the handshake fails.
    let other = StaticKeypair::generate().public();
    let (_i, m1) = Initiator::start(&StaticKeypair::generate(), &other, &hello).unwrap();
    let mut ws = ws_from(agent, "127.0.0.2").await.unwrap();
    ws.send(Ws::binary(m1)).await.unwrap();
    assert_eq!(close_of(&mut ws).await.0, 1002);
    // A random (unknown) static key: it may only redeem; anything else is
    // refused and the connection closed.
    let (mut ws, mut sealer) = handshaken(agent, &StaticKeypair::generate(), "127.0.0.2").await;
    let req = Message::Request {
        id: 1,
        method: m::SESSION_LIST.into(),
        params: json!({}).into(),
    };
    send_msg(&mut ws, &mut sealer, &req.encode()).await;
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.starts_with("unauthorized"), "{reason}");
}

async fn bad_frames(agent: &AgentProc, key: &StaticKeypair) {
    // Oversized frame.
    let (mut ws, _) = handshaken(agent, key, "127.0.0.2").await;
    let _ = ws.send(Ws::binary(vec![7u8; 100_000])).await;
    assert_eq!(close_of(&mut ws).await.0, 1009);
    // Truncated transport frame.
    let (mut ws, mut sealer) = handshaken(agent, key, "127.0.0.2").await;
    let req = Message::Request {
        id: 1,
        method: m::SESSION_LIST.into(),
        params: json!({}).into(),
    };
    let f = sealer.seal(&req).unwrap().remove(0);
    ws.send(Ws::binary(f[..f.len() - 5].to_vec()))
        .await
        .unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1002, "{reason}");
    // Invalid UTF-8 and invalid JSON where a request is expected.
    for payload in [vec![0xc3, 0x28, 0xff], b"{\"id\":1,".to_vec()] {
        let (mut ws, mut sealer) = handshaken(agent, key, "127.0.0.2").await;
        let mut msg = vec![TYPE_REQUEST];
        msg.extend_from_slice(&payload);
        send_msg(&mut ws, &mut sealer, &msg).await;
        let (code, reason) = close_of(&mut ws).await;
        assert_eq!(code, 1002, "{reason}");
        assert!(reason.starts_with("bad_request"), "{reason}");
    }
    // A replayed transport message.
    let (mut ws, mut sealer) = handshaken(agent, key, "127.0.0.2").await;
    let f = sealer.seal(&req).unwrap().remove(0);
    ws.send(Ws::binary(f.clone())).await.unwrap();
    ws.send(Ws::binary(f)).await.unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1002, "{reason}");
}

/// Fills one source's share of connections; the next is refused, and a
/// released slot can be taken again.
async fn connection_flood(agent: &AgentProc) {
    let mut held = Vec::new();
    for _ in 0..PER_SOURCE {
        held.push(ws_from(agent, "127.0.0.3").await.expect("within the bound"));
    }
    for _ in 0..5 {
        let e = ws_from(agent, "127.0.0.3")
            .await
            .expect_err("over the bound");
        assert!(
            e == "http 503 Service Unavailable" || !e.starts_with("http"),
            "{e}"
        );
    }
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match ws_from(agent, "127.0.0.3").await {
            Ok(ws) => break held.push(ws),
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pipelines requests without reading a single response: the agent stops
/// reading, and drops the connection as too slow.
async fn request_flood(agent: &AgentProc, key: &StaticKeypair) {
    let (ws, mut sealer) = handshaken(agent, key, "127.0.0.4").await;
    let (mut sink, mut source) = ws.split();
    // Unbounded: loopback socket buffers can hold megabytes, so only the
    // agent closing the connection ends this loop.
    let sender = tokio::spawn(async move {
        for id in 1u64.. {
            let req = Message::Request {
                id,
                method: m::AUDIT_LIST.into(),
                params: json!({"limit": 1000}).into(),
            };
            for f in sealer.seal(&req).unwrap() {
                if sink.send(Ws::binary(f)).await.is_err() {
                    return id;
                }
            }
        }
        u64::MAX
    });
    // Do not read until the agent has given up on us.
    let sent = tokio::time::timeout(Duration::from_secs(90), sender)
        .await
        .expect("the agent kept reading a peer that never reads")
        .unwrap();
    assert!(sent < u64::MAX);
    // What is left to read ends (no close frame needed: it may not fit).
    let drained = async { while let Some(Ok(_)) = source.next().await {} };
    tokio::time::timeout(Duration::from_secs(60), drained)
        .await
        .expect("the connection stayed open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_bad_peers_leaves_the_honest_stream_whole() {
    let per_source = PER_SOURCE.to_string();
    let agent = AgentProc::start_with(&[
        "--max-conns-per-source",
        &per_source,
        "--slow-timeout",
        "3s",
    ]);
    let (own, owner_key) = owner(&agent).await;
    let script = format!("sleep 2; seq 1 {LINES}");
    let session = command_session(&own, &["/bin/sh", "-c", &script]).await;
    let (phone, _, _) = companion(&own, &session, json!({})).await;

    let max_rss = Arc::new(AtomicU64::new(0));
    let pid = agent.pid();
    let sampler = {
        let max_rss = max_rss.clone();
        tokio::spawn(async move {
            loop {
                max_rss.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let honest = async {
        let mut s = phone
            .attach(&session, Resume::Offset { offset: 0 })
            .await
            .unwrap();
        let mut out = Vec::new();
        loop {
            match s.next().await {
                Some(StreamItem::Output { offset, data }) => {
                    assert_eq!(offset, out.len() as u64);
                    out.extend_from_slice(&data);
                }
                Some(StreamItem::Event(Event::Exited { .. })) => break,
                Some(StreamItem::Event(Event::End { reason, .. })) => panic!("ended: {reason:?}"),
                Some(StreamItem::Disconnected(why)) => panic!("disconnected: {why}"),
                Some(_) => {}
                None => panic!("stream ended"),
            }
        }
        out
    };
    let streams_cap = async {
        let (o2, _) = owner(&agent).await;
        let mut held = Vec::new();
        for _ in 0..64 {
            held.push(o2.events(&session).await.expect("within the bound"));
        }
        let e = o2.events(&session).await.unwrap_err();
        assert_eq!(e.code().unwrap().as_str(), "rate_limited");
        drop(held);
    };
    let slowloris_all = async {
        tokio::join!(slowloris(&agent), slowloris(&agent), slowloris(&agent));
    };
    let (out, ..) = tokio::time::timeout(Duration::from_secs(240), async {
        tokio::join!(
            honest,
            slowloris_all,
            bad_handshakes(&agent),
            bad_frames(&agent, &owner_key),
            connection_flood(&agent),
            request_flood(&agent, &owner_key),
            streams_cap,
        )
    })
    .await
    .expect("the storm did not settle");

    let mut expected = Vec::new();
    for i in 1..=LINES {
        expected.extend_from_slice(format!("{i}\r\n").as_bytes());
    }
    assert_eq!(out.len(), expected.len());
    assert!(out == expected, "the honest stream was corrupted");

    // The agent still serves, logged the too-slow peer, and stayed small.
    let v = own
        .call(m::AUDIT_LIST, json!({"limit": 1000}))
        .await
        .unwrap();
    assert!(
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "too_slow"
                && r["actor"].as_str().unwrap().starts_with("device:")),
        "no too_slow record for the request flood"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    sampler.abort();
    let now = rss_kib(pid);
    let max = max_rss.load(Ordering::Relaxed).max(now);
    eprintln!("agent RSS: max {max} KiB, after {now} KiB");
    assert!(max < RSS_BOUND_KIB, "RSS peaked at {max} KiB");
    assert!(now < RSS_BOUND_KIB, "RSS after the storm {now} KiB");
}
