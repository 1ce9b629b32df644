//! Test harness shared by dd's integration tests.
//!
//! [`AgentProc`] runs a real `dd-agent serve` on 127.0.0.1 port 0 in a
//! temporary state directory and stops it on drop. [`owner`] and
//! [`companion`] give library connections holding an enrolled owner key or a
//! redeemed grant, made through the real protocol.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod delay;
pub mod netns;
pub mod raw;
pub mod term;
pub mod tls;
pub mod tmux;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dd_client_core::{connect, Connection};
use dd_proto::link::{Link, LinkKind};
use dd_proto::methods::{self as m, GrantInfo, PairCreated};
use dd_proto::noise::StaticKeypair;
use serde_json::json;

/// The cargo target dir the test binaries run from (`target/debug`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps dir");
    if deps.ends_with("deps") {
        deps.parent().expect("profile dir").to_owned()
    } else {
        deps.to_owned()
    }
}

/// Path of a workspace binary, built once (`cargo build -p PKG`) if missing.
pub fn workspace_bin(name: &str, package: &str) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = dd_client_core::sync::lock(&LOCK);
    let p = bin_dir().join(name);
    if !p.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "-p", package, "--bin", name])
            .status()
            .expect("run cargo build");
        assert!(st.success(), "cargo build -p {package} failed");
    }
    assert!(p.is_file(), "no {name} at {}", p.display());
    p
}

/// The dd-agent binary.
pub fn agent_bin() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| workspace_bin("dd-agent", "dd-agent"))
        .clone()
}

/// A running agent process.
pub struct AgentProc {
    child: Child,
    _dir: Option<tempfile::TempDir>,
    /// Its base URL.
    pub url: String,
    /// Its static public key.
    pub key: [u8; 32],
    /// Its state directory.
    pub state: PathBuf,
    /// The `host:port` it listens on (from its ready line).
    listening: String,
}

/// Stops a child process: SIGTERM, then SIGKILL if it has not exited
/// within `grace`; reaped either way. Nothing if it already exited.
pub fn terminate(child: &mut std::process::Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl AgentProc {
    /// Starts an agent in a fresh temporary state directory.
    pub fn start() -> AgentProc {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut a = AgentProc::start_on(&dir.path().join("state"));
        a._dir = Some(dir);
        a
    }

    /// Starts an agent in a fresh state directory with extra `serve` flags.
    pub fn start_with(args: &[&str]) -> AgentProc {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut a = AgentProc::spawn(&dir.path().join("state"), args);
        a._dir = Some(dir);
        a
    }

    /// Starts an agent on `state` and waits for its ready line.
    pub fn start_on(state: &Path) -> AgentProc {
        AgentProc::spawn(state, &[])
    }

    /// Starts an agent on `state` listening on `listen` (e.g. the address a
    /// killed agent had, so clients reconnect to the same URL) with extra
    /// `serve` flags.
    pub fn start_listen_on(state: &Path, listen: &str, args: &[&str]) -> AgentProc {
        AgentProc::spawn_listen(state, listen, args)
    }

    fn spawn(state: &Path, args: &[&str]) -> AgentProc {
        AgentProc::spawn_listen(state, "127.0.0.1:0", args)
    }

    /// Starts an agent inside network namespace `netns` (see
    /// [`netns::Lab`]) listening on `listen`.
    pub fn start_in_netns(netns: &str, state: &Path, listen: &str, args: &[&str]) -> AgentProc {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns]).arg(agent_bin());
        AgentProc::spawn_cmd(cmd, state, listen, args)
    }

    fn spawn_listen(state: &Path, listen: &str, args: &[&str]) -> AgentProc {
        AgentProc::spawn_cmd(Command::new(agent_bin()), state, listen, args)
    }

    fn spawn_cmd(mut cmd: Command, state: &Path, listen: &str, args: &[&str]) -> AgentProc {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(state.with_extension("log"))
            .expect("log file");
        let mut child = cmd
            .args(["serve", "--listen", listen, "--state-dir"])
            .arg(state)
            .args(args)
            .env("RUST_LOG", "dd_agent=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn dd-agent");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(l)) = lines.next() {
                let _ = tx.send(l);
            }
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("dd-agent printed no ready line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("ready line is JSON");
        AgentProc {
            child,
            _dir: None,
            url: v["url"].as_str().expect("url").to_owned(),
            key: dd_proto::keys::decode_key(v["agent_key"].as_str().expect("key")).expect("key"),
            state: state.to_owned(),
            listening: v["listening"].as_str().expect("listening").to_owned(),
        }
    }

    /// Its static key, base64url (as in links and JSON).
    pub fn key_b64(&self) -> String {
        dd_proto::keys::encode_key(&self.key)
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Mints an enrollment link with `dd-agent enroll-link`.
    pub fn enroll_link(&self, ttl: &str) -> String {
        let out = Command::new(agent_bin())
            .args(["enroll-link", "--json", "--ttl", ttl, "--state-dir"])
            .arg(&self.state)
            .output()
            .expect("run enroll-link");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v["link"].as_str().expect("link").to_owned()
    }

    /// Stops the agent: SIGTERM, then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(5));
    }

    /// Kills the agent with SIGKILL (no cleanup runs) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The `host:port` the agent listens on (from its ready line; its URL
    /// may name a proxy in front of it).
    pub fn listen_addr(&self) -> String {
        self.listening.clone()
    }

    /// Connects with `key`.
    pub async fn connect(
        &self,
        key: &StaticKeypair,
    ) -> Result<Connection, dd_client_core::ClientError> {
        connect(&self.url, &self.key, key, "dd-testkit")
            .await
            .map(|(c, _)| c)
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Enrolls a fresh key as an owner through the protocol.
pub async fn owner(agent: &AgentProc) -> (Connection, StaticKeypair) {
    let link = Link::parse_kind(&agent.enroll_link("5m"), LinkKind::Enroll).expect("enroll link");
    let key = StaticKeypair::generate();
    let conn = agent.connect(&key).await.expect("connect");
    conn.call(
        m::ENROLL_REDEEM,
        json!({"token": link.token.expose(), "label": "owner"}),
    )
    .await
    .expect("enroll");
    (conn, key)
}

/// Creates a `/bin/sh` session as `owner`; returns its id.
pub async fn shell_session(owner: &Connection) -> String {
    command_session(owner, &["/bin/sh"]).await
}

/// Creates a session running `command` in /tmp; returns its id.
pub async fn command_session(owner: &Connection, command: &[&str]) -> String {
    let v = owner
        .call(
            m::SESSION_CREATE,
            json!({"command": command, "cwd": "/tmp"}),
        )
        .await
        .expect("session.create");
    v["id"].as_str().expect("id").to_owned()
}

/// Mints a pairing link for `session` (`extra` merged into the params).
pub async fn pair(owner: &Connection, session: &str, extra: serde_json::Value) -> PairCreated {
    let mut p = json!({"session": session});
    if let (Some(o), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(owner.call(m::PAIR_CREATE, p).await.expect("pair.create"))
        .expect("PairCreated")
}

/// Redeems a pairing link with a fresh key, connecting where the link says
/// and pinning the key it carries: a companion connection.
pub async fn redeem(
    link: &str,
) -> Result<(Connection, StaticKeypair, GrantInfo), dd_client_core::ClientError> {
    let link = Link::parse_kind(link, LinkKind::Pair).expect("pair link");
    let key = StaticKeypair::generate();
    let (conn, _) = connect(&link.agent_url, &link.agent_key, &key, "dd-testkit").await?;
    let v = conn
        .call(
            m::PAIR_REDEEM,
            json!({"token": link.token.expose(), "label": "phone"}),
        )
        .await?;
    Ok((conn, key, serde_json::from_value(v).expect("GrantInfo")))
}

/// Pairs a companion to `session`.
pub async fn companion(
    owner: &Connection,
    session: &str,
    extra: serde_json::Value,
) -> (Connection, StaticKeypair, GrantInfo) {
    let p = pair(owner, session, extra).await;
    redeem(&p.link).await.expect("redeem")
}

/// Runs `cmd` with a piped stdin, checks while it waits that its
/// arguments (`/proc/PID/cmdline`) do not contain `secret`, then writes
/// `input` to its stdin and returns its output.
pub fn run_secret_on_stdin(cmd: &mut Command, secret: &str, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(200));
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).expect("cmdline");
    assert!(
        !String::from_utf8_lossy(&cmdline).contains(secret),
        "the secret is in the arguments"
    );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}
