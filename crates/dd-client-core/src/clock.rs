//! The one wall clock of the client crates.

/// Seconds since the Unix epoch (0 if the clock is before it). Expiry
/// times on the wire (`expires_at`) are in these units.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn after_2020() {
        assert!(super::now_secs() > 1_577_836_800);
    }
}
