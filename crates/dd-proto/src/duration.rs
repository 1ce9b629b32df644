//! Human durations as the CLIs write them: `30s`, `5m`, `2h`, `7d` (a bare
//! number is seconds). Shared so every tool reads them the same way.

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}: write a number with a unit, like 30s, 5m, 2h or 7d")]
pub struct DurationError(pub String);

/// Parses a duration into seconds. Zero and overflowing values are refused.
pub fn parse_secs(s: &str) -> Result<u64, DurationError> {
    let t = s.trim();
    let err = || DurationError(s.to_owned());
    let (num, mult) = match t.as_bytes().last() {
        Some(b's') => (&t[..t.len() - 1], 1),
        Some(b'm') => (&t[..t.len() - 1], 60),
        Some(b'h') => (&t[..t.len() - 1], 3600),
        Some(b'd') => (&t[..t.len() - 1], 86_400),
        Some(b) if b.is_ascii_digit() => (t, 1),
        _ => return Err(err()),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let n: u64 = num.parse().map_err(|_| err())?;
    let secs = n.checked_mul(mult).ok_or_else(err)?;
    if secs == 0 {
        return Err(err());
    }
    Ok(secs)
}

/// Parses an interval that may be shorter than a second: `250ms`, or
/// anything [`parse_secs`] takes. Zero is refused.
pub fn parse_interval(s: &str) -> Result<std::time::Duration, DurationError> {
    let t = s.trim();
    match t.strip_suffix("ms") {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            match n.parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(std::time::Duration::from_millis(ms)),
                _ => Err(DurationError(s.to_owned())),
            }
        }
        Some(_) => Err(DurationError(s.to_owned())),
        None => parse_secs(t).map(std::time::Duration::from_secs),
    }
}

/// Formats seconds compactly: `90` → `1m30s`.
pub fn format_secs(mut secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_intervals() {
        use std::time::Duration;
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        for bad in ["0ms", "ms", "1.5ms", "-3ms", "0", "fast"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse_secs("30s"), Ok(30));
        assert_eq!(parse_secs("5m"), Ok(300));
        assert_eq!(parse_secs("2h"), Ok(7200));
        assert_eq!(parse_secs("7d"), Ok(604_800));
        assert_eq!(parse_secs("45"), Ok(45));
    }

    #[test]
    fn refuses_bad_input() {
        for bad in [
            "",
            "s",
            "0s",
            "-5m",
            "5x",
            "1.5h",
            "99999999999999999999d",
            "m5",
        ] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_secs(90), "1m30s");
        assert_eq!(format_secs(86_400 + 5), "1d5s");
    }
}
