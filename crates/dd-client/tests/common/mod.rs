//! Shared harness: a real `dd-agent serve` per test on 127.0.0.1 port 0,
//! stopped on drop, and `dd-client` runs with their own config dir.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dd_client_core::dd_proto::keys::decode_key;
use dd_client_core::dd_proto::noise::StaticKeypair;
use dd_client_core::{connect, Connection};

/// The dd-client binary under test.
pub fn client_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dd-client"))
}

/// The dd-agent binary next to it, built once if missing.
pub fn agent_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let p = client_bin().parent().unwrap().join("dd-agent");
            if !p.is_file() {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let st = Command::new(cargo)
                    .args(["build", "-p", "dd-agent"])
                    .status()
                    .expect("run cargo build -p dd-agent");
                assert!(st.success(), "cargo build -p dd-agent failed");
            }
            assert!(p.is_file(), "no dd-agent at {}", p.display());
            p
        })
        .clone()
}

/// A running agent.
pub struct Agent {
    child: Child,
    /// Its base URL.
    pub url: String,
    /// Its static key (base64url).
    pub agent_key: String,
    /// Its state dir.
    pub state: PathBuf,
}

impl Agent {
    /// Starts `dd-agent serve` on `state` and waits for its JSON line.
    pub fn start(state: &Path) -> Agent {
        let log = std::fs::File::create(state.with_extension("stderr.log")).unwrap();
        let mut child = Command::new(agent_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(state)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn dd-agent");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(l)) = lines.next() {
                let _ = tx.send(l);
            }
            // Keep draining so the agent never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("dd-agent printed no ready line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
        Agent {
            child,
            url: v["url"].as_str().unwrap().to_owned(),
            agent_key: v["agent_key"].as_str().unwrap().to_owned(),
            state: state.to_owned(),
        }
    }

    /// Mints an enrollment link.
    pub fn enroll_link(&self, ttl: &str) -> String {
        let out = Command::new(agent_bin())
            .args(["enroll-link", "--json", "--ttl", ttl, "--state-dir"])
            .arg(&self.state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["link"].as_str().unwrap().to_owned()
    }

    /// Stops the agent (SIGTERM, then SIGKILL after 5 s).
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A dd-client with its own config dir.
pub struct Client {
    /// The config dir (DD_CLIENT_HOME).
    pub home: tempfile::TempDir,
}

impl Client {
    /// A client with an empty config dir.
    pub fn new() -> Client {
        Client {
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// A `dd-client` command with this config dir.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(client_bin());
        c.env("DD_CLIENT_HOME", self.home.path())
            .env_remove("XDG_CONFIG_HOME")
            .stdin(Stdio::null());
        c
    }

    /// Runs `dd-client ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "dd-client {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Enrolls with a fresh link from `agent`.
    pub fn enroll(&self, agent: &Agent) {
        self.ok(&["enroll", &agent.enroll_link("5m"), "--label", "test"]);
    }

    /// Creates a detached session running `command`; returns its id.
    pub fn new_session(&self, command: &[&str]) -> String {
        let mut args = vec!["session", "new", "--detach", "--json", "--"];
        args.extend_from_slice(command);
        let v: serde_json::Value = serde_json::from_str(self.ok(&args).trim()).unwrap();
        v["id"].as_str().unwrap().to_owned()
    }

    /// A library connection with this client's key and profile.
    pub async fn connect(&self) -> Connection {
        let key = std::fs::read(self.home.path().join("device.key")).unwrap();
        let key = StaticKeypair::from_private(key.try_into().unwrap());
        let p: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.home.path().join("profile.json")).unwrap())
                .unwrap();
        let agent_key = decode_key(p["agent_key"].as_str().unwrap()).unwrap();
        connect(p["agent_url"].as_str().unwrap(), &agent_key, &key, "test/0")
            .await
            .unwrap()
            .0
    }
}

/// Exit code and stderr of a run.
pub fn failure(out: &Output) -> (i32, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
