//! Stable error codes. Their string forms are part of the protocol and of the
//! CLIs' `--json` output; never rename one.

use serde::{Deserialize, Serialize};

/// A stable, machine-readable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The peer's key is not enrolled (or holds no grant) for this operation.
    Unauthorized,
    /// The peer is known, but its capability does not allow this operation.
    Forbidden,
    /// The peer's grant or device was revoked.
    Revoked,
    /// The peer's grant has expired.
    Expired,
    /// A pairing or enrollment token is unknown (or does not match).
    TokenInvalid,
    /// A pairing or enrollment token was already used.
    TokenUsed,
    /// A pairing or enrollment token has expired.
    TokenExpired,
    /// A pairing token was cancelled by the owner.
    TokenCancelled,
    /// The named session, grant, device or token does not exist.
    NotFound,
    /// The request is malformed: bad JSON, missing or invalid parameters.
    BadRequest,
    /// The method name is not known to this agent.
    UnknownMethod,
    /// A message or parameter exceeds a limit.
    TooLarge,
    /// Too many requests or failures; try later.
    RateLimited,
    /// The session has ended (exited or closed) and cannot take this operation.
    SessionEnded,
    /// The peer speaks another protocol version.
    UnsupportedVersion,
    /// The client did not keep up with its stream and was dropped.
    TooSlow,
    /// Older output asked for is no longer stored (the transcript size
    /// cap dropped it); the stream goes on from the oldest kept byte.
    Truncated,
    /// Something failed inside the agent.
    Internal,
}

impl ErrorCode {
    /// The code's wire string, e.g. `"forbidden"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Revoked => "revoked",
            ErrorCode::Expired => "expired",
            ErrorCode::TokenInvalid => "token_invalid",
            ErrorCode::TokenUsed => "token_used",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::TokenCancelled => "token_cancelled",
            ErrorCode::NotFound => "not_found",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownMethod => "unknown_method",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::SessionEnded => "session_ended",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::TooSlow => "too_slow",
            ErrorCode::Truncated => "truncated",
            ErrorCode::Internal => "internal",
        }
    }

    /// True for codes that mean "you may not do this" (CLIs exit with 3).
    pub fn is_authorization(self) -> bool {
        matches!(
            self,
            ErrorCode::Unauthorized
                | ErrorCode::Forbidden
                | ErrorCode::Revoked
                | ErrorCode::Expired
                | ErrorCode::TokenInvalid
                | ErrorCode::TokenUsed
                | ErrorCode::TokenExpired
                | ErrorCode::TokenCancelled
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is no [`ErrorCode`]'s wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a dd error code")]
pub struct UnknownCode;

/// Parses a wire string (`"forbidden"`) back into its code; any other
/// string (e.g. a client-side code such as `"timeout"`) is [`UnknownCode`].
impl std::str::FromStr for ErrorCode {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, UnknownCode> {
        use serde::de::{value::Error, IntoDeserializer};
        ErrorCode::deserialize(IntoDeserializer::<Error>::into_deserializer(s))
            .map_err(|_| UnknownCode)
    }
}

/// An error as carried in a response, a handshake reply or a stream end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ErrorBody {
    /// The stable code.
    pub code: ErrorCode,
    /// A human-readable explanation; never contains secrets.
    pub message: String,
}

impl ErrorBody {
    /// Builds an error body.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_wire_strings() {
        for code in [
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::Revoked,
            ErrorCode::Expired,
            ErrorCode::TokenInvalid,
            ErrorCode::TokenUsed,
            ErrorCode::TokenExpired,
            ErrorCode::TokenCancelled,
            ErrorCode::NotFound,
            ErrorCode::BadRequest,
            ErrorCode::UnknownMethod,
            ErrorCode::TooLarge,
            ErrorCode::RateLimited,
            ErrorCode::SessionEnded,
            ErrorCode::UnsupportedVersion,
            ErrorCode::TooSlow,
            ErrorCode::Truncated,
            ErrorCode::Internal,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, code);
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(code));
        }
    }

    #[test]
    fn other_strings_are_no_code() {
        for s in [
            "",
            "timeout",
            "Forbidden",
            "token_",
            "forbidden ",
            "\"forbidden\"",
        ] {
            assert_eq!(s.parse::<ErrorCode>(), Err(UnknownCode), "{s:?}");
        }
    }
}
