//! The `Companion` object: redeem links, keep credentials, call and attach.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dd_client_core::clock::now_secs;
use dd_client_core::sync::lock;
use dd_proto::link::{Link, LinkKind};
use dd_proto::methods::{self, GrantInfo, GrantRevoke, PairRedeem, Resume, SessionInfo};
use dd_proto::noise::StaticKeypair;
use zeroize::Zeroizing;

use crate::attach::{self, AttachHandle, Inner, LastSeen, SessionListener};
use crate::credential::{self, Credential, StoredCredential, CRED_PREFIX};
use crate::error::MobileError;
use crate::lifecycle::Lifecycle;
use crate::net::Dialer;
use crate::store::SecureStore;
use crate::types::{ResumeFrom, SessionMeta};

/// How long `forget` tries to reach the agent before deleting anyway.
const FORGET_TIMEOUT: Duration = Duration::from_secs(5);

/// The phone's side of dd: one per app, over the host's secure store.
#[derive(uniffi::Object)]
pub struct Companion {
    store: Arc<dyn SecureStore>,
    last_seen: LastSeen,
    /// Connection settings every dial uses (TLS trust, keepalive).
    net: Mutex<dd_client_core::ConnectOptions>,
    /// Attached handles, for the app lifecycle calls.
    lifecycle: Lifecycle,
}

impl std::fmt::Debug for Companion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Companion").finish_non_exhaustive()
    }
}

fn op_name(op: methods::Op) -> String {
    serde_json::to_value(op)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn parse_result<T: serde::de::DeserializeOwned>(
    what: &str,
    v: serde_json::Value,
) -> Result<T, MobileError> {
    serde_json::from_value(v).map_err(|e| MobileError::Agent {
        code: "protocol_error".into(),
        message: format!("{what} result: {e}"),
    })
}

impl Companion {
    pub(crate) fn load(&self, session_id: &str) -> Result<StoredCredential, MobileError> {
        credential::load(&self.store, session_id)
    }

    /// The dialer of a stored credential, with this companion's settings.
    pub(crate) fn dialer(&self, stored: &StoredCredential) -> Result<Dialer, MobileError> {
        Dialer::of(stored, self.connect_options())
    }

    /// The connection settings every dial uses.
    pub fn connect_options(&self) -> dd_client_core::ConnectOptions {
        lock(&self.net).clone()
    }

    /// Replaces the connection settings (Rust hosts: `dd-companion`).
    pub fn set_connect_options(&self, opts: dd_client_core::ConnectOptions) {
        *lock(&self.net) = opts;
    }

    /// A connection to the session's agent as its stored credential, for
    /// Rust hosts (`dd-companion`) that drive the protocol directly (e.g.
    /// `Connection::events`). Not exported over the FFI.
    pub async fn connect(
        &self,
        session_id: &str,
    ) -> Result<dd_client_core::Connection, MobileError> {
        let stored = self.load(session_id)?;
        Ok(self.dialer(&stored)?.connect().await?)
    }

    /// Best effort: revokes the grant of `stored` on its agent.
    async fn revoke_own(&self, stored: &StoredCredential) -> Result<(), MobileError> {
        let dialer = self.dialer(stored)?;
        let params = serde_json::to_value(GrantRevoke {
            session: stored.credential.session_id.clone(),
            grant_id: Some(stored.credential.grant_id.clone()),
            all: false,
        })
        .unwrap_or_default();
        match tokio::time::timeout(FORGET_TIMEOUT, dialer.call(methods::GRANT_REVOKE, params)).await
        {
            Ok(r) => r.map(|_| ()).map_err(MobileError::from),
            Err(_) => Err(MobileError::Network {
                message: "timed out".into(),
            }),
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Companion {
    /// A companion over the host's secure store.
    #[uniffi::constructor]
    pub fn new(store: Arc<dyn SecureStore>) -> Arc<Self> {
        Arc::new(Companion {
            store,
            last_seen: Arc::new(Mutex::new(HashMap::new())),
            net: Mutex::new(dd_client_core::ConnectOptions::default()),
            lifecycle: Lifecycle::default(),
        })
    }

    /// The app came to the foreground: every attached handle probes its
    /// connection at once (answer within 2 s, else it resumes on a new
    /// one) and any waiting to reconnect retries now.
    pub fn app_did_become_active(&self) {
        self.lifecycle.check_all("foreground");
    }

    /// The app went to the background. Nothing is torn down (iOS may keep
    /// it running a while, and resuming is cheap); links that die while
    /// it is suspended are found out on `app_did_become_active`.
    pub fn app_did_enter_background(&self) {
        self.lifecycle.entered_background();
    }

    /// The network path changed (Wi-Fi to cellular, a new address, the
    /// network came back): as `app_did_become_active`, so attaches move
    /// to the new path at once instead of waiting out a dead link.
    pub fn network_path_changed(&self) {
        if self.lifecycle.in_background() {
            tracing::debug!("path changed in the background; checking anyway");
        }
        self.lifecycle.check_all("network path changed");
    }

    /// Also trusts the CA certificates in `pem` (PEM `CERTIFICATE` blocks)
    /// for `https://` agents, e.g. a home server's private CA; `None` goes
    /// back to the system trust store alone. The pinned agent key stays
    /// what the phone trusts: TLS only has to get the bytes through.
    pub fn set_trusted_ca(&self, pem: Option<String>) -> Result<(), MobileError> {
        let tls = match pem {
            Some(p) => dd_client_core::TlsOptions::with_ca_pem(p.as_bytes())?,
            None => dd_client_core::TlsOptions::default(),
        };
        lock(&self.net).tls = tls;
        Ok(())
    }

    /// Keepalive of every connection opened from now on: ping after
    /// `interval_ms` of quiet, treat the link as dead after hearing nothing
    /// for `timeout_ms` (defaults 3,000 and 8,000: a dead link is noticed
    /// within 10 s). Fails unless 0 < interval < timeout.
    pub fn set_keepalive(&self, interval_ms: u64, timeout_ms: u64) -> Result<(), MobileError> {
        let keepalive = dd_proto::keepalive::Keepalive {
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_millis(timeout_ms),
        };
        keepalive.validate().map_err(|message| MobileError::Agent {
            code: "bad_request".into(),
            message,
        })?;
        lock(&self.net).keepalive = keepalive;
        Ok(())
    }

    /// Redeems a pairing link: makes a fresh key for this grant, connects
    /// to the agent the link pins, redeems the token with `label`, and
    /// stores the credential (replacing any for the same session).
    pub async fn redeem(&self, link: String, label: String) -> Result<Credential, MobileError> {
        let link = Link::parse_kind(&link, LinkKind::Pair)?;
        link.check_fresh(now_secs())?;
        let key = StaticKeypair::generate();
        let dialer = Dialer {
            agent_url: link.agent_url.clone(),
            agent_key: link.agent_key,
            key,
            opts: self.connect_options(),
        };
        // Patient: the first connection to a LAN agent fails while iOS asks
        // for the Local Network permission. Nothing was sent before it opens,
        // so trying again cannot spend the token.
        let conn = crate::wait::connect_within(&dialer, crate::wait::REDEEM_WAIT).await?;
        // The token travels only inside the Noise channel; the link (and
        // its token) is wiped when `link` drops.
        let params = serde_json::to_value(PairRedeem {
            token: link.token.expose().to_owned(),
            label: label.clone(),
        })
        .unwrap_or_default();
        let redeemed = conn.call(methods::PAIR_REDEEM, params).await;
        let grant: GrantInfo = match redeemed {
            Ok(v) => parse_result("pair.redeem", v)?,
            Err(e) => {
                conn.close().await;
                return Err(e.into());
            }
        };
        let meta = conn.session_meta(&grant.session_id).await;
        conn.close().await;
        let credential = Credential {
            session_id: grant.session_id.clone(),
            grant_id: grant.grant_id.clone(),
            agent_url: link.agent_url.clone(),
            agent_key: dd_proto::keys::encode_key(&link.agent_key),
            read_only: grant.read_only,
            ops: grant.ops.iter().copied().map(op_name).collect(),
            expires_at: grant.expires_at,
            label,
            session_name: meta.map(|m| m.name).unwrap_or_default(),
            created_at: grant.created_at,
        };
        let previous = self.load(&credential.session_id).ok();
        let stored = StoredCredential::new(credential.clone(), &dialer.key);
        credential::save(&self.store, &stored)?;
        if let Some(old) = previous {
            if old.credential.grant_id != credential.grant_id {
                // The replaced grant is of no use to anyone: end it.
                let _ = self.revoke_own(&old).await;
            }
        }
        Ok(credential)
    }

    /// Every stored credential, oldest first. Unreadable entries are skipped.
    pub fn list_credentials(&self) -> Result<Vec<Credential>, MobileError> {
        let mut out = Vec::new();
        for key in self.store.list(CRED_PREFIX.to_owned())? {
            let Some(bytes) = self.store.get(key.clone())? else {
                continue;
            };
            let bytes = Zeroizing::new(bytes);
            match StoredCredential::from_json(&bytes) {
                Ok(c) => out.push(c.credential.clone()),
                Err(e) => tracing::warn!(%key, %e, "skipping unreadable credential"),
            }
        }
        out.sort_by(|a, b| (a.created_at, &a.session_id).cmp(&(b.created_at, &b.session_id)));
        Ok(out)
    }

    /// Revokes this phone's grant for the session (best effort: offline or
    /// already revoked is fine) and deletes the credential.
    pub async fn forget(&self, session_id: String) -> Result<(), MobileError> {
        let stored = self.load(&session_id)?;
        if let Err(e) = self.revoke_own(&stored).await {
            tracing::info!(%session_id, %e, "could not revoke the grant; deleting anyway");
        }
        self.store.delete(credential::store_key(&session_id))?;
        lock(&self.last_seen).remove(&session_id);
        Ok(())
    }

    /// The session's metadata, fetched from the agent.
    pub async fn session_meta(&self, session_id: String) -> Result<SessionMeta, MobileError> {
        let stored = self.load(&session_id)?;
        let v = self
            .dialer(&stored)?
            .call(
                methods::SESSION_META,
                serde_json::json!({ "session": session_id }),
            )
            .await?;
        let info: SessionInfo = parse_result("session.meta", v)?;
        Ok(SessionMeta::from(&info))
    }

    /// Calls any protocol method as this session's credential; returns the
    /// result as JSON. The agent decides what is allowed.
    pub async fn call(
        &self,
        session_id: String,
        method: String,
        params_json: String,
    ) -> Result<String, MobileError> {
        let stored = self.load(&session_id)?;
        let params: serde_json::Value = if params_json.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(&params_json).map_err(|e| MobileError::Agent {
                code: "bad_request".into(),
                message: format!("params are not JSON: {e}"),
            })?
        };
        let v = self.dialer(&stored)?.call(&method, params).await?;
        Ok(v.to_string())
    }

    /// Attaches to the session: connects, starts streaming to `listener`
    /// (first `on_state(Live)` and `on_meta`), and keeps it going across
    /// network drops until a final state. Fails when the first connection
    /// or attach fails.
    pub async fn attach(
        &self,
        session_id: String,
        resume: ResumeFrom,
        listener: Arc<dyn SessionListener>,
    ) -> Result<Arc<AttachHandle>, MobileError> {
        let stored = self.load(&session_id)?;
        let dialer = self.dialer(&stored)?;
        let last = lock(&self.last_seen).get(&session_id).copied();
        let first = match resume {
            // The phone's live view: bounded lag on any link (a fresh
            // screen instead of a backlog it cannot take).
            ResumeFrom::Screen => Resume::Live,
            ResumeFrom::Start => Resume::Offset { offset: 0 },
            ResumeFrom::Offset { offset } => Resume::Offset { offset },
            ResumeFrom::LastSeen => match last {
                Some(offset) => Resume::Offset { offset },
                None => Resume::Screen,
            },
        };
        listener.on_state(crate::types::ConnectionState::Connecting);
        let stream = attach::runner_open(&dialer, &session_id, first).await?;
        let inner = Arc::new(Inner::new(session_id, self.last_seen.clone()));
        self.lifecycle.register(&inner);
        attach::went_live(&inner, listener.as_ref(), &stream);
        let run = attach::Run {
            inner: inner.clone(),
            dialer,
            expires_at: stored.credential.expires_at,
            fallback: first,
            listener,
        };
        let task = tokio::spawn(attach::run(run, stream));
        Ok(Arc::new(AttachHandle::new(inner, task)))
    }
}
