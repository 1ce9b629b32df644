//! The request handlers, by area: [`session`], [`pairing`], [`grants`],
//! [`devices`], [`config`], [`audit`]. Each runs after the policy gate
//! allowed the request (`super::dispatch`), with what the gate returned in
//! its [`Ctx`].

pub(crate) mod audit;
pub(crate) mod config;
pub(crate) mod devices;
pub(crate) mod grants;
pub(crate) mod pairing;
pub(crate) mod session;

use std::sync::Arc;

use dd_proto::{ErrorBody, ErrorCode};
use serde_json::Value;

use super::peer::Conn;
use crate::mirror::{Session, SessionError};
use crate::policy::{Denial, Scope};
use crate::store::StoreError;

/// What the connection does with a request's outcome.
pub(crate) enum Handled {
    /// Send this response.
    Reply(Result<Value, ErrorBody>),
    /// Send this error and close the connection.
    ReplyThenClose(ErrorBody),
    /// The handler already queued its response.
    Sent,
}

impl From<Denial> for Handled {
    fn from(d: Denial) -> Handled {
        if d.closes_connection() {
            Handled::ReplyThenClose(d.into())
        } else {
            Handled::Reply(Err(d.into()))
        }
    }
}

/// Largest input accepted in one `session.input` or input message.
pub(crate) const MAX_INPUT: usize = 64 * 1024;

/// What a handler runs with.
pub(crate) struct Ctx<'a> {
    /// The connection the request came on.
    pub(crate) conn: &'a Arc<Conn>,
    /// Who to name in audit records: the grant for a companion, else the
    /// principal.
    pub(crate) actor: String,
    /// What the policy allowed.
    pub(crate) scope: &'a Scope,
    /// The request's time (Unix seconds).
    pub(crate) now: i64,
}

/// A handler's answer: the result object, or the error.
pub(crate) type Reply = Result<Value, ErrorBody>;

pub(crate) fn err(code: ErrorCode, msg: impl Into<String>) -> ErrorBody {
    ErrorBody::new(code, msg)
}

pub(crate) fn ok<T: serde::Serialize>(v: T) -> Reply {
    serde_json::to_value(v).map_err(|e| err(ErrorCode::Internal, e.to_string()))
}

/// `{}`.
pub(crate) fn done() -> Reply {
    Ok(Value::Object(Default::default()))
}

pub(crate) fn store_err(e: StoreError) -> ErrorBody {
    err(e.code(), e.to_string())
}

pub(crate) fn session_err(e: SessionError) -> ErrorBody {
    err(e.code(), e.to_string())
}

/// The session named `id`, or `not_found`.
pub(crate) fn find_session(conn: &Conn, id: &str) -> Result<Arc<Session>, ErrorBody> {
    conn.agent
        .sessions
        .get(id)
        .ok_or_else(|| err(ErrorCode::NotFound, format!("no session {id:?}")))
}

/// Refuses input over [`MAX_INPUT`] with `too_large`.
pub(crate) fn check_input_size(data: &[u8]) -> Result<(), ErrorBody> {
    if data.len() > MAX_INPUT {
        return Err(err(
            ErrorCode::TooLarge,
            format!("input over {MAX_INPUT} bytes"),
        ));
    }
    Ok(())
}
