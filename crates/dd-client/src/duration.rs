//! Durations on the command line: `30s`, `5m`, `2h`, `7d` (a bare number is
//! seconds).

/// Parses a duration into seconds; `None` when malformed, zero or huge.
pub fn parse_secs(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 's') => (&s[..i], 1),
        (i, 'm') => (&s[..i], 60),
        (i, 'h') => (&s[..i], 3600),
        (i, 'd') => (&s[..i], 86_400),
        (_, c) if c.is_ascii_digit() => (s, 1),
        _ => return None,
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    let secs = n.checked_mul(mult)?;
    // Ten years is plenty; anything more is a typo.
    (secs > 0 && secs <= 10 * 365 * 86_400).then_some(secs)
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
