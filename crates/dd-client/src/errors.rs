//! CLI errors: [`CliError`] from `dd-cli`, plus how this CLI classifies a
//! [`ClientError`].

pub use dd_cli::errors::CliError;
use dd_client_core::ClientError;

/// A [`ClientError`] as the CLI reports it (exit 3 for authorization).
pub fn from_client(e: ClientError) -> CliError {
    CliError {
        code: e.kind().to_owned(),
        message: e.message(),
        exit: dd_cli::errors::exit_for(e.code()),
    }
}

/// Turns any error from a command into a [`CliError`].
pub fn classify(e: &anyhow::Error) -> CliError {
    dd_cli::errors::classify(e, |e| {
        e.downcast_ref::<ClientError>()
            .map(|c| from_client(c.clone()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::{ErrorBody, ErrorCode};

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
            let e = from_client(ClientError::Rpc(ErrorBody::new(code, "m")));
            assert_eq!(e.exit, exit, "{code}");
            assert_eq!(e.code, code.as_str());
            assert_eq!(e.to_string(), format!("{code}: m"));
        }
        let e = from_client(ClientError::Refused(ErrorBody::new(
            ErrorCode::Revoked,
            "r",
        )));
        assert_eq!(e.exit, 3);
        let e = from_client(ClientError::Timeout);
        assert_eq!((e.code.as_str(), e.exit), ("timeout", 1));
        let e = from_client(ClientError::Connect("refused".into()));
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
