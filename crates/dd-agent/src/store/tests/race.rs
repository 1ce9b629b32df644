//! Racing redemptions: exactly one wins.

use super::*;
use std::sync::{Arc, Barrier};

/// Runs `n` redemptions at once, thread `i` on `stores[i % len]`, and
/// counts (successes, `TokenUsed`).
fn race<T: Send + 'static>(
    n: usize,
    stores: Vec<Store>,
    redeem: impl Fn(&Store, usize) -> Result<T, StoreError> + Send + Sync + 'static,
) -> (usize, usize) {
    let barrier = Arc::new(Barrier::new(n));
    let redeem = Arc::new(redeem);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let s = stores[i % stores.len()].clone();
            let b = barrier.clone();
            let r = redeem.clone();
            std::thread::spawn(move || {
                b.wait();
                r(&s, i)
            })
        })
        .collect();
    let (mut ok, mut used) = (0, 0);
    for h in handles {
        match h.join().unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::TokenUsed) => used += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    (ok, used)
}

fn key(i: usize) -> [u8; 32] {
    [i as u8 + 1; 32]
}

#[test]
fn racing_pair_redemptions_on_separate_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dd.db");
    let stores: Vec<Store> = (0..4).map(|_| Store::open(&path).unwrap()).collect();
    for _round in 0..5 {
        let t = stores[0].mint_pair_token(&pair(false), NOW).unwrap();
        let secret = t.secret.to_string();
        let (ok, used) = race(4, stores.clone(), move |s, i| {
            s.redeem_pair_token(&secret, &key(i), "racer", NOW)
        });
        assert_eq!((ok, used), (1, 3));
        let st = stores[1].pair_token_status("s_1", &t.id, NOW).unwrap();
        assert_eq!(st.state, "redeemed");
    }
    assert_eq!(stores[2].list_grants("s_1").unwrap().len(), 5);
}

#[test]
fn racing_pair_redemptions_on_clones() {
    let (_d, s) = store();
    let t = s.mint_pair_token(&pair(false), NOW).unwrap();
    let secret = t.secret.to_string();
    let (ok, used) = race(2, vec![s.clone(), s.clone()], move |s, i| {
        s.redeem_pair_token(&secret, &key(i), "racer", NOW)
    });
    assert_eq!((ok, used), (1, 1));
    assert_eq!(s.list_grants("s_1").unwrap().len(), 1);
}

#[test]
fn racing_enrollments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dd.db");
    let stores: Vec<Store> = (0..2).map(|_| Store::open(&path).unwrap()).collect();
    let t = stores[0].mint_enroll_token("x", 600, NOW).unwrap();
    let secret = t.secret.to_string();
    let (ok, used) = race(2, stores.clone(), move |s, i| {
        s.redeem_enroll_token(&secret, &key(i), "racer", NOW)
    });
    assert_eq!((ok, used), (1, 1));
    assert_eq!(stores[1].list_devices().unwrap().len(), 1);
}
