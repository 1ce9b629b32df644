//! The phone on a real (kernel) network: the agent and the companion in
//! their own network namespaces, a router namespace between them (see
//! `dd_testkit::netns`). A silent cut (no FIN, no RST) is noticed by both
//! sides within their keepalive timeouts, the agent frees the dead
//! connection (the session's client count falls), and when the path comes
//! back, also from a new phone address, the companion resumes with every
//! numbered line exactly once. Skips with a message when not root.
//!
//! Timeouts are short here (companion: ping after 500 ms, dead after 2 s;
//! agent: ping after 1 s, close after 4 s) so the set runs in well under a
//! minute; the defaults are measured in docs/benchmarks.md.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{client_bin, companion_bin, json, ok, Agent, Running};
use dd_testkit::netns::{Lab, AGENT_IP};

/// The companion's keepalive flags in these tests.
const PHONE_KEEPALIVE: [&str; 4] = ["--keepalive", "500ms", "--dead-after", "2s"];

/// A lab with an agent in it, an enrolled owner and a paired companion
/// streaming a session that prints `line N` ten times a second.
struct Rig {
    // Field order is drop order: processes before the namespaces.
    watch: Option<Running>,
    agent: Agent,
    session: String,
    dir: tempfile::TempDir,
    lab: Lab,
}

fn rig(agent_args: &[&str]) -> Option<Rig> {
    let lab = match Lab::new() {
        Ok(l) => l,
        Err(why) => {
            eprintln!("SKIP: network namespaces unavailable ({why}); CI runs this as root");
            return None;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_in_netns(
        &lab.agent,
        &dir.path().join("state"),
        &format!("{AGENT_IP}:7777"),
        agent_args,
    );
    let mut r = Rig {
        watch: None,
        agent,
        session: String::new(),
        dir,
        lab,
    };
    let link = r.agent.enroll_link("5m");
    r.owner_ok(&["enroll", &link, "--label", "desk"]);
    let made = r.owner_ok(&[
        "session",
        "new",
        "--detach",
        "--",
        "sh",
        "-c",
        "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo \"line $i\"; sleep 0.1; done",
    ]);
    r.session = json(&made)["id"].as_str().unwrap().to_owned();
    let pair = json(&r.owner_ok(&["session", "pair-mobile", &r.session, "--no-qr"]));
    let link = pair["link"].as_str().unwrap().to_owned();
    let joined = r
        .comp()
        .args(["join", &link, "--label", "phone"])
        .output()
        .unwrap();
    ok(joined, "dd-companion", &["join"]);
    Some(r)
}

impl Rig {
    fn owner_home(&self) -> PathBuf {
        self.dir.path().join("owner")
    }

    /// `dd-client --json ARGS` in the agent's namespace.
    fn owner(&self, args: &[&str]) -> Output {
        self.lab
            .exec(&self.lab.agent, client_bin())
            .env("DD_CLIENT_HOME", self.owner_home())
            .env_remove("XDG_CONFIG_HOME")
            .arg("--json")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn owner_ok(&self, args: &[&str]) -> String {
        ok(self.owner(args), "dd-client", args)
    }

    /// A `dd-companion` command in the phone's namespace.
    fn comp(&self) -> Command {
        let mut c = self.lab.exec(&self.lab.phone, companion_bin());
        c.env("DD_COMPANION_HOME", self.dir.path().join("companion"))
            .env_remove("XDG_CONFIG_HOME")
            .stdin(Stdio::null());
        c
    }

    /// Starts `dd-companion watch --from start` with short keepalives.
    fn start_watch(&mut self) {
        let mut c = self.comp();
        c.args(PHONE_KEEPALIVE)
            .args(["watch", &self.session, "--from", "start"]);
        self.watch = Some(Running::spawn(&mut c));
    }

    fn watch(&self) -> &Running {
        self.watch.as_ref().expect("watching")
    }

    /// The session's attached client count, as the agent reports it.
    fn clients(&self) -> u64 {
        let list = json(&self.owner_ok(&["session", "list"]));
        list.as_array()
            .and_then(|a| a.iter().find(|s| s["id"] == self.session.as_str()))
            .and_then(|s| s["clients"].as_u64())
            .expect("session listed")
    }

    /// Waits until `f` holds (panics with `what` after `secs`); how long it took.
    fn until(&self, secs: u64, what: &str, f: impl Fn(&Rig) -> bool) -> Duration {
        let start = Instant::now();
        while !f(self) {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{what} not within {secs}s\nstdout tail: {}\nstderr: {}",
                tail(&self.watch().stdout()),
                self.watch().stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        start.elapsed()
    }

    /// The highest complete `line N` seen so far.
    fn last_line(&self) -> u64 {
        numbers(&self.watch().stdout()).last().copied().unwrap_or(0)
    }

    /// How many times the companion said it lost the connection.
    fn losses(&self) -> usize {
        self.watch().stderr().matches("connection lost").count()
    }
}

fn tail(s: &str) -> &str {
    &s[s.len().saturating_sub(300)..]
}

/// The numbers of every complete `line N` in `out`, in order.
fn numbers(out: &str) -> Vec<u64> {
    let complete = match out.rfind('\n') {
        Some(i) => &out[..i],
        None => "",
    };
    complete
        .split('\n')
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("line "))
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Every line from 1 to the last, each exactly once, in order.
fn assert_exactly_once(out: &str) {
    let got = numbers(out);
    assert!(!got.is_empty(), "no lines");
    for (i, n) in got.iter().enumerate() {
        assert_eq!(
            *n,
            i as u64 + 1,
            "line {} is {n}: lost or repeated output",
            i + 1
        );
    }
}

const AGENT_ARGS: [&str; 6] = [
    "--keepalive",
    "1s",
    "--idle-timeout",
    "4s",
    "--stale-after",
    "2s",
];

#[test]
fn silent_cut_is_noticed_and_resumed_exactly_once() {
    let Some(mut r) = rig(&AGENT_ARGS) else {
        return;
    };
    r.start_watch();
    r.until(20, "first lines", |r| r.last_line() >= 10);
    r.until(10, "the companion counted as attached", |r| {
        r.clients() == 1
    });

    r.lab.cut();
    let noticed = r.until(10, "the companion noticing the dead link", |r| {
        r.losses() >= 1
    });
    assert!(
        noticed < Duration::from_secs(4),
        "noticed after {noticed:?}"
    );
    let freed = r.until(15, "the agent dropping the silent connection", |r| {
        r.clients() == 0
    });
    // Plus the ~1 s the companion took to notice, minus nothing: the agent
    // heard nothing since the cut.
    assert!(freed < Duration::from_secs(8), "freed after {freed:?}");
    let before = r.last_line();

    r.lab.heal();
    let back = r.until(20, "output after the path came back", |r| {
        r.last_line() > before + 5
    });
    eprintln!("noticed {noticed:?}, agent freed {freed:?}, live again {back:?}");
    r.until(10, "one client again", |r| r.clients() == 1);
    assert_exactly_once(&r.watch().stdout());
}

#[test]
fn roaming_resumes_on_the_new_address_and_drops_the_stale_connection() {
    // A long agent idle timeout: only the stale-connection rule can free
    // the old connection quickly.
    let args = [
        "--keepalive",
        "1s",
        "--idle-timeout",
        "60s",
        "--stale-after",
        "2s",
    ];
    let Some(mut r) = rig(&args) else { return };
    r.start_watch();
    r.until(20, "first lines", |r| r.last_line() >= 10);

    r.lab.cut();
    r.until(10, "the companion noticing the dead link", |r| {
        r.losses() >= 1
    });
    r.lab.roam(3);
    assert_eq!(r.lab.phone_ip(), "10.1.1.3");
    let before = r.last_line();
    r.lab.heal();
    r.until(20, "output on the new address", |r| {
        r.last_line() > before + 5
    });
    // The old connection (from 10.1.1.2) is still open on the agent as far
    // as TCP knows; the new attach of the same key replaced it at once.
    let one = r.until(5, "the stale connection dropped", |r| r.clients() == 1);
    eprintln!("stale connection gone {one:?} after the resume");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(r.clients(), 1);
    assert_exactly_once(&r.watch().stdout());
}

/// A slow link (300 ms each way, a 600 ms round trip, through a delay
/// proxy on loopback) held idle for a dozen keepalive periods: no side
/// declares it dead, and it still carries input and output afterwards.
#[test]
fn slow_idle_link_has_no_false_disconnect() {
    use dd_testkit::tls::free_port;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_listen_on(
        &dir.path().join("state"),
        "127.0.0.1:0",
        &[
            "--public-url",
            &url,
            "--keepalive",
            "1s",
            "--idle-timeout",
            "4s",
        ],
    );
    let _proxy = dd_testkit::delay::DelayProxy::start(
        &format!("127.0.0.1:{port}"),
        agent.listen_addr(),
        Duration::from_millis(300),
    );
    let w = common::World { dir, agent };
    w.owner_ok(&["enroll", &w.agent.enroll_link("5m"), "--label", "desk"]);
    let s = w.shell();
    w.join(&s, &[]);
    let mut c = w.comp();
    c.args(PHONE_KEEPALIVE)
        .args(["watch", &s, "--from", "start"]);
    let watch = Running::spawn(&mut c);
    std::thread::sleep(Duration::from_secs(1));
    w.comp_ok(&["send", &s, "--enter", "--", "echo before-$((6*7))"]);
    watch.wait_for("before-42", 20);

    // Idle: 6 s is 12 of the companion's keepalive periods, 3 times its
    // dead-link timeout and 1.5 times the agent's.
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        !watch.stderr().contains("connection lost"),
        "false disconnect: {}",
        watch.stderr()
    );
    let list = json(&w.owner_ok(&["session", "list", "--json"]));
    let clients = list
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == s.as_str())
        .unwrap()["clients"]
        .as_u64();
    assert_eq!(clients, Some(1), "the agent dropped the idle client");

    w.comp_ok(&["send", &s, "--enter", "--", "echo after-$((6*7))"]);
    watch.wait_for("after-42", 20);
    assert!(
        !watch.stderr().contains("connection lost"),
        "{}",
        watch.stderr()
    );
}
