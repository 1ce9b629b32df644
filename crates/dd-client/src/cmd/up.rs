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
    CreateSession, SessionInfo, SessionList, SessionStatus, SESSION_CREATE, SESSION_LIST,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::local::{
    agent_binary, connectable, default_state_dir, health_ok, read_agent_json, AgentInfo,
};
use super::pair::WaitEnd;
use super::{attach, connect_profile, enroll, pair, print_json, Ctx};
use crate::cli::UpArgs;
use crate::config::ConfigDir;
use crate::errors::CliError;
use crate::term;
use dd_cli::term::Stdin;
use dd_client_core::Connection;
use dd_proto::methods::PairCreated;
use std::io::IsTerminal;
use zeroize::Zeroize;

/// Reuses the agent of `state` if it answers, else starts it.
async fn ensure_agent(ctx: &Ctx, state: &Path, listen: &str) -> Result<AgentInfo> {
    if let Some(mut info) = read_agent_json(state) {
        info.url = connectable(&info.url);
        if health_ok(&info.url, &info.agent_key).await {
            return Ok(info);
        }
    }
    spawn_agent(ctx, state, listen).await
}

async fn spawn_agent(ctx: &Ctx, state: &Path, listen: &str) -> Result<AgentInfo> {
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
        "started dd-agent (pid {}) on {listen}; log: {}; `dd-client down` stops it",
        child.id(),
        log_path.display()
    );
    let started = Started {
        pid: child.id(),
        state_dir: std::path::absolute(state).unwrap_or_else(|_| state.to_owned()),
        listen: listen.to_owned(),
        started_at: dd_client_core::clock::now_secs(),
    };
    ctx.cfg
        .write_secret(STARTED_FILE, &serde_json::to_vec(&started)?)?;
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

/// The config-dir file (0600) holding the pairing link `up` showed last,
/// so that running `up` again shows the same one while it is valid instead
/// of minting another. The link holds the token's secret: it is read into
/// zeroized memory only, and removed once redeemed, expired or replaced
/// (and cancelled by `down`). The same dir holds `device.key`, an owner
/// key worth far more than a pairing link to one session.
pub(super) const PENDING_FILE: &str = "up-pairing.json";

/// The config-dir file recording the agent `up` started (for `down`).
pub(super) const STARTED_FILE: &str = "up-agent.json";

/// Reused only when at least this much of its lifetime is left.
const MIN_LEFT_SECS: i64 = 30;

/// The pairing link `up` keeps between runs.
#[derive(Serialize, Deserialize)]
pub(super) struct Pending {
    pub agent_key: String,
    pub session_id: String,
    pub token_id: String,
    pub link: String,
    pub expires_at: i64,
    pub read_only: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.link.zeroize();
    }
}

/// The agent `up` started.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Started {
    pub pid: u32,
    pub state_dir: PathBuf,
    pub listen: String,
    pub started_at: i64,
}

pub(super) fn load_pending(cfg: &ConfigDir) -> Option<Pending> {
    let bytes = cfg.read_secret(PENDING_FILE).ok()??;
    serde_json::from_slice(&bytes).ok()
}

fn save_pending(cfg: &ConfigDir, p: &PairCreated, agent_key: &str) -> Result<()> {
    let pending = Pending {
        agent_key: agent_key.to_owned(),
        session_id: p.session_id.clone(),
        token_id: p.token_id.clone(),
        link: p.link.clone(),
        expires_at: p.expires_at,
        read_only: p.read_only,
    };
    let bytes = Zeroizing::new(serde_json::to_vec(&pending)?);
    cfg.write_secret(PENDING_FILE, &bytes)?;
    Ok(())
}

/// The link to show for `session`: the kept one when it is for this agent
/// and session, still pending and not about to expire; else a new one (a
/// kept one that is still pending elsewhere is cancelled first).
async fn pairing_for(
    ctx: &Ctx,
    conn: &Connection,
    agent_key: &str,
    session: &str,
) -> Result<(PairCreated, bool)> {
    if let Some(old) = load_pending(&ctx.cfg) {
        if old.agent_key == agent_key {
            let pending = matches!(
                pair::status(conn, &old.session_id, &old.token_id).await,
                Ok(st) if st.state == "pending"
            );
            if pending
                && old.session_id == session
                && old.expires_at - dd_client_core::clock::now_secs() >= MIN_LEFT_SECS
            {
                let p = PairCreated {
                    link: old.link.clone(),
                    token_id: old.token_id.clone(),
                    session_id: old.session_id.clone(),
                    expires_at: old.expires_at,
                    read_only: old.read_only,
                };
                return Ok((p, true));
            }
            if pending {
                if let Err(e) = pair::cancel_token(conn, &old.session_id, &old.token_id).await {
                    tracing::debug!(%e, "cancelling the previous pairing link failed");
                }
            }
        }
        ctx.cfg.remove(PENDING_FILE)?;
    }
    let p = pair::create(conn, session, None, None, false, Some("up".into())).await?;
    save_pending(&ctx.cfg, &p, agent_key)?;
    Ok((p, false))
}

/// Runs the quickstart.
pub async fn run(ctx: &Ctx, args: UpArgs) -> Result<()> {
    pair::refuse_inside_session(args.in_session)?;
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
                let info = ensure_agent(ctx, &state, &args.listen).await?;
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
            ensure_agent(ctx, &state, &args.listen).await?;
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
    // A plain reattach to a session a phone already holds shows no new
    // link (`--pair` asks for one; `Ctrl-] p` draws one inside).
    // A kept link for this session that is still pending is shown again;
    // one that was redeemed or expired meanwhile is dropped.
    let kept = match load_pending(&ctx.cfg) {
        Some(p) if p.session_id == session.id && p.agent_key == profile.agent_key => {
            let pending = matches!(
                pair::status(&conn, &p.session_id, &p.token_id).await,
                Ok(st) if st.state == "pending"
            );
            if !pending {
                ctx.cfg.remove(PENDING_FILE)?;
            }
            pending
        }
        _ => false,
    };
    let paired = if args.pair || kept {
        Vec::new()
    } else {
        pair::active_grants(&conn, &session.id).await?
    };
    if !paired.is_empty() {
        if ctx.json {
            print_json(&serde_json::json!({
                "session_id": session.id,
                "agent_url": profile.agent_url,
                "paired": paired.len(),
            }));
        } else {
            println!(
                "session {} ({}) is paired with {} device(s); `dd-client up --pair` or Ctrl-] p shows a new link",
                session.id,
                session.name,
                paired.len()
            );
        }
        if args.no_attach {
            return Ok(());
        }
        return attach::run(ctx, &conn, &session.id).await;
    }
    if pair::is_shell(&session.command) {
        eprintln!("{}", pair::shell_warning(&session));
    }
    let (p, reused) = pairing_for(ctx, &conn, &profile.agent_key, &session.id).await?;
    let interactive = !ctx.json
        && !args.no_wait
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    if ctx.json {
        print_json(&serde_json::json!({
            "session_id": session.id,
            "agent_url": profile.agent_url,
            "link": p.link,
            "token_id": p.token_id,
            "expires_at": super::fmt_time(p.expires_at),
            "reused": reused,
        }));
    } else {
        println!("session {} ({})", session.id, session.name);
        pair::show(&p, false)?;
    }
    if interactive {
        let then = if args.no_attach { "exit" } else { "attach" };
        let end = {
            let _raw = term::enter_raw()?;
            let mut stdin = Stdin::open();
            let hint = format!(" · any key: {then} now · Ctrl-C: quit");
            pair::wait_until(&conn, &p, Some(&hint), Some(&mut stdin)).await?
        };
        match end {
            WaitEnd::Joined(g) => {
                ctx.cfg.remove(PENDING_FILE)?;
                println!(
                    "joined: {} (grant {}, {})",
                    if g.label.is_empty() {
                        "a phone"
                    } else {
                        &g.label
                    },
                    g.grant_id,
                    if g.read_only {
                        "read-only"
                    } else {
                        "read-write"
                    }
                );
            }
            WaitEnd::Key => {}
            WaitEnd::Quit => {
                println!(
                    "not attaching; the link stays valid until {} (`dd-client up` shows it again)",
                    super::fmt_time(p.expires_at)
                );
                return Ok(());
            }
            WaitEnd::Expired | WaitEnd::Cancelled => {
                ctx.cfg.remove(PENDING_FILE)?;
                println!(
                    "the pairing link expired unused; Ctrl-] p in the session shows a new one"
                );
            }
        }
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
