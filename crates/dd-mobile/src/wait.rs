//! Connecting patiently: the first connection an iOS app makes to a LAN
//! address fails while the system shows its Local Network permission prompt
//! (and a cold launch from a notification may run before the network is
//! up). [`connect_within`] retries only "could not open the connection"
//! failures, with the attach backoff, until a time budget is spent; every
//! answer from the agent (a refusal, a handshake failure) is final at once.

use std::time::Duration;

use dd_client_core::{ClientError, Connection};
use tokio::time::Instant;

use crate::attach::delay;
use crate::net::Dialer;

/// How long `Companion::redeem` keeps trying to reach the agent: long
/// enough for a person to read and accept the Local Network prompt.
pub(crate) const REDEEM_WAIT: Duration = Duration::from_secs(30);

/// Worth another try: the connection could not be opened or timed out.
pub(crate) fn is_unreachable(e: &ClientError) -> bool {
    matches!(e, ClientError::Connect(_) | ClientError::Timeout)
}

/// Connects, retrying unreachable-agent failures until `budget` is spent;
/// returns the last error then.
pub(crate) async fn connect_within(
    dialer: &Dialer,
    budget: Duration,
) -> Result<Connection, ClientError> {
    let deadline = Instant::now() + budget;
    let mut attempt = 0u32;
    loop {
        let e = match dialer.connect().await {
            Ok(conn) => return Ok(conn),
            Err(e) => e,
        };
        let now = Instant::now();
        if !is_unreachable(&e) || now >= deadline {
            return Err(e);
        }
        attempt = attempt.saturating_add(1);
        let wait = delay(attempt, rand::random::<f64>()).min(deadline - now);
        tracing::debug!(attempt, %e, ?wait, "agent unreachable; trying again");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::error::ErrorBody;
    use dd_proto::ErrorCode;

    #[test]
    fn only_unreachable_is_retried() {
        assert!(is_unreachable(&ClientError::Connect("refused".into())));
        assert!(is_unreachable(&ClientError::Timeout));
        assert!(!is_unreachable(&ClientError::Handshake("bad key".into())));
        assert!(!is_unreachable(&ClientError::Closed));
        assert!(!is_unreachable(&ClientError::Refused(ErrorBody::new(
            ErrorCode::Revoked,
            "gone"
        ))));
    }
}
