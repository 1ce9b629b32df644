//! Credentials: what the phone keeps per session, and how it is stored.
//!
//! A credential is stored under `cred/<session_id>` as JSON: the public
//! [`Credential`] fields plus `private_key`, the base64url X25519 private key
//! made for this one grant. The key never leaves the store except to make a
//! Noise handshake; the in-memory copies are wiped on drop.

use std::sync::Arc;

use dd_proto::keys::{decode_bytes, encode_bytes};
use dd_proto::noise::StaticKeypair;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::MobileError;
use crate::store::SecureStore;

/// The store key prefix of credentials.
pub const CRED_PREFIX: &str = "cred/";

/// A redeemed pairing: the phone's grant on one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, uniffi::Record)]
pub struct Credential {
    /// The one session it is for.
    pub session_id: String,
    /// The grant id on the agent.
    pub grant_id: String,
    /// The agent's base URL.
    pub agent_url: String,
    /// The agent's pinned static key (base64url).
    pub agent_key: String,
    /// True when the grant cannot send input.
    pub read_only: bool,
    /// The operations it allows (wire names).
    pub ops: Vec<String>,
    /// Grant expiry (Unix seconds).
    pub expires_at: i64,
    /// The label this phone gave itself.
    pub label: String,
    /// The session's name when paired.
    pub session_name: String,
    /// When it was redeemed (Unix seconds).
    pub created_at: i64,
}

/// The stored form: the credential and its private key.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredCredential {
    #[serde(flatten)]
    pub(crate) credential: Credential,
    private_key: String,
}

impl Drop for StoredCredential {
    fn drop(&mut self) {
        self.private_key.zeroize();
    }
}

impl std::fmt::Debug for StoredCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredential")
            .field("credential", &self.credential)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl StoredCredential {
    /// Pairs a credential with its key.
    pub(crate) fn new(credential: Credential, key: &StaticKeypair) -> Self {
        StoredCredential {
            credential,
            private_key: encode_bytes(key.private_bytes()),
        }
    }

    /// The credential's key pair.
    pub(crate) fn keypair(&self) -> Result<StaticKeypair, MobileError> {
        let bytes = Zeroizing::new(decode_bytes(&self.private_key).unwrap_or_default());
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| MobileError::Storage {
                message: "stored credential has a malformed private key".into(),
            })?;
        let pair = StaticKeypair::from_private(arr);
        let mut arr = arr;
        arr.zeroize();
        Ok(pair)
    }

    /// The agent key as raw bytes.
    pub(crate) fn agent_key(&self) -> Result<[u8; 32], MobileError> {
        dd_proto::keys::decode_key(&self.credential.agent_key).ok_or(MobileError::Storage {
            message: "stored credential has a malformed agent key".into(),
        })
    }

    /// Serializes (the caller zeroizes the bytes after use).
    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a credential always serializes")
    }

    /// Parses a stored credential, checking its keys are well-formed.
    pub(crate) fn from_json(bytes: &[u8]) -> Result<StoredCredential, MobileError> {
        let c: StoredCredential =
            serde_json::from_slice(bytes).map_err(|e| MobileError::Storage {
                message: format!("stored credential is unreadable: {e}"),
            })?;
        c.keypair()?;
        c.agent_key()?;
        Ok(c)
    }
}

/// The store key of a session's credential.
pub(crate) fn store_key(session_id: &str) -> String {
    format!("{CRED_PREFIX}{session_id}")
}

/// Loads the credential for `session_id`.
pub(crate) fn load(
    store: &Arc<dyn SecureStore>,
    session_id: &str,
) -> Result<StoredCredential, MobileError> {
    let bytes = store
        .get(store_key(session_id))?
        .ok_or_else(|| MobileError::NotFound {
            session_id: session_id.to_owned(),
        })?;
    let bytes = Zeroizing::new(bytes);
    StoredCredential::from_json(&bytes)
}

/// Saves a credential under its session id.
pub(crate) fn save(store: &Arc<dyn SecureStore>, c: &StoredCredential) -> Result<(), MobileError> {
    // The store takes the bytes by value; a Rust store wipes them, a
    // foreign one gets a copy we cannot reach.
    store.set(store_key(&c.credential.session_id), c.to_json())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Credential {
        Credential {
            session_id: "s_0123456789ab".into(),
            grant_id: "g_0123456789ab".into(),
            agent_url: "http://127.0.0.1:7777".into(),
            agent_key: encode_bytes(&[7u8; 32]),
            read_only: true,
            ops: vec!["meta".into(), "attach".into()],
            expires_at: 1_900_000_000,
            label: "phone".into(),
            session_name: "sh".into(),
            created_at: 1_800_000_000,
        }
    }

    #[test]
    fn json_round_trip_keeps_the_key() {
        let key = StaticKeypair::generate();
        let stored = StoredCredential::new(sample(), &key);
        let json = stored.to_json();
        let text = String::from_utf8(json.clone()).unwrap();
        assert!(text.contains("\"private_key\""));
        assert!(text.contains("\"session_id\":\"s_0123456789ab\""));
        let back = StoredCredential::from_json(&json).unwrap();
        assert_eq!(back.credential, sample());
        assert_eq!(back.keypair().unwrap().public(), key.public());
        assert_eq!(back.agent_key().unwrap(), [7u8; 32]);
        assert!(!format!("{back:?}").contains(&encode_bytes(key.private_bytes())));
    }

    #[test]
    fn malformed_stored_credentials_are_refused() {
        let key = StaticKeypair::generate();
        let good = String::from_utf8(StoredCredential::new(sample(), &key).to_json()).unwrap();
        let bad_key = good.replace(&encode_bytes(key.private_bytes()), "AAAA");
        assert!(matches!(
            StoredCredential::from_json(bad_key.as_bytes()),
            Err(MobileError::Storage { .. })
        ));
        let bad_agent = good.replace(&encode_bytes(&[7u8; 32]), "nope");
        assert!(StoredCredential::from_json(bad_agent.as_bytes()).is_err());
        assert!(StoredCredential::from_json(b"{}").is_err());
        assert!(StoredCredential::from_json(b"\xff").is_err());
    }
}
