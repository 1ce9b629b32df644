//! Denials and failed redemptions: how they are audited.
//!
//! A peer can make as many of these as it likes, so they are written as
//! aggregated noise ([`crate::store::Store::audit_repeated`]): one row per
//! source and reason per interval. The source of an unauthenticated peer
//! is its address (it can mint keys for free); of an authenticated one,
//! its actor. Fields an unauthenticated peer chose (the session id it
//! named) are never written: it could otherwise place any text in the
//! owner's audit view.

use std::net::IpAddr;

use crate::policy::Principal;
use crate::store::{AuditAction, Store};

/// Who a repeated event is counted against.
pub(crate) fn source(principal: &Principal, ip: IpAddr) -> String {
    match principal {
        Principal::Unknown { .. } | Principal::RevokedOwner { .. } => format!("ip:{ip}"),
        other => other.actor(),
    }
}

/// Records a denial (`denied`): `reason` is built from the method name and
/// the error code only.
pub(crate) fn audit_denied(
    store: &Store,
    principal: &Principal,
    ip: IpAddr,
    session: Option<&str>,
    reason: &str,
    now: i64,
) {
    let session = match principal {
        Principal::Owner { .. } | Principal::Companion { .. } => session,
        // Not authenticated as anyone: its session id is not echoed.
        Principal::Unknown { .. } | Principal::RevokedOwner { .. } => None,
    };
    store.audit_repeated(
        &source(principal, ip),
        AuditAction::Denied,
        &principal.actor(),
        session,
        reason,
        now,
    );
}

/// Records a failed or refused redemption (`redeem_failed`), counted per
/// address.
pub(crate) fn audit_redeem_failed(store: &Store, actor: &str, ip: IpAddr, reason: &str, now: i64) {
    store.audit_repeated(
        &format!("ip:{ip}"),
        AuditAction::RedeemFailed,
        actor,
        None,
        &format!("{reason} from {ip}"),
        now,
    );
}
