//! `dd-companion events` and `answer` against a real agent and a real
//! bash `read -p "Continue? [y/N] "` prompt.

mod common;

use std::time::Duration;

use common::{failure, json, Running, World};
use serde_json::Value;

/// The JSON lines printed so far.
fn lines(r: &Running) -> Vec<Value> {
    r.stdout().lines().map(json).collect()
}

#[test]
fn events_show_one_prompt_and_answer_clears_it() {
    let w = World::with_agent_args(&["--prompt-quiet", "300ms"]);
    let out = w.owner_ok(&[
        "session",
        "new",
        "--detach",
        "--json",
        "--",
        "bash",
        "-c",
        "read go; read -p 'Continue? [y/N] ' a; echo got-$a; sleep 60",
    ]);
    let s = json(&out)["id"].as_str().unwrap().to_owned();
    w.join(&s, &[]);
    let viewer = w.dir.path().join("viewer");
    let link = w.pair(&s, &["--read-only"])["link"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = w.comp_in(&viewer).args(["join", &link]).output().unwrap();
    assert!(out.status.success(), "{}", failure(&out).1);

    // Nothing waits yet: a clear error, nothing sent.
    let (code, err) = failure(&w.run(&["answer", &s, "y"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("error: not_waiting:"), "{err}");

    let events = Running::spawn(w.comp().args(["events", &s, "--json"]));
    std::thread::sleep(Duration::from_millis(500));
    w.comp_ok(&["send", &s, "--enter", "--", "go"]);
    events.wait_for("input_needed", 20);
    let first = lines(&events);
    assert_eq!(first.len(), 1, "{first:?}");
    let p = &first[0]["prompt"];
    assert_eq!(first[0]["type"], "input_needed");
    assert_eq!(p["session"], s.as_str());
    assert_eq!(p["body"], "Continue? [y/N]");
    assert_eq!(p["source"], "heuristic");
    let labels: Vec<&str> = p["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Yes", "No"]);
    let seq = p["seq"].as_u64().unwrap();

    // A read-only companion sees the waiting prompt (text form) ...
    let seen = Running::spawn(w.comp_in(&viewer).args(["events", &s]));
    seen.wait_for("2) No", 20);
    let text = seen.stdout();
    assert!(
        text.starts_with(&format!("[input needed #{seq} via heuristic] ")),
        "{text}"
    );
    assert!(text.contains("  | Continue? [y/N]\n  1) Yes\n"), "{text}");
    // ... but may not answer it.
    let out = w
        .comp_in(&viewer)
        .args(["answer", &s, "y"])
        .output()
        .unwrap();
    let (code, err) = failure(&out);
    assert_eq!(code, 3, "{err}");
    assert!(err.starts_with("error: forbidden:"), "{err}");
    let out = w
        .comp_in(&viewer)
        .args(["answer", &s, "y", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["error"],
        "forbidden"
    );

    // Unknown choice, stale seq: refused, the prompt still waits.
    let (code, err) = failure(&w.run(&["answer", &s, "maybe"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("choose one of: 1) Yes, 2) No"), "{err}");
    let (code, err) = failure(&w.run(&["answer", &s, "y", "--seq", "999"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not_waiting"), "{err}");
    let meta = json(&w.comp_ok(&["call", &s, "session.meta"]));
    assert_eq!(meta["waiting"]["seq"], seq);

    let said = w.comp_ok(&["answer", &s, "y", "--seq", &seq.to_string()]);
    assert_eq!(said.trim(), format!("answered #{seq} with Yes"));
    events.wait_for("input_cleared", 20);
    seen.wait_for(&format!("[cleared #{seq}]"), 20);
    let mut watch = Running::spawn(w.comp().args([
        "watch",
        &s,
        "--from",
        "start",
        "--until",
        "got-y",
        "--timeout",
        "20",
    ]));
    assert_eq!(watch.wait_exit(30), 0, "{}", watch.stderr());
    // Give a (wrong) new event time to show up: there must be none.
    std::thread::sleep(Duration::from_millis(1200));
    let all = lines(&events);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(
        all[1],
        serde_json::json!({"type": "input_cleared", "seq": seq})
    );
    let meta = json(&w.comp_ok(&["call", &s, "session.meta"]));
    assert!(meta["waiting"].is_null(), "{meta}");
    // Nothing waits any more.
    let (code, err) = failure(&w.run(&["answer", &s, "y"]));
    assert_eq!(code, 1, "{err}");
}
