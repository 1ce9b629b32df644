//! The capability table, walked over the wire: every operation × every
//! principal against a real agent process, asserting the outcome the
//! policy's table (the one docs/security.md shows) promises.

use dd_agent::policy::{capability, operation_for, Rule};
use dd_client_core::{ClientError, Connection};
use dd_proto::keys::encode_bytes;
use dd_proto::methods::Resume;
use dd_proto::noise::StaticKeypair;
use dd_proto::Method;
use dd_testkit::{companion, owner, shell_session, AgentProc};
use serde_json::{json, Value};

const OK: &str = "ok";

/// The requests walked, each with what it answers when the policy allows
/// it. What each principal gets is read from the policy's own table
/// (`dd_agent::policy::CAPABILITIES`, through [`expected`]), the table docs/security.md
/// shows.
fn table(a: &str, own_grant: &str) -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("session.meta", json!({"session": a}), OK),
        ("session.attach", json!({"session": a}), OK),
        (
            "session.input",
            json!({"session": a, "data": encode_bytes(b":\r")}),
            OK,
        ),
        ("session.detach", json!({"stream": 987654}), "not_found"),
        ("session.list", json!({}), OK),
        ("session.create", json!({"command": ["/bin/true"]}), OK),
        (
            "session.resize",
            json!({"session": a, "rows": 30, "cols": 100}),
            OK,
        ),
        ("pair.create", json!({"session": a}), OK),
        (
            "pair.cancel",
            json!({"session": a, "token_id": "t_000000000000"}),
            "not_found",
        ),
        (
            "pair.status",
            json!({"session": a, "token_id": "t_000000000000"}),
            "not_found",
        ),
        ("grant.list", json!({"session": a}), OK),
        (
            "grant.revoke",
            json!({"session": a, "grant_id": own_grant}),
            OK,
        ),
        ("device.list", json!({}), OK),
        (
            "device.revoke",
            json!({"device_id": "d_000000000000"}),
            "not_found",
        ),
        ("agent.config.get", json!({}), OK),
        ("agent.config.set", json!({}), OK),
        ("audit.list", json!({}), OK),
        (
            "session.close",
            json!({"session": "s_000000000000"}),
            "not_found",
        ),
        (
            "pair.redeem",
            json!({"token": "AAAAAAAAAAAAAAAAAAAAAA"}),
            "token_invalid",
        ),
        (
            "enroll.redeem",
            json!({"token": "AAAAAAAAAAAAAAAAAAAAAA"}),
            "token_invalid",
        ),
        ("fleet.list", json!({}), "unknown_method"),
        ("deploy.run", json!({}), "unknown_method"),
    ]
}

/// Columns: owner, companion, read-only companion, companion of another
/// session, unknown key; from the policy table, `if_allowed` where it
/// allows.
fn expected(method: &str, if_allowed: &'static str) -> [&'static str; 5] {
    let Some(m) = Method::from_wire(method) else {
        return ["unknown_method"; 5];
    };
    // `grant.revoke` of a grant that is not the caller's own (the table
    // names a throwaway grant): the method's own row.
    let row = capability(operation_for(m));
    let cell = |rule: Rule, other_session: bool| match rule {
        Rule::Deny(code, _) => code.as_str(),
        Rule::OwnSession if other_session => "forbidden",
        Rule::Allow | Rule::AnyGrant | Rule::OwnSession => if_allowed,
    };
    [
        cell(row.owner, false),
        cell(row.companion, false),
        cell(row.read_only, false),
        cell(row.companion, true),
        cell(row.unknown, false),
    ]
}

async fn outcome(conn: &Connection, method: &str, params: Value) -> String {
    let r = if method == "session.attach" {
        let s = params["session"].as_str().unwrap();
        conn.attach(s, Resume::Screen).await.map(|_| Value::Null)
    } else {
        conn.call(method, params).await
    };
    match r {
        Ok(_) => OK.to_owned(),
        Err(ClientError::Rpc(e)) => e.code.as_str().to_owned(),
        Err(e) => panic!("{method}: unexpected failure {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_for_every_principal() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let a = shell_session(&own).await;
    let b = shell_session(&own).await;
    let (comp, _, grant) = companion(&own, &a, json!({})).await;
    let (ro, _, ro_grant) = companion(&own, &a, json!({"read_only": true})).await;
    let (other, _, _) = companion(&own, &b, json!({})).await;
    assert!(!grant.read_only && ro_grant.read_only);
    // The owner revokes a throwaway grant so the owner column's revoke is "ok".
    let (_t, _, throwaway) = companion(&own, &a, json!({})).await;

    let mut failures = Vec::new();
    for (method, params, if_allowed) in table(&a, &throwaway.grant_id) {
        let expected = expected(method, if_allowed);
        // Companions first: the owner's operations change state.
        let unknown = agent.connect(&StaticKeypair::generate()).await.unwrap();
        let got = [
            None,
            Some(outcome(&comp, method, params.clone()).await),
            Some(outcome(&ro, method, params.clone()).await),
            Some(outcome(&other, method, params.clone()).await),
            Some(outcome(&unknown, method, params.clone()).await),
        ];
        let owner_got = outcome(&own, method, params.clone()).await;
        let got = [
            owner_got,
            got[1].clone().unwrap(),
            got[2].clone().unwrap(),
            got[3].clone().unwrap(),
            got[4].clone().unwrap(),
        ];
        for (i, who) in [
            "owner",
            "companion",
            "read-only",
            "other-session",
            "unknown",
        ]
        .iter()
        .enumerate()
        {
            if got[i] != expected[i] {
                failures.push(format!(
                    "{method} as {who}: expected {}, got {}",
                    expected[i], got[i]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "capability mismatches:\n{}",
        failures.join("\n")
    );

    // Denials are audited, and none of them closed a companion's connection.
    assert_eq!(
        outcome(&comp, "session.meta", json!({"session": a})).await,
        OK
    );
    let audit = own
        .call("audit.list", json!({"limit": 1000}))
        .await
        .unwrap();
    let denied = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "denied")
        .count();
    assert!(denied >= 40, "only {denied} denials audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_companion_may_revoke_only_its_own_grant() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let a = shell_session(&own).await;
    let (c1, k1, g1) = companion(&own, &a, json!({})).await;
    let (_c2, _, g2) = companion(&own, &a, json!({})).await;
    let e = c1
        .call(
            "grant.revoke",
            json!({"session": a, "grant_id": g2.grant_id}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "forbidden");
    let e = c1
        .call("grant.revoke", json!({"session": a, "all": true}))
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "forbidden");
    let r = c1
        .call(
            "grant.revoke",
            json!({"session": a, "grant_id": g1.grant_id}),
        )
        .await
        .unwrap();
    assert_eq!(r["revoked"], 1);
    // Its key is dead from now on.
    let e = agent.connect(&k1).await.unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "revoked");
    let grants = own.call("grant.list", json!({"session": a})).await.unwrap();
    let live: Vec<_> = grants["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["revoked_at"].is_null())
        .map(|g| g["grant_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(live, vec![g2.grant_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_key_gets_unauthorized_and_is_disconnected() {
    let agent = AgentProc::start();
    let conn = agent.connect(&StaticKeypair::generate()).await.unwrap();
    let e = conn.call("session.list", json!({})).await.unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "unauthorized");
    for _ in 0..50 {
        if conn.is_closed() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(conn.is_closed(), "connection stayed open");
    // The agent keeps serving others.
    let (own, _) = owner(&agent).await;
    own.call("session.list", json!({})).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_and_bad_params_get_stable_codes() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let a = shell_session(&own).await;
    let (comp, _, _) = companion(&own, &a, json!({})).await;
    let code = |r: Result<Value, ClientError>| match r {
        Err(ClientError::Rpc(e)) => e.code.as_str().to_owned(),
        other => panic!("expected an error, got {other:?}"),
    };
    // Unknown methods: unknown_method, the name quoted back, cut short; the
    // connection stays.
    let long = "x".repeat(5000);
    for (conn, method) in [
        (&own, "fleet.list"),
        (&comp, "deploy.run"),
        (&own, long.as_str()),
    ] {
        let Err(ClientError::Rpc(e)) = conn.call(method, json!({})).await else {
            panic!("{method:.20} was answered");
        };
        assert_eq!(e.code.as_str(), "unknown_method");
        assert!(e.message.len() < 100, "{}", e.message);
    }
    // Params of the wrong shape: bad_request.
    for params in [json!({}), json!({"session": 5}), json!([1]), json!("s")] {
        assert_eq!(
            code(own.call("session.meta", params.clone()).await),
            "bad_request"
        );
        assert_eq!(code(comp.call("session.meta", params).await), "bad_request");
    }
    // Nested too deep, even where the type ignores the field.
    let mut deep = json!(1);
    for _ in 0..dd_proto::request::MAX_PARAMS_DEPTH {
        deep = json!([deep]);
    }
    let params = json!({"session": a, "x": deep});
    assert_eq!(code(own.call("session.meta", params).await), "bad_request");
    // A refusal wins over bad params: the companion may not call the method.
    assert_eq!(code(comp.call("session.list", json!(7)).await), "forbidden");
    assert_eq!(code(comp.call("pair.create", json!({})).await), "forbidden");
    // All of it left both connections open.
    assert!(!own.is_closed() && !comp.is_closed());
    assert_eq!(
        outcome(&comp, "session.meta", json!({"session": a})).await,
        OK
    );
}
