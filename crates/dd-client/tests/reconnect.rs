//! `dd-client session attach` under a real terminal rides out a `kill -9`
//! of the agent's gateway: it reconnects by itself and the terminal goes on
//! where it was, with nothing lost and nothing repeated.

mod common;

use std::time::Duration;

use common::{client_bin, Agent, Client};
use dd_testkit::term::Term;

/// The `tick-N` numbers in `out`, in order.
fn ticks(out: &[u8]) -> Vec<u64> {
    let text = String::from_utf8_lossy(out);
    text.split("tick-")
        .skip(1)
        .filter_map(|s| {
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// An agent on its own state dir, an enrolled client, and a session
/// printing `tick-N` every 50 ms.
struct Ticking {
    dir: tempfile::TempDir,
    state: std::path::PathBuf,
    agent: Agent,
    listen: String,
    client: Client,
    session: String,
}

fn ticking() -> Ticking {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let agent = Agent::start_on(&state);
    let listen = agent.listen_addr();
    let client = Client::new();
    client.enroll(&agent);
    let session = client.new_session(&[
        "sh",
        "-c",
        "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.05; done",
    ]);
    Ticking {
        dir,
        state,
        agent,
        listen,
        client,
        session,
    }
}

/// `kill -9` of the gateway, a pause, and a new gateway on the same
/// address and state dir.
fn kill_and_restart(mut agent: Agent, state: &std::path::Path, listen: &str) -> Agent {
    agent.kill();
    drop(agent);
    std::thread::sleep(Duration::from_millis(400));
    Agent::start_listen_on(state, listen, &[])
}

#[test]
fn attach_reconnects_after_the_gateway_is_killed() {
    let Ticking {
        dir: _dir,
        state,
        agent,
        listen,
        client: c,
        session: id,
    } = ticking();
    let home = c.home.path().to_str().unwrap().to_owned();
    let mut term = Term::spawn(
        client_bin().to_str().unwrap(),
        &["session", "attach", &id],
        &[("DD_CLIENT_HOME", &home)],
    )
    .unwrap()
    .keep();
    term.wait_for(b"tick-5\r\n", Duration::from_secs(30))
        .unwrap();

    let _agent = kill_and_restart(agent, &state, &listen);
    term.wait_for(b"[dd] reconnected", Duration::from_secs(60))
        .unwrap();
    let seen_before = ticks(term.seen.as_ref().unwrap()).last().copied().unwrap();
    let want = format!("tick-{}\r\n", seen_before + 20);
    term.wait_for(want.as_bytes(), Duration::from_secs(60))
        .unwrap();

    let out = term.seen.clone().unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("[dd] connection lost"), "{text}");
    // Every tick once, in order, across the reconnect (the first ones come
    // from the screen snapshot at attach).
    let t = ticks(&out);
    assert!(t.len() > 25, "{t:?}");
    for w in t.windows(2) {
        assert_eq!(w[1], w[0] + 1, "lost or repeated output: {t:?}");
    }
}

#[test]
fn watch_reconnects_after_the_gateway_is_killed() {
    let Ticking {
        dir: _dir,
        state,
        agent,
        listen,
        client: c,
        session: id,
    } = ticking();
    let watch = c
        .cmd()
        .args([
            "session",
            "watch",
            &id,
            "--from",
            "start",
            "--until",
            "tick-60\r\n",
            "--timeout",
            "120",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let _agent = kill_and_restart(agent, &state, &listen);
    let out = watch.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let t = ticks(&out.stdout);
    assert_eq!(t, (0..=60).collect::<Vec<u64>>(), "lost or repeated output");
}
