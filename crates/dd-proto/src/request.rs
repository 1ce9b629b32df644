//! The typed request: one [`Request`] variant per method, carrying that
//! method's parameter type, decoded once from the wire.
//!
//! On the wire a request is `{"id", "method", "params"}` ([`crate::message`]);
//! the message decoder keeps `params` as the JSON text it arrived in
//! ([`Params`]), checked to be JSON and nothing more. [`Request::decode`]
//! then turns the method name and that text into a typed request in one
//! step, straight from the text into the parameter struct (no intermediate
//! `serde_json::Value`), and bounded: the text is at most
//! [`crate::MAX_MESSAGE_SIZE`] bytes and at most [`MAX_PARAMS_DEPTH`]
//! arrays/objects deep.
//!
//! The method names ([`crate::methods`]) are the wire names of [`Method`];
//! an unknown name is refused with [`ErrorCode::UnknownMethod`].

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::{ErrorBody, ErrorCode};
use crate::methods::{self as m, *};

/// The deepest nesting of arrays and objects a request's params may have
/// (the params object itself is depth 1). No method needs more than 2.
pub const MAX_PARAMS_DEPTH: usize = 16;

/// A request's parameters as the JSON text they arrived in.
///
/// The message decoder only checks that this is JSON (within serde_json's
/// own recursion limit); [`Request::decode`] types it.
#[derive(Clone)]
pub struct Params(Box<RawValue>);

impl Params {
    /// `{}`: the parameters of a method that takes none.
    pub fn empty() -> Params {
        Params(RawValue::from_string("{}".into()).expect("{} is JSON"))
    }

    /// The JSON text of `value`.
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Params {
        match serde_json::value::to_raw_value(value) {
            Ok(raw) => Params(raw),
            // Parameter types are plain structs; only a map with non-string
            // keys could fail, and none of ours has one.
            Err(_) => Params::empty(),
        }
    }

    /// Parameters from JSON text; `Err` if it is not JSON.
    pub fn from_json(text: String) -> Result<Params, serde_json::Error> {
        RawValue::from_string(text).map(Params)
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The parameters as a JSON value (for tools and tests; the agent
    /// decodes with [`Request::decode`] instead).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.get()).unwrap_or(serde_json::Value::Null)
    }

    pub(crate) fn raw(&self) -> &RawValue {
        &self.0
    }

    pub(crate) fn from_raw(raw: Box<RawValue>) -> Params {
        if raw.get() == "null" {
            Params::empty()
        } else {
            Params(raw)
        }
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Params) -> bool {
        self.get() == other.get()
    }
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.get())
    }
}

impl From<serde_json::Value> for Params {
    fn from(v: serde_json::Value) -> Params {
        if v.is_null() {
            Params::empty()
        } else {
            Params::new(&v)
        }
    }
}

macro_rules! methods {
    ($($variant:ident => $wire:ident,)*) => {
        /// A method this version defines, by name only (see [`Request`] for
        /// the method with its parameters).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Method {
            $(
                #[doc = concat!("[`", stringify!($wire), "`](crate::methods::", stringify!($wire), ").")]
                $variant,
            )*
        }

        impl Method {
            /// Every method, in the order of [`crate::methods::ALL_METHODS`].
            pub const ALL: &'static [Method] = &[$(Method::$variant,)*];

            /// The wire name, e.g. `"session.list"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Method::$variant => m::$wire,)*
                }
            }

            /// The method with this wire name.
            pub fn from_wire(name: &str) -> Option<Method> {
                match name {
                    $(m::$wire => Some(Method::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

methods! {
    SessionList => SESSION_LIST,
    SessionCreate => SESSION_CREATE,
    SessionMeta => SESSION_META,
    SessionAttach => SESSION_ATTACH,
    SessionEvents => SESSION_EVENTS,
    SessionInput => SESSION_INPUT,
    SessionResize => SESSION_RESIZE,
    SessionDetach => SESSION_DETACH,
    SessionClose => SESSION_CLOSE,
    EnrollRedeem => ENROLL_REDEEM,
    DeviceList => DEVICE_LIST,
    DeviceRevoke => DEVICE_REVOKE,
    ConfigGet => AGENT_CONFIG_GET,
    ConfigSet => AGENT_CONFIG_SET,
    PairCreate => PAIR_CREATE,
    PairRedeem => PAIR_REDEEM,
    PairCancel => PAIR_CANCEL,
    PairStatus => PAIR_STATUS,
    GrantList => GRANT_LIST,
    GrantRevoke => GRANT_REVOKE,
    AuditList => AUDIT_LIST,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request, typed: the method and its parameters.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // each variant is its method; see `Method`
pub enum Request {
    SessionList,
    SessionCreate(CreateSession),
    SessionMeta(SessionRef),
    SessionAttach(Attach),
    SessionEvents(SessionRef),
    SessionInput(SendInput),
    SessionResize(Resize),
    SessionDetach(Detach),
    SessionClose(SessionRef),
    EnrollRedeem(EnrollRedeem),
    DeviceList,
    DeviceRevoke(DeviceRef),
    ConfigGet,
    ConfigSet(AgentConfigPatch),
    PairCreate(PairCreate),
    PairRedeem(PairRedeem),
    PairCancel(PairCancel),
    PairStatus(PairCancel),
    GrantList(SessionRef),
    GrantRevoke(GrantRevoke),
    AuditList(AuditQuery),
}

/// Why a request could not be typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The method name is not one of [`Method`] ([`ErrorCode::UnknownMethod`]).
    #[error("unknown method {0:?}")]
    UnknownMethod(String),
    /// The parameters do not fit the method's type ([`ErrorCode::BadRequest`]).
    #[error("invalid params: {detail}")]
    InvalidParams {
        /// The (known) method.
        method: Method,
        /// The parser's complaint.
        detail: String,
    },
}

impl RequestError {
    /// The stable error code to answer with.
    pub fn code(&self) -> ErrorCode {
        match self {
            RequestError::UnknownMethod(_) => ErrorCode::UnknownMethod,
            RequestError::InvalidParams { .. } => ErrorCode::BadRequest,
        }
    }

    /// The method, when it is known.
    pub fn method(&self) -> Option<Method> {
        match self {
            RequestError::UnknownMethod(_) => None,
            RequestError::InvalidParams { method, .. } => Some(*method),
        }
    }
}

impl From<RequestError> for ErrorBody {
    fn from(e: RequestError) -> ErrorBody {
        ErrorBody::new(e.code(), e.to_string())
    }
}

/// Longest method name quoted back in an `unknown_method` error.
const MAX_QUOTED_METHOD: usize = 64;

/// True when `json` nests arrays/objects no deeper than `max`. A linear
/// scan that skips strings; `json` is already known to be JSON.
fn depth_within(json: &str, max: usize) -> bool {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for b in json.bytes() {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

impl Request {
    /// Types a request: the method by its wire name, the parameters by that
    /// method's type (methods without parameters ignore them). Never panics.
    pub fn decode(method: &str, params: &Params) -> Result<Request, RequestError> {
        let Some(method) = Method::from_wire(method) else {
            let mut name = method.to_owned();
            if name.len() > MAX_QUOTED_METHOD {
                let mut cut = MAX_QUOTED_METHOD;
                while !name.is_char_boundary(cut) {
                    cut -= 1;
                }
                name.truncate(cut);
            }
            return Err(RequestError::UnknownMethod(name));
        };
        let text = params.get();
        if !depth_within(text, MAX_PARAMS_DEPTH) {
            return Err(RequestError::InvalidParams {
                method,
                detail: format!("nested deeper than {MAX_PARAMS_DEPTH}"),
            });
        }
        fn p<T: DeserializeOwned>(method: Method, text: &str) -> Result<T, RequestError> {
            serde_json::from_str(text).map_err(|e| RequestError::InvalidParams {
                method,
                detail: e.to_string(),
            })
        }
        use Method as M;
        use Request as R;
        Ok(match method {
            M::SessionList => R::SessionList,
            M::SessionCreate => R::SessionCreate(p(method, text)?),
            M::SessionMeta => R::SessionMeta(p(method, text)?),
            M::SessionAttach => R::SessionAttach(p(method, text)?),
            M::SessionEvents => R::SessionEvents(p(method, text)?),
            M::SessionInput => R::SessionInput(p(method, text)?),
            M::SessionResize => R::SessionResize(p(method, text)?),
            M::SessionDetach => R::SessionDetach(p(method, text)?),
            M::SessionClose => R::SessionClose(p(method, text)?),
            M::EnrollRedeem => R::EnrollRedeem(p(method, text)?),
            M::DeviceList => R::DeviceList,
            M::DeviceRevoke => R::DeviceRevoke(p(method, text)?),
            M::ConfigGet => R::ConfigGet,
            M::ConfigSet => R::ConfigSet(p(method, text)?),
            M::PairCreate => R::PairCreate(p(method, text)?),
            M::PairRedeem => R::PairRedeem(p(method, text)?),
            M::PairCancel => R::PairCancel(p(method, text)?),
            M::PairStatus => R::PairStatus(p(method, text)?),
            M::GrantList => R::GrantList(p(method, text)?),
            M::GrantRevoke => R::GrantRevoke(p(method, text)?),
            M::AuditList => R::AuditList(p(method, text)?),
        })
    }

    /// The method.
    pub fn method(&self) -> Method {
        use Method as M;
        use Request as R;
        match self {
            R::SessionList => M::SessionList,
            R::SessionCreate(_) => M::SessionCreate,
            R::SessionMeta(_) => M::SessionMeta,
            R::SessionAttach(_) => M::SessionAttach,
            R::SessionEvents(_) => M::SessionEvents,
            R::SessionInput(_) => M::SessionInput,
            R::SessionResize(_) => M::SessionResize,
            R::SessionDetach(_) => M::SessionDetach,
            R::SessionClose(_) => M::SessionClose,
            R::EnrollRedeem(_) => M::EnrollRedeem,
            R::DeviceList => M::DeviceList,
            R::DeviceRevoke(_) => M::DeviceRevoke,
            R::ConfigGet => M::ConfigGet,
            R::ConfigSet(_) => M::ConfigSet,
            R::PairCreate(_) => M::PairCreate,
            R::PairRedeem(_) => M::PairRedeem,
            R::PairCancel(_) => M::PairCancel,
            R::PairStatus(_) => M::PairStatus,
            R::GrantList(_) => M::GrantList,
            R::GrantRevoke(_) => M::GrantRevoke,
            R::AuditList(_) => M::AuditList,
        }
    }

    /// The session the request is about, if it names one (`audit.list`'s
    /// optional filter included).
    pub fn session(&self) -> Option<&str> {
        use Request as R;
        match self {
            R::SessionMeta(r) | R::SessionEvents(r) | R::SessionClose(r) | R::GrantList(r) => {
                Some(&r.session)
            }
            R::SessionAttach(a) => Some(&a.session),
            R::SessionInput(i) => Some(&i.session),
            R::SessionResize(r) => Some(&r.session),
            R::PairCreate(p) => Some(&p.session),
            R::PairCancel(p) | R::PairStatus(p) => Some(&p.session),
            R::GrantRevoke(g) => Some(&g.session),
            R::AuditList(q) => q.session.as_deref(),
            R::SessionList
            | R::SessionCreate(_)
            | R::SessionDetach(_)
            | R::EnrollRedeem(_)
            | R::DeviceList
            | R::DeviceRevoke(_)
            | R::ConfigGet
            | R::ConfigSet(_)
            | R::PairRedeem(_) => None,
        }
    }

    /// The parameters as they go on the wire.
    pub fn params(&self) -> Params {
        use Request as R;
        match self {
            R::SessionList | R::DeviceList | R::ConfigGet => Params::empty(),
            R::SessionCreate(x) => Params::new(x),
            R::SessionMeta(x) | R::SessionEvents(x) | R::SessionClose(x) | R::GrantList(x) => {
                Params::new(x)
            }
            R::SessionAttach(x) => Params::new(x),
            R::SessionInput(x) => Params::new(x),
            R::SessionResize(x) => Params::new(x),
            R::SessionDetach(x) => Params::new(x),
            R::EnrollRedeem(x) => Params::new(x),
            R::DeviceRevoke(x) => Params::new(x),
            R::ConfigSet(x) => Params::new(x),
            R::PairCreate(x) => Params::new(x),
            R::PairRedeem(x) => Params::new(x),
            R::PairCancel(x) | R::PairStatus(x) => Params::new(x),
            R::GrantRevoke(x) => Params::new(x),
            R::AuditList(x) => Params::new(x),
        }
    }

    /// The request as a message with id `id`.
    pub fn to_message(&self, id: u64) -> crate::Message {
        crate::Message::Request {
            id,
            method: self.method().as_str().to_owned(),
            params: self.params(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: serde_json::Value) -> Params {
        Params::from(v)
    }

    #[test]
    fn methods_and_wire_names_agree() {
        assert_eq!(Method::ALL.len(), m::ALL_METHODS.len());
        for (method, name) in Method::ALL.iter().zip(m::ALL_METHODS) {
            assert_eq!(method.as_str(), *name);
            assert_eq!(Method::from_wire(name), Some(*method));
        }
        assert_eq!(Method::from_wire("session.explode"), None);
        assert_eq!(Method::from_wire(""), None);
    }

    #[test]
    fn decodes_typed_params_and_names_the_session() {
        let r = Request::decode(
            "session.attach",
            &params(json!({"session": "s_1", "resume": {"mode": "offset", "offset": 5}})),
        )
        .unwrap();
        assert_eq!(
            r,
            Request::SessionAttach(Attach {
                session: "s_1".into(),
                resume: Resume::Offset { offset: 5 }
            })
        );
        assert_eq!(r.method(), Method::SessionAttach);
        assert_eq!(r.session(), Some("s_1"));
        let list = Request::decode("session.list", &params(json!([1, 2]))).unwrap();
        assert_eq!((list.clone(), list.session()), (Request::SessionList, None));
        let q = Request::decode("audit.list", &params(json!({"session": "s_2"}))).unwrap();
        assert_eq!(q.session(), Some("s_2"));
        // Missing optional fields take their defaults.
        let g = Request::decode("grant.revoke", &params(json!({"session": "s_3"}))).unwrap();
        assert_eq!(
            g,
            Request::GrantRevoke(GrantRevoke {
                session: "s_3".into(),
                grant_id: None,
                all: false
            })
        );
    }

    #[test]
    fn every_request_round_trips_through_its_params() {
        for method in Method::ALL {
            let example = match method {
                Method::SessionCreate => json!({"command": ["sh"], "env": {"A": "b"}}),
                Method::SessionAttach => json!({"session": "s", "resume": {"mode": "screen"}}),
                Method::SessionInput => json!({"session": "s", "data": "eQ0"}),
                Method::SessionResize => json!({"session": "s", "rows": 3, "cols": 4}),
                Method::SessionDetach => json!({"stream": 7}),
                Method::EnrollRedeem | Method::PairRedeem => json!({"token": "t"}),
                Method::DeviceRevoke => json!({"device_id": "d"}),
                Method::PairCancel | Method::PairStatus => {
                    json!({"session": "s", "token_id": "t"})
                }
                _ => json!({"session": "s"}),
            };
            let r = Request::decode(method.as_str(), &params(example)).unwrap();
            assert_eq!(r.method(), *method);
            let Message::Request {
                id,
                method: name,
                params: p,
            } = r.to_message(9)
            else {
                unreachable!()
            };
            assert_eq!((id, name.as_str()), (9, method.as_str()));
            assert_eq!(Request::decode(&name, &p).unwrap(), r);
        }
    }

    use crate::Message;

    #[test]
    fn rejections_have_stable_codes() {
        let e = Request::decode("fleet.list", &Params::empty()).unwrap_err();
        assert_eq!(e, RequestError::UnknownMethod("fleet.list".into()));
        assert_eq!(e.code(), ErrorCode::UnknownMethod);
        assert_eq!(e.method(), None);
        let body = ErrorBody::from(e);
        assert_eq!(body.code.as_str(), "unknown_method");
        assert_eq!(body.message, "unknown method \"fleet.list\"");
        // A long unknown name is quoted back cut short.
        let long = "é".repeat(100);
        let RequestError::UnknownMethod(n) = Request::decode(&long, &Params::empty()).unwrap_err()
        else {
            panic!()
        };
        assert!(n.len() <= MAX_QUOTED_METHOD);
        // Wrong shape: bad_request, with the method known.
        for bad in [json!({}), json!({"session": 5}), json!([]), json!("x")] {
            let e = Request::decode("session.meta", &params(bad)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::BadRequest);
            assert_eq!(e.method(), Some(Method::SessionMeta));
        }
        // Too deep, even in a field the type ignores, and even for a method
        // without parameters.
        let deep = format!(
            "{{\"session\":\"s\",\"x\":{}{}}}",
            "[".repeat(MAX_PARAMS_DEPTH),
            "]".repeat(MAX_PARAMS_DEPTH)
        );
        let p = Params::from_json(deep).unwrap();
        for method in ["session.meta", "session.list"] {
            let e = Request::decode(method, &p).unwrap_err();
            assert_eq!(e.code(), ErrorCode::BadRequest, "{method}");
        }
        // Exactly at the limit is fine; brackets inside strings do not count.
        let at = format!(
            "{{\"session\":\"[[[[{{{{\\\"\",\"x\":{}{}}}",
            "[".repeat(MAX_PARAMS_DEPTH - 1),
            "]".repeat(MAX_PARAMS_DEPTH - 1)
        );
        let r = Request::decode("session.meta", &Params::from_json(at).unwrap()).unwrap();
        assert_eq!(r.session(), Some("[[[[{{\""));
    }

    #[test]
    fn params_keep_their_text() {
        let p = Params::from_json("{ \"a\" : 1 }".into()).unwrap();
        assert_eq!(p.get(), "{ \"a\" : 1 }");
        assert_eq!(p.to_value(), json!({"a": 1}));
        assert_eq!(Params::from(serde_json::Value::Null), Params::empty());
        assert!(Params::from_json("{nope".into()).is_err());
    }
}
