//! Enrollment and pairing tokens: minting, one-time redemption, cancel,
//! status.
//!
//! A token's secret is returned once, at minting, and stored only as its
//! hash. Redemption is a single `BEGIN IMMEDIATE` transaction that checks
//! the token, consumes it and creates what it grants, so a token can never
//! make two devices or two grants.

use dd_proto::methods::{DeviceInfo, GrantInfo, PairStatus};
use rusqlite::{params, OptionalExtension};
use zeroize::Zeroizing;

use super::Cached;
use super::{
    clean_label, devices, expiry, grants, new_secret, token_hash, Store, StoreError, TokenKind,
    MAX_SECRET_LEN,
};
use crate::util::new_id;

/// A freshly minted token. `secret` is shown to the user once (in a link)
/// and is not kept by the agent.
#[derive(Debug)]
pub struct MintedToken {
    /// The token's id (`t_…`): names it for cancel, status and audit.
    pub id: String,
    /// The secret (22 characters of base64url); zeroized on drop.
    pub secret: Zeroizing<String>,
    /// When it stops being redeemable.
    pub expires_at: i64,
}

/// What a pairing token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPairToken {
    /// The session the grant will be bound to.
    pub session_id: String,
    /// Whether the grant will be read-only.
    pub read_only: bool,
    /// How long the token may be redeemed, seconds.
    pub ttl_secs: u64,
    /// How long the grant will last once redeemed, seconds.
    pub grant_ttl_secs: u64,
    /// A label for the token, shown in audit.
    pub label: Option<String>,
    /// Who made it (`device:d_…`, `local`).
    pub created_by: String,
}

/// A token row as redemption needs it.
struct TokenState {
    id: String,
    expires_at: i64,
    used_at: Option<i64>,
    cancelled_at: Option<i64>,
}

/// The common checks, in the order the errors are reported.
fn check(t: &TokenState, now: i64) -> Result<(), StoreError> {
    if t.cancelled_at.is_some() {
        return Err(StoreError::TokenCancelled);
    }
    if t.used_at.is_some() {
        return Err(StoreError::TokenUsed);
    }
    if now >= t.expires_at {
        return Err(StoreError::TokenExpired);
    }
    Ok(())
}

/// Hashes a peer-supplied secret, rejecting absurd ones without a lookup.
fn lookup_hash(kind: TokenKind, secret: &str) -> Result<[u8; 32], StoreError> {
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        return Err(StoreError::TokenInvalid);
    }
    Ok(token_hash(kind, secret))
}

impl Store {
    /// Mints a one-time enrollment token for a new owner device.
    pub fn mint_enroll_token(
        &self,
        label: &str,
        ttl_secs: u64,
        now: i64,
    ) -> Result<MintedToken, StoreError> {
        let expires_at = expiry(now, ttl_secs, "token lifetime")?;
        let id = new_id("t");
        let secret = new_secret();
        let hash = token_hash(TokenKind::Enroll, &secret);
        self.conn().exec(
            "INSERT INTO enroll_tokens (id, hash, label, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id,
                hash.as_slice(),
                clean_label(label, "device"),
                now,
                expires_at
            ],
        )?;
        Ok(MintedToken {
            id,
            secret,
            expires_at,
        })
    }

    /// Redeems an enrollment token for `device_key`, making it an owner
    /// device. If the key already is an active device, the token is still
    /// consumed and that device returned.
    pub fn redeem_enroll_token(
        &self,
        secret: &str,
        device_key: &[u8; 32],
        label: &str,
        now: i64,
    ) -> Result<DeviceInfo, StoreError> {
        let hash = lookup_hash(TokenKind::Enroll, secret)?;
        self.write_tx(|tx| {
            let token = tx
                .q_row(
                    "SELECT id, expires_at, used_at FROM enroll_tokens WHERE hash = ?1",
                    params![hash.as_slice()],
                    |r| {
                        Ok(TokenState {
                            id: r.get(0)?,
                            expires_at: r.get(1)?,
                            used_at: r.get(2)?,
                            cancelled_at: None,
                        })
                    },
                )
                .optional()?
                .ok_or(StoreError::TokenInvalid)?;
            check(&token, now)?;
            let device_id = match devices::by_key(tx, device_key)? {
                Some(d) if d.revoked_at.is_none() => d.id,
                _ => {
                    let id = new_id("d");
                    tx.exec(
                        "INSERT INTO devices (id, label, key, created_at) VALUES (?1, ?2, ?3, ?4)",
                        params![id, clean_label(label, "device"), device_key.as_slice(), now],
                    )?;
                    id
                }
            };
            tx.exec(
                "UPDATE enroll_tokens SET used_at = ?2, device_id = ?3 WHERE id = ?1",
                params![token.id, now, device_id],
            )?;
            devices::by_id(tx, &device_id)?
                .ok_or_else(|| StoreError::Corrupt("enrolled device vanished".into()))
        })
    }

    /// Mints a one-time pairing token for one session.
    pub fn mint_pair_token(&self, p: &NewPairToken, now: i64) -> Result<MintedToken, StoreError> {
        let expires_at = expiry(now, p.ttl_secs, "token lifetime")?;
        expiry(now, p.grant_ttl_secs, "grant lifetime")?;
        let id = new_id("t");
        let secret = new_secret();
        let hash = token_hash(TokenKind::Pair, &secret);
        let label = p.label.as_deref().map(|l| clean_label(l, "pairing"));
        self.conn().exec(
            "INSERT INTO pair_tokens (id, hash, session_id, read_only, grant_ttl_secs, label,
                                      created_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id,
                hash.as_slice(),
                p.session_id,
                p.read_only,
                p.grant_ttl_secs as i64,
                label,
                p.created_by,
                now,
                expires_at
            ],
        )?;
        Ok(MintedToken {
            id,
            secret,
            expires_at,
        })
    }

    /// Redeems a pairing token: in one transaction, checks it (invalid,
    /// cancelled, used, expired — in that order), consumes it and creates a
    /// grant for its session bound to `peer_key`.
    pub fn redeem_pair_token(
        &self,
        secret: &str,
        peer_key: &[u8; 32],
        label: &str,
        now: i64,
    ) -> Result<GrantInfo, StoreError> {
        self.redeem_pair_token_audited(secret, peer_key, label, now, |_| None)
    }

    /// [`Store::redeem_pair_token`], recording the `token_redeemed` audit
    /// record (detail from `detail`, none if it gives `None`) in the same
    /// transaction: one commit per redemption instead of two.
    pub fn redeem_pair_token_audited(
        &self,
        secret: &str,
        peer_key: &[u8; 32],
        label: &str,
        now: i64,
        detail: impl FnOnce(&GrantInfo) -> Option<String>,
    ) -> Result<GrantInfo, StoreError> {
        let hash = lookup_hash(TokenKind::Pair, secret)?;
        self.write_tx(|tx| {
            let grant = redeem_pair(tx, &hash, peer_key, label, now)?;
            if let Some(d) = detail(&grant) {
                let actor = format!("grant:{}", grant.grant_id);
                super::audit::insert(
                    tx,
                    super::AuditAction::TokenRedeemed,
                    &actor,
                    Some(&grant.session_id),
                    &d,
                    now,
                )?;
            }
            Ok(grant)
        })
    }

    /// Cancels a session's pairing token. Cancelling twice is fine;
    /// `TokenUsed` if it was redeemed; `NotFound` unless the token exists
    /// and belongs to `session_id`.
    pub fn cancel_pair_token(
        &self,
        session_id: &str,
        token_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write_tx(|tx| {
            let (used_at, cancelled_at) = tx
                .q_row(
                    "SELECT used_at, cancelled_at FROM pair_tokens
                     WHERE id = ?1 AND session_id = ?2",
                    params![token_id, session_id],
                    |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
                )
                .optional()?
                .ok_or_else(|| {
                    StoreError::NotFound(format!("token {token_id} of session {session_id}"))
                })?;
            if used_at.is_some() {
                return Err(StoreError::TokenUsed);
            }
            if cancelled_at.is_none() {
                tx.exec(
                    "UPDATE pair_tokens SET cancelled_at = ?2 WHERE id = ?1",
                    params![token_id, now],
                )?;
            }
            Ok(())
        })
    }

    /// A pairing token's state: `redeemed` (with its grant), `cancelled`,
    /// `expired` or `pending`. `NotFound` unless it belongs to `session_id`.
    pub fn pair_token_status(
        &self,
        session_id: &str,
        token_id: &str,
        now: i64,
    ) -> Result<PairStatus, StoreError> {
        let conn = self.conn();
        let (expires_at, used_at, cancelled_at, grant_id) = conn
            .q_row(
                "SELECT expires_at, used_at, cancelled_at, grant_id FROM pair_tokens
                 WHERE id = ?1 AND session_id = ?2",
                params![token_id, session_id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()?
            .ok_or_else(|| {
                StoreError::NotFound(format!("token {token_id} of session {session_id}"))
            })?;
        let (state, grant) = if used_at.is_some() {
            let grant = match grant_id {
                Some(id) => grants::by_id(&conn, &id)?,
                None => None,
            };
            ("redeemed", grant)
        } else if cancelled_at.is_some() {
            ("cancelled", None)
        } else if now >= expires_at {
            ("expired", None)
        } else {
            ("pending", None)
        };
        Ok(PairStatus {
            state: state.to_owned(),
            grant,
        })
    }
}

/// The body of a pairing redemption, in the caller's transaction.
fn redeem_pair(
    tx: &rusqlite::Connection,
    hash: &[u8; 32],
    peer_key: &[u8; 32],
    label: &str,
    now: i64,
) -> Result<GrantInfo, StoreError> {
    let (token, session_id, read_only, grant_ttl) = tx
        .q_row(
            "SELECT id, expires_at, used_at, cancelled_at, session_id, read_only,
                        grant_ttl_secs
                 FROM pair_tokens WHERE hash = ?1",
            params![hash.as_slice()],
            |r| {
                Ok((
                    TokenState {
                        id: r.get(0)?,
                        expires_at: r.get(1)?,
                        used_at: r.get(2)?,
                        cancelled_at: r.get(3)?,
                    },
                    r.get::<_, String>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            },
        )
        .optional()?
        .ok_or(StoreError::TokenInvalid)?;
    check(&token, now)?;
    let grant_id = new_id("g");
    tx.exec(
        "INSERT INTO grants (id, session_id, key, label, read_only, created_at,
                                 expires_at, token_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            grant_id,
            session_id,
            peer_key.as_slice(),
            clean_label(label, "companion"),
            read_only,
            now,
            now.saturating_add(grant_ttl),
            token.id
        ],
    )?;
    tx.exec(
        "UPDATE pair_tokens SET used_at = ?2, grant_id = ?3 WHERE id = ?1",
        params![token.id, now, grant_id],
    )?;
    grants::by_id(tx, &grant_id)?.ok_or_else(|| StoreError::Corrupt("new grant vanished".into()))
}
