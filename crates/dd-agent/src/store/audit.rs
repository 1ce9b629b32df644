//! The audit log: records of who did what, never secrets.
//!
//! Two classes of record share the table:
//!
//! * **security events** — enrollments, mints, redemptions, cancels,
//!   revocations, session and config changes: one row each, written in (or
//!   right after) the transaction that made the change;
//! * **noise** — denials, failed or rate-limited redemptions, attaches and
//!   slow-client drops ([`NOISE_ACTIONS`]). A peer can make as many of these
//!   as it likes, so repeated ones are *aggregated*
//!   ([`Store::audit_repeated`]): one row per source and reason per
//!   [`AGGREGATE_SECS`] interval, carrying a `count` and the time of the
//!   last one.
//!
//! Retention ([`Retention`]) bounds the table: the oldest noise goes first
//! (past [`Retention::noise_rows`] rows, or older than
//! [`Retention::noise_secs`]); security events are removed only when the
//! whole table is over [`Retention::total_rows`] and no noise is left to
//! remove. Every record stays reachable by paging (`before`) and filters
//! (`action`, `session`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use dd_proto::methods::{AuditList, AuditQuery, AuditRecord};
use rusqlite::params;

use super::Cached;
use super::{Store, StoreError};

/// Records returned when the query names no limit.
pub const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// The most records one query returns.
pub const MAX_AUDIT_LIMIT: u32 = 1000;
/// The longest detail kept, in characters.
const MAX_DETAIL_CHARS: usize = 1000;
/// Repeated noise from one source for one reason shares a row this long.
pub const AGGREGATE_SECS: i64 = 60;
/// An aggregated row's count is written back at most this often (seconds)
/// while its interval lasts; a listing always sees the current count.
const FLUSH_EVERY_SECS: i64 = 1;
/// Open aggregates kept in memory at most; beyond it the ones whose
/// interval ended are written back and dropped, then the oldest.
const MAX_OPEN_AGGREGATES: usize = 4096;
/// Retention is enforced every this many inserted rows.
const PRUNE_EVERY: u64 = 256;

/// Actions that are noise (see the module docs): pruned first.
pub const NOISE_ACTIONS: &[AuditAction] = &[
    AuditAction::Denied,
    AuditAction::RedeemFailed,
    AuditAction::GrantAttached,
    AuditAction::TooSlow,
];

/// How much audit the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Noise rows kept at most (oldest removed first).
    pub noise_rows: u64,
    /// Noise older than this many seconds is removed.
    pub noise_secs: i64,
    /// Rows of every class kept at most; security events are removed
    /// (oldest first) only when no noise is left to remove.
    pub total_rows: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            noise_rows: 50_000,
            noise_secs: 30 * 24 * 3600,
            total_rows: 1_000_000,
        }
    }
}

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

/// One open aggregate: the row standing for a run of repeated noise.
#[derive(Debug, Clone, Copy)]
pub(super) struct Aggregate {
    row: i64,
    started: i64,
    count: u64,
    last_at: i64,
    /// The count the row holds in the database.
    written: u64,
    written_at: i64,
}

/// The open aggregates, by source and reason.
#[derive(Debug, Default)]
pub(super) struct Aggregates {
    open: HashMap<String, Aggregate>,
}

fn is_noise(action: AuditAction) -> bool {
    NOISE_ACTIONS.contains(&action)
}

/// Inserts one audit record (in the caller's transaction); returns its id.
pub(super) fn insert(
    conn: &rusqlite::Connection,
    action: AuditAction,
    actor: &str,
    session_id: Option<&str>,
    detail: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.exec(
        "INSERT INTO audit (at, action, actor, session_id, detail, noise)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            now,
            action.as_str(),
            clean(actor, 128),
            session_id.map(|s| clean(s, 64)),
            clean(detail, MAX_DETAIL_CHARS),
            is_noise(action)
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Strips control, format and separator characters (audit text ends up in
/// terminals) and bounds the length.
fn clean(s: &str, max: usize) -> String {
    dd_proto::text::sanitize(s, max)
}

/// Removes what [`Retention`] says to, in the caller's transaction.
fn prune(conn: &rusqlite::Connection, r: &Retention, now: i64) -> rusqlite::Result<()> {
    conn.exec(
        "DELETE FROM audit WHERE noise = 1 AND at < ?1",
        params![now.saturating_sub(r.noise_secs)],
    )?;
    conn.exec(
        "DELETE FROM audit WHERE noise = 1 AND id <= (
             SELECT id FROM audit WHERE noise = 1 ORDER BY id DESC LIMIT 1 OFFSET ?1)",
        params![r.noise_rows as i64],
    )?;
    let total: i64 = conn.q_row("SELECT count(*) FROM audit", [], |row| row.get(0))?;
    let over = total - r.total_rows as i64;
    if over > 0 {
        // Noise first, then (only if that is not enough) the oldest events.
        conn.exec(
            "DELETE FROM audit WHERE id IN (
                 SELECT id FROM audit ORDER BY noise DESC, id ASC LIMIT ?1)",
            params![over],
        )?;
    }
    Ok(())
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
        match result {
            Ok(_) => self.inserted(now),
            Err(e) => {
                tracing::warn!(action = action.as_str(), error = %e, "could not write audit record")
            }
        }
    }

    /// Records a repeatable (noise) event: the first one from `source` for
    /// this `action` and `detail` in an interval of [`AGGREGATE_SECS`]
    /// gets a row; the next ones in that interval only raise its count.
    /// `source` names who cannot be told apart (the address of an
    /// unauthenticated peer, the actor of an authenticated one); it is not
    /// stored. Never fails the caller.
    pub fn audit_repeated(
        &self,
        source: &str,
        action: AuditAction,
        actor: &str,
        session_id: Option<&str>,
        detail: &str,
        now: i64,
    ) {
        let key = format!(
            "{source}\u{0}{}\u{0}{}\u{0}{detail}",
            action.as_str(),
            session_id.unwrap_or_default()
        );
        let mut aggs = self.aggregates();
        if let Some(a) = aggs.open.get_mut(&key) {
            if now < a.started + AGGREGATE_SECS {
                a.count += 1;
                a.last_at = a.last_at.max(now);
                if now - a.written_at >= FLUSH_EVERY_SECS {
                    let a = *a;
                    drop(aggs);
                    self.write_back(&key, a);
                }
                return;
            }
            let a = *a;
            aggs.open.remove(&key);
            self.write_back_unlocked(a);
        }
        if aggs.open.len() >= MAX_OPEN_AGGREGATES {
            let ended: Vec<String> = aggs
                .open
                .iter()
                .filter(|(_, a)| now >= a.started + AGGREGATE_SECS)
                .map(|(k, _)| k.clone())
                .collect();
            let ended = if ended.is_empty() {
                // All still open: drop the oldest.
                aggs.open
                    .iter()
                    .min_by_key(|(_, a)| a.started)
                    .map(|(k, _)| vec![k.clone()])
                    .unwrap_or_default()
            } else {
                ended
            };
            for k in ended {
                if let Some(a) = aggs.open.remove(&k) {
                    self.write_back_unlocked(a);
                }
            }
        }
        let result = self.write_tx(|tx| Ok(insert(tx, action, actor, session_id, detail, now)?));
        match result {
            Ok(row) => {
                aggs.open.insert(
                    key,
                    Aggregate {
                        row,
                        started: now,
                        count: 1,
                        last_at: now,
                        written: 1,
                        written_at: now,
                    },
                );
                drop(aggs);
                self.inserted(now);
            }
            Err(e) => {
                tracing::warn!(action = action.as_str(), error = %e, "could not write audit record")
            }
        }
    }

    fn aggregates(&self) -> std::sync::MutexGuard<'_, Aggregates> {
        self.aggregates.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes an open aggregate's count back and notes it as written.
    fn write_back(&self, key: &str, a: Aggregate) {
        self.write_back_unlocked(a);
        if let Some(open) = self.aggregates().open.get_mut(key) {
            if open.row == a.row {
                open.written = open.written.max(a.count);
                open.written_at = a.last_at;
            }
        }
    }

    /// Writes an aggregate's count and last time into its row.
    fn write_back_unlocked(&self, a: Aggregate) {
        if a.count == a.written {
            return;
        }
        let result = self.write_tx(|tx| {
            Ok(tx.exec(
                "UPDATE audit SET count = ?2, last_at = ?3 WHERE id = ?1",
                params![a.row, a.count as i64, a.last_at],
            )?)
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not update an aggregated audit record");
        }
    }

    /// Writes every open aggregate's count back (before a listing).
    fn flush_aggregates(&self) {
        let pending: Vec<(String, Aggregate)> = self
            .aggregates()
            .open
            .iter()
            .filter(|(_, a)| a.count != a.written)
            .map(|(k, a)| (k.clone(), *a))
            .collect();
        for (k, a) in pending {
            self.write_back(&k, a);
        }
    }

    /// Counts an inserted row and enforces retention now and then.
    fn inserted(&self, now: i64) {
        let n = self.audit_inserts.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(PRUNE_EVERY) {
            self.prune_audit(now);
        }
    }

    /// Enforces [`Retention`] now.
    pub fn prune_audit(&self, now: i64) {
        let r = *self.retention.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = self.write_tx(|tx| Ok(prune(tx, &r, now)?)) {
            tracing::warn!(error = %e, "could not prune the audit log");
        }
    }

    /// Sets how much audit is kept (and applies it at once).
    pub fn set_audit_retention(&self, r: Retention, now: i64) {
        *self.retention.lock().unwrap_or_else(|e| e.into_inner()) = r;
        self.prune_audit(now);
    }

    /// Audit records, newest first; see [`Store::list_audit_page`].
    pub fn list_audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(self.list_audit_page(q)?.records)
    }

    /// One page of audit records, newest first, filtered by session and
    /// action, older than record `before`; at most `limit` (default 100,
    /// capped at 1000). `next_before` is set when older records match.
    pub fn list_audit_page(&self, q: &AuditQuery) -> Result<AuditList, StoreError> {
        self.flush_aggregates();
        let limit = q
            .limit
            .unwrap_or(DEFAULT_AUDIT_LIMIT)
            .clamp(1, MAX_AUDIT_LIMIT);
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, action, actor, session_id, detail, count, last_at FROM audit
             WHERE (?1 IS NULL OR session_id = ?1)
               AND (?2 IS NULL OR action = ?2)
               AND (?3 IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![q.session, q.action, q.before, limit as i64 + 1],
            |r| {
                Ok(AuditRecord {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    action: r.get(2)?,
                    actor: r.get(3)?,
                    session_id: r.get(4)?,
                    detail: r.get(5)?,
                    count: r.get::<_, i64>(6)?.max(1) as u64,
                    last_at: r.get(7)?,
                })
            },
        )?;
        let mut records: Vec<AuditRecord> = rows.collect::<Result<_, _>>()?;
        let next_before = if records.len() > limit as usize {
            records.truncate(limit as usize);
            records.last().map(|r| r.id)
        } else {
            None
        };
        Ok(AuditList {
            records,
            next_before,
        })
    }
}
