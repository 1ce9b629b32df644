use super::*;
use dd_proto::methods::Op;

#[test]
fn pair_token_lifecycle() {
    let (dir, s) = store();
    let t = s.mint_pair_token(&pair(false), NOW).unwrap();
    assert!(t.id.starts_with("t_"));
    assert_eq!(t.secret.len(), 22);
    assert_eq!(t.expires_at, NOW + 300);
    assert_eq!(
        s.pair_token_status("s_1", &t.id, NOW).unwrap().state,
        "pending"
    );

    let g = s
        .redeem_pair_token(&t.secret, &PHONE, "Ana's phone", NOW + 10)
        .unwrap();
    assert!(g.grant_id.starts_with("g_"));
    assert_eq!(g.session_id, "s_1");
    assert_eq!(g.label, "Ana's phone");
    assert!(!g.read_only);
    assert_eq!(
        g.ops,
        vec![
            Op::Meta,
            Op::Attach,
            Op::Input,
            Op::Detach,
            Op::Events,
            Op::RevokeSelf
        ]
    );
    assert_eq!(g.created_at, NOW + 10);
    assert_eq!(g.expires_at, NOW + 10 + 3600);
    assert_eq!(g.revoked_at, None);

    let st = s.pair_token_status("s_1", &t.id, NOW + 11).unwrap();
    assert_eq!(st.state, "redeemed");
    assert_eq!(st.grant, Some(g.clone()));

    // One time only, even for the same key.
    assert!(matches!(
        s.redeem_pair_token(&t.secret, &PHONE, "again", NOW + 12),
        Err(StoreError::TokenUsed)
    ));
    assert!(matches!(
        s.redeem_pair_token(&t.secret, &LAPTOP, "other", NOW + 12),
        Err(StoreError::TokenUsed)
    ));
    assert_eq!(s.grants_for_key(&PHONE).unwrap(), vec![g]);
    assert!(s.grants_for_key(&LAPTOP).unwrap().is_empty());

    // The secret is nowhere in the files, in any form we could mistake.
    let bytes = db_bytes(&dir);
    assert!(!bytes.is_empty());
    assert!(!contains(&bytes, t.secret.as_bytes()));
    let raw = dd_proto::keys::decode_bytes(&t.secret).unwrap();
    assert!(!contains(&bytes, &raw));
}

#[test]
fn read_only_grant_has_no_input() {
    let (_d, s) = store();
    let t = s.mint_pair_token(&pair(true), NOW).unwrap();
    let g = s.redeem_pair_token(&t.secret, &PHONE, "", NOW).unwrap();
    assert!(g.read_only);
    assert!(!g.ops.contains(&Op::Input));
    assert!(g.ops.contains(&Op::Attach) && g.ops.contains(&Op::RevokeSelf));
    assert_eq!(g.label, "companion", "an empty label gets a default");
}

#[test]
fn expired_pair_token() {
    let (_d, s) = store();
    let t = s.mint_pair_token(&pair(false), NOW).unwrap();
    assert!(matches!(
        s.redeem_pair_token(&t.secret, &PHONE, "x", NOW + 300),
        Err(StoreError::TokenExpired)
    ));
    assert_eq!(
        s.pair_token_status("s_1", &t.id, NOW + 300).unwrap().state,
        "expired"
    );
    // A failed redemption leaves no grant.
    assert!(s.list_grants("s_1").unwrap().is_empty());
    // Still redeemable a second before expiry had it been asked then.
    let t2 = s.mint_pair_token(&pair(false), NOW).unwrap();
    assert!(s
        .redeem_pair_token(&t2.secret, &PHONE, "x", NOW + 299)
        .is_ok());
}

#[test]
fn invalid_pair_secrets() {
    let (_d, s) = store();
    let t = s.mint_pair_token(&pair(false), NOW).unwrap();
    let long = "A".repeat(65);
    let mut wrong = t.secret.to_string();
    wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
    for bad in ["", "x", long.as_str(), wrong.as_str(), "\u{0}\u{1b}"] {
        assert!(
            matches!(
                s.redeem_pair_token(bad, &PHONE, "x", NOW),
                Err(StoreError::TokenInvalid)
            ),
            "{bad:?}"
        );
    }
    // An enrollment secret is not a pairing secret, and vice versa.
    let e = s.mint_enroll_token("laptop", 600, NOW).unwrap();
    assert!(matches!(
        s.redeem_pair_token(&e.secret, &PHONE, "x", NOW),
        Err(StoreError::TokenInvalid)
    ));
    assert!(matches!(
        s.redeem_enroll_token(&t.secret, &LAPTOP, "x", NOW),
        Err(StoreError::TokenInvalid)
    ));
    assert!(s.redeem_pair_token(&t.secret, &PHONE, "x", NOW).is_ok());
}

#[test]
fn cancel_pair_token() {
    let (_d, s) = store();
    let t = s.mint_pair_token(&pair(false), NOW).unwrap();
    assert!(matches!(
        s.cancel_pair_token("s_other", &t.id, NOW),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.cancel_pair_token("s_1", "t_000000000000", NOW),
        Err(StoreError::NotFound(_))
    ));
    s.cancel_pair_token("s_1", &t.id, NOW + 1).unwrap();
    s.cancel_pair_token("s_1", &t.id, NOW + 2).unwrap(); // idempotent
    assert_eq!(
        s.pair_token_status("s_1", &t.id, NOW + 3).unwrap().state,
        "cancelled"
    );
    assert!(matches!(
        s.redeem_pair_token(&t.secret, &PHONE, "x", NOW + 3),
        Err(StoreError::TokenCancelled)
    ));
    // Cancelled beats expired.
    assert!(matches!(
        s.redeem_pair_token(&t.secret, &PHONE, "x", NOW + 10_000),
        Err(StoreError::TokenCancelled)
    ));

    let t2 = s.mint_pair_token(&pair(false), NOW).unwrap();
    s.redeem_pair_token(&t2.secret, &PHONE, "x", NOW).unwrap();
    assert!(matches!(
        s.cancel_pair_token("s_1", &t2.id, NOW),
        Err(StoreError::TokenUsed)
    ));
    assert_eq!(
        s.pair_token_status("s_1", &t2.id, NOW).unwrap().state,
        "redeemed"
    );
}

#[test]
fn status_of_unknown_or_foreign_token() {
    let (_d, s) = store();
    let t = s.mint_pair_token(&pair(false), NOW).unwrap();
    assert!(matches!(
        s.pair_token_status("s_2", &t.id, NOW),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.pair_token_status("s_1", "t_nope", NOW),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn mint_rejects_bad_lifetimes() {
    let (_d, s) = store();
    for (ttl, grant_ttl) in [(0, 60), (60, 0), (MAX_TTL_SECS + 1, 60), (60, u64::MAX)] {
        let p = NewPairToken {
            ttl_secs: ttl,
            grant_ttl_secs: grant_ttl,
            ..pair(false)
        };
        assert!(matches!(
            s.mint_pair_token(&p, NOW),
            Err(StoreError::BadRequest(_))
        ));
    }
    assert!(matches!(
        s.mint_enroll_token("x", 0, NOW),
        Err(StoreError::BadRequest(_))
    ));
    assert!(s.mint_enroll_token("x", MAX_TTL_SECS, NOW).is_ok());
}

#[test]
fn enrollment_lifecycle() {
    let (dir, s) = store();
    let t = s.mint_enroll_token("laptop", 600, NOW).unwrap();
    assert!(t.id.starts_with("t_") && t.secret.len() == 22);
    let d = s
        .redeem_enroll_token(&t.secret, &LAPTOP, "My laptop", NOW + 1)
        .unwrap();
    assert!(d.id.starts_with("d_"));
    assert_eq!(d.label, "My laptop");
    assert_eq!(d.key, dd_proto::keys::encode_key(&LAPTOP));
    assert_eq!(d.created_at, NOW + 1);
    assert_eq!(d.revoked_at, None);
    assert_eq!(s.device_by_key(&LAPTOP).unwrap(), Some(d.clone()));
    assert!(s.device_by_key(&PHONE).unwrap().is_none());

    assert!(matches!(
        s.redeem_enroll_token(&t.secret, &PHONE, "x", NOW + 2),
        Err(StoreError::TokenUsed)
    ));
    assert!(matches!(
        s.redeem_enroll_token("nonsense", &PHONE, "x", NOW + 2),
        Err(StoreError::TokenInvalid)
    ));
    let late = s.mint_enroll_token("late", 60, NOW).unwrap();
    assert!(matches!(
        s.redeem_enroll_token(&late.secret, &PHONE, "x", NOW + 60),
        Err(StoreError::TokenExpired)
    ));
    assert!(s.device_by_key(&PHONE).unwrap().is_none());
    assert!(!contains(&db_bytes(&dir), t.secret.as_bytes()));
}

#[test]
fn enrolling_an_active_key_again_returns_the_same_device() {
    let (_d, s) = store();
    let a = s.mint_enroll_token("a", 600, NOW).unwrap();
    let b = s.mint_enroll_token("b", 600, NOW).unwrap();
    let d1 = s
        .redeem_enroll_token(&a.secret, &LAPTOP, "one", NOW)
        .unwrap();
    let d2 = s
        .redeem_enroll_token(&b.secret, &LAPTOP, "two", NOW)
        .unwrap();
    assert_eq!(d1, d2);
    assert_eq!(s.list_devices().unwrap().len(), 1);
    // The second token was consumed all the same.
    assert!(matches!(
        s.redeem_enroll_token(&b.secret, &PHONE, "x", NOW),
        Err(StoreError::TokenUsed)
    ));
}

#[test]
fn a_revoked_key_enrolls_as_a_new_device() {
    let (_d, s) = store();
    let a = s.mint_enroll_token("a", 600, NOW).unwrap();
    let d1 = s
        .redeem_enroll_token(&a.secret, &LAPTOP, "one", NOW)
        .unwrap();
    s.revoke_device(&d1.id, NOW + 1).unwrap();
    assert_eq!(
        s.device_by_key(&LAPTOP).unwrap().unwrap().revoked_at,
        Some(NOW + 1)
    );
    let b = s.mint_enroll_token("b", 600, NOW).unwrap();
    let d2 = s
        .redeem_enroll_token(&b.secret, &LAPTOP, "two", NOW + 2)
        .unwrap();
    assert_ne!(d1.id, d2.id);
    assert_eq!(s.device_by_key(&LAPTOP).unwrap(), Some(d2));
    assert_eq!(s.list_devices().unwrap().len(), 2);
}

#[test]
fn labels_lose_control_characters_and_length() {
    let (_d, s) = store();
    let t = s.mint_pair_token(&pair(false), NOW).unwrap();
    let label = format!("\u{1b}]0;pwned\u{7}Ana{}", "x".repeat(200));
    let g = s.redeem_pair_token(&t.secret, &PHONE, &label, NOW).unwrap();
    assert!(!g.label.chars().any(char::is_control));
    assert!(g.label.starts_with("]0;pwnedAna"));
    assert_eq!(g.label.chars().count(), 64);
}
