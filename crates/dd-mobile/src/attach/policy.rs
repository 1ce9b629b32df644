//! The pure decisions of an attach: how long to wait before a reconnect,
//! what a stream end or a connection error means for the phone, and which
//! output bytes are new.

use std::time::Duration;

use dd_client_core::ClientError;
use dd_proto::message::EndReason;
use dd_proto::ErrorCode;

use crate::types::ConnectionState;

/// First reconnect delay.
pub const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// Longest reconnect delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The delay before reconnect attempt `attempt` (1-based), before jitter:
/// 250 ms, 500 ms, 1 s, ... doubling up to 10 s.
pub fn base_delay(attempt: u32) -> Duration {
    let shift = attempt.saturating_sub(1).min(16);
    BACKOFF_MIN.saturating_mul(1 << shift).min(BACKOFF_MAX)
}

/// [`base_delay`] plus up to a quarter more, by `jitter` in `0.0..1.0`,
/// never above [`BACKOFF_MAX`]: phones that lost the same agent do not all
/// come back in the same instant.
pub fn delay(attempt: u32, jitter: f64) -> Duration {
    let base = base_delay(attempt);
    let extra = base.mul_f64(jitter.clamp(0.0, 1.0) / 4.0);
    (base + extra).min(BACKOFF_MAX)
}

/// What happens after a stream or a connection attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Stop for good, in this state.
    Stop(ConnectionState),
    /// Reconnect (the reason is for logs).
    Retry(String),
}

/// The meaning of `Event::End { reason }`.
pub fn on_end(reason: EndReason, message: &str, exit_code: Option<i32>) -> Next {
    match reason {
        EndReason::Detached => Next::Stop(ConnectionState::Detached),
        EndReason::SessionEnded => Next::Stop(ConnectionState::SessionEnded { exit_code }),
        EndReason::Revoked => Next::Stop(ConnectionState::Revoked),
        EndReason::Expired => Next::Stop(ConnectionState::Expired),
        // Fell behind or the agent restarts: resume from the last offset.
        EndReason::TooSlow | EndReason::Shutdown => Next::Retry(message.to_owned()),
    }
}

/// The meaning of a failed connect or attach.
pub fn on_error(e: &ClientError) -> Next {
    let Some(code) = e.code() else {
        // Network trouble, a handshake cut short, a closed connection.
        return Next::Retry(e.to_string());
    };
    match code {
        ErrorCode::Revoked => Next::Stop(ConnectionState::Revoked),
        ErrorCode::Expired => Next::Stop(ConnectionState::Expired),
        ErrorCode::SessionEnded => Next::Stop(ConnectionState::SessionEnded { exit_code: None }),
        ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::TooSlow => {
            Next::Retry(e.to_string())
        }
        _ => Next::Stop(ConnectionState::Failed {
            message: e.to_string(),
        }),
    }
}

/// The part of an output chunk at `offset` that is new when everything
/// before `next` was already delivered: `None` when it is all old.
pub fn fresh(next: Option<u64>, offset: u64, data: &[u8]) -> Option<(u64, &[u8])> {
    let Some(next) = next else {
        return Some((offset, data));
    };
    let end = offset.saturating_add(data.len() as u64);
    if end <= next {
        None
    } else if offset < next {
        let skip = (next - offset) as usize;
        Some((next, &data[skip..]))
    } else {
        Some((offset, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::ErrorBody;

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

    #[test]
    fn fresh_bytes_only() {
        assert_eq!(fresh(None, 5, b"abc"), Some((5, &b"abc"[..])));
        assert_eq!(fresh(Some(5), 5, b"abc"), Some((5, &b"abc"[..])));
        assert_eq!(fresh(Some(6), 5, b"abc"), Some((6, &b"bc"[..])));
        assert_eq!(fresh(Some(8), 5, b"abc"), None);
        assert_eq!(fresh(Some(100), 5, b"abc"), None);
        assert_eq!(fresh(Some(3), 5, b"abc"), Some((5, &b"abc"[..])));
        assert_eq!(fresh(Some(5), 5, b""), None);
    }
}
