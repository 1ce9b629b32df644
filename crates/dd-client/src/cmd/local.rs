//! The local agent as `up` leaves it, read by `up`, `down` and `doctor`:
//! its state dir, the `agent.json` it writes when ready, the `dd-agent`
//! binary, and its plain-HTTP `/health` (with the agent's `Date`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use dd_proto::methods::Health;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::errors::CliError;

/// How long `/health` may take.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// What the agent prints when ready (and keeps in `agent.json`).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct AgentInfo {
    pub url: String,
    pub agent_key: String,
}

/// `$XDG_STATE_HOME/dd/agent`, else `~/.local/state/dd/agent`.
pub(super) fn default_state_dir() -> Result<PathBuf, CliError> {
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
pub(super) fn connectable(url: &str) -> String {
    url.replace("://0.0.0.0", "://127.0.0.1")
        .replace("://[::]", "://[::1]")
}

/// Asks `GET /health`; true when it answers with `agent_key`.
pub(super) async fn health_ok(agent_url: &str, agent_key: &str) -> bool {
    match health(agent_url).await {
        Ok(h) => h.agent_key == agent_key,
        Err(e) => {
            tracing::debug!(%e, agent_url, "health check failed");
            false
        }
    }
}

pub(super) async fn health(agent_url: &str) -> Result<Health> {
    Ok(fetch_health(agent_url).await?.health)
}

/// `dd-agent` next to this executable, else on PATH.
pub(super) fn agent_binary() -> Result<PathBuf, CliError> {
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

pub(super) fn read_agent_json(state: &Path) -> Option<AgentInfo> {
    let b = std::fs::read(state.join("agent.json")).ok()?;
    serde_json::from_slice(&b).ok()
}

/// `/health` with the `Date` header.
pub struct HealthReply {
    /// The body.
    pub health: Health,
    /// The agent's clock (Unix seconds), from `Date`.
    pub date: Option<i64>,
}

/// `GET /health` on a plain `http://` agent URL.
pub async fn fetch_health(agent_url: &str) -> Result<HealthReply> {
    let u = url::Url::parse(agent_url)?;
    let host = u.host_str().ok_or_else(|| anyhow::anyhow!("no host"))?;
    let port = u
        .port_or_known_default()
        .ok_or_else(|| anyhow::anyhow!("no port"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let fut = async {
        let mut s = TcpStream::connect((bare, port)).await?;
        let req = format!(
            "GET {} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n",
            dd_proto::HEALTH_PATH
        );
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        s.take(64 * 1024).read_to_end(&mut buf).await?;
        anyhow::Ok(buf)
    };
    let buf = tokio::time::timeout(HEALTH_TIMEOUT, fut).await??;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("bad HTTP response"))?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200") {
        anyhow::bail!("health: {status}");
    }
    let date = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("date")
            .then(|| parse_http_date(v.trim()))
            .flatten()
    });
    Ok(HealthReply {
        health: serde_json::from_str(body.trim())?,
        date,
    })
}

/// An IMF-fixdate (`Tue, 01 Dec 2026 10:03:07 GMT`) as Unix seconds.
fn parse_http_date(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(|d| d.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Tue, 01 Dec 2026 10:03:07 GMT"),
            Some(1_796_119_387)
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date("Tue, 01 Dec 2026 10:03:07 PST"), None);
    }
}
