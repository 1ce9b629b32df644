//! CLI errors: a stable code, a message, and the exit code they map to.

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
    /// A failure (exit 1), whatever the code.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CliError {
            code: code.to_owned(),
            message: message.into(),
            exit: EXIT_FAILURE,
        }
    }

    /// An error with a wire `code`; the exit code follows from it (3 when
    /// it is an agent [`ErrorCode`] that [`ErrorCode::is_authorization`],
    /// else 1, client-side codes such as `timeout` included).
    pub fn coded(code: &str, message: impl Into<String>) -> Self {
        CliError {
            code: code.to_owned(),
            message: message.into(),
            exit: exit_for(code.parse().ok()),
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

    /// Prints the error: JSON on stdout with `json`, else
    /// `error: <code>: <message>` on stderr.
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", self.to_json());
        } else {
            eprintln!("error: {self}");
        }
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

/// Turns any error from a command into a [`CliError`]: a [`CliError`] as
/// is, else whatever `other` makes of it (a CLI's own error types), else
/// `error: <the whole chain>` (exit 1).
pub fn classify(
    e: &anyhow::Error,
    other: impl FnOnce(&anyhow::Error) -> Option<CliError>,
) -> CliError {
    if let Some(c) = e.downcast_ref::<CliError>() {
        return c.clone();
    }
    if let Some(c) = other(e) {
        return c;
    }
    CliError::new("error", format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_and_exit_codes() {
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
            assert_eq!(CliError::coded(code, "m").exit, exit, "{code}");
            // `new` never derives the exit code from the code.
            assert_eq!(CliError::new(code, "m").exit, 1, "{code}");
        }
        assert_eq!(CliError::usage("x").exit, 2);
        assert_eq!(CliError::usage("x").code, "usage");
        for (code, exit) in [
            (ErrorCode::Forbidden, 3),
            (ErrorCode::TokenUsed, 3),
            (ErrorCode::NotFound, 1),
            (ErrorCode::Internal, 1),
        ] {
            let e = CliError::from_code(code, "m");
            assert_eq!((e.code.as_str(), e.exit), (code.as_str(), exit));
            assert_eq!(e.to_string(), format!("{code}: m"));
        }
        assert_eq!(exit_for(None), 1);
        assert_eq!(
            CliError::coded("forbidden", "no").to_json(),
            serde_json::json!({"error": "forbidden", "message": "no"})
        );
    }

    #[test]
    fn classify_anyhow() {
        let a = anyhow::Error::new(CliError::new("timeout", "slow"));
        let c = classify(&a, |_| panic!("a CliError is taken as is"));
        assert_eq!(c.code, "timeout");
        let a = anyhow::Error::new(std::io::Error::other("disk"));
        let c = classify(&a, |e| {
            e.downcast_ref::<std::io::Error>()
                .map(|_| CliError::coded("token_used", "u"))
        });
        assert_eq!((c.code.as_str(), c.exit), ("token_used", 3));
        let a = anyhow::anyhow!("plain").context("outer");
        let c = classify(&a, |_| None);
        assert_eq!((c.code.as_str(), c.exit), ("error", 1));
        assert_eq!(
            c.to_json(),
            serde_json::json!({"error": "error", "message": "outer: plain"})
        );
    }
}
