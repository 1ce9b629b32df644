//! Companion grants: one session, one peer key, a lifetime, maybe read-only.

use dd_proto::methods::{GrantInfo, Op};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;
use super::{key_from_blob, Store, StoreError};

/// What a grant allows: everything a companion may do on its session, less
/// input when it is read-only.
pub fn ops_for(read_only: bool) -> Vec<Op> {
    let mut ops = vec![Op::Meta, Op::Attach];
    if !read_only {
        ops.push(Op::Input);
    }
    ops.extend([Op::Detach, Op::Events, Op::RevokeSelf]);
    ops
}

pub(super) const COLUMNS: &str =
    "id, session_id, label, read_only, created_at, expires_at, last_seen, revoked_at,
     (SELECT created_by FROM pair_tokens WHERE pair_tokens.id = grants.token_id)";

/// Reads a `grants` row selected with [`COLUMNS`].
pub(super) fn grant_from_row(row: &Row<'_>) -> rusqlite::Result<GrantInfo> {
    let read_only: bool = row.get(3)?;
    Ok(GrantInfo {
        grant_id: row.get(0)?,
        session_id: row.get(1)?,
        label: row.get(2)?,
        read_only,
        ops: ops_for(read_only),
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        last_seen: row.get(6)?,
        revoked_at: row.get(7)?,
        connected: 0,
        created_by: row.get(8)?,
    })
}

/// The grant with id `id`.
pub(super) fn by_id(conn: &Connection, id: &str) -> Result<Option<GrantInfo>, StoreError> {
    Ok(conn
        .q_row(
            &format!("SELECT {COLUMNS} FROM grants WHERE id = ?1"),
            params![id],
            grant_from_row,
        )
        .optional()?)
}

fn query(
    conn: &Connection,
    filter: &str,
    arg: &dyn rusqlite::ToSql,
) -> Result<Vec<GrantInfo>, StoreError> {
    // `filter` is one of two fixed texts: both stay in the statement cache.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM grants WHERE {filter} ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([arg], grant_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Store {
    /// Every grant bound to `key`, revoked and expired ones included,
    /// oldest first.
    pub fn grants_for_key(&self, key: &[u8; 32]) -> Result<Vec<GrantInfo>, StoreError> {
        query(&self.conn(), "key = ?1", &key.as_slice())
    }

    /// The grant with id `id`, if any.
    pub fn grant(&self, id: &str) -> Result<Option<GrantInfo>, StoreError> {
        by_id(&self.conn(), id)
    }

    /// The key a grant is bound to, if the grant exists.
    pub fn grant_key(&self, id: &str) -> Result<Option<[u8; 32]>, StoreError> {
        let blob: Option<Vec<u8>> = self
            .conn()
            .q_row("SELECT key FROM grants WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()?;
        blob.map(key_from_blob).transpose()
    }

    /// Every grant of a session, revoked and expired ones included, oldest
    /// first. `connected` is 0: the gateway knows the live streams.
    pub fn list_grants(&self, session_id: &str) -> Result<Vec<GrantInfo>, StoreError> {
        query(&self.conn(), "session_id = ?1", &session_id)
    }

    /// Revokes one grant of a session. Returns true if this call revoked
    /// it, false if it was revoked already. `NotFound` unless the grant
    /// exists and belongs to `session_id`.
    pub fn revoke_grant(
        &self,
        session_id: &str,
        grant_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.write_tx(|tx| {
            let found: Option<Option<i64>> = tx
                .q_row(
                    "SELECT revoked_at FROM grants WHERE id = ?1 AND session_id = ?2",
                    params![grant_id, session_id],
                    |r| r.get(0),
                )
                .optional()?;
            match found {
                None => Err(StoreError::NotFound(format!(
                    "grant {grant_id} of session {session_id}"
                ))),
                Some(Some(_)) => Ok(false),
                Some(None) => {
                    tx.exec(
                        "UPDATE grants SET revoked_at = ?2 WHERE id = ?1",
                        params![grant_id, now],
                    )?;
                    Ok(true)
                }
            }
        })
    }

    /// Revokes every live (unrevoked, unexpired) grant of a session and
    /// returns the ids this call revoked. Also cancels the session's pending
    /// pairing tokens, so no new grant appears after "revoke all".
    pub fn revoke_session_grants(
        &self,
        session_id: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.write_tx(|tx| {
            let ids: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM grants
                     WHERE session_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
                     ORDER BY created_at, id",
                )?;
                let rows = stmt.query_map(params![session_id, now], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for id in &ids {
                tx.exec(
                    "UPDATE grants SET revoked_at = ?2 WHERE id = ?1",
                    params![id, now],
                )?;
            }
            tx.exec(
                "UPDATE pair_tokens SET cancelled_at = ?2
                 WHERE session_id = ?1 AND used_at IS NULL AND cancelled_at IS NULL
                   AND expires_at > ?2",
                params![session_id, now],
            )?;
            Ok(ids)
        })
    }

    /// Sessions that have a live grant or a pending pairing token: the
    /// ones whose end must end them too.
    pub fn sessions_with_live_access(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT session_id FROM grants WHERE revoked_at IS NULL AND expires_at > ?1
             UNION
             SELECT session_id FROM pair_tokens
             WHERE used_at IS NULL AND cancelled_at IS NULL AND expires_at > ?1",
        )?;
        let rows = stmt.query_map(params![now], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records activity on a grant (one indexed update).
    pub fn touch_grant(&self, id: &str, now: i64) -> Result<(), StoreError> {
        self.conn().exec(
            "UPDATE grants SET last_seen = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    }
}
