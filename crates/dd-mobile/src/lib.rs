//! dd-mobile: the companion core, the phone's whole logic in Rust.
//!
//! A phone joins ONE session by redeeming a pairing link. [`parse_link`]
//! previews the link (the one parser, `dd_proto::link`). [`Companion::redeem`]
//! makes a fresh X25519 key for this grant, connects to the agent the link
//! pins (Noise IK), redeems the one-time token and stores a [`Credential`]
//! with that private key through the host's [`SecureStore`] (Keychain on
//! iOS, a dict in the Python tests, [`FileStore`] for `dd-companion`).
//! [`Companion::attach`] streams the session to a host [`SessionListener`];
//! on a network drop it reconnects with jittered exponential backoff
//! (250 ms to 10 s) and resumes from the last offset delivered, so nothing
//! is lost or repeated; revocation, expiry, the session's end and a detach
//! are final states. The phone never resizes the PTY. When the session
//! waits for an answer the listener gets `on_input_needed` (also on attach,
//! from the session's `waiting`) and later `on_input_cleared`;
//! [`AttachHandle::answer`] sends a choice's bytes, and
//! [`Companion::answer_prompt`] answers a prompt by its seq without an
//! attach (a notification action), refusing when another prompt waits.
//! [`Companion::history`] gives a session's scrollback, loaded from the
//! transcript in pages and rendered as text ([`History`]).
//!
//! Everything public here is exported with UniFFI proc-macros; the names in
//! `/work/prompts/ffi.md` (and `apps/ios/ffi-contract.txt`) are the
//! contract with the Swift app and the Python tests.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

uniffi::setup_scaffolding!("dd_mobile");

mod answer;
mod attach;
mod companion;
mod credential;
mod error;
mod history;
mod lifecycle;
mod net;
mod prompt;
mod store;
mod types;
mod wait;

pub use answer::ANSWER_WAIT_MAX;
pub use attach::{AttachHandle, SessionListener};
pub use companion::Companion;
pub use credential::Credential;
pub use error::{MobileError, StoreError};
pub use history::{
    render as render_history, History, HistoryPage, LINES_MAX, LOADED_MAX, PAGE_MAX, PAGE_MIN,
};
pub use net::CLIENT_NAME;
pub use prompt::{InputNeeded, PromptChoice};
pub use store::{FileStore, SecureStore};
pub use types::{ConnectionState, PairingOffer, ResumeFrom, SessionMeta};

/// The backoff schedule and state mapping, public for tests and tools.
pub mod policy {
    pub use crate::attach::{
        base_delay, delay, fresh, on_end, on_error, Next, BACKOFF_MAX, BACKOFF_MIN,
    };
}

/// Previews a pairing link: where it points, which session, until when,
/// read-only or not. Fails with `LinkExpired` once its expiry hint passed.
#[uniffi::export]
pub fn parse_link(url: String) -> Result<PairingOffer, MobileError> {
    let link = dd_proto::Link::parse_kind(&url, dd_proto::LinkKind::Pair)?;
    link.check_fresh(dd_client_core::clock::now_secs())?;
    Ok(PairingOffer {
        agent_url: link.agent_url.clone(),
        session_id: link.session_id.clone(),
        expires_at: link.expires_at,
        read_only: link.read_only,
    })
}

/// This core's version.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::link::{Link, LinkKind, Token};

    fn link(kind: LinkKind, expires_at: i64) -> String {
        Link {
            kind,
            version: 1,
            agent_url: "http://127.0.0.1:7777".into(),
            agent_key: [9; 32],
            expires_at,
            session_id: Some("s_0123456789ab".into()),
            read_only: true,
            token: Token::new("AAECAwQFBgcICQoLDA0ODw").unwrap(),
        }
        .render(None)
    }

    #[test]
    fn parse_link_previews_and_refuses() {
        let later = dd_client_core::clock::now_secs() + 300;
        let offer = parse_link(link(LinkKind::Pair, later)).unwrap();
        assert_eq!(
            offer,
            PairingOffer {
                agent_url: "http://127.0.0.1:7777".into(),
                session_id: Some("s_0123456789ab".into()),
                expires_at: later,
                read_only: true,
            }
        );
        assert_eq!(
            parse_link(link(LinkKind::Pair, dd_client_core::clock::now_secs() - 1)),
            Err(MobileError::LinkExpired)
        );
        assert!(matches!(
            parse_link(link(LinkKind::Enroll, later)),
            Err(MobileError::InvalidLink { .. })
        ));
        assert_eq!(parse_link("hello".into()), Err(MobileError::NotDdLink));
        let tampered = link(LinkKind::Pair, later).replace("#t=", "#x=");
        assert!(matches!(
            parse_link(tampered),
            Err(MobileError::InvalidLink { .. })
        ));
        assert!(!core_version().is_empty());
    }
}
