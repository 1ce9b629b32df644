//! The commands.

mod attach;
mod events;
mod view;
mod watch;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use dd_client_core::{ConnectOptions, TlsOptions};
use dd_mobile::{Companion, Credential, FileStore, MobileError, SecureStore};
use dd_proto::keepalive::Keepalive;
use serde_json::json;

use crate::cli::{Cli, Command};
use crate::errors::CliError;

/// The store dir: `DD_COMPANION_HOME`, else `$XDG_CONFIG_HOME/dd-companion`,
/// else `~/.config/dd-companion`.
pub fn home() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("DD_COMPANION_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(x).join("dd-companion"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither DD_COMPANION_HOME, XDG_CONFIG_HOME nor HOME is set")?;
    Ok(PathBuf::from(home).join(".config").join("dd-companion"))
}

/// The companion over the store dir, dialing with `net`.
fn open_companion(net: &ConnectOptions) -> Result<Arc<Companion>> {
    let store = FileStore::open(home()?).map_err(MobileError::from)?;
    let store: Arc<dyn SecureStore> = Arc::new(store);
    let companion = Companion::new(store);
    companion.set_connect_options(net.clone());
    Ok(companion)
}

/// The connection settings from the command line (`--ca-file`).
fn connect_options(cli: &Cli) -> Result<ConnectOptions> {
    let mut net = ConnectOptions::default();
    if let Some(path) = &cli.ca_file {
        net.tls = TlsOptions::with_ca_file(path).map_err(MobileError::from)?;
    }
    net.keepalive = Keepalive {
        interval: cli.keepalive,
        timeout: cli.dead_after,
    };
    net.keepalive
        .validate()
        .map_err(|e| CliError::new("usage", format!("--keepalive/--dead-after: {e}")))?;
    Ok(net)
}

use dd_cli::fmt_time as rfc3339;

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "dd-companion".into())
}

fn credential_json(c: &Credential) -> serde_json::Value {
    json!({
        "session_id": c.session_id,
        "session_name": c.session_name,
        "grant_id": c.grant_id,
        "agent_url": c.agent_url,
        "read_only": c.read_only,
        "ops": c.ops,
        "label": c.label,
        "expires_at": rfc3339(c.expires_at),
        "created_at": rfc3339(c.created_at),
    })
}

/// Runs the command; returns the exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    let json = cli.json;
    let net = connect_options(&cli)?;
    let companion = || open_companion(&net);
    match cli.command {
        Command::Join {
            link,
            link_file,
            label,
        } => {
            let (link, _) =
                dd_cli::secret::read_link(link.as_deref(), link_file.as_deref(), "DD_PAIR_LINK")?;
            let label = label.unwrap_or_else(hostname);
            let c = companion()?.redeem(link.to_string(), label).await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "session_id": c.session_id,
                        "grant_id": c.grant_id,
                        "agent_url": c.agent_url,
                        "read_only": c.read_only,
                        "expires_at": rfc3339(c.expires_at),
                    })
                );
            } else {
                let mode = if c.read_only { " (read-only)" } else { "" };
                println!(
                    "joined session {} \"{}\"{mode} as grant {}; access until {}",
                    c.session_id,
                    c.session_name,
                    c.grant_id,
                    rfc3339(c.expires_at)
                );
                println!("  dd-companion attach {}", c.session_id);
            }
            Ok(0)
        }
        Command::List => {
            let creds = companion()?.list_credentials()?;
            if json {
                let v: Vec<_> = creds.iter().map(credential_json).collect();
                println!("{}", serde_json::Value::Array(v));
            } else if creds.is_empty() {
                println!("no pairings; use `dd-companion join LINK`");
            } else {
                for c in &creds {
                    let mode = if c.read_only {
                        "read-only"
                    } else {
                        "interactive"
                    };
                    println!(
                        "{}  {:<16} {:<11} {}  until {}  {}",
                        c.session_id,
                        c.session_name,
                        mode,
                        c.grant_id,
                        rfc3339(c.expires_at),
                        c.agent_url
                    );
                }
            }
            Ok(0)
        }
        Command::Attach { session_id } => {
            let comp = companion()?;
            let id = match session_id {
                Some(id) => id,
                None => only_session(&comp)?,
            };
            attach::run(comp, id).await
        }
        Command::Send {
            session_id,
            enter,
            text,
        } => {
            let mut data = text.join(" ").into_bytes();
            if enter {
                data.push(b'\r');
            }
            let params = json!({
                "session": session_id,
                "data": dd_mobile_encode(&data),
            });
            companion()?
                .call(session_id, "session.input".into(), params.to_string())
                .await?;
            if json {
                println!("{}", json!({ "sent": data.len() }));
            }
            Ok(0)
        }
        Command::Watch {
            session_id,
            from,
            until,
            timeout,
        } => watch::run(companion()?, session_id, &from, until, timeout).await,
        Command::Events { session_id } => events::run(&*companion()?, &session_id, json).await,
        Command::Answer {
            session_id,
            choice,
            seq,
        } => events::answer(&*companion()?, &session_id, &choice, seq, json).await,
        Command::Call {
            session_id,
            method,
            params,
        } => {
            let params = params.unwrap_or_else(|| json!({ "session": session_id }).to_string());
            let out = companion()?.call(session_id, method, params).await?;
            println!("{out}");
            Ok(0)
        }
        Command::Forget { session_id } => {
            companion()?.forget(session_id.clone()).await?;
            if json {
                println!("{}", json!({ "forgotten": session_id }));
            } else {
                println!("forgot session {session_id} (grant revoked)");
            }
            Ok(0)
        }
        Command::Completions(a) => {
            dd_cli::gen::run_completions(<Cli as clap::CommandFactory>::command(), &a);
            Ok(0)
        }
        Command::Man(a) => {
            dd_cli::gen::run_man(<Cli as clap::CommandFactory>::command(), &a)?;
            Ok(0)
        }
    }
}

fn dd_mobile_encode(data: &[u8]) -> String {
    dd_proto::keys::encode_bytes(data)
}

/// The one stored session, when there is exactly one.
fn only_session(c: &Companion) -> Result<String> {
    let creds = c.list_credentials()?;
    match creds.as_slice() {
        [one] => Ok(one.session_id.clone()),
        [] => Err(CliError::usage("no pairings; use `dd-companion join LINK`").into()),
        _ => Err(CliError::usage(format!(
            "{} pairings; name the session: {}",
            creds.len(),
            creds
                .iter()
                .map(|c| c.session_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into()),
    }
}
