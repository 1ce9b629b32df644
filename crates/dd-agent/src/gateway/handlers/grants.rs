//! Grant requests: list and revoke; and ending a session's grants when it
//! closes. A revoked grant's streams and connections are cut at once.

use dd_proto::message::EndReason;
use dd_proto::methods::{GrantList, GrantRevoke, Revoked, SessionRef};
use dd_proto::ErrorCode;

use super::{err, ok, store_err, Ctx, Reply};
use crate::gateway::peer::Conn;
use crate::store::AuditAction;

/// `grant.list`: a session's grants, with their live streams counted.
pub(crate) fn list(cx: &Ctx<'_>, r: SessionRef) -> Reply {
    let agent = &cx.conn.agent;
    let mut grants = agent.store.list_grants(&r.session).map_err(store_err)?;
    for g in &mut grants {
        g.connected = agent.live.grant_streams(&g.grant_id);
    }
    ok(GrantList { grants })
}

/// `grant.revoke`: one grant, or every live grant of the session.
pub(crate) fn revoke(cx: &Ctx<'_>, r: GrantRevoke) -> Reply {
    let store = &cx.conn.agent.store;
    let ids = if r.all {
        store
            .revoke_session_grants(&r.session, cx.now)
            .map_err(store_err)?
    } else {
        let gid = r
            .grant_id
            .ok_or_else(|| err(ErrorCode::BadRequest, "give grant_id or all: true"))?;
        if store
            .revoke_grant(&r.session, &gid, cx.now)
            .map_err(store_err)?
        {
            vec![gid]
        } else {
            vec![]
        }
    };
    cut(cx.conn, &ids);
    for g in &ids {
        store.audit(
            AuditAction::GrantRevoked,
            &cx.actor,
            Some(&r.session),
            g,
            cx.now,
        );
    }
    ok(Revoked {
        revoked: ids.len() as u32,
    })
}

/// Cuts the live streams and connections of the given (just revoked)
/// grants: the streams opened under them, and every connection of the keys
/// they were issued to.
pub(crate) fn cut(conn: &Conn, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let keys: Vec<[u8; 32]> = ids
        .iter()
        .filter_map(|g| conn.agent.store.grant_key(g).ok().flatten())
        .collect();
    conn.agent.live.cut(ids, None, EndReason::Revoked);
    for k in keys {
        conn.agent.live.cut(&[], Some(k), EndReason::Revoked);
    }
}

/// Ends every live grant of a session (it was closed).
pub(crate) fn end_all(cx: &Ctx<'_>, session: &str, why: &str) -> Result<(), dd_proto::ErrorBody> {
    let store = &cx.conn.agent.store;
    let ids = store
        .revoke_session_grants(session, cx.now)
        .map_err(store_err)?;
    for g in &ids {
        store.audit(
            AuditAction::GrantRevoked,
            &cx.actor,
            Some(session),
            &format!("{g}: {why}"),
            cx.now,
        );
    }
    cut(cx.conn, &ids);
    Ok(())
}
