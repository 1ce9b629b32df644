//! The companion's whole flow against a real agent and a real shell.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::{failure, json, Running, World};

#[test]
fn join_watch_send_detach_reattach() {
    let w = World::new();
    let s = w.shell();
    let joined = w.join(&s, &[]);
    assert_eq!(joined["session_id"], s.as_str());
    assert!(joined["grant_id"].as_str().unwrap().starts_with("g_"));
    assert_eq!(joined["agent_url"], w.agent.url.as_str());
    assert_eq!(joined["read_only"], false);
    assert!(joined["expires_at"].as_str().unwrap().contains('T'));

    let list = json(&w.comp_ok(&["list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["session_id"], s.as_str());
    assert_eq!(list[0]["grant_id"], joined["grant_id"]);
    assert!(list[0].get("private_key").is_none());

    // The credential file is private.
    use std::os::unix::fs::PermissionsExt;
    let home = w.companion_home();
    assert_eq!(
        std::fs::metadata(&home).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for e in std::fs::read_dir(&home).unwrap() {
        let m = e.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(m, 0o600);
    }

    // Watch while sending input the shell runs.
    let mut watch = Running::spawn(w.comp().args([
        "watch",
        &s,
        "--from",
        "start",
        "--until",
        "flow-42",
        "--timeout",
        "20",
    ]));
    std::thread::sleep(Duration::from_millis(300));
    w.comp_ok(&["send", &s, "--enter", "--", "echo flow-$((6*7))"]);
    assert_eq!(watch.wait_exit(20), 0, "{}", watch.stderr());
    assert!(watch.stdout().contains("flow-42"));

    // Interactive attach (no TTY: raw mode is skipped), type, detach.
    let mut att = Running::spawn(w.comp().args(["attach"]).stdin(Stdio::piped()));
    let mut stdin = att.child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(b"echo att-$((2*3))x\r").unwrap();
    att.wait_for("att-6x", 15);
    // This terminal's answers to a program's questions (device attributes,
    // a colour, a capability) are not typing: only the words around them
    // reach the shell.
    stdin
        .write_all(
            b"echo ans\x1b[?62;22c\x1b]11;rgb:0000/0000/0000\x1b\\\x1bP1+r544e\x1b\\wer-$((3*4))\r",
        )
        .unwrap();
    att.wait_for("answer-12", 15);
    stdin.write_all(b"\x1dd").unwrap();
    assert_eq!(att.wait_exit(10), 0, "{}", att.stderr());
    assert!(att.stderr().contains("detached"), "{}", att.stderr());

    // Re-attach from the stored state: the screen still shows it.
    let mut again = Running::spawn(w.comp().args(["attach", &s]).stdin(Stdio::piped()));
    let mut stdin = again.child.stdin.take().unwrap();
    again.wait_for("att-6x", 15);
    stdin.write_all(b"\x1dd").unwrap();
    assert_eq!(again.wait_exit(10), 0);

    // The session is still running for the owner.
    let meta = json(&w.comp_ok(&["call", &s, "session.meta"]));
    assert_eq!(meta["status"], "running");
}

#[test]
fn desktop_goes_away_companion_keeps_working() {
    let w = World::new();
    let s = w.shell();
    w.join(&s, &[]);
    let mut desk = Running::spawn(w.owner().args(["session", "watch", &s, "--timeout", "60"]));
    let mut phone =
        Running::spawn(
            w.comp()
                .args(["watch", &s, "--until", "after-kill-7", "--timeout", "30"]),
        );
    std::thread::sleep(Duration::from_millis(800));
    desk.child.kill().unwrap();
    desk.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        phone.child.try_wait().unwrap().is_none(),
        "phone watch ended"
    );
    w.comp_ok(&["send", &s, "--enter", "--", "echo after-kill-$((3+4))"]);
    assert_eq!(phone.wait_exit(20), 0, "{}", phone.stderr());
}

#[test]
fn read_only_watches_but_cannot_type() {
    let w = World::new();
    let s = w.shell();
    let joined = w.join(&s, &["--read-only"]);
    assert_eq!(joined["read_only"], true);
    let mut watch =
        Running::spawn(
            w.comp()
                .args(["watch", &s, "--until", "ro-15", "--timeout", "20"]),
        );
    std::thread::sleep(Duration::from_millis(500));
    w.owner_ok(&["session", "send", &s, "--enter", "--", "echo ro-$((5*3))"]);
    assert_eq!(watch.wait_exit(20), 0, "{}", watch.stderr());

    let out = w.run(&["send", &s, "--", "rm -rf nothing"]);
    let (code, err) = failure(&out);
    assert_eq!(code, 3, "{err}");
    assert!(err.starts_with("error: forbidden:"), "{err}");
    // --json form.
    let out = w.run(&["send", &s, "--json", "--", "x"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["error"],
        "forbidden"
    );
}

#[test]
fn forget_revokes_and_deletes() {
    let w = World::new();
    let s = w.shell();
    let joined = w.join(&s, &[]);
    let grant = joined["grant_id"].as_str().unwrap();
    w.comp_ok(&["forget", &s]);
    let grants = json(&w.owner_ok(&["session", "grants", &s, "--json"]));
    let g = grants
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["grant_id"] == grant)
        .expect("grant listed");
    assert!(!g["revoked_at"].is_null(), "{g}");
    assert_eq!(json(&w.comp_ok(&["list", "--json"])), serde_json::json!([]));
    let (code, err) = failure(&w.run(&["call", &s, "session.meta"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not_paired"), "{err}");
    let (code, _) = failure(&w.run(&["forget", &s]));
    assert_eq!(code, 1);
}

#[test]
fn usage_errors() {
    let w = World::new();
    let (code, err) = failure(&w.run(&["attach"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no pairings"), "{err}");
    let (code, _) = failure(&w.run(&["watch", "s_x", "--from", "yesterday"]));
    assert!(code == 2 || code == 1);
    let (code, err) = failure(&w.run(&["join", "https://example.com/"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not_dd_link"), "{err}");
}
