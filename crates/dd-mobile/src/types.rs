//! The records and enums that cross the FFI boundary.

use dd_proto::methods::{SessionInfo, SessionStatus};

use crate::prompt::InputNeeded;

/// What a pairing link offers, shown before redeeming it. Hints only: the
/// agent decides.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PairingOffer {
    /// The agent's base URL.
    pub agent_url: String,
    /// The session the link is for, if the link names it.
    pub session_id: Option<String>,
    /// When the link expires (Unix seconds).
    pub expires_at: i64,
    /// Whether the grant will be read-only.
    pub read_only: bool,
}

/// A session's metadata as the phone shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionMeta {
    /// Session id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// `running`, `exited`, `closed` or `lost`.
    pub status: String,
    /// Exit code once exited.
    pub exit_code: Option<i32>,
    /// The PTY's rows (the owner's size; the phone never changes it).
    pub rows: u16,
    /// The PTY's columns.
    pub cols: u16,
    /// The terminal title the program set.
    pub title: String,
    /// Transcript length.
    pub end_offset: u64,
    /// The prompt the session waits on now, if any.
    pub waiting: Option<InputNeeded>,
}

/// The wire name of a session status.
pub fn status_name(s: SessionStatus) -> &'static str {
    match s {
        SessionStatus::Running => "running",
        SessionStatus::Exited => "exited",
        SessionStatus::Closed => "closed",
        SessionStatus::Lost => "lost",
    }
}

impl From<&SessionInfo> for SessionMeta {
    fn from(s: &SessionInfo) -> Self {
        SessionMeta {
            id: s.id.clone(),
            name: s.name.clone(),
            status: status_name(s.status).to_owned(),
            exit_code: s.exit_code,
            rows: s.rows,
            cols: s.cols,
            title: s.title.clone(),
            end_offset: s.end_offset,
            waiting: s.waiting.as_deref().map(InputNeeded::from),
        }
    }
}

/// Where an attach starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ResumeFrom {
    /// The current screen, then live output, in live mode: whenever the
    /// link falls behind, a fresh screen (`on_snapshot` again, at a later
    /// offset) instead of the backlog, so the view is never far behind.
    Screen,
    /// Right after the last byte this `Companion` delivered for the session
    /// (in memory; the current screen when there is none).
    LastSeen,
    /// The whole transcript from its start.
    Start,
    /// Every byte from transcript offset `offset` on.
    Offset {
        /// First offset wanted.
        offset: u64,
    },
}

/// The connection state of an attach, reported through
/// `SessionListener::on_state`. `Revoked`, `Expired`, `SessionEnded`,
/// `Detached` and `Failed` are final.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ConnectionState {
    /// Connecting for the first time.
    Connecting,
    /// Attached and streaming.
    Live,
    /// The connection dropped; the next try is in `retry_in_ms`.
    Reconnecting {
        /// 1 for the first retry after a drop.
        attempt: u32,
        /// Delay before this attempt.
        retry_in_ms: u64,
    },
    /// The owner revoked this phone's grant.
    Revoked,
    /// The grant expired.
    Expired,
    /// The session exited or was closed.
    SessionEnded {
        /// Its exit code, when known.
        exit_code: Option<i32>,
    },
    /// This phone detached.
    Detached,
    /// Something else ended the attach for good.
    Failed {
        /// What happened.
        message: String,
    },
}

impl ConnectionState {
    /// True for the states after which nothing more happens.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            ConnectionState::Connecting
                | ConnectionState::Live
                | ConnectionState::Reconnecting { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states() {
        assert!(!ConnectionState::Live.is_final());
        assert!(!ConnectionState::Connecting.is_final());
        assert!(!ConnectionState::Reconnecting {
            attempt: 1,
            retry_in_ms: 250
        }
        .is_final());
        for s in [
            ConnectionState::Revoked,
            ConnectionState::Expired,
            ConnectionState::Detached,
            ConnectionState::SessionEnded { exit_code: None },
            ConnectionState::Failed {
                message: "x".into(),
            },
        ] {
            assert!(s.is_final(), "{s:?}");
        }
    }
}
