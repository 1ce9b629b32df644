//! Devices, configuration, audit, files and persistence.

use super::*;
use dd_proto::methods::{AgentConfigPatch, AuditQuery};
use std::os::unix::fs::PermissionsExt;

fn enroll(s: &Store, key: &[u8; 32], now: i64) -> dd_proto::methods::DeviceInfo {
    let t = s.mint_enroll_token("x", 600, now).unwrap();
    s.redeem_enroll_token(&t.secret, key, "dev", now).unwrap()
}

#[test]
fn devices_revoke_touch_list() {
    let (_d, s) = store();
    let a = enroll(&s, &LAPTOP, NOW);
    let b = enroll(&s, &PHONE, NOW + 1);
    assert_eq!(s.list_devices().unwrap(), vec![a.clone(), b.clone()]);
    s.touch_device(&a.id, NOW + 5).unwrap();
    assert_eq!(
        s.device_by_key(&LAPTOP).unwrap().unwrap().last_seen,
        Some(NOW + 5)
    );
    assert!(matches!(
        s.revoke_device("d_nope", NOW),
        Err(StoreError::NotFound(_))
    ));
    s.revoke_device(&a.id, NOW + 6).unwrap();
    s.revoke_device(&a.id, NOW + 7).unwrap();
    let list = s.list_devices().unwrap();
    assert_eq!(list[0].revoked_at, Some(NOW + 6));
    assert_eq!(list[1].revoked_at, None);
}

#[test]
fn config_defaults_patch_and_validation() {
    let (_d, s) = store();
    let c = s.config().unwrap();
    assert_eq!(c, default_config());
    assert_eq!(
        (
            c.pair_token_ttl_secs,
            c.pair_token_max_ttl_secs,
            c.grant_ttl_secs,
            c.grant_max_ttl_secs
        ),
        (300, 3600, 604_800, 2_592_000)
    );
    assert_eq!(c.public_link_base, None);

    let c = s
        .set_config(&AgentConfigPatch {
            pair_token_ttl_secs: Some(120),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(c.pair_token_ttl_secs, 120);
    assert_eq!(c.grant_ttl_secs, 604_800);

    let bad = [
        AgentConfigPatch {
            pair_token_ttl_secs: Some(0),
            ..Default::default()
        },
        AgentConfigPatch {
            grant_max_ttl_secs: Some(0),
            ..Default::default()
        },
        AgentConfigPatch {
            pair_token_ttl_secs: Some(3601),
            ..Default::default()
        },
        AgentConfigPatch {
            pair_token_max_ttl_secs: Some(100),
            ..Default::default()
        },
        AgentConfigPatch {
            grant_ttl_secs: Some(2_592_001),
            ..Default::default()
        },
        AgentConfigPatch {
            grant_max_ttl_secs: Some(MAX_TTL_SECS + 1),
            ..Default::default()
        },
    ];
    for p in &bad {
        let err = s.set_config(p).unwrap_err();
        assert!(matches!(err, StoreError::BadRequest(_)), "{p:?}");
        assert_eq!(err.code(), dd_proto::ErrorCode::BadRequest);
    }
    assert_eq!(
        s.config().unwrap().pair_token_ttl_secs,
        120,
        "failed patches change nothing"
    );

    // Raising max and default together is fine.
    let c = s
        .set_config(&AgentConfigPatch {
            pair_token_ttl_secs: Some(7200),
            pair_token_max_ttl_secs: Some(7200),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        (c.pair_token_ttl_secs, c.pair_token_max_ttl_secs),
        (7200, 7200)
    );

    let c = s
        .set_public_link_base(Some("https://dd.example.com".into()))
        .unwrap();
    assert_eq!(
        c.public_link_base.as_deref(),
        Some("https://dd.example.com")
    );
    assert!(matches!(
        s.set_public_link_base(Some("javascript:alert(1)".into())),
        Err(StoreError::BadRequest(_))
    ));
    assert_eq!(
        s.config().unwrap().public_link_base.as_deref(),
        Some("https://dd.example.com")
    );
    assert_eq!(s.set_public_link_base(None).unwrap().public_link_base, None);
}

#[test]
fn audit_order_limit_filter() {
    let (_d, s) = store();
    for i in 0..5 {
        s.audit(
            AuditAction::TokenMinted,
            "device:d_1",
            Some("s_1"),
            &format!("n={i}"),
            NOW + i,
        );
    }
    s.audit(
        AuditAction::Denied,
        "key:abc",
        Some("s_2"),
        "session.list",
        NOW + 10,
    );
    s.audit(
        AuditAction::DeviceEnrolled,
        "local",
        None,
        "evil\u{1b}[2Jtext",
        NOW + 11,
    );

    let all = s.list_audit(&AuditQuery::default()).unwrap();
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all[0].action, "device_enrolled");
    assert_eq!(all[0].session_id, None);
    assert_eq!(
        all[0].detail, "evil[2Jtext",
        "control characters are dropped"
    );
    assert_eq!(all[1].actor, "key:abc");

    let s1 = s
        .list_audit(&AuditQuery {
            session: Some("s_1".into()),
            limit: Some(2),
        })
        .unwrap();
    assert_eq!(s1.len(), 2);
    assert_eq!(s1[0].detail, "n=4");
    assert_eq!(s1[1].detail, "n=3");
    assert!(s1.iter().all(|r| r.session_id.as_deref() == Some("s_1")));
    assert!(s
        .list_audit(&AuditQuery {
            session: Some("s_9".into()),
            limit: None
        })
        .unwrap()
        .is_empty());
}

#[test]
fn audit_limit_default_and_cap() {
    let (_d, s) = store();
    for i in 0..1100 {
        s.audit(AuditAction::ConfigChanged, "local", None, "", NOW + i);
    }
    assert_eq!(s.list_audit(&AuditQuery::default()).unwrap().len(), 100);
    let q = AuditQuery {
        session: None,
        limit: Some(5000),
    };
    assert_eq!(s.list_audit(&q).unwrap().len(), 1000);
}

#[test]
fn everything_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dd.db");
    let (dev, grant, pending) = {
        let s = Store::open(&path).unwrap();
        let dev = enroll(&s, &LAPTOP, NOW);
        let t = s.mint_pair_token(&pair(true), NOW).unwrap();
        let grant = s
            .redeem_pair_token(&t.secret, &PHONE, "phone", NOW)
            .unwrap();
        let pending = s.mint_pair_token(&pair(false), NOW).unwrap();
        s.set_config(&AgentConfigPatch {
            grant_ttl_secs: Some(60),
            ..Default::default()
        })
        .unwrap();
        s.audit(AuditAction::TokenMinted, "local", Some("s_1"), "", NOW);
        (dev, grant, pending)
    };
    let s = Store::open(&path).unwrap();
    assert_eq!(s.device_by_key(&LAPTOP).unwrap(), Some(dev));
    assert_eq!(s.grants_for_key(&PHONE).unwrap(), vec![grant]);
    assert_eq!(s.config().unwrap().grant_ttl_secs, 60);
    assert_eq!(s.list_audit(&AuditQuery::default()).unwrap().len(), 1);
    assert_eq!(
        s.pair_token_status("s_1", &pending.id, NOW).unwrap().state,
        "pending"
    );
    assert!(s
        .redeem_pair_token(&pending.secret, &LAPTOP, "x", NOW)
        .is_ok());
}

#[test]
fn database_files_are_private() {
    let (dir, s) = store();
    s.audit(AuditAction::ConfigChanged, "local", None, "", NOW); // make sure the WAL exists
    for name in ["dd.db", "dd.db-wal"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    // An existing file with loose permissions is tightened.
    let loose = dir.path().join("loose.db");
    std::fs::write(&loose, b"").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    Store::open(&loose).unwrap();
    let mode = std::fs::metadata(&loose).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn pragmas_and_schema_version() {
    let (dir, s) = store();
    {
        let c = s.conn();
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "FULL");
        let fk: i64 = c
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        let v: u32 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, schema::SCHEMA_VERSION);
        // A database from a newer agent is refused, not damaged.
        c.pragma_update(None, "user_version", schema::SCHEMA_VERSION + 1)
            .unwrap();
    }
    drop(s);
    let err = Store::open(&dir.path().join("dd.db")).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)));
    assert_eq!(err.code(), dd_proto::ErrorCode::Internal);
}

#[test]
fn not_a_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dd.db");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    assert!(Store::open(&path).is_err());
}

#[test]
fn error_codes() {
    use dd_proto::ErrorCode as C;
    assert_eq!(StoreError::TokenInvalid.code(), C::TokenInvalid);
    assert_eq!(StoreError::TokenUsed.code(), C::TokenUsed);
    assert_eq!(StoreError::TokenExpired.code(), C::TokenExpired);
    assert_eq!(StoreError::TokenCancelled.code(), C::TokenCancelled);
    assert_eq!(StoreError::NotFound("x".into()).code(), C::NotFound);
    assert_eq!(StoreError::BadRequest("x".into()).code(), C::BadRequest);
}

/// Reads through cached statements leave no read transaction open: a
/// write made after them (on the writer connection) is seen by the next
/// read.
#[test]
fn cached_reads_see_later_writes() {
    let (_d, s) = store();
    enroll(&s, &LAPTOP, NOW);
    for i in 0..3 {
        assert!(s.device_by_key(&LAPTOP).unwrap().is_some());
        assert!(s.grants_for_key(&PHONE).unwrap().is_empty());
        s.audit(AuditAction::TooSlow, "grant:g", Some("s_1"), "x", NOW + i);
        let q = AuditQuery {
            session: Some("s_1".into()),
            limit: None,
        };
        assert_eq!(s.list_audit(&q).unwrap().len(), i as usize + 1);
    }
}
