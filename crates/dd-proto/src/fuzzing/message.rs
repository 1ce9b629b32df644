//! The `message` target: [`Message::decode`] of arbitrary bytes, and the
//! JSON decoding of every parameter and result type in [`crate::methods`].

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ErrorBody;
use crate::message::{Event, Message};
use crate::methods::*;
use crate::request::{Params, Request};

/// Decodes `data` as a message; on success re-encodes it and decodes again,
/// which must give the same message. A request's params are then decoded as
/// its method's parameter type. Independently, `data` minus its first byte
/// is decoded as JSON of every parameter and result type; whatever decodes
/// must survive encode-then-decode unchanged.
pub fn message(data: &[u8]) {
    if let Ok(m) = Message::decode(data) {
        let again = Message::decode(&m.encode()).expect("re-encoded message does not decode");
        assert_eq!(again, m, "message does not round-trip");
        if let Message::Request { method, params, .. } = &m {
            request_params(method, params);
        }
    }
    if let Some((_, json)) = data.split_first() {
        all_types(json);
    }
}

/// Decodes bytes as `T`; if that works, `T` must round-trip through JSON.
fn typed_bytes<T>(b: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let t = serde_json::from_slice::<T>(b).ok()?;
    let back: T = serde_json::from_slice(&serde_json::to_vec(&t).expect("serializes"))
        .expect("re-encoded bytes do not decode");
    assert_eq!(back, t, "bytes do not round-trip");
    Some(t)
}

fn request_params(method: &str, p: &Params) {
    // Typed once; whatever types must survive its own params unchanged.
    if let Ok(r) = Request::decode(method, p) {
        assert_eq!(r.method().as_str(), method);
        let again = Request::decode(method, &r.params()).expect("re-encoded params do not decode");
        assert_eq!(again, r, "request does not round-trip");
    }
}

fn all_types(b: &[u8]) {
    // Parameters.
    typed_bytes::<CreateSession>(b);
    typed_bytes::<SessionRef>(b);
    typed_bytes::<Attach>(b);
    typed_bytes::<Resume>(b);
    typed_bytes::<SendInput>(b);
    typed_bytes::<Resize>(b);
    typed_bytes::<Detach>(b);
    typed_bytes::<EnrollRedeem>(b);
    typed_bytes::<DeviceRef>(b);
    typed_bytes::<AgentConfigPatch>(b);
    typed_bytes::<PairCreate>(b);
    typed_bytes::<PairRedeem>(b);
    typed_bytes::<PairCancel>(b);
    typed_bytes::<GrantRevoke>(b);
    typed_bytes::<AuditQuery>(b);
    // Results, handshake payloads and stream events.
    typed_bytes::<SessionList>(b);
    typed_bytes::<SessionInfo>(b);
    typed_bytes::<Attached>(b);
    typed_bytes::<Enrolled>(b);
    typed_bytes::<DeviceList>(b);
    typed_bytes::<AgentConfig>(b);
    typed_bytes::<PairCreated>(b);
    typed_bytes::<PairStatus>(b);
    typed_bytes::<GrantList>(b);
    typed_bytes::<Revoked>(b);
    typed_bytes::<AuditList>(b);
    typed_bytes::<Health>(b);
    typed_bytes::<Hello>(b);
    typed_bytes::<Welcome>(b);
    typed_bytes::<ErrorBody>(b);
    typed_bytes::<Event>(b);
    if let Some(p) = typed_bytes::<InputNeeded>(b) {
        for c in &p.choices {
            let _ = c.bytes();
            let _ = p.find_choice(&c.label);
            let _ = p.find_choice(&c.input);
        }
        let _ = p.find_choice(&p.body);
    }
}
