//! Shared harness: a real `dd-agent serve` per test on 127.0.0.1 port 0,
//! stopped on drop; an enrolled `dd-client` owner; `dd-companion` runs with
//! their own store dir.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The dd-companion binary under test.
pub fn companion_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dd-companion"))
}

pub use dd_testkit::AgentProc as Agent;

/// The dd-client binary.
pub fn client_bin() -> PathBuf {
    dd_testkit::workspace_bin("dd-client", "dd-client")
}

/// An agent, an enrolled owner and a companion store, all in one tempdir.
pub struct World {
    /// Keeps the directories alive.
    pub dir: tempfile::TempDir,
    /// The agent.
    pub agent: Agent,
}

impl World {
    /// Starts the agent and enrolls the owner.
    pub fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let agent = Agent::start_on(&dir.path().join("state"));
        World::enrolled(dir, agent)
    }

    /// Starts the agent with extra `serve` flags and enrolls the owner.
    pub fn with_agent_args(args: &[&str]) -> World {
        World::enrolled(tempfile::tempdir().unwrap(), Agent::start_with(args))
    }

    fn enrolled(dir: tempfile::TempDir, agent: Agent) -> World {
        let w = World { dir, agent };
        w.owner_ok(&["enroll", &w.agent.enroll_link("10m"), "--label", "desk"]);
        w
    }

    /// The owner's config dir.
    pub fn owner_home(&self) -> PathBuf {
        self.dir.path().join("owner")
    }

    /// The companion's store dir.
    pub fn companion_home(&self) -> PathBuf {
        self.dir.path().join("companion")
    }

    /// A `dd-client` command.
    pub fn owner(&self) -> Command {
        let mut c = Command::new(client_bin());
        c.env("DD_CLIENT_HOME", self.owner_home())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("DD_SESSION_ID")
            .stdin(Stdio::null());
        c
    }

    /// Runs `dd-client ARGS`, asserts success, returns stdout.
    pub fn owner_ok(&self, args: &[&str]) -> String {
        ok(self.owner().args(args).output().unwrap(), "dd-client", args)
    }

    /// A `dd-companion` command with the companion store.
    pub fn comp(&self) -> Command {
        self.comp_in(&self.companion_home())
    }

    /// A `dd-companion` command with another store dir.
    pub fn comp_in(&self, home: &Path) -> Command {
        let mut c = Command::new(companion_bin());
        c.env("DD_COMPANION_HOME", home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("DD_SESSION_ID")
            .stdin(Stdio::null());
        c
    }

    /// Runs `dd-companion ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.comp().args(args).output().unwrap()
    }

    /// Runs `dd-companion ARGS`, asserts success, returns stdout.
    pub fn comp_ok(&self, args: &[&str]) -> String {
        ok(self.run(args), "dd-companion", args)
    }

    /// A detached `/bin/sh` session; its id.
    pub fn shell(&self) -> String {
        let out = self.owner_ok(&["session", "new", "--detach", "--json", "--", "/bin/sh"]);
        json(&out)["id"].as_str().unwrap().to_owned()
    }

    /// `pair-mobile --json` with extra flags.
    pub fn pair(&self, session: &str, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["session", "pair-mobile", session, "--json", "--no-qr"];
        args.extend_from_slice(extra);
        json(&self.owner_ok(&args))
    }

    /// Pairs and joins; returns the join JSON.
    pub fn join(&self, session: &str, extra: &[&str]) -> serde_json::Value {
        let link = self.pair(session, extra)["link"]
            .as_str()
            .unwrap()
            .to_owned();
        json(&self.comp_ok(&["join", &link, "--json", "--label", "test-phone"]))
    }
}

/// Asserts success; returns stdout.
pub fn ok(out: Output, what: &str, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "{what} {args:?} failed ({:?}): {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Parses JSON output.
pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Exit code and stderr of a run.
/// (The warning about a link given as an argument is left out: these tests
/// pass links that way on purpose; `secrets.rs` checks the warning.)
pub fn failure(out: &Output) -> (i32, String) {
    let err: String = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("warning: a link on the command line"))
        .map(|l| format!("{l}\n"))
        .collect();
    (out.status.code().unwrap_or(-1), err)
}

/// A spawned process whose stdout and stderr are collected in the background.
pub struct Running {
    /// The process.
    pub child: Child,
    /// Stdout so far.
    pub out: Arc<Mutex<Vec<u8>>>,
    /// Stderr so far.
    pub err: Arc<Mutex<Vec<u8>>>,
}

fn drain(mut r: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
}

impl Running {
    /// Spawns `cmd` with piped stdout/stderr.
    pub fn spawn(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        drain(child.stdout.take().unwrap(), out.clone());
        drain(child.stderr.take().unwrap(), err.clone());
        Running { child, out, err }
    }

    /// Stdout so far, lossily.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Stderr so far, lossily.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap()).into_owned()
    }

    /// Waits until stdout contains `text` (panics after `secs`).
    pub fn wait_for(&self, text: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.stdout().contains(text) {
            assert!(
                Instant::now() < deadline,
                "no {text:?} in output: {}\nstderr: {}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the exit code (panics after `secs`).
    pub fn wait_exit(&mut self, secs: u64) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // Let the drain threads catch up.
                std::thread::sleep(Duration::from_millis(50));
                return st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "still running after {secs}s; stdout: {}\nstderr: {}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
