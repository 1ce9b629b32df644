//! Peer-supplied text made safe to show a person.
//!
//! Labels, session names, audit fields and anything else a peer chose end
//! up in terminals and app views. [`sanitize`] removes every character that
//! can change how *other* text looks without being visible itself: C0/C1
//! controls (escape sequences), Unicode format characters (bidi overrides
//! and isolates such as U+202E and U+2066–U+2069, zero-width spaces and
//! joiners, the BOM, soft hyphen, …) and the line and paragraph separators
//! U+2028/U+2029. What remains is printable text that reads in the order it
//! is stored.

/// True for a character [`sanitize`] removes.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || is_format_or_separator(c)
}

/// Unicode general categories Cf (format), Zl and Zp (line and paragraph
/// separators), as of Unicode 15.
fn is_format_or_separator(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// `s` without hidden characters (see the module docs), at most `max`
/// characters kept.
pub fn sanitize(s: &str, max: usize) -> String {
    s.chars().filter(|c| !is_hidden(*c)).take(max).collect()
}

/// [`sanitize`] without a length bound, borrowing when nothing is removed.
pub fn sanitized(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(is_hidden) {
        std::borrow::Cow::Owned(s.chars().filter(|c| !is_hidden(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_controls_bidi_zero_width_and_separators() {
        let evil = "a\u{202E}b\u{2066}c\u{2067}d\u{2068}e\u{2069}f\u{200B}g\u{2028}h\u{2029}i\u{1b}[2Jj\u{FEFF}k\u{9b}l\u{E0041}m";
        assert_eq!(sanitize(evil, 100), "abcdefghi[2Jjklm");
        assert_eq!(sanitized(evil), "abcdefghi[2Jjklm");
    }

    #[test]
    fn keeps_ordinary_text_and_bounds_length() {
        assert_eq!(sanitize("Zoë's iPhone — 📱", 100), "Zoë's iPhone — 📱");
        assert!(matches!(
            sanitized("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
        assert_eq!(sanitize("abcdef", 3), "abc");
        // Right-to-left text itself is fine; only the invisible overrides go.
        assert_eq!(sanitize("שלום", 10), "שלום");
    }
}
