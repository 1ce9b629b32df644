//! Table-driven tests of the capability table, and resolution against a
//! real store.

use super::*;
use dd_proto::methods::Op;
use dd_proto::{Method, Request};
use ErrorCode as C;
use Operation as O;

const NOW: i64 = 1_700_000_000;
const S: &str = "s_mine";
const OTHER: &str = "s_other";

fn grant(
    id: &str,
    session: &str,
    read_only: bool,
    expires_at: i64,
    revoked_at: Option<i64>,
) -> GrantInfo {
    GrantInfo {
        grant_id: id.into(),
        session_id: session.into(),
        label: "phone".into(),
        read_only,
        ops: crate::store::ops_for(read_only),
        created_at: NOW - 100,
        expires_at,
        last_seen: None,
        revoked_at,
        connected: 0,
    }
}

fn companion(grants: Vec<GrantInfo>) -> Principal {
    Principal::Companion {
        key: [5; 32],
        grants,
    }
}

/// Every operation.
const ALL_OPS: &[Operation] = &[
    O::SessionList,
    O::SessionCreate,
    O::SessionMeta,
    O::SessionAttach,
    O::SessionEvents,
    O::SessionInput,
    O::SessionResize,
    O::SessionDetach,
    O::SessionClose,
    O::EnrollRedeem,
    O::PairRedeem,
    O::DeviceList,
    O::DeviceRevoke,
    O::ConfigGet,
    O::ConfigSet,
    O::PairCreate,
    O::PairCancel,
    O::PairStatus,
    O::GrantList,
    O::GrantRevoke { own: false },
    O::GrantRevoke { own: true },
    O::AuditList,
];

/// What we expect: `Ok(can_input)` or `Err(code)`.
type Want = Result<bool, ErrorCode>;

/// The expectation for each principal kind, written out independently of
/// [`CAPABILITIES`].
fn expected(kind: &str, op: Operation) -> Want {
    let own_session = matches!(
        op,
        O::SessionMeta
            | O::SessionAttach
            | O::SessionEvents
            | O::SessionDetach
            | O::GrantRevoke { own: true }
    );
    match kind {
        "owner" => Ok(true),
        "revoked_owner" => Err(C::Revoked),
        "unknown" => match op {
            O::EnrollRedeem | O::PairRedeem => Ok(false),
            _ => Err(C::Unauthorized),
        },
        "companion" | "read_only" | "both" => {
            let ro = kind == "read_only";
            match op {
                O::PairRedeem => Ok(false),
                O::SessionInput if ro => Err(C::Forbidden),
                O::SessionInput => Ok(true),
                _ if own_session => Ok(!ro),
                _ => Err(C::Forbidden),
            }
        }
        "revoked" | "expired" | "mixed_dead" => match op {
            O::PairRedeem => Ok(false),
            O::SessionInput
            | O::SessionMeta
            | O::SessionAttach
            | O::SessionEvents
            | O::SessionDetach
            | O::GrantRevoke { own: true } => Err(if kind == "revoked" {
                C::Revoked
            } else {
                C::Expired
            }),
            _ => Err(C::Forbidden),
        },
        "other_session" => match op {
            O::PairRedeem => Ok(false),
            // Detach is per stream: any live grant will do.
            O::SessionDetach => Ok(true),
            _ => Err(C::Forbidden),
        },
        _ => unreachable!(),
    }
}

fn principals() -> Vec<(&'static str, Principal)> {
    vec![
        (
            "owner",
            Principal::Owner {
                device_id: "d_1".into(),
            },
        ),
        (
            "revoked_owner",
            Principal::RevokedOwner {
                device_id: "d_1".into(),
                key: [1; 32],
            },
        ),
        ("unknown", Principal::Unknown { key: [2; 32] }),
        (
            "companion",
            companion(vec![grant("g_1", S, false, NOW + 60, None)]),
        ),
        (
            "read_only",
            companion(vec![grant("g_1", S, true, NOW + 60, None)]),
        ),
        // A read-only and an interactive grant on one session: the
        // interactive one is used.
        (
            "both",
            companion(vec![
                grant("g_1", S, true, NOW + 60, None),
                grant("g_2", S, false, NOW + 60, None),
            ]),
        ),
        (
            "revoked",
            companion(vec![grant("g_1", S, false, NOW + 60, Some(NOW - 1))]),
        ),
        (
            "expired",
            companion(vec![grant("g_1", S, false, NOW, None)]),
        ),
        (
            "mixed_dead",
            companion(vec![
                grant("g_1", S, false, NOW + 60, Some(NOW - 1)),
                grant("g_2", S, false, NOW - 1, None),
            ]),
        ),
        (
            "other_session",
            companion(vec![grant("g_1", OTHER, false, NOW + 60, None)]),
        ),
    ]
}

#[test]
fn every_operation_for_every_principal() {
    let mut checked = 0;
    for (kind, p) in principals() {
        for &op in ALL_OPS {
            let got = authorize(&p, op, Some(S), NOW);
            let want = expected(kind, op);
            match (&got, want) {
                (Ok(scope), Ok(can_input)) => {
                    assert_eq!(scope.can_input, can_input, "{kind} {op:?}");
                    let companion_grant =
                        matches!(p, Principal::Companion { .. }) && op != O::PairRedeem;
                    assert_eq!(scope.grant.is_some(), companion_grant, "{kind} {op:?}");
                }
                (Err(d), Err(code)) => {
                    assert_eq!(d.code, code, "{kind} {op:?}: {}", d.message);
                    assert!(!d.message.is_empty());
                }
                _ => panic!("{kind} {op:?}: got {got:?}, want {want:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 10 * ALL_OPS.len());
}

#[test]
fn denial_messages() {
    let ro = companion(vec![grant("g_1", S, true, NOW + 60, None)]);
    assert_eq!(
        authorize(&ro, O::SessionInput, Some(S), NOW)
            .unwrap_err()
            .message,
        "read-only grant"
    );
    let c = companion(vec![grant("g_1", S, false, NOW + 60, None)]);
    let d = authorize(&c, O::SessionResize, Some(S), NOW).unwrap_err();
    assert!(d.message.contains("never resize"));
    let u = Principal::Unknown { key: [0; 32] };
    let d = authorize(&u, O::SessionList, None, NOW).unwrap_err();
    assert!(d.message.contains("not enrolled"));
    assert_eq!(d.to_string(), format!("unauthorized: {}", d.message));
    let body: ErrorBody = d.into();
    assert_eq!(body.code, C::Unauthorized);
}

#[test]
fn the_grant_used_is_the_right_one() {
    let p = companion(vec![
        grant("g_other", OTHER, false, NOW + 60, None),
        grant("g_dead", S, false, NOW + 60, Some(NOW - 5)),
        grant("g_ro", S, true, NOW + 60, None),
        grant("g_rw", S, false, NOW + 60, None),
    ]);
    let scope = authorize(&p, O::SessionAttach, Some(S), NOW).unwrap();
    assert_eq!(scope.grant.unwrap().grant_id, "g_rw");
    let scope = authorize(&p, O::SessionMeta, Some(OTHER), NOW).unwrap();
    assert_eq!(scope.grant.unwrap().grant_id, "g_other");
    // The interactive grant expires: the read-only one still allows watching.
    let later = NOW + 60;
    let p = companion(vec![
        grant("g_rw", S, false, later, None),
        grant("g_ro", S, true, later + 60, None),
    ]);
    let scope = authorize(&p, O::SessionAttach, Some(S), later).unwrap();
    assert_eq!(scope.grant.unwrap().grant_id, "g_ro");
    assert!(!scope.can_input);
    assert_eq!(
        authorize(&p, O::SessionInput, Some(S), later)
            .unwrap_err()
            .code,
        C::Forbidden
    );
}

#[test]
fn session_scoped_operations_need_a_session() {
    let c = companion(vec![grant("g_1", S, false, NOW + 60, None)]);
    assert_eq!(
        authorize(&c, O::SessionAttach, None, NOW).unwrap_err().code,
        C::BadRequest
    );
    // Detach names a stream, not a session.
    assert!(authorize(&c, O::SessionDetach, None, NOW).is_ok());
    let dead = companion(vec![grant("g_1", S, false, NOW - 1, None)]);
    assert_eq!(
        authorize(&dead, O::SessionDetach, None, NOW)
            .unwrap_err()
            .code,
        C::Expired
    );
}

#[test]
fn handshake() {
    let ok = |p: &Principal| check_handshake(p, NOW).map_err(|d| d.code);
    assert_eq!(
        ok(&Principal::Owner {
            device_id: "d".into()
        }),
        Ok(())
    );
    assert_eq!(ok(&Principal::Unknown { key: [0; 32] }), Ok(()));
    assert_eq!(
        ok(&Principal::RevokedOwner {
            device_id: "d".into(),
            key: [0; 32]
        }),
        Err(C::Revoked)
    );
    let live = grant("g_live", OTHER, true, NOW + 1, None);
    let revoked = grant("g_rev", S, false, NOW + 60, Some(NOW - 1));
    let expired = grant("g_exp", S, false, NOW, None);
    let expired_then_revoked = grant("g_er", S, false, NOW - 10, Some(NOW - 1));
    assert_eq!(ok(&companion(vec![revoked.clone()])), Err(C::Revoked));
    assert_eq!(
        ok(&companion(vec![revoked.clone(), expired_then_revoked])),
        Err(C::Revoked)
    );
    assert_eq!(ok(&companion(vec![expired.clone()])), Err(C::Expired));
    assert_eq!(
        ok(&companion(vec![revoked.clone(), expired.clone()])),
        Err(C::Expired)
    );
    assert_eq!(ok(&companion(vec![revoked, expired, live])), Ok(()));
}

#[test]
fn methods_map_to_operations() {
    for method in Method::ALL {
        let op = operation_for(*method);
        assert_eq!(capability(op).method, *method, "{method}");
    }
    assert_eq!(
        operation_for(Method::GrantRevoke),
        O::GrantRevoke { own: false }
    );
    assert_eq!(operation_for(Method::SessionInput), O::SessionInput);
    // Every operation has exactly one row.
    for op in ALL_OPS {
        assert_eq!(
            CAPABILITIES.iter().filter(|c| c.op == *op).count(),
            1,
            "{op:?}"
        );
    }
    assert_eq!(CAPABILITIES.len(), ALL_OPS.len());
    // Owner and unknown columns only allow or deny.
    for c in CAPABILITIES {
        for r in [c.owner, c.unknown] {
            assert!(matches!(r, Rule::Allow | Rule::Deny(..)), "{:?}", c.op);
        }
    }
    let md = capability_table_markdown();
    let rows = md.lines().take_while(|l| !l.is_empty()).count();
    assert_eq!(rows, 2 + CAPABILITIES.len());
    assert!(md.contains("phones never resize"));
}

/// Markers around the generated table in docs/security.md.
const DOC_BEGIN: &str =
    "<!-- capability table: generated from crates/dd-agent/src/policy/table.rs -->\n";
const DOC_END: &str = "<!-- end of capability table -->\n";

/// docs/security.md carries the table exactly as the policy renders it.
/// After changing the table, run this test with `DD_BLESS=1` to rewrite
/// the doc's section.
#[test]
fn security_doc_shows_this_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc
        .find(DOC_BEGIN)
        .expect("begin marker in docs/security.md")
        + DOC_BEGIN.len();
    let end = start
        + doc[start..]
            .find(DOC_END)
            .expect("end marker in docs/security.md");
    let want = capability_table_markdown();
    if std::env::var_os("DD_BLESS").is_some() {
        let fresh = format!("{}{want}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    assert!(
        doc[start..end] == want,
        "docs/security.md's capability table differs from the policy table; \
         rerun with DD_BLESS=1 to rewrite it. It should read:\n{want}"
    );
}

#[test]
fn the_gate_decides_every_kind_of_ask() {
    use dd_proto::methods::{GrantRevoke, SessionRef};
    let c = companion(vec![grant("g_1", S, false, NOW + 60, None)]);
    let ro = companion(vec![grant("g_1", S, true, NOW + 60, None)]);
    let unknown = Principal::Unknown { key: [2; 32] };
    let code = |p: &Principal, ask: Ask| decide(p, &ask, NOW).map(|_| ()).map_err(|d| d.code);

    // Connect is the handshake check.
    assert_eq!(code(&c, Ask::Connect), Ok(()));
    let dead = companion(vec![grant("g_1", S, false, NOW, None)]);
    assert_eq!(code(&dead, Ask::Connect), Err(C::Expired));

    // A request: its operation on the session it names.
    let meta = Request::SessionMeta(SessionRef { session: S.into() });
    let scope = decide(&c, &Ask::Request(&meta), NOW).unwrap();
    assert_eq!(scope.actor(&c), "grant:g_1");
    assert_eq!(
        scope.lease(),
        Some(Lease {
            grant_id: "g_1".into(),
            expires_at: NOW + 60
        })
    );
    let other = Request::SessionMeta(SessionRef {
        session: OTHER.into(),
    });
    assert_eq!(code(&c, Ask::Request(&other)), Err(C::Forbidden));
    // Revoking: its own grant yes, another's no.
    let revoke = |grant_id: &str| {
        Request::GrantRevoke(GrantRevoke {
            session: S.into(),
            grant_id: Some(grant_id.into()),
            all: false,
        })
    };
    assert_eq!(code(&c, Ask::Request(&revoke("g_1"))), Ok(()));
    assert_eq!(code(&c, Ask::Request(&revoke("g_9"))), Err(C::Forbidden));

    // Undecodable params: allowed (to be answered bad_request) where the
    // method is open to the principal, refused where it is not.
    assert_eq!(code(&c, Ask::Undecodable(Method::SessionMeta)), Ok(()));
    assert_eq!(
        code(&c, Ask::Undecodable(Method::SessionList)),
        Err(C::Forbidden)
    );
    let d = decide(&unknown, &Ask::Undecodable(Method::SessionMeta), NOW).unwrap_err();
    assert_eq!(d.code, C::Unauthorized);
    assert!(d.closes_connection());

    // Stream input: as session.input on the stream's session.
    assert_eq!(code(&c, Ask::StreamInput { session: S }), Ok(()));
    let d = decide(&ro, &Ask::StreamInput { session: S }, NOW).unwrap_err();
    assert_eq!(d.code, C::Forbidden);
    assert!(!d.closes_connection());
    assert_eq!(
        code(&c, Ask::StreamInput { session: OTHER }),
        Err(C::Forbidden)
    );

    // How asks are named in audit records.
    assert_eq!(Ask::Connect.name(), "handshake");
    assert_eq!(Ask::Request(&meta).name(), "session.meta");
    assert_eq!(Ask::Request(&meta).session(), Some(S));
    assert_eq!(Ask::StreamInput { session: S }.name(), "input");
    assert_eq!(Ask::Undecodable(Method::PairCreate).session(), None);

    // Owners' scopes name the device and bind streams to nothing.
    let owner = Principal::Owner {
        device_id: "d_1".into(),
    };
    let scope = decide(&owner, &Ask::Request(&meta), NOW).unwrap();
    assert_eq!(
        (scope.actor(&owner), scope.lease()),
        ("device:d_1".into(), None)
    );
    assert_eq!(owner.device_id(), Some("d_1"));
    assert_eq!(c.device_id(), None);
    assert_eq!(c.actor_on(Some(S)), "grant:g_1");
    assert!(c.actor_on(Some(OTHER)).starts_with("key:"));
}

#[test]
fn grant_revoke_own_or_not() {
    let c = companion(vec![grant("g_1", S, false, NOW + 60, None)]);
    let own = O::GrantRevoke { own: true };
    let not_own = O::GrantRevoke { own: false };
    assert_eq!(grant_revoke_operation(&c, S, Some("g_1"), false), own);
    assert_eq!(
        grant_revoke_operation(&c, OTHER, Some("g_1"), false),
        not_own
    );
    assert_eq!(grant_revoke_operation(&c, S, Some("g_2"), false), not_own);
    assert_eq!(grant_revoke_operation(&c, S, Some("g_1"), true), not_own);
    assert_eq!(grant_revoke_operation(&c, S, None, false), not_own);
    let owner = Principal::Owner {
        device_id: "d".into(),
    };
    assert_eq!(
        grant_revoke_operation(&owner, S, Some("g_1"), false),
        not_own
    );
}

#[test]
fn resolve_against_a_real_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dd.db")).unwrap();
    let (laptop, phone, stranger) = ([1u8; 32], [2u8; 32], [3u8; 32]);

    assert!(matches!(
        resolve(&store, &stranger, NOW).unwrap(),
        Principal::Unknown { .. }
    ));

    let t = store.mint_enroll_token("l", 60, NOW).unwrap();
    let dev = store
        .redeem_enroll_token(&t.secret, &laptop, "laptop", NOW)
        .unwrap();
    assert_eq!(
        resolve(&store, &laptop, NOW).unwrap(),
        Principal::Owner {
            device_id: dev.id.clone()
        }
    );

    let p = crate::store::NewPairToken {
        session_id: S.into(),
        read_only: true,
        ttl_secs: 60,
        grant_ttl_secs: 60,
        label: None,
        created_by: format!("device:{}", dev.id),
    };
    let t = store.mint_pair_token(&p, NOW).unwrap();
    let g = store
        .redeem_pair_token(&t.secret, &phone, "phone", NOW)
        .unwrap();
    assert!(g.ops.contains(&Op::Attach));
    let who = resolve(&store, &phone, NOW).unwrap();
    assert_eq!(
        who,
        Principal::Companion {
            key: phone,
            grants: vec![g.clone()]
        }
    );
    assert_eq!(who.kind(), "companion");
    assert!(who.actor().starts_with("key:"));
    assert!(check_handshake(&who, NOW).is_ok());
    assert_eq!(
        check_handshake(&who, NOW + 60).unwrap_err().code,
        C::Expired
    );

    store.revoke_grant(S, &g.grant_id, NOW + 1).unwrap();
    let who = resolve(&store, &phone, NOW + 1).unwrap();
    assert_eq!(check_handshake(&who, NOW + 1).unwrap_err().code, C::Revoked);
    assert_eq!(
        authorize(&who, O::SessionAttach, Some(S), NOW + 1)
            .unwrap_err()
            .code,
        C::Revoked
    );

    store.revoke_device(&dev.id, NOW + 2).unwrap();
    let who = resolve(&store, &laptop, NOW + 2).unwrap();
    assert_eq!(
        who,
        Principal::RevokedOwner {
            device_id: dev.id.clone(),
            key: laptop
        }
    );
    assert_eq!(who.actor(), format!("device:{}", dev.id));
    assert_eq!(check_handshake(&who, NOW + 2).unwrap_err().code, C::Revoked);
}
