//! What a connection may cost before (and besides) authorization.
//!
//! An unknown key may only redeem a link, and a redemption is a few hundred
//! bytes. So until the key is known its messages are limited to
//! [`UNKNOWN_MAX_MESSAGE`] (the reassembler refuses more, close `1009`),
//! and it must have redeemed a link within [`REDEEM_DEADLINE`] of the
//! handshake (close `1008`). Companions get [`COMPANION_MAX_MESSAGE`]
//! (their largest request is 64 KiB of input); owners the protocol's
//! 4 MiB. For everyone, a message that was started must be completed within
//! [`MESSAGE_DEADLINE`]: a peer cannot park a half-sent message.

use std::time::Duration;

use tokio::time::Instant;

use crate::policy::Principal;

/// The largest message from a key the agent does not know yet.
pub(crate) const UNKNOWN_MAX_MESSAGE: usize = 16 * 1024;
/// The largest message from a companion.
pub(crate) const COMPANION_MAX_MESSAGE: usize = 256 * 1024;
/// How long an unknown key has to redeem a link.
pub(crate) const REDEEM_DEADLINE: Duration = Duration::from_secs(30);
/// How long a started message may take to complete.
pub(crate) const MESSAGE_DEADLINE: Duration = Duration::from_secs(30);

/// The message size limit for `p`.
pub(crate) fn message_limit(p: &Principal) -> usize {
    match p {
        Principal::Owner { .. } => dd_proto::MAX_MESSAGE_SIZE,
        Principal::Companion { .. } => COMPANION_MAX_MESSAGE,
        Principal::Unknown { .. } | Principal::RevokedOwner { .. } => UNKNOWN_MAX_MESSAGE,
    }
}

/// The redeem deadline for `p`, from the handshake at `since`.
pub(crate) fn redeem_by(p: &Principal, since: Instant) -> Option<Instant> {
    matches!(p, Principal::Unknown { .. }).then(|| since + REDEEM_DEADLINE)
}

/// Resolves at `at`, never for `None`.
pub(crate) async fn until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
