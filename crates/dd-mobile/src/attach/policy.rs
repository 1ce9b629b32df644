//! What the resume core's decisions mean for the phone: the
//! reconnect schedule ([`Backoff::PHONE`]) and which [`ConnectionState`] a
//! stream end or a connection error leaves the phone in. The decisions
//! themselves (what is retried, the schedule's shape, which output bytes
//! are new) are `dd_client_core::resume`'s, shared with the desktop CLI.

use std::time::Duration;

use dd_client_core::resume::{self, Backoff, Stop, Verdict};
use dd_client_core::ClientError;
use dd_proto::message::EndReason;

use crate::types::ConnectionState;

pub use dd_client_core::resume::fresh;

/// First reconnect delay ([`Backoff::PHONE`]`.first`).
pub const BACKOFF_MIN: Duration = Backoff::PHONE.first;
/// Longest reconnect delay ([`Backoff::PHONE`]`.max`).
pub const BACKOFF_MAX: Duration = Backoff::PHONE.max;

/// The delay before reconnect attempt `attempt` (1-based), before jitter:
/// 250 ms, 500 ms, 1 s, ... doubling up to 10 s ([`Backoff::base_delay`]).
pub fn base_delay(attempt: u32) -> Duration {
    Backoff::PHONE.base_delay(attempt)
}

/// [`base_delay`] plus up to a quarter more, by `jitter` in `0.0..1.0`,
/// never above [`BACKOFF_MAX`] ([`Backoff::delay`]).
pub fn delay(attempt: u32, jitter: f64) -> Duration {
    Backoff::PHONE.delay(attempt, jitter)
}

/// What happens after a stream or a connection attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Stop for good, in this state.
    Stop(ConnectionState),
    /// Reconnect (the reason is for logs).
    Retry(String),
}

/// The state a final [`Stop`] leaves the phone in; `failed` is the
/// message for a refusal.
fn state(stop: Stop, exit_code: Option<i32>, failed: impl FnOnce() -> String) -> ConnectionState {
    match stop {
        Stop::Detached => ConnectionState::Detached,
        Stop::SessionEnded => ConnectionState::SessionEnded { exit_code },
        Stop::Revoked => ConnectionState::Revoked,
        Stop::Expired => ConnectionState::Expired,
        Stop::Refused(_) => ConnectionState::Failed { message: failed() },
    }
}

/// The meaning of `Event::End { reason }` ([`resume::on_end`]).
pub fn on_end(reason: EndReason, message: &str, exit_code: Option<i32>) -> Next {
    match resume::on_end(reason) {
        // Fell behind or the agent restarts: resume from the last offset.
        Verdict::Retry => Next::Retry(message.to_owned()),
        Verdict::Stop(stop) => Next::Stop(state(stop, exit_code, || message.to_owned())),
    }
}

/// The meaning of a failed connect or attach ([`resume::on_error`]).
pub fn on_error(e: &ClientError) -> Next {
    match resume::on_error(e) {
        // Network trouble, a handshake cut short, a closed connection, a
        // busy or restarting agent.
        Verdict::Retry => Next::Retry(e.to_string()),
        Verdict::Stop(stop) => Next::Stop(state(stop, None, || e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::ErrorBody;
    use dd_proto::ErrorCode;

    #[test]
    fn backoff_schedule() {
        let ms: Vec<u128> = (1..=8).map(|a| base_delay(a).as_millis()).collect();
        assert_eq!(ms, vec![250, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
        assert_eq!(base_delay(0), BACKOFF_MIN);
        assert_eq!(base_delay(u32::MAX), BACKOFF_MAX);
        assert_eq!(delay(1, 0.0), Duration::from_millis(250));
        assert_eq!(delay(1, 0.999_999).as_millis(), 312);
        assert_eq!(delay(3, 1.0), Duration::from_millis(1250));
        assert_eq!(delay(9, 1.0), BACKOFF_MAX);
        assert_eq!(delay(2, 7.0), Duration::from_millis(625));
        for a in 1..40 {
            let d = delay(a, 0.5);
            assert!(d >= BACKOFF_MIN && d <= BACKOFF_MAX);
        }
    }

    #[test]
    fn end_reasons_map_to_states() {
        use ConnectionState as S;
        assert_eq!(
            on_end(EndReason::Detached, "", None),
            Next::Stop(S::Detached)
        );
        assert_eq!(on_end(EndReason::Revoked, "", None), Next::Stop(S::Revoked));
        assert_eq!(on_end(EndReason::Expired, "", None), Next::Stop(S::Expired));
        assert_eq!(
            on_end(EndReason::SessionEnded, "", Some(3)),
            Next::Stop(S::SessionEnded { exit_code: Some(3) })
        );
        assert!(matches!(
            on_end(EndReason::TooSlow, "x", None),
            Next::Retry(_)
        ));
        assert!(matches!(
            on_end(EndReason::Shutdown, "x", None),
            Next::Retry(_)
        ));
    }

    #[test]
    fn errors_map_to_states() {
        use ConnectionState as S;
        let refused = |c| ClientError::Refused(ErrorBody::new(c, "m"));
        let rpc = |c| ClientError::Rpc(ErrorBody::new(c, "m"));
        assert_eq!(
            on_error(&refused(ErrorCode::Revoked)),
            Next::Stop(S::Revoked)
        );
        assert_eq!(on_error(&rpc(ErrorCode::Expired)), Next::Stop(S::Expired));
        assert_eq!(
            on_error(&rpc(ErrorCode::SessionEnded)),
            Next::Stop(S::SessionEnded { exit_code: None })
        );
        assert!(matches!(
            on_error(&rpc(ErrorCode::Forbidden)),
            Next::Stop(S::Failed { .. })
        ));
        assert!(matches!(
            on_error(&rpc(ErrorCode::NotFound)),
            Next::Stop(S::Failed { .. })
        ));
        assert!(matches!(
            on_error(&refused(ErrorCode::RateLimited)),
            Next::Retry(_)
        ));
        assert!(matches!(on_error(&ClientError::Closed), Next::Retry(_)));
        assert!(matches!(
            on_error(&ClientError::Connect("x".into())),
            Next::Retry(_)
        ));
        assert!(matches!(
            on_error(&ClientError::Handshake("x".into())),
            Next::Retry(_)
        ));
    }
}
