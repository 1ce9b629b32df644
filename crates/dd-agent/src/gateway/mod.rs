//! The network gateway: HTTP endpoints and the Noise WebSocket.
//!
//! `GET /health` answers JSON; `GET /noise/ws` upgrades to a WebSocket that
//! carries one Noise transport message per binary frame ([`conn`]: the
//! handshake and the reader loop; [`writer`]: the sealing writer task;
//! [`peer`]: the connection's shared state). [`dispatch`] types every
//! request, asks [`crate::policy`] through its one gate and hands it to its
//! area's handler ([`handlers`]); attach streams run as tasks of their own
//! ([`stream`]). [`live`] knows every connection and stream, so revocation
//! can cut them at once.

mod accept;
mod alive;
mod bounds;
mod conn;
mod dispatch;
mod handlers;
mod http;
mod limits;
mod live;
mod peer;
mod stream;
mod writer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dd_proto::noise::StaticKeypair;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::mirror::{HostConfig, HostMode, SessionManager};
use crate::state::StateDir;
use crate::store::Store;

pub use alive::{Liveness, DEFAULT_STALE_AFTER};
pub use bounds::{Bounds, DEFAULT_MAX_CONNS, DEFAULT_MAX_CONNS_PER_SOURCE, DEFAULT_SLOW_TIMEOUT};
pub use live::Live;

/// How to run the agent.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The agent URL to put in links (default: derived from the listen address).
    pub public_url: Option<String>,
    /// An https base for universal links (`https://dd.example.com`).
    pub link_base: Option<String>,
    /// The iOS app id (`TEAMID.bundle.id`) served in apple-app-site-association.
    pub apple_app_id: Option<String>,
    /// The input-needed quiet period to store in the agent config (ms; 0
    /// turns the heuristic off); `None` keeps the stored one.
    pub prompt_quiet_ms: Option<u64>,
    /// The executable to start the session host from
    /// (`<exe> session-host`); `None` runs it inside this process, so the
    /// sessions end with it.
    pub host_exe: Option<PathBuf>,
    /// Per-session transcript size cap in bytes (0: none).
    pub transcript_cap: u64,
    /// Connection and slow-client bounds.
    pub bounds: Bounds,
    /// Keepalive pings, the silent-client timeout, stale connections.
    pub liveness: Liveness,
}

/// Errors starting the agent.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The state directory could not be opened.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The database could not be opened.
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// Another `dd-agent serve` runs on this state directory.
    #[error("another dd-agent serve is already running for {0}")]
    AlreadyRunning(PathBuf),
    /// The session host could not start.
    #[error("sessions: {0}")]
    Sessions(#[from] crate::mirror::SessionError),
    /// Binding or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What `serve` announces once it listens (printed as one JSON line and
/// written to `STATE/agent.json`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Announce {
    /// The bound address.
    pub listening: String,
    /// The agent URL used in links.
    pub url: String,
    /// The agent's static public key.
    pub agent_key: String,
    /// The agent's process id.
    pub pid: u32,
    /// The session host's process id (the same as `pid` when the host runs
    /// in-process; absent when no host answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_pid: Option<u32>,
}

/// Everything a connection needs, shared.
pub(crate) struct Agent {
    pub(crate) key: StaticKeypair,
    pub(crate) store: Store,
    pub(crate) sessions: Arc<SessionManager>,
    pub(crate) public_url: String,
    pub(crate) apple_app_id: Option<String>,
    pub(crate) live: Live,
    pub(crate) limits: limits::Limits,
    pub(crate) bounds: Bounds,
    pub(crate) liveness: Liveness,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Picks the URL a phone should use when none was configured: the listen
/// address, or for a wildcard address the first non-loopback IPv4 address of
/// this host (falling back to loopback).
fn derive_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        if_addrs::get_if_addrs()
            .ok()
            .and_then(|ifs| {
                ifs.into_iter()
                    .map(|i| i.ip())
                    .find(|ip| ip.is_ipv4() && !ip.is_loopback())
            })
            .unwrap_or_else(|| std::net::Ipv4Addr::LOCALHOST.into())
    } else {
        addr.ip()
    };
    match ip {
        std::net::IpAddr::V6(v6) => format!("http://[{v6}]:{}", addr.port()),
        std::net::IpAddr::V4(v4) => format!("http://{v4}:{}", addr.port()),
    }
}

/// Takes the state dir's gateway lock and opens the store, applying the
/// configuration given on the command line.
fn open_store(opts: &ServeOptions, state: &StateDir) -> Result<(std::fs::File, Store), ServeError> {
    // One gateway per state dir: two would take the session host from
    // each other.
    let lock_path = state.root().join(crate::layout::GATEWAY_LOCK);
    let gateway_lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)?;
    if rustix::fs::flock(
        &gateway_lock,
        rustix::fs::FlockOperation::NonBlockingLockExclusive,
    )
    .is_err()
    {
        return Err(ServeError::AlreadyRunning(state.root().to_owned()));
    }
    let store = Store::open(&state.db_path())?;
    if let Some(base) = &opts.link_base {
        store.set_public_link_base(Some(base.trim_end_matches('/').to_owned()))?;
    }
    if let Some(ms) = opts.prompt_quiet_ms {
        store.set_config(&dd_proto::methods::AgentConfigPatch {
            prompt_quiet_ms: Some(ms),
            prompt_heuristic: Some(ms > 0),
            ..Default::default()
        })?;
    }
    Ok((gateway_lock, store))
}

/// Runs the agent until SIGINT/SIGTERM (or until `stop` turns true).
pub async fn serve(
    opts: ServeOptions,
    stop: Option<watch::Receiver<bool>>,
) -> Result<(), ServeError> {
    let state = StateDir::open(&opts.state_dir)?;
    // Held until this process exits.
    let (_gateway_lock, store) = open_store(&opts, &state)?;
    let cfg = store.config()?;
    let sessions = SessionManager::open(
        state.root(),
        HostConfig {
            mode: match &opts.host_exe {
                Some(exe) => HostMode::Spawn(exe.clone()),
                None => HostMode::InProcess,
            },
            transcript_cap: opts.transcript_cap,
        },
    )
    .await?;
    sessions
        .prompt_settings()
        .set(cfg.prompt_quiet_ms, cfg.prompt_heuristic);
    let listener = TcpListener::bind(opts.listen).await?;
    let addr = listener.local_addr()?;
    let public_url = opts
        .public_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| derive_url(addr));
    let announce = Announce {
        listening: addr.to_string(),
        url: public_url.clone(),
        agent_key: dd_proto::keys::encode_key(&state.key().public()),
        pid: std::process::id(),
        host_pid: sessions.host_pid().await,
    };
    let line = serde_json::to_string(&announce).expect("announce serializes");
    std::fs::write(
        state.root().join(crate::layout::ANNOUNCE),
        format!("{line}\n"),
    )?;
    println!("{line}");
    tracing::info!(%addr, url = %public_url, "dd-agent listening");

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let agent = Arc::new(Agent {
        key: StaticKeypair::from_private(*state.key().private_bytes()),
        store,
        sessions: sessions.clone(),
        public_url,
        apple_app_id: opts.apple_app_id.clone(),
        live: Live::default(),
        limits: limits::Limits::new(),
        bounds: opts.bounds,
        liveness: opts.liveness,
        shutdown: shutdown_rx,
    });
    let app = http::router(agent.clone());
    let signal = async move {
        wait_for_stop(stop).await;
        tracing::info!("shutting down");
        let _ = shutdown_tx.send(true);
    };
    let slots = bounds::Slots::new(&opts.bounds);
    accept::serve(
        listener,
        app,
        slots,
        signal,
        Duration::from_secs(3),
        opts.liveness.keepalive.timeout,
    )
    .await;
    // The sessions keep running in the session host; the next gateway
    // takes them back.
    drop(sessions);
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_stop(stop: Option<watch::Receiver<bool>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let external = async move {
        match stop {
            Some(mut rx) => {
                let _ = rx.wait_for(|v| *v).await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = external => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_url_uses_the_listen_address() {
        assert_eq!(
            derive_url("127.0.0.1:7777".parse().unwrap()),
            "http://127.0.0.1:7777"
        );
        assert_eq!(derive_url("[::1]:80".parse().unwrap()), "http://[::1]:80");
        assert!(derive_url("0.0.0.0:7777".parse().unwrap()).starts_with("http://"));
    }
}
