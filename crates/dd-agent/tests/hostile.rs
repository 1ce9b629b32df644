//! Broken and hostile peers against a real agent: each gets a clear close
//! reason, and the agent keeps serving an honest owner throughout.

use std::time::Duration;

use dd_proto::message::TYPE_REQUEST;
use dd_proto::methods::{Hello, Welcome};
use dd_proto::noise::{Initiator, Sealer, StaticKeypair};
use dd_proto::Message;
use dd_testkit::{owner, AgentProc};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn raw(agent: &AgentProc) -> Socket {
    let url = dd_proto::link::ws_url(&agent.url);
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Reads until the agent's close frame; returns its code and reason.
async fn close_of(ws: &mut Socket) -> (u16, String) {
    let fut = async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Ws::Close(Some(f))) => return (u16::from(f.code), f.reason.to_string()),
                Ok(Ws::Close(None)) => return (1005, String::new()),
                Ok(_) => continue,
                Err(e) => return (0, e.to_string()),
            }
        }
        (0, "eof".into())
    };
    tokio::time::timeout(Duration::from_secs(15), fut)
        .await
        .expect("no close")
}

/// Completes a real handshake with `key`; returns the socket and sealer.
async fn handshaken(agent: &AgentProc, key: &StaticKeypair) -> (Socket, Sealer) {
    let mut ws = raw(agent).await;
    let hello = Hello {
        version: 1,
        client: "hostile".into(),
    };
    let (init, m1) = Initiator::start(key, &agent.key, &hello).unwrap();
    ws.send(Ws::binary(m1)).await.unwrap();
    let reply = loop {
        match ws.next().await.unwrap().unwrap() {
            Ws::Binary(b) => break b,
            _ => continue,
        }
    };
    let (t, w): (_, Welcome) = init.finish(&reply).unwrap();
    assert!(w.error.is_none());
    let (sealer, _opener) = t.split();
    (ws, sealer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_peers_get_clear_reasons_and_honest_clients_carry_on() {
    let agent = AgentProc::start();
    let (own, owner_key) = owner(&agent).await;
    let honest = || async { own.call("session.list", json!({})).await.unwrap() };

    // Garbage instead of a handshake.
    let mut ws = raw(&agent).await;
    ws.send(Ws::binary(b"GET / HTTP/1.1\r\n\r\n".to_vec()))
        .await
        .unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(
        (code, reason.as_str()),
        (1002, "bad_request: noise handshake failed")
    );
    honest().await;

    // A text frame.
    let mut ws = raw(&agent).await;
    ws.send(Ws::text("hello")).await.unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1003, "{reason}");
    assert!(reason.starts_with("bad_request"));

    // A handshake for another agent's key (random static key on our side too).
    let mut ws = raw(&agent).await;
    let (_i, m1) = Initiator::start(
        &StaticKeypair::generate(),
        &StaticKeypair::generate().public(),
        &Hello {
            version: 1,
            client: "x".into(),
        },
    )
    .unwrap();
    ws.send(Ws::binary(m1)).await.unwrap();
    assert_eq!(close_of(&mut ws).await.0, 1002);

    // A wrong protocol version is refused in the (authenticated) welcome.
    let mut ws = raw(&agent).await;
    let (init, m1) = Initiator::start(
        &StaticKeypair::generate(),
        &agent.key,
        &Hello {
            version: 99,
            client: "future".into(),
        },
    )
    .unwrap();
    ws.send(Ws::binary(m1)).await.unwrap();
    let reply = match ws.next().await.unwrap().unwrap() {
        Ws::Binary(b) => b,
        other => panic!("{other:?}"),
    };
    let (_, w) = init.finish(&reply).unwrap();
    assert_eq!(w.error.unwrap().code.as_str(), "unsupported_version");

    // A frame over the Noise limit after the handshake.
    let (mut ws, _) = handshaken(&agent, &owner_key).await;
    ws.send(Ws::binary(vec![0u8; 70_000])).await.unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1009);
    assert!(reason.starts_with("too_large"), "{reason}");

    // A message over 4 MiB, in valid fragments.
    let (mut ws, mut sealer) = handshaken(&agent, &owner_key).await;
    let body = vec![b'x'; dd_proto::MAX_FRAGMENT - 1];
    for _ in 0..80 {
        let mut frag = vec![dd_proto::frame::FLAG_MORE];
        frag.extend_from_slice(&body);
        if ws
            .send(Ws::binary(sealer.seal_fragment(&frag).unwrap()))
            .await
            .is_err()
        {
            break;
        }
    }
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1009, "{reason}");

    // Malformed JSON (and invalid UTF-8) where a request is expected.
    for payload in [b"{not json".to_vec(), vec![0xff, 0xfe, 0x00]] {
        let (mut ws, mut sealer) = handshaken(&agent, &owner_key).await;
        let mut msg = vec![TYPE_REQUEST];
        msg.extend_from_slice(&payload);
        for f in dd_proto::fragment(&msg) {
            ws.send(Ws::binary(sealer.seal_fragment(&f).unwrap()))
                .await
                .unwrap();
        }
        let (code, reason) = close_of(&mut ws).await;
        assert_eq!(code, 1002);
        assert!(
            reason.starts_with("bad_request: invalid request JSON"),
            "{reason}"
        );
    }

    // An unknown message type, and a message only the agent may send.
    for msg in [
        vec![0x09, 1, 2, 3],
        Message::Output {
            stream: 1,
            offset: 0,
            data: vec![],
        }
        .encode(),
    ] {
        let (mut ws, mut sealer) = handshaken(&agent, &owner_key).await;
        for f in dd_proto::fragment(&msg) {
            ws.send(Ws::binary(sealer.seal_fragment(&f).unwrap()))
                .await
                .unwrap();
        }
        let (code, reason) = close_of(&mut ws).await;
        assert_eq!(code, 1002, "{reason}");
        assert!(reason.starts_with("bad_request"));
    }

    // A replayed Noise message.
    let (mut ws, mut sealer) = handshaken(&agent, &owner_key).await;
    let req = Message::Request {
        id: 1,
        method: "session.list".into(),
        params: json!({}),
    };
    let frame = sealer.seal(&req).unwrap().remove(0);
    ws.send(Ws::binary(frame.clone())).await.unwrap();
    ws.send(Ws::binary(frame)).await.unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1002);
    assert!(reason.contains("decrypt"), "{reason}");

    // Well-formed requests with bad parameters get an error, not a close.
    let e = own
        .call("session.meta", json!({"session": 5}))
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "bad_request");
    let e = own
        .call(
            "session.input",
            json!({"session": "s_000000000000", "data": "!!"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "bad_request");
    let e = own
        .call("session.meta", json!({"session": "../../etc"}))
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "not_found");
    honest().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_dropped_after_the_handshake_timeout() {
    let agent = AgentProc::start();
    let mut ws = raw(&agent).await;
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1008);
    assert_eq!(reason, "bad_request: handshake timed out");
}

#[test]
fn close_code_constants_match_the_docs() {
    assert_eq!(u16::from(CloseCode::Protocol), 1002);
    assert_eq!(u16::from(CloseCode::Size), 1009);
}
