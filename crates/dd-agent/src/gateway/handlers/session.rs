//! Session requests: list, create, meta, attach and events streams, input,
//! resize, detach, close.

use std::sync::Arc;

use dd_proto::message::EndReason;
use dd_proto::methods::{
    Attach, Attached, CreateSession, Detach, Resize, SendInput, SessionList, SessionRef,
};
use dd_proto::{ErrorCode, Message, Method};

use super::{check_input_size, done, err, find_session, ok, session_err, Ctx, Handled, Reply};
use crate::gateway::bounds::MAX_STREAMS_PER_CONN;
use crate::gateway::peer::Conn;
use crate::gateway::stream::{self, StreamStart};
use crate::mirror::{Session, Subscription};
use crate::store::AuditAction;

/// `session.list`.
pub(crate) fn list(cx: &Ctx<'_>) -> Reply {
    ok(SessionList {
        sessions: cx.conn.agent.sessions.list(),
    })
}

/// `session.create`.
pub(crate) async fn create(cx: &Ctx<'_>, req: CreateSession) -> Reply {
    let agent = &cx.conn.agent;
    let s = agent.sessions.create(req).await.map_err(session_err)?;
    let info = s.info();
    agent.store.audit(
        AuditAction::SessionCreated,
        &cx.actor,
        Some(&info.id),
        &info.command.join(" "),
        cx.now,
    );
    ok(info)
}

/// `session.meta`.
pub(crate) fn meta(cx: &Ctx<'_>, r: SessionRef) -> Reply {
    ok(find_session(cx.conn, &r.session)?.info())
}

/// `session.input`.
pub(crate) async fn input(cx: &Ctx<'_>, r: SendInput) -> Reply {
    let data = dd_proto::keys::decode_bytes(&r.data)
        .ok_or_else(|| err(ErrorCode::BadRequest, "data must be base64url"))?;
    check_input_size(&data)?;
    write(cx.conn, &r.session, &data).await?;
    done()
}

/// Writes input to a session's PTY (the request and the stream path).
pub(crate) async fn write(
    conn: &Conn,
    session: &str,
    data: &[u8],
) -> Result<(), dd_proto::ErrorBody> {
    find_session(conn, session)?
        .write_input(data)
        .await
        .map_err(session_err)
}

/// `session.resize`.
pub(crate) async fn resize(cx: &Ctx<'_>, r: Resize) -> Reply {
    find_session(cx.conn, &r.session)?
        .resize(r.rows, r.cols)
        .await
        .map_err(session_err)?;
    done()
}

/// `session.detach`: ends one stream of this connection.
pub(crate) fn detach(cx: &Ctx<'_>, r: Detach) -> Reply {
    let conn = cx.conn;
    if conn
        .agent
        .live
        .stop_stream(conn.id, r.stream, EndReason::Detached)
    {
        done()
    } else {
        Err(err(
            ErrorCode::NotFound,
            format!("no stream {} on this connection", r.stream),
        ))
    }
}

/// `session.close`: ends the session and every grant for it.
pub(crate) async fn close(cx: &Ctx<'_>, r: SessionRef) -> Reply {
    let agent = &cx.conn.agent;
    let info = agent
        .sessions
        .close(&r.session)
        .await
        .map_err(session_err)?;
    super::grants::end_all(cx, &r.session, "session closed")?;
    agent.store.audit(
        AuditAction::SessionClosed,
        &cx.actor,
        Some(&r.session),
        "",
        cx.now,
    );
    ok(info)
}

/// `session.attach`: output (from where `resume` says), events.
pub(crate) async fn attach(cx: &Ctx<'_>, id: u64, a: Attach) -> Handled {
    let opened = match room(cx.conn).and_then(|()| find_session(cx.conn, &a.session)) {
        Ok(s) => s.attach(a.resume).map_err(session_err).map(|sub| (s, sub)),
        Err(e) => Err(e),
    };
    match opened {
        Ok((s, sub)) => open(cx, id, Method::SessionAttach, a.session, s, sub).await,
        Err(e) => Handled::Reply(Err(e)),
    }
}

/// `session.events`: events only, no output.
pub(crate) async fn events(cx: &Ctx<'_>, id: u64, r: SessionRef) -> Handled {
    match room(cx.conn).and_then(|()| find_session(cx.conn, &r.session)) {
        Ok(s) => {
            let sub = s.events();
            open(cx, id, Method::SessionEvents, r.session, s, sub).await
        }
        Err(e) => Handled::Reply(Err(e)),
    }
}

/// Refuses a stream beyond [`MAX_STREAMS_PER_CONN`] with `rate_limited`.
fn room(conn: &Conn) -> Result<(), dd_proto::ErrorBody> {
    if crate::util::lock(&conn.streams).len() >= MAX_STREAMS_PER_CONN {
        return Err(err(
            ErrorCode::RateLimited,
            format!("at most {MAX_STREAMS_PER_CONN} streams per connection; detach one first"),
        ));
    }
    Ok(())
}

/// Queues the attach response itself, then starts the stream, so the
/// client sees the response before the stream's first message. The stream
/// runs under the lease the policy returned.
async fn open(
    cx: &Ctx<'_>,
    id: u64,
    method: Method,
    session: String,
    s: Arc<Session>,
    sub: Subscription,
) -> Handled {
    let conn = cx.conn;
    let attached = Attached {
        stream: id,
        session: s.info(),
        can_input: cx.scope.can_input,
    };
    let lease = cx.scope.lease();
    if lease.is_some() {
        conn.agent.store.audit(
            AuditAction::GrantAttached,
            &cx.actor,
            Some(&session),
            &format!("{method} stream {id} from {}", conn.peer),
            cx.now,
        );
    }
    conn.send(Message::Response {
        id,
        result: ok(&attached),
    })
    .await;
    stream::spawn(
        conn,
        StreamStart {
            stream: id,
            session,
            sub,
            lease,
        },
    );
    Handled::Sent
}
