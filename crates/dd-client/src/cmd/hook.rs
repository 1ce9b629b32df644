//! `dd-client hook`: an agent's hooks (Claude Code, Codex) tell dd that the
//! session waits for the user, or goes on.
//!
//! It runs inside the session, as a child of the agent CLI, and writes dd's
//! OSC 6464 sequence to the controlling terminal (`/dev/tty`), which is the
//! session's PTY. The dd agent's output parser sees it like any other
//! notification sequence (docs/prompts.md, docs/protocol.md):
//!
//! * `ESC ] 6464 ; needed ; t=<base64 title> ; b=<base64 body> ESC \`
//! * `ESC ] 6464 ; cleared ESC \`
//!
//! Nothing needs a socket, the state dir or a key; a program can only raise
//! prompts for the session it runs in, which it could do with a bell anyway.

use std::io::{IsTerminal, Read, Write};

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::Value;

use crate::cli::HookCmd;

/// The environment variable the session host sets in every session.
pub const SESSION_ENV: &str = "DD_SESSION_ID";
/// The terminal written to.
const TTY: &str = "/dev/tty";
/// Largest hook JSON read from stdin.
const MAX_STDIN: u64 = 1 << 20;
/// Longest message sent, in characters (the agent keeps at most 1,024).
const MAX_CHARS: usize = 1000;

/// What the hook tells the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The program waits: title and message.
    Needed(String, String),
    /// The program goes on.
    Cleared,
}

/// Runs `dd-client hook ...`.
pub fn run(cmd: &HookCmd) -> Result<()> {
    let strict = matches!(cmd, HookCmd::Needed { .. } | HookCmd::Cleared);
    if std::env::var_os(SESSION_ENV).is_none_or(|v| v.is_empty()) {
        if strict {
            bail!("not inside a dd session ({SESSION_ENV} is not set)");
        }
        tracing::info!("not inside a dd session; nothing to do");
        return Ok(());
    }
    let action = match cmd {
        HookCmd::Claude => from_hook_json(&read_stdin()?, "Claude Code")?,
        HookCmd::Codex { payload: Some(p) } => from_codex_notify(p)?,
        HookCmd::Codex { payload: None } => from_hook_json(&read_stdin()?, "Codex")?,
        HookCmd::Needed { message, title } => Some(Action::Needed(
            title.clone().unwrap_or_default(),
            message.join(" "),
        )),
        HookCmd::Cleared => Some(Action::Cleared),
    };
    let Some(action) = action else {
        return Ok(());
    };
    let seq = sequence(&action);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .open(TTY)
        .and_then(|mut t| t.write_all(&seq).and_then(|()| t.flush()));
    match written {
        Ok(()) => Ok(()),
        Err(e) if strict => Err(e).with_context(|| format!("cannot write to {TTY}")),
        Err(e) => {
            tracing::info!(error = %e, "no terminal to tell");
            Ok(())
        }
    }
}

/// The hook's JSON from stdin (bounded).
fn read_stdin() -> Result<Value> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        bail!("expects the hook's JSON on stdin (see `dd-client hook needed` for scripts)");
    }
    let mut buf = Vec::new();
    stdin
        .lock()
        .take(MAX_STDIN)
        .read_to_end(&mut buf)
        .context("cannot read the hook's JSON")?;
    serde_json::from_slice(&buf).context("the hook's stdin is not JSON")
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A Claude Code (or Codex) hook's JSON: what it means for the session.
pub fn from_hook_json(v: &Value, agent: &str) -> Result<Option<Action>> {
    let Some(event) = text(v, "hook_event_name") else {
        bail!("the hook's JSON has no hook_event_name");
    };
    let needed = |body: String| Some(Action::Needed(agent.to_owned(), body));
    Ok(match event.as_str() {
        "Notification" => {
            let kind = text(v, "notification_type").unwrap_or_default();
            // Reports of something done, not requests.
            if matches!(
                kind.as_str(),
                "auth_success" | "elicitation_complete" | "elicitation_response"
            ) {
                None
            } else {
                let title = text(v, "title").unwrap_or_else(|| agent.to_owned());
                let body = text(v, "message").unwrap_or_else(|| format!("{agent} needs you"));
                Some(Action::Needed(title, body))
            }
        }
        "PermissionRequest" => {
            let tool = text(v, "tool_name").unwrap_or_else(|| "a tool".into());
            let detail = v
                .get("tool_input")
                .and_then(|i| text(i, "command").or_else(|| text(i, "file_path")));
            needed(match detail {
                Some(d) => format!("{agent} needs your permission to use {tool}: {d}"),
                None => format!("{agent} needs your permission to use {tool}"),
            })
        }
        "Stop" => needed(
            text(v, "last_assistant_message")
                .unwrap_or_else(|| format!("{agent} finished and waits for you")),
        ),
        "UserPromptSubmit" | "PreToolUse" | "PostToolUse" | "PostToolUseFailure" => {
            Some(Action::Cleared)
        }
        _ => None,
    })
}

/// Codex's `notify` JSON (`{"type": "agent-turn-complete", ...}`).
pub fn from_codex_notify(payload: &str) -> Result<Option<Action>> {
    let v: Value = serde_json::from_str(payload).context("Codex's notification is not JSON")?;
    let kind = text(&v, "type").unwrap_or_default();
    let needed = |body: String| Some(Action::Needed("Codex".into(), body));
    Ok(match kind.as_str() {
        "agent-turn-complete" => needed(
            text(&v, "last-assistant-message")
                .unwrap_or_else(|| "Codex finished and waits for you".into()),
        ),
        "approval-requested" | "user-input-requested" => needed(
            text(&v, "message")
                .or_else(|| text(&v, "last-assistant-message"))
                .unwrap_or_else(|| "Codex needs your approval".into()),
        ),
        _ => None,
    })
}

/// The OSC 6464 bytes for `action`.
pub fn sequence(action: &Action) -> Vec<u8> {
    let b64 = |s: &str| {
        let cut: String = s.chars().take(MAX_CHARS).collect();
        base64::engine::general_purpose::STANDARD.encode(cut)
    };
    match action {
        Action::Needed(title, body) => {
            format!("\x1b]6464;needed;t={};b={}\x1b\\", b64(title), b64(body)).into_bytes()
        }
        Action::Cleared => b"\x1b]6464;cleared\x1b\\".to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn needed(t: &str, b: &str) -> Option<Action> {
        Some(Action::Needed(t.into(), b.into()))
    }

    #[test]
    fn claude_code_events() {
        let n = json!({"session_id": "x", "transcript_path": "/t", "cwd": "/",
            "hook_event_name": "Notification",
            "message": "Claude needs your permission to use Bash",
            "notification_type": "permission_prompt"});
        assert_eq!(
            from_hook_json(&n, "Claude Code").unwrap(),
            needed("Claude Code", "Claude needs your permission to use Bash")
        );
        let done = json!({"hook_event_name": "Notification", "message": "ok",
            "notification_type": "auth_success"});
        assert_eq!(from_hook_json(&done, "Claude Code").unwrap(), None);
        let p = json!({"hook_event_name": "PermissionRequest", "tool_name": "Bash",
            "tool_input": {"command": "rm -rf build"}});
        assert_eq!(
            from_hook_json(&p, "Claude Code").unwrap(),
            needed(
                "Claude Code",
                "Claude Code needs your permission to use Bash: rm -rf build"
            )
        );
        let stop = json!({"hook_event_name": "Stop", "stop_hook_active": false});
        assert_eq!(
            from_hook_json(&stop, "Claude Code").unwrap(),
            needed("Claude Code", "Claude Code finished and waits for you")
        );
        for e in ["UserPromptSubmit", "PreToolUse", "PostToolUse"] {
            let v = json!({"hook_event_name": e, "prompt": "go"});
            assert_eq!(
                from_hook_json(&v, "Claude Code").unwrap(),
                Some(Action::Cleared)
            );
        }
        let other = json!({"hook_event_name": "SessionStart"});
        assert_eq!(from_hook_json(&other, "Claude Code").unwrap(), None);
        assert!(from_hook_json(&json!({"message": "x"}), "Claude Code").is_err());
        assert!(from_hook_json(&json!([1]), "Claude Code").is_err());
    }

    #[test]
    fn codex_notify() {
        let v = r#"{"type":"agent-turn-complete","thread-id":"t","turn-id":"1",
            "cwd":"/","input-messages":["fix it"],"last-assistant-message":"Done. Run the tests?"}"#;
        assert_eq!(
            from_codex_notify(v).unwrap(),
            needed("Codex", "Done. Run the tests?")
        );
        assert_eq!(from_codex_notify(r#"{"type":"other"}"#).unwrap(), None);
        assert!(from_codex_notify("not json").is_err());
    }

    #[test]
    fn sequences() {
        assert_eq!(
            sequence(&Action::Needed("T".into(), "hi".into())),
            b"\x1b]6464;needed;t=VA==;b=aGk=\x1b\\"
        );
        assert_eq!(sequence(&Action::Cleared), b"\x1b]6464;cleared\x1b\\");
        let long = sequence(&Action::Needed(String::new(), "é".repeat(5000)));
        assert!(long.len() < 3000, "cut to {MAX_CHARS} characters");
    }
}
