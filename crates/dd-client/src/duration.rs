//! Durations on the command line: `30s`, `5m`, `2h`, `7d` (a bare number is
//! seconds), and the countdown shown while a pairing link waits.

/// Parses a duration into seconds (the shared [`dd_proto::duration`]
/// grammar); `None` when malformed, zero or longer than ten years.
pub fn parse_secs(s: &str) -> Option<u64> {
    dd_proto::duration::parse_secs(s)
        .ok()
        .filter(|&secs| secs <= 10 * 365 * 86_400)
}

/// Renders seconds as a short countdown, e.g. `4m 05s`.
pub fn countdown(secs: i64) -> String {
    let secs = secs.max(0);
    if secs >= 3600 {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_secs("30s"), Some(30));
        assert_eq!(parse_secs("5m"), Some(300));
        assert_eq!(parse_secs("2h"), Some(7200));
        assert_eq!(parse_secs("7d"), Some(604_800));
        assert_eq!(parse_secs("45"), Some(45));
        assert_eq!(parse_secs(" 1m "), Some(60));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "s",
            "0s",
            "0",
            "-5m",
            "5x",
            "1.5h",
            "m5",
            "5 m",
            "99999999999999999999d",
            "4000d",
            "5é",
        ] {
            assert_eq!(parse_secs(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn countdown_forms() {
        assert_eq!(countdown(-3), "0s");
        assert_eq!(countdown(59), "59s");
        assert_eq!(countdown(245), "4m 05s");
        assert_eq!(countdown(7260), "2h 01m");
    }
}
