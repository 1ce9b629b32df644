//! Shared harness: a real `dd-agent serve` per test on 127.0.0.1 port 0,
//! stopped on drop, and `dd-client` runs with their own config dir.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use dd_client_core::dd_proto::keys::decode_key;
use dd_client_core::dd_proto::noise::StaticKeypair;
use dd_client_core::{connect, Connection};

/// The dd-client binary under test.
pub fn client_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dd-client"))
}

pub use dd_testkit::AgentProc as Agent;

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
            .env_remove("DD_SESSION_ID")
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
