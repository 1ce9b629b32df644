//! Requests: decode parameters, ask the policy, carry out.
//!
//! Every request goes through [`handle`], which resolves the principal from
//! the peer's key *now* (so revocation and expiry apply to the very next
//! request), maps the method to a policy operation, and asks
//! [`crate::policy::authorize`] before touching anything.

use std::sync::Arc;

use dd_proto::link::{Link, LinkKind, Token};
use dd_proto::methods::{self as m, Attached};
use dd_proto::{ErrorBody, ErrorCode, Params, Request, RequestError};
use serde_json::{json, Value};

use super::bounds::MAX_STREAMS_PER_CONN;
use super::conn::Conn;
use super::stream::{self, StreamStart};
use crate::policy::{self, Operation, Principal, Scope};
use crate::util::now_secs;

/// Largest input accepted in one `session.input` or input message.
pub(crate) const MAX_INPUT: usize = 64 * 1024;

/// What the connection does with a request's outcome.
pub(crate) enum Handled {
    /// Send this response.
    Reply(Result<Value, ErrorBody>),
    /// Send this error and close the connection.
    ReplyThenClose(ErrorBody),
    /// The handler already queued its response.
    Sent,
}

fn err(code: ErrorCode, msg: impl Into<String>) -> ErrorBody {
    ErrorBody::new(code, msg)
}

fn ok<T: serde::Serialize>(v: T) -> Result<Value, ErrorBody> {
    serde_json::to_value(v).map_err(|e| err(ErrorCode::Internal, e.to_string()))
}

fn store_err(e: crate::store::StoreError) -> ErrorBody {
    err(e.code(), e.to_string())
}

fn session_err(e: crate::mirror::SessionError) -> ErrorBody {
    err(e.code(), e.to_string())
}

/// Handles one request.
pub(crate) async fn handle(conn: &Arc<Conn>, id: u64, method: &str, params: Params) -> Handled {
    let now = now_secs();
    let principal = match conn.principal() {
        Ok(p) => p,
        Err(e) => return Handled::Reply(Err(e)),
    };
    let req = Request::decode(method, &params);
    let (op, target) = match &req {
        Ok(r) => (
            policy::operation(&principal, r),
            r.session().map(str::to_owned),
        ),
        Err(e @ RequestError::UnknownMethod(_)) => return Handled::Reply(Err(e.clone().into())),
        Err(RequestError::InvalidParams { method, .. }) => (policy::operation_for(*method), None),
    };
    let scope = match policy::authorize(&principal, op, target.as_deref(), now) {
        Ok(s) => s,
        Err(denial) => {
            let actor = principal.actor();
            conn.agent.store.audit(
                "denied",
                &actor,
                target.as_deref(),
                &format!("{method}: {}", denial.code),
                now,
            );
            if let (Err(e), ErrorCode::BadRequest) = (req, denial.code) {
                // Undecodable params of a method that needs a session: the
                // params error is the answer.
                return Handled::Reply(Err(e.into()));
            }
            let body = err(denial.code, denial.message);
            return if body.code == ErrorCode::Unauthorized {
                Handled::ReplyThenClose(body)
            } else {
                Handled::Reply(Err(body))
            };
        }
    };
    if conn.due_for_touch(now) {
        if let Some(g) = &scope.grant {
            let _ = conn.agent.store.touch_grant(&g.grant_id, now);
        }
        if let Principal::Owner { device_id } = &principal {
            let _ = conn.agent.store.touch_device(device_id, now);
        }
    }
    let actor = match &scope.grant {
        Some(g) => format!("grant:{}", g.grant_id),
        None => principal.actor(),
    };
    let req = match req {
        Ok(r) => r,
        Err(e) => return Handled::Reply(Err(e.into())),
    };
    if matches!(req, Request::SessionAttach(_) | Request::SessionEvents(_)) {
        return match attach(conn, id, req, &scope, &actor, now).await {
            Ok(()) => Handled::Sent,
            Err(e) => Handled::Reply(Err(e)),
        };
    }
    Handled::Reply(run(conn, req, &actor, now).await)
}

/// `session.attach` and `session.events`: queues the response itself, then
/// starts the stream, so the client sees the response before the stream's
/// first message.
async fn attach(
    conn: &Arc<Conn>,
    id: u64,
    req: Request,
    scope: &Scope,
    actor: &str,
    now: i64,
) -> Result<(), ErrorBody> {
    let open = conn.streams.lock().unwrap_or_else(|e| e.into_inner()).len();
    if open >= MAX_STREAMS_PER_CONN {
        return Err(err(
            ErrorCode::RateLimited,
            format!("at most {MAX_STREAMS_PER_CONN} streams per connection; detach one first"),
        ));
    }
    let method = req.method();
    let (r, s, sub) = match req {
        Request::SessionEvents(r) => {
            let s = session(conn, &r.session)?;
            let sub = s.events();
            (r, s, sub)
        }
        Request::SessionAttach(r) => {
            let s = session(conn, &r.session)?;
            let sub = s.attach(r.resume).map_err(session_err)?;
            let r = m::SessionRef { session: r.session };
            (r, s, sub)
        }
        _ => return Err(err(ErrorCode::Internal, "not an attach request")),
    };
    let attached = Attached {
        stream: id,
        session: s.info(),
        can_input: scope.can_input,
    };
    if scope.grant.is_some() {
        conn.agent.store.audit(
            "grant_attached",
            actor,
            Some(&r.session),
            &format!("{method} stream {id} from {}", conn.peer),
            now,
        );
    }
    conn.send(dd_proto::Message::Response {
        id,
        result: ok(&attached),
    })
    .await;
    stream::spawn(
        conn,
        StreamStart {
            stream: id,
            session: r.session,
            sub,
            grant: scope.grant.as_ref().map(|g| g.grant_id.clone()),
            expires_at: scope.grant.as_ref().map(|g| g.expires_at),
        },
    );
    Ok(())
}

async fn run(conn: &Arc<Conn>, req: Request, actor: &str, now: i64) -> Result<Value, ErrorBody> {
    let agent = &conn.agent;
    let store = &agent.store;
    match req {
        Request::SessionList => ok(m::SessionList {
            sessions: agent.sessions.list(),
        }),
        Request::SessionCreate(req) => {
            let s = agent.sessions.create(req).await.map_err(session_err)?;
            let info = s.info();
            store.audit(
                "session_created",
                actor,
                Some(&info.id),
                &info.command.join(" "),
                now,
            );
            ok(info)
        }
        Request::SessionMeta(r) => ok(session(conn, &r.session)?.info()),
        Request::SessionInput(r) => {
            let data = dd_proto::keys::decode_bytes(&r.data)
                .ok_or_else(|| err(ErrorCode::BadRequest, "data must be base64url"))?;
            if data.len() > MAX_INPUT {
                return Err(err(
                    ErrorCode::TooLarge,
                    format!("input over {MAX_INPUT} bytes"),
                ));
            }
            session(conn, &r.session)?
                .write_input(&data)
                .await
                .map_err(session_err)?;
            ok(json!({}))
        }
        Request::SessionResize(r) => {
            session(conn, &r.session)?
                .resize(r.rows, r.cols)
                .await
                .map_err(session_err)?;
            ok(json!({}))
        }
        Request::SessionDetach(r) => {
            if agent
                .live
                .stop_stream(conn.id, r.stream, dd_proto::message::EndReason::Detached)
            {
                ok(json!({}))
            } else {
                Err(err(
                    ErrorCode::NotFound,
                    format!("no stream {} on this connection", r.stream),
                ))
            }
        }
        Request::SessionClose(r) => {
            let info = agent
                .sessions
                .close(&r.session)
                .await
                .map_err(session_err)?;
            end_grants(conn, &r.session, actor, "session closed", now)?;
            store.audit("session_closed", actor, Some(&r.session), "", now);
            ok(info)
        }
        Request::EnrollRedeem(r) => {
            redeem_guard(conn)?;
            // On a blocking thread: it waits for its (group) commit.
            let (st, key, peer) = (store.clone(), conn.key, conn.peer);
            let done = tokio::task::spawn_blocking(move || {
                let device = st.redeem_enroll_token(&r.token, &key, &r.label, now)?;
                st.audit(
                    "device_enrolled",
                    &format!("device:{}", device.id),
                    None,
                    &format!("label {:?} from {}", device.label, peer),
                    now,
                );
                Ok(device)
            })
            .await
            .map_err(|_| err(ErrorCode::Internal, "redeem task failed"))?;
            match done {
                Ok(device) => ok(m::Enrolled {
                    device_id: device.id,
                }),
                Err(e) => Err(redeem_failed(conn, actor, None, e, now)),
            }
        }
        Request::DeviceList => ok(m::DeviceList {
            devices: store.list_devices().map_err(store_err)?,
        }),
        Request::DeviceRevoke(r) => {
            let devices = store.list_devices().map_err(store_err)?;
            let dev = devices
                .iter()
                .find(|d| d.id == r.device_id)
                .ok_or_else(|| err(ErrorCode::NotFound, "no such device"))?;
            store.revoke_device(&r.device_id, now).map_err(store_err)?;
            if let Some(k) = dd_proto::keys::decode_key(&dev.key) {
                agent
                    .live
                    .cut(&[], Some(k), dd_proto::message::EndReason::Revoked);
            }
            store.audit("device_revoked", actor, None, &r.device_id, now);
            ok(json!({}))
        }
        Request::ConfigGet => ok(store.config().map_err(store_err)?),
        Request::ConfigSet(patch) => {
            let cfg = store.set_config(&patch).map_err(store_err)?;
            agent
                .sessions
                .prompt_settings()
                .set(cfg.prompt_quiet_ms, cfg.prompt_heuristic);
            store.audit(
                "config_changed",
                actor,
                None,
                &serde_json::to_string(&patch).unwrap_or_default(),
                now,
            );
            ok(cfg)
        }
        Request::PairCreate(r) => pair_create(conn, r, actor, now),
        Request::PairRedeem(r) => {
            redeem_guard(conn)?;
            // On a blocking thread: it waits for its (group) commit.
            let (st, key, peer) = (store.clone(), conn.key, conn.peer);
            // The audit record goes in the redemption's own transaction.
            let done = tokio::task::spawn_blocking(move || {
                st.redeem_pair_token_audited(&r.token, &key, &r.label, now, |grant| {
                    Some(format!(
                        "label {:?}, read_only {}, from {}",
                        grant.label, grant.read_only, peer
                    ))
                })
            })
            .await
            .map_err(|_| err(ErrorCode::Internal, "redeem task failed"))?;
            match done {
                Ok(grant) => ok(grant),
                Err(e) => Err(redeem_failed(conn, actor, None, e, now)),
            }
        }
        Request::PairCancel(r) => {
            store
                .cancel_pair_token(&r.session, &r.token_id, now)
                .map_err(store_err)?;
            store.audit("token_cancelled", actor, Some(&r.session), &r.token_id, now);
            ok(json!({}))
        }
        Request::PairStatus(r) => {
            let mut st = store
                .pair_token_status(&r.session, &r.token_id, now)
                .map_err(store_err)?;
            if let Some(g) = st.grant.as_mut() {
                g.connected = agent.live.grant_streams(&g.grant_id);
            }
            ok(st)
        }
        Request::GrantList(r) => {
            let mut grants = store.list_grants(&r.session).map_err(store_err)?;
            for g in &mut grants {
                g.connected = agent.live.grant_streams(&g.grant_id);
            }
            ok(m::GrantList { grants })
        }
        Request::GrantRevoke(r) => {
            let ids = if r.all {
                store
                    .revoke_session_grants(&r.session, now)
                    .map_err(store_err)?
            } else {
                let gid = r
                    .grant_id
                    .ok_or_else(|| err(ErrorCode::BadRequest, "give grant_id or all: true"))?;
                if store
                    .revoke_grant(&r.session, &gid, now)
                    .map_err(store_err)?
                {
                    vec![gid]
                } else {
                    vec![]
                }
            };
            cut_grants(conn, &ids);
            for g in &ids {
                store.audit("grant_revoked", actor, Some(&r.session), g, now);
            }
            ok(m::Revoked {
                revoked: ids.len() as u32,
            })
        }
        Request::AuditList(q) => ok(m::AuditList {
            records: store.list_audit(&q).map_err(store_err)?,
        }),
        Request::SessionAttach(_) | Request::SessionEvents(_) => Err(err(
            ErrorCode::Internal,
            "attach requests are handled apart",
        )),
    }
}

fn session(conn: &Conn, id: &str) -> Result<Arc<crate::mirror::Session>, ErrorBody> {
    conn.agent
        .sessions
        .get(id)
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no session {id:?}")))
}

/// Cuts the live streams and connections of the given (just revoked) grants.
fn cut_grants(conn: &Conn, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let keys: Vec<[u8; 32]> = ids
        .iter()
        .filter_map(|g| conn.agent.store.grant_key(g).ok().flatten())
        .collect();
    conn.agent
        .live
        .cut(ids, None, dd_proto::message::EndReason::Revoked);
    for k in keys {
        conn.agent
            .live
            .cut(&[], Some(k), dd_proto::message::EndReason::Revoked);
    }
}

/// Ends every live grant of a session (it was closed).
fn end_grants(
    conn: &Conn,
    session: &str,
    actor: &str,
    why: &str,
    now: i64,
) -> Result<(), ErrorBody> {
    let ids = conn
        .agent
        .store
        .revoke_session_grants(session, now)
        .map_err(store_err)?;
    for g in &ids {
        conn.agent.store.audit(
            "grant_revoked",
            actor,
            Some(session),
            &format!("{g}: {why}"),
            now,
        );
    }
    cut_grants(conn, &ids);
    Ok(())
}

fn redeem_guard(conn: &Conn) -> Result<(), ErrorBody> {
    conn.agent
        .limits
        .may_redeem(conn.peer.ip())
        .map_err(|wait| {
            conn.agent.store.audit(
                "redeem_failed",
                &format!("key:{}", &dd_proto::keys::encode_key(&conn.key)[..12]),
                None,
                &format!("rate_limited from {}", conn.peer.ip()),
                now_secs(),
            );
            err(
                ErrorCode::RateLimited,
                format!(
                    "too many failed redemptions from this address; retry in {}s",
                    wait.as_secs() + 1
                ),
            )
        })
}

fn redeem_failed(
    conn: &Conn,
    actor: &str,
    session: Option<&str>,
    e: crate::store::StoreError,
    now: i64,
) -> ErrorBody {
    let body = store_err(e);
    if body.code.is_authorization() {
        conn.agent.limits.failed(conn.peer.ip());
    }
    conn.agent.store.audit(
        "redeem_failed",
        actor,
        session,
        &format!("{} from {}", body.code, conn.peer.ip()),
        now,
    );
    body
}

fn pair_create(conn: &Conn, r: m::PairCreate, actor: &str, now: i64) -> Result<Value, ErrorBody> {
    let agent = &conn.agent;
    let s = session(conn, &r.session)?;
    if !s.info().status.is_live() {
        return Err(err(
            ErrorCode::SessionEnded,
            "the session has ended; pair to a running session",
        ));
    }
    let cfg = agent.store.config().map_err(store_err)?;
    let ttl = r.ttl_secs.unwrap_or(cfg.pair_token_ttl_secs);
    let grant_ttl = r.grant_ttl_secs.unwrap_or(cfg.grant_ttl_secs);
    if ttl == 0 || ttl > cfg.pair_token_max_ttl_secs {
        return Err(err(
            ErrorCode::BadRequest,
            format!("token ttl must be 1..={}s", cfg.pair_token_max_ttl_secs),
        ));
    }
    if grant_ttl == 0 || grant_ttl > cfg.grant_max_ttl_secs {
        return Err(err(
            ErrorCode::BadRequest,
            format!("grant ttl must be 1..={}s", cfg.grant_max_ttl_secs),
        ));
    }
    let minted = agent
        .store
        .mint_pair_token(
            &crate::store::NewPairToken {
                session_id: r.session.clone(),
                read_only: r.read_only,
                ttl_secs: ttl,
                grant_ttl_secs: grant_ttl,
                label: r.label.clone(),
                created_by: actor.to_owned(),
            },
            now,
        )
        .map_err(store_err)?;
    let token = Token::new(&minted.secret)
        .ok_or_else(|| err(ErrorCode::Internal, "minted token has an unexpected form"))?;
    let link = Link {
        kind: LinkKind::Pair,
        version: dd_proto::PROTOCOL_VERSION,
        agent_url: agent.public_url.clone(),
        agent_key: agent.key.public(),
        expires_at: minted.expires_at,
        session_id: Some(r.session.clone()),
        read_only: r.read_only,
        token,
    };
    agent.store.audit(
        "token_minted",
        actor,
        Some(&r.session),
        &format!(
            "{} ttl {ttl}s grant ttl {grant_ttl}s read_only {}",
            minted.id, r.read_only
        ),
        now,
    );
    ok(m::PairCreated {
        link: link.render(cfg.public_link_base.as_deref()),
        token_id: minted.id.clone(),
        session_id: r.session,
        expires_at: minted.expires_at,
        read_only: r.read_only,
    })
}

/// Input arriving on an attach stream: authorized like `session.input`.
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
            err(
                ErrorCode::NotFound,
                format!("no stream {stream} on this connection"),
            )
        })?;
    if data.len() > MAX_INPUT {
        return Err(err(
            ErrorCode::TooLarge,
            format!("input over {MAX_INPUT} bytes"),
        ));
    }
    let now = now_secs();
    let principal = conn.principal()?;
    if let Err(d) = policy::authorize(&principal, Operation::SessionInput, Some(&session_id), now) {
        conn.agent.store.audit(
            "denied",
            &principal.actor(),
            Some(&session_id),
            &format!("input: {}", d.code),
            now,
        );
        return Err(err(d.code, d.message));
    }
    session(conn, &session_id)?
        .write_input(data)
        .await
        .map_err(session_err)
}
