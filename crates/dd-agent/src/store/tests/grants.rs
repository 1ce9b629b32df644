use super::*;
use dd_proto::methods::GrantInfo;

fn grant_for(s: &Store, session: &str, key: &[u8; 32], read_only: bool, now: i64) -> GrantInfo {
    let p = NewPairToken {
        session_id: session.into(),
        ..pair(read_only)
    };
    let t = s.mint_pair_token(&p, now).unwrap();
    s.redeem_pair_token(&t.secret, key, "phone", now).unwrap()
}

#[test]
fn revoke_one_grant() {
    let (_d, s) = store();
    let a = grant_for(&s, "s_1", &PHONE, false, NOW);
    let b = grant_for(&s, "s_1", &LAPTOP, true, NOW);
    assert!(matches!(
        s.revoke_grant("s_2", &a.grant_id, NOW),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.revoke_grant("s_1", "g_nope", NOW),
        Err(StoreError::NotFound(_))
    ));
    assert!(s.revoke_grant("s_1", &a.grant_id, NOW + 5).unwrap());
    assert!(!s.revoke_grant("s_1", &a.grant_id, NOW + 6).unwrap());
    let a2 = s.grant(&a.grant_id).unwrap().unwrap();
    assert_eq!(
        a2.revoked_at,
        Some(NOW + 5),
        "first revocation time is kept"
    );
    assert_eq!(s.grant(&b.grant_id).unwrap().unwrap().revoked_at, None);
    assert!(s.grant("g_nope").unwrap().is_none());
}

#[test]
fn revoke_all_grants_of_a_session() {
    let (_d, s) = store();
    let a = grant_for(&s, "s_1", &PHONE, false, NOW);
    let b = grant_for(&s, "s_1", &LAPTOP, true, NOW);
    let other = grant_for(&s, "s_2", &PHONE, false, NOW);
    let old = grant_for(&s, "s_1", &PHONE, false, NOW - 10_000); // expired
    let gone = grant_for(&s, "s_1", &PHONE, false, NOW);
    s.revoke_grant("s_1", &gone.grant_id, NOW).unwrap();
    let pending = s.mint_pair_token(&pair(false), NOW).unwrap();

    let mut ids = s.revoke_session_grants("s_1", NOW + 1).unwrap();
    ids.sort();
    let mut want = vec![a.grant_id.clone(), b.grant_id.clone()];
    want.sort();
    assert_eq!(ids, want, "only live grants are newly revoked");
    assert!(s.revoke_session_grants("s_1", NOW + 2).unwrap().is_empty());
    assert_eq!(s.grant(&other.grant_id).unwrap().unwrap().revoked_at, None);
    assert_eq!(s.grant(&old.grant_id).unwrap().unwrap().revoked_at, None);
    assert_eq!(
        s.grant(&gone.grant_id).unwrap().unwrap().revoked_at,
        Some(NOW)
    );
    // A pending pairing token of that session cannot mint a grant afterwards.
    assert!(matches!(
        s.redeem_pair_token(&pending.secret, &PHONE, "x", NOW + 3),
        Err(StoreError::TokenCancelled)
    ));
    assert_eq!(s.list_grants("s_1").unwrap().len(), 4);
}

#[test]
fn listing_and_lookup() {
    let (_d, s) = store();
    let a = grant_for(&s, "s_1", &PHONE, false, NOW);
    let b = grant_for(&s, "s_2", &PHONE, true, NOW + 1);
    let c = grant_for(&s, "s_1", &LAPTOP, false, NOW + 2);
    assert_eq!(
        s.grants_for_key(&PHONE).unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(s.grants_for_key(&LAPTOP).unwrap(), vec![c.clone()]);
    assert!(s.grants_for_key(&[1; 32]).unwrap().is_empty());
    assert_eq!(s.list_grants("s_1").unwrap(), vec![a.clone(), c.clone()]);
    assert_eq!(s.list_grants("s_2").unwrap(), vec![b]);
    assert!(s.list_grants("s_3").unwrap().is_empty());
    assert_eq!(s.grant_key(&c.grant_id).unwrap(), Some(LAPTOP));
    assert_eq!(s.grant_key("g_nope").unwrap(), None);
    assert_eq!(a.expires_at, NOW + 3600);
    assert!(s
        .list_grants("s_1")
        .unwrap()
        .iter()
        .all(|g| g.connected == 0));

    s.touch_grant(&a.grant_id, NOW + 50).unwrap();
    assert_eq!(
        s.grant(&a.grant_id).unwrap().unwrap().last_seen,
        Some(NOW + 50)
    );
    s.touch_grant("g_nope", NOW).unwrap(); // harmless
}

#[test]
fn grant_expiry_comes_from_the_token() {
    let (_d, s) = store();
    let p = NewPairToken {
        grant_ttl_secs: 7 * 24 * 3600,
        ..pair(false)
    };
    let t = s.mint_pair_token(&p, NOW).unwrap();
    let g = s
        .redeem_pair_token(&t.secret, &PHONE, "x", NOW + 100)
        .unwrap();
    assert_eq!(g.expires_at, NOW + 100 + 7 * 24 * 3600);
}
