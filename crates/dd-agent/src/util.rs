//! Small shared helpers: the clock, the lock, ids. Used by every part of
//! the agent (gateway and session host alike); depends on none of them.

use std::sync::{Mutex, MutexGuard};

use rand::RngCore;

/// Locks `m`, taking the data even if a thread panicked while holding it:
/// every lock in the agent guards data that stays consistent between
/// statements, so a panic elsewhere must not take the agent down with it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Now, in Unix seconds (the one clock of the agent).
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A new random id with a type prefix, e.g. `s_3f9a0c12b4e7`.
pub fn new_id(prefix: &str) -> String {
    let mut b = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let mut s = String::with_capacity(prefix.len() + 13);
    s.push_str(prefix);
    s.push('_');
    for byte in b {
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

/// True when `id` looks like an id we made (prefix, underscore, hex):
/// guards paths built from ids that peers send.
pub fn is_valid_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|hex| {
            !hex.is_empty() && hex.len() <= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_validated() {
        let id = new_id("s");
        assert!(id.starts_with("s_") && id.len() == 14);
        assert!(is_valid_id(&id, "s"));
        assert!(!is_valid_id(&id, "g"));
        assert!(!is_valid_id("s_../../etc", "s"));
        assert!(!is_valid_id("s_", "s"));
    }
}
