//! End-to-end: `dd-client doctor --json` against a real agent on loopback,
//! against a closed port, with nothing enrolled, and — in two network
//! namespaces joined by a veth pair — against an agent on a private
//! address, before and after the path silently drops its packets (what a
//! firewall that DROPs does).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::{client_bin, Agent, Client};
use serde_json::Value;

fn doctor(c: &Client, state: &std::path::Path) -> Value {
    let out = c.ok(&["doctor", "--json", "--state-dir", state.to_str().unwrap()]);
    serde_json::from_str(out.trim()).unwrap()
}

fn finding<'a>(v: &'a Value, check: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

#[test]
fn doctor_against_a_real_agent_on_loopback() {
    let agent = Agent::start();
    let c = Client::new();
    c.enroll(&agent);
    let v = doctor(&c, &agent.state);
    assert_eq!(v["link_url"], agent.url.as_str(), "{v}");
    assert_eq!(v["link_url_source"], "agent.json");
    assert_eq!(v["loopback_only"], true);
    assert_eq!(v["scheme"], "http");
    assert_eq!(v["tls"], false);
    assert_eq!(v["port_check"]["result"], "open", "{v}");
    assert_eq!(v["health"]["ok"], true, "{v}");
    assert_eq!(v["health"]["agent_key_matches"], true);
    assert_eq!(v["agent_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["handshake"]["ok"], true, "{v}");
    let skew = v["clock_skew_secs"].as_i64().expect("a skew");
    assert!(skew.abs() <= 2, "{skew}");
    assert_eq!(finding(&v, "clock")[0]["level"], "ok");
    // A loopback address is the one thing wrong, and it says what to do.
    assert_eq!(v["ok"], false);
    let link = finding(&v, "link_address");
    assert_eq!(link[0]["level"], "error", "{v}");
    assert!(link[0]["fix"]
        .as_str()
        .unwrap()
        .contains("--listen 0.0.0.0"));
    let errors: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    // The text form says the same.
    let text = c.ok(&["doctor", "--state-dir", agent.state.to_str().unwrap()]);
    assert!(text.contains("ERROR link_address"), "{text}");
    assert!(text.contains("clocks agree"), "{text}");
}

#[test]
fn doctor_against_a_closed_port() {
    let mut agent = Agent::start();
    let c = Client::new();
    c.enroll(&agent);
    let state = agent.state.clone();
    agent.stop();
    let v = doctor(&c, &state);
    assert_eq!(v["port_check"]["result"], "refused", "{v}");
    assert_eq!(v["health"], Value::Null);
    assert_eq!(v["agent_version"], Value::Null);
    assert_eq!(v["clock_skew_secs"], Value::Null);
    assert_eq!(v["handshake"]["ok"], false);
    assert!(v["handshake"]["error"]
        .as_str()
        .unwrap()
        .contains("refused"));
    let port = finding(&v, "port");
    assert_eq!(port[0]["level"], "error");
    assert!(port[0]["fix"].as_str().unwrap().contains("start the agent"));
    assert_eq!(v["ok"], false);
}

#[test]
fn doctor_with_nothing_to_check() {
    let c = Client::new();
    let empty = tempfile::tempdir().unwrap();
    let v = doctor(&c, empty.path());
    assert_eq!(v["ok"], false);
    assert_eq!(finding(&v, "profile")[0]["level"], "warn");
    assert!(finding(&v, "link_address")[0]["fix"]
        .as_str()
        .unwrap()
        .contains("dd-client up"));
}

/// Two namespaces, `a` (the desktop) and `b` (the agent), on a veth pair;
/// removed on drop with everything in them.
struct Net {
    a: String,
    b: String,
    agent: Option<Child>,
    state: tempfile::TempDir,
}

impl Net {
    fn ip(args: &[&str]) -> bool {
        Command::new("ip")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    }

    fn new(tag: &str) -> Option<Net> {
        let a = format!("dd18{tag}a{}", std::process::id() % 100_000);
        let b = format!("dd18{tag}b{}", std::process::id() % 100_000);
        if !Net::ip(&["netns", "add", &a]) {
            return None;
        }
        let net = Net {
            a: a.clone(),
            b: b.clone(),
            agent: None,
            state: tempfile::tempdir().unwrap(),
        };
        let va = format!("va{}", std::process::id() % 100_000);
        let vb = format!("vb{}", std::process::id() % 100_000);
        for cmd in [
            vec!["netns", "add", &b],
            vec!["link", "add", &va, "type", "veth", "peer", "name", &vb],
            vec!["link", "set", &va, "netns", &a],
            vec!["link", "set", &vb, "netns", &b],
            vec!["-n", &a, "addr", "add", "10.218.7.1/24", "dev", &va],
            vec!["-n", &b, "addr", "add", "10.218.7.2/24", "dev", &vb],
            vec!["-n", &a, "link", "set", &va, "up"],
            vec!["-n", &b, "link", "set", &vb, "up"],
            vec!["-n", &a, "link", "set", "lo", "up"],
            vec!["-n", &b, "link", "set", "lo", "up"],
        ] {
            assert!(Net::ip(&cmd), "ip {cmd:?} failed");
        }
        Some(net)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(mut a) = self.agent.take() {
            let _ = a.kill();
            let _ = a.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "exec", &self.b])
            .arg(dd_testkit::agent_bin())
            .arg("stop-sessions")
            .arg("--state-dir")
            .arg(self.state.path())
            .stderr(Stdio::null())
            .status();
        Net::ip(&["netns", "del", &self.a]);
        Net::ip(&["netns", "del", &self.b]);
    }
}

#[test]
fn doctor_sees_a_private_address_then_a_path_that_drops() {
    let root = rustix::process::geteuid().is_root();
    let have = |p: &str| Command::new(p).arg("-V").output().is_ok();
    if !root || !have("ip") {
        eprintln!("SKIP: needs root and ip (network namespaces)");
        return;
    }
    let Some(mut net) = Net::new("d") else {
        eprintln!("SKIP: cannot create network namespaces here");
        return;
    };
    let state = net.state.path().join("st");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &net.b])
        .arg(dd_testkit::agent_bin())
        .args(["serve", "--listen", "0.0.0.0:17777", "--state-dir"])
        .arg(&state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    net.agent = Some(child);
    let ready: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(ready["url"], "http://10.218.7.2:17777", "{ready}");
    let out = Command::new("ip")
        .args(["netns", "exec", &net.b])
        .arg(dd_testkit::agent_bin())
        .args(["enroll-link", "--json", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let link: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = Client::new();
    let in_a = |args: &[&str]| {
        let out = Command::new("ip")
            .args(["netns", "exec", &net.a])
            .arg(client_bin())
            .args(args)
            .env("DD_CLIENT_HOME", c.home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    in_a(&["enroll", link["link"].as_str().unwrap()]);
    let nowhere = net.state.path().join("none");
    let nowhere = nowhere.to_str().unwrap();

    let v: Value =
        serde_json::from_str(in_a(&["doctor", "--json", "--state-dir", nowhere]).trim()).unwrap();
    assert_eq!(v["link_url"], "http://10.218.7.2:17777", "{v}");
    assert_eq!(v["link_url_source"], "profile");
    assert_eq!(v["loopback_only"], false);
    assert_eq!(v["port_check"]["result"], "open", "{v}");
    assert_eq!(v["handshake"]["ok"], true, "{v}");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(finding(&v, "link_address")[0]["level"], "info");

    // Now the path drops every packet silently, as a firewall that DROPs
    // does (this kernel has no netfilter or tc actions to use): the
    // desktop's side sends the agent's frames to a MAC nobody has.
    let va = format!("va{}", std::process::id() % 100_000);
    assert!(Net::ip(&[
        "-n",
        &net.a,
        "neigh",
        "replace",
        "10.218.7.2",
        "lladdr",
        "02:00:00:00:00:01",
        "dev",
        &va,
        "nud",
        "permanent",
    ]));
    let v: Value =
        serde_json::from_str(in_a(&["doctor", "--json", "--state-dir", nowhere]).trim()).unwrap();
    assert_eq!(v["port_check"]["result"], "timeout", "{v}");
    assert_eq!(v["ok"], false);
    let fw = finding(&v, "firewall");
    assert_eq!(fw[0]["level"], "error", "{v}");
    assert!(fw[0]["fix"].as_str().unwrap().contains("17777/tcp"), "{v}");
    assert_eq!(v["handshake"]["ok"], false);
}
