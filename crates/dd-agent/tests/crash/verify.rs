//! After the restart: every invariant checked against what clients were
//! told during the storm.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use dd_client_core::{connect, ClientError, Connection};
use dd_proto::methods::{self as m, AuditList, GrantInfo, GrantList, PairStatus, Resume};
use dd_proto::noise::StaticKeypair;
use dd_proto::ErrorCode;
use dd_testkit::AgentProc;
use serde_json::json;

use super::storm::{redeem, GrantRec, Log, Target, Told};

/// Failed redemptions allowed per agent run before the checker restarts the
/// agent (the agent rate-limits a source after 10; the limiter lives in
/// memory, so a restart resets it — and adds one more crash to survive).
const FAILURE_BUDGET: u32 = 9;

/// The agent under test, restartable on its state directory.
pub struct Harness {
    /// The state directory.
    pub state: PathBuf,
    /// The running agent.
    pub agent: AgentProc,
    /// The owner key.
    pub owner_key: Arc<StaticKeypair>,
    /// An owner connection to the running agent.
    pub owner: Connection,
    failures: u32,
    /// Restarts so far (crashes included).
    pub restarts: u32,
}

impl Harness {
    /// Wraps a running agent and an owner connection to it.
    pub fn new(agent: AgentProc, owner_key: StaticKeypair, owner: Connection) -> Harness {
        Harness {
            state: agent.state.clone(),
            agent,
            owner_key: Arc::new(owner_key),
            owner,
            failures: 0,
            restarts: 0,
        }
    }

    /// Where the agent is now.
    pub fn target(&self) -> Target {
        Target {
            url: self.agent.url.clone(),
            agent_key: self.agent.key,
            owner: self.owner_key.clone(),
        }
    }

    /// [`Harness::crash`], then [`Harness::restart`].
    pub async fn crash_and_restart(&mut self) {
        self.crash().await;
        self.restart().await;
    }

    /// `kill -9`s the agent.
    pub async fn crash(&mut self) {
        self.agent.kill();
        self.owner.close().await;
    }

    /// Starts the agent again on the same state directory and reconnects
    /// the owner (its enrollment must have survived).
    pub async fn restart(&mut self) {
        let state = self.state.clone();
        self.agent = tokio::task::block_in_place(|| AgentProc::start_on(&state));
        self.owner = connect(&self.agent.url, &self.agent.key, &self.owner_key, "checker")
            .await
            .expect("the owner device survives a crash")
            .0;
        self.failures = 0;
        self.restarts += 1;
    }

    async fn call<T: serde::de::DeserializeOwned>(&self, method: &str, p: serde_json::Value) -> T {
        let v = self
            .owner
            .call(method, p)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{method} result: {e}"))
    }

    /// One redemption attempt on the live agent: the grant, or the refusal.
    async fn try_redeem(
        &mut self,
        secret: &str,
    ) -> (Result<GrantInfo, ErrorCode>, Arc<StaticKeypair>) {
        if self.failures >= FAILURE_BUDGET {
            self.crash_and_restart().await;
        }
        let (r, key) = redeem(&self.target(), secret).await;
        let r = match r {
            Told::Done(g) => Ok(g),
            Told::Refused(c) => {
                self.failures += 1;
                Err(c)
            }
            other => panic!("a live agent gave no answer to pair.redeem: {other:?}"),
        };
        (r, key)
    }
}

fn has<T: PartialEq>(v: &[(Told<T>, Arc<StaticKeypair>)], want: &Told<T>) -> bool {
    v.iter().any(|(t, _)| t == want)
}

/// Checks every token clients were told was minted; settles this round's.
pub async fn tokens(h: &mut Harness, log: &mut Log) {
    for i in 0..log.tokens.len() {
        let t = &log.tokens[i];
        let st: PairStatus = h
            .call(
                m::PAIR_STATUS,
                json!({"session": t.session, "token_id": t.id}),
            )
            .await;
        let granted = t.redeems.iter().find_map(|(r, _)| match r {
            Told::Done(g) => Some(g.clone()),
            _ => None,
        });
        let redeem_unknown = has(&t.redeems, &Told::InFlight);
        let cancel_acked = t.cancel == Some(Told::Done(()));
        let cancel_unknown = t.cancel == Some(Told::InFlight);
        let saw_cancelled = has(&t.redeems, &Told::Refused(ErrorCode::TokenCancelled));
        let saw_used = t.cancel == Some(Told::Refused(ErrorCode::TokenUsed));
        // What the clients were told must itself be consistent.
        assert!(
            !(granted.is_some() && cancel_acked),
            "{}: redeemed and cancelled",
            t.id
        );
        for (r, _) in &t.redeems {
            if let Told::Refused(c) = r {
                let fine = *c == ErrorCode::RateLimited
                    || (*c == ErrorCode::TokenCancelled && (cancel_acked || cancel_unknown));
                assert!(fine, "{}: redeem refused with {c}", t.id);
            }
        }
        if let Some(Told::Refused(c)) = &t.cancel {
            assert!(
                *c == ErrorCode::TokenUsed && (granted.is_some() || redeem_unknown),
                "{}: cancel refused with {c}",
                t.id
            );
        }
        // The stored state agrees with every acknowledgement.
        let must = if granted.is_some() || saw_used {
            Some("redeemed")
        } else if cancel_acked || saw_cancelled {
            Some("cancelled")
        } else {
            None
        };
        match must {
            Some(s) => assert_eq!(st.state, s, "{}: told {s}", t.id),
            None => {
                let mut ok = vec!["pending"];
                if redeem_unknown {
                    ok.push("redeemed");
                }
                if cancel_unknown {
                    ok.push("cancelled");
                }
                assert!(
                    ok.contains(&st.state.as_str()),
                    "{}: {} not in {ok:?}",
                    t.id,
                    st.state
                );
            }
        }
        if let Some(g) = &granted {
            let sg = st.grant.as_ref().expect("a redeemed token names its grant");
            assert_eq!(&sg.grant_id, g, "{}: a different grant than reported", t.id);
        }
        if st.state == "redeemed" && granted.is_none() {
            // Redeemed by a request whose answer was lost: that key holds it.
            let key = t
                .redeems
                .iter()
                .find(|(r, _)| *r == Told::InFlight)
                .map(|(_, k)| k.clone())
                .expect("an in-flight redeem");
            let g = st.grant.clone().expect("a redeemed token names its grant");
            if !log.grants.iter().any(|x| x.id == g.grant_id) {
                log.grants.push(GrantRec {
                    id: g.grant_id,
                    session: g.session_id,
                    key,
                    revoke: None,
                    acked: false,
                });
            }
        }
        if log.tokens[i].settled {
            continue;
        }
        settle(h, log, i, &st.state).await;
    }
}

/// Redeems a token after the restart: a pending one exactly once (the
/// second try is refused), a redeemed or cancelled one never. A token whose
/// fate the clients were not told is tried twice whatever its state.
async fn settle(h: &mut Harness, log: &mut Log, i: usize, state: &str) {
    let secret = log.tokens[i].secret.clone();
    let id = log.tokens[i].id.clone();
    let t = &log.tokens[i];
    let known = t.redeems.iter().any(|(r, _)| matches!(r, Told::Done(_)))
        || t.cancel == Some(Told::Done(()));
    let (first, key) = h.try_redeem(&secret).await;
    let second = if state == "pending" || !known {
        Some(h.try_redeem(&secret).await.0.err())
    } else {
        None
    };
    let refused = |code| {
        assert_eq!(first.as_ref().err(), Some(&code), "{id} ({state})");
        if let Some(s) = &second {
            assert_eq!(s.as_ref(), Some(&code), "{id} ({state}), second try");
        }
    };
    match state {
        "pending" => {
            let g = first
                .clone()
                .unwrap_or_else(|c| panic!("{id}: pending token refused: {c}"));
            assert_eq!(
                second,
                Some(Some(ErrorCode::TokenUsed)),
                "{id}: redeemed twice"
            );
            log.tokens[i]
                .redeems
                .push((Told::Done(g.grant_id.clone()), key.clone()));
            log.grants.push(GrantRec {
                id: g.grant_id,
                session: g.session_id,
                key,
                revoke: None,
                acked: true,
            });
        }
        "redeemed" => refused(ErrorCode::TokenUsed),
        "cancelled" => refused(ErrorCode::TokenCancelled),
        other => panic!("{id}: unexpected state {other}"),
    }
    log.tokens[i].settled = true;
}

/// Checks every grant clients know of: it exists; an acknowledged revoke
/// holds and is audited; an unrevoked one connects and attaches.
pub async fn grants(h: &mut Harness, log: &Log) {
    let mut lists: HashMap<String, Vec<GrantInfo>> = HashMap::new();
    let mut audits: HashMap<String, AuditList> = HashMap::new();
    for g in &log.grants {
        if !lists.contains_key(&g.session) {
            let l: GrantList = h.call(m::GRANT_LIST, json!({"session": g.session})).await;
            lists.insert(g.session.clone(), l.grants);
            let a: AuditList = h
                .call(m::AUDIT_LIST, json!({"session": g.session, "limit": 1000}))
                .await;
            assert!(a.records.len() < 1000, "audit page full: raise the limit");
            audits.insert(g.session.clone(), a);
        }
        let listed = lists[&g.session]
            .iter()
            .find(|x| x.grant_id == g.id)
            .unwrap_or_else(|| panic!("grant {} was reported created but does not exist", g.id));
        let audit = &audits[&g.session].records;
        if g.acked {
            let actor = format!("grant:{}", g.id);
            assert!(
                audit
                    .iter()
                    .any(|r| r.action == "token_redeemed" && r.actor == actor),
                "no token_redeemed audit for {}",
                g.id
            );
        }
        let revoked = match &g.revoke {
            Some(Told::Done(n)) => {
                assert_eq!(*n, 1, "revoking {} revoked {n}", g.id);
                assert!(
                    audit
                        .iter()
                        .any(|r| r.action == "grant_revoked" && r.detail == g.id),
                    "no grant_revoked audit for acknowledged revoke of {}",
                    g.id
                );
                assert!(
                    listed.revoked_at.is_some(),
                    "acknowledged revoke of {} lost",
                    g.id
                );
                true
            }
            Some(Told::InFlight) => listed.revoked_at.is_some(),
            Some(other) => panic!("revoke of {} answered {other:?}", g.id),
            None => {
                assert!(listed.revoked_at.is_none(), "{} revoked by nobody", g.id);
                false
            }
        };
        let c = connect(&h.agent.url, &h.agent.key, &g.key, "checker").await;
        if revoked {
            match c {
                Err(ClientError::Refused(e)) => assert_eq!(e.code, ErrorCode::Revoked, "{}", g.id),
                Err(e) => panic!("revoked grant {}: {e}", g.id),
                Ok((c, _)) => {
                    c.close().await;
                    panic!("revoked grant {} accepted again", g.id)
                }
            }
        } else {
            let (c, _) = c.unwrap_or_else(|e| panic!("grant {} refused: {e}", g.id));
            let s = c
                .attach(&g.session, Resume::Screen)
                .await
                .unwrap_or_else(|e| panic!("grant {} cannot attach: {e}", g.id));
            drop(s);
            c.close().await;
        }
    }
}
