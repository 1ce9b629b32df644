//! Requests: decode once, ask the policy gate, hand to the area's handler.
//!
//! Every request goes through [`handle`]: it resolves the principal from
//! the peer's key *now* (so revocation and expiry apply to the very next
//! request), types the request ([`Request::decode`]), and asks [`gate`]
//! before anything is touched. [`gate`] is the gateway's one call of
//! [`policy::decide`], for requests, stream input and the handshake alike,
//! and writes the `denied` audit record of every refusal.

use std::sync::Arc;

use dd_proto::{ErrorBody, ErrorCode, Params, Request, RequestError};

pub(crate) use super::handlers::Handled;
use super::handlers::{self, audit, config, devices, grants, pairing, session, Ctx};
use super::peer::Conn;
use super::Agent;
use crate::policy::{self, Ask, Denial, Principal, Scope};
use crate::store::AuditAction;
use crate::util::now_secs;

/// The gateway's one call of the policy: decides `ask` for `p`, and records
/// a refusal (`denied`, with what was asked and the code).
pub(crate) fn gate(agent: &Agent, p: &Principal, ask: &Ask, now: i64) -> Result<Scope, Denial> {
    policy::decide(p, ask, now).inspect_err(|d| {
        agent.store.audit(
            AuditAction::Denied,
            &p.actor(),
            ask.session(),
            &format!("{}: {}", ask.name(), d.code),
            now,
        );
    })
}

/// Handles one request.
pub(crate) async fn handle(conn: &Arc<Conn>, id: u64, method: &str, params: Params) -> Handled {
    let now = now_secs();
    let principal = match conn.principal() {
        Ok(p) => p,
        Err(e) => return Handled::Reply(Err(e)),
    };
    let req = match Request::decode(method, &params) {
        Ok(r) => r,
        Err(e) => return undecodable(conn, &principal, e, now),
    };
    let scope = match gate(&conn.agent, &principal, &Ask::Request(&req), now) {
        Ok(s) => s,
        Err(d) => return d.into(),
    };
    touch(conn, &principal, &scope, now);
    let cx = Ctx {
        conn,
        actor: scope.actor(&principal),
        scope: &scope,
        now,
    };
    route(&cx, id, req).await
}

/// A request that did not type: an unknown method is answered
/// `unknown_method`; bad params `bad_request`, unless the peer may not call
/// the method at all.
fn undecodable(conn: &Conn, p: &Principal, e: RequestError, now: i64) -> Handled {
    if let Some(method) = e.method() {
        if let Err(d) = gate(&conn.agent, p, &Ask::Undecodable(method), now) {
            return d.into();
        }
    }
    Handled::Reply(Err(e.into()))
}

/// Writes "last seen" for the grant or device behind a request, at most
/// every so often per connection.
fn touch(conn: &Conn, p: &Principal, scope: &Scope, now: i64) {
    if !conn.due_for_touch(now) {
        return;
    }
    if let Some(g) = &scope.grant {
        let _ = conn.agent.store.touch_grant(&g.grant_id, now);
    }
    if let Some(device_id) = p.device_id() {
        let _ = conn.agent.store.touch_device(device_id, now);
    }
}

/// Hands an allowed request to its area's handler.
async fn route(cx: &Ctx<'_>, id: u64, req: Request) -> Handled {
    use Request as R;
    let reply = match req {
        R::SessionAttach(a) => return session::attach(cx, id, a).await,
        R::SessionEvents(r) => return session::events(cx, id, r).await,
        R::SessionList => session::list(cx),
        R::SessionCreate(r) => session::create(cx, r).await,
        R::SessionMeta(r) => session::meta(cx, r),
        R::SessionInput(r) => session::input(cx, r).await,
        R::SessionResize(r) => session::resize(cx, r).await,
        R::SessionDetach(r) => session::detach(cx, r),
        R::SessionClose(r) => session::close(cx, r).await,
        R::EnrollRedeem(r) => devices::enroll(cx, r).await,
        R::DeviceList => devices::list(cx),
        R::DeviceRevoke(r) => devices::revoke(cx, r),
        R::ConfigGet => config::get(cx),
        R::ConfigSet(r) => config::set(cx, r),
        R::PairCreate(r) => pairing::create(cx, r),
        R::PairRedeem(r) => pairing::redeem(cx, r).await,
        R::PairCancel(r) => pairing::cancel(cx, r),
        R::PairStatus(r) => pairing::status(cx, r),
        R::GrantList(r) => grants::list(cx, r),
        R::GrantRevoke(r) => grants::revoke(cx, r),
        R::AuditList(q) => audit::list(cx, q),
    };
    Handled::Reply(reply)
}

/// Input arriving on an attach stream: decided by the gate like
/// `session.input` on the stream's session.
pub(crate) async fn stream_input(
    conn: &Arc<Conn>,
    stream: u64,
    data: &[u8],
) -> Result<(), ErrorBody> {
    let session_id = conn
        .agent
        .live
        .stream_session(conn.id, stream)
        .ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::NotFound,
                format!("no stream {stream} on this connection"),
            )
        })?;
    handlers::check_input_size(data)?;
    let now = now_secs();
    let principal = conn.principal()?;
    let ask = Ask::StreamInput {
        session: &session_id,
    };
    gate(&conn.agent, &principal, &ask, now)?;
    session::write(conn, &session_id, data).await
}
