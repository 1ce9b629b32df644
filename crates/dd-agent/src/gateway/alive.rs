//! Liveness of client connections: every frame heard is stamped; a
//! connection quiet for [`Keepalive::interval`] gets a WebSocket ping, one
//! silent for [`Keepalive::timeout`] is closed and its streams end (the
//! session's client count drops). When a key attaches to a session while
//! another connection of the same key, silent for the stale limit, still
//! holds a stream on it (the phone roamed and came back before the timeout
//! noticed), that old connection is dropped at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use dd_proto::keepalive::{Due, Keepalive};

/// How long a connection may have been silent and still count as live when
/// its key attaches to the same session again (default).
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(5);

/// The agent's liveness settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// When to ping and when to give a silent client up.
    pub keepalive: Keepalive,
    /// A same-key connection on the same session silent this long is
    /// replaced by a new attach.
    pub stale_after: Duration,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            keepalive: Keepalive::AGENT,
            stale_after: DEFAULT_STALE_AFTER,
        }
    }
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64
}

/// When a connection last heard from its peer; shared with the registry.
#[derive(Debug, Clone)]
pub(crate) struct Heard(Arc<AtomicU64>);

impl Heard {
    pub(crate) fn new() -> Heard {
        Heard(Arc::new(AtomicU64::new(now_ms())))
    }

    /// Something arrived.
    pub(crate) fn mark(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }

    /// Time since something last arrived.
    pub(crate) fn silent_for(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.0.load(Ordering::Relaxed)))
    }
}

/// A connection's keepalive clock: [`Clock::next`] sleeps until a ping is
/// due (returns [`Tick::Ping`]) or the peer has been silent past the
/// timeout ([`Tick::Dead`]). Cancel-safe: it keeps its state between calls.
pub(crate) struct Clock {
    keepalive: Keepalive,
    heard: Heard,
    last_ping: Option<Instant>,
}

/// What [`Clock::next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tick {
    Ping,
    Dead(Duration),
}

impl Clock {
    pub(crate) fn new(keepalive: Keepalive, heard: Heard) -> Clock {
        Clock {
            keepalive,
            heard,
            last_ping: None,
        }
    }

    pub(crate) async fn next(&mut self) -> Tick {
        loop {
            let silent = self.heard.silent_for();
            let pinged = self.last_ping.map(|p| p.elapsed());
            match self.keepalive.due(silent, None, pinged) {
                Due::Dead => return Tick::Dead(silent),
                Due::Ping => {
                    self.last_ping = Some(Instant::now());
                    return Tick::Ping;
                }
                Due::Wait(d) => tokio::time::sleep(d.max(Duration::from_millis(10))).await,
            }
        }
    }
}
