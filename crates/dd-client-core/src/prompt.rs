//! Prompts (`input_needed`) as clients show and answer them: shared by
//! `dd-client`, `dd-companion` and the mobile core.

use dd_proto::methods::{Choice, InputNeeded, PromptSource};

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
