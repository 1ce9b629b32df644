//! CLI errors: a stable code, a message, and the exit code they map to.

use dd_mobile::MobileError;

/// Exit code for failures.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for usage errors.
pub const EXIT_USAGE: i32 = 2;
/// Exit code for authorization failures.
pub const EXIT_UNAUTHORIZED: i32 = 3;

/// An error as the CLI reports it: `error: <code>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// A stable code: an agent wire code or a client-side one.
    pub code: String,
    /// What happened.
    pub message: String,
    /// The process exit code.
    pub exit: i32,
}

/// True for codes that mean "not allowed" (exit 3).
pub fn is_authorization_code(code: &str) -> bool {
    matches!(code, "unauthorized" | "forbidden" | "revoked" | "expired")
        || code.starts_with("token_")
}

impl CliError {
    /// An error with `code`; the exit code follows from it.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CliError {
            code: code.to_owned(),
            message: message.into(),
            exit: if is_authorization_code(code) {
                EXIT_UNAUTHORIZED
            } else {
                EXIT_FAILURE
            },
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: "usage".into(),
            message: message.into(),
            exit: EXIT_USAGE,
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

impl From<MobileError> for CliError {
    fn from(e: MobileError) -> Self {
        match &e {
            // An expired link is an expired token, found out locally.
            MobileError::LinkExpired => CliError::new(
                "token_expired",
                "the pairing link has expired (link expired); ask for a new one",
            ),
            MobileError::Handshake { message } => CliError::new(
                "handshake_failed",
                format!(
                    "{message} (the agent did not prove the key pinned in the link: \
                     wrong agent key, or not a dd agent)"
                ),
            ),
            MobileError::NotFound { session_id } => CliError::new(
                "not_paired",
                format!("no pairing for session {session_id}; use `dd-companion join LINK`"),
            ),
            other => CliError::new(other.code(), other.message()),
        }
    }
}

/// Turns any error from a command into a [`CliError`].
pub fn classify(e: &anyhow::Error) -> CliError {
    if let Some(c) = e.downcast_ref::<CliError>() {
        return c.clone();
    }
    if let Some(m) = e.downcast_ref::<MobileError>() {
        return m.clone().into();
    }
    CliError::new("error", format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        for (code, exit) in [
            ("unauthorized", 3),
            ("forbidden", 3),
            ("revoked", 3),
            ("expired", 3),
            ("token_used", 3),
            ("token_invalid", 3),
            ("not_found", 1),
            ("network", 1),
            ("timeout", 1),
        ] {
            assert_eq!(CliError::new(code, "m").exit, exit, "{code}");
        }
        assert_eq!(CliError::usage("x").exit, 2);
        let e: CliError = MobileError::Denied {
            code: "token_used".into(),
            message: "used".into(),
        }
        .into();
        assert_eq!((e.exit, e.to_string().as_str()), (3, "token_used: used"));
        let e: CliError = MobileError::LinkExpired.into();
        assert_eq!((e.code.as_str(), e.exit), ("token_expired", 3));
        let e: CliError = MobileError::Handshake {
            message: "x".into(),
        }
        .into();
        assert_eq!((e.code.as_str(), e.exit), ("handshake_failed", 1));
        assert_eq!(
            CliError::new("forbidden", "no").to_json(),
            serde_json::json!({"error": "forbidden", "message": "no"})
        );
    }
}
