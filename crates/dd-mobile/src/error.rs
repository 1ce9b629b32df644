//! The errors the core reports to the host, and how client, link and store
//! failures map onto them.

use dd_client_core::ClientError;
use dd_proto::LinkError;

/// Why a companion operation failed. Shown to people via the host's own
/// wording; `Denied` and `Agent` carry the agent's stable wire code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum MobileError {
    /// The text is not a dd pairing link at all.
    #[error("That is not a dd link.")]
    NotDdLink,
    /// The link's expiry hint has passed.
    #[error("This pairing link has expired. Ask for a new one.")]
    LinkExpired,
    /// A dd link, but malformed (or an enrollment link, or another version).
    #[error("invalid link: {reason}")]
    InvalidLink {
        /// What is wrong with it.
        reason: String,
    },
    /// The agent said no: `unauthorized`, `forbidden`, `revoked`, `expired`
    /// or a `token_*` code.
    #[error("{code}: {message}")]
    Denied {
        /// The agent's wire code.
        code: String,
        /// The agent's explanation.
        message: String,
    },
    /// Any other error the agent answered with.
    #[error("{code}: {message}")]
    Agent {
        /// The agent's wire code (or `protocol_error`, `bad_request`).
        code: String,
        /// The explanation.
        message: String,
    },
    /// The agent could not be reached, or the connection was lost.
    #[error("network: {message}")]
    Network {
        /// What happened.
        message: String,
    },
    /// The Noise handshake failed (e.g. the agent's key is not the pinned one).
    #[error("handshake failed: {message}")]
    Handshake {
        /// What happened.
        message: String,
    },
    /// The host's secure store failed, or holds something unreadable.
    #[error("storage: {message}")]
    Storage {
        /// What happened.
        message: String,
    },
    /// No credential is stored for that session.
    #[error("no pairing for session {session_id}")]
    NotFound {
        /// The session asked for.
        session_id: String,
    },
}

impl MobileError {
    /// A stable machine-readable code: the agent's wire code for `Denied`
    /// and `Agent`, else a name for the variant (`not_dd_link`,
    /// `link_expired`, `invalid_link`, `network`, `handshake_failed`,
    /// `storage`, `not_found`).
    pub fn code(&self) -> &str {
        match self {
            MobileError::NotDdLink => "not_dd_link",
            MobileError::LinkExpired => "link_expired",
            MobileError::InvalidLink { .. } => "invalid_link",
            MobileError::Denied { code, .. } | MobileError::Agent { code, .. } => code,
            MobileError::Network { .. } => "network",
            MobileError::Handshake { .. } => "handshake_failed",
            MobileError::Storage { .. } => "storage",
            MobileError::NotFound { .. } => "not_found",
        }
    }

    /// The human-readable part, without the code.
    pub fn message(&self) -> String {
        match self {
            MobileError::Denied { message, .. } | MobileError::Agent { message, .. } => {
                message.clone()
            }
            MobileError::InvalidLink { reason } => reason.clone(),
            MobileError::Network { message }
            | MobileError::Handshake { message }
            | MobileError::Storage { message } => message.clone(),
            other => other.to_string(),
        }
    }

    /// True when the agent refused on authorization grounds.
    pub fn is_authorization(&self) -> bool {
        matches!(self, MobileError::Denied { .. })
    }
}

impl From<ClientError> for MobileError {
    fn from(e: ClientError) -> Self {
        match &e {
            ClientError::Rpc(body) | ClientError::Refused(body) => {
                let code = body.code.as_str().to_owned();
                let message = body.message.clone();
                if body.code.is_authorization() {
                    MobileError::Denied { code, message }
                } else {
                    MobileError::Agent { code, message }
                }
            }
            ClientError::Handshake(m) => MobileError::Handshake { message: m.clone() },
            ClientError::Connect(m) => MobileError::Network { message: m.clone() },
            // TLS and a proxy that will not upgrade: network trouble the
            // user (or the proxy's admin) fixes; the message says which.
            ClientError::Tls(_) | ClientError::NoUpgrade(_) => MobileError::Network {
                message: e.to_string(),
            },
            ClientError::Closed | ClientError::Timeout => MobileError::Network {
                message: e.to_string(),
            },
            ClientError::Protocol(m) => MobileError::Agent {
                code: "protocol_error".into(),
                message: m.clone(),
            },
        }
    }
}

impl From<LinkError> for MobileError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::NotDdLink => MobileError::NotDdLink,
            LinkError::Expired => MobileError::LinkExpired,
            other => MobileError::InvalidLink {
                reason: other.to_string(),
            },
        }
    }
}

impl From<StoreError> for MobileError {
    fn from(e: StoreError) -> Self {
        MobileError::Storage {
            message: e.to_string(),
        }
    }
}

/// A failure of the host's secure store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum StoreError {
    /// The store could not do it.
    #[error("{message}")]
    Failed {
        /// What went wrong.
        message: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for StoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        StoreError::Failed { message: e.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::{ErrorBody, ErrorCode};

    #[test]
    fn client_errors_map_to_meaningful_variants() {
        let e: MobileError = ClientError::Rpc(ErrorBody::new(ErrorCode::Forbidden, "no")).into();
        assert_eq!(
            e,
            MobileError::Denied {
                code: "forbidden".into(),
                message: "no".into()
            }
        );
        assert!(e.is_authorization());
        let e: MobileError = ClientError::Refused(ErrorBody::new(ErrorCode::Revoked, "x")).into();
        assert_eq!(e.code(), "revoked");
        let e: MobileError = ClientError::Rpc(ErrorBody::new(ErrorCode::NotFound, "x")).into();
        assert!(matches!(e, MobileError::Agent { .. }));
        assert!(!e.is_authorization());
        let e: MobileError = ClientError::Handshake("bad key".into()).into();
        assert_eq!(e.code(), "handshake_failed");
        let e: MobileError = ClientError::Connect("refused".into()).into();
        assert_eq!(e.code(), "network");
        let e: MobileError = ClientError::Closed.into();
        assert_eq!(e.code(), "network");
    }

    #[test]
    fn link_errors_map() {
        assert_eq!(
            MobileError::from(LinkError::NotDdLink),
            MobileError::NotDdLink
        );
        assert_eq!(
            MobileError::from(LinkError::Expired),
            MobileError::LinkExpired
        );
        assert_eq!(
            MobileError::from(LinkError::Invalid("token")).code(),
            "invalid_link"
        );
    }
}
