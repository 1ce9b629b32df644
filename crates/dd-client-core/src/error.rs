//! Client errors.

use dd_proto::{ErrorBody, ErrorCode};

/// Why a client operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The agent answered the call with an error.
    #[error("{0}")]
    Rpc(ErrorBody),
    /// The agent completed the handshake but refused the connection
    /// (revoked key, unsupported version, rate limited, ...).
    #[error("{0}")]
    Refused(ErrorBody),
    /// The Noise handshake failed: wrong pinned key, garbage, or the agent
    /// hung up mid-handshake.
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// The TCP or WebSocket connection could not be opened.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection is closed (by either side, or lost).
    #[error("connection closed")]
    Closed,
    /// The agent sent something this client cannot make sense of.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The operation did not finish in time.
    #[error("timed out")]
    Timeout,
    /// TLS to an `https://`/`wss://` agent failed (see [`TlsError`]).
    #[error("{0}")]
    Tls(TlsError),
    /// The HTTP server (often a reverse proxy) answered the WebSocket
    /// upgrade with something else.
    #[error("no WebSocket upgrade: {0}")]
    NoUpgrade(String),
}

/// Why TLS to an agent failed; each is told apart because each has its own fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The certificate does not chain to a trusted CA (self-signed, a
    /// private CA not passed to the client, expired, ...).
    #[error("TLS certificate of {host} is not trusted: {detail} (for a private CA pass --ca-file / DD_CA_FILE)")]
    BadCertificate {
        /// The host connected to.
        host: String,
        /// What the verifier said.
        detail: String,
    },
    /// The certificate is trusted but names another host.
    #[error("TLS certificate is not valid for {host}: {detail} (wrong host name in the agent URL, or the proxy serves another site's certificate)")]
    WrongHost {
        /// The host connected to.
        host: String,
        /// What the verifier said.
        detail: String,
    },
    /// Any other TLS failure (the port does not speak TLS, a reset, ...).
    #[error("TLS handshake with {host} failed: {detail}")]
    Handshake {
        /// The host connected to.
        host: String,
        /// What went wrong.
        detail: String,
    },
    /// The private CA file could not be used.
    #[error("CA file: {0}")]
    CaFile(String),
}

impl From<TlsError> for ClientError {
    fn from(e: TlsError) -> Self {
        ClientError::Tls(e)
    }
}

impl ClientError {
    /// The agent's error code, when the agent gave one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Rpc(e) | ClientError::Refused(e) => Some(e.code),
            _ => None,
        }
    }

    /// True when the agent said "you may not do this"
    /// ([`ErrorCode::is_authorization`]).
    pub fn is_authorization(&self) -> bool {
        self.code().is_some_and(ErrorCode::is_authorization)
    }

    /// A stable, machine-readable name: the agent's code for agent errors,
    /// else `connect_failed`, `handshake_failed`, `connection_closed`,
    /// `protocol_error`, `timeout`, `tls_bad_certificate`, `tls_wrong_host`,
    /// `tls_failed`, `bad_ca_file` or `no_websocket_upgrade`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Rpc(e) | ClientError::Refused(e) => e.code.as_str(),
            ClientError::Handshake(_) => "handshake_failed",
            ClientError::Connect(_) => "connect_failed",
            ClientError::Closed => "connection_closed",
            ClientError::Protocol(_) => "protocol_error",
            ClientError::Timeout => "timeout",
            ClientError::Tls(TlsError::BadCertificate { .. }) => "tls_bad_certificate",
            ClientError::Tls(TlsError::WrongHost { .. }) => "tls_wrong_host",
            ClientError::Tls(TlsError::Handshake { .. }) => "tls_failed",
            ClientError::Tls(TlsError::CaFile(_)) => "bad_ca_file",
            ClientError::NoUpgrade(_) => "no_websocket_upgrade",
        }
    }

    /// The human-readable part, without the code.
    pub fn message(&self) -> String {
        match self {
            ClientError::Rpc(e) | ClientError::Refused(e) => e.message.clone(),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_authorization() {
        let e = ClientError::Rpc(ErrorBody::new(ErrorCode::TokenUsed, "used"));
        assert_eq!(e.code(), Some(ErrorCode::TokenUsed));
        assert!(e.is_authorization());
        assert_eq!(e.kind(), "token_used");
        assert_eq!(e.message(), "used");
        let e = ClientError::Refused(ErrorBody::new(ErrorCode::Revoked, "gone"));
        assert!(e.is_authorization());
        let e = ClientError::Rpc(ErrorBody::new(ErrorCode::NotFound, "no"));
        assert!(!e.is_authorization());
        for e in [
            ClientError::Closed,
            ClientError::Timeout,
            ClientError::Connect("x".into()),
            ClientError::Handshake("x".into()),
            ClientError::Protocol("x".into()),
        ] {
            assert_eq!(e.code(), None);
            assert!(!e.is_authorization());
            assert!(!e.kind().is_empty());
        }
    }
}
