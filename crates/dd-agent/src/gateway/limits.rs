//! Rate limits for failed token redemptions: per source address and global.
//!
//! Every redemption attempt first takes a cell from its source's bucket —
//! check and count in one step under one lock ([`Limits::begin`]), so
//! concurrent attempts can never pass more than the bucket holds. An attempt
//! that succeeds (or fails for a reason that is not a guess, such as a bad
//! request) gives its cell back ([`Attempt::succeeded`]); a failed guess
//! keeps it spent.
//!
//! The global bucket bounds the failures of all addresses together, but it
//! applies only to sources that failed recently (their own bucket is not
//! full): failures spread over many addresses cannot stop a source with a
//! clean record from redeeming a valid token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed redemptions a single address may make in a burst.
pub(crate) const PER_SOURCE_BURST: u32 = 10;
/// Failed redemptions per minute a single address regains.
pub(crate) const PER_SOURCE_PER_MINUTE: u32 = 10;
/// Failed redemptions all addresses together may make in a burst.
pub(crate) const GLOBAL_BURST: u32 = 200;
/// Failed redemptions per second all addresses together regain.
pub(crate) const GLOBAL_PER_SECOND: u32 = 20;
/// Addresses with a failure history remembered at most.
const MAX_SOURCES: usize = 10_000;

/// A token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    cells: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: u32, now: Instant) -> Bucket {
        Bucket {
            cells: f64::from(burst),
            at: now,
        }
    }

    /// Refills for the time since the last use.
    fn refill(&mut self, now: Instant, per_sec: f64, burst: u32) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.cells = (self.cells + dt * per_sec).min(f64::from(burst));
        self.at = now;
    }

    /// How long until one cell is available.
    fn wait(&self, per_sec: f64) -> Duration {
        Duration::from_secs_f64(((1.0 - self.cells) / per_sec).max(0.0))
    }

    fn is_full(&self, burst: u32) -> bool {
        self.cells >= f64::from(burst)
    }
}

/// What was limited, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limited {
    /// This address failed too often.
    Source(IpAddr, Duration),
    /// All addresses together failed too often (and this one failed lately).
    Everyone(Duration),
}

impl Limited {
    /// The message the peer gets.
    pub(crate) fn message(&self) -> String {
        match self {
            Limited::Source(ip, wait) => format!(
                "too many failed redemptions from this address ({ip}): at most \
                 {PER_SOURCE_BURST} in a burst, then {PER_SOURCE_PER_MINUTE} a minute; retry in {}s",
                wait.as_secs() + 1
            ),
            Limited::Everyone(wait) => format!(
                "too many failed redemptions from all addresses together, and this address \
                 failed recently; retry in {}s",
                wait.as_secs() + 1
            ),
        }
    }

    /// The limit's name, for audit.
    pub(crate) fn what(&self) -> &'static str {
        match self {
            Limited::Source(..) => "rate_limited (this address)",
            Limited::Everyone(..) => "rate_limited (all addresses)",
        }
    }
}

struct State {
    sources: HashMap<IpAddr, Bucket>,
    global: Bucket,
}

pub(crate) struct Limits {
    state: Mutex<State>,
}

/// One redemption attempt that holds its cells; dropping it counts as a
/// failure (the cells stay spent).
pub(crate) struct Attempt<'a> {
    limits: &'a Limits,
    ip: IpAddr,
    global: bool,
}

impl Attempt<'_> {
    /// The attempt was a failed guess: its cells stay spent (the same as
    /// dropping it).
    pub(crate) fn failed(self) {}

    /// The attempt was not a failed guess: its cells go back.
    pub(crate) fn succeeded(self) {
        let now = Instant::now();
        let mut st = self.limits.lock();
        if let Some(b) = st.sources.get_mut(&self.ip) {
            b.refill(now, per_source_rate(), PER_SOURCE_BURST);
            b.cells = (b.cells + 1.0).min(f64::from(PER_SOURCE_BURST));
        }
        if self.global {
            st.global
                .refill(now, f64::from(GLOBAL_PER_SECOND), GLOBAL_BURST);
            st.global.cells = (st.global.cells + 1.0).min(f64::from(GLOBAL_BURST));
        }
    }
}

fn per_source_rate() -> f64 {
    f64::from(PER_SOURCE_PER_MINUTE) / 60.0
}

impl Limits {
    pub(crate) fn new() -> Self {
        Limits {
            state: Mutex::new(State {
                sources: HashMap::new(),
                global: Bucket::full(GLOBAL_BURST, Instant::now()),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks and spends, atomically, what one attempt from `ip` costs:
    /// a cell of its own bucket, and of the global bucket unless its own
    /// bucket is full (no recent failure).
    pub(crate) fn begin(&self, ip: IpAddr) -> Result<Attempt<'_>, Limited> {
        let now = Instant::now();
        let mut st = self.lock();
        let st = &mut *st;
        if st.sources.len() >= MAX_SOURCES && !st.sources.contains_key(&ip) {
            st.sources.retain(|_, b| {
                b.refill(now, per_source_rate(), PER_SOURCE_BURST);
                !b.is_full(PER_SOURCE_BURST)
            });
        }
        let tracked = st.sources.len() < MAX_SOURCES || st.sources.contains_key(&ip);
        let mut own = st
            .sources
            .get(&ip)
            .copied()
            .unwrap_or_else(|| Bucket::full(PER_SOURCE_BURST, now));
        own.refill(now, per_source_rate(), PER_SOURCE_BURST);
        if own.cells < 1.0 {
            return Err(Limited::Source(ip, own.wait(per_source_rate())));
        }
        // A source we cannot track counts as one with a history.
        let global = !tracked || !own.is_full(PER_SOURCE_BURST);
        if global {
            st.global
                .refill(now, f64::from(GLOBAL_PER_SECOND), GLOBAL_BURST);
            if st.global.cells < 1.0 {
                return Err(Limited::Everyone(
                    st.global.wait(f64::from(GLOBAL_PER_SECOND)),
                ));
            }
            st.global.cells -= 1.0;
        }
        own.cells -= 1.0;
        if tracked {
            st.sources.insert(ip, own);
        }
        Ok(Attempt {
            limits: self,
            ip,
            global,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x7f00_0000 + n))
    }

    #[test]
    fn a_source_gets_exactly_its_burst_and_others_are_unaffected() {
        let l = Limits::new();
        for _ in 0..PER_SOURCE_BURST {
            l.begin(ip(9)).unwrap().failed();
        }
        let Err(Limited::Source(_, wait)) = l.begin(ip(9)) else {
            panic!("not limited")
        };
        assert!(wait > Duration::from_secs(1));
        assert!(l.begin(ip(10)).is_ok());
    }

    #[test]
    fn successes_give_their_cells_back() {
        let l = Limits::new();
        for _ in 0..100 {
            l.begin(ip(9)).unwrap().succeeded();
        }
        assert!(l.begin(ip(9)).is_ok());
    }

    #[test]
    fn many_failing_sources_do_not_block_a_clean_one() {
        let l = Limits::new();
        let mut limited = 0;
        for n in 0..150 {
            for _ in 0..PER_SOURCE_BURST {
                match l.begin(ip(100 + n)) {
                    Ok(a) => a.failed(),
                    Err(Limited::Everyone(_)) => limited += 1,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
        assert!(limited > 0, "the global bucket bounds repeat offenders");
        // A fresh address is not refused, however many others failed.
        for n in 0..50 {
            l.begin(ip(1000 + n)).unwrap().succeeded();
        }
        // One that failed lately is bounded by everyone's failures.
        l.begin(ip(2000)).unwrap().failed();
        let e = l.begin(ip(2000)).err().unwrap();
        assert!(e.message().contains("all addresses"), "{}", e.message());
    }
}
