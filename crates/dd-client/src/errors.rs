//! CLI errors: a stable code, a message, and the exit code they map to.

use dd_client_core::ClientError;
use dd_proto::ErrorCode;

/// Exit code for failures.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for usage errors.
pub const EXIT_USAGE: i32 = 2;
/// Exit code for authorization failures.
pub const EXIT_UNAUTHORIZED: i32 = 3;

/// An error as the CLI reports it: `error: <code>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// A stable code: an agent [`ErrorCode`] string or a client-side one.
    pub code: String,
    /// What happened.
    pub message: String,
    /// The process exit code.
    pub exit: i32,
}

impl CliError {
    /// A failure (exit 1).
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CliError {
            code: code.to_owned(),
            message: message.into(),
            exit: EXIT_FAILURE,
        }
    }

    /// A usage error (exit 2, like clap's own).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: "usage".to_owned(),
            message: message.into(),
            exit: EXIT_USAGE,
        }
    }

    /// An error carrying an agent error code (exit 3 for authorization).
    pub fn from_code(code: ErrorCode, message: impl Into<String>) -> Self {
        CliError {
            code: code.as_str().to_owned(),
            message: message.into(),
            exit: exit_for(Some(code)),
        }
    }

    /// The JSON form printed with `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.code, "message": self.message })
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for CliError {}

/// Maps an agent error code (if any) to the exit code.
pub fn exit_for(code: Option<ErrorCode>) -> i32 {
    match code {
        Some(c) if c.is_authorization() => EXIT_UNAUTHORIZED,
        _ => EXIT_FAILURE,
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError {
            code: e.kind().to_owned(),
            message: e.message(),
            exit: exit_for(e.code()),
        }
    }
}

/// Turns any error from a command into a [`CliError`].
pub fn classify(e: &anyhow::Error) -> CliError {
    if let Some(c) = e.downcast_ref::<CliError>() {
        return c.clone();
    }
    if let Some(c) = e.downcast_ref::<ClientError>() {
        return c.clone().into();
    }
    CliError::new("error", format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::ErrorBody;

    #[test]
    fn exit_codes() {
        for (code, exit) in [
            (ErrorCode::Unauthorized, 3),
            (ErrorCode::Forbidden, 3),
            (ErrorCode::Revoked, 3),
            (ErrorCode::Expired, 3),
            (ErrorCode::TokenUsed, 3),
            (ErrorCode::TokenExpired, 3),
            (ErrorCode::TokenInvalid, 3),
            (ErrorCode::TokenCancelled, 3),
            (ErrorCode::NotFound, 1),
            (ErrorCode::BadRequest, 1),
            (ErrorCode::SessionEnded, 1),
            (ErrorCode::Internal, 1),
        ] {
            let e: CliError = ClientError::Rpc(ErrorBody::new(code, "m")).into();
            assert_eq!(e.exit, exit, "{code}");
            assert_eq!(e.code, code.as_str());
            assert_eq!(e.to_string(), format!("{code}: m"));
        }
        let e: CliError = ClientError::Refused(ErrorBody::new(ErrorCode::Revoked, "r")).into();
        assert_eq!(e.exit, 3);
        let e: CliError = ClientError::Timeout.into();
        assert_eq!((e.code.as_str(), e.exit), ("timeout", 1));
        let e: CliError = ClientError::Connect("refused".into()).into();
        assert_eq!((e.code.as_str(), e.exit), ("connect_failed", 1));
    }

    #[test]
    fn classify_anyhow() {
        let a = anyhow::Error::new(ClientError::Rpc(ErrorBody::new(ErrorCode::TokenUsed, "u")));
        assert_eq!(classify(&a).exit, 3);
        let a = anyhow::Error::new(CliError::new("timeout", "slow"));
        assert_eq!(classify(&a).code, "timeout");
        let a = anyhow::anyhow!("plain");
        let c = classify(&a);
        assert_eq!((c.code.as_str(), c.exit), ("error", 1));
        assert_eq!(
            c.to_json(),
            serde_json::json!({"error": "error", "message": "plain"})
        );
    }
}
