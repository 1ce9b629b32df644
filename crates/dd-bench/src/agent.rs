//! The dd side of the bench: agent processes (quiet logs, fresh state),
//! owner enrollment, CLI profiles, and process accounting from /proc.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use dd_client_core::{connect, Connection};
use dd_proto::link::{Link, LinkKind};
use dd_proto::methods as m;
use dd_proto::noise::StaticKeypair;
use serde_json::{json, Value};

/// A running `dd-agent serve` on 127.0.0.1:0 with its own temp state dir.
pub struct Agent {
    child: Child,
    dir: tempfile::TempDir,
    bins: PathBuf,
    /// Base URL.
    pub url: String,
    /// Static public key.
    pub key: [u8; 32],
    /// The session host's pid (from the ready line's `host_pid`), when it
    /// runs as its own process.
    host_pid: Option<u32>,
}

impl Agent {
    /// Starts an agent from `bins` (the release dir). Logs at `warn`.
    pub fn start(bins: &Path) -> Result<Agent> {
        let dir = tempfile::tempdir().context("tempdir")?;
        let state = dir.path().join("state");
        let log = std::fs::File::create(dir.path().join("agent.log"))?;
        let mut child = Command::new(bins.join("dd-agent"))
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(&state)
            // Every bench client comes from 127.0.0.1: lift the per-source
            // and total connection caps above the 1,000 companions.
            .args(["--max-conns-per-source", "4096", "--max-conns", "8192"])
            .env("RUST_LOG", "warn")
            // Experiments: DD_BENCH_AGENT_THREADS=N runs the agent's
            // runtime on N worker threads.
            .envs(
                std::env::var("DD_BENCH_AGENT_THREADS")
                    .ok()
                    .map(|n| ("TOKIO_WORKER_THREADS", n)),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("spawn dd-agent")?;
        let stdout = child.stdout.take().context("stdout")?;
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
            .context("dd-agent printed no ready line")?;
        let v: Value = serde_json::from_str(&line).context("ready line")?;
        let key = dd_proto::keys::decode_key(v["agent_key"].as_str().context("agent_key")?)
            .context("agent key")?;
        let host_pid = v["host_pid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .filter(|&p| p != child.id());
        Ok(Agent {
            host_pid,
            child,
            bins: bins.to_owned(),
            url: v["url"].as_str().context("url")?.to_owned(),
            key,
            dir,
        })
    }

    /// The agent's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The agent's processes: the gateway, and the session host if it runs
    /// apart.
    pub fn pids(&self) -> Vec<u32> {
        std::iter::once(self.pid()).chain(self.host_pid).collect()
    }

    /// A scratch directory that lives as long as the agent.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        let _ = std::fs::create_dir_all(&p);
        p
    }

    /// Mints an owner enrollment link.
    pub fn enroll_link(&self) -> Result<String> {
        let out = Command::new(self.bins.join("dd-agent"))
            .args(["enroll-link", "--json", "--ttl", "10m", "--state-dir"])
            .arg(self.dir.path().join("state"))
            .output()
            .context("dd-agent enroll-link")?;
        if !out.status.success() {
            bail!("enroll-link: {}", String::from_utf8_lossy(&out.stderr));
        }
        let v: Value = serde_json::from_slice(&out.stdout)?;
        Ok(v["link"].as_str().context("link")?.to_owned())
    }

    /// Enrolls a fresh key as owner, in process.
    pub async fn owner(&self) -> Result<Connection> {
        let link = Link::parse_kind(&self.enroll_link()?, LinkKind::Enroll)?;
        let key = StaticKeypair::generate();
        let (conn, _) = connect(&self.url, &self.key, &key, "dd-bench").await?;
        conn.call(
            m::ENROLL_REDEEM,
            json!({"token": link.token.expose(), "label": "bench-owner"}),
        )
        .await?;
        Ok(conn)
    }

    /// Enrolls `dd-client` with its config in `home`.
    pub fn enroll_cli(&self, home: &Path) -> Result<()> {
        let link = self.enroll_link()?;
        run(Command::new(self.bins.join("dd-client"))
            .args(["enroll", &link, "--label", "bench"])
            .env("DD_CLIENT_HOME", home))
    }

    /// Joins `dd-companion` (store in `home`) with a pairing link.
    pub fn join_companion(&self, home: &Path, link: &str) -> Result<()> {
        run(Command::new(self.bins.join("dd-companion"))
            .args(["join", link, "--label", "bench"])
            .env("DD_COMPANION_HOME", home))
    }

    /// Resident set size now, KiB: gateway + session host.
    pub fn rss_kib(&self) -> u64 {
        self.pids().into_iter().filter_map(rss_kib).sum()
    }

    /// User + system CPU time so far, seconds: gateway + session host.
    pub fn cpu_secs(&self) -> f64 {
        self.pids()
            .into_iter()
            .map(|p| cpu_secs(p).unwrap_or(f64::NAN))
            .sum()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let mut exited = false;
        for _ in 0..250 {
            if let Ok(Some(_)) = self.child.try_wait() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The session host outlives its gateway by design; end it (and
        // its sessions) so that the next measure starts clean.
        if let Some(host) = self.host_pid {
            let _ = Command::new("kill")
                .args(["-TERM", &host.to_string()])
                .status();
            for _ in 0..250 {
                if rss_kib(host).is_none() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.stdin(Stdio::null()).output().context("spawn")?;
    if !out.status.success() {
        bail!(
            "{:?} failed: {}{}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Creates a session running `command` with `PS1=bench$ `; returns its id.
pub async fn create_session(owner: &Connection, command: &[&str]) -> Result<String> {
    let v = owner
        .call(
            m::SESSION_CREATE,
            json!({"command": command, "cwd": "/tmp", "env": {"PS1": crate::PROMPT}}),
        )
        .await?;
    Ok(v["id"].as_str().context("session id")?.to_owned())
}

/// `session.meta` of `id`.
pub async fn meta(owner: &Connection, id: &str) -> Result<m::SessionInfo> {
    Ok(owner
        .call_typed(m::SESSION_META, &json!({ "session": id }))
        .await?)
}

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of `pid` in seconds (USER_HZ = 100 on Linux).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_accounting_of_this_process() {
        let me = std::process::id();
        assert!(rss_kib(me).expect("rss") > 0);
        assert!(cpu_secs(me).expect("cpu") >= 0.0);
        assert!(rss_kib(u32::MAX).is_none());
        assert!(cpu_secs(u32::MAX).is_none());
    }
}
