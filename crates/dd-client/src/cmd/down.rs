//! `dd-client down`: stop the agent `dd-client up` started.
//!
//! `up` records the agent it starts (pid, state dir) in the config dir.
//! `down` stops that gateway only when it is still the one serving that
//! state dir (its `agent.json` names the same pid and `/health` answers
//! with the pinned key), so a reused pid or an agent run by a service is
//! never signalled. It cancels the pairing link `up` showed, counts the
//! running sessions (they keep running in the session host, which is what
//! makes `up` a reattach), and with `--end-sessions` ends them with
//! `dd-agent stop-sessions`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;
use dd_proto::methods::{SessionList, SessionStatus, SESSION_LIST};
use rustix::process::{kill_process, test_kill_process, Pid, Signal};
use serde_json::json;

use super::local;
use super::up::{self, Started, PENDING_FILE, STARTED_FILE};
use super::{connect_profile, pair, print_json, Ctx};
use crate::cli::DownArgs;
use crate::errors::CliError;

fn alive(pid: u32) -> bool {
    Pid::from_raw(pid as i32).is_some_and(|p| test_kill_process(p).is_ok())
}

/// Runs `down`.
pub async fn run(ctx: &Ctx, args: DownArgs) -> Result<()> {
    let started: Option<Started> = ctx
        .cfg
        .read_secret(STARTED_FILE)?
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(started) = started else {
        return Err(CliError::new(
            "not_running",
            "no agent started by `dd-client up` is recorded in the config dir",
        )
        .into());
    };
    let state = &started.state_dir;
    let info = local::read_agent_json(state);
    let serving = match &info {
        Some(i) => {
            let announced_pid = std::fs::read(state.join("agent.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["pid"].as_u64());
            announced_pid == Some(started.pid as u64)
                && alive(started.pid)
                && local::health_ok(&local::connectable(&i.url), &i.agent_key).await
        }
        None => false,
    };
    if !serving {
        ctx.cfg.remove(STARTED_FILE)?;
        let running = info.is_some_and(|_| {
            std::fs::read(state.join("agent.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["pid"].as_u64())
                .is_some_and(|p| alive(p as u32))
        });
        let msg = if running {
            format!(
                "the agent serving {} is not the one `dd-client up` started (pid {}); stop it where it was started (e.g. `systemctl --user stop dd-agent`)",
                state.display(),
                started.pid
            )
        } else {
            format!(
                "the agent `dd-client up` started (pid {}) is no longer running",
                started.pid
            )
        };
        return Err(CliError::new("not_running", msg).into());
    }
    let info = info.expect("serving implies agent.json");

    // Through the owner profile, when it is this agent's: count sessions
    // and cancel the pending link.
    let mut sessions_running: Option<usize> = None;
    if let Some(profile) = ctx.cfg.profile()?.filter(|p| p.agent_key == info.agent_key) {
        match connect_profile(ctx, &profile).await {
            Ok(conn) => {
                if let Ok(list) = conn
                    .call_typed::<_, SessionList>(SESSION_LIST, &json!({}))
                    .await
                {
                    sessions_running = Some(
                        list.sessions
                            .iter()
                            .filter(|s| s.status == SessionStatus::Running)
                            .count(),
                    );
                }
                if let Some(p) = up::load_pending(&ctx.cfg) {
                    if p.agent_key == info.agent_key {
                        let _ = pair::cancel_token(&conn, &p.session_id, &p.token_id).await;
                    }
                }
            }
            Err(e) => tracing::debug!(%e, "cannot connect to count sessions"),
        }
    }
    ctx.cfg.remove(PENDING_FILE)?;

    let pid = Pid::from_raw(started.pid as i32)
        .ok_or_else(|| CliError::new("not_running", "bad pid recorded"))?;
    kill_process(pid, Signal::TERM)
        .map_err(|e| CliError::new("stop_failed", format!("kill {}: {e}", started.pid)))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(started.pid) {
        if Instant::now() > deadline {
            return Err(CliError::new(
                "stop_failed",
                format!(
                    "dd-agent (pid {}) did not stop within 10 s; `kill -9 {}` stops it (sessions survive)",
                    started.pid, started.pid
                ),
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ctx.cfg.remove(STARTED_FILE)?;

    let mut ended = false;
    if args.end_sessions {
        let out = Command::new(local::agent_binary()?)
            .arg("stop-sessions")
            .arg("--state-dir")
            .arg(state)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| CliError::new("stop_failed", format!("dd-agent stop-sessions: {e}")))?;
        if !out.status.success() {
            return Err(CliError::new(
                "stop_failed",
                format!(
                    "dd-agent stop-sessions failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            )
            .into());
        }
        ended = true;
    }
    if ctx.json {
        print_json(&json!({
            "stopped": true,
            "pid": started.pid,
            "state_dir": state,
            "sessions_running": sessions_running,
            "sessions_ended": ended,
        }));
        return Ok(());
    }
    println!(
        "stopped dd-agent (pid {}) on {}",
        started.pid,
        state.display()
    );
    match (ended, sessions_running) {
        (true, Some(n)) => println!("ended {n} running session(s)"),
        (true, None) => println!("ended every session"),
        (false, Some(0)) => println!("no session is running"),
        (false, Some(n)) => println!(
            "{n} session(s) still running in the session host: `dd-client up` reattaches, `dd-client down --end-sessions` ends them"
        ),
        (false, None) => println!(
            "sessions keep running in the session host: `dd-client up` reattaches, `dd-client down --end-sessions` ends them"
        ),
    }
    Ok(())
}
