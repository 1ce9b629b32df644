//! Audit aggregation, retention, paging and filters; the revocation cascade.

use super::*;
use dd_proto::methods::AuditQuery;

fn q() -> AuditQuery {
    AuditQuery {
        limit: Some(MAX_AUDIT_LIMIT),
        ..Default::default()
    }
}

#[test]
fn repeated_noise_shares_one_row_per_source_reason_and_interval() {
    let (_d, s) = store();
    for i in 0..500 {
        s.audit_repeated(
            "ip:10.0.0.1",
            AuditAction::Denied,
            "key:a",
            None,
            "session.list: unauthorized",
            NOW + i % 3,
        );
    }
    s.audit_repeated(
        "ip:10.0.0.2",
        AuditAction::Denied,
        "key:b",
        None,
        "session.list: unauthorized",
        NOW,
    );
    s.audit_repeated(
        "ip:10.0.0.1",
        AuditAction::RedeemFailed,
        "key:a",
        None,
        "token_invalid",
        NOW,
    );
    let rows = s.list_audit(&q()).unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let first = rows
        .iter()
        .find(|r| r.actor == "key:a" && r.action == "denied")
        .unwrap();
    assert_eq!(first.count, 500);
    assert_eq!(first.last_at, Some(NOW + 2));
    // A new interval starts a new row.
    s.audit_repeated(
        "ip:10.0.0.1",
        AuditAction::Denied,
        "key:a",
        None,
        "session.list: unauthorized",
        NOW + AGGREGATE_SECS,
    );
    assert_eq!(s.list_audit(&q()).unwrap().len(), 4);
    // Security events are never aggregated.
    s.audit(AuditAction::TokenRedeemed, "grant:g", Some("s_1"), "x", NOW);
    s.audit(AuditAction::TokenRedeemed, "grant:g", Some("s_1"), "x", NOW);
    assert_eq!(s.list_audit(&q()).unwrap().len(), 6);
}

#[test]
fn retention_removes_noise_before_security_events() {
    let (_d, s) = store();
    s.audit(
        AuditAction::TokenRedeemed,
        "grant:g_1",
        Some("s_1"),
        "first",
        NOW,
    );
    for i in 0..300 {
        s.audit_repeated(
            &format!("ip:10.0.{}.{}", i / 250, i % 250),
            AuditAction::Denied,
            "key:x",
            None,
            "r",
            NOW + 1,
        );
    }
    s.audit(AuditAction::DeviceEnrolled, "device:d_1", None, "", NOW + 2);
    s.set_audit_retention(
        Retention {
            noise_rows: 100,
            noise_secs: 3600,
            total_rows: 150,
        },
        NOW + 3,
    );
    let rows = s.list_audit(&q()).unwrap();
    assert_eq!(rows.iter().filter(|r| r.action == "denied").count(), 100);
    assert!(
        rows.iter().any(|r| r.detail == "first"),
        "the oldest security event survives"
    );
    assert!(rows.iter().any(|r| r.action == "device_enrolled"));
    // Over the total: the remaining noise goes first.
    s.set_audit_retention(
        Retention {
            noise_rows: 100,
            noise_secs: 3600,
            total_rows: 2,
        },
        NOW + 3,
    );
    let rows = s.list_audit(&q()).unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["device_enrolled", "token_redeemed"]);
    // Old noise expires by age.
    s.audit_repeated(
        "ip:1.1.1.1",
        AuditAction::Denied,
        "key:x",
        None,
        "r",
        NOW + 10,
    );
    s.set_audit_retention(Retention::default(), NOW + 10 + 31 * 24 * 3600);
    assert_eq!(s.list_audit(&q()).unwrap().len(), 2);
}

#[test]
fn paging_and_filters_reach_every_row() {
    let (_d, s) = store();
    for i in 0..250 {
        s.audit(
            AuditAction::SessionCreated,
            "device:d_1",
            Some(if i % 2 == 0 { "s_a" } else { "s_b" }),
            &i.to_string(),
            NOW + i,
        );
    }
    s.audit(
        AuditAction::TokenRedeemed,
        "grant:g",
        Some("s_a"),
        "the one",
        NOW + 300,
    );
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = s
            .list_audit_page(&AuditQuery {
                limit: Some(40),
                before,
                ..Default::default()
            })
            .unwrap();
        assert!(page.records.len() <= 40);
        seen.extend(page.records.iter().map(|r| r.id));
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(seen.len(), 251);
    assert!(seen.windows(2).all(|w| w[0] > w[1]));
    let only = s
        .list_audit_page(&AuditQuery {
            action: Some("token_redeemed".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(only.records.len(), 1);
    assert_eq!(only.next_before, None);
    let b = s
        .list_audit(&AuditQuery {
            session: Some("s_b".into()),
            limit: Some(1000),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(b.len(), 125);
}

#[test]
fn audit_text_loses_format_and_separator_characters() {
    let (_d, s) = store();
    s.audit(
        AuditAction::Denied,
        "key:x",
        Some("s_\u{202E}1\u{2066}"),
        "a\u{200B}b\u{2028}c",
        NOW,
    );
    let r = &s.list_audit(&q()).unwrap()[0];
    assert_eq!(r.session_id.as_deref(), Some("s_1"));
    assert_eq!(r.detail, "abc");
}

#[test]
fn revoking_a_device_cancels_its_tokens_and_revokes_grants_made_from_them() {
    let (_d, s) = store();
    let e = s.mint_enroll_token("a", 600, NOW).unwrap();
    let dev = s
        .redeem_enroll_token(&e.secret, &LAPTOP, "laptop", NOW)
        .unwrap();
    let mine = NewPairToken {
        created_by: format!("device:{}", dev.id),
        ..pair(false)
    };
    let used = s.mint_pair_token(&mine, NOW).unwrap();
    let g = s
        .redeem_pair_token(&used.secret, &PHONE, "phone", NOW)
        .unwrap();
    assert_eq!(
        g.created_by.as_deref(),
        Some(format!("device:{}", dev.id).as_str())
    );
    let pending = s.mint_pair_token(&mine, NOW).unwrap();
    let other = s.mint_pair_token(&pair(false), NOW).unwrap();
    let out = s.revoke_device(&dev.id, NOW + 1).unwrap();
    assert_eq!(out.tokens, vec![pending.id.clone()]);
    assert_eq!(out.grants, vec![(g.grant_id.clone(), "s_1".to_owned())]);
    assert!(matches!(
        s.redeem_pair_token(&pending.secret, &[3; 32], "x", NOW + 2),
        Err(StoreError::TokenCancelled)
    ));
    assert_eq!(
        s.grant(&g.grant_id).unwrap().unwrap().revoked_at,
        Some(NOW + 1)
    );
    // Another owner's token is untouched.
    s.redeem_pair_token(&other.secret, &[4; 32], "y", NOW + 2)
        .unwrap();
    // Again: nothing more to end.
    assert_eq!(
        s.revoke_device(&dev.id, NOW + 3).unwrap(),
        DeviceRevocation::default()
    );
}
