//! Crash safety of the durable state: `kill -9` of the agent in the middle
//! of a storm of concurrent pair / redeem / cancel / revoke operations, then
//! a restart on the same state directory, checked against what every client
//! was told:
//!
//! - a token whose redemption was acknowledged is never redeemable again;
//! - a grant whose revoke was acknowledged is never accepted again;
//! - a grant reported created exists, and connects and attaches unless
//!   revoked;
//! - a token whose redemption was in flight at the kill is either redeemed
//!   or still redeemable exactly once — never twice;
//! - every acknowledged revoke (and redemption) has its audit record.
//!
//! What is asserted does not depend on timing; only how much of the storm
//! happens before the kill does. Set `CRASH_SEED` to replay the random
//! choices of a run (printed at the start).

mod crash {
    pub mod storm;
    pub mod verify;
}

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crash::storm::{self, Log, Told};
use crash::verify::{self, Harness};
use dd_testkit::{owner, shell_session, AgentProc};
use rand::{Rng, SeedableRng};

/// Storm tasks per round.
const TASKS: u64 = 8;
/// Storm-and-kill rounds.
const ROUNDS: usize = 3;

fn seed() -> u64 {
    std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_during_a_pairing_storm_breaks_no_promise() {
    let seed = seed();
    eprintln!("CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let agent = AgentProc::start_on(&dir.path().join("state"));
    let (own, owner_key) = owner(&agent).await;
    let mut h = Harness::new(agent, owner_key, own);
    let mut log = Log::default();
    for round in 0..ROUNDS {
        // pair.create needs a running session; the last round's is lost.
        let session = shell_session(&h.owner).await;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(std::mem::take(&mut log)));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                tokio::spawn(storm::task(
                    h.target(),
                    session.clone(),
                    rng.gen(),
                    stop.clone(),
                    shared.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.gen_range(400..1500))).await;
        let pid = h.agent.pid();
        h.crash().await;
        stop.store(true, Ordering::SeqCst);
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("storm task ends once the agent is gone")
                .expect("storm task");
        }
        log = Arc::into_inner(shared).unwrap().into_inner().unwrap();
        h.restart().await;
        let (mut redeemed, mut revoked, mut in_flight) = (0, 0, 0);
        for t in &log.tokens {
            for (r, _) in &t.redeems {
                redeemed += matches!(r, Told::Done(_)) as u32;
                in_flight += matches!(r, Told::InFlight) as u32;
            }
            in_flight += matches!(t.cancel, Some(Told::InFlight)) as u32;
        }
        for g in &log.grants {
            revoked += matches!(g.revoke, Some(Told::Done(_))) as u32;
            in_flight += matches!(g.revoke, Some(Told::InFlight)) as u32;
        }
        eprintln!(
            "round {round}: killed pid {pid}; {} tokens, {redeemed} redeemed, {revoked} revoked, \
             {in_flight} in flight so far",
            log.tokens.len()
        );
        verify::tokens(&mut h, &mut log).await;
        verify::grants(&mut h, &log).await;
    }
    // And once more after a final crash with nothing in flight: every
    // promise of every round still holds.
    h.crash_and_restart().await;
    verify::tokens(&mut h, &mut log).await;
    verify::grants(&mut h, &log).await;
    eprintln!(
        "{} tokens, {} grants checked across {} restarts",
        log.tokens.len(),
        log.grants.len(),
        h.restarts
    );
    assert!(
        log.grants.len() > ROUNDS,
        "the storm made too few grants to mean anything"
    );
}
