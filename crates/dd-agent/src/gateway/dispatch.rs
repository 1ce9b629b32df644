//! Requests: decode parameters, ask the policy, carry out.
//!
//! Every request goes through [`handle`], which resolves the principal from
//! the peer's key *now* (so revocation and expiry apply to the very next
//! request), maps the method to a policy operation, and asks
//! [`crate::policy::authorize`] before touching anything.

use std::sync::Arc;

use dd_proto::link::{Link, LinkKind, Token};
use dd_proto::methods::{self as m, Attached};
use dd_proto::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;
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

fn params<T: DeserializeOwned>(v: Value) -> Result<T, ErrorBody> {
    serde_json::from_value(v)
        .map_err(|e| err(ErrorCode::BadRequest, format!("invalid params: {e}")))
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

/// The session a request is about, read from its `session` parameter.
fn target_session(params: &Value) -> Option<String> {
    params
        .get("session")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Handles one request.
pub(crate) async fn handle(conn: &Arc<Conn>, id: u64, method: &str, params: Value) -> Handled {
    let now = now_secs();
    let principal = match conn.principal() {
        Ok(p) => p,
        Err(e) => return Handled::Reply(Err(e)),
    };
    let Some(mut op) = policy::operation_for(method) else {
        return Handled::Reply(Err(err(
            ErrorCode::UnknownMethod,
            format!("unknown method {method:?}"),
        )));
    };
    let target = target_session(&params);
    if matches!(op, Operation::GrantRevoke { .. }) {
        op = policy::grant_revoke_operation(
            &principal,
            target.as_deref().unwrap_or_default(),
            params.get("grant_id").and_then(Value::as_str),
            params.get("all").and_then(Value::as_bool).unwrap_or(false),
        );
    }
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
    if method == m::SESSION_ATTACH || method == m::SESSION_EVENTS {
        return match attach(conn, id, method, params, &scope, &actor, now).await {
            Ok(()) => Handled::Sent,
            Err(e) => Handled::Reply(Err(e)),
        };
    }
    Handled::Reply(run(conn, method, params, &actor, now).await)
}

/// `session.attach` and `session.events`: queues the response itself, then
/// starts the stream, so the client sees the response before the stream's
/// first message.
async fn attach(
    conn: &Arc<Conn>,
    id: u64,
    method: &str,
    p: Value,
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
    let (r, s, sub) = if method == m::SESSION_EVENTS {
        let r: m::SessionRef = params(p)?;
        let s = session(conn, &r.session)?;
        let sub = s.events();
        (r, s, sub)
    } else {
        let r: m::Attach = params(p)?;
        let s = session(conn, &r.session)?;
        let sub = s.attach(r.resume).map_err(session_err)?;
        let r = m::SessionRef { session: r.session };
        (r, s, sub)
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

async fn run(
    conn: &Arc<Conn>,
    method: &str,
    p: Value,
    actor: &str,
    now: i64,
) -> Result<Value, ErrorBody> {
    let agent = &conn.agent;
    let store = &agent.store;
    match method {
        m::SESSION_LIST => ok(m::SessionList {
            sessions: agent.sessions.list(),
        }),
        m::SESSION_CREATE => {
            let req: m::CreateSession = params(p)?;
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
        m::SESSION_META => {
            let r: m::SessionRef = params(p)?;
            ok(session(conn, &r.session)?.info())
        }
        m::SESSION_INPUT => {
            let r: m::SendInput = params(p)?;
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
        m::SESSION_RESIZE => {
            let r: m::Resize = params(p)?;
            session(conn, &r.session)?
                .resize(r.rows, r.cols)
                .await
                .map_err(session_err)?;
            ok(json!({}))
        }
        m::SESSION_DETACH => {
            let r: m::Detach = params(p)?;
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
        m::SESSION_CLOSE => {
            let r: m::SessionRef = params(p)?;
            let info = agent
                .sessions
                .close(&r.session)
                .await
                .map_err(session_err)?;
            end_grants(conn, &r.session, actor, "session closed", now)?;
            store.audit("session_closed", actor, Some(&r.session), "", now);
            ok(info)
        }
        m::ENROLL_REDEEM => {
            let r: m::EnrollRedeem = params(p)?;
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
        m::DEVICE_LIST => ok(m::DeviceList {
            devices: store.list_devices().map_err(store_err)?,
        }),
        m::DEVICE_REVOKE => {
            let r: m::DeviceRef = params(p)?;
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
        m::AGENT_CONFIG_GET => ok(store.config().map_err(store_err)?),
        m::AGENT_CONFIG_SET => {
            let patch: m::AgentConfigPatch = params(p)?;
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
        m::PAIR_CREATE => pair_create(conn, params(p)?, actor, now),
        m::PAIR_REDEEM => {
            let r: m::PairRedeem = params(p)?;
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
        m::PAIR_CANCEL => {
            let r: m::PairCancel = params(p)?;
            store
                .cancel_pair_token(&r.session, &r.token_id, now)
                .map_err(store_err)?;
            store.audit("token_cancelled", actor, Some(&r.session), &r.token_id, now);
            ok(json!({}))
        }
        m::PAIR_STATUS => {
            let r: m::PairCancel = params(p)?;
            let mut st = store
                .pair_token_status(&r.session, &r.token_id, now)
                .map_err(store_err)?;
            if let Some(g) = st.grant.as_mut() {
                g.connected = agent.live.grant_streams(&g.grant_id);
            }
            ok(st)
        }
        m::GRANT_LIST => {
            let r: m::SessionRef = params(p)?;
            let mut grants = store.list_grants(&r.session).map_err(store_err)?;
            for g in &mut grants {
                g.connected = agent.live.grant_streams(&g.grant_id);
            }
            ok(m::GrantList { grants })
        }
        m::GRANT_REVOKE => {
            let r: m::GrantRevoke = params(p)?;
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
        m::AUDIT_LIST => {
            let q: m::AuditQuery = params(p)?;
            ok(m::AuditList {
                records: store.list_audit(&q).map_err(store_err)?,
            })
        }
        other => Err(err(
            ErrorCode::UnknownMethod,
            format!("unknown method {other:?}"),
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
