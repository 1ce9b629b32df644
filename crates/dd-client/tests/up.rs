//! End-to-end: `dd-client up` starts, enrolls, reuses and restarts a local
//! agent.

mod common;

use common::Client;
use dd_testkit::agent_bin;

/// Kills the background agent `up` started (by its pid) on drop.
struct Pid(Option<u32>);

impl Drop for Pid {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
    }
}

fn started_pid(stderr: &str) -> Option<u32> {
    let rest = stderr.split("started dd-agent (pid ").nth(1)?;
    rest.split(')').next()?.parse().ok()
}

#[test]
fn up_starts_enrolls_reuses_and_restarts() {
    let _ = agent_bin();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agent");
    let c = Client::new();
    let up = |c: &Client| {
        c.cmd()
            .args([
                "up",
                "--no-attach",
                "--json",
                "--listen",
                "127.0.0.1:0",
                "--state-dir",
            ])
            .arg(&state)
            .output()
            .unwrap()
    };
    let out = up(&c);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut pid = Pid(started_pid(&err));
    assert!(out.status.success(), "{err}");
    assert!(pid.0.is_some(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let session = v["session_id"].as_str().unwrap().to_owned();
    assert!(v["link"].as_str().unwrap().starts_with("dd://pair?"));

    // Again: same agent, same session, nothing started.
    let out = up(&c);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert_eq!(started_pid(&err), None, "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["session_id"], session.as_str());

    // The agent stops: `up` starts it again on the same state dir.
    drop(std::mem::replace(&mut pid, Pid(None)));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = up(&c);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    pid = Pid(started_pid(&err));
    assert!(out.status.success(), "{err}");
    assert!(pid.0.is_some(), "{err}");
    c.ok(&["session", "list"]);
}
