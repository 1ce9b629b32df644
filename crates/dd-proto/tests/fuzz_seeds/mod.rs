//! The seed corpus: real encodings for each fuzz target.

use dd_proto::error::{ErrorBody, ErrorCode};
use dd_proto::frame::{fragment, FLAG_FINAL, FLAG_MORE};
use dd_proto::fuzzing;
use dd_proto::link::{Link, LinkKind, Token};
use dd_proto::message::{EndReason, Event, Message};
use dd_proto::methods::*;
use dd_proto::MAX_FRAGMENT;
use serde_json::json;

/// Every seed, as (target, file name, bytes).
pub fn all() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, data) in frame_seeds() {
        out.push(("frame", name, data));
    }
    for (name, m) in messages() {
        out.push(("message", name, m.encode()));
    }
    for (name, v) in typed_json() {
        out.push((
            "message",
            name,
            [&[0u8][..], &serde_json::to_vec(&v).unwrap()].concat(),
        ));
    }
    for (name, s) in link_seeds() {
        out.push(("link", name, s.into_bytes()));
    }
    out.push(("handshake", "first-message", fuzzing::seed_first_message()));
    out.push(("handshake", "reply", fuzzing::seed_reply()));
    let ms: Vec<Message> = messages().into_iter().map(|(_, m)| m).collect();
    out.push((
        "handshake",
        "transport",
        fuzzing::seed_transport_script(&ms[..6]),
    ));
    out.push((
        "handshake",
        "transport-stream",
        fuzzing::seed_transport_script(&ms[14..]),
    ));
    out.push((
        "handshake",
        "garbage",
        b"\x00GET / HTTP/1.1\r\n\r\n".to_vec(),
    ));
    out
}

fn info() -> SessionInfo {
    SessionInfo {
        id: "s_0123456789ab".into(),
        name: "sh".into(),
        command: vec!["/bin/sh".into()],
        cwd: "/home/u".into(),
        status: SessionStatus::Running,
        exit_code: None,
        created_at: 1_764_115_200,
        rows: 24,
        cols: 80,
        title: "vim".into(),
        end_offset: 4096,
        clients: 2,
        waiting: Some(Box::new(prompt())),
    }
}

fn prompt() -> InputNeeded {
    InputNeeded {
        session: "s_0123456789ab".into(),
        seq: 3,
        title: "sh".into(),
        body: "Continue?".into(),
        prompt: "Continue? [y/N]".into(),
        choices: vec![Choice::new("Yes", b"y\r"), Choice::new("No", b"n\r")],
        at: 1_764_115_200,
        source: PromptSource::Heuristic,
    }
}

fn grant() -> GrantInfo {
    GrantInfo {
        grant_id: "g_0123456789ab".into(),
        session_id: "s_0123456789ab".into(),
        label: "phone".into(),
        read_only: false,
        ops: vec![
            Op::Meta,
            Op::Attach,
            Op::Input,
            Op::Detach,
            Op::Events,
            Op::RevokeSelf,
        ],
        created_at: 1,
        expires_at: 2,
        last_seen: Some(1),
        revoked_at: None,
        connected: 1,
    }
}

fn request(id: u64, method: &str, params: serde_json::Value) -> Message {
    Message::Request {
        id,
        method: method.into(),
        params: params.into(),
    }
}

fn messages() -> Vec<(&'static str, Message)> {
    let ev = |event| Message::Event { stream: 5, event };
    vec![
        ("request-list", request(1, SESSION_LIST, json!({}))),
        (
            "request-create",
            request(
                2,
                SESSION_CREATE,
                json!({"name": "x", "command": ["sh", "-c", "ls"], "env": {"A": "1"}, "rows": 30}),
            ),
        ),
        (
            "request-attach",
            request(
                3,
                SESSION_ATTACH,
                json!({"session": "s_1", "resume": {"mode": "offset", "offset": 10}}),
            ),
        ),
        (
            "request-attach-screen",
            request(
                4,
                SESSION_ATTACH,
                json!({"session": "s_1", "resume": {"mode": "screen"}}),
            ),
        ),
        (
            "request-input",
            request(
                5,
                SESSION_INPUT,
                json!({"session": "s_1", "data": "bHMNCg"}),
            ),
        ),
        (
            "request-resize",
            request(
                6,
                SESSION_RESIZE,
                json!({"session": "s_1", "rows": 40, "cols": 120}),
            ),
        ),
        (
            "request-pair-create",
            request(
                7,
                PAIR_CREATE,
                json!({"session": "s_1", "ttl_secs": 600, "read_only": true}),
            ),
        ),
        (
            "request-pair-redeem",
            request(
                8,
                PAIR_REDEEM,
                json!({"token": "AAECAwQFBgcICQoLDA0ODw", "label": "phone"}),
            ),
        ),
        (
            "request-grant-revoke",
            request(9, GRANT_REVOKE, json!({"session": "s_1", "all": true})),
        ),
        (
            "request-config-set",
            request(
                10,
                AGENT_CONFIG_SET,
                json!({"grant_ttl_secs": 3600, "prompt_heuristic": false}),
            ),
        ),
        (
            "request-audit",
            request(11, AUDIT_LIST, json!({"session": "s_1", "limit": 5})),
        ),
        (
            "response-ok",
            Message::Response {
                id: 1,
                result: Ok(serde_json::to_value(SessionList {
                    sessions: vec![info()],
                })
                .unwrap()),
            },
        ),
        (
            "response-grant",
            Message::Response {
                id: 8,
                result: Ok(serde_json::to_value(grant()).unwrap()),
            },
        ),
        (
            "response-error",
            Message::Response {
                id: 2,
                result: Err(ErrorBody::new(ErrorCode::Forbidden, "no")),
            },
        ),
        (
            "output",
            Message::Output {
                stream: 3,
                offset: 1 << 40,
                data: b"hello\r\n\x1b[1m".to_vec(),
            },
        ),
        (
            "input",
            Message::Input {
                stream: 3,
                data: b"ls\r".to_vec(),
            },
        ),
        (
            "snapshot",
            Message::Snapshot {
                stream: 3,
                offset: 42,
                rows: 24,
                cols: 80,
                data: b"\x1b[H\x1b[Jprompt$ ".to_vec(),
            },
        ),
        ("event-meta", ev(Event::Meta { session: info() })),
        (
            "event-exited",
            ev(Event::Exited {
                exit_code: Some(1),
                end_offset: 99,
            }),
        ),
        (
            "event-input-needed",
            ev(Event::InputNeeded { prompt: prompt() }),
        ),
        ("event-input-cleared", ev(Event::InputCleared { seq: 3 })),
        (
            "event-error",
            ev(Event::Error {
                error: ErrorBody::new(ErrorCode::Forbidden, "read-only"),
            }),
        ),
        (
            "event-end",
            ev(Event::End {
                reason: EndReason::TooSlow,
                message: "fell behind".into(),
            }),
        ),
    ]
}

/// JSON of parameter and result types, behind a zero (unknown) type byte,
/// for the typed decoders of the message target.
fn typed_json() -> Vec<(&'static str, serde_json::Value)> {
    let cfg = AgentConfig {
        pair_token_ttl_secs: 600,
        pair_token_max_ttl_secs: 3600,
        grant_ttl_secs: 86_400,
        grant_max_ttl_secs: 604_800,
        public_link_base: Some("https://dd.example.com".into()),
        prompt_quiet_ms: 1500,
        prompt_heuristic: true,
    };
    let v = |x: &dyn erased::Ser| x.value();
    vec![
        ("json-session-info", v(&info())),
        ("json-input-needed", v(&prompt())),
        (
            "json-grant-list",
            v(&GrantList {
                grants: vec![grant()],
            }),
        ),
        ("json-agent-config", v(&cfg)),
        (
            "json-pair-status",
            v(&PairStatus {
                state: "redeemed".into(),
                grant: Some(grant()),
            }),
        ),
        (
            "json-welcome",
            v(&Welcome {
                version: 1,
                principal: None,
                error: Some(ErrorBody::new(ErrorCode::Revoked, "revoked")),
            }),
        ),
        (
            "json-audit",
            v(&AuditList {
                records: vec![AuditRecord {
                    id: 1,
                    at: 2,
                    action: "denied".into(),
                    actor: "key:abc".into(),
                    session_id: None,
                    detail: "method".into(),
                }],
            }),
        ),
        ("json-resume-tail", json!({"mode": "tail", "bytes": 4096})),
    ]
}

mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap()
        }
    }
}

fn frame_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let lit = |frags: &[Vec<u8>]| {
        let mut out = Vec::new();
        for f in frags {
            out.push(0);
            out.extend_from_slice(&(f.len() as u16).to_be_bytes());
            out.extend_from_slice(f);
        }
        out
    };
    let enc = request(1, SESSION_LIST, json!({})).encode();
    let one: Vec<Vec<u8>> = fragment(&enc).collect();
    let (a, b) = enc.split_at(10);
    let two = vec![[&[FLAG_MORE], a].concat(), [&[FLAG_FINAL], b].concat()];
    let with = |prefix: &[u8], body: Vec<u8>| [prefix, &body].concat();
    let synth = |flag: u8, len: usize| {
        let mut v = vec![1, flag];
        v.extend_from_slice(&(len as u32).to_be_bytes());
        v.push(b'x');
        v
    };
    vec![
        ("one-fragment", with(&[0], lit(&one))),
        ("two-fragments", with(&[0], lit(&two))),
        ("empty-message", with(&[0], lit(&[vec![FLAG_FINAL]]))),
        (
            "max-fragment",
            with(&[0], [synth(FLAG_MORE, MAX_FRAGMENT), lit(&one)].concat()),
        ),
        (
            "oversized-fragment",
            with(&[0], synth(FLAG_FINAL, MAX_FRAGMENT + 1)),
        ),
        ("small-limit", with(&[1, 0, 16], lit(&two))),
        (
            "bad-flags",
            with(&[0], lit(&[vec![FLAG_MORE, 1], vec![0x07, 2]])),
        ),
        ("empty-fragment", with(&[2, 0, 0, 1, 0], lit(&[vec![]]))),
    ]
}

fn link_seeds() -> Vec<(&'static str, String)> {
    let mut l = Link {
        kind: LinkKind::Pair,
        version: 1,
        agent_url: "http://192.168.1.20:7777".into(),
        agent_key: [0x11; 32],
        expires_at: 1_764_115_200,
        session_id: Some("s_0123456789ab".into()),
        read_only: false,
        token: Token::new("AAECAwQFBgcICQoLDA0ODw").unwrap(),
    };
    let base = Some("https://dd.example.com");
    let mut out = vec![("pair-dd", l.render(None)), ("pair-https", l.render(base))];
    l.read_only = true;
    l.agent_url = "https://agent.example.com".into();
    out.push(("pair-ro", l.render(None)));
    l.kind = LinkKind::Enroll;
    l.session_id = None;
    l.read_only = false;
    out.push(("enroll-dd", l.render(None)));
    out.push(("enroll-https", l.render(base)));
    out.push(("duration", "7d".into()));
    out.push(("not-a-link", "hello".into()));
    out
}
