//! `dd-agent`: run the agent, or mint an owner enrollment link.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use dd_agent::gateway::{serve, Announce, Bounds, Liveness, ServeOptions};
use dd_agent::state::StateDir;
use dd_agent::store::Store;
use dd_agent::util::now_secs;
use dd_proto::keepalive::Keepalive;
use dd_proto::link::{Link, LinkKind, Token};

/// The dd agent: owns terminal sessions on this machine and serves them,
/// end-to-end encrypted (Noise IK), to enrolled owner devices and to
/// companions paired to one session.
#[derive(Parser)]
#[command(name = "dd-agent", version, about, long_about = None)]
struct Cli {
    /// Log verbosity (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the agent until SIGINT or SIGTERM. Prints one JSON line
    /// (`{"listening","url","agent_key","pid"}`) when ready.
    Serve {
        /// Address to listen on. Use 0.0.0.0:7777 to let a phone on the LAN in;
        /// port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:7777")]
        listen: SocketAddr,
        /// State directory (agent key, database, transcripts). Created 0700.
        #[arg(long, env = "DD_AGENT_STATE_DIR")]
        state_dir: Option<PathBuf>,
        /// The URL phones use to reach this agent, put into pairing links
        /// (default: derived from --listen).
        #[arg(long)]
        public_url: Option<String>,
        /// An https base for universal pairing links (e.g. https://dd.example.com);
        /// that host must serve /.well-known/apple-app-site-association.
        #[arg(long)]
        link_base: Option<String>,
        /// iOS app id (TEAMID.bundle.id) to serve in apple-app-site-association.
        #[arg(long, env = "DD_APPLE_APP_ID")]
        apple_app_id: Option<String>,
        /// How long output must be quiet before the input-needed heuristic
        /// looks for a question or menu on the screen (e.g. 1500ms, 2s);
        /// `0` or `off` turns the heuristic off (BEL and OSC 9/777/99
        /// notifications still count). Saved in the agent config; default:
        /// the saved value, else 1.5s.
        #[arg(long, value_parser = parse_quiet)]
        prompt_quiet: Option<u64>,
        /// Per-session transcript size cap (e.g. 512MiB, 2GiB; 0 = none).
        /// Beyond it the oldest bytes are dropped (clients resuming from
        /// before the first kept byte are told how much was dropped).
        #[arg(long, default_value = "2GiB", value_parser = parse_size)]
        transcript_cap: u64,
        /// Open connections one source address may hold; more are refused
        /// with HTTP 503 right after accept.
        #[arg(long, default_value_t = dd_agent::gateway::DEFAULT_MAX_CONNS_PER_SOURCE)]
        max_conns_per_source: usize,
        /// Open connections in total; more are refused with HTTP 503.
        #[arg(long, default_value_t = dd_agent::gateway::DEFAULT_MAX_CONNS)]
        max_conns: usize,
        /// A client whose socket takes no data for this long (e.g. 60s, 2m)
        /// is dropped with `too_slow`; it resumes from its offset on reconnect.
        #[arg(long, default_value = "60s", value_parser = parse_slow)]
        slow_timeout: std::time::Duration,
        /// Ping a client heard from for this long (e.g. 15s, 500ms); the
        /// pong, like any frame, proves the link still works.
        #[arg(long, default_value = "15s", value_parser = parse_interval)]
        keepalive: std::time::Duration,
        /// Close a connection whose client has been silent this long (no
        /// frame at all, pongs included) and end its streams: a phone that
        /// lost its link without a FIN. Must exceed --keepalive.
        #[arg(long, default_value = "60s", value_parser = parse_interval)]
        idle_timeout: std::time::Duration,
        /// When a key attaches to a session while another of its
        /// connections, silent this long, still streams it, drop that one
        /// at once (the device came back on a new network).
        #[arg(long, default_value = "5s", value_parser = parse_interval)]
        stale_after: std::time::Duration,
    },
    /// Run the session host for a state dir: the process that owns the
    /// sessions' PTYs and transcripts, so they survive gateway restarts.
    /// `serve` starts it when none runs; you do not need to run it
    /// yourself. It listens on STATE/host.sock (0600) and stops when it has
    /// no session and no gateway for 30 s, on SIGTERM (ending every
    /// session), or with `dd-agent stop-sessions`.
    SessionHost {
        /// State directory.
        #[arg(long, env = "DD_AGENT_STATE_DIR")]
        state_dir: Option<PathBuf>,
    },
    /// End every session and stop the session host (the gateway, if
    /// running, keeps serving; its sessions show as closed or exited).
    StopSessions {
        /// State directory.
        #[arg(long, env = "DD_AGENT_STATE_DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Mint a one-time owner enrollment link (works whether or not the agent
    /// runs; only someone who can read the state dir can do it).
    EnrollLink {
        /// State directory.
        #[arg(long, env = "DD_AGENT_STATE_DIR")]
        state_dir: Option<PathBuf>,
        /// How long the link stays valid: 30s, 10m, 2h, 7d.
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        ttl: u64,
        /// A label recorded with the token.
        #[arg(long, default_value = "owner")]
        label: String,
        /// The agent URL to put in the link (default: the URL the agent last
        /// announced, else http://127.0.0.1:7777).
        #[arg(long)]
        agent_url: Option<String>,
        /// Print `{"link": ..., "expires_at": RFC3339}`.
        #[arg(long)]
        json: bool,
    },
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    dd_proto::duration::parse_interval(s).map_err(|e| e.to_string())
}

fn parse_duration(s: &str) -> Result<u64, String> {
    dd_proto::duration::parse_secs(s).map_err(|e| e.to_string())
}

/// `--slow-timeout`: a duration of at least one second.
fn parse_slow(s: &str) -> Result<std::time::Duration, String> {
    let secs = parse_duration(s)?;
    if secs == 0 {
        return Err("the slow-client timeout must be at least 1s".into());
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// `--transcript-cap`: bytes, with an optional KiB/MiB/GiB/TiB unit.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 512MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("{s:?}: unknown unit (use KiB, MiB, GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// `--prompt-quiet`: `off` or `0`, `300ms`, `1.5s`, `1m`, or a bare number
/// of milliseconds → milliseconds.
fn parse_quiet(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let bad = || format!("invalid duration {s:?}: write e.g. 1500ms, 1.5s, 2s or off");
    let ms = if s == "off" {
        0.0
    } else if let Some(n) = s.strip_suffix("ms") {
        n.parse::<f64>().map_err(|_| bad())?
    } else if let Some(n) = s.strip_suffix('s') {
        n.parse::<f64>().map_err(|_| bad())? * 1000.0
    } else if let Some(n) = s.strip_suffix('m') {
        n.parse::<f64>().map_err(|_| bad())? * 60_000.0
    } else {
        s.parse::<f64>().map_err(|_| bad())?
    };
    let max = dd_proto::methods::MAX_PROMPT_QUIET_MS;
    if !ms.is_finite() || !(0.0..=max as f64).contains(&ms) {
        return Err(format!("{}; at most {}s", bad(), max / 1000));
    }
    Ok(ms.round() as u64)
}

fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("dd/agent");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| ".".into());
    home.join(".local/state/dd/agent")
}

use dd_cli::fmt_time as rfc3339;

fn main() {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Serve {
            listen,
            state_dir,
            public_url,
            link_base,
            apple_app_id,
            prompt_quiet,
            transcript_cap,
            max_conns_per_source,
            max_conns,
            slow_timeout,
            keepalive,
            idle_timeout,
            stale_after,
        } => {
            let liveness = Liveness {
                keepalive: Keepalive {
                    interval: keepalive,
                    timeout: idle_timeout,
                },
                stale_after,
            };
            liveness
                .keepalive
                .validate()
                .map_err(|e| anyhow::anyhow!("--keepalive/--idle-timeout: {e}"))?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(serve(
                ServeOptions {
                    listen,
                    state_dir: state_dir.unwrap_or_else(default_state_dir),
                    public_url,
                    link_base,
                    apple_app_id,
                    prompt_quiet_ms: prompt_quiet,
                    host_exe: Some(std::env::current_exe().context("cannot find this executable")?),
                    transcript_cap,
                    bounds: Bounds {
                        max_conns_per_source,
                        max_conns,
                        slow_timeout,
                    },
                    liveness,
                },
                None,
            ))?;
            Ok(())
        }
        Cmd::SessionHost { state_dir } => {
            let dir = state_dir.unwrap_or_else(default_state_dir);
            StateDir::open(&dir)?;
            // One thread: the host only moves bytes between PTYs, files and
            // one socket, and a single-threaded runtime hands them on
            // without cross-thread wake-ups (lower echo latency).
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            match rt.block_on(dd_agent::host::run(&dir, true)) {
                Err(dd_agent::host::HostError::AlreadyRunning) => {
                    eprintln!("a session host already runs for {}", dir.display());
                    Ok(())
                }
                r => Ok(r?),
            }
        }
        Cmd::StopSessions { state_dir } => {
            let dir = state_dir.unwrap_or_else(default_state_dir);
            let rt = tokio::runtime::Runtime::new()?;
            let stopped = rt.block_on(dd_agent::host::stop(&dir))?;
            if stopped {
                eprintln!("session host stopped; every session ended");
            } else {
                eprintln!("no session host runs for {}", dir.display());
            }
            Ok(())
        }
        Cmd::EnrollLink {
            state_dir,
            ttl,
            label,
            agent_url,
            json,
        } => {
            let dir = state_dir.unwrap_or_else(default_state_dir);
            let state = StateDir::open(&dir)?;
            let store = Store::open(&state.db_path())?;
            let url = match agent_url {
                Some(u) => u,
                None => std::fs::read_to_string(dir.join(dd_agent::layout::ANNOUNCE))
                    .ok()
                    .and_then(|s| serde_json::from_str::<Announce>(&s).ok())
                    .map(|a| a.url)
                    .unwrap_or_else(|| "http://127.0.0.1:7777".into()),
            };
            let now = now_secs();
            let minted = store.mint_enroll_token(&label, ttl, now)?;
            store.audit(
                dd_agent::store::AuditAction::EnrollMinted,
                "local",
                None,
                &format!("{} ttl {ttl}s", minted.id),
                now,
            );
            let link = Link {
                kind: LinkKind::Enroll,
                version: dd_proto::PROTOCOL_VERSION,
                agent_url: url,
                agent_key: state.key().public(),
                expires_at: minted.expires_at,
                session_id: None,
                read_only: false,
                token: Token::new(&minted.secret).context("minted token has an unexpected form")?,
            }
            .render(None);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"link": link, "expires_at": rfc3339(minted.expires_at)})
                );
            } else {
                println!("{link}");
                eprintln!(
                    "One-time owner enrollment link, valid until {}. On the desktop: dd-client enroll '<link>'",
                    rfc3339(minted.expires_at)
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_quiet, parse_size};

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        for s in ["", "big", "1.5GiB", "-1", "3 parsecs", "99999999999T"] {
            assert!(parse_size(s).is_err(), "{s}");
        }
    }

    #[test]
    fn quiet_periods() {
        for (s, ms) in [
            ("off", 0),
            ("0", 0),
            ("300ms", 300),
            ("1.5s", 1500),
            ("2s", 2000),
            ("1m", 60_000),
            ("750", 750),
        ] {
            assert_eq!(parse_quiet(s), Ok(ms), "{s}");
        }
        for s in ["", "fast", "-1s", "11m", "NaNs", "infms", "1h"] {
            assert!(parse_quiet(s).is_err(), "{s}");
        }
    }
}
