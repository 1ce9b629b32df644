//! Bounds on what one peer (or all of them) may hold: connection slots per
//! source address and in total, and the fixed per-connection limits.
//!
//! A [`Slot`] is taken right after `accept` and released when dropped, so
//! every exit path of a connection — HTTP answer, WebSocket end, panic —
//! gives its slot back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Configurable bounds of the gateway (`dd-agent serve` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Open TCP connections one source address may hold
    /// (`--max-conns-per-source`, default 64).
    pub max_conns_per_source: usize,
    /// Open TCP connections in total (`--max-conns`, default 4096).
    pub max_conns: usize,
    /// How long one write to a client may stay blocked before the
    /// connection is dropped with `too_slow` (`--slow-timeout`, default 60 s).
    pub slow_timeout: Duration,
}

/// Default of [`Bounds::max_conns_per_source`].
pub const DEFAULT_MAX_CONNS_PER_SOURCE: usize = 64;
/// Default of [`Bounds::max_conns`].
pub const DEFAULT_MAX_CONNS: usize = 4096;
/// Default of [`Bounds::slow_timeout`].
pub const DEFAULT_SLOW_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_conns_per_source: DEFAULT_MAX_CONNS_PER_SOURCE,
            max_conns: DEFAULT_MAX_CONNS,
            slow_timeout: DEFAULT_SLOW_TIMEOUT,
        }
    }
}

/// Attach and events streams one connection may hold at once; more are
/// refused with `rate_limited`.
pub(crate) const MAX_STREAMS_PER_CONN: usize = 64;
/// Bytes of sealed-to-be messages queued for one connection's writer; a
/// stream or response waits for room beyond this.
pub(crate) const MAX_QUEUED_BYTES: usize = 512 * 1024;
/// Whole HTTP request head (before the WebSocket upgrade) must arrive
/// within this.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection was refused a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its source address holds its share already.
    Source,
    /// The agent holds its total already.
    Total,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Source => "too many connections from this address",
            Refusal::Total => "too many connections",
        })
    }
}

#[derive(Default)]
struct Count {
    total: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// Counts open connections per source address and in total.
pub(crate) struct Slots {
    max_per_source: usize,
    max_total: usize,
    count: Mutex<Count>,
}

/// One open connection's slot; dropping it releases the slot.
pub(crate) struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    /// Slots for `bounds` (a zero bound is treated as one).
    pub(crate) fn new(bounds: &Bounds) -> Arc<Slots> {
        Arc::new(Slots {
            max_per_source: bounds.max_conns_per_source.max(1),
            max_total: bounds.max_conns.max(1),
            count: Mutex::new(Count::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Count> {
        crate::util::lock(&self.count)
    }

    /// Takes a slot for a connection from `ip`, or says why not.
    pub(crate) fn try_take(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let ip = ip.to_canonical();
        let mut c = self.lock();
        if c.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let n = c.per_source.entry(ip).or_insert(0);
        if *n >= self.max_per_source {
            return Err(Refusal::Source);
        }
        *n += 1;
        c.total += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            ip,
        })
    }

    /// Open connections in total.
    pub(crate) fn total(&self) -> usize {
        self.lock().total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.slots.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_source.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_source.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(per_source: usize, total: usize) -> Arc<Slots> {
        Slots::new(&Bounds {
            max_conns_per_source: per_source,
            max_conns: total,
            ..Bounds::default()
        })
    }

    #[test]
    fn a_source_gets_its_share_and_no_more() {
        let s = slots(2, 10);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let x = s.try_take(a).unwrap();
        let _y = s.try_take(a).unwrap();
        assert_eq!(s.try_take(a).err(), Some(Refusal::Source));
        // Another address is not affected.
        let _z = s.try_take(b).unwrap();
        drop(x);
        // Dropping a slot gives it back.
        let _w = s.try_take(a).unwrap();
        assert_eq!(s.total(), 3);
    }

    #[test]
    fn the_total_is_bounded_and_released_on_drop() {
        let s = slots(10, 3);
        let held: Vec<Slot> = (1..=3)
            .map(|i| s.try_take(format!("10.0.0.{i}").parse().unwrap()).unwrap())
            .collect();
        assert_eq!(
            s.try_take("10.0.0.9".parse().unwrap()).err(),
            Some(Refusal::Total)
        );
        drop(held);
        assert_eq!(s.total(), 0);
        assert!(s.lock().per_source.is_empty());
        assert!(s.try_take("10.0.0.9".parse().unwrap()).is_ok());
    }

    #[test]
    fn mapped_ipv6_counts_as_its_ipv4_address() {
        let s = slots(1, 10);
        let _a = s.try_take("127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(
            s.try_take("::ffff:127.0.0.1".parse().unwrap()).err(),
            Some(Refusal::Source)
        );
    }

    #[test]
    fn zero_bounds_still_admit_one() {
        let s = slots(0, 0);
        let _a = s.try_take("10.0.0.1".parse().unwrap()).unwrap();
        assert!(s.try_take("10.0.0.2".parse().unwrap()).is_err());
    }
}
