//! The one lock helper of the client crates.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, taking the data even if a panicking holder poisoned it.
///
/// Every client mutex guards plain state (maps, offsets, an optional
/// prompt) that stays consistent between statements, so a panic elsewhere
/// leaves nothing half-written worth refusing.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_mutex_still_locks() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 2);
    }
}
