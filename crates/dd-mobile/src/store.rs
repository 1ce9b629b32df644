//! Secure storage: the trait the host implements (Keychain on iOS, a dict
//! in the Python tests) and [`FileStore`], the 0600-file implementation
//! `dd-companion` uses.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroize;

use crate::error::StoreError;

/// A small key-value store for secrets, implemented by the host. The core
/// uses the keys `cred/<session_id>`, each holding one credential (with its
/// own private key) as JSON; nothing else.
#[uniffi::export(with_foreign)]
pub trait SecureStore: Send + Sync {
    /// The value under `key`, if any.
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` under `key`, replacing any previous value.
    fn set(&self, key: String, value: Vec<u8>) -> Result<(), StoreError>;
    /// Removes `key` (no error when absent).
    fn delete(&self, key: String) -> Result<(), StoreError>;
    /// Every key that starts with `prefix`.
    fn list(&self, prefix: String) -> Result<Vec<String>, StoreError>;
}

/// A [`SecureStore`] in a directory: mode 0700, one 0600 file per key,
/// written atomically (temporary file, then rename). Key names are
/// percent-encoded into file names, so no key can name a path outside the
/// directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

fn failed(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Failed {
        message: format!("{what}: {e}"),
    }
}

/// The longest key accepted (before encoding).
const MAX_KEY: usize = 200;

/// Encodes a key as a file name: `[A-Za-z0-9_-]` stay, every other byte is
/// `%XX`. A file name therefore never starts with `.` nor contains `/`.
pub(crate) fn encode_key_name(key: &str) -> Result<String, StoreError> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(StoreError::Failed {
            message: "store keys must be 1 to 200 bytes".into(),
        });
    }
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// The inverse of [`encode_key_name`]; `None` for names it cannot produce.
pub(crate) fn decode_key_name(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = name.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

impl FileStore {
    /// Opens (creating if needed) the store in `dir`, and makes the
    /// directory 0700.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| failed(&format!("creating {}", dir.display()), e))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| failed(&format!("chmod {}", dir.display()), e))?;
        Ok(FileStore { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        Ok(self.dir.join(encode_key_name(key)?))
    }
}

impl SecureStore for FileStore {
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, StoreError> {
        match fs::read(self.path(&key)?) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed("reading", e)),
        }
    }

    fn set(&self, key: String, mut value: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path(&key)?;
        let tmp = self.dir.join(format!(
            ".tmp-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&value)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        value.zeroize();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(|e| failed("writing", e))
    }

    fn delete(&self, key: String) -> Result<(), StoreError> {
        match fs::remove_file(self.path(&key)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed("deleting", e)),
        }
    }

    fn list(&self, prefix: String) -> Result<Vec<String>, StoreError> {
        let entries = fs::read_dir(&self.dir).map_err(|e| failed("listing", e))?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| failed("listing", e))?;
            let Some(key) = entry.file_name().to_str().and_then(decode_key_name) else {
                continue; // temporary files and strangers
            };
            if key.starts_with(&prefix) {
                keys.push(key);
            }
        }
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn modes_and_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let s = FileStore::open(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        s.set("cred/s_1".into(), b"one".to_vec()).unwrap();
        s.set("cred/s_2".into(), b"two".to_vec()).unwrap();
        s.set("other".into(), b"x".to_vec()).unwrap();
        for entry in fs::read_dir(&dir).unwrap() {
            assert_eq!(mode(&entry.unwrap().path()), 0o600);
        }
        assert_eq!(s.get("cred/s_1".into()).unwrap(), Some(b"one".to_vec()));
        assert_eq!(s.get("cred/none".into()).unwrap(), None);
        assert_eq!(
            s.list("cred/".into()).unwrap(),
            vec!["cred/s_1", "cred/s_2"]
        );
        s.set("cred/s_1".into(), b"uno".to_vec()).unwrap();
        assert_eq!(s.get("cred/s_1".into()).unwrap(), Some(b"uno".to_vec()));
        s.delete("cred/s_1".into()).unwrap();
        s.delete("cred/s_1".into()).unwrap();
        assert_eq!(s.list("cred/".into()).unwrap(), vec!["cred/s_2"]);
        // A loose directory is tightened on open.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        FileStore::open(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn hostile_keys_stay_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let s = FileStore::open(tmp.path().join("s")).unwrap();
        for key in ["../escape", "/etc/passwd", ".", "..", "a/../../b", "ключ"] {
            s.set(key.into(), b"v".to_vec()).unwrap();
            assert_eq!(s.get(key.into()).unwrap(), Some(b"v".to_vec()), "{key}");
        }
        assert!(!tmp.path().join("escape").exists());
        for entry in fs::read_dir(tmp.path().join("s")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(!name.starts_with('.') && !name.contains('/'), "{name}");
        }
        assert_eq!(s.list("..".into()).unwrap(), vec!["..", "../escape"]);
        assert!(s.set(String::new(), vec![]).is_err());
        assert!(s.get("x".repeat(201)).is_err());
        // Stray files are ignored by list.
        fs::write(tmp.path().join("s").join(".tmp-1"), b"x").unwrap();
        fs::write(tmp.path().join("s").join("bad%zz"), b"x").unwrap();
        assert_eq!(s.list("bad".into()).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn key_names_round_trip() {
        for key in ["cred/s_0123", "a b", "%41", "-_", "é"] {
            let enc = encode_key_name(key).unwrap();
            assert_eq!(decode_key_name(&enc).as_deref(), Some(key));
        }
        assert_eq!(decode_key_name("%4"), None);
        assert_eq!(decode_key_name("a.b"), None);
    }
}
