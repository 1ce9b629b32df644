//! Answering a prompt without attaching: what a notification action on the
//! lock screen (or on a cold launch) needs. The answer is checked against
//! the prompt the agent says waits NOW, so an action that arrives late is
//! refused rather than typed into whatever the session shows by then.

use std::time::Duration;

use dd_proto::methods::{self, SendInput, SessionInfo, SessionRef};

use crate::companion::Companion;
use crate::error::MobileError;
use crate::net::Dialer;
use crate::prompt::sanitized;
use crate::wait::connect_within;

/// The longest `answer_prompt` waits for the agent to be reachable.
pub const ANSWER_WAIT_MAX: Duration = Duration::from_secs(60);

#[uniffi::export(async_runtime = "tokio")]
impl Companion {
    /// Answers prompt `seq` of the session with `choice` (a label in any
    /// case, a typed key or a 1-based index, as `AttachHandle::answer`)
    /// over a connection of its own, no attach. Waits up to `wait_ms`
    /// (at most 60 s) for the agent to become reachable (a cold launch, the
    /// Local Network prompt), then asks the agent which prompt waits now:
    /// fails with `Agent { code: "not_waiting" }` when none does,
    /// `Agent { code: "stale_prompt" }` when another one does (its seq is in
    /// the message), `Agent { code: "no_such_choice" }` when `choice`
    /// matches none, `Denied { code: "forbidden" }` on a read-only grant,
    /// `Network` when the agent stayed unreachable.
    pub async fn answer_prompt(
        &self,
        session_id: String,
        seq: u64,
        choice: String,
        wait_ms: u32,
    ) -> Result<(), MobileError> {
        let stored = self.load(&session_id)?;
        let dialer = Dialer::of(&stored)?;
        let budget = Duration::from_millis(u64::from(wait_ms)).min(ANSWER_WAIT_MAX);
        let conn = connect_within(&dialer, budget).await?;
        let result = answer_on(&conn, &session_id, seq, &choice).await;
        conn.close().await;
        result
    }
}

async fn answer_on(
    conn: &dd_client_core::Connection,
    session_id: &str,
    seq: u64,
    choice: &str,
) -> Result<(), MobileError> {
    let info: SessionInfo = conn
        .call_typed(
            methods::SESSION_META,
            &SessionRef {
                session: session_id.to_owned(),
            },
        )
        .await?;
    let bytes = choose(session_id, info.waiting.map(|p| sanitized(*p)), seq, choice)?;
    let params = SendInput {
        session: session_id.to_owned(),
        data: dd_proto::keys::encode_bytes(&bytes),
    };
    let _: serde_json::Value = conn.call_typed(methods::SESSION_INPUT, &params).await?;
    Ok(())
}

/// The bytes answering prompt `seq` with `choice`, given what waits now.
fn choose(
    session_id: &str,
    waiting: Option<methods::InputNeeded>,
    seq: u64,
    choice: &str,
) -> Result<Vec<u8>, MobileError> {
    let Some(p) = waiting else {
        return Err(MobileError::Agent {
            code: "not_waiting".into(),
            message: format!("session {session_id} waits for no answer"),
        });
    };
    if p.seq != seq {
        return Err(MobileError::Agent {
            code: "stale_prompt".into(),
            message: format!(
                "question {seq} no longer waits; session {session_id} now asks question {}",
                p.seq
            ),
        });
    }
    dd_client_core::prompt::choose(&p, choice)
        .map(|(_, bytes)| bytes)
        .map_err(|e| MobileError::Agent {
            code: "no_such_choice".into(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(seq: u64) -> methods::InputNeeded {
        crate::prompt::sample(seq)
    }

    #[test]
    fn answers_only_the_prompt_that_waits_now() {
        assert_eq!(choose("s_1", Some(p(3)), 3, "no").unwrap(), b"n\r");
        assert_eq!(choose("s_1", Some(p(3)), 3, "1").unwrap(), b"y\r");
        let none = choose("s_1", None, 3, "y").unwrap_err();
        assert_eq!(none.code(), "not_waiting");
        let stale = choose("s_1", Some(p(4)), 3, "y").unwrap_err();
        assert_eq!(stale.code(), "stale_prompt");
        assert!(stale.message().contains("question 4"), "{stale}");
        let odd = choose("s_1", Some(p(3)), 3, "maybe").unwrap_err();
        assert_eq!(odd.code(), "no_such_choice");
    }
}
