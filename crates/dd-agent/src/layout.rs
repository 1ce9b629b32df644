//! The state directory's layout: every file the agent keeps, named once.
//!
//! ```text
//! STATE/                      0700
//!   agent.key                 the agent's static private key (0600)
//!   dd.db, dd.db-wal, ...     SQLite: devices, tokens, grants, audit, config
//!   gateway.lock              flock: one `dd-agent serve` per state dir
//!   agent.json                what the running gateway announced
//!   host.sock                 the session host's socket (0600)
//!   host.lock                 flock: one session host per state dir
//!   host.log                  the spawned session host's stderr
//!   sessions/<id>/            one directory per session (0700)
//!     meta.json               its metadata, replaced atomically
//!     transcript              every byte it printed, append-only
//!     transcript.start        first kept offset, once the size cap dropped bytes
//! ```
//!
//! Both processes use it (the gateway and the session host), so it depends
//! on neither.

use std::path::{Path, PathBuf};

/// The agent's static private key.
pub const AGENT_KEY: &str = "agent.key";
/// The SQLite database.
pub const DATABASE: &str = "dd.db";
/// The gateway's lock file.
pub const GATEWAY_LOCK: &str = "gateway.lock";
/// What the running gateway announced (one JSON line).
pub const ANNOUNCE: &str = "agent.json";
/// The session host's socket.
pub const HOST_SOCKET: &str = "host.sock";
/// The session host's lock file.
pub const HOST_LOCK: &str = "host.lock";
/// The spawned session host's log (its stderr).
pub const HOST_LOG: &str = "host.log";
/// The directory of session directories.
pub const SESSIONS_DIR: &str = "sessions";
/// A session's metadata, inside its directory.
pub const META_FILE: &str = "meta.json";
/// A session's transcript, inside its directory.
pub const TRANSCRIPT_FILE: &str = "transcript";
/// A transcript's first kept offset, inside the session's directory.
pub const START_FILE: &str = "transcript.start";

/// `STATE/sessions`.
pub fn sessions_dir(root: &Path) -> PathBuf {
    root.join(SESSIONS_DIR)
}

/// `STATE/sessions/<id>` (`id` must be a valid session id).
pub fn session_dir(root: &Path, id: &str) -> PathBuf {
    sessions_dir(root).join(id)
}

/// `STATE/host.sock`.
pub fn host_socket(root: &Path) -> PathBuf {
    root.join(HOST_SOCKET)
}

/// `<file>.tmp`, the temporary a file is written to before the rename that
/// replaces it atomically.
pub fn tmp_of(dir: &Path, file: &str) -> PathBuf {
    dir.join(format!("{file}.tmp"))
}

/// Reads a session's recorded first stored transcript offset (0 if none).
pub fn read_start(session_dir: &Path) -> u64 {
    std::fs::read_to_string(session_dir.join(START_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}
