//! The client's side of liveness (see `dd_proto::keepalive`): the reader
//! stamps every frame it hears, the writer every frame it sends; the writer
//! pings when either has been quiet for the keepalive interval and closes
//! the connection as dead when nothing was heard for the timeout, so that
//! streams get `Disconnected` and resume from their offsets. A probe
//! (after the app comes to the foreground or the network path changed)
//! pings at once and waits a short time for any answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dd_proto::keepalive::{Due, Keepalive};
use tokio::sync::Notify;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64
}

/// What the reader, the writer and probes share about one connection.
pub(crate) struct Beat {
    heard: AtomicU64,
    sent: AtomicU64,
    /// Wakes probes waiting for an answer.
    heard_notify: Notify,
    /// Asks the writer for a ping now.
    ping_now: Notify,
}

impl Beat {
    pub(crate) fn new() -> Beat {
        let now = now_ms();
        Beat {
            heard: AtomicU64::new(now),
            sent: AtomicU64::new(now),
            heard_notify: Notify::new(),
            ping_now: Notify::new(),
        }
    }

    /// The reader heard a frame.
    pub(crate) fn heard(&self) {
        self.heard.store(now_ms(), Ordering::Relaxed);
        self.heard_notify.notify_waiters();
    }

    /// The writer sent a frame.
    pub(crate) fn sent(&self) {
        self.sent.store(now_ms(), Ordering::Relaxed);
    }

    fn since(stamp: &AtomicU64) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(stamp.load(Ordering::Relaxed)))
    }

    /// Time since anything was heard.
    pub(crate) fn silent_for(&self) -> Duration {
        Self::since(&self.heard)
    }

    /// Pings at once and waits up to `timeout` for any frame heard after
    /// the ping. True when one came.
    pub(crate) async fn probe(&self, timeout: Duration) -> bool {
        let asked = now_ms();
        let answered = async {
            loop {
                let woke = self.heard_notify.notified();
                if self.heard.load(Ordering::Relaxed) >= asked {
                    return;
                }
                woke.await;
            }
        };
        self.ping_now.notify_one();
        tokio::time::timeout(timeout, answered).await.is_ok()
    }
}

/// Resolves once nothing has been heard for `timeout`, with how long it
/// has been (the reader's dead-link check: it runs even while the writer
/// is stuck on a dead socket). Cancel-safe.
pub(crate) async fn dead(beat: &Beat, timeout: Duration) -> Duration {
    loop {
        let silent = beat.silent_for();
        if silent >= timeout {
            return silent;
        }
        tokio::time::sleep(timeout - silent).await;
    }
}

/// The writer's keepalive timer: when to ping.
pub(crate) struct Clock {
    keepalive: Keepalive,
    last_ping: Option<Instant>,
}

impl Clock {
    pub(crate) fn new(keepalive: Keepalive) -> Clock {
        Clock {
            keepalive,
            last_ping: None,
        }
    }

    /// Sleeps until a ping is due (or asked for by a probe). Past the
    /// dead-link timeout it keeps pinging once per interval; giving up is
    /// the reader's call ([`dead`]). Cancel-safe.
    pub(crate) async fn next(&mut self, beat: &Beat) {
        loop {
            let heard = beat.silent_for();
            let sent = Beat::since(&beat.sent);
            let pinged = self.last_ping.map(|p| p.elapsed());
            let wait = match self.keepalive.due(heard, Some(sent), pinged) {
                Due::Ping => {
                    self.last_ping = Some(Instant::now());
                    return;
                }
                Due::Dead => {
                    let since = pinged.unwrap_or(self.keepalive.interval);
                    let left = self.keepalive.interval.saturating_sub(since);
                    if left.is_zero() {
                        self.last_ping = Some(Instant::now());
                        return;
                    }
                    left
                }
                Due::Wait(d) => d,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.max(Duration::from_millis(10))) => {}
                _ = beat.ping_now.notified() => {
                    self.last_ping = Some(Instant::now());
                    return;
                }
            }
        }
    }
}
