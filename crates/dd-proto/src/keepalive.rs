//! Liveness: when a side pings and when it gives a silent link up.
//!
//! Both ends use WebSocket ping/pong (RFC 6455 control frames, outside the
//! Noise channel: they carry nothing and prove only that the path works;
//! any frame heard counts). A side pings when it has heard nothing for
//! [`Keepalive::interval`], and — on the client, so the agent hears it too —
//! when it has sent nothing for that long; it repeats at most once per
//! interval. A side that has heard nothing at all for
//! [`Keepalive::timeout`] treats the link as dead. Everything here is pure:
//! callers pass the elapsed times in.

use std::time::Duration;

/// A side's keepalive settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Ping after this much quiet.
    pub interval: Duration,
    /// Give the link up after hearing nothing for this long.
    pub timeout: Duration,
}

impl Keepalive {
    /// The phone's and desktop's defaults: ping after 3 s of quiet, dead
    /// after 8 s of silence (a silent dead link is noticed within 10 s,
    /// while a round trip of up to ~5 s never looks dead).
    pub const CLIENT: Keepalive = Keepalive {
        interval: Duration::from_secs(3),
        timeout: Duration::from_secs(8),
    };
    /// The agent's defaults: ping a client it has not heard for 15 s, close
    /// it after 60 s of silence.
    pub const AGENT: Keepalive = Keepalive {
        interval: Duration::from_secs(15),
        timeout: Duration::from_secs(60),
    };

    /// Checks that the settings make sense: a non-zero interval shorter
    /// than the timeout.
    pub fn validate(&self) -> Result<(), String> {
        if self.interval.is_zero() {
            return Err("the keepalive interval must be above zero".into());
        }
        if self.timeout <= self.interval {
            return Err(format!(
                "the dead-link timeout ({:?}) must be longer than the keepalive interval ({:?})",
                self.timeout, self.interval
            ));
        }
        Ok(())
    }

    /// What to do now. `heard`: time since anything arrived; `sent`: time
    /// since anything was sent (`None`: do not ping for that reason);
    /// `pinged`: time since the last ping (`None`: never).
    pub fn due(&self, heard: Duration, sent: Option<Duration>, pinged: Option<Duration>) -> Due {
        if heard >= self.timeout {
            return Due::Dead;
        }
        // The ping that is due, measured as "quiet for how long".
        let quiet = sent.map_or(heard, |s| s.max(heard));
        let ping_ok = pinged.is_none_or(|p| p >= self.interval);
        if quiet >= self.interval && ping_ok {
            return Due::Ping;
        }
        let until_dead = self.timeout - heard;
        let until_quiet = self.interval.saturating_sub(quiet);
        let until_repeat = pinged.map_or(Duration::ZERO, |p| self.interval.saturating_sub(p));
        Due::Wait(until_dead.min(until_quiet.max(until_repeat)))
    }
}

/// The verdict of [`Keepalive::due`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Send a ping now.
    Ping,
    /// Nothing heard for the timeout: the link is dead.
    Dead,
    /// Nothing to do for this long.
    Wait(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    const KA: Keepalive = Keepalive {
        interval: s(3),
        timeout: s(8),
    };

    #[test]
    fn pings_when_quiet_either_way() {
        // Busy both ways: nothing to do until the interval is up.
        assert_eq!(KA.due(s(1), Some(s(2)), None), Due::Wait(s(1)));
        // Heard nothing for 3 s.
        assert_eq!(KA.due(s(3), Some(s(0)), None), Due::Ping);
        // Hearing output, but sent nothing for 3 s (the agent must hear us).
        assert_eq!(KA.due(s(0), Some(s(3)), None), Due::Ping);
        // The agent does not ping for its own sending.
        assert_eq!(KA.due(s(1), None, None), Due::Wait(s(2)));
    }

    #[test]
    fn repeats_once_per_interval_then_gives_up() {
        assert_eq!(KA.due(s(4), Some(s(4)), Some(s(1))), Due::Wait(s(2)));
        assert_eq!(KA.due(s(6), Some(s(6)), Some(s(3))), Due::Ping);
        assert_eq!(KA.due(s(7), Some(s(1)), Some(s(1))), Due::Wait(s(1)));
        assert_eq!(KA.due(s(8), Some(s(0)), Some(s(0))), Due::Dead);
        assert_eq!(KA.due(s(100), None, None), Due::Dead);
    }

    #[test]
    fn defaults_and_validation() {
        for k in [Keepalive::CLIENT, Keepalive::AGENT] {
            assert_eq!(k.validate(), Ok(()));
        }
        assert!(Keepalive::CLIENT.timeout <= s(10));
        assert!(Keepalive::AGENT.timeout <= s(60));
        let zero = Keepalive {
            interval: s(0),
            timeout: s(1),
        };
        assert!(zero.validate().is_err());
        let inverted = Keepalive {
            interval: s(5),
            timeout: s(5),
        };
        assert!(inverted.validate().unwrap_err().contains("longer"));
    }
}
