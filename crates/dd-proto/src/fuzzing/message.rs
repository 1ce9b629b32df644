//! The `message` target: [`Message::decode`] of arbitrary bytes, and the
//! JSON decoding of every parameter and result type in [`crate::methods`].

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::ErrorBody;
use crate::message::{Event, Message};
use crate::methods::*;

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

/// Decodes `v` as `T`; if that works, `T` must round-trip through JSON.
fn typed_value<T>(v: &Value)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(t) = serde_json::from_value::<T>(v.clone()) {
        let back: T = serde_json::from_value(serde_json::to_value(&t).expect("serializes"))
            .expect("re-encoded value does not decode");
        assert_eq!(back, t, "value does not round-trip");
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

fn request_params(method: &str, p: &Value) {
    match method {
        SESSION_CREATE => typed_value::<CreateSession>(p),
        SESSION_META | SESSION_EVENTS | SESSION_CLOSE | GRANT_LIST => typed_value::<SessionRef>(p),
        SESSION_ATTACH => typed_value::<Attach>(p),
        SESSION_INPUT => typed_value::<SendInput>(p),
        SESSION_RESIZE => typed_value::<Resize>(p),
        SESSION_DETACH => typed_value::<Detach>(p),
        ENROLL_REDEEM => typed_value::<EnrollRedeem>(p),
        DEVICE_REVOKE => typed_value::<DeviceRef>(p),
        AGENT_CONFIG_SET => typed_value::<AgentConfigPatch>(p),
        PAIR_CREATE => typed_value::<PairCreate>(p),
        PAIR_REDEEM => typed_value::<PairRedeem>(p),
        PAIR_CANCEL | PAIR_STATUS => typed_value::<PairCancel>(p),
        GRANT_REVOKE => typed_value::<GrantRevoke>(p),
        AUDIT_LIST => typed_value::<AuditQuery>(p),
        _ => {}
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
