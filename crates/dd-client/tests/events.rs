//! `session list` WAITING, `session events` and `session answer` against a
//! real agent and a real shell prompt.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::{failure, Agent, Client};
use dd_client_core::dd_proto::keys::encode_bytes;
use serde_json::{json, Value};

/// Kills the child on drop.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn next_line(rx: &mpsc::Receiver<String>) -> Value {
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no event line in time");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_list_and_answer_a_read_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_on(&dir.path().join("state"));
    let c = Client::new();
    c.enroll(&agent);
    let conn = c.connect().await;
    conn.call("agent.config.set", json!({"prompt_quiet_ms": 300}))
        .await
        .unwrap();
    let id = c.new_session(&[
        "sh",
        "-c",
        "read go; printf 'Continue? [y/N] '; read x; echo \"you said $x\"; sleep 60",
    ]);
    let mut child = c
        .cmd()
        .args(["--json", "session", "events", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _reaper = Reaper(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Nothing waits yet.
    let out = c.run(&["session", "answer", &id, "y"]);
    assert_eq!(failure(&out).0, 1, "{}", failure(&out).1);
    assert!(failure(&out).1.contains("not_waiting"));
    // Give the events stream a moment to open, then release the prompt.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    conn.call(
        "session.input",
        json!({"session": id, "data": encode_bytes(b"\r")}),
    )
    .await
    .unwrap();

    let ev = next_line(&rx);
    assert_eq!(ev["type"], "input_needed", "{ev}");
    let p = &ev["prompt"];
    assert_eq!(p["body"], "Continue? [y/N]");
    assert_eq!(p["source"], "heuristic");
    assert_eq!(p["choices"][0]["label"], "Yes");
    let seq = p["seq"].as_u64().unwrap();

    let list: Value = serde_json::from_str(c.ok(&["--json", "session", "list"]).trim()).unwrap();
    let me = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap();
    assert_eq!(me["waiting"]["seq"], seq);
    let table = c.ok(&["session", "list"]);
    assert!(table.lines().next().unwrap().contains("WAITING"), "{table}");
    assert!(
        table.contains(&format!("#{seq} Continue? [y/N]")),
        "{table}"
    );

    // Wrong choice, stale seq: refused, nothing sent.
    let out = c.run(&["session", "answer", &id, "maybe"]);
    assert_eq!(failure(&out).0, 2);
    assert!(
        failure(&out).1.contains("1) Yes, 2) No"),
        "{}",
        failure(&out).1
    );
    let out = c.run(&["session", "answer", &id, "y", "--seq", "999"]);
    assert!(failure(&out).1.contains("not_waiting"));

    let said = c.ok(&["session", "answer", &id, "y", "--seq", &seq.to_string()]);
    assert_eq!(said.trim(), format!("answered #{seq} with Yes"));
    let ev = next_line(&rx);
    assert_eq!(ev, json!({"type": "input_cleared", "seq": seq}));
    let table = c.ok(&["session", "list"]);
    let row = table.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(row.ends_with(" -"), "{table}");
    let watched = c.ok(&[
        "session",
        "watch",
        &id,
        "--from",
        "start",
        "--until",
        "you said y",
        "--timeout",
        "20",
    ]);
    assert!(watched.contains("you said y"));
}
