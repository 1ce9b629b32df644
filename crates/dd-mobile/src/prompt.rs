//! Prompts across the FFI: a session waits for an answer
//! (`input_needed`), with its likely answers as bytes to send.

use dd_client_core::prompt::source_name;
use dd_proto::methods;

/// One likely answer to a prompt.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PromptChoice {
    /// What to show on the button (`Yes`, `No`, `Continue`, a menu item).
    pub label: String,
    /// The bytes that choose it (e.g. `y\r`, or arrow keys and `\r`).
    /// `AttachHandle::answer` sends them for you.
    pub input: Vec<u8>,
}

/// The session waits for input: the question and its likely answers.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InputNeeded {
    /// The session id.
    pub session_id: String,
    /// Per-session number of this prompt; `on_input_cleared` names it.
    pub seq: u64,
    /// A headline (notification title, terminal title or session name).
    pub title: String,
    /// The question or notification text.
    pub body: String,
    /// The last non-empty lines of the screen, joined by `\n`.
    pub prompt: String,
    /// Likely answers in screen order; empty means "answer by typing".
    pub choices: Vec<PromptChoice>,
    /// When it was raised (Unix seconds).
    pub at: i64,
    /// What raised it: `bel`, `osc9`, `osc777`, `osc99`, `heuristic` or
    /// `other`.
    pub source: String,
}

/// The prompt without the choices whose input is not valid base64url, so
/// that the host's list and [`methods::InputNeeded::find_choice`] agree.
pub(crate) fn sanitized(mut p: methods::InputNeeded) -> methods::InputNeeded {
    p.choices.retain(|c| c.bytes().is_some());
    p
}

impl From<&methods::InputNeeded> for InputNeeded {
    fn from(p: &methods::InputNeeded) -> Self {
        InputNeeded {
            session_id: p.session.clone(),
            seq: p.seq,
            title: p.title.clone(),
            body: p.body.clone(),
            prompt: p.prompt.clone(),
            choices: p
                .choices
                .iter()
                .filter_map(|c| {
                    c.bytes().map(|input| PromptChoice {
                        label: c.label.clone(),
                        input,
                    })
                })
                .collect(),
            at: p.at,
            source: source_name(p.source).to_owned(),
        }
    }
}

/// A two-choice prompt (Yes / No) of session `s_1`, for tests.
#[cfg(test)]
pub(crate) fn sample(seq: u64) -> methods::InputNeeded {
    use dd_proto::methods::{Choice, PromptSource};
    methods::InputNeeded {
        session: "s_1".into(),
        seq,
        title: "sh".into(),
        body: "Continue? [y/N]".into(),
        prompt: "Continue? [y/N]".into(),
        choices: vec![Choice::new("Yes", b"y\r"), Choice::new("No", b"n\r")],
        at: 1,
        source: PromptSource::Heuristic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::methods::{Choice, PromptSource};

    fn wire() -> methods::InputNeeded {
        methods::InputNeeded {
            session: "s_1".into(),
            seq: 4,
            title: "sh".into(),
            body: "Continue? [y/N]".into(),
            prompt: "$ x\nContinue? [y/N]".into(),
            choices: vec![
                Choice::new("Yes", b"y\r"),
                Choice {
                    label: "Broken".into(),
                    input: "!!not base64!!".into(),
                },
                Choice::new("No", b"n\r"),
            ],
            at: 1_767_000_000,
            source: PromptSource::Heuristic,
        }
    }

    #[test]
    fn converts_and_drops_undecodable_choices() {
        let p = InputNeeded::from(&wire());
        assert_eq!(p.session_id, "s_1");
        assert_eq!((p.seq, p.at), (4, 1_767_000_000));
        assert_eq!(p.source, "heuristic");
        assert_eq!(
            p.choices,
            vec![
                PromptChoice {
                    label: "Yes".into(),
                    input: b"y\r".to_vec()
                },
                PromptChoice {
                    label: "No".into(),
                    input: b"n\r".to_vec()
                },
            ]
        );
        // The sanitized wire prompt numbers its choices the same way.
        let s = sanitized(wire());
        assert_eq!(s.find_choice("2").map(|c| c.label.as_str()), Some("No"));
        assert_eq!(
            wire().find_choice("2").map(|c| c.label.as_str()),
            Some("Broken")
        );
    }
}
