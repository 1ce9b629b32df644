//! End-to-end, under a real PTY: `dd-client up` keeps the QR on screen
//! with a countdown until a key, a join or the link's expiry, then
//! attaches; running it again reuses the link (the agent mints no other
//! token); a plain reattach to a paired session mints none; `down` stops
//! the agent `up` started and says how many sessions still run.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{client_bin, Client};
use dd_testkit::agent_bin;
use dd_testkit::term::{find, Term};

const LONG: Duration = Duration::from_secs(60);

/// Stops the agent `up` started if the test did not get to `down`.
struct Down<'a>(&'a Client);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["down", "--end-sessions"]);
    }
}

fn up(c: &Client, state: &Path, extra: &[&str]) -> Term {
    let home = c.home.path().to_str().unwrap().to_owned();
    let mut args = vec![
        "up",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Term::spawn(
        client_bin().to_str().unwrap(),
        &args,
        &[("DD_CLIENT_HOME", &home)],
    )
    .unwrap()
    .keep()
}

/// `up --no-attach --json` without a terminal: prints and returns.
fn up_json(c: &Client, state: &Path) -> serde_json::Value {
    let out = c.ok(&[
        "up",
        "--no-attach",
        "--json",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    serde_json::from_str(out.trim()).unwrap()
}

fn seen(t: &Term) -> String {
    String::from_utf8_lossy(t.seen.as_deref().unwrap_or_default()).into_owned()
}

/// The pairing link drawn on the screen.
fn link_of(screen: &str) -> String {
    let at = screen.find("dd://pair?").expect("a link on screen");
    screen[at..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_owned()
}

/// The countdowns drawn so far, in seconds.
fn countdowns(screen: &str) -> Vec<u64> {
    screen
        .split("link expires in ")
        .skip(1)
        .filter_map(|s| {
            let w: Vec<&str> = s.split_whitespace().take(2).collect();
            let secs = |x: &str| x.trim_end_matches('s').parse::<u64>().ok();
            match w.as_slice() {
                [m, s] if m.ends_with('m') => {
                    Some(m.trim_end_matches('m').parse::<u64>().ok()? * 60 + secs(s)?)
                }
                [s, ..] => secs(s),
                _ => None,
            }
        })
        .collect()
}

async fn tokens_minted(c: &Client, session: &str) -> usize {
    let conn = c.connect().await;
    let v = conn
        .call("audit.list", serde_json::json!({"session": session}))
        .await
        .unwrap();
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "token_minted")
        .count()
}

fn detach(t: &mut Term) {
    t.write(b"\x1dd").unwrap();
    wait(t, "[dd] detached", LONG);
}

/// Waits for `needle`; on failure shows what the screen got.
fn wait(t: &mut Term, needle: &str, timeout: Duration) {
    if let Err(e) = t.wait_for(needle.as_bytes(), timeout) {
        panic!("{e}; the screen got:\n{}", seen(t));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_stays_until_key_or_join_then_attaches_reuses_its_link_and_down_stops_the_agent() {
    let _ = agent_bin();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agent");
    let c = Client::new();
    let _down = Down(&c);

    // 1. The QR, the link and a countdown, and they stay: no attach for
    //    three seconds while the countdown runs down.
    let mut t = up(&c, &state, &[]);
    wait(&mut t, "link expires in", LONG);
    t.drain(Duration::from_secs(5), Duration::from_secs(3))
        .unwrap();
    let screen = seen(&t);
    assert!(
        screen.contains('█') && screen.contains('▀'),
        "no QR: {screen}"
    );
    assert!(screen.contains("Scan the code"), "{screen}");
    assert!(screen.contains("any key: attach now"), "{screen}");
    assert!(
        !screen.contains("[dd] attaching"),
        "attached at once: {screen}"
    );
    let ticks = countdowns(&screen);
    assert!(ticks.len() >= 4, "countdown not redrawn: {ticks:?}");
    assert!(
        ticks[0] > *ticks.last().unwrap(),
        "countdown not running: {ticks:?}"
    );
    assert!(ticks[0] <= 300 && ticks[0] > 250, "{ticks:?}");
    let link = link_of(&screen);
    let session = screen
        .split("session ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(session.starts_with("s_"), "{session}");
    // A key: it attaches.
    t.write(b"x").unwrap();
    wait(&mut t, "[dd] attaching", LONG);
    detach(&mut t);
    drop(t);
    assert_eq!(tokens_minted(&c, &session).await, 1);
    let kept = c.home.path().join("up-pairing.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // 2. Again: the same link (no new token), and a phone joining ends
    //    the wait and attaches.
    let mut t = up(&c, &state, &[]);
    wait(&mut t, "link expires in", LONG);
    assert_eq!(link_of(&seen(&t)), link, "a new link was minted");
    assert_eq!(tokens_minted(&c, &session).await, 1);
    let (_phone, _key, grant) = dd_testkit::redeem(&link).await.unwrap();
    assert_eq!(grant.session_id, session);
    wait(&mut t, "[dd] attaching", LONG);
    assert!(seen(&t).contains("joined: phone"), "{}", seen(&t));
    detach(&mut t);
    drop(t);
    assert!(!kept.exists(), "a redeemed link is not kept");

    // 3. A plain reattach to the session the phone holds: no QR, no token.
    let mut t = up(&c, &state, &[]);
    wait(&mut t, "[dd] attaching", LONG);
    let screen = seen(&t);
    assert!(screen.contains("is paired with 1 device"), "{screen}");
    assert!(!screen.contains("dd://pair?"), "{screen}");
    detach(&mut t);
    drop(t);
    assert_eq!(tokens_minted(&c, &session).await, 1);

    // 4. --pair shows a new link; Ctrl-C leaves without attaching and the
    //    link stays valid for the next `up`.
    let mut t = up(&c, &state, &["--pair"]);
    wait(&mut t, "link expires in", LONG);
    t.write(b"\x03").unwrap();
    wait(&mut t, "not attaching", LONG);
    assert!(!seen(&t).contains("[dd] attaching"));
    let second = link_of(&seen(&t));
    assert_ne!(second, link);
    drop(t);
    assert_eq!(tokens_minted(&c, &session).await, 2);
    assert!(kept.exists());

    // A second phone redeems that kept link while `up` is not running: the
    // next `up` drops the stale link and, the session being paired, mints
    // nothing.
    let (_phone2, _key2, _grant2) = dd_testkit::redeem(&second).await.unwrap();
    let mut t = up(&c, &state, &[]);
    wait(&mut t, "[dd] attaching", LONG);
    assert!(seen(&t).contains("is paired with 2 device"), "{}", seen(&t));
    detach(&mut t);
    drop(t);
    assert_eq!(tokens_minted(&c, &session).await, 2);
    assert!(!kept.exists());

    // 5. down: stops the agent, cancels the kept link, counts sessions.
    let agent_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("agent.json")).unwrap()).unwrap();
    let pid = agent_json["pid"].as_u64().unwrap() as i32;
    let out = c.ok(&["down", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["stopped"], true, "{v}");
    assert_eq!(v["pid"], pid);
    assert_eq!(v["sessions_running"], 1, "{v}");
    assert_eq!(v["sessions_ended"], false);
    let gone = rustix::process::test_kill_process(rustix::process::Pid::from_raw(pid).unwrap());
    assert!(gone.is_err(), "the agent still runs");
    assert!(!kept.exists());
    // Nothing left to stop.
    let out = c.run(&["down"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_running"));

    // The session survived `down`; `up` brings the agent back to it and
    // the cancelled link is not shown again.
    let mut t = up(&c, &state, &["--pair", "--no-attach"]);
    wait(&mut t, "link expires in", LONG);
    let screen = seen(&t);
    assert!(screen.contains(&format!("session {session}")), "{screen}");
    assert_ne!(link_of(&screen), second);
    t.write(b"q").unwrap();
    drop(t);
    let out = c.ok(&["down", "--end-sessions"]);
    assert!(out.contains("ended 1 running session"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_link_ends_the_wait_and_attaches() {
    let _ = agent_bin();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agent");
    let c = Client::new();
    let _down = Down(&c);
    // Start the agent and enroll without waiting, then shorten the links.
    let first = up_json(&c, &state);
    // The kept link would be reused: cancel it, so `up` mints a short one.
    c.ok(&[
        "session",
        "cancel-pairing",
        first["session_id"].as_str().unwrap(),
        first["token_id"].as_str().unwrap(),
    ]);
    let conn = c.connect().await;
    let cfg = conn
        .call(
            "agent.config.set",
            serde_json::json!({"pair_token_ttl_secs": 3}),
        )
        .await
        .unwrap();
    assert_eq!(cfg["pair_token_ttl_secs"], 3, "{cfg}");
    let again = conn
        .call("agent.config.get", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(again["pair_token_ttl_secs"], 3, "{again}");
    let mut t = up(&c, &state, &["--pair"]);
    wait(&mut t, "link expires in", LONG);
    wait(&mut t, "[dd] attaching", Duration::from_secs(20));
    assert!(seen(&t).contains("expired unused"), "{}", seen(&t));
    assert!(!c.home.path().join("up-pairing.json").exists());
    detach(&mut t);
    assert!(find(t.seen.as_deref().unwrap(), b"Ctrl-] p"));
}

#[test]
fn no_wait_and_json_do_not_wait() {
    // Without a terminal (the existing `up --no-attach --json` path) `up`
    // prints and returns; its JSON says whether the link was reused.
    let _ = agent_bin();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agent");
    let c = Client::new();
    let _down = Down(&c);
    let a = up_json(&c, &state);
    let b = up_json(&c, &state);
    assert_eq!(a["reused"], false);
    assert_eq!(b["reused"], true);
    assert_eq!(a["link"], b["link"]);
    assert_eq!(a["token_id"], b["token_id"]);
}

#[test]
fn no_wait_attaches_at_once() {
    let _ = agent_bin();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agent");
    let c = Client::new();
    let _down = Down(&c);
    let mut t = up(&c, &state, &["--no-wait"]);
    wait(&mut t, "[dd] attaching", LONG);
    let screen = seen(&t);
    assert!(screen.contains("dd://pair?"), "{screen}");
    assert!(!screen.contains("link expires in"), "{screen}");
    detach(&mut t);
}

#[test]
fn down_never_signals_an_agent_it_did_not_start() {
    let _ = agent_bin();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agent");
    let c = Client::new();
    // Nothing recorded yet.
    let out = c.run(&["down"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no agent started by"));

    let first = up_json(&c, &state);
    let listen = first["agent_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let pid = |state: &Path| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(state.join("agent.json")).unwrap()).unwrap();
        v["pid"].as_u64().unwrap() as i32
    };
    // The agent `up` started goes away and another takes its state dir
    // (a service, say): `down` refuses and leaves it running.
    let upid = pid(&state);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(upid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    while rustix::process::test_kill_process(rustix::process::Pid::from_raw(upid).unwrap()).is_ok()
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut other = dd_testkit::AgentProc::start_listen_on(&state, &listen, &[]);
    let out = c.run(&["down"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not the one `dd-client up` started"),
        "{err}"
    );
    assert!(
        rustix::process::test_kill_process(
            rustix::process::Pid::from_raw(other.pid() as i32).unwrap()
        )
        .is_ok(),
        "down signalled an agent it did not start"
    );
    // The record is gone with the agent it named.
    assert!(!c.home.path().join("up-agent.json").exists());
    other.stop();
    let _ = std::process::Command::new(agent_bin())
        .args(["stop-sessions", "--state-dir"])
        .arg(&state)
        .output();
}

/// `Ctrl-] p` inside an attach: a shell session's link comes with the
/// shell warning; in a terminal that is itself a dd session, nothing is
/// minted or drawn (its watchers would see the link).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_p_warns_for_a_shell_and_draws_no_link_inside_a_dd_session() {
    let _ = agent_bin();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agent");
    let c = Client::new();
    let _down = Down(&c);

    let mut t = up(&c, &state, &["--no-wait"]);
    wait(&mut t, "[dd] attaching", LONG);
    let first = link_of(&seen(&t));
    t.write(b"\x1dp").unwrap();
    wait(&mut t, "Press any key to return", LONG);
    let screen = seen(&t);
    let drawn = &screen[screen.rfind("runs a shell").expect("the shell warning")..];
    let second = link_of(drawn);
    assert_ne!(first, second, "Ctrl-] p mints its own link");
    t.write(b"x").unwrap();
    // Back to the session once it is repainted from a fresh snapshot.
    std::thread::sleep(Duration::from_secs(2));
    detach(&mut t);

    // The same, from a terminal that says it is dd session s_outer.
    let session = dd_proto::Link::parse_kind(&second, dd_proto::LinkKind::Pair)
        .unwrap()
        .session_id
        .expect("a pairing link names its session");
    let before = tokens_minted(&c, &session).await;
    let home = c.home.path().to_str().unwrap().to_owned();
    let args = ["session", "attach", session.as_str()];
    let mut t = Term::spawn(
        client_bin().to_str().unwrap(),
        &args,
        &[("DD_CLIENT_HOME", &home), ("DD_SESSION_ID", "s_outer")],
    )
    .unwrap()
    .keep();
    std::thread::sleep(Duration::from_millis(500));
    t.write(b"\x1dp").unwrap();
    wait(&mut t, "Press any key to return", LONG);
    let screen = seen(&t);
    assert!(screen.contains("no pairing link"), "{screen}");
    assert!(
        screen.contains("this terminal is dd session s_outer"),
        "{screen}"
    );
    assert!(!screen.contains("dd://pair?"), "{screen}");
    assert_eq!(tokens_minted(&c, &session).await, before, "nothing minted");
    t.write(b"x").unwrap();
    // Back to the session once it is repainted from a fresh snapshot.
    std::thread::sleep(Duration::from_secs(2));
    detach(&mut t);
}
