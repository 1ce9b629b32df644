//! The accept loop: a connection slot per TCP connection (refused with a
//! canned 503 when over a bound), a deadline for the HTTP request head
//! (slowloris; it also ends idle keep-alive connections), then axum's router.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::bounds::{Refusal, Slot, Slots, HEADER_TIMEOUT};

/// A TCP stream holding its connection slot: the slot goes back when the
/// stream is dropped, also after a WebSocket upgrade (which keeps the
/// stream inside hyper's `Upgraded`).
struct Guarded {
    tcp: TcpStream,
    _slot: Slot,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

/// The answer to a connection over a bound: one non-blocking write, then
/// the socket is dropped (the client may see a reset instead).
/// Unsent bytes a connection's socket holds before it stops being writable.
const NOTSENT_LOWAT: u32 = 16 * 1024;

fn refuse(tcp: TcpStream, peer: SocketAddr, why: Refusal) {
    tracing::debug!(%peer, reason = %why, "connection refused");
    let body = format!("{why}\n");
    let resp = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
         retry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tcp.try_write(resp.as_bytes());
}

/// The kernel's own dead-peer detection, under the WebSocket keepalive (see
/// `alive`): TCP keepalive probes from half the idle timeout on, and
/// `TCP_USER_TIMEOUT` so data left unacknowledged for the idle timeout
/// (a peer gone while output was in flight) fails the socket.
fn tcp_backstop(tcp: &TcpStream, idle_timeout: Duration) -> io::Result<()> {
    use rustix::net::sockopt;
    let idle = (idle_timeout / 2).max(Duration::from_secs(1));
    sockopt::set_socket_keepalive(tcp, true)?;
    sockopt::set_tcp_keepidle(tcp, idle)?;
    sockopt::set_tcp_keepintvl(tcp, (idle / 4).max(Duration::from_secs(1)))?;
    sockopt::set_tcp_keepcnt(tcp, 4)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sockopt::set_tcp_user_timeout(tcp, idle_timeout.as_millis().min(u32::MAX as u128) as u32)?;
    Ok(())
}

/// Serves `app` on `listener` until `stop` resolves, then waits (at most
/// `drain`) for open connections to end.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    slots: Arc<Slots>,
    stop: impl Future<Output = ()>,
    drain: Duration,
    idle_timeout: Duration,
) {
    let (closing_tx, closing) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors, or a connection reset before accept:
                    // back off briefly instead of spinning.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let slot = match slots.try_take(peer.ip()) {
            Ok(s) => s,
            Err(why) => {
                refuse(tcp, peer, why);
                continue;
            }
        };
        // Keystrokes and echoes are small writes: never hold them for Nagle.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        // Little unsent data waits in the kernel (the socket is writable
        // again below this mark): what a slow link cannot take stays in the
        // agent, where a live-mode stream replaces it by a fresh snapshot
        // instead of queueing seconds of backlog (docs/protocol.md).
        if let Err(e) = socket2::SockRef::from(&tcp).set_tcp_notsent_lowat(NOTSENT_LOWAT) {
            tracing::debug!(error = %e, "TCP_NOTSENT_LOWAT not set");
        }
        if let Err(e) = tcp_backstop(&tcp, idle_timeout) {
            tracing::debug!(error = %e, "TCP keepalive not set");
        }
        let io = TokioIo::new(Guarded { tcp, _slot: slot });
        let app = app.clone();
        let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move { tower_service::Service::call(&mut app, req).await }
        });
        let mut closing = closing.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(io, svc)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "http connection ended");
                    }
                    return;
                }
                _ = closing.wait_for(|c| *c) => conn.as_mut().graceful_shutdown(),
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let deadline = tokio::time::Instant::now() + drain;
    while slots.total() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
