//! Store tests, against real SQLite files in temporary directories.

mod audit;
mod grants;
mod misc;
mod race;
mod tokens;

use super::*;
use tempfile::TempDir;

pub(super) const NOW: i64 = 1_700_000_000;
pub(super) const PHONE: [u8; 32] = [7; 32];
pub(super) const LAPTOP: [u8; 32] = [9; 32];

/// A fresh store in a temporary directory (kept alive by the `TempDir`).
pub(super) fn store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dd.db")).unwrap();
    (dir, store)
}

/// A pairing request for session `s_1` with a 300 s token and 1 h grant.
pub(super) fn pair(read_only: bool) -> NewPairToken {
    NewPairToken {
        session_id: "s_1".into(),
        read_only,
        ttl_secs: 300,
        grant_ttl_secs: 3600,
        label: Some("for Ana".into()),
        created_by: "device:d_1".into(),
    }
}

/// Every byte of the database and its WAL, to look for leaked secrets.
pub(super) fn db_bytes(dir: &TempDir) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["dd.db", "dd.db-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(name)) {
            all.extend(b);
        }
    }
    all
}

pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
