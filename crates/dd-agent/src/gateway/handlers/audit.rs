//! `audit.list`.

use dd_proto::methods::AuditQuery;

use super::{ok, store_err, Ctx, Reply};

/// `audit.list`: one page of the newest records, filtered by session and
/// action, older than `before`.
pub(crate) fn list(cx: &Ctx<'_>, q: AuditQuery) -> Reply {
    ok(cx.conn.agent.store.list_audit_page(&q).map_err(store_err)?)
}
