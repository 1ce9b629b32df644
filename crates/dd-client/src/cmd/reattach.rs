//! Reconnecting a dropped attach stream: the agent's gateway restarted or
//! the network went away. Both `session attach` and `session watch` resume
//! from the next offset they owe, so nothing is lost or repeated. What is
//! retried, how long to wait and when to give up is the client core's
//! resume core ([`dd_client_core::resume`], [`Backoff::DESKTOP`]).

use anyhow::Result;
use dd_client_core::resume::{self, Backoff};
use dd_client_core::{AttachStream, ClientError, Connection};
use dd_proto::methods::Resume;

use super::Ctx;

/// Whether a failed reconnect is worth retrying (network trouble, the
/// agent restarting) or final (refused, revoked, gone, or not a client
/// error at all, e.g. a broken profile).
pub fn retryable(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ClientError>()
        .is_some_and(resume::retryable)
}

/// Connects again through `ctx` and re-attaches to `id` at `resume` (a
/// [`Cursor::resume_or`](dd_client_core::resume::Cursor::resume_or)), on
/// the desktop schedule, until it works, fails for good, or the schedule
/// gives up (then with the last error).
pub async fn reattach(ctx: &Ctx, id: &str, resume: Resume) -> Result<(Connection, AttachStream)> {
    resume::retry(
        &Backoff::DESKTOP,
        retryable,
        |attempt, wait| {
            tracing::debug!(attempt, ?wait, "reconnecting");
            Ok(())
        },
        // `session attach` gives up on `Ctrl-] d` by dropping this future.
        std::future::pending(),
        || async {
            let conn = ctx.connect().await?;
            match conn.attach(id, resume).await {
                Ok(stream) => anyhow::Ok((conn, stream)),
                Err(e) => {
                    conn.close().await;
                    Err(e.into())
                }
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::{ErrorBody, ErrorCode};

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
