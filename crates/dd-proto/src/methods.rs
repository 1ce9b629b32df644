//! Method names and their parameter and result types.
//!
//! Every request carries a JSON object of parameters and every success a JSON
//! object result. Times are Unix seconds (`i64`); keys are
//! [`crate::keys`]-encoded; ids are opaque strings (`s_…` sessions,
//! `d_…` devices, `g_…` grants, `t_…` tokens).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `session.list` → [`SessionList`]. Owner only.
pub const SESSION_LIST: &str = "session.list";
/// `session.create` [`CreateSession`] → [`SessionInfo`]. Owner only.
pub const SESSION_CREATE: &str = "session.create";
/// `session.meta` [`SessionRef`] → [`SessionInfo`].
pub const SESSION_META: &str = "session.meta";
/// `session.attach` [`Attach`] → [`Attached`]; then stream messages.
pub const SESSION_ATTACH: &str = "session.attach";
/// `session.events` [`SessionRef`] → [`Attached`]; then event messages
/// (no output) on the stream whose id is the request id.
pub const SESSION_EVENTS: &str = "session.events";
/// `session.input` [`SendInput`] → `{}`.
pub const SESSION_INPUT: &str = "session.input";
/// `session.resize` [`Resize`] → `{}`. Owner only.
pub const SESSION_RESIZE: &str = "session.resize";
/// `session.detach` [`Detach`] → `{}`.
pub const SESSION_DETACH: &str = "session.detach";
/// `session.close` [`SessionRef`] → [`SessionInfo`]. Owner only.
pub const SESSION_CLOSE: &str = "session.close";
/// `enroll.redeem` [`EnrollRedeem`] → [`Enrolled`]. Any key.
pub const ENROLL_REDEEM: &str = "enroll.redeem";
/// `device.list` → [`DeviceList`]. Owner only.
pub const DEVICE_LIST: &str = "device.list";
/// `device.revoke` [`DeviceRef`] → `{}`. Owner only.
pub const DEVICE_REVOKE: &str = "device.revoke";
/// `agent.config.get` → [`AgentConfig`]. Owner only.
pub const AGENT_CONFIG_GET: &str = "agent.config.get";
/// `agent.config.set` [`AgentConfigPatch`] → [`AgentConfig`]. Owner only.
pub const AGENT_CONFIG_SET: &str = "agent.config.set";
/// `pair.create` [`PairCreate`] → [`PairCreated`]. Owner only.
pub const PAIR_CREATE: &str = "pair.create";
/// `pair.redeem` [`PairRedeem`] → [`GrantInfo`]. Any key.
pub const PAIR_REDEEM: &str = "pair.redeem";
/// `pair.cancel` [`PairCancel`] → `{}`. Owner only.
pub const PAIR_CANCEL: &str = "pair.cancel";
/// `pair.status` [`PairCancel`] → [`PairStatus`]. Owner only.
pub const PAIR_STATUS: &str = "pair.status";
/// `grant.list` [`SessionRef`] → [`GrantList`]. Owner only.
pub const GRANT_LIST: &str = "grant.list";
/// `grant.revoke` [`GrantRevoke`] → [`Revoked`]. Owner; a companion for its own grant.
pub const GRANT_REVOKE: &str = "grant.revoke";
/// `audit.list` [`AuditQuery`] → [`AuditList`]. Owner only.
pub const AUDIT_LIST: &str = "audit.list";

/// Every method this version defines.
pub const ALL_METHODS: &[&str] = &[
    SESSION_LIST,
    SESSION_CREATE,
    SESSION_META,
    SESSION_ATTACH,
    SESSION_EVENTS,
    SESSION_INPUT,
    SESSION_RESIZE,
    SESSION_DETACH,
    SESSION_CLOSE,
    ENROLL_REDEEM,
    DEVICE_LIST,
    DEVICE_REVOKE,
    AGENT_CONFIG_GET,
    AGENT_CONFIG_SET,
    PAIR_CREATE,
    PAIR_REDEEM,
    PAIR_CANCEL,
    PAIR_STATUS,
    GRANT_LIST,
    GRANT_REVOKE,
    AUDIT_LIST,
];

/// Payload of the initiator's first handshake message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// [`crate::PROTOCOL_VERSION`] of the client.
    pub version: u32,
    /// Free-form client name and version, for logs (`dd-client/0.1.0`).
    pub client: String,
}

/// Payload of the responder's handshake message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// [`crate::PROTOCOL_VERSION`] of the agent.
    pub version: u32,
    /// What the agent takes this key for: `owner`, `companion` or `unknown`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub principal: Option<String>,
    /// Set when the agent refuses the connection (revoked, expired,
    /// unsupported version, rate limited); the agent then closes it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<crate::ErrorBody>,
}

/// Lifecycle state of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// The process is running.
    Running,
    /// The process exited by itself; see `exit_code`.
    Exited,
    /// An owner closed the session.
    Closed,
    /// The agent stopped while the session ran; its transcript is kept.
    Lost,
}

impl SessionStatus {
    /// True while the session can take input.
    pub fn is_live(self) -> bool {
        self == SessionStatus::Running
    }
}

/// A session's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Session id (`s_…`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// The command line it runs.
    pub command: Vec<String>,
    /// Working directory.
    pub cwd: String,
    /// Lifecycle state.
    pub status: SessionStatus,
    /// Exit code once exited (None if killed by a signal or still running).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Creation time.
    pub created_at: i64,
    /// PTY rows.
    pub rows: u16,
    /// PTY columns.
    pub cols: u16,
    /// The terminal title the program set (OSC 0/2), if any.
    #[serde(default)]
    pub title: String,
    /// Transcript length: the offset the next output byte will have.
    pub end_offset: u64,
    /// Attach streams open on it now.
    pub clients: u32,
    /// The prompt the session waits on, if any (see [`InputNeeded`]).
    #[serde(default)]
    pub waiting: Option<Box<InputNeeded>>,
}

/// What raised an [`InputNeeded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptSource {
    /// A BEL (`0x07`) outside any escape sequence.
    Bel,
    /// An OSC 9 notification (`ESC ] 9 ; text BEL`).
    Osc9,
    /// An OSC 777 notification (`ESC ] 777 ; notify ; title ; body BEL`).
    Osc777,
    /// An OSC 99 (kitty) notification.
    Osc99,
    /// Quiet output with the screen ending in a question or menu.
    Heuristic,
    /// An agent's own hook (Claude Code hooks, Codex `notify`) through
    /// `dd-client hook`, which writes `ESC ] 6464 ; needed ; … ST`.
    Hook,
    /// A source this version does not know (sent by a newer agent).
    #[serde(other)]
    Other,
}

/// One likely answer to a prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// What to show on the button (`Yes`, `No`, `Continue`, a menu item).
    pub label: String,
    /// The bytes to send as input to choose it, base64url
    /// ([`crate::keys::encode_bytes`]); e.g. `y\r`, or arrow keys and `\r`.
    pub input: String,
}

impl Choice {
    /// A choice sending `bytes`.
    pub fn new(label: impl Into<String>, bytes: &[u8]) -> Choice {
        Choice {
            label: label.into(),
            input: crate::keys::encode_bytes(bytes),
        }
    }

    /// The bytes to send, or `None` if `input` is not valid base64url.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        crate::keys::decode_bytes(&self.input)
    }
}

/// A session waits for input: what the `input_needed` event and
/// [`SessionInfo::waiting`] carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputNeeded {
    /// The session id.
    pub session: String,
    /// Per-session sequence number of this prompt (1, 2, ...); the matching
    /// `input_cleared` names it.
    pub seq: u64,
    /// A headline: the notification's title (OSC 777/99), else the
    /// session's terminal title, else its name.
    pub title: String,
    /// The notification text: the OSC 9/777/99 body; for the heuristic the
    /// question line; for BEL the last non-empty screen line.
    pub body: String,
    /// The last non-empty lines of the screen (at most 10, box borders
    /// removed), joined by `\n`.
    pub prompt: String,
    /// Likely answers, in screen order (may be empty: answer by typing).
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// When it was raised (Unix seconds).
    pub at: i64,
    /// What raised it.
    pub source: PromptSource,
}

impl InputNeeded {
    /// The choice named by `answer`: a label (case-insensitive), the
    /// choice's input text without its final Enter (`y`), or a 1-based
    /// index (`1`), tried in that order.
    pub fn find_choice(&self, answer: &str) -> Option<&Choice> {
        let a = answer.trim();
        if let Some(c) = self
            .choices
            .iter()
            .find(|c| c.label.eq_ignore_ascii_case(a))
        {
            return Some(c);
        }
        let typed = |c: &&Choice| {
            c.bytes()
                .map(|b| b.strip_suffix(b"\r").map(<[u8]>::to_vec).unwrap_or(b))
                .is_some_and(|b| !b.is_empty() && b.eq_ignore_ascii_case(a.as_bytes()))
        };
        if let Some(c) = self.choices.iter().find(typed) {
            return Some(c);
        }
        a.parse::<usize>()
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.choices.get(i))
    }
}

/// `session.list` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    /// All sessions, newest first.
    pub sessions: Vec<SessionInfo>,
}

/// `session.create` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSession {
    /// Human name; defaults to the command's program name.
    #[serde(default)]
    pub name: Option<String>,
    /// Command and arguments; defaults to the agent user's `$SHELL`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Working directory; defaults to the agent user's home.
    #[serde(default)]
    pub cwd: Option<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Initial PTY rows (default 24).
    #[serde(default)]
    pub rows: Option<u16>,
    /// Initial PTY columns (default 80).
    #[serde(default)]
    pub cols: Option<u16>,
}

/// Parameters naming one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRef {
    /// Session id.
    pub session: String,
}

/// Where an attach stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Resume {
    /// Every byte from transcript offset `offset` on (0 = from the start):
    /// nothing lost, nothing repeated.
    Offset {
        /// First offset wanted.
        offset: u64,
    },
    /// A snapshot of the current screen, then live output.
    Screen,
    /// The last `bytes` bytes of the transcript, then live output.
    Tail {
        /// How many bytes of history.
        bytes: u64,
    },
    /// A live view for links that may not keep up: a snapshot, then live
    /// output; whenever the stream falls behind the session by more than
    /// a bound, a fresh snapshot of the present instead of the backlog
    /// (docs/protocol.md, "Stream modes"). Output offsets then jump.
    Live,
}

/// `session.attach` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attach {
    /// Session id.
    pub session: String,
    /// Where to start.
    pub resume: Resume,
}

/// `session.attach` result. Stream messages use the request id as stream id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attached {
    /// The stream id (the attach request's id).
    pub stream: u64,
    /// The session as it stands.
    pub session: SessionInfo,
    /// May this stream send input?
    pub can_input: bool,
}

/// `session.input` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendInput {
    /// Session id.
    pub session: String,
    /// The bytes, base64url (see [`crate::keys::encode_bytes`]).
    pub data: String,
}

/// `session.resize` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resize {
    /// Session id.
    pub session: String,
    /// New rows (1..=1000).
    pub rows: u16,
    /// New columns (1..=1000).
    pub cols: u16,
}

/// `session.detach` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detach {
    /// The stream to end.
    pub stream: u64,
}

/// `enroll.redeem` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRedeem {
    /// The token from the enrollment link's fragment.
    pub token: String,
    /// A label for this device.
    #[serde(default)]
    pub label: String,
}

/// `enroll.redeem` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    /// The new owner device's id.
    pub device_id: String,
}

/// An owner device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Device id (`d_…`).
    pub id: String,
    /// Its label.
    pub label: String,
    /// Its static public key.
    pub key: String,
    /// Enrollment time.
    pub created_at: i64,
    /// Last time it connected.
    #[serde(default)]
    pub last_seen: Option<i64>,
    /// When it was revoked, if it was.
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

/// `device.list` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    /// All devices, revoked ones included.
    pub devices: Vec<DeviceInfo>,
}

/// `device.revoke` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRef {
    /// Device id.
    pub device_id: String,
}

/// The agent's runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConfig {
    /// Default pairing-token lifetime, seconds.
    pub pair_token_ttl_secs: u64,
    /// Longest pairing-token lifetime an owner may ask for, seconds.
    pub pair_token_max_ttl_secs: u64,
    /// Default grant lifetime, seconds.
    pub grant_ttl_secs: u64,
    /// Longest grant lifetime an owner may ask for, seconds.
    pub grant_max_ttl_secs: u64,
    /// The public base for universal links (`https://dd.example.com`), if set.
    #[serde(default)]
    pub public_link_base: Option<String>,
    /// How long output must be quiet before the input-needed heuristic
    /// looks at the screen, milliseconds (0 turns the heuristic off).
    #[serde(default = "default_prompt_quiet_ms")]
    pub prompt_quiet_ms: u64,
    /// Whether the input-needed heuristic runs at all (explicit signals —
    /// BEL, OSC 9/777/99 — are always on).
    #[serde(default = "default_true")]
    pub prompt_heuristic: bool,
}

/// The default [`AgentConfig::prompt_quiet_ms`].
pub const DEFAULT_PROMPT_QUIET_MS: u64 = 1500;

/// The largest [`AgentConfig::prompt_quiet_ms`] accepted (10 minutes).
pub const MAX_PROMPT_QUIET_MS: u64 = 600_000;

fn default_prompt_quiet_ms() -> u64 {
    DEFAULT_PROMPT_QUIET_MS
}

fn default_true() -> bool {
    true
}

/// `agent.config.set` parameters: the fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentConfigPatch {
    /// New default pairing-token lifetime.
    #[serde(default)]
    pub pair_token_ttl_secs: Option<u64>,
    /// New longest pairing-token lifetime.
    #[serde(default)]
    pub pair_token_max_ttl_secs: Option<u64>,
    /// New default grant lifetime.
    #[serde(default)]
    pub grant_ttl_secs: Option<u64>,
    /// New longest grant lifetime.
    #[serde(default)]
    pub grant_max_ttl_secs: Option<u64>,
    /// New input-needed quiet period, ms (0 turns the heuristic off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_quiet_ms: Option<u64>,
    /// Turn the input-needed heuristic on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_heuristic: Option<bool>,
}

/// `pair.create` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairCreate {
    /// The session to share.
    pub session: String,
    /// Token lifetime in seconds (default: agent config).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    /// Grant lifetime in seconds once redeemed (default: agent config).
    #[serde(default)]
    pub grant_ttl_secs: Option<u64>,
    /// Make the grant read-only (watch, no input).
    #[serde(default)]
    pub read_only: bool,
    /// A label for the token (shown in audit).
    #[serde(default)]
    pub label: Option<String>,
}

/// `pair.create` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairCreated {
    /// The pairing link (custom scheme, or universal link when configured).
    pub link: String,
    /// The token's id, to cancel it or ask its status.
    pub token_id: String,
    /// The session it pairs to.
    pub session_id: String,
    /// When the token expires.
    pub expires_at: i64,
    /// Whether the grant it makes is read-only.
    pub read_only: bool,
}

/// `pair.redeem` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairRedeem {
    /// The token from the link's fragment.
    pub token: String,
    /// A label for the redeeming device ("Ana's iPhone").
    #[serde(default)]
    pub label: String,
}

/// `pair.cancel` and `pair.status` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairCancel {
    /// The session the token was made for.
    pub session: String,
    /// The token id.
    pub token_id: String,
}

/// `pair.status` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairStatus {
    /// `pending`, `redeemed`, `expired` or `cancelled`.
    pub state: String,
    /// The grant it made, once redeemed.
    #[serde(default)]
    pub grant: Option<GrantInfo>,
}

/// An operation a grant allows. The wire names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Read the session's metadata.
    Meta,
    /// Attach, stream output, replay.
    Attach,
    /// Send input and prompt answers.
    Input,
    /// Detach its streams.
    Detach,
    /// Receive input-needed events.
    Events,
    /// Revoke its own grant.
    RevokeSelf,
}

/// A companion grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantInfo {
    /// Grant id (`g_…`).
    pub grant_id: String,
    /// The one session it is for.
    pub session_id: String,
    /// The label the phone sent.
    pub label: String,
    /// True when it cannot send input.
    pub read_only: bool,
    /// What it allows.
    pub ops: Vec<Op>,
    /// Creation time.
    pub created_at: i64,
    /// Expiry time.
    pub expires_at: i64,
    /// Last request or stream activity.
    #[serde(default)]
    pub last_seen: Option<i64>,
    /// When it was revoked, if it was.
    #[serde(default)]
    pub revoked_at: Option<i64>,
    /// Attach streams open on it now.
    #[serde(default)]
    pub connected: u32,
    /// Who minted the pairing token it was made from (`device:d_…`,
    /// `local`); revoking that device revokes this grant too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// `grant.list` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantList {
    /// The session's grants, revoked and expired ones included.
    pub grants: Vec<GrantInfo>,
}

/// `grant.revoke` parameters: one grant, or all grants of the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRevoke {
    /// The session.
    pub session: String,
    /// The grant; omit with `all: true`.
    #[serde(default)]
    pub grant_id: Option<String>,
    /// Revoke every live grant of the session.
    #[serde(default)]
    pub all: bool,
}

/// `grant.revoke` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// How many grants this call revoked.
    pub revoked: u32,
}

/// `audit.list` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Only records about this session.
    #[serde(default)]
    pub session: Option<String>,
    /// At most this many records, newest first (default 100, max 1000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only records with this action (`token_redeemed`, `denied`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only records older than this record id: the paging cursor (the
    /// `next_before` of the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at: i64,
    /// What: `token_minted`, `token_redeemed`, `redeem_failed`, `grant_attached`,
    /// `grant_detached`, `denied`, `grant_revoked`, `grant_expired`, ...
    pub action: String,
    /// Who: `device:d_…`, `grant:g_…`, `key:<prefix>`, `local`.
    pub actor: String,
    /// The session concerned, if any.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Details (method, reason, source address); never secrets.
    pub detail: String,
    /// How many events this record stands for: repeated denials from one
    /// source for one reason within an interval share one record.
    #[serde(default = "one")]
    pub count: u64,
    /// When the last of them happened (aggregated records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<i64>,
}

fn one() -> u64 {
    1
}

/// `audit.list` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditList {
    /// Records, newest first.
    pub records: Vec<AuditRecord>,
    /// When more (older) records match: pass this as `before` for the
    /// next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// The agent's `GET /health` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"`.
    pub status: String,
    /// [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u32,
    /// [`crate::NOISE_PARAMS`].
    pub noise: String,
    /// The agent's static public key.
    pub agent_key: String,
    /// The agent's version.
    pub agent_version: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prompt() -> InputNeeded {
        InputNeeded {
            session: "s_1".into(),
            seq: 1,
            title: "t".into(),
            body: "Continue?".into(),
            prompt: "Continue? [y/N]".into(),
            choices: vec![Choice::new("Yes", b"y\r"), Choice::new("No", b"n\r")],
            at: 1,
            source: PromptSource::Heuristic,
        }
    }

    #[test]
    fn resume_modes_on_the_wire() {
        for (r, j) in [
            (Resume::Live, json!({"mode": "live"})),
            (Resume::Screen, json!({"mode": "screen"})),
            (
                Resume::Offset { offset: 7 },
                json!({"mode": "offset", "offset": 7}),
            ),
            (
                Resume::Tail { bytes: 9 },
                json!({"mode": "tail", "bytes": 9}),
            ),
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), j);
            assert_eq!(serde_json::from_value::<Resume>(j).unwrap(), r);
        }
        assert!(serde_json::from_value::<Resume>(json!({"mode": "mosh"})).is_err());
    }

    #[test]
    fn choices_are_found_by_label_input_or_index() {
        let p = prompt();
        assert_eq!(p.find_choice("yes").unwrap().label, "Yes");
        assert_eq!(p.find_choice("n").unwrap().label, "No");
        assert_eq!(p.find_choice(" 2 ").unwrap().label, "No");
        assert_eq!(p.find_choice("1").unwrap().bytes().unwrap(), b"y\r");
        for missing in ["0", "3", "maybe", "", "-1", "99999999999999999999999"] {
            assert!(p.find_choice(missing).is_none(), "{missing:?}");
        }
        let bad = Choice {
            label: "x".into(),
            input: "!!".into(),
        };
        assert_eq!(bad.bytes(), None);
    }

    #[test]
    fn wire_shapes() {
        let v = serde_json::to_value(prompt()).unwrap();
        assert_eq!(v["source"], "heuristic");
        assert_eq!(v["choices"][0], json!({"label": "Yes", "input": "eQ0"}));
        // Unknown sources from a newer agent still decode.
        let mut v2 = v.clone();
        v2["source"] = json!("osc1337");
        let p: InputNeeded = serde_json::from_value(v2).unwrap();
        assert_eq!(p.source, PromptSource::Other);
        for (s, want) in [
            (PromptSource::Bel, "bel"),
            (PromptSource::Osc9, "osc9"),
            (PromptSource::Osc777, "osc777"),
            (PromptSource::Osc99, "osc99"),
            (PromptSource::Hook, "hook"),
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), want);
        }
        // Old peers' SessionInfo and AgentConfig (no new fields) still decode.
        let info: SessionInfo = serde_json::from_value(json!({
            "id": "s_1", "name": "sh", "command": ["sh"], "cwd": "/",
            "status": "running", "created_at": 1, "rows": 24, "cols": 80,
            "end_offset": 0, "clients": 0
        }))
        .unwrap();
        assert_eq!(info.waiting, None);
        let cfg: AgentConfig = serde_json::from_value(json!({
            "pair_token_ttl_secs": 1, "pair_token_max_ttl_secs": 2,
            "grant_ttl_secs": 3, "grant_max_ttl_secs": 4
        }))
        .unwrap();
        assert_eq!(cfg.prompt_quiet_ms, DEFAULT_PROMPT_QUIET_MS);
        assert!(cfg.prompt_heuristic);
    }
}
