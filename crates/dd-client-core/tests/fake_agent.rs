//! The client core against a scripted agent on a real 127.0.0.1 socket:
//! handshake, refusal, routing of responses and streams, and hostile input.

use dd_client_core::dd_proto::methods::{Resume, SessionInfo, SessionStatus, Welcome};
use dd_client_core::dd_proto::noise::{Responder, StaticKeypair};
use dd_client_core::dd_proto::{ErrorBody, ErrorCode, Event, Message};
use dd_client_core::{connect, ClientError, StreamItem};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as Ws;

fn info() -> SessionInfo {
    SessionInfo {
        id: "s_1".into(),
        name: "sh".into(),
        command: vec!["sh".into()],
        cwd: "/".into(),
        status: SessionStatus::Running,
        exit_code: None,
        created_at: 0,
        rows: 24,
        cols: 80,
        title: String::new(),
        end_offset: 0,
        clients: 1,
        waiting: None,
    }
}

#[derive(Clone, Copy)]
enum Mode {
    Normal,
    Refuse,
}

/// Serves one connection with a tiny scripted agent; returns its URL and key.
async fn fake_agent(mode: Mode) -> (String, [u8; 32]) {
    let key = StaticKeypair::generate();
    let public = key.public();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let Some(Ok(Ws::Binary(m1))) = ws.next().await else {
            return;
        };
        let Ok(resp) = Responder::read_first(&key, &m1) else {
            return;
        };
        let welcome = match mode {
            Mode::Normal => Welcome {
                version: 1,
                principal: Some("owner".into()),
                error: None,
            },
            Mode::Refuse => Welcome {
                version: 1,
                principal: None,
                error: Some(ErrorBody::new(ErrorCode::Revoked, "device revoked")),
            },
        };
        let (t, m2) = resp.finish(&welcome).unwrap();
        ws.send(Ws::binary(m2)).await.unwrap();
        let (mut sealer, mut opener) = t.split();
        while let Some(Ok(Ws::Binary(f))) = ws.next().await {
            let Ok(Some(msg)) = opener.open(&f) else {
                return;
            };
            let mut replies = Vec::new();
            match msg {
                Message::Request { id, method, params } => match method.as_str() {
                    "echo" => replies.push(Message::Response {
                        id,
                        result: Ok(params.to_value()),
                    }),
                    "fail" => replies.push(Message::Response {
                        id,
                        result: Err(ErrorBody::new(ErrorCode::Forbidden, "no")),
                    }),
                    "session.attach" => {
                        let attached = json!({"stream": id, "session": info(), "can_input": true});
                        replies.push(Message::Response {
                            id,
                            result: Ok(attached),
                        });
                        // Messages for an unknown stream are ignored.
                        replies.push(Message::Output {
                            stream: 999,
                            offset: 0,
                            data: b"lost".to_vec(),
                        });
                        for i in 0..3u64 {
                            replies.push(Message::Output {
                                stream: id,
                                offset: i * 5,
                                data: format!("out{i}\n").into_bytes(),
                            });
                        }
                    }
                    "session.detach" => {
                        let stream = params.to_value()["stream"].as_u64().unwrap();
                        replies.push(Message::Response {
                            id,
                            result: Ok(json!({})),
                        });
                        replies.push(Message::Event {
                            stream,
                            event: Event::End {
                                reason: dd_client_core::dd_proto::message::EndReason::Detached,
                                message: "bye".into(),
                            },
                        });
                    }
                    "garbage" => {
                        ws.send(Ws::binary(vec![0u8; 40])).await.unwrap();
                        continue;
                    }
                    _ => replies.push(Message::Response {
                        id,
                        result: Err(ErrorBody::new(ErrorCode::UnknownMethod, "?")),
                    }),
                },
                Message::Input { stream, data } => replies.push(Message::Output {
                    stream,
                    offset: 15,
                    data,
                }),
                _ => {}
            }
            for r in replies {
                for f in sealer.seal(&r).unwrap() {
                    ws.send(Ws::binary(f)).await.unwrap();
                }
            }
        }
    });
    (url, public)
}

#[tokio::test]
async fn calls_streams_and_detach() {
    let (url, agent_key) = fake_agent(Mode::Normal).await;
    let me = StaticKeypair::generate();
    let (conn, welcome) = connect(&url, &agent_key, &me, "test/0").await.unwrap();
    assert_eq!(welcome.principal.as_deref(), Some("owner"));
    let v = conn.call("echo", json!({"a": 1})).await.unwrap();
    assert_eq!(v, json!({"a": 1}));
    let e = conn.call("fail", json!({})).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Forbidden));
    assert!(e.is_authorization());

    let mut s = conn.attach("s_1", Resume::Screen).await.unwrap();
    assert!(s.attached.can_input);
    let mut got = Vec::new();
    for _ in 0..3 {
        match s.next().await.unwrap() {
            StreamItem::Output { data, .. } => got.extend(data),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, b"out0\nout1\nout2\n");
    assert_eq!(s.next_offset(), Some(15));
    s.send_input(b"typed").await.unwrap();
    assert_eq!(
        s.next().await.unwrap(),
        StreamItem::Output {
            offset: 15,
            data: b"typed".to_vec()
        }
    );
    s.detach().await.unwrap();
    assert!(matches!(
        s.next().await,
        Some(StreamItem::Event(Event::End { .. }))
    ));
    assert_eq!(s.next().await, None);
    // The connection still serves calls.
    assert_eq!(conn.call("echo", json!({})).await.unwrap(), json!({}));
    conn.close().await;
    assert!(conn.is_closed());
    assert_eq!(
        conn.call("echo", json!({})).await.unwrap_err(),
        ClientError::Closed
    );
}

#[tokio::test]
async fn garbage_from_agent_ends_everything_without_panic() {
    let (url, agent_key) = fake_agent(Mode::Normal).await;
    let me = StaticKeypair::generate();
    let (conn, _) = connect(&url, &agent_key, &me, "test/0").await.unwrap();
    let mut s = conn.attach("s_1", Resume::Screen).await.unwrap();
    let e = conn.call("garbage", json!({})).await.unwrap_err();
    assert_eq!(e, ClientError::Closed);
    assert!(conn.is_closed());
    let mut last = None;
    while let Some(item) = s.next().await {
        last = Some(item);
    }
    assert!(
        matches!(last, Some(StreamItem::Disconnected(_))),
        "{last:?}"
    );
}

#[tokio::test]
async fn refusal_and_wrong_key_and_no_agent() {
    let (url, agent_key) = fake_agent(Mode::Refuse).await;
    let me = StaticKeypair::generate();
    let e = connect(&url, &agent_key, &me, "t").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Revoked));
    assert!(matches!(e, ClientError::Refused(_)));

    let (url, _) = fake_agent(Mode::Normal).await;
    let wrong = StaticKeypair::generate().public();
    let e = connect(&url, &wrong, &me, "t").await.unwrap_err();
    assert!(matches!(e, ClientError::Handshake(_)), "{e:?}");

    // A port nobody listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let e = connect(&dead, &wrong, &me, "t").await.unwrap_err();
    assert!(matches!(e, ClientError::Connect(_)), "{e:?}");
    let e = connect("wss://127.0.0.1:1", &wrong, &me, "t")
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Connect(_)), "{e:?}");
}
