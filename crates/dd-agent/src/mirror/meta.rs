//! `meta.json`: a session's metadata on disk, replaced atomically.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use dd_proto::methods::SessionInfo;

use crate::layout::{tmp_of, META_FILE};

/// Writes `info` to `<dir>/meta.json` via a temporary file and a rename, so a
/// reader (or a crash) never sees a half-written file.
pub(crate) fn write(dir: &Path, info: &SessionInfo) -> std::io::Result<()> {
    let mut info = info.clone();
    info.clients = 0;
    // A prompt never outlives the agent: a reloaded session is not running.
    info.waiting = None;
    let json = serde_json::to_vec_pretty(&info).map_err(std::io::Error::other)?;
    let tmp = tmp_of(dir, META_FILE);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&json)?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join(META_FILE))
}

/// Reads `<dir>/meta.json`.
pub(crate) fn read(dir: &Path) -> std::io::Result<SessionInfo> {
    let bytes = fs::read(dir.join(META_FILE))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::methods::SessionStatus;

    fn info() -> SessionInfo {
        SessionInfo {
            id: "s_0011".into(),
            name: "sh".into(),
            command: vec!["/bin/sh".into()],
            cwd: "/".into(),
            status: SessionStatus::Running,
            exit_code: None,
            created_at: 1,
            rows: 24,
            cols: 80,
            title: String::new(),
            end_offset: 5,
            clients: 3,
            waiting: None,
        }
    }

    #[test]
    fn round_trips_without_clients() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), &info()).unwrap();
        let back = read(tmp.path()).unwrap();
        assert_eq!(back.clients, 0);
        assert_eq!(back.id, "s_0011");
        assert!(!tmp.path().join("meta.json.tmp").exists());
    }

    #[test]
    fn corrupt_meta_is_invalid_data() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(META_FILE), b"{not json").unwrap();
        let err = read(tmp.path()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(read(&tmp.path().join("missing")).is_err());
    }
}
