//! Prompts (`input_needed`) as clients show and answer them: shared by
//! `dd-client`, `dd-companion` and the mobile core.

use dd_proto::methods::{Choice, InputNeeded, PromptSource, SendInput, SessionInfo, SESSION_INPUT};

use crate::{ClientError, Connection};

/// The wire name of a prompt source (`bel`, `osc9`, ..., `other`).
pub fn source_name(s: PromptSource) -> &'static str {
    match s {
        PromptSource::Bel => "bel",
        PromptSource::Osc9 => "osc9",
        PromptSource::Osc777 => "osc777",
        PromptSource::Osc99 => "osc99",
        PromptSource::Heuristic => "heuristic",
        PromptSource::Hook => "hook",
        PromptSource::Other => "other",
    }
}

/// `s` without control characters other than newlines (prompt text comes
/// from a program's output; it must not drive the reader's terminal).
pub fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .collect()
}

/// A prompt as text: a header, the screen lines, numbered choices; each
/// line ends in `\n`.
pub fn describe(p: &InputNeeded) -> String {
    let mut out = format!(
        "[input needed #{} via {}] {}: {}\n",
        p.seq,
        source_name(p.source),
        clean(&p.title).replace('\n', " "),
        clean(&p.body).replace('\n', " ")
    );
    for line in p.prompt.lines() {
        out.push_str(&format!("  | {}\n", clean(line)));
    }
    for (i, c) in p.choices.iter().enumerate() {
        out.push_str(&format!("  {}) {}\n", i + 1, clean(&c.label)));
    }
    out
}

/// Why [`choose`] found nothing to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChooseError {
    /// No choice matches; the message lists the choices there are.
    #[error("no choice {answer:?} in prompt #{seq}; {hint}")]
    NoSuchChoice {
        /// What was asked for.
        answer: String,
        /// The prompt's seq.
        seq: u64,
        /// `choose one of: 1) Yes, 2) No`, or how to answer without choices.
        hint: String,
    },
    /// The choice's input is not valid base64url, or empty (answer by typing).
    #[error("choice {label:?} of prompt #{seq} carries no input to send; type the answer")]
    NoInput {
        /// The choice's label.
        label: String,
        /// The prompt's seq.
        seq: u64,
    },
}

/// The choice of `p` named by `answer` (label, typed key or 1-based index;
/// see [`InputNeeded::find_choice`]) and the bytes that pick it.
pub fn choose<'a>(p: &'a InputNeeded, answer: &str) -> Result<(&'a Choice, Vec<u8>), ChooseError> {
    let Some(c) = p.find_choice(answer) else {
        let labels: Vec<String> = p
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}) {}", i + 1, clean(&c.label)))
            .collect();
        let hint = if labels.is_empty() {
            "it offers no choices; type the answer".to_owned()
        } else {
            format!("choose one of: {}", labels.join(", "))
        };
        return Err(ChooseError::NoSuchChoice {
            answer: answer.to_owned(),
            seq: p.seq,
            hint,
        });
    };
    match c.bytes() {
        Some(b) if !b.is_empty() => Ok((c, b)),
        _ => Err(ChooseError::NoInput {
            label: c.label.clone(),
            seq: p.seq,
        }),
    }
}

/// Why [`answer_waiting`] sent nothing.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The session waits for no answer now.
    #[error("session {session} waits for no answer")]
    NotWaiting {
        /// The session.
        session: String,
    },
    /// Another prompt than the one asked about waits now.
    #[error("prompt #{now} waits now, not #{asked}")]
    Stale {
        /// The prompt the answer was for.
        asked: u64,
        /// The prompt waiting now.
        now: u64,
    },
    /// The choice does not fit the prompt waiting now.
    #[error(transparent)]
    Choose(#[from] ChooseError),
    /// The agent refused or the connection failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Answers the prompt `session` waits on now with `choice` (as [`choose`]),
/// over `conn`: asks the agent which prompt waits (`session.meta`), refuses
/// when none does or, given `seq`, when another one does, and sends the
/// choice's input as a `session.input` call (so a refusal, e.g. a read-only
/// grant, comes back here). Returns the prompt answered and the choice's
/// label. The one answer path of `dd-client session answer` and the mobile
/// core's notification answers.
pub async fn answer_waiting(
    conn: &Connection,
    session: &str,
    choice: &str,
    seq: Option<u64>,
) -> Result<(InputNeeded, String), AnswerError> {
    let info: SessionInfo = conn.session_meta(session).await?;
    let Some(prompt) = info.waiting.map(|p| *p) else {
        return Err(AnswerError::NotWaiting {
            session: session.to_owned(),
        });
    };
    if let Some(asked) = seq.filter(|s| *s != prompt.seq) {
        return Err(AnswerError::Stale {
            asked,
            now: prompt.seq,
        });
    }
    let (c, bytes) = choose(&prompt, choice)?;
    let label = c.label.clone();
    let _: serde_json::Value = conn
        .call_typed(
            SESSION_INPUT,
            &SendInput {
                session: session.to_owned(),
                data: dd_proto::keys::encode_bytes(&bytes),
            },
        )
        .await?;
    Ok((prompt, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(choices: Vec<Choice>) -> InputNeeded {
        InputNeeded {
            session: "s_1".into(),
            seq: 3,
            title: "sh\x1b]0;x".into(),
            body: "Continue? [y/N]".into(),
            prompt: "$ ./install\nContinue? [y/N]".into(),
            choices,
            at: 1,
            source: PromptSource::Heuristic,
        }
    }

    #[test]
    fn describes_without_control_characters() {
        let p = prompt(vec![
            Choice::new("Yes", b"y\r"),
            Choice::new("No\x07", b"n\r"),
        ]);
        assert_eq!(
            describe(&p),
            "[input needed #3 via heuristic] sh]0;x: Continue? [y/N]\n  | $ ./install\n  | Continue? [y/N]\n  1) Yes\n  2) No\n"
        );
    }

    #[test]
    fn chooses_by_label_key_or_index_and_explains_misses() {
        let p = prompt(vec![
            Choice::new("Yes", b"y\r"),
            Choice::new("No", b"n\r"),
            Choice::new("Type", b""),
            Choice {
                label: "Bad".into(),
                input: "*".into(),
            },
        ]);
        assert_eq!(choose(&p, "yes").unwrap().1, b"y\r");
        assert_eq!(choose(&p, "n").unwrap().1, b"n\r");
        assert_eq!(choose(&p, "2").unwrap().0.label, "No");
        let e = choose(&p, "maybe").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no choice \"maybe\" in prompt #3; choose one of: 1) Yes, 2) No, 3) Type, 4) Bad"
        );
        assert!(matches!(
            choose(&p, "Type"),
            Err(ChooseError::NoInput { .. })
        ));
        assert!(matches!(choose(&p, "4"), Err(ChooseError::NoInput { .. })));
        assert!(matches!(
            choose(&p, "0"),
            Err(ChooseError::NoSuchChoice { .. })
        ));
        let none = prompt(vec![]);
        assert_eq!(
            choose(&none, "y").unwrap_err().to_string(),
            "no choice \"y\" in prompt #3; it offers no choices; type the answer"
        );
    }

    #[test]
    fn source_names_match_the_wire() {
        for s in [
            PromptSource::Bel,
            PromptSource::Osc9,
            PromptSource::Osc777,
            PromptSource::Osc99,
            PromptSource::Heuristic,
            PromptSource::Other,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), source_name(s));
        }
    }
}
