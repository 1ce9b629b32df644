//! CLI errors: [`CliError`] from `dd-cli`, plus how this CLI classifies a
//! [`MobileError`].

pub use dd_cli::errors::CliError;
use dd_mobile::MobileError;

/// A [`MobileError`] as the CLI reports it; the exit code follows from the
/// code (see [`CliError::coded`]).
pub fn from_mobile(e: MobileError) -> CliError {
    match &e {
        // An expired link is an expired token, found out locally.
        MobileError::LinkExpired => CliError::coded(
            "token_expired",
            "the pairing link has expired (link expired); ask for a new one",
        ),
        MobileError::Handshake { message } => CliError::coded(
            "handshake_failed",
            format!(
                "{message} (the agent did not prove the key pinned in the link: \
                 wrong agent key, or not a dd agent)"
            ),
        ),
        MobileError::NotFound { session_id } => CliError::coded(
            "not_paired",
            format!("no pairing for session {session_id}; use `dd-companion join LINK`"),
        ),
        other => CliError::coded(other.code(), other.message()),
    }
}

/// Turns any error from a command into a [`CliError`].
pub fn classify(e: &anyhow::Error) -> CliError {
    dd_cli::errors::classify(e, |e| {
        e.downcast_ref::<MobileError>()
            .map(|m| from_mobile(m.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        // The code-to-exit table of `CliError::coded` is tested in dd-cli.
        let e = from_mobile(MobileError::Denied {
            code: "token_used".into(),
            message: "used".into(),
        });
        assert_eq!((e.exit, e.to_string().as_str()), (3, "token_used: used"));
        let e = from_mobile(MobileError::LinkExpired);
        assert_eq!((e.code.as_str(), e.exit), ("token_expired", 3));
        let e = from_mobile(MobileError::Handshake {
            message: "x".into(),
        });
        assert_eq!((e.code.as_str(), e.exit), ("handshake_failed", 1));
        assert_eq!(
            CliError::coded("forbidden", "no").to_json(),
            serde_json::json!({"error": "forbidden", "message": "no"})
        );
    }

    #[test]
    fn classify_anyhow() {
        let a = anyhow::Error::new(MobileError::LinkExpired);
        assert_eq!(classify(&a).exit, 3);
        let a = anyhow::Error::new(CliError::coded("timeout", "slow"));
        assert_eq!(classify(&a).code, "timeout");
        let c = classify(&anyhow::anyhow!("plain"));
        assert_eq!((c.code.as_str(), c.exit), ("error", 1));
    }
}
