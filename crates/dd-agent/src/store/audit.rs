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

/// Strips control characters (audit text ends up in terminals) and bounds
/// the length.
/// Inserts one audit record (in the caller's transaction).
pub(super) fn insert(
    conn: &rusqlite::Connection,
    action: &str,
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
            clean(action, 64),
            clean(actor, 128),
            session_id.map(|s| clean(s, 64)),
            clean(detail, MAX_DETAIL_CHARS)
        ],
    )
}

fn clean(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

impl Store {
    /// Appends an audit record. Never fails the caller: a failure to write
    /// is logged as a warning. Never pass secrets.
    pub fn audit(
        &self,
        action: &str,
        actor: &str,
        session_id: Option<&str>,
        detail: &str,
        now: i64,
    ) {
        // Through the group-committing writer: concurrent records (and
        // redemptions) share one fsync.
        let result = self.write_tx(|tx| Ok(insert(tx, action, actor, session_id, detail, now)?));
        if let Err(e) = result {
            tracing::warn!(action, error = %e, "could not write audit record");
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
