//! Pairing and enrollment links: the one parser every side uses.
//!
//! ```text
//! dd://pair?v=1&agent=<url>&key=<agent key>&exp=<unix secs>[&s=<session>][&ro=1]#t=<token>
//! https://<public base>/pair?v=1&agent=<url>&key=<agent key>&exp=<unix secs>[&s=...][&ro=1]#t=<token>
//! dd://enroll?v=1&agent=<url>&key=<agent key>&exp=<unix secs>#t=<token>
//! ```
//!
//! * `agent` is the agent's base URL (`http://host:port` or `https://host`);
//!   clients connect to its [`crate::WS_PATH`].
//! * `key` is the agent's X25519 static public key ([`crate::keys`]). The
//!   client pins it: the Noise IK handshake fails against any other agent.
//! * `exp`, `s` and `ro` are hints for the UI; the agent decides.
//! * The token is in the fragment (`#t=`), which browsers and HTTP servers do
//!   not send anywhere: it is 128+ random bits, base64url.

use std::fmt;
use url::Url;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::keys::{decode_bytes, decode_key, encode_key, KEY_LEN};

/// The custom URL scheme.
pub const SCHEME: &str = "dd";

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Pair a companion to one session.
    Pair,
    /// Enroll an owner device.
    Enroll,
}

impl LinkKind {
    fn path(self) -> &'static str {
        match self {
            LinkKind::Pair => "pair",
            LinkKind::Enroll => "enroll",
        }
    }
}

/// A one-time secret token. Its `Debug` never shows it; it is wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Token(String);

impl Token {
    /// Wraps a token string after checking it is 16..=64 bytes of base64url.
    pub fn new(s: &str) -> Option<Token> {
        let bytes = decode_bytes(s)?;
        if (16..=64).contains(&bytes.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Some(Token(s.to_owned()))
        } else {
            None
        }
    }

    /// The token text, to send to the agent.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A parsed link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Pair or enroll.
    pub kind: LinkKind,
    /// Protocol version named in the link.
    pub version: u32,
    /// The agent's base URL.
    pub agent_url: String,
    /// The agent's pinned static public key.
    pub agent_key: [u8; KEY_LEN],
    /// Expiry hint (Unix seconds).
    pub expires_at: i64,
    /// Session id hint (pair links).
    pub session_id: Option<String>,
    /// Read-only hint (pair links).
    pub read_only: bool,
    /// The one-time token.
    pub token: Token,
}

/// Why a link was refused. The `Display` is fit to show a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a URL, or not a dd link at all.
    #[error("not a dd link")]
    NotDdLink,
    /// A dd link of a kind this caller does not take.
    #[error("this is a dd {found} link, expected a {expected} link")]
    WrongKind {
        /// What the link is.
        found: &'static str,
        /// What was wanted.
        expected: &'static str,
    },
    /// Made for another protocol version.
    #[error("link is for protocol version {0}; this app speaks version {v}", v = crate::PROTOCOL_VERSION)]
    UnsupportedVersion(u32),
    /// A required field is absent.
    #[error("link is missing its {0}")]
    Missing(&'static str),
    /// A field is present but malformed.
    #[error("link has an invalid {0}")]
    Invalid(&'static str),
    /// The expiry hint has passed.
    #[error("link expired")]
    Expired,
}

fn ws_base(agent: &str) -> Result<Url, LinkError> {
    let u = Url::parse(agent).map_err(|_| LinkError::Invalid("agent URL"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() || u.fragment().is_some() {
        return Err(LinkError::Invalid("agent URL"));
    }
    Ok(u)
}

impl Link {
    /// Parses a link of either kind and either form. Does not check expiry:
    /// see [`Link::check_fresh`].
    pub fn parse(input: &str) -> Result<Link, LinkError> {
        let url = Url::parse(input.trim()).map_err(|_| LinkError::NotDdLink)?;
        let kind_name = match url.scheme() {
            SCHEME => url.host_str().unwrap_or_default().to_owned(),
            "https" => url
                .path_segments()
                .and_then(|mut s| s.next_back().map(str::to_owned))
                .unwrap_or_default(),
            _ => return Err(LinkError::NotDdLink),
        };
        let kind = match kind_name.as_str() {
            "pair" => LinkKind::Pair,
            "enroll" => LinkKind::Enroll,
            _ => return Err(LinkError::NotDdLink),
        };
        let (mut v, mut agent, mut key, mut exp, mut s, mut ro) =
            (None, None, None, None, None, false);
        for (k, val) in url.query_pairs() {
            match k.as_ref() {
                "v" => v = Some(val.into_owned()),
                "agent" => agent = Some(val.into_owned()),
                "key" => key = Some(val.into_owned()),
                "exp" => exp = Some(val.into_owned()),
                "s" => s = Some(val.into_owned()),
                "ro" => ro = val == "1",
                _ => {}
            }
        }
        let v = v.ok_or(if url.scheme() == "https" && url.query().is_none() {
            LinkError::NotDdLink
        } else {
            LinkError::Missing("version")
        })?;
        let version: u32 = v.parse().map_err(|_| LinkError::Invalid("version"))?;
        if version != crate::PROTOCOL_VERSION {
            return Err(LinkError::UnsupportedVersion(version));
        }
        let agent_url = agent.ok_or(LinkError::Missing("agent URL"))?;
        ws_base(&agent_url)?;
        let agent_key = decode_key(&key.ok_or(LinkError::Missing("agent key"))?)
            .ok_or(LinkError::Invalid("agent key"))?;
        let expires_at: i64 = exp
            .ok_or(LinkError::Missing("expiry"))?
            .parse()
            .map_err(|_| LinkError::Invalid("expiry"))?;
        if let Some(id) = &s {
            if id.is_empty()
                || id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(LinkError::Invalid("session id"));
            }
        }
        let frag = url.fragment().ok_or(LinkError::Missing("token"))?;
        let tok = frag.strip_prefix("t=").ok_or(LinkError::Missing("token"))?;
        let token = Token::new(tok).ok_or(LinkError::Invalid("token"))?;
        Ok(Link {
            kind,
            version,
            agent_url,
            agent_key,
            expires_at,
            session_id: s,
            read_only: ro,
            token,
        })
    }

    /// Parses and checks the kind.
    pub fn parse_kind(input: &str, want: LinkKind) -> Result<Link, LinkError> {
        let link = Link::parse(input)?;
        if link.kind != want {
            return Err(LinkError::WrongKind {
                found: link.kind.path(),
                expected: want.path(),
            });
        }
        Ok(link)
    }

    /// Fails with [`LinkError::Expired`] when `now` (Unix seconds) is past the hint.
    pub fn check_fresh(&self, now: i64) -> Result<(), LinkError> {
        if now >= self.expires_at {
            Err(LinkError::Expired)
        } else {
            Ok(())
        }
    }

    /// The agent's WebSocket URL (`ws://host:port/noise/ws` or `wss://…`).
    pub fn ws_url(&self) -> String {
        ws_url(&self.agent_url)
    }

    /// Renders the link. With `public_base` (an https URL) the universal-link
    /// form is produced, else the `dd://` form.
    pub fn render(&self, public_base: Option<&str>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("v", &self.version.to_string());
        q.append_pair("agent", &self.agent_url);
        q.append_pair("key", &encode_key(&self.agent_key));
        q.append_pair("exp", &self.expires_at.to_string());
        if let Some(s) = &self.session_id {
            q.append_pair("s", s);
        }
        if self.read_only {
            q.append_pair("ro", "1");
        }
        let query = q.finish();
        let path = self.kind.path();
        match public_base {
            Some(base) => format!(
                "{}/{path}?{query}#t={}",
                base.trim_end_matches('/'),
                self.token.expose()
            ),
            None => format!("{SCHEME}://{path}?{query}#t={}", self.token.expose()),
        }
    }
}

/// Derives the WebSocket URL from an agent base URL. Accepts `ws(s)://`
/// URLs as they are; maps `http` to `ws` and `https` to `wss`.
pub fn ws_url(agent_url: &str) -> String {
    let base = agent_url.trim_end_matches('/');
    if base.starts_with("ws://") || base.starts_with("wss://") {
        return base.to_owned();
    }
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        format!("ws://{base}")
    };
    format!("{base}{}", crate::WS_PATH)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [0x11; 32];
    const TOKEN: &str = "AAECAwQFBgcICQoLDA0ODw";

    fn sample() -> Link {
        Link {
            kind: LinkKind::Pair,
            version: 1,
            agent_url: "http://192.168.1.20:7777".into(),
            agent_key: KEY,
            expires_at: 1_764_115_200,
            session_id: Some("s_0123456789ab".into()),
            read_only: false,
            token: Token::new(TOKEN).unwrap(),
        }
    }

    /// The vector printed in docs/protocol.md.
    #[test]
    fn documented_vector() {
        let s = sample().render(None);
        assert_eq!(
            s,
            "dd://pair?v=1&agent=http%3A%2F%2F192.168.1.20%3A7777&key=ERERERERERERERERERERERERERERERERERERERERERE&exp=1764115200&s=s_0123456789ab#t=AAECAwQFBgcICQoLDA0ODw"
        );
        assert_eq!(Link::parse(&s).unwrap(), sample());
        let u = sample().render(Some("https://dd.example.com/"));
        assert!(u.starts_with("https://dd.example.com/pair?v=1&"));
        assert_eq!(Link::parse(&u).unwrap(), sample());
        assert_eq!(sample().ws_url(), "ws://192.168.1.20:7777/noise/ws");
    }

    #[test]
    fn read_only_and_enroll_round_trip() {
        let mut l = sample();
        l.read_only = true;
        assert_eq!(Link::parse(&l.render(None)).unwrap(), l);
        l.kind = LinkKind::Enroll;
        l.session_id = None;
        l.read_only = false;
        let s = l.render(None);
        assert!(s.starts_with("dd://enroll?"));
        assert_eq!(Link::parse_kind(&s, LinkKind::Enroll).unwrap(), l);
        assert_eq!(
            Link::parse_kind(&s, LinkKind::Pair),
            Err(LinkError::WrongKind {
                found: "enroll",
                expected: "pair"
            })
        );
    }

    #[test]
    fn rejections() {
        let good = sample().render(None);
        assert_eq!(Link::parse("hello"), Err(LinkError::NotDdLink));
        assert_eq!(
            Link::parse("https://example.com/"),
            Err(LinkError::NotDdLink)
        );
        assert_eq!(Link::parse("dd://other?v=1"), Err(LinkError::NotDdLink));
        assert_eq!(
            Link::parse(&good.replace("v=1", "v=9")),
            Err(LinkError::UnsupportedVersion(9))
        );
        assert_eq!(
            Link::parse(&good.replace(
                "key=ERERERERERERERERERERERERERERERERERERERERERE",
                "key=ERER"
            )),
            Err(LinkError::Invalid("agent key"))
        );
        assert_eq!(
            Link::parse(good.split('#').next().unwrap()),
            Err(LinkError::Missing("token"))
        );
        assert_eq!(
            Link::parse(&good.replace("#t=AAECAwQFBgcICQoLDA0ODw", "#t=short")),
            Err(LinkError::Invalid("token"))
        );
        assert_eq!(
            Link::parse(&good.replace(
                "agent=http%3A%2F%2F192.168.1.20%3A7777",
                "agent=ftp%3A%2F%2Fx"
            )),
            Err(LinkError::Invalid("agent URL"))
        );
        assert_eq!(
            Link::parse(&good.replace("exp=1764115200", "exp=soon")),
            Err(LinkError::Invalid("expiry"))
        );
        let l = Link::parse(&good).unwrap();
        assert_eq!(l.check_fresh(1_764_115_199), Ok(()));
        assert_eq!(l.check_fresh(1_764_115_200), Err(LinkError::Expired));
    }

    #[test]
    fn token_debug_is_redacted() {
        let l = sample();
        assert!(!format!("{l:?}").contains(TOKEN));
    }

    #[test]
    fn ws_url_forms() {
        assert_eq!(
            ws_url("https://dd.example.com/"),
            "wss://dd.example.com/noise/ws"
        );
        assert_eq!(ws_url("http://127.0.0.1:1"), "ws://127.0.0.1:1/noise/ws");
        assert_eq!(
            ws_url("ws://127.0.0.1:1/noise/ws"),
            "ws://127.0.0.1:1/noise/ws"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = Link::parse(&s);
        }
    }
}
