//! Authorization: the one place that decides who may do what, from one
//! table ([`CAPABILITIES`]).
//!
//! A peer is identified by its Noise static key, which [`resolve`] turns into
//! a [`Principal`]: an owner device, a companion (a key holding grants), a
//! revoked owner device, or an unknown key. [`decide`] is the gate: it
//! takes the principal and what is asked ([`Ask`]: opening a connection, a
//! typed request, a request whose params did not decode, input on an attach
//! stream) and returns the decision. The gateway calls it from one place
//! (`gateway::dispatch::gate`), which also writes the `denied` audit record.
//!
//! An allowed ask comes with a [`Scope`]: for companions, the grant that
//! allowed it. The gateway names that grant in audit records, binds the
//! streams it opens to it ([`Scope::lease`]), ends them when its
//! `expires_at` passes, and cuts them when it is revoked. A denial that
//! [closes the connection](Denial::closes_connection) is `unauthorized`.
//!
//! `authorize` decides from the grants inside the principal: call
//! [`resolve`] again (it is two indexed queries) after anything changes the
//! key's grants, or per request.

use dd_proto::keys::encode_key;
use dd_proto::methods::GrantInfo;
use dd_proto::{ErrorBody, ErrorCode, Method, Request};

use crate::store::{Store, StoreError};

mod table;
#[cfg(test)]
mod tests;

pub use table::{
    capability, capability_table_markdown, operation_for, Capability, Operation, Rule, CAPABILITIES,
};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An enrolled, unrevoked owner device.
    Owner {
        /// Its device id.
        device_id: String,
    },
    /// A key holding companion grants (live or not).
    Companion {
        /// The peer's static key.
        key: [u8; 32],
        /// All its grants, revoked and expired ones included.
        grants: Vec<GrantInfo>,
    },
    /// A key whose owner device was revoked (and that holds no grants).
    RevokedOwner {
        /// The revoked device's id.
        device_id: String,
        /// The peer's static key.
        key: [u8; 32],
    },
    /// A key the agent does not know: it may only redeem a link.
    Unknown {
        /// The peer's static key.
        key: [u8; 32],
    },
}

impl Principal {
    /// The name the handshake reply uses: `owner`, `companion` or `unknown`.
    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Owner { .. } | Principal::RevokedOwner { .. } => "owner",
            Principal::Companion { .. } => "companion",
            Principal::Unknown { .. } => "unknown",
        }
    }

    /// The owner device's id, for an unrevoked owner.
    pub fn device_id(&self) -> Option<&str> {
        match self {
            Principal::Owner { device_id } => Some(device_id),
            _ => None,
        }
    }

    /// The audit actor for something about `session`: a companion is named
    /// by its grant on that session (`grant:g_…`) when it holds one, else
    /// as [`Principal::actor`].
    pub fn actor_on(&self, session: Option<&str>) -> String {
        if let (Principal::Companion { grants, .. }, Some(s)) = (self, session) {
            if let Some(g) = grants.iter().find(|g| g.session_id == s) {
                return format!("grant:{}", g.grant_id);
            }
        }
        self.actor()
    }

    /// The audit actor: `device:d_…`, or `key:` and the key's first 12
    /// characters for companions and unknown keys.
    pub fn actor(&self) -> String {
        match self {
            Principal::Owner { device_id } | Principal::RevokedOwner { device_id, .. } => {
                format!("device:{device_id}")
            }
            Principal::Companion { key, .. } | Principal::Unknown { key } => {
                format!("key:{}", &encode_key(key)[..12])
            }
        }
    }
}

/// The operation a typed request asks for (for `grant.revoke`, whether it is
/// the caller's own grant; see [`grant_revoke_operation`]).
pub fn operation(p: &Principal, req: &Request) -> Operation {
    match req {
        Request::GrantRevoke(r) => {
            grant_revoke_operation(p, &r.session, r.grant_id.as_deref(), r.all)
        }
        other => operation_for(other.method()),
    }
}

/// The `grant.revoke` operation for these parameters: `own` when the caller
/// is a companion naming one of its own grants of that session.
pub fn grant_revoke_operation(
    p: &Principal,
    session: &str,
    grant_id: Option<&str>,
    all: bool,
) -> Operation {
    let own = match (p, grant_id) {
        (Principal::Companion { grants, .. }, Some(id)) if !all => grants
            .iter()
            .any(|g| g.grant_id == id && g.session_id == session),
        _ => false,
    };
    Operation::GrantRevoke { own }
}

/// A refusal: a stable code and a message for the peer (never secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Denial {
    /// The code.
    pub code: ErrorCode,
    /// Why.
    pub message: String,
}

impl Denial {
    fn new(code: ErrorCode, message: &str) -> Denial {
        Denial {
            code,
            message: message.to_owned(),
        }
    }

    /// True when the connection is closed after the answer: the key is not
    /// enrolled for anything (`unauthorized`).
    pub fn closes_connection(&self) -> bool {
        self.code == ErrorCode::Unauthorized
    }
}

impl From<Denial> for ErrorBody {
    fn from(d: Denial) -> ErrorBody {
        ErrorBody::new(d.code, d.message)
    }
}

/// What an allowed request may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The grant that allowed it, for companions.
    pub grant: Option<GrantInfo>,
    /// Whether input is allowed (owners; companions with an input grant).
    pub can_input: bool,
}

/// The grant a companion's stream runs under: the stream ends when the
/// grant expires (`expires_at`) or is revoked (by `grant_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The grant.
    pub grant_id: String,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

impl Scope {
    /// The audit actor for what this scope allowed: the grant for a
    /// companion (`grant:g_…`), else the principal.
    pub fn actor(&self, p: &Principal) -> String {
        match &self.grant {
            Some(g) => format!("grant:{}", g.grant_id),
            None => p.actor(),
        }
    }

    /// What a stream opened under this scope is bound to (None for owners:
    /// their streams end only with the device's revocation).
    pub fn lease(&self) -> Option<Lease> {
        self.grant.as_ref().map(|g| Lease {
            grant_id: g.grant_id.clone(),
            expires_at: g.expires_at,
        })
    }
}

/// What is asked of [`decide`].
#[derive(Debug, Clone, Copy)]
pub enum Ask<'a> {
    /// Opening a connection (after the Noise handshake proved the key).
    Connect,
    /// A typed request.
    Request(&'a Request),
    /// A request of this method whose params did not decode: decided on the
    /// method alone, so that a refusal still wins over `bad_request`.
    Undecodable(Method),
    /// Input arriving on an attach stream of `session`.
    StreamInput {
        /// The stream's session.
        session: &'a str,
    },
}

impl Ask<'_> {
    /// How the ask is named in a `denied` audit record: `handshake`, the
    /// method, or `input`.
    pub fn name(&self) -> &'static str {
        match self {
            Ask::Connect => "handshake",
            Ask::Request(r) => r.method().as_str(),
            Ask::Undecodable(m) => m.as_str(),
            Ask::StreamInput { .. } => "input",
        }
    }

    /// The session it is about, if any.
    pub fn session(&self) -> Option<&str> {
        match self {
            Ask::Connect | Ask::Undecodable(_) => None,
            Ask::Request(r) => r.session(),
            Ask::StreamInput { session } => Some(session),
        }
    }
}

/// The gate: decides `ask` for `p` at `now`.
///
/// - `Connect`: a revoked owner device and a companion whose grants are all
///   dead are refused (`revoked` when all were revoked, else `expired`).
/// - `Request`: the table row of the request's operation
///   ([`operation`]: for `grant.revoke`, whether it is the caller's own
///   grant), on the session it names.
/// - `Undecodable`: the row of the method, with no session; allowed (the
///   caller then answers `bad_request`) unless the principal may not call
///   the method at all.
/// - `StreamInput`: as `session.input` on the stream's session.
pub fn decide(p: &Principal, ask: &Ask, now: i64) -> Result<Scope, Denial> {
    match *ask {
        Ask::Connect => check_handshake(p, now).map(|()| Scope {
            grant: None,
            can_input: false,
        }),
        Ask::Request(r) => authorize(p, operation(p, r), r.session(), now),
        Ask::Undecodable(m) => match authorize(p, operation_for(m), None, now) {
            Err(d) if d.code == ErrorCode::BadRequest => Ok(Scope {
                grant: None,
                can_input: false,
            }),
            other => other,
        },
        Ask::StreamInput { session } => authorize(p, Operation::SessionInput, Some(session), now),
    }
}

/// True while a grant is usable: not revoked and `now < expires_at`.
pub fn grant_active(g: &GrantInfo, now: i64) -> bool {
    g.revoked_at.is_none() && now < g.expires_at
}

/// Who `key` is: an owner if an unrevoked device has it; else a companion
/// if it holds any grant (live or not); else a revoked owner if a revoked
/// device had it; else unknown. `now` is unused in v1.
pub fn resolve(store: &Store, key: &[u8; 32], _now: i64) -> Result<Principal, StoreError> {
    let device = store.device_by_key(key)?;
    if let Some(d) = &device {
        if d.revoked_at.is_none() {
            return Ok(Principal::Owner {
                device_id: d.id.clone(),
            });
        }
    }
    let grants = store.grants_for_key(key)?;
    if !grants.is_empty() {
        return Ok(Principal::Companion { key: *key, grants });
    }
    Ok(match device {
        Some(d) => Principal::RevokedOwner {
            device_id: d.id,
            key: *key,
        },
        None => Principal::Unknown { key: *key },
    })
}

/// Why a set of dead grants is dead: `revoked` if all were revoked, else
/// `expired`.
fn dead(grants: &[&GrantInfo], what: &str) -> Denial {
    if grants.iter().all(|g| g.revoked_at.is_some()) {
        Denial::new(ErrorCode::Revoked, &format!("{what} revoked"))
    } else {
        Denial::new(ErrorCode::Expired, &format!("{what} expired"))
    }
}

/// Whether a connection may proceed at all: refuses a revoked owner device
/// and a companion whose grants are all dead (`revoked` when all were
/// revoked, else `expired`).
pub fn check_handshake(p: &Principal, now: i64) -> Result<(), Denial> {
    match p {
        Principal::Owner { .. } | Principal::Unknown { .. } => Ok(()),
        Principal::RevokedOwner { .. } => {
            Err(Denial::new(ErrorCode::Revoked, "this device was revoked"))
        }
        Principal::Companion { grants, .. } => {
            if grants.is_empty() || grants.iter().any(|g| grant_active(g, now)) {
                Ok(())
            } else {
                let all: Vec<&GrantInfo> = grants.iter().collect();
                Err(dead(&all, "every grant of this key was"))
            }
        }
    }
}

/// The best active grant among `grants`: one allowing input if there is.
fn best<'a>(grants: &[&'a GrantInfo], now: i64) -> Option<&'a GrantInfo> {
    let mut active = grants.iter().copied().filter(|g| grant_active(g, now));
    let first = active.next()?;
    Some(
        std::iter::once(first)
            .chain(active)
            .find(|g| !g.read_only)
            .unwrap_or(first),
    )
}

/// Decides one request: `op` on the `session` it names (if any).
pub fn authorize(
    p: &Principal,
    op: Operation,
    session: Option<&str>,
    now: i64,
) -> Result<Scope, Denial> {
    let row = capability(op);
    let simple = |rule: Rule, can_input: bool| match rule {
        Rule::Deny(code, why) => Err(Denial::new(code, why)),
        _ => Ok(Scope {
            grant: None,
            can_input,
        }),
    };
    let grants = match p {
        Principal::Owner { .. } => return simple(row.owner, true),
        Principal::Unknown { .. } => return simple(row.unknown, false),
        Principal::RevokedOwner { .. } => {
            return Err(Denial::new(ErrorCode::Revoked, "this device was revoked"))
        }
        Principal::Companion { grants, .. } => grants,
    };
    let candidates: Vec<&GrantInfo> = match (row.companion, row.read_only) {
        (Rule::Deny(code, why), Rule::Deny(..)) => return Err(Denial::new(code, why)),
        (Rule::Allow, _) => {
            return Ok(Scope {
                grant: None,
                can_input: false,
            })
        }
        (Rule::AnyGrant, _) => grants.iter().collect(),
        _ => {
            let Some(target) = session else {
                return Err(Denial::new(
                    ErrorCode::BadRequest,
                    "this operation needs a session",
                ));
            };
            let mine: Vec<&GrantInfo> = grants.iter().filter(|g| g.session_id == target).collect();
            if mine.is_empty() {
                return Err(Denial::new(
                    ErrorCode::Forbidden,
                    "this key has no grant for that session",
                ));
            }
            mine
        }
    };
    let Some(grant) = best(&candidates, now) else {
        return Err(dead(&candidates, "the grant was"));
    };
    let rule = if grant.read_only {
        row.read_only
    } else {
        row.companion
    };
    match rule {
        Rule::Deny(code, why) => Err(Denial::new(code, why)),
        _ => Ok(Scope {
            grant: Some(grant.clone()),
            can_input: !grant.read_only,
        }),
    }
}
