//! The agent's runtime configuration, kept as key/value rows.

use dd_proto::methods::{
    AgentConfig, AgentConfigPatch, DEFAULT_PROMPT_QUIET_MS, MAX_PROMPT_QUIET_MS,
};
use rusqlite::{params, Connection, OptionalExtension};

use super::Cached;
use super::{Store, StoreError};

/// The longest lifetime anything may have: ten years, in seconds.
pub const MAX_TTL_SECS: u64 = 10 * 365 * 24 * 3600;

/// The longest public link base we accept, in bytes.
const MAX_LINK_BASE_LEN: usize = 512;

const PAIR_TTL: &str = "pair_token_ttl_secs";
const PAIR_MAX_TTL: &str = "pair_token_max_ttl_secs";
const GRANT_TTL: &str = "grant_ttl_secs";
const GRANT_MAX_TTL: &str = "grant_max_ttl_secs";
const LINK_BASE: &str = "public_link_base";
const PROMPT_QUIET: &str = "prompt_quiet_ms";
const PROMPT_HEURISTIC: &str = "prompt_heuristic";

/// The configuration of a fresh agent.
pub fn default_config() -> AgentConfig {
    AgentConfig {
        pair_token_ttl_secs: 300,
        pair_token_max_ttl_secs: 3600,
        grant_ttl_secs: 7 * 24 * 3600,
        grant_max_ttl_secs: 30 * 24 * 3600,
        public_link_base: None,
        prompt_quiet_ms: DEFAULT_PROMPT_QUIET_MS,
        prompt_heuristic: true,
    }
}

fn get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .q_row(
            "SELECT value FROM config WHERE key = ?1",
            params![key],
            |r| r.get(0),
        )
        .optional()?)
}

fn get_u64(conn: &Connection, key: &str, default: u64) -> Result<u64, StoreError> {
    match get(conn, key)? {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("config {key} is not a number"))),
    }
}

fn put(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.exec(
        "INSERT INTO config (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn read(conn: &Connection) -> Result<AgentConfig, StoreError> {
    let d = default_config();
    Ok(AgentConfig {
        pair_token_ttl_secs: get_u64(conn, PAIR_TTL, d.pair_token_ttl_secs)?,
        pair_token_max_ttl_secs: get_u64(conn, PAIR_MAX_TTL, d.pair_token_max_ttl_secs)?,
        grant_ttl_secs: get_u64(conn, GRANT_TTL, d.grant_ttl_secs)?,
        grant_max_ttl_secs: get_u64(conn, GRANT_MAX_TTL, d.grant_max_ttl_secs)?,
        public_link_base: get(conn, LINK_BASE)?,
        prompt_quiet_ms: get_u64(conn, PROMPT_QUIET, d.prompt_quiet_ms)?,
        prompt_heuristic: get(conn, PROMPT_HEURISTIC)?.map_or(d.prompt_heuristic, |v| v == "1"),
    })
}

/// Checks every lifetime is in 1..=[`MAX_TTL_SECS`] and no default exceeds
/// its maximum.
fn validate(c: &AgentConfig) -> Result<(), StoreError> {
    for (name, v) in [
        (PAIR_TTL, c.pair_token_ttl_secs),
        (PAIR_MAX_TTL, c.pair_token_max_ttl_secs),
        (GRANT_TTL, c.grant_ttl_secs),
        (GRANT_MAX_TTL, c.grant_max_ttl_secs),
    ] {
        if v == 0 || v > MAX_TTL_SECS {
            return Err(StoreError::BadRequest(format!(
                "{name} must be between 1 and {MAX_TTL_SECS}"
            )));
        }
    }
    if c.pair_token_ttl_secs > c.pair_token_max_ttl_secs {
        return Err(StoreError::BadRequest(
            "pair_token_ttl_secs must not exceed pair_token_max_ttl_secs".into(),
        ));
    }
    if c.prompt_quiet_ms > MAX_PROMPT_QUIET_MS {
        return Err(StoreError::BadRequest(format!(
            "{PROMPT_QUIET} must be between 0 (off) and {MAX_PROMPT_QUIET_MS}"
        )));
    }
    if c.grant_ttl_secs > c.grant_max_ttl_secs {
        return Err(StoreError::BadRequest(
            "grant_ttl_secs must not exceed grant_max_ttl_secs".into(),
        ));
    }
    Ok(())
}

/// Checks a universal-link base: an `https://` URL with a host and no
/// query, fragment, whitespace or control characters.
fn validate_link_base(base: &str) -> Result<(), StoreError> {
    let bad = |why: &str| Err(StoreError::BadRequest(format!("public link base {why}")));
    let Some(rest) = base.strip_prefix("https://") else {
        return bad("must start with https://");
    };
    if base.len() > MAX_LINK_BASE_LEN {
        return bad("is too long");
    }
    if base
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        return bad("must not contain whitespace, '?' or '#'");
    }
    if rest.split('/').next().is_none_or(str::is_empty) {
        return bad("must name a host");
    }
    Ok(())
}

impl Store {
    /// The current configuration (defaults for anything never set).
    pub fn config(&self) -> Result<AgentConfig, StoreError> {
        read(&self.conn())
    }

    /// Applies the fields of `patch` that are set, after checking the
    /// result; returns the new configuration. Nothing changes on error.
    pub fn set_config(&self, patch: &AgentConfigPatch) -> Result<AgentConfig, StoreError> {
        self.write_tx(|tx| {
            let mut c = read(tx)?;
            if let Some(v) = patch.pair_token_ttl_secs {
                c.pair_token_ttl_secs = v;
            }
            if let Some(v) = patch.pair_token_max_ttl_secs {
                c.pair_token_max_ttl_secs = v;
            }
            if let Some(v) = patch.grant_ttl_secs {
                c.grant_ttl_secs = v;
            }
            if let Some(v) = patch.grant_max_ttl_secs {
                c.grant_max_ttl_secs = v;
            }
            if let Some(v) = patch.prompt_quiet_ms {
                c.prompt_quiet_ms = v;
            }
            if let Some(v) = patch.prompt_heuristic {
                c.prompt_heuristic = v;
            }
            validate(&c)?;
            put(tx, PAIR_TTL, &c.pair_token_ttl_secs.to_string())?;
            put(tx, PAIR_MAX_TTL, &c.pair_token_max_ttl_secs.to_string())?;
            put(tx, GRANT_TTL, &c.grant_ttl_secs.to_string())?;
            put(tx, GRANT_MAX_TTL, &c.grant_max_ttl_secs.to_string())?;
            put(tx, PROMPT_QUIET, &c.prompt_quiet_ms.to_string())?;
            put(
                tx,
                PROMPT_HEURISTIC,
                if c.prompt_heuristic { "1" } else { "0" },
            )?;
            Ok(c)
        })
    }

    /// Sets (or with `None` clears) the public base for universal links.
    pub fn set_public_link_base(&self, base: Option<String>) -> Result<AgentConfig, StoreError> {
        self.write_tx(|tx| {
            match &base {
                Some(b) => {
                    validate_link_base(b)?;
                    put(tx, LINK_BASE, b)?;
                }
                None => {
                    tx.exec("DELETE FROM config WHERE key = ?1", params![LINK_BASE])?;
                }
            }
            read(tx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_settings_persist_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("dd.db")).unwrap();
        let c = store.config().unwrap();
        assert_eq!((c.prompt_quiet_ms, c.prompt_heuristic), (1500, true));
        let patch = AgentConfigPatch {
            prompt_quiet_ms: Some(300),
            prompt_heuristic: Some(false),
            ..Default::default()
        };
        store.set_config(&patch).unwrap();
        let c = store.config().unwrap();
        assert_eq!((c.prompt_quiet_ms, c.prompt_heuristic), (300, false));
        let too_long = AgentConfigPatch {
            prompt_quiet_ms: Some(MAX_PROMPT_QUIET_MS + 1),
            ..Default::default()
        };
        assert!(matches!(
            store.set_config(&too_long),
            Err(StoreError::BadRequest(_))
        ));
        assert_eq!(store.config().unwrap().prompt_quiet_ms, 300);
    }

    #[test]
    fn link_base_validation() {
        assert!(validate_link_base("https://dd.example.com").is_ok());
        assert!(validate_link_base("https://dd.example.com/dd/").is_ok());
        for bad in [
            "http://dd.example.com",
            "https://",
            "https:///path",
            "https://dd.example.com/?x=1",
            "https://dd.example.com/#t=1",
            "https://dd.example .com",
            "https://dd.example.com/\u{1b}[2J",
            "",
        ] {
            assert!(validate_link_base(bad).is_err(), "{bad:?}");
        }
        assert!(validate_link_base(&format!("https://{}", "a".repeat(600))).is_err());
    }
}
