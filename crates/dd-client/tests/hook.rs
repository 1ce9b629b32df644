//! `dd-client hook` outside a dd session and on bad input (inside one it is
//! exercised by dd-agent's prompt corpus, through real sessions).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn hook(args: &[&str], stdin: &str, in_session: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dd-client"));
    cmd.arg("hook")
        .args(args)
        .env_remove("DD_SESSION_ID")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if in_session {
        cmd.env("DD_SESSION_ID", "s_test");
    }
    let mut child = cmd.spawn().expect("spawn dd-client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn agent_forms_do_nothing_outside_a_session() {
    let n = r#"{"hook_event_name":"Notification","message":"Claude needs your permission to use Bash"}"#;
    let out = hook(&["claude"], n, false);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let out = hook(&["codex", r#"{"type":"agent-turn-complete"}"#], "", false);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    // Not even bad JSON fails an agent outside dd: it is not read.
    let out = hook(&["claude"], "not json", false);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn generic_forms_fail_clearly_outside_a_session() {
    for args in [&["needed", "Deploy done"][..], &["cleared"]] {
        let out = hook(args, "", false);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not inside a dd session"), "{err}");
    }
    let out = hook(&["needed"], "", false);
    assert_eq!(out.status.code(), Some(2), "a message is required");
}

#[test]
fn bad_hook_json_is_an_error_not_a_panic() {
    for (args, stdin) in [
        (&["claude"][..], "not json"),
        (&["claude"], r#"{"message":"no event name"}"#),
        (&["codex", "{oops"], ""),
    ] {
        let out = hook(args, stdin, true);
        assert_eq!(out.status.code(), Some(1), "{args:?} {out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

#[test]
fn without_a_terminal_the_agent_forms_still_exit_0() {
    // In a session but with no controlling terminal (setsid): /dev/tty
    // cannot be opened. Claude Code must not see a failing hook.
    let n = r#"{"hook_event_name":"Stop"}"#;
    let mut cmd = Command::new("setsid");
    cmd.arg(env!("CARGO_BIN_EXE_dd-client"))
        .args(["hook", "claude"])
        .env("DD_SESSION_ID", "s_test")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let Ok(mut child) = cmd.spawn() else {
        eprintln!("skipped: no setsid");
        return;
    };
    child.stdin.take().unwrap().write_all(n.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let mut cmd = Command::new("setsid");
    let out = cmd
        .arg(env!("CARGO_BIN_EXE_dd-client"))
        .args(["hook", "needed", "x"])
        .env("DD_SESSION_ID", "s_test")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("/dev/tty"));
}
