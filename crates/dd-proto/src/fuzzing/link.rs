//! The `link` target: the pairing/enrollment link parser, and the duration
//! parser the CLIs use for the same kind of user-typed text.

use crate::duration::{format_secs, parse_secs};
use crate::link::{ws_url, Link, LinkError, LinkKind};

/// The public base used for the universal-link form.
const PUBLIC_BASE: &str = "https://dd.example.com/";

/// Parses `data` (when UTF-8) as a link. On success the link must render in
/// both forms and each rendering must parse back to the same link; the
/// kind-checking parser must agree with the plain one. The same text is also
/// parsed as a duration; a duration that parses must parse the same when
/// written back as plain seconds.
pub fn link(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Link::parse(s) {
        Ok(l) => {
            for base in [None, Some(PUBLIC_BASE)] {
                let text = l.render(base);
                let back =
                    Link::parse(&text).unwrap_or_else(|e| panic!("rendered link refused: {e}"));
                assert_eq!(back, l, "link does not round-trip");
            }
            let other = match l.kind {
                LinkKind::Pair => LinkKind::Enroll,
                LinkKind::Enroll => LinkKind::Pair,
            };
            assert_eq!(Link::parse_kind(s, l.kind).as_ref(), Ok(&l));
            assert!(matches!(
                Link::parse_kind(s, other),
                Err(LinkError::WrongKind { .. })
            ));
            let _ = l.check_fresh(l.expires_at);
            let _ = l.ws_url();
        }
        Err(e) => {
            assert!(Link::parse_kind(s, LinkKind::Pair).is_err());
            let _ = e.to_string();
        }
    }
    let _ = ws_url(s);
    if let Ok(n) = parse_secs(s) {
        assert!(n > 0);
        assert_eq!(parse_secs(&n.to_string()), Ok(n));
        assert_eq!(parse_secs(&format!("{n}s")), Ok(n));
        assert!(!format_secs(n).is_empty());
    }
}
