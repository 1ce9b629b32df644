//! The config dir: this device's key and its profile (which agent, which
//! pinned key, which device id).
//!
//! Location: `DD_CLIENT_HOME`, else `$XDG_CONFIG_HOME/dd-client`, else
//! `~/.config/dd-client`. The dir is 0700, `device.key` (32 raw private
//! bytes) and `profile.json` are 0600. A key file that others can read is
//! refused, as ssh does.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use dd_proto::keys::{decode_key, encode_key};
use dd_proto::noise::StaticKeypair;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::errors::CliError;

/// The saved profile: the agent this device is enrolled with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The agent's base URL.
    pub agent_url: String,
    /// The agent's pinned static key (base64url).
    pub agent_key: String,
    /// This device's id at the agent.
    pub device_id: String,
    /// This device's label.
    pub label: String,
}

impl Profile {
    /// The pinned key as bytes.
    pub fn agent_key_bytes(&self) -> Result<[u8; 32], CliError> {
        decode_key(&self.agent_key)
            .ok_or_else(|| CliError::new("bad_profile", "profile.json has an invalid agent_key"))
    }
}

/// The config dir.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    root: PathBuf,
}

fn io_err(path: &Path, e: std::io::Error) -> CliError {
    CliError::new("config", format!("{}: {e}", path.display()))
}

impl ConfigDir {
    /// The dir named by the environment (not created yet).
    pub fn from_env() -> Result<ConfigDir, CliError> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let root = if let Some(h) = var("DD_CLIENT_HOME") {
            PathBuf::from(h)
        } else if let Some(x) = var("XDG_CONFIG_HOME") {
            PathBuf::from(x).join("dd-client")
        } else if let Some(home) = var("HOME") {
            PathBuf::from(home).join(".config").join("dd-client")
        } else {
            return Err(CliError::new(
                "config",
                "cannot find a config dir: set DD_CLIENT_HOME or HOME",
            ));
        };
        Ok(ConfigDir { root })
    }

    /// A config dir at `root`.
    #[cfg(test)]
    pub fn at(root: impl Into<PathBuf>) -> ConfigDir {
        ConfigDir { root: root.into() }
    }

    /// The dir's path.
    #[cfg(test)]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn ensure(&self) -> Result<(), CliError> {
        if !self.root.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.root)
                .map_err(|e| io_err(&self.root, e))?;
        }
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err(&self.root, e))
    }

    /// This device's key, generated and saved on first use.
    pub fn device_key(&self) -> Result<StaticKeypair, CliError> {
        self.ensure()?;
        let path = self.root.join("device.key");
        match fs::metadata(&path) {
            Ok(meta) => {
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(CliError::new(
                        "config",
                        format!(
                            "{} is accessible by other users; run chmod 600 on it",
                            path.display()
                        ),
                    ));
                }
                let bytes = Zeroizing::new(fs::read(&path).map_err(|e| io_err(&path, e))?);
                let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    CliError::new(
                        "config",
                        format!("{} is corrupt (expected 32 bytes)", path.display()),
                    )
                })?;
                Ok(StaticKeypair::from_private(arr))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let kp = StaticKeypair::generate();
                write_private(&path, kp.private_bytes(), true)?;
                Ok(kp)
            }
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// The saved profile, if any.
    pub fn profile(&self) -> Result<Option<Profile>, CliError> {
        let path = self.root.join("profile.json");
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| CliError::new("bad_profile", format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// The saved profile, or a clear error telling how to make one.
    pub fn require_profile(&self) -> Result<Profile, CliError> {
        self.profile()?.ok_or_else(|| {
            CliError::new(
                "not_enrolled",
                format!(
                    "no profile in {}; run `dd-client enroll LINK` or `dd-client up`",
                    self.root.display()
                ),
            )
        })
    }

    /// Saves the profile (0600, replaced atomically).
    pub fn save_profile(&self, p: &Profile) -> Result<(), CliError> {
        self.ensure()?;
        let path = self.root.join("profile.json");
        let tmp = self.root.join("profile.json.tmp");
        let _ = fs::remove_file(&tmp);
        let body = serde_json::to_vec_pretty(p).expect("profile serializes");
        write_private(&tmp, &body, true)?;
        fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))
    }
}

impl ConfigDir {
    /// Reads the private file `name` (None when absent); refuses one that
    /// others can read, as for `device.key`. The bytes are zeroized on drop.
    pub fn read_secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CliError> {
        let path = self.root.join(name);
        match fs::metadata(&path) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => Err(CliError::new(
                "config",
                format!(
                    "{} is accessible by other users; run chmod 600 on it",
                    path.display()
                ),
            )),
            Ok(_) => Ok(Some(Zeroizing::new(
                fs::read(&path).map_err(|e| io_err(&path, e))?,
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// Writes the private file `name` (0600, replaced atomically).
    pub fn write_secret(&self, name: &str, bytes: &[u8]) -> Result<(), CliError> {
        self.ensure()?;
        let path = self.root.join(name);
        let tmp = self.root.join(format!("{name}.tmp"));
        let _ = fs::remove_file(&tmp);
        write_private(&tmp, bytes, true)?;
        fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))
    }

    /// Removes `name` if it exists.
    pub fn remove(&self, name: &str) -> Result<(), CliError> {
        let path = self.root.join(name);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&path, e)),
            _ => Ok(()),
        }
    }
}

fn write_private(path: &Path, bytes: &[u8], create_new: bool) -> Result<(), CliError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(create_new)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    f.write_all(bytes).map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
}

/// Encodes a key for the profile.
pub fn key_string(key: &[u8; 32]) -> String {
    encode_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn key_and_profile_are_private_and_stable() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = ConfigDir::at(tmp.path().join("a/b"));
        let k1 = cfg.device_key().unwrap();
        assert_eq!(mode(cfg.root()), 0o700);
        assert_eq!(mode(&cfg.root().join("device.key")), 0o600);
        assert_eq!(fs::read(cfg.root().join("device.key")).unwrap().len(), 32);
        let k2 = cfg.device_key().unwrap();
        assert_eq!(k1.public(), k2.public());

        assert_eq!(cfg.profile().unwrap(), None);
        assert_eq!(cfg.require_profile().unwrap_err().code, "not_enrolled");
        let p = Profile {
            agent_url: "http://127.0.0.1:1".into(),
            agent_key: key_string(&[7; 32]),
            device_id: "d_1".into(),
            label: "laptop".into(),
        };
        cfg.save_profile(&p).unwrap();
        cfg.save_profile(&p).unwrap();
        assert_eq!(mode(&cfg.root().join("profile.json")), 0o600);
        assert_eq!(cfg.profile().unwrap(), Some(p.clone()));
        assert_eq!(p.agent_key_bytes().unwrap(), [7; 32]);
    }

    #[test]
    fn loose_dir_is_tightened_and_loose_key_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("c");
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let cfg = ConfigDir::at(&root);
        cfg.device_key().unwrap();
        assert_eq!(mode(&root), 0o700);
        let key = root.join("device.key");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(cfg.device_key().unwrap_err().code, "config");
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&key, b"short").unwrap();
        assert!(cfg.device_key().unwrap_err().message.contains("corrupt"));
    }

    #[test]
    fn bad_profile_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = ConfigDir::at(tmp.path());
        fs::write(tmp.path().join("profile.json"), b"{not json").unwrap();
        assert_eq!(cfg.profile().unwrap_err().code, "bad_profile");
        let p = Profile {
            agent_url: "x".into(),
            agent_key: "short".into(),
            device_id: String::new(),
            label: String::new(),
        };
        assert_eq!(p.agent_key_bytes().unwrap_err().code, "bad_profile");
    }
}
