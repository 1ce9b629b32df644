//! Broken and hostile peers against a real agent: each gets a clear close
//! reason, and the agent keeps serving an honest owner throughout.

use dd_proto::message::TYPE_REQUEST;
use dd_proto::methods::Hello;
use dd_proto::noise::{Initiator, StaticKeypair};
use dd_proto::Message;
use dd_testkit::raw::{self, close_of, handshaken};
use dd_testkit::{owner, AgentProc};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as Ws;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_peers_get_clear_reasons_and_honest_clients_carry_on() {
    let agent = AgentProc::start();
    let (own, owner_key) = owner(&agent).await;
    let honest = || async { own.call("session.list", json!({})).await.unwrap() };

    // Garbage instead of a handshake.
    let mut ws = raw::ws(&agent).await;
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
    let mut ws = raw::ws(&agent).await;
    ws.send(Ws::text("hello")).await.unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1003, "{reason}");
    assert!(reason.starts_with("bad_request"));

    // A handshake for another agent's key (random static key on our side too).
    let mut ws = raw::ws(&agent).await;
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
    let mut ws = raw::ws(&agent).await;
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
    let (mut ws, _) = handshaken(&agent, &owner_key, "127.0.0.1").await;
    ws.send(Ws::binary(vec![0u8; 70_000])).await.unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1009);
    assert!(reason.starts_with("too_large"), "{reason}");

    // A message over 4 MiB, in valid fragments.
    let (mut ws, mut sealer) = handshaken(&agent, &owner_key, "127.0.0.1").await;
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
        let (mut ws, mut sealer) = handshaken(&agent, &owner_key, "127.0.0.1").await;
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
        let (mut ws, mut sealer) = handshaken(&agent, &owner_key, "127.0.0.1").await;
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
    let (mut ws, mut sealer) = handshaken(&agent, &owner_key, "127.0.0.1").await;
    let req = Message::Request {
        id: 1,
        method: "session.list".into(),
        params: json!({}).into(),
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
    let mut ws = raw::ws(&agent).await;
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, 1008);
    assert_eq!(reason, "bad_request: handshake timed out");
}

#[test]
fn close_code_constants_match_the_docs() {
    assert_eq!(u16::from(CloseCode::Protocol), 1002);
    assert_eq!(u16::from(CloseCode::Size), 1009);
}
