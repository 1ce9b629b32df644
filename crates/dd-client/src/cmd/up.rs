//! `dd-client up`: the quickstart.
//!
//! 1. Find the agent: the profile's, if it answers `/health` with the pinned
//!    key; else the local one in the state dir (reused if it answers, else
//!    started in the background: `dd-agent` next to this executable or on
//!    PATH, own process group, stdout and stderr appended to
//!    `STATE/agent.log`, ready when its JSON line appears there).
//! 2. Without a profile, mint an enrollment link with
//!    `dd-agent enroll-link --json` and enroll this device.
//! 3. Reuse the most recent running session or create one, show a pairing
//!    QR and link for it, and attach (unless `--no-attach`).

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;
use dd_proto::methods::{
    CreateSession, Health, SessionInfo, SessionList, SessionStatus, SESSION_CREATE, SESSION_LIST,
};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

use super::{attach, connect_profile, enroll, pair, print_json, Ctx};
use crate::cli::UpArgs;
use crate::errors::CliError;
use crate::term;

/// What the agent prints when ready (and keeps in `agent.json`).
#[derive(Debug, Clone, Deserialize)]
struct AgentInfo {
    url: String,
    agent_key: String,
}

/// `$XDG_STATE_HOME/dd/agent`, else `~/.local/state/dd/agent`.
fn default_state_dir() -> Result<PathBuf, CliError> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(x) = var("XDG_STATE_HOME") {
        return Ok(PathBuf::from(x).join("dd").join("agent"));
    }
    var("HOME")
        .map(|h| PathBuf::from(h).join(".local/state/dd/agent"))
        .ok_or_else(|| CliError::new("config", "set HOME or pass --state-dir"))
}

/// A URL this machine can connect to: a wildcard listen address becomes
/// loopback.
fn connectable(url: &str) -> String {
    url.replace("://0.0.0.0", "://127.0.0.1")
        .replace("://[::]", "://[::1]")
}

/// Asks `GET /health`; true when it answers with `agent_key`.
async fn health_ok(agent_url: &str, agent_key: &str) -> bool {
    match health(agent_url).await {
        Ok(h) => h.agent_key == agent_key,
        Err(e) => {
            tracing::debug!(%e, agent_url, "health check failed");
            false
        }
    }
}

async fn health(agent_url: &str) -> Result<Health> {
    let u = url::Url::parse(agent_url)?;
    let host = u.host_str().ok_or_else(|| anyhow::anyhow!("no host"))?;
    let port = u
        .port_or_known_default()
        .ok_or_else(|| anyhow::anyhow!("no port"))?;
    let addr = format!(
        "{}:{port}",
        host.trim_start_matches('[').trim_end_matches(']')
    );
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let req = format!(
            "GET {} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n",
            dd_proto::HEALTH_PATH
        );
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        s.take(64 * 1024).read_to_end(&mut buf).await?;
        anyhow::Ok(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(3), fut).await??;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("bad HTTP response"))?;
    if !head.lines().next().unwrap_or_default().contains(" 200") {
        anyhow::bail!("health: {}", head.lines().next().unwrap_or_default());
    }
    Ok(serde_json::from_str(body.trim())?)
}

/// `dd-agent` next to this executable, else on PATH.
fn agent_binary() -> Result<PathBuf, CliError> {
    if let Some(p) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("dd-agent")))
        .filter(|p| p.is_file())
    {
        return Ok(p);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("dd-agent"))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| {
            CliError::new(
                "agent_not_found",
                "cannot find dd-agent next to dd-client or on PATH",
            )
        })
}

fn read_agent_json(state: &Path) -> Option<AgentInfo> {
    let b = std::fs::read(state.join("agent.json")).ok()?;
    serde_json::from_slice(&b).ok()
}

/// Reuses the agent of `state` if it answers, else starts it.
async fn ensure_agent(state: &Path, listen: &str) -> Result<AgentInfo> {
    if let Some(mut info) = read_agent_json(state) {
        info.url = connectable(&info.url);
        if health_ok(&info.url, &info.agent_key).await {
            return Ok(info);
        }
    }
    let info = spawn_agent(state, listen).await?;
    Ok(info)
}

async fn spawn_agent(state: &Path, listen: &str) -> Result<AgentInfo> {
    let bin = agent_binary()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state)
        .map_err(|e| CliError::new("io", format!("{}: {e}", state.display())))?;
    let log_path = state.join("agent.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(|e| CliError::new("io", format!("{}: {e}", log_path.display())))?;
    let start = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut child = Command::new(&bin)
        .arg("serve")
        .arg("--listen")
        .arg(listen)
        .arg("--state-dir")
        .arg(state)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| CliError::new("agent_start", format!("{}: {e}", bin.display())))?;
    eprintln!(
        "started dd-agent (pid {}) on {listen}; log: {}",
        child.id(),
        log_path.display()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&log_path) {
            let _ = f.seek(SeekFrom::Start(start));
            let _ = f.read_to_string(&mut text);
        }
        for line in text.lines() {
            if let Ok(mut info) = serde_json::from_str::<AgentInfo>(line.trim()) {
                info.url = connectable(&info.url);
                return Ok(info);
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail: String = text.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
            return Err(CliError::new(
                "agent_start",
                format!("dd-agent exited ({status}) before it was ready: {tail}"),
            )
            .into());
        }
        if Instant::now() > deadline {
            return Err(CliError::new(
                "agent_start",
                format!("dd-agent did not report ready; see {}", log_path.display()),
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Mints an enrollment link on the local agent's state dir.
fn enroll_link(state: &Path) -> Result<Zeroizing<String>> {
    let out = Command::new(agent_binary()?)
        .arg("enroll-link")
        .arg("--state-dir")
        .arg(state)
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| CliError::new("agent_start", format!("dd-agent enroll-link: {e}")))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err(CliError::new(
            "enroll_link",
            format!(
                "dd-agent enroll-link failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
        .into());
    }
    let v: serde_json::Value = serde_json::from_slice(&stdout)
        .map_err(|e| CliError::new("enroll_link", format!("unexpected output: {e}")))?;
    let link = v["link"]
        .as_str()
        .ok_or_else(|| CliError::new("enroll_link", "no link in dd-agent's output"))?;
    Ok(Zeroizing::new(link.to_owned()))
}

/// Runs the quickstart.
pub async fn run(ctx: &Ctx, args: UpArgs) -> Result<()> {
    let default_state = default_state_dir()?;
    let state = args.state_dir.clone().unwrap_or(default_state.clone());
    let profile = match ctx.cfg.profile()? {
        Some(mut p) => {
            if !health_ok(&p.agent_url, &p.agent_key).await {
                let local_key = read_agent_json(&state).map(|i| i.agent_key);
                if local_key.as_deref() != Some(p.agent_key.as_str()) {
                    return Err(CliError::new(
                        "connect_failed",
                        format!(
                            "the profile's agent at {} does not answer, and it is not the local agent in {}",
                            p.agent_url,
                            state.display()
                        ),
                    )
                    .into());
                }
                let info = ensure_agent(&state, &args.listen).await?;
                if info.agent_key != p.agent_key {
                    return Err(CliError::new(
                        "agent_key_mismatch",
                        "the local agent's key differs from the pinned one; enroll again",
                    )
                    .into());
                }
                if info.url != p.agent_url {
                    p.agent_url = info.url;
                    ctx.cfg.save_profile(&p)?;
                }
            }
            p
        }
        None => {
            ensure_agent(&state, &args.listen).await?;
            let link = enroll_link(&state)?;
            let p = enroll::enroll(ctx, &link, None).await?;
            eprintln!("enrolled this device as {} ({})", p.device_id, p.label);
            p
        }
    };
    let conn = connect_profile(ctx, &profile).await?;
    let list: SessionList = conn
        .call_typed(SESSION_LIST, &serde_json::json!({}))
        .await?;
    let running = list
        .sessions
        .into_iter()
        .filter(|s| s.status == SessionStatus::Running)
        .max_by_key(|s| s.created_at);
    let session: SessionInfo = match running {
        Some(s) => s,
        None => {
            let size = term::size();
            conn.call_typed(
                SESSION_CREATE,
                &CreateSession {
                    rows: size.map(|s| s.0),
                    cols: size.map(|s| s.1),
                    ..Default::default()
                },
            )
            .await?
        }
    };
    let p = pair::create(&conn, &session.id, None, None, false, Some("up".into())).await?;
    if ctx.json {
        print_json(&serde_json::json!({
            "session_id": session.id,
            "agent_url": profile.agent_url,
            "link": p.link,
            "token_id": p.token_id,
            "expires_at": super::fmt_time(p.expires_at),
        }));
    } else {
        println!("session {} ({})", session.id, session.name);
        pair::show(&p, false)?;
    }
    if args.no_attach {
        return Ok(());
    }
    attach::run(ctx, &conn, &session.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_becomes_loopback() {
        assert_eq!(connectable("http://0.0.0.0:7777"), "http://127.0.0.1:7777");
        assert_eq!(connectable("http://[::]:7777"), "http://[::1]:7777");
        assert_eq!(
            connectable("http://192.168.1.2:7777"),
            "http://192.168.1.2:7777"
        );
    }
}
