//! Errors of the session host.

use dd_proto::ErrorCode;

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No session has this id.
    #[error("no such session")]
    NotFound,
    /// The request is invalid (bad size, cwd, command, offset, ...).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The session has ended (exited, closed or lost) and cannot do this.
    #[error("the session has ended")]
    SessionEnded,
    /// A file or PTY operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The session host is unreachable or failed.
    #[error("session host: {0}")]
    Host(String),
    /// The command could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program that failed to start.
        program: String,
        /// The failure.
        source: std::io::Error,
    },
}

impl SessionError {
    /// The wire error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            SessionError::NotFound => ErrorCode::NotFound,
            SessionError::BadRequest(_) => ErrorCode::BadRequest,
            SessionError::SessionEnded => ErrorCode::SessionEnded,
            SessionError::Io(_) | SessionError::Spawn { .. } | SessionError::Host(_) => {
                ErrorCode::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map() {
        assert_eq!(SessionError::NotFound.code(), ErrorCode::NotFound);
        assert_eq!(
            SessionError::BadRequest("x".into()).code(),
            ErrorCode::BadRequest
        );
        assert_eq!(SessionError::SessionEnded.code(), ErrorCode::SessionEnded);
        assert_eq!(
            SessionError::Io(std::io::Error::other("x")).code(),
            ErrorCode::Internal
        );
        let spawn = SessionError::Spawn {
            program: "nope".into(),
            source: std::io::Error::other("x"),
        };
        assert_eq!(spawn.code(), ErrorCode::Internal);
    }
}
