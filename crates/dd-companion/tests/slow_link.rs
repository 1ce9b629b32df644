//! A live view stays live on a slow link: two companions in a network
//! namespace reach the agent over a veth pair shaped to 2 Mbit/s (`tc tbf`)
//! while the session prints ~1 MB/s. The live view (`dd-companion attach`,
//! live mode by default) must stay within the lag bound for the whole run;
//! a transcript viewer (`watch --from start`) on the same link must still
//! get every byte.
//!
//! Needs root, `ip`, `tc` and python3 (the flood generator); skips with a
//! message otherwise. Everything it makes (namespace, links, qdisc) is
//! removed by a Drop guard, even on failure.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::{companion_bin, json, Agent, World};

/// Flood length and rate.
const FLOOD_SECS: u64 = 8;

fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn must(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespace and its veth pair; removed on drop.
struct Net {
    ns: String,
    host_if: String,
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The newest `T <ms>` stamp in `chunk`.
fn newest_stamp(chunk: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(chunk);
    text.split("T ")
        .skip(1)
        .filter_map(|s| {
            let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
            (digits.len() == 13).then(|| digits.parse().ok()).flatten()
        })
        .max()
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[test]
fn live_view_lag_stays_bounded_on_a_2_mbit_link_while_transcript_mode_gets_every_byte() {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n");
    if !root.unwrap_or(false) || !sh("command -v ip && command -v tc && command -v python3") {
        eprintln!("SKIP slow_link: needs root, ip, tc and python3");
        return;
    }
    let id = std::process::id() % 60000;
    let net = Net {
        ns: format!("ddsl{id}"),
        host_if: format!("ddsla{id}"),
    };
    let peer_if = format!("ddslb{id}");
    let (a, b) = (10 + (id / 250) % 200, id % 250);
    let host_ip = format!("10.{a}.{b}.1");
    let peer_ip = format!("10.{a}.{b}.2");
    must(&["ip", "netns", "add", &net.ns]);
    must(&[
        "ip",
        "link",
        "add",
        &net.host_if,
        "type",
        "veth",
        "peer",
        "name",
        &peer_if,
    ]);
    must(&["ip", "link", "set", &peer_if, "netns", &net.ns]);
    must(&[
        "ip",
        "addr",
        "add",
        &format!("{host_ip}/30"),
        "dev",
        &net.host_if,
    ]);
    must(&["ip", "link", "set", &net.host_if, "up"]);
    let nsx = |args: &[&str]| {
        let mut v = vec!["ip", "netns", "exec", &net.ns];
        v.extend_from_slice(args);
        must(&v);
    };
    nsx(&[
        "ip",
        "addr",
        "add",
        &format!("{peer_ip}/30"),
        "dev",
        &peer_if,
    ]);
    nsx(&["ip", "link", "set", &peer_if, "up"]);
    nsx(&["ip", "link", "set", "lo", "up"]);
    // Agent -> companions: 2 Mbit/s, a short queue.
    must(&[
        "tc",
        "qdisc",
        "add",
        "dev",
        &net.host_if,
        "root",
        "tbf",
        "rate",
        "2mbit",
        "burst",
        "32kbit",
        "latency",
        "100ms",
    ]);

    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_listen_on(&dir.path().join("state"), &format!("{host_ip}:0"), &[]);
    let w = World { dir, agent };
    w.owner_ok(&["enroll", &w.agent.enroll_link("10m"), "--label", "desk"]);
    let flood = w.dir.path().join("flood.py");
    std::fs::write(
        &flood,
        format!(
            r#"import sys, time
time.sleep(2)
out = sys.stdout.buffer
end = time.time() + {FLOOD_SECS}
pad = b"x" * 80
while time.time() < end:
    t0 = time.time()
    out.write(b"".join(b"T %d %s\n" % (int(time.time() * 1000), pad) for _ in range(1000)))
    out.flush()
    time.sleep(max(0.0, 0.1 - (time.time() - t0)))
"#
        ),
    )
    .unwrap();
    let created = json(&w.owner_ok(&[
        "session",
        "new",
        "--detach",
        "--json",
        "--",
        "python3",
        flood.to_str().unwrap(),
    ]));
    let sid = created["id"].as_str().unwrap().to_owned();
    let live_home = w.dir.path().join("live");
    let all_home = w.dir.path().join("all");
    for home in [&live_home, &all_home] {
        let link = w.pair(&sid, &[])["link"].as_str().unwrap().to_owned();
        let out = w
            .comp_in(home)
            .args(["join", &link, "--json", "--label", "slow"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let spawn = |home: &std::path::Path, args: &[&str]| {
        Command::new("ip")
            .args(["netns", "exec", &net.ns])
            .arg(companion_bin())
            .args(args)
            .env("DD_COMPANION_HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut live = Kill(spawn(&live_home, &["attach", &sid]));
    let mut all = Kill(spawn(
        &all_home,
        &["watch", &sid, "--from", "start", "--timeout", "150"],
    ));

    // The live view: (arrival, newest stamp) per read, and bytes.
    let samples = Arc::new(Mutex::new(Vec::<(Instant, u64)>::new()));
    let live_bytes = Arc::new(Mutex::new(0usize));
    let mut live_out = live.0.stdout.take().unwrap();
    let (s2, b2) = (samples.clone(), live_bytes.clone());
    let live_reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = live_out.read(&mut buf) {
            if n == 0 {
                break;
            }
            *b2.lock().unwrap() += n;
            if let Some(t) = newest_stamp(&buf[..n]) {
                s2.lock()
                    .unwrap()
                    .push((Instant::now(), now_ms().saturating_sub(t)));
            }
        }
    });
    let mut all_out = all.0.stdout.take().unwrap();
    let all_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = all_out.read_to_end(&mut v);
        v
    });

    // The flood runs; then the transcript viewer drains what is left.
    let started = Instant::now();
    let everything = all_reader.join().unwrap();
    let drained_in = started.elapsed();
    let _ = live.0.kill();
    let _ = live_reader.join();

    let transcript = std::fs::read(
        w.dir
            .path()
            .join("state")
            .join("sessions")
            .join(&sid)
            .join("transcript"),
    )
    .unwrap();
    let mut lags: Vec<u64> = samples.lock().unwrap().iter().map(|s| s.1).collect();
    assert!(
        lags.len() >= 10,
        "the live view saw too few stamps: {}",
        lags.len()
    );
    let first = samples.lock().unwrap()[0].0;
    let last = samples.lock().unwrap().last().unwrap().0;
    lags.sort_unstable();
    let (median, p99, max) = (pct(&lags, 0.5), pct(&lags, 0.99), *lags.last().unwrap());
    let secs = last.duration_since(first).as_secs_f64().max(0.001);
    let rate = *live_bytes.lock().unwrap() as f64 / secs;
    eprintln!(
        "slow link: live view lag median {median} ms, p99 {p99} ms, max {max} ms over {} samples; \
         {:.0} KB/s to the live viewer; transcript viewer got {} of {} bytes in {:.1} s",
        lags.len(),
        rate / 1000.0,
        everything.len(),
        transcript.len(),
        drained_in.as_secs_f64()
    );
    assert!(
        transcript.len() as u64 >= FLOOD_SECS * 500_000,
        "the flood was smaller than planned: {} bytes",
        transcript.len()
    );
    assert!(median <= 1000, "median lag {median} ms");
    assert!(p99 <= 2000, "p99 lag {p99} ms");
    assert_eq!(
        everything.len(),
        transcript.len(),
        "transcript mode lost bytes"
    );
    assert!(everything == transcript, "transcript mode changed bytes");
    drop(net);
}
