//! The capability table (v1), as data: one row per operation, one column
//! per kind of principal. [`super::authorize`] is its only interpreter.

use dd_proto::{ErrorCode, Method};

/// What is being asked: derived from the method name and its target session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `session.list`.
    SessionList,
    /// `session.create`.
    SessionCreate,
    /// `session.meta`.
    SessionMeta,
    /// `session.attach`.
    SessionAttach,
    /// `session.events`.
    SessionEvents,
    /// `session.input`.
    SessionInput,
    /// `session.resize`.
    SessionResize,
    /// `session.detach`.
    SessionDetach,
    /// `session.close`.
    SessionClose,
    /// `enroll.redeem`.
    EnrollRedeem,
    /// `pair.redeem`.
    PairRedeem,
    /// `device.list`.
    DeviceList,
    /// `device.revoke`.
    DeviceRevoke,
    /// `agent.config.get`.
    ConfigGet,
    /// `agent.config.set`.
    ConfigSet,
    /// `pair.create`.
    PairCreate,
    /// `pair.cancel`.
    PairCancel,
    /// `pair.status`.
    PairStatus,
    /// `grant.list`.
    GrantList,
    /// `grant.revoke`; `own` when the caller names one of its own grants
    /// (see [`super::grant_revoke_operation`]).
    GrantRevoke {
        /// The grant revoked is the caller's own.
        own: bool,
    },
    /// `audit.list`.
    AuditList,
}

/// What the table says for one operation and one kind of principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Allowed.
    Allow,
    /// Allowed on the target session only, with an active grant for it.
    OwnSession,
    /// Allowed with any active grant (the gateway checks the stream is the
    /// caller's own).
    AnyGrant,
    /// Refused with this code and message.
    Deny(ErrorCode, &'static str),
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::Allow => f.write_str("yes"),
            Rule::OwnSession => f.write_str("its session"),
            Rule::AnyGrant => f.write_str("with a live grant"),
            Rule::Deny(code, _) => write!(f, "`{code}`"),
        }
    }
}

/// One row of the capability table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// The operation.
    pub op: Operation,
    /// The method it comes from.
    pub method: Method,
    /// What it is, in a few words (for the docs).
    pub what: &'static str,
    /// For an owner device.
    pub owner: Rule,
    /// For a companion whose grant allows input.
    pub companion: Rule,
    /// For a companion whose grant is read-only.
    pub read_only: Rule,
    /// For an unknown key.
    pub unknown: Rule,
}

const NOT_ENROLLED: &str = "this key is not enrolled; redeem an enrollment or pairing link first";
const OWNER_ONLY: &str = "only an owner device may do this";
const NO_RESIZE: &str = "phones never resize the canonical PTY";
const READ_ONLY: &str = "read-only grant";
const OWN_GRANT_ONLY: &str = "a companion may revoke only its own grant";
const NO_ENROLL: &str = "a companion key cannot enroll as an owner device";

const F: ErrorCode = ErrorCode::Forbidden;
const U: Rule = Rule::Deny(ErrorCode::Unauthorized, NOT_ENROLLED);
const OWNER: Rule = Rule::Deny(F, OWNER_ONLY);

const fn owner_only(op: Operation, method: Method, what: &'static str) -> Capability {
    Capability {
        op,
        method,
        what,
        owner: Rule::Allow,
        companion: OWNER,
        read_only: OWNER,
        unknown: U,
    }
}

const fn companion(
    op: Operation,
    method: Method,
    what: &'static str,
    companion: Rule,
    read_only: Rule,
) -> Capability {
    Capability {
        op,
        method,
        what,
        owner: Rule::Allow,
        companion,
        read_only,
        unknown: U,
    }
}

/// The capability table (v1). The owner may do everything; a companion
/// only what its grant allows on its own session; an unknown key only
/// redeem a link. `grant.revoke` appears twice: the `own: false` row first,
/// which is what the method alone maps to.
pub const CAPABILITIES: &[Capability] = {
    use Method as M;
    use Operation as O;
    use Rule::{AnyGrant, Deny, OwnSession};
    &[
        owner_only(O::SessionList, M::SessionList, "list sessions"),
        owner_only(O::SessionCreate, M::SessionCreate, "create a session"),
        companion(
            O::SessionMeta,
            M::SessionMeta,
            "session metadata, with the prompt it waits on",
            OwnSession,
            OwnSession,
        ),
        companion(
            O::SessionAttach,
            M::SessionAttach,
            "attach: output, replay, screen, input-needed events",
            OwnSession,
            OwnSession,
        ),
        companion(
            O::SessionEvents,
            M::SessionEvents,
            "input-needed events only",
            OwnSession,
            OwnSession,
        ),
        companion(
            O::SessionInput,
            M::SessionInput,
            "send input, prompt answers (also input on a stream)",
            OwnSession,
            Deny(F, READ_ONLY),
        ),
        companion(
            O::SessionResize,
            M::SessionResize,
            "resize the PTY",
            Deny(F, NO_RESIZE),
            Deny(F, NO_RESIZE),
        ),
        companion(
            O::SessionDetach,
            M::SessionDetach,
            "detach a stream of this connection",
            AnyGrant,
            AnyGrant,
        ),
        owner_only(O::SessionClose, M::SessionClose, "close a session"),
        Capability {
            op: O::EnrollRedeem,
            method: M::EnrollRedeem,
            what: "redeem an enrollment token",
            owner: Rule::Allow,
            companion: Deny(F, NO_ENROLL),
            read_only: Deny(F, NO_ENROLL),
            unknown: Rule::Allow,
        },
        Capability {
            op: O::PairRedeem,
            method: M::PairRedeem,
            what: "redeem a pairing token",
            owner: Rule::Allow,
            companion: Rule::Allow,
            read_only: Rule::Allow,
            unknown: Rule::Allow,
        },
        owner_only(O::DeviceList, M::DeviceList, "list owner devices"),
        owner_only(O::DeviceRevoke, M::DeviceRevoke, "revoke an owner device"),
        owner_only(O::ConfigGet, M::ConfigGet, "read the agent config"),
        owner_only(O::ConfigSet, M::ConfigSet, "change the agent config"),
        owner_only(O::PairCreate, M::PairCreate, "make a pairing link"),
        owner_only(O::PairCancel, M::PairCancel, "cancel a pairing token"),
        owner_only(O::PairStatus, M::PairStatus, "a pairing token's status"),
        owner_only(O::GrantList, M::GrantList, "list a session's grants"),
        companion(
            O::GrantRevoke { own: false },
            M::GrantRevoke,
            "revoke another's grant, or all",
            Deny(F, OWN_GRANT_ONLY),
            Deny(F, OWN_GRANT_ONLY),
        ),
        companion(
            O::GrantRevoke { own: true },
            M::GrantRevoke,
            "revoke its own grant",
            OwnSession,
            OwnSession,
        ),
        owner_only(O::AuditList, M::AuditList, "read the audit log"),
    ]
};

/// The table row for `op`.
pub fn capability(op: Operation) -> &'static Capability {
    CAPABILITIES
        .iter()
        .find(|c| c.op == op)
        .expect("every operation has a row in CAPABILITIES")
}

/// The operation a method asks for, from the method alone.
/// `grant.revoke` maps to `GrantRevoke { own: false }`; use
/// [`super::operation`] once the parameters are known.
pub fn operation_for(method: Method) -> Operation {
    CAPABILITIES
        .iter()
        .find(|c| c.method == method)
        .map(|c| c.op)
        .expect("every method has a row in CAPABILITIES")
}

/// The table as Markdown: the capability table of `docs/security.md`,
/// which a test keeps equal to this, byte for byte.
pub fn capability_table_markdown() -> String {
    let mut out = String::from(
        "| method | what | owner | companion | read-only companion | unknown key |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut refusals: Vec<(ErrorCode, &str)> = Vec::new();
    for c in CAPABILITIES {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            c.method, c.what, c.owner, c.companion, c.read_only, c.unknown
        ));
        for rule in [c.owner, c.companion, c.read_only, c.unknown] {
            if let Rule::Deny(code, why) = rule {
                if !refusals.contains(&(code, why)) {
                    refusals.push((code, why));
                }
            }
        }
    }
    out.push_str("\n| refusal | message |\n|---|---|\n");
    for (code, why) in refusals {
        out.push_str(&format!("| `{code}` | {why} |\n"));
    }
    out
}
