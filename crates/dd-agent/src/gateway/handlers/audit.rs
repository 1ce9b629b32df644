//! `audit.list`.

use dd_proto::methods::{AuditList, AuditQuery};

use super::{ok, store_err, Ctx, Reply};

/// `audit.list`: the newest records, filtered by session.
pub(crate) fn list(cx: &Ctx<'_>, q: AuditQuery) -> Reply {
    ok(AuditList {
        records: cx.conn.agent.store.list_audit(&q).map_err(store_err)?,
    })
}
