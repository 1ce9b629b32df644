//! End-to-end: the dd-client binary against a real dd-agent process.

mod common;

use common::{failure, Agent, Client};
use std::time::Duration;

#[test]
fn enroll_create_send_and_watch_until() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_on(&dir.path().join("state"));
    let c = Client::new();
    c.enroll(&agent);
    let id = c.new_session(&["sh"]);
    let listed: serde_json::Value =
        serde_json::from_str(&c.ok(&["session", "list", "--json"])).unwrap();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == id.as_str()));
    // The needle only appears once the shell has evaluated the arithmetic.
    c.ok(&[
        "session",
        "send",
        &id,
        "--enter",
        "--",
        "echo",
        "dd-$((40+2))-ok",
    ]);
    let out = c.ok(&[
        "session",
        "watch",
        &id,
        "--from",
        "start",
        "--until",
        "dd-42-ok",
        "--timeout",
        "20",
    ]);
    assert!(out.contains("dd-42-ok"), "{out}");
    // A needle that never shows up times out with exit 1.
    let out = c.run(&[
        "session",
        "watch",
        &id,
        "--until",
        "never-printed",
        "--timeout",
        "1",
    ]);
    let (code, err) = failure(&out);
    assert_eq!(code, 1);
    assert!(err.contains("error: timeout:"), "{err}");
    c.ok(&["session", "close", &id]);
}

#[test]
fn used_expired_and_unknown_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_on(&dir.path().join("state"));

    let link = agent.enroll_link("5m");
    Client::new().ok(&["enroll", &link]);
    let (code, err) = failure(&Client::new().run(&["enroll", &link]));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("token_used"), "{err}");

    let link = agent.enroll_link("1s");
    std::thread::sleep(Duration::from_millis(2100));
    let out = Client::new().run(&["enroll", &link, "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], "token_expired");

    // A key the agent has never seen, with a hand-made profile.
    let stranger = Client::new();
    std::fs::write(
        stranger.home.path().join("profile.json"),
        serde_json::json!({
            "agent_url": agent.url,
            "agent_key": agent.key_b64(),
            "device_id": "d_forged",
            "label": "forged",
        })
        .to_string(),
    )
    .unwrap();
    let (code, err) = failure(&stranger.run(&["session", "list"]));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("unauthorized"), "{err}");

    // No profile at all.
    let (code, err) = failure(&Client::new().run(&["session", "list"]));
    assert_eq!(code, 1);
    assert!(err.contains("not_enrolled"), "{err}");
    // Garbage link.
    let (code, err) = failure(&Client::new().run(&["enroll", "https://example.com/"]));
    assert_eq!(code, 1);
    assert!(err.contains("bad_link"), "{err}");
}

#[test]
fn agent_restart_keeps_key_owner_and_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut agent = Agent::start_on(&state);
    let key = agent.key_b64();
    let c = Client::new();
    c.enroll(&agent);
    let id = c.new_session(&["sh", "-c", "echo persisted-$((1+1)); sleep 30"]);
    c.ok(&[
        "session",
        "watch",
        &id,
        "--from",
        "start",
        "--until",
        "persisted-2",
        "--timeout",
        "20",
    ]);
    agent.stop();
    drop(agent);

    let agent = Agent::start_on(&state);
    assert_eq!(agent.key_b64(), key);
    // The agent may listen on another port now.
    let profile = c.home.path().join("profile.json");
    let mut p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    p["agent_url"] = agent.url.clone().into();
    std::fs::write(&profile, p.to_string()).unwrap();

    let listed: serde_json::Value =
        serde_json::from_str(&c.ok(&["session", "list", "--json"])).unwrap();
    let s = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .expect("past session listed")
        .clone();
    // The session host kept it running across the gateway restart.
    assert_eq!(s["status"], "running", "{s}");
    let out = c.ok(&[
        "session",
        "watch",
        &id,
        "--from",
        "start",
        "--until",
        "persisted-2",
        "--timeout",
        "20",
    ]);
    assert!(out.contains("persisted-2"));
}

#[test]
fn pair_mobile_json_and_grants() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_on(&dir.path().join("state"));
    let c = Client::new();
    c.enroll(&agent);
    let id = c.new_session(&["sh"]);
    let png = dir.path().join("qr.png");
    let out = c.ok(&[
        "session",
        "pair-mobile",
        &id,
        "--json",
        "--ttl",
        "2m",
        "--read-only",
        "--png",
        png.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(v["link"].as_str().unwrap().contains("pair?"));
    assert_eq!(v["session_id"], id.as_str());
    assert_eq!(v["read_only"], true);
    assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
    let token = v["token_id"].as_str().unwrap();
    c.ok(&["session", "cancel-pairing", &id, token]);
    let grants: serde_json::Value =
        serde_json::from_str(&c.ok(&["session", "grants", &id, "--json"])).unwrap();
    assert_eq!(grants.as_array().unwrap().len(), 0);
    let (code, err) = failure(&c.run(&["session", "pair-mobile", &id, "--ttl", "soon"]));
    assert_eq!(code, 2, "{err}");
    // --wait on a token nobody redeems exits 3 once it expires.
    let out = c.run(&[
        "session",
        "pair-mobile",
        &id,
        "--json",
        "--ttl",
        "1s",
        "--wait",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let last = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(v["error"], "token_expired");
}
