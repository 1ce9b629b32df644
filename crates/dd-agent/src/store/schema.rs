//! The schema and its migrations, tracked in SQLite's `user_version`.

use rusqlite::Connection;

use super::StoreError;

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only;
/// never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema.
    r#"
    CREATE TABLE devices (
        id          TEXT PRIMARY KEY,
        label       TEXT NOT NULL,
        key         BLOB NOT NULL CHECK (length(key) = 32),
        created_at  INTEGER NOT NULL,
        last_seen   INTEGER,
        revoked_at  INTEGER
    );
    -- At most one active device per key.
    CREATE UNIQUE INDEX devices_active_key ON devices(key) WHERE revoked_at IS NULL;
    CREATE INDEX devices_key ON devices(key);

    CREATE TABLE enroll_tokens (
        id          TEXT PRIMARY KEY,
        hash        BLOB NOT NULL UNIQUE,
        label       TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        used_at     INTEGER,
        device_id   TEXT REFERENCES devices(id)
    );

    CREATE TABLE grants (
        id          TEXT PRIMARY KEY,
        session_id  TEXT NOT NULL,
        key         BLOB NOT NULL CHECK (length(key) = 32),
        label       TEXT NOT NULL,
        read_only   INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        last_seen   INTEGER,
        revoked_at  INTEGER,
        token_id    TEXT NOT NULL
    );
    CREATE INDEX grants_key ON grants(key);
    CREATE INDEX grants_session ON grants(session_id);

    CREATE TABLE pair_tokens (
        id              TEXT PRIMARY KEY,
        hash            BLOB NOT NULL UNIQUE,
        session_id      TEXT NOT NULL,
        read_only       INTEGER NOT NULL,
        grant_ttl_secs  INTEGER NOT NULL,
        label           TEXT,
        created_by      TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        used_at         INTEGER,
        cancelled_at    INTEGER,
        grant_id        TEXT REFERENCES grants(id)
    );
    CREATE INDEX pair_tokens_session ON pair_tokens(session_id);

    CREATE TABLE audit (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        at          INTEGER NOT NULL,
        action      TEXT NOT NULL,
        actor       TEXT NOT NULL,
        session_id  TEXT,
        detail      TEXT NOT NULL
    );
    CREATE INDEX audit_session ON audit(session_id, id);

    CREATE TABLE config (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    );
    "#,
    // 1 → 2: aggregated and prunable audit records (issue 13).
    r#"
    ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE audit ADD COLUMN last_at INTEGER;
    ALTER TABLE audit ADD COLUMN noise INTEGER NOT NULL DEFAULT 0;
    UPDATE audit SET noise = 1
        WHERE action IN ('denied', 'redeem_failed', 'grant_attached', 'too_slow');
    CREATE INDEX audit_noise ON audit(noise, id);
    CREATE INDEX audit_action ON audit(action, id);
    "#,
];

/// The schema version this code writes.
pub(super) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database up to [`SCHEMA_VERSION`], one transaction per step.
/// Refuses a database written by a newer agent.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let mut version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "schema version {version} is newer than this agent supports ({SCHEMA_VERSION})"
        )));
    }
    while version < SCHEMA_VERSION {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated.
        let current: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current == version {
            tx.execute_batch(MIGRATIONS[version as usize])?;
            tx.pragma_update(None, "user_version", version + 1)?;
        }
        tx.commit()?;
        version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is newer than this agent supports"
            )));
        }
    }
    Ok(())
}
