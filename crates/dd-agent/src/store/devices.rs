//! Owner devices: lookup by key, listing, revocation, last-seen.

use dd_proto::keys::encode_key;
use dd_proto::methods::DeviceInfo;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;
use super::{key_from_blob, Store, StoreError};

/// What revoking a device ended besides the device itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceRevocation {
    /// Its pairing tokens that were pending, now cancelled.
    pub tokens: Vec<String>,
    /// The live grants made from its tokens, now revoked: (grant, session).
    pub grants: Vec<(String, String)>,
}

const COLUMNS: &str = "id, label, key, created_at, last_seen, revoked_at";

/// Reads a `devices` row selected with [`COLUMNS`].
fn device_from_row(row: &Row<'_>) -> rusqlite::Result<(DeviceInfo, Vec<u8>)> {
    let key: Vec<u8> = row.get(2)?;
    Ok((
        DeviceInfo {
            id: row.get(0)?,
            label: row.get(1)?,
            key: String::new(),
            created_at: row.get(3)?,
            last_seen: row.get(4)?,
            revoked_at: row.get(5)?,
        },
        key,
    ))
}

fn finish((mut info, key): (DeviceInfo, Vec<u8>)) -> Result<DeviceInfo, StoreError> {
    info.key = encode_key(&key_from_blob(key)?);
    Ok(info)
}

/// The device for `key`: its active row if it has one, else its most
/// recently revoked one.
pub(super) fn by_key(conn: &Connection, key: &[u8; 32]) -> Result<Option<DeviceInfo>, StoreError> {
    let row = conn
        .q_row(
            &format!(
                "SELECT {COLUMNS} FROM devices WHERE key = ?1
                 ORDER BY revoked_at IS NOT NULL, revoked_at DESC, created_at DESC LIMIT 1"
            ),
            params![key.as_slice()],
            device_from_row,
        )
        .optional()?;
    row.map(finish).transpose()
}

/// The device with id `id`.
pub(super) fn by_id(conn: &Connection, id: &str) -> Result<Option<DeviceInfo>, StoreError> {
    let row = conn
        .q_row(
            &format!("SELECT {COLUMNS} FROM devices WHERE id = ?1"),
            params![id],
            device_from_row,
        )
        .optional()?;
    row.map(finish).transpose()
}

impl Store {
    /// The owner device holding `key`: the active one if any, else the most
    /// recently revoked one (check `revoked_at`), else `None`.
    pub fn device_by_key(&self, key: &[u8; 32]) -> Result<Option<DeviceInfo>, StoreError> {
        by_key(&self.conn(), key)
    }

    /// Every device, revoked ones included, oldest first.
    pub fn list_devices(&self) -> Result<Vec<DeviceInfo>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM devices ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map([], device_from_row)?;
        rows.map(|r| finish(r?)).collect()
    }

    /// Revokes a device, and in the same transaction everything it set up:
    /// its pending pairing tokens are cancelled and the live grants made
    /// from its tokens are revoked (the cascade). Revoking a revoked device
    /// keeps its first revocation time and runs the cascade again (a no-op
    /// unless something escaped it). `NotFound` if there is no such device.
    pub fn revoke_device(&self, id: &str, now: i64) -> Result<DeviceRevocation, StoreError> {
        self.write_tx(|tx| {
            let exists: Option<Option<i64>> = tx
                .q_row(
                    "SELECT revoked_at FROM devices WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?;
            match exists {
                None => return Err(StoreError::NotFound(format!("device {id}"))),
                Some(Some(_)) => {}
                Some(None) => {
                    tx.exec(
                        "UPDATE devices SET revoked_at = ?2 WHERE id = ?1",
                        params![id, now],
                    )?;
                }
            }
            let creator = format!("device:{id}");
            let tokens: Vec<String> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id FROM pair_tokens
                     WHERE created_by = ?1 AND used_at IS NULL AND cancelled_at IS NULL
                       AND expires_at > ?2 ORDER BY created_at, id",
                )?;
                let rows = stmt.query_map(params![creator, now], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            tx.exec(
                "UPDATE pair_tokens SET cancelled_at = ?2
                 WHERE created_by = ?1 AND used_at IS NULL AND cancelled_at IS NULL
                   AND expires_at > ?2",
                params![creator, now],
            )?;
            let grants: Vec<(String, String)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT g.id, g.session_id FROM grants g JOIN pair_tokens t ON t.id = g.token_id
                     WHERE t.created_by = ?1 AND g.revoked_at IS NULL AND g.expires_at > ?2
                     ORDER BY g.created_at, g.id",
                )?;
                let rows = stmt.query_map(params![creator, now], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            for (g, _) in &grants {
                tx.exec(
                    "UPDATE grants SET revoked_at = ?2 WHERE id = ?1",
                    params![g, now],
                )?;
            }
            Ok(DeviceRevocation { tokens, grants })
        })
    }

    /// Records that a device connected or made a request.
    pub fn touch_device(&self, id: &str, now: i64) -> Result<(), StoreError> {
        self.conn().exec(
            "UPDATE devices SET last_seen = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    }
}
