//! Answering a prompt without attaching: what a notification action on the
//! lock screen (or on a cold launch) needs. The answer is checked against
//! the prompt the agent says waits NOW, so an action that arrives late is
//! refused rather than typed into whatever the session shows by then.

use std::time::Duration;

use dd_client_core::prompt::{answer_waiting, AnswerError};

use crate::companion::Companion;
use crate::error::MobileError;
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
        let dialer = self.dialer(&stored)?;
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
    match answer_waiting(conn, session_id, choice, Some(seq)).await {
        Ok(_) => Ok(()),
        Err(e) => Err(refusal(e)),
    }
}

/// What an answer that was not sent means for the phone.
fn refusal(e: AnswerError) -> MobileError {
    let agent = |code: &str, message: String| MobileError::Agent {
        code: code.into(),
        message,
    };
    match e {
        AnswerError::Client(e) => e.into(),
        AnswerError::NotWaiting { .. } => agent("not_waiting", e.to_string()),
        AnswerError::Stale { asked, now } => agent(
            "stale_prompt",
            format!("question {asked} no longer waits; question {now} does"),
        ),
        AnswerError::Choose(e) => agent("no_such_choice", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_client_core::prompt::ChooseError;

    #[test]
    fn refusals_keep_their_meaning() {
        let e = refusal(AnswerError::NotWaiting {
            session: "s_1".into(),
        });
        assert_eq!(e.code(), "not_waiting");
        let e = refusal(AnswerError::Stale { asked: 3, now: 4 });
        assert_eq!(e.code(), "stale_prompt");
        assert!(e.message().contains("question 4"), "{e}");
        let e = refusal(AnswerError::Choose(ChooseError::NoSuchChoice {
            answer: "maybe".into(),
            seq: 3,
            hint: "choose one of: 1) Yes, 2) No".into(),
        }));
        assert_eq!(e.code(), "no_such_choice");
        let e = refusal(AnswerError::Client(dd_client_core::ClientError::Closed));
        assert!(matches!(e, MobileError::Network { .. }), "{e:?}");
    }
}
