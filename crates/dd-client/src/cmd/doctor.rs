//! `dd-client doctor`: what a phone would hit, checked from this desktop.
//!
//! The address pairing links carry (the local agent's `agent.json` when it
//! is the enrolled agent, else the profile's URL, which came from the same
//! announcement), whether that address is loopback-only, whether its port
//! answers from here (open, refused, or silently dropped — a firewall),
//! local firewall tools that are active, TLS or plain, the agent's version
//! and `/health`, the Noise handshake with this device's key, and the
//! agent's clock against ours (pairing links expire by the agent's clock).
//! Each problem comes with what to do about it. The checks only read: no
//! token is minted and nothing is changed.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use tokio::net::TcpStream;

use super::{connect_profile, local, print_json, Ctx};
use crate::cli::DoctorArgs;

/// How long one probe may take.
const PROBE: Duration = Duration::from_secs(3);

/// Clock skew beyond which links' countdowns and expiry mislead.
const SKEW_WARN_SECS: i64 = 30;

/// One finding, with what to do about it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The check (`link_address`, `port`, `firewall`, `tls`, `health`,
    /// `handshake`, `clock`, `profile`).
    pub check: &'static str,
    /// `ok`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// What was found.
    pub message: String,
    /// What to do about it (empty when nothing).
    pub fix: String,
}

/// The TCP probe's result.
#[derive(Debug, Clone, Serialize)]
pub struct PortCheck {
    /// The address tried.
    pub address: String,
    /// `open`, `refused`, `timeout` (dropped: a firewall), `unreachable`
    /// (no route) or `resolve_failed`.
    pub result: &'static str,
    /// The error, when not open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") || bare.ends_with(".localhost") {
        return true;
    }
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_private() || v.is_link_local() || v.octets()[0] == 100,
        IpAddr::V6(v) => {
            (v.segments()[0] & 0xfe00) == 0xfc00 || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Connects to `host:port` once.
async fn probe_port(host: &str, port: u16) -> PortCheck {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let address = if bare.contains(':') {
        format!("[{bare}]:{port}")
    } else {
        format!("{bare}:{port}")
    };
    let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((bare, port)).await {
        Ok(a) => a.collect(),
        Err(e) => {
            return PortCheck {
                address,
                result: "resolve_failed",
                error: Some(e.to_string()),
            }
        }
    };
    let Some(addr) = addrs.first().copied() else {
        return PortCheck {
            address,
            result: "resolve_failed",
            error: Some("no address".into()),
        };
    };
    let (result, error) = match tokio::time::timeout(PROBE, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => ("open", None),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            ("refused", Some(e.to_string()))
        }
        Ok(Err(e)) => ("unreachable", Some(e.to_string())),
        Err(_) => (
            "timeout",
            Some(format!("no answer within {}s", PROBE.as_secs())),
        ),
    };
    PortCheck {
        address: addr.to_string(),
        result,
        error,
    }
}

/// Local firewall front ends that say they are active.
fn active_firewalls() -> Vec<String> {
    let run = |prog: &str, args: &[&str]| {
        std::process::Command::new(prog)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let mut found = Vec::new();
    if run("ufw", &["status"]).is_some_and(|s| s.contains("Status: active")) {
        found.push("ufw".to_owned());
    }
    if run("firewall-cmd", &["--state"]).is_some_and(|s| s.trim() == "running") {
        found.push("firewalld".to_owned());
    }
    if run("nft", &["list", "ruleset"])
        .is_some_and(|s| s.contains("hook input") && s.contains("policy drop"))
    {
        found.push("nftables (input policy drop)".to_owned());
    }
    if run("iptables", &["-S", "INPUT"]).is_some_and(|s| s.contains("-P INPUT DROP")) {
        found.push("iptables (INPUT policy DROP)".to_owned());
    }
    found
}

fn now() -> i64 {
    dd_client_core::clock::now_secs()
}

/// Runs `doctor`.
pub async fn run(ctx: &Ctx, args: DoctorArgs) -> Result<()> {
    let mut findings: Vec<Finding> = Vec::new();
    let mut add = |check, level, message: String, fix: String| {
        findings.push(Finding {
            check,
            level,
            message,
            fix,
        })
    };
    let state = match args.state_dir {
        Some(s) => Some(s),
        None => local::default_state_dir().ok(),
    };
    let profile = ctx.cfg.profile()?;
    let local = state.as_deref().and_then(local::read_agent_json);
    let local_listening = state
        .as_deref()
        .and_then(|s| std::fs::read(s.join("agent.json")).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["listening"].as_str().map(str::to_owned));
    let (link_url, source) = match (&profile, &local) {
        (Some(p), Some(l)) if l.agent_key == p.agent_key => (Some(l.url.clone()), "agent.json"),
        (Some(p), _) => (Some(p.agent_url.clone()), "profile"),
        (None, Some(l)) => (Some(l.url.clone()), "agent.json"),
        (None, None) => (None, "none"),
    };
    match &profile {
        Some(p) => add(
            "profile",
            "ok",
            format!("enrolled as {} with the agent at {}", p.device_id, p.agent_url),
            String::new(),
        ),
        None => add(
            "profile",
            "warn",
            "this desktop is not enrolled with an agent".into(),
            "run `dd-client up`, or `dd-client enroll LINK` with a link from `dd-agent enroll-link`".into(),
        ),
    }
    let Some(link_url) = link_url else {
        add(
            "link_address",
            "error",
            "no enrolled agent and no local agent to check".into(),
            "run `dd-client up` first".into(),
        );
        return report(ctx, &findings, serde_json::json!({}));
    };
    let parsed = url::Url::parse(&link_url).ok();
    let scheme = parsed
        .as_ref()
        .map(|u| u.scheme().to_owned())
        .unwrap_or_default();
    let tls = matches!(scheme.as_str(), "https" | "wss");
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let port = parsed
        .as_ref()
        .and_then(|u| u.port_or_known_default())
        .unwrap_or(0);
    let loopback = is_loopback_host(&host);
    if parsed.is_none() || host.is_empty() {
        add(
            "link_address",
            "error",
            format!("links carry {link_url:?}, which is not a URL with a host"),
            "restart the agent with --public-url http://ADDRESS:PORT".into(),
        );
    } else if loopback {
        add(
            "link_address",
            "error",
            format!("links carry {link_url}: a loopback address, which a phone cannot reach"),
            "restart the agent listening on the network (`dd-agent serve --listen 0.0.0.0:7777`, the default of `dd-client up`) or give it --public-url http://LAN-ADDRESS:7777".into(),
        );
    } else {
        let private = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(is_private);
        add(
            "link_address",
            if private { "info" } else { "ok" },
            if private {
                format!("links carry {link_url}: a private address, reachable from the same network (Wi-Fi) only")
            } else {
                format!("links carry {link_url}")
            },
            if private {
                "a phone on mobile data needs a public address or tunnel: --public-url https://…"
                    .into()
            } else {
                String::new()
            },
        );
    }
    if let Some(l) = &local_listening {
        if (l.starts_with("127.") || l.starts_with("[::1]")) && !loopback {
            add(
                "link_address",
                "warn",
                format!("the local agent listens on {l} only, yet its links name {host}"),
                "unless a proxy forwards that address, restart it with --listen 0.0.0.0:PORT"
                    .into(),
            );
        }
    }
    if tls {
        add(
            "tls",
            "info",
            format!("{scheme}: the phone speaks TLS to reach the agent (a proxy in front); Noise still pins the agent's key"),
            String::new(),
        );
    } else {
        add(
            "tls",
            "info",
            format!("{scheme}: plain WebSocket; everything in it is Noise-encrypted end to end"),
            String::new(),
        );
    }

    let port_check = if host.is_empty() {
        None
    } else {
        Some(probe_port(&host, port).await)
    };
    let firewalls = active_firewalls();
    if let Some(pc) = &port_check {
        match pc.result {
            "open" => add(
                "port",
                "ok",
                format!("{} answers from here", pc.address),
                String::new(),
            ),
            "refused" => add(
                "port",
                "error",
                format!("nothing listens on {} (connection refused)", pc.address),
                "start the agent (`dd-client up`, or `dd-agent service install`), or check that its --listen address covers this one".into(),
            ),
            "timeout" => add(
                "firewall",
                "error",
                format!("{} does not answer: packets are dropped, as a firewall does", pc.address),
                format!("allow TCP port {port} in to this machine (e.g. `sudo ufw allow {port}/tcp`, or the router's or cloud security group's rules)"),
            ),
            _ => add(
                "port",
                "error",
                format!(
                    "cannot reach {}: {}",
                    pc.address,
                    pc.error.clone().unwrap_or_default()
                ),
                "check the address: it must be one the phone can route to".into(),
            ),
        }
    }
    if !firewalls.is_empty() && !loopback {
        add(
            "firewall",
            "warn",
            format!(
                "active here: {} (from this machine the port may answer while the LAN is blocked)",
                firewalls.join(", ")
            ),
            format!("allow TCP port {port} in, e.g. `sudo ufw allow {port}/tcp`"),
        );
    }

    let mut health_json = serde_json::Value::Null;
    let mut skew: Option<i64> = None;
    if !tls && port_check.as_ref().is_some_and(|p| p.result == "open") {
        let before = now();
        match local::fetch_health(&link_url).await {
            Ok(h) => {
                let key_ok = profile.as_ref().map(|p| p.agent_key == h.health.agent_key);
                health_json = serde_json::json!({
                    "ok": true,
                    "agent_version": h.health.agent_version,
                    "protocol_version": h.health.protocol_version,
                    "agent_key_matches": key_ok,
                });
                if key_ok == Some(false) {
                    add(
                        "health",
                        "error",
                        format!("{link_url} is a dd agent with another key than the pinned one"),
                        "the agent's state dir changed or this is another agent: enroll again"
                            .into(),
                    );
                } else {
                    add(
                        "health",
                        "ok",
                        format!(
                            "dd-agent {} (protocol {}) answers /health",
                            h.health.agent_version, h.health.protocol_version
                        ),
                        String::new(),
                    );
                }
                if h.health.protocol_version != dd_proto::PROTOCOL_VERSION {
                    add(
                        "health",
                        "error",
                        format!(
                            "the agent speaks protocol {}, this client {}",
                            h.health.protocol_version,
                            dd_proto::PROTOCOL_VERSION
                        ),
                        "upgrade the older side".into(),
                    );
                }
                if let Some(d) = h.date {
                    // The Date header has whole seconds; take the closer
                    // end of the request.
                    let after = now();
                    let s = if d < before {
                        d - before
                    } else if d > after {
                        d - after
                    } else {
                        0
                    };
                    skew = Some(s);
                }
            }
            Err(e) => {
                health_json = serde_json::json!({"ok": false, "error": e.to_string()});
                add(
                    "health",
                    "error",
                    format!("the port answers but not as a dd agent: {e}"),
                    "another program holds the port, or a proxy does not forward /health".into(),
                );
            }
        }
    }
    match skew {
        Some(s) if s.abs() > SKEW_WARN_SECS => add(
            "clock",
            "warn",
            format!(
                "the agent's clock is {}s {} this one: links expire by the agent's clock, so countdowns here are off by that much",
                s.abs(),
                if s > 0 { "ahead of" } else { "behind" }
            ),
            "turn on time sync on both machines (`timedatectl set-ntp true`)".into(),
        ),
        Some(s) => add(
            "clock",
            "ok",
            format!("clocks agree (skew {s}s)"),
            String::new(),
        ),
        None => {}
    }

    let mut handshake = serde_json::Value::Null;
    if let Some(p) = &profile {
        match tokio::time::timeout(PROBE * 2, connect_profile(ctx, p)).await {
            Ok(Ok(_conn)) => {
                handshake = serde_json::json!({"ok": true, "url": p.agent_url});
                add(
                    "handshake",
                    "ok",
                    format!("Noise handshake with {} as an owner", p.agent_url),
                    String::new(),
                );
            }
            Ok(Err(e)) => {
                handshake =
                    serde_json::json!({"ok": false, "url": p.agent_url, "error": format!("{e:#}")});
                add(
                    "handshake",
                    "error",
                    format!("connecting to {} failed: {e:#}", p.agent_url),
                    "see the other findings; `dd-client -vv session list` shows more".into(),
                );
            }
            Err(_) => {
                handshake =
                    serde_json::json!({"ok": false, "url": p.agent_url, "error": "timeout"});
                add(
                    "handshake",
                    "error",
                    format!("connecting to {} timed out", p.agent_url),
                    "see the other findings".into(),
                );
            }
        }
    }

    report(
        ctx,
        &findings,
        serde_json::json!({
            "link_url": link_url,
            "link_url_source": source,
            "host": host,
            "port": port,
            "loopback_only": loopback,
            "listening": local_listening,
            "scheme": scheme,
            "tls": tls,
            "port_check": port_check,
            "firewalls": firewalls,
            "health": health_json,
            "agent_version": health_json.get("agent_version"),
            "clock_skew_secs": skew,
            "handshake": handshake,
        }),
    )
}

fn report(ctx: &Ctx, findings: &[Finding], mut facts: serde_json::Value) -> Result<()> {
    let ok = !findings.iter().any(|f| f.level == "error");
    if ctx.json {
        if let Some(o) = facts.as_object_mut() {
            o.insert("ok".into(), ok.into());
            o.insert("findings".into(), serde_json::to_value(findings)?);
        }
        print_json(&facts);
        return Ok(());
    }
    for f in findings {
        let mark = match f.level {
            "ok" => "ok   ",
            "info" => "info ",
            "warn" => "WARN ",
            _ => "ERROR",
        };
        println!("{mark} {:<12} {}", f.check, f.message);
        if !f.fix.is_empty() {
            println!("      {:<12} → {}", "", f.fix);
        }
    }
    println!(
        "{}",
        if ok {
            "No problem found that would stop a phone from connecting."
        } else {
            "A phone would not get through: fix the ERROR lines above."
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn loopback_and_private_hosts() {
        for h in [
            "127.0.0.1",
            "localhost",
            "[::1]",
            "127.8.9.1",
            "app.localhost",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["192.168.1.4", "dd.example.com", "[2001:db8::1]", "10.0.0.1"] {
            assert!(!is_loopback_host(h), "{h}");
        }
        assert!(is_private("192.168.1.4".parse().unwrap()));
        assert!(is_private("10.1.2.3".parse().unwrap()));
        assert!(is_private("fd00::1".parse().unwrap()));
        assert!(!is_private("8.8.8.8".parse().unwrap()));
    }
}
