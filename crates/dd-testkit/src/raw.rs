//! Raw peers for hostile-peer tests: plain TCP and WebSocket connections
//! (from a chosen loopback source address), a hand-driven Noise handshake,
//! and reading the agent's close frame.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use dd_proto::methods::{Hello, Welcome};
use dd_proto::noise::{Initiator, Sealer, StaticKeypair};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::WebSocketStream;

use crate::AgentProc;

/// A raw WebSocket to the agent.
pub type Socket = WebSocketStream<TcpStream>;

/// A TCP connection to the agent from source address `from` (any
/// 127.0.0.0/8 address works on Linux).
pub async fn tcp_from(agent: &AgentProc, from: &str) -> std::io::Result<TcpStream> {
    let ip: IpAddr = from
        .parse()
        .map_err(|_| std::io::Error::other("bad source address"))?;
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(ip, 0))?;
    let to: SocketAddr = agent
        .listen_addr()
        .parse()
        .map_err(|_| std::io::Error::other("bad agent address"))?;
    sock.connect(to).await
}

/// A WebSocket to the agent's Noise endpoint from `from`; an HTTP refusal
/// comes back as `"http STATUS"`.
pub async fn ws_from(agent: &AgentProc, from: &str) -> Result<Socket, String> {
    let tcp = tcp_from(agent, from).await.map_err(|e| e.to_string())?;
    let url = dd_proto::link::ws_url(&agent.url);
    tokio_tungstenite::client_async(url, tcp)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(r) => format!("http {}", r.status()),
            other => other.to_string(),
        })
}

/// A WebSocket to the agent's Noise endpoint from 127.0.0.1.
pub async fn ws(agent: &AgentProc) -> Socket {
    ws_from(agent, "127.0.0.1").await.expect("websocket")
}

/// Reads until the agent's close frame (at most 30 s); returns its code and
/// reason (1005 for a close without a code, 0 for an error or EOF).
pub async fn close_of(ws: &mut Socket) -> (u16, String) {
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
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("no close")
}

/// A completed Noise handshake with `key` from `from`: the socket and the
/// sealer for sending.
pub async fn handshaken(agent: &AgentProc, key: &StaticKeypair, from: &str) -> (Socket, Sealer) {
    let mut ws = ws_from(agent, from).await.expect("websocket");
    let hello = Hello {
        version: 1,
        client: "raw".into(),
    };
    let (init, m1) = Initiator::start(key, &agent.key, &hello).expect("handshake start");
    ws.send(Ws::binary(m1)).await.expect("send handshake");
    let reply = loop {
        match ws.next().await.expect("reply").expect("reply") {
            Ws::Binary(b) => break b,
            _ => continue,
        }
    };
    let (t, w): (_, Welcome) = init.finish(&reply).expect("handshake finish");
    assert!(w.error.is_none(), "{w:?}");
    let (sealer, _opener) = t.split();
    (ws, sealer)
}

/// Sends one application message, fragmented and sealed.
pub async fn send_msg(ws: &mut Socket, sealer: &mut Sealer, msg: &[u8]) {
    for f in dd_proto::fragment(msg) {
        let _ = ws
            .send(Ws::binary(sealer.seal_fragment(&f).expect("seal")))
            .await;
    }
}

/// Resident memory of `pid` in KiB (0 if it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
