//! Every way a companion is refused or cut off, against a real agent.

mod common;

use std::time::{Duration, Instant};

use common::{failure, json, Running, World};

fn link(w: &World, s: &str, extra: &[&str]) -> String {
    w.pair(s, extra)["link"].as_str().unwrap().to_owned()
}

#[test]
fn token_reuse_expiry_cancel_and_tampering() {
    let w = World::new();
    let s = w.shell();

    let l = link(&w, &s, &[]);
    w.comp_ok(&["join", &l]);
    let (code, err) = failure(&w.run(&["join", &l]));
    assert_eq!(code, 3, "{err}");
    assert!(err.starts_with("error: token_used:"), "{err}");
    let out = w.run(&["join", &l, "--json"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["error"],
        "token_used"
    );

    let short = link(&w, &s, &["--ttl", "1s"]);
    std::thread::sleep(Duration::from_millis(2100));
    let (code, err) = failure(&w.run(&["join", &short]));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("token_expired"), "{err}");

    let p = w.pair(&s, &[]);
    w.owner_ok(&[
        "session",
        "cancel-pairing",
        &s,
        p["token_id"].as_str().unwrap(),
    ]);
    let (code, err) = failure(&w.run(&["join", p["link"].as_str().unwrap()]));
    assert_eq!(code, 3, "{err}");
    assert!(err.starts_with("error: token_cancelled:"), "{err}");

    // Flip the first character of the token: a well-formed, unknown token.
    let l = link(&w, &s, &[]);
    let at = l.find("#t=").unwrap() + 3;
    let mut t = l.clone();
    let flipped = if &l[at..at + 1] == "A" { "B" } else { "A" };
    t.replace_range(at..at + 1, flipped);
    let (code, err) = failure(&w.run(&["join", &t]));
    assert_eq!(code, 3, "{err}");
    assert!(err.starts_with("error: token_invalid:"), "{err}");
    // The untampered link still works afterwards.
    let other = w.dir.path().join("other-phone");
    let out = w.comp_in(&other).args(["join", &l]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn wrong_agent_key_fails_the_handshake() {
    let w = World::new();
    let s = w.shell();
    let l = link(&w, &s, &[]);
    let wrong = dd_proto::keys::encode_key(&[0x42; 32]);
    let bad = l.replace(&w.agent.key_b64(), &wrong);
    assert_ne!(bad, l);
    let (code, err) = failure(&w.run(&["join", &bad]));
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("error: handshake_failed:"), "{err}");
    assert!(err.contains("agent key"), "{err}");
    // Nothing was stored, and the real link was not consumed.
    assert_eq!(json(&w.comp_ok(&["list", "--json"])), serde_json::json!([]));
    w.comp_ok(&["join", &l]);
}

#[test]
fn revocation_cuts_the_stream_not_the_owner() {
    let w = World::new();
    let s = w.shell();
    let grant = w.join(&s, &[])["grant_id"].as_str().unwrap().to_owned();
    let mut phone = Running::spawn(w.comp().args(["watch", &s, "--timeout", "60"]));
    let mut desk = Running::spawn(w.owner().args([
        "session",
        "watch",
        &s,
        "--until",
        "still-here-9",
        "--timeout",
        "60",
    ]));
    std::thread::sleep(Duration::from_millis(1000));
    let t0 = Instant::now();
    w.owner_ok(&["session", "revoke", &s, &grant, "--json"]);
    assert_eq!(phone.wait_exit(10), 3, "{}", phone.stderr());
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(
        phone.stderr().contains("error: revoked:"),
        "{}",
        phone.stderr()
    );
    // The owner's watch is unaffected.
    assert!(desk.child.try_wait().unwrap().is_none());
    w.owner_ok(&[
        "session",
        "send",
        &s,
        "--enter",
        "--",
        "echo still-here-$((4+5))",
    ]);
    assert_eq!(desk.wait_exit(20), 0, "{}", desk.stderr());
    // Every later request of the phone is refused.
    let (code, err) = failure(&w.run(&["call", &s, "session.meta"]));
    assert_eq!(code, 3, "{err}");
    assert!(err.starts_with("error: revoked:"), "{err}");
    let (code, _) = failure(&w.run(&["send", &s, "--", "x"]));
    assert_eq!(code, 3);
}

#[test]
fn grant_expiry_ends_the_stream() {
    let w = World::new();
    let s = w.shell();
    w.join(&s, &["--grant-ttl", "3s"]);
    let t0 = Instant::now();
    let mut phone = Running::spawn(w.comp().args(["watch", &s, "--timeout", "60"]));
    assert_eq!(phone.wait_exit(20), 3, "{}", phone.stderr());
    assert!(
        phone.stderr().contains("error: expired:"),
        "{}",
        phone.stderr()
    );
    assert!(t0.elapsed() < Duration::from_secs(15));
    let (code, err) = failure(&w.run(&["call", &s, "session.meta"]));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("expired"), "{err}");
}

#[test]
fn companion_cannot_reach_beyond_its_session() {
    let w = World::new();
    let s = w.shell();
    let other = w.shell();
    w.join(&s, &[]);
    for (method, params) in [
        ("session.list", "{}".to_owned()),
        ("session.create", "{}".to_owned()),
        ("session.meta", format!("{{\"session\":\"{other}\"}}")),
        (
            "session.resize",
            format!("{{\"session\":\"{s}\",\"rows\":5,\"cols\":5}}"),
        ),
        ("grant.list", format!("{{\"session\":\"{s}\"}}")),
        ("device.list", "{}".to_owned()),
        ("agent.config.get", "{}".to_owned()),
    ] {
        let (code, err) = failure(&w.run(&["call", &s, method, &params]));
        assert_eq!(code, 3, "{method}: {err}");
        assert!(err.starts_with("error: forbidden:"), "{method}: {err}");
    }
    let (code, err) = failure(&w.run(&["call", &s, "session.meta", "{not json"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad_request"), "{err}");
}
