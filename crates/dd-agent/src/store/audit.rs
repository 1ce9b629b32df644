//! The audit log: append-only records of who did what, never secrets.

use dd_proto::methods::{AuditQuery, AuditRecord};
use rusqlite::params;

use super::Cached;
use super::{Store, StoreError};

/// Records returned when the query names no limit.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// The most records one query returns.
pub const MAX_AUDIT_LIMIT: u32 = 1000;
/// The longest detail kept, in characters.
const MAX_DETAIL_CHARS: usize = 1000;

/// What an audit record records. The wire names ([`AuditAction::as_str`],
/// the `action` of an [`AuditRecord`]) are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// `enroll_minted`: an enrollment link was made on the agent's host.
    EnrollMinted,
    /// `device_enrolled`: an enrollment token was redeemed.
    DeviceEnrolled,
    /// `device_revoked`: an owner device was revoked.
    DeviceRevoked,
    /// `token_minted`: a pairing token was made.
    TokenMinted,
    /// `token_redeemed`: a pairing token was redeemed (a grant made).
    TokenRedeemed,
    /// `token_cancelled`: a pairing token was cancelled.
    TokenCancelled,
    /// `redeem_failed`: a redemption was refused (bad token, rate limit).
    RedeemFailed,
    /// `grant_attached`: a companion opened a stream.
    GrantAttached,
    /// `grant_detached`: a companion's stream ended.
    GrantDetached,
    /// `grant_expired`: a companion's stream ended as its grant expired.
    GrantExpired,
    /// `grant_revoked`: a grant was revoked.
    GrantRevoked,
    /// `session_created`.
    SessionCreated,
    /// `session_closed`.
    SessionClosed,
    /// `config_changed`: the agent configuration was changed.
    ConfigChanged,
    /// `denied`: the policy refused a connection, request or input.
    Denied,
    /// `too_slow`: a client that stopped reading was dropped.
    TooSlow,
}

impl AuditAction {
    /// Every action.
    pub const ALL: &'static [AuditAction] = &[
        AuditAction::EnrollMinted,
        AuditAction::DeviceEnrolled,
        AuditAction::DeviceRevoked,
        AuditAction::TokenMinted,
        AuditAction::TokenRedeemed,
        AuditAction::TokenCancelled,
        AuditAction::RedeemFailed,
        AuditAction::GrantAttached,
        AuditAction::GrantDetached,
        AuditAction::GrantExpired,
        AuditAction::GrantRevoked,
        AuditAction::SessionCreated,
        AuditAction::SessionClosed,
        AuditAction::ConfigChanged,
        AuditAction::Denied,
        AuditAction::TooSlow,
    ];

    /// The wire name, e.g. `"grant_revoked"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::EnrollMinted => "enroll_minted",
            AuditAction::DeviceEnrolled => "device_enrolled",
            AuditAction::DeviceRevoked => "device_revoked",
            AuditAction::TokenMinted => "token_minted",
            AuditAction::TokenRedeemed => "token_redeemed",
            AuditAction::TokenCancelled => "token_cancelled",
            AuditAction::RedeemFailed => "redeem_failed",
            AuditAction::GrantAttached => "grant_attached",
            AuditAction::GrantDetached => "grant_detached",
            AuditAction::GrantExpired => "grant_expired",
            AuditAction::GrantRevoked => "grant_revoked",
            AuditAction::SessionCreated => "session_created",
            AuditAction::SessionClosed => "session_closed",
            AuditAction::ConfigChanged => "config_changed",
            AuditAction::Denied => "denied",
            AuditAction::TooSlow => "too_slow",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Inserts one audit record (in the caller's transaction).
pub(super) fn insert(
    conn: &rusqlite::Connection,
    action: AuditAction,
    actor: &str,
    session_id: Option<&str>,
    detail: &str,
    now: i64,
) -> rusqlite::Result<usize> {
    conn.exec(
        "INSERT INTO audit (at, action, actor, session_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            now,
            action.as_str(),
            clean(actor, 128),
            session_id.map(|s| clean(s, 64)),
            clean(detail, MAX_DETAIL_CHARS)
        ],
    )
}

/// Strips control characters (audit text ends up in terminals) and bounds
/// the length.
fn clean(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

impl Store {
    /// Appends an audit record. Never fails the caller: a failure to write
    /// is logged as a warning. Never pass secrets.
    pub fn audit(
        &self,
        action: AuditAction,
        actor: &str,
        session_id: Option<&str>,
        detail: &str,
        now: i64,
    ) {
        // Through the group-committing writer: concurrent records (and
        // redemptions) share one fsync.
        let result = self.write_tx(|tx| Ok(insert(tx, action, actor, session_id, detail, now)?));
        if let Err(e) = result {
            tracing::warn!(action = action.as_str(), error = %e, "could not write audit record");
        }
    }

    /// Audit records, newest first, optionally only those about one
    /// session; at most `limit` (default 100, capped at 1000).
    pub fn list_audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let limit = q.limit.unwrap_or(DEFAULT_AUDIT_LIMIT).min(MAX_AUDIT_LIMIT);
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, at, action, actor, session_id, detail FROM audit
             WHERE ?1 IS NULL OR session_id = ?1
             ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![q.session, limit], |r| {
            Ok(AuditRecord {
                id: r.get(0)?,
                at: r.get(1)?,
                action: r.get(2)?,
                actor: r.get(3)?,
                session_id: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
