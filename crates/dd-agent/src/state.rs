//! The agent's state directory: creation with safe permissions, and the
//! agent's long-lived static key. Its file names are in [`crate::layout`].

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use dd_proto::noise::StaticKeypair;
use zeroize::Zeroizing;

use crate::layout;

/// Errors opening the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// An I/O failure on the named path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The key file is not 32 bytes.
    #[error("{0}: agent key file is corrupt (expected 32 bytes)")]
    CorruptKey(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The opened state directory.
pub struct StateDir {
    root: PathBuf,
    key: StaticKeypair,
}

impl StateDir {
    /// Opens (creating on first use, mode 0700) the state directory and its
    /// agent key (`agent.key`, 0600).
    pub fn open(root: &Path) -> Result<StateDir, StateError> {
        if !root.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(io(root))?;
        }
        fs::set_permissions(root, fs::Permissions::from_mode(0o700)).map_err(io(root))?;
        let key_path = root.join(layout::AGENT_KEY);
        let key = if key_path.exists() {
            let bytes = Zeroizing::new(fs::read(&key_path).map_err(io(&key_path))?);
            let arr: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| StateError::CorruptKey(key_path.clone()))?;
            StaticKeypair::from_private(arr)
        } else {
            let kp = StaticKeypair::generate();
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_path)
                .map_err(io(&key_path))?;
            f.write_all(kp.private_bytes()).map_err(io(&key_path))?;
            f.sync_all().map_err(io(&key_path))?;
            kp
        };
        Ok(StateDir {
            root: root.to_owned(),
            key,
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite database path.
    pub fn db_path(&self) -> PathBuf {
        self.root.join(layout::DATABASE)
    }

    /// The agent's static key pair.
    pub fn key(&self) -> &StaticKeypair {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_then_reuses_key_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("state");
        let a = StateDir::open(&root).unwrap();
        let mode = fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let kmode = fs::metadata(root.join("agent.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(kmode, 0o600);
        let b = StateDir::open(&root).unwrap();
        assert_eq!(a.key().public(), b.key().public());
    }

    #[test]
    fn corrupt_key_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("agent.key"), b"short").unwrap();
        assert!(matches!(
            StateDir::open(tmp.path()),
            Err(StateError::CorruptKey(_))
        ));
    }
}
