//! The durable store: owner devices, enrollment and pairing tokens, grants,
//! audit records and agent configuration, in one SQLite database.
//!
//! The database runs in WAL mode with `synchronous=FULL`, so a token
//! redemption or a revocation that returned survives `kill -9` and power
//! loss. Secrets are never stored: a token lives in the database only as a
//! domain-separated BLAKE3 hash, and is looked up by that hash. Every
//! redemption is one `BEGIN IMMEDIATE` transaction, so two racing redeemers
//! of one token (threads, clones or separate processes) get exactly one
//! success.
//!
//! All times are Unix seconds passed in by the caller, which keeps expiry
//! testable. A thing is *active* while `now < expires_at`.
//!
//! The store is synchronous and its queries are short; async callers may
//! call it directly for point queries or wrap bursts in `spawn_blocking`.

mod audit;
mod config;
mod devices;
mod grants;
mod group;
mod schema;
mod tokens;

#[cfg(test)]
mod tests;

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dd_proto::ErrorCode;
use rand::RngCore;
use rusqlite::Connection;
use zeroize::Zeroizing;

pub use audit::{AuditAction, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT};
pub use config::{default_config, MAX_TTL_SECS};
pub use grants::ops_for;
pub use tokens::{MintedToken, NewPairToken};

/// Errors from the store. [`StoreError::code`] maps each to a wire code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No token matches the secret.
    #[error("the token is not valid")]
    TokenInvalid,
    /// The token was already redeemed.
    #[error("the token was already used")]
    TokenUsed,
    /// The token expired before it was redeemed.
    #[error("the token has expired")]
    TokenExpired,
    /// The owner cancelled the token.
    #[error("the token was cancelled")]
    TokenCancelled,
    /// The named device, grant or token does not exist (here).
    #[error("not found: {0}")]
    NotFound(String),
    /// A parameter is out of range.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The database holds something this code cannot read (a newer schema,
    /// a malformed row).
    #[error("database is corrupt or too new: {0}")]
    Corrupt(String),
    /// SQLite failed.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// A group commit failed; this write was rolled back with its batch.
    #[error("database commit failed: {0}")]
    Commit(String),
    /// Creating or securing the database file failed.
    #[error("database file: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// The wire error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::TokenInvalid => ErrorCode::TokenInvalid,
            StoreError::TokenUsed => ErrorCode::TokenUsed,
            StoreError::TokenExpired => ErrorCode::TokenExpired,
            StoreError::TokenCancelled => ErrorCode::TokenCancelled,
            StoreError::NotFound(_) => ErrorCode::NotFound,
            StoreError::BadRequest(_) => ErrorCode::BadRequest,
            StoreError::Corrupt(_)
            | StoreError::Db(_)
            | StoreError::Commit(_)
            | StoreError::Io(_) => ErrorCode::Internal,
        }
    }
}

/// The durable store. Cheap to clone; all clones share one read
/// connection and one (group-committing) writer connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    writer: Arc<group::GroupWriter>,
    /// Bumped after every write transaction (see [`Store::generation`]).
    generation: Arc<AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating on first use, mode 0600) the database at `path`,
    /// configures it and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        // Create the file ourselves so it is never world-readable, even for
        // an instant; SQLite gives its -wal and -shm files the same mode.
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let writer = Connection::open(path)?;
        configure(&writer)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            writer: Arc::new(group::GroupWriter::new(writer)),
            generation: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The connection, for one short query. A poisoned lock is taken over:
    /// SQLite rolls back any transaction a panicking holder left open.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        crate::util::lock(&self.conn)
    }

    /// Runs `f` atomically in a `BEGIN IMMEDIATE` transaction, keeping its
    /// changes on `Ok` and none of them on `Err`; returns once they are
    /// committed. Concurrent writers share one commit (see [`group`]).
    fn write_tx<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let out = self.writer.write(f);
        self.generation.fetch_add(1, Ordering::AcqRel);
        out
    }

    /// A counter bumped after every write transaction this store (or a
    /// clone) made — enrollments, redemptions, revocations, grant changes:
    /// anything read while it stays the same is still current, unless
    /// another process wrote the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// Statements from the connection's cache: the store runs a few dozen
/// fixed SQL texts, and preparing one costs more than running it (a tenth
/// of the agent's CPU during a pairing storm before this).
trait Cached {
    /// `query_row` on a cached statement.
    fn q_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
    /// `execute` on a cached statement.
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn q_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Statements kept prepared per connection (more than the store has).
const STATEMENT_CACHE: usize = 64;

/// Settings of every connection: busy timeout, WAL with `synchronous=FULL`,
/// foreign keys, the statement cache.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "cannot enable WAL mode (got {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// What a token hash is for; each kind hashes in its own domain, so a secret
/// of one kind can never match a token of another.
#[derive(Clone, Copy)]
enum TokenKind {
    Enroll,
    Pair,
}

/// The longest secret we bother hashing; links carry at most 64 characters.
const MAX_SECRET_LEN: usize = 64;

/// The stored form of a token secret: BLAKE3 in derive-key mode with a
/// per-kind context. Not a secret itself (the token has 128 random bits).
fn token_hash(kind: TokenKind, secret: &str) -> [u8; 32] {
    let context = match kind {
        TokenKind::Enroll => "dd 2025-01 enrollment token v1",
        TokenKind::Pair => "dd 2025-01 pairing token v1",
    };
    blake3::derive_key(context, secret.as_bytes())
}

/// A fresh token secret: 16 bytes from the OS, base64url (22 characters).
fn new_secret() -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; 16]);
    rand::rngs::OsRng.fill_bytes(raw.as_mut());
    Zeroizing::new(dd_proto::keys::encode_bytes(raw.as_ref()))
}

/// Checks a lifetime and turns it into an expiry time.
fn expiry(now: i64, ttl_secs: u64, what: &str) -> Result<i64, StoreError> {
    if ttl_secs == 0 || ttl_secs > MAX_TTL_SECS {
        return Err(StoreError::BadRequest(format!(
            "{what} must be between 1 and {MAX_TTL_SECS} seconds"
        )));
    }
    Ok(now.saturating_add(ttl_secs as i64))
}

/// The longest label we keep, in characters.
const MAX_LABEL_CHARS: usize = 64;

/// Makes a peer-supplied label safe to store and print in a terminal:
/// control characters removed, trimmed, at most [`MAX_LABEL_CHARS`].
fn clean_label(label: &str, default: &str) -> String {
    let s: String = label
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_LABEL_CHARS)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        default.to_owned()
    } else {
        s.to_owned()
    }
}

/// Reads a 32-byte key column.
fn key_from_blob(blob: Vec<u8>) -> Result<[u8; 32], StoreError> {
    blob.try_into()
        .map_err(|_| StoreError::Corrupt("a stored key is not 32 bytes".into()))
}
