//! A TCP forwarder that holds every chunk for a fixed delay in each
//! direction (the kernel here has no netem): a slow link with long round
//! trips, on loopback. It runs on its own thread and stops on drop.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A running delay proxy.
pub struct DelayProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn one_way(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; 16 << 10];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0
            || tx
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
        {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

impl DelayProxy {
    /// Listens on `listen` (e.g. `127.0.0.1:0`) and forwards to `target`
    /// with `delay` added each way.
    pub fn start(listen: &str, target: String, delay: Duration) -> DelayProxy {
        let listener = std::net::TcpListener::bind(listen).expect("bind delay proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (stop, mut stopped) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("listener");
                loop {
                    let (inbound, _) = tokio::select! {
                        r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                        _ = &mut stopped => break,
                    };
                    let target = target.clone();
                    tokio::spawn(async move {
                        let Ok(out) = TcpStream::connect(&target).await else {
                            return;
                        };
                        let _ = (inbound.set_nodelay(true), out.set_nodelay(true));
                        let (ir, iw) = inbound.into_split();
                        let (or, ow) = out.into_split();
                        tokio::join!(one_way(ir, ow, delay), one_way(or, iw, delay));
                    });
                }
            });
            rt.shutdown_timeout(Duration::from_millis(200));
        });
        DelayProxy {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
