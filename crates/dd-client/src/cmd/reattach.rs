//! Reconnecting a dropped attach stream: the agent's gateway restarted or
//! the network went away. Both `session attach` and `session watch` resume
//! from the next offset they owe, so nothing is lost or repeated.

use std::time::Duration;

use anyhow::Result;
use dd_client_core::{AttachStream, ClientError, Connection};
use dd_proto::methods::Resume;
use dd_proto::ErrorCode;

use super::Ctx;

/// How long to keep trying before giving up.
pub const RECONNECT_FOR: Duration = Duration::from_secs(600);

/// Whether a failed reconnect is worth retrying (network trouble, the
/// agent restarting) or final (refused, revoked, gone).
pub fn retryable(e: &anyhow::Error) -> bool {
    match e.downcast_ref::<ClientError>() {
        Some(c) => match c.code() {
            None => true,
            Some(code) => matches!(
                code,
                ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::TooSlow
            ),
        },
        None => false,
    }
}

/// Connects again through `ctx` and re-attaches to `id` at `offset`, with
/// backoff (100 ms doubling to 3 s), until it works, fails for good, or
/// [`RECONNECT_FOR`] passes.
pub async fn reattach(ctx: &Ctx, id: &str, offset: u64) -> Result<(Connection, AttachStream)> {
    let give_up = tokio::time::Instant::now() + RECONNECT_FOR;
    let mut wait = Duration::from_millis(100);
    loop {
        let attempt = async {
            let conn = ctx.connect().await?;
            let stream = conn.attach(id, Resume::Offset { offset }).await?;
            anyhow::Ok((conn, stream))
        };
        match attempt.await {
            Ok(pair) => return Ok(pair),
            Err(e) if !retryable(&e) || tokio::time::Instant::now() >= give_up => return Err(e),
            Err(e) => tracing::debug!(%e, "reconnect failed"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(3));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::ErrorBody;

    #[test]
    fn what_is_worth_retrying() {
        let net: anyhow::Error = ClientError::Closed.into();
        assert!(retryable(&net));
        let rpc = |c| -> anyhow::Error { ClientError::Rpc(ErrorBody::new(c, "x")).into() };
        assert!(retryable(&rpc(ErrorCode::RateLimited)));
        for code in [
            ErrorCode::Revoked,
            ErrorCode::NotFound,
            ErrorCode::Forbidden,
        ] {
            assert!(!retryable(&rpc(code)), "{code:?}");
        }
        assert!(!retryable(&anyhow::anyhow!("a usage error")));
    }
}
