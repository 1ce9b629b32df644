//! Opening the socket: TCP (with `TCP_NODELAY`), TLS for `wss://`, the
//! WebSocket upgrade and the Noise IK handshake.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use dd_proto::keepalive::Keepalive;
use dd_proto::methods::{Hello, Welcome};
use dd_proto::noise::{Initiator, StaticKeypair, Transport};
use dd_proto::PROTOCOL_VERSION;
use futures_util::{SinkExt, StreamExt};
use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;
use url::{Host, Url};

use crate::error::ClientError;
use crate::tls::{self, TlsOptions};

/// The byte stream under the WebSocket: plain TCP (`ws://`) or TLS over
/// TCP (`wss://`).
pub(crate) enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The WebSocket type used by a connection.
pub(crate) type Ws = WebSocketStream<Io>;

/// Resolves and connects the TCP socket for a `ws://` or `wss://` URL.
async fn tcp_connect(url: &Url, bind: Option<IpAddr>) -> Result<TcpStream, ClientError> {
    match url.scheme() {
        "ws" | "wss" => {}
        other => return Err(ClientError::Connect(format!("unsupported scheme {other}"))),
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| ClientError::Connect("agent URL has no port".into()))?;
    let stream = match (url.host(), bind) {
        (Some(Host::Domain(d)), None) => TcpStream::connect((d, port)).await,
        (Some(Host::Ipv4(a)), None) => TcpStream::connect((a, port)).await,
        (Some(Host::Ipv6(a)), None) => TcpStream::connect((a, port)).await,
        (Some(host), Some(local)) => connect_from(&host.to_string(), port, local).await,
        (None, _) => return Err(ClientError::Connect("agent URL has no host".into())),
    }
    .map_err(|e| ClientError::Connect(format!("{url}: {e}")))?;
    stream
        .set_nodelay(true)
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    Ok(stream)
}

/// TCP's own dead-peer detection under the WebSocket keepalive, looser than
/// it so it only catches what the keepalive cannot (a writer blocked on a
/// dead path): keepalive probes after the dead-link timeout, and
/// `TCP_USER_TIMEOUT` failing a socket whose sent data stays unacknowledged
/// for twice that (Linux and Android; iOS has no such option).
fn tcp_backstop(tcp: &TcpStream, keepalive: Keepalive) -> io::Result<()> {
    let sock = socket2::SockRef::from(tcp);
    let probes = socket2::TcpKeepalive::new()
        .with_time(keepalive.timeout)
        .with_interval(keepalive.interval);
    sock.set_tcp_keepalive(&probes)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sock.set_tcp_user_timeout(Some(keepalive.timeout * 2))?;
    Ok(())
}

/// Connects from a chosen local address (the first resolved address of the
/// same family as `local`).
async fn connect_from(host: &str, port: u16, local: IpAddr) -> std::io::Result<TcpStream> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let target = tokio::net::lookup_host((host, port))
        .await?
        .find(|a| a.is_ipv4() == local.is_ipv4())
        .ok_or_else(|| std::io::Error::other("no address of the bind address's family"))?;
    let socket = if local.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(target).await
}

/// Connects the WebSocket to `agent_url`'s Noise endpoint, from `bind` when
/// given, through TLS for `https://`/`wss://` agents.
pub(crate) async fn open_ws(target: &Target<'_>) -> Result<Ws, ClientError> {
    let agent_url = target.agent_url;
    let ws_url = dd_proto::link::ws_url(agent_url);
    let url = Url::parse(&ws_url)
        .map_err(|e| ClientError::Connect(format!("invalid agent URL {agent_url:?}: {e}")))?;
    let tcp = tcp_connect(&url, target.bind).await?;
    if let Err(e) = tcp_backstop(&tcp, target.keepalive) {
        tracing::debug!(error = %e, "TCP keepalive not set");
    }
    let io = match (url.scheme(), url.host()) {
        ("wss", Some(host)) => Io::Tls(Box::new(tls::connect(target.tls, &host, tcp).await?)),
        _ => Io::Plain(tcp),
    };
    // Noise messages are at most 64 KiB; refuse anything much bigger early.
    // tungstenite zeroes `read_buffer_size` bytes before every read (even
    // one that finds nothing): 16 KiB instead of its default 128 KiB, as
    // the agent does, keeps that off each keystroke's echo.
    let config = WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
        .read_buffer_size(16 << 10);
    let (ws, _resp) =
        tokio_tungstenite::client_async_with_config(ws_url.as_str(), io, Some(config))
            .await
            .map_err(|e| upgrade_error(&ws_url, e))?;
    Ok(ws)
}

/// Names a failed WebSocket upgrade. An HTTP answer other than 101 (a
/// proxy without `Upgrade`/`Connection` forwarding, a wrong path, a web
/// server that is not the agent) is [`ClientError::NoUpgrade`].
fn upgrade_error(ws_url: &str, e: tokio_tungstenite::tungstenite::Error) -> ClientError {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Http(resp) => ClientError::NoUpgrade(format!(
            "{ws_url} answered HTTP {} instead of switching to WebSocket (a reverse proxy \
             must pass the Upgrade and Connection headers to the agent's /noise/ws)",
            resp.status()
        )),
        E::Protocol(p) => ClientError::NoUpgrade(format!(
            "{ws_url}: {p} (a reverse proxy must pass the WebSocket handshake through unchanged)"
        )),
        other => ClientError::Connect(format!("{ws_url}: websocket upgrade failed: {other}")),
    }
}

/// Runs the IK handshake on an open WebSocket.
pub(crate) async fn handshake(
    ws: &mut Ws,
    key: &StaticKeypair,
    agent_key: &[u8; 32],
    client_name: &str,
) -> Result<(Transport, Welcome), ClientError> {
    let hello = Hello {
        version: PROTOCOL_VERSION,
        client: client_name.to_owned(),
    };
    let (init, msg1) = Initiator::start(key, agent_key, &hello)
        .map_err(|e| ClientError::Handshake(e.to_string()))?;
    ws.send(WsMessage::binary(msg1))
        .await
        .map_err(|e| ClientError::Handshake(format!("sending: {e}")))?;
    let reply = loop {
        match ws.next().await {
            Some(Ok(WsMessage::Binary(b))) => break b,
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => continue,
            Some(Ok(WsMessage::Text(_))) => {
                return Err(ClientError::Handshake(
                    "agent sent text instead of a handshake reply".into(),
                ))
            }
            Some(Ok(WsMessage::Close(_))) | None => {
                return Err(ClientError::Handshake(
                    "agent closed the connection during the handshake (wrong agent key?)".into(),
                ))
            }
            Some(Err(e)) => return Err(ClientError::Handshake(e.to_string())),
        }
    };
    let (transport, welcome) = init
        .finish(&reply)
        .map_err(|e| ClientError::Handshake(e.to_string()))?;
    if let Some(err) = welcome.error.clone() {
        return Err(ClientError::Refused(err));
    }
    Ok((transport, welcome))
}

/// Where the socket goes: the agent's base URL, the local address to
/// connect from, the certificates TLS accepts.
pub(crate) struct Target<'a> {
    pub(crate) agent_url: &'a str,
    pub(crate) bind: Option<IpAddr>,
    pub(crate) tls: &'a TlsOptions,
    /// Sets the TCP backstop under the WebSocket keepalive.
    pub(crate) keepalive: Keepalive,
}

/// The whole opening, each half under its own deadline.
pub(crate) async fn open(
    target: Target<'_>,
    agent_key: &[u8; 32],
    key: &StaticKeypair,
    client_name: &str,
    connect_timeout: Duration,
    handshake_timeout: Duration,
) -> Result<(Ws, Transport, Welcome), ClientError> {
    let agent_url = target.agent_url;
    let mut ws = tokio::time::timeout(connect_timeout, open_ws(&target))
        .await
        .map_err(|_| ClientError::Connect(format!("{agent_url}: timed out")))??;
    let (t, w) = tokio::time::timeout(
        handshake_timeout,
        handshake(&mut ws, key, agent_key, client_name),
    )
    .await
    .map_err(|_| ClientError::Handshake("timed out".into()))??;
    Ok((ws, t, w))
}
