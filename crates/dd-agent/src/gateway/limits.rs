//! Rate limits for failed token redemptions: per source address and global.
//!
//! Each failed redemption spends one cell of its source's quota and one of
//! the global quota (governor's GCRA). A source whose quota is spent is
//! refused with `rate_limited` — before its token is even looked at — until
//! the quota allows another attempt. Successful redemptions spend nothing, so
//! a correct token from another source still works while one source is
//! blocked (unless the global limit is hit, which takes many sources).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};

use crate::util::lock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};

/// Failed redemptions a single address may make in a burst.
pub(crate) const PER_SOURCE_BURST: u32 = 10;
/// Failed redemptions per minute a single address regains.
pub(crate) const PER_SOURCE_PER_MINUTE: u32 = 10;
/// Failed redemptions all addresses together may make in a burst.
pub(crate) const GLOBAL_BURST: u32 = 200;
/// Failed redemptions per second all addresses together regain.
pub(crate) const GLOBAL_PER_SECOND: u32 = 20;
/// Addresses remembered as blocked at most (oldest dropped beyond this).
const MAX_BLOCKED: usize = 10_000;

pub(crate) struct Limits {
    clock: DefaultClock,
    per_source: DefaultKeyedRateLimiter<IpAddr>,
    global: DefaultDirectRateLimiter,
    blocked: Mutex<Blocked>,
}

#[derive(Default)]
struct Blocked {
    sources: HashMap<IpAddr, Instant>,
    global: Option<Instant>,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("non-zero constant")
}

impl Limits {
    pub(crate) fn new() -> Self {
        Limits {
            clock: DefaultClock::default(),
            per_source: DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(nz(PER_SOURCE_PER_MINUTE)).allow_burst(nz(PER_SOURCE_BURST)),
            ),
            global: DefaultDirectRateLimiter::direct(
                Quota::per_second(nz(GLOBAL_PER_SECOND)).allow_burst(nz(GLOBAL_BURST)),
            ),
            blocked: Mutex::new(Blocked::default()),
        }
    }

    /// `Ok` if `ip` may attempt a redemption now, else how long to wait.
    pub(crate) fn may_redeem(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut b = lock(&self.blocked);
        if let Some(until) = b.global {
            if until > now {
                return Err(until - now);
            }
            b.global = None;
        }
        if let Some(&until) = b.sources.get(&ip) {
            if until > now {
                return Err(until - now);
            }
            b.sources.remove(&ip);
        }
        Ok(())
    }

    /// Records a failed redemption from `ip`, blocking it (or everyone) when
    /// the quota is spent.
    pub(crate) fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut b = lock(&self.blocked);
        if let Err(not_until) = self.per_source.check_key(&ip) {
            if b.sources.len() >= MAX_BLOCKED {
                b.sources.retain(|_, until| *until > now);
            }
            if b.sources.len() < MAX_BLOCKED {
                b.sources
                    .insert(ip, now + not_until.wait_time_from(self.clock.now()));
            }
        }
        if let Err(not_until) = self.global.check() {
            b.global = Some(now + not_until.wait_time_from(self.clock.now()));
        }
        if self.per_source.len() > MAX_BLOCKED {
            self.per_source.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_a_source_after_its_burst_but_not_others() {
        let l = Limits::new();
        let bad: IpAddr = "127.0.0.9".parse().unwrap();
        let good: IpAddr = "127.0.0.10".parse().unwrap();
        for _ in 0..PER_SOURCE_BURST {
            assert!(l.may_redeem(bad).is_ok());
            l.failed(bad);
        }
        // The burst is spent: the next failure blocks the source.
        l.failed(bad);
        let wait = l.may_redeem(bad).unwrap_err();
        assert!(wait > Duration::from_secs(1));
        assert!(l.may_redeem(good).is_ok());
    }
}
