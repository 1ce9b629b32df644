//! The commands.

mod admin;
mod attach;
mod doctor;
mod down;
mod enroll;
mod events;
mod hook;
mod local;
mod pair;
mod reattach;
mod session;
mod up;
mod watch;

use anyhow::Result;
use dd_client_core::{connect_with, ConnectOptions, Connection, TlsOptions};
use serde::Serialize;

use crate::cli::{Cli, Command, SessionCmd};
use crate::config::{ConfigDir, Profile};

/// The name and version this client sends in its handshake.
pub const CLIENT_NAME: &str = concat!("dd-client/", env!("CARGO_PKG_VERSION"));

/// What every command gets.
pub struct Ctx {
    /// The config dir.
    pub cfg: ConfigDir,
    /// `--json` was given.
    pub json: bool,
    /// How to connect (TLS trust from `--ca-file`).
    pub net: ConnectOptions,
}

impl Ctx {
    /// Connects to the profile's agent with this device's key.
    pub async fn connect(&self) -> Result<Connection> {
        let profile = self.cfg.require_profile()?;
        connect_profile(self, &profile).await
    }
}

/// Connects to `profile`'s agent.
pub async fn connect_profile(ctx: &Ctx, profile: &Profile) -> Result<Connection> {
    let key = ctx.cfg.device_key()?;
    let agent_key = profile.agent_key_bytes()?;
    let (conn, welcome) = connect_with(
        &profile.agent_url,
        &agent_key,
        &key,
        CLIENT_NAME,
        ctx.net.clone(),
    )
    .await?;
    tracing::info!(principal = ?welcome.principal, "connected");
    Ok(conn)
}

/// Prints one JSON value on a line.
pub fn print_json<T: Serialize>(v: &T) {
    println!(
        "{}",
        serde_json::to_string(v).unwrap_or_else(|_| "null".into())
    );
}

pub use dd_cli::fmt_time;

/// Formats an optional time, `-` when absent.
pub fn fmt_opt_time(t: Option<i64>) -> String {
    t.map(fmt_time).unwrap_or_else(|| "-".into())
}

/// Prints a left-aligned table. Every cell loses control, format (bidi,
/// zero-width) and separator characters first: cells hold text peers chose.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| dd_proto::text::sanitized(c).into_owned())
                .collect()
        })
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    if let Command::Hook(cmd) = &cli.command {
        // No config, key or network: it only writes to this terminal.
        return hook::run(cmd);
    }
    let mut net = ConnectOptions::default();
    if let Some(path) = &cli.ca_file {
        net.tls = TlsOptions::with_ca_file(path)?;
    }
    net.keepalive = dd_proto::keepalive::Keepalive {
        interval: cli.keepalive,
        timeout: cli.dead_after,
    };
    net.keepalive.validate().map_err(|e| {
        dd_cli::errors::CliError::new("usage", format!("--keepalive/--dead-after: {e}"))
    })?;
    let ctx = Ctx {
        cfg: ConfigDir::from_env()?,
        json: cli.json,
        net,
    };
    match cli.command {
        Command::Enroll {
            link,
            link_file,
            label,
        } => {
            let (link, _) =
                dd_cli::secret::read_link(link.as_deref(), link_file.as_deref(), "DD_ENROLL_LINK")?;
            enroll::run(&ctx, &link, label).await
        }
        Command::Audit {
            session,
            action,
            before,
            limit,
        } => {
            let q = dd_proto::methods::AuditQuery {
                session,
                limit,
                action,
                before,
            };
            admin::audit(&ctx, q).await
        }
        Command::Devices => admin::devices(&ctx).await,
        Command::Up(args) => up::run(&ctx, args).await,
        Command::Down(args) => down::run(&ctx, args).await,
        Command::Doctor(args) => doctor::run(&ctx, args).await,
        Command::Completions(a) => {
            dd_cli::gen::run_completions(<Cli as clap::CommandFactory>::command(), &a);
            Ok(())
        }
        Command::Man(a) => Ok(dd_cli::gen::run_man(
            <Cli as clap::CommandFactory>::command(),
            &a,
        )?),
        Command::Hook(cmd) => hook::run(&cmd),
        Command::Session(cmd) => match cmd {
            SessionCmd::New {
                name,
                cwd,
                detach,
                command,
            } => session::new(&ctx, name, cwd, detach, command).await,
            SessionCmd::List => session::list(&ctx).await,
            SessionCmd::Events { id } => events::run(&ctx, &id).await,
            SessionCmd::Answer { id, choice, seq } => events::answer(&ctx, &id, &choice, seq).await,
            SessionCmd::Attach { id } => {
                let conn = ctx.connect().await?;
                attach::run(&ctx, &conn, &id).await
            }
            SessionCmd::Send { id, enter, text } => session::send(&ctx, &id, enter, text).await,
            SessionCmd::Watch {
                id,
                from,
                until,
                timeout,
            } => watch::run(&ctx, &id, &from, until, timeout).await,
            SessionCmd::Close { id } => session::close(&ctx, &id).await,
            SessionCmd::PairMobile(args) => pair::pair_mobile(&ctx, args).await,
            SessionCmd::Grants { id } => pair::grants(&ctx, &id).await,
            SessionCmd::Revoke { id, grant_id, all } => {
                pair::revoke(&ctx, &id, grant_id, all).await
            }
            SessionCmd::CancelPairing { id, token_id } => pair::cancel(&ctx, &id, &token_id).await,
        },
    }
}
