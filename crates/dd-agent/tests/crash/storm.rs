//! The storm: concurrent pair / redeem / cancel / revoke traffic against a
//! live agent, recording what each client was told.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use dd_client_core::{connect, ClientError, Connection};
use dd_proto::link::{Link, LinkKind};
use dd_proto::methods::{self as m, GrantInfo, PairCreated, Revoked};
use dd_proto::noise::StaticKeypair;
use dd_proto::ErrorCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// Operations one storm task runs at most (keeps a round's audit trail
/// under one `audit.list` page).
const MAX_OPS: usize = 8;

/// What a client was told about one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Told<T> {
    /// The request never left: the connection could not be made.
    NotSent,
    /// The agent answered: done.
    Done(T),
    /// The agent answered: refused, with this code.
    Refused(ErrorCode),
    /// No answer: the connection died with the request in flight.
    InFlight,
}

/// Classifies the outcome of a call.
pub fn told<T>(r: Result<T, ClientError>) -> Told<T> {
    match r {
        Ok(v) => Told::Done(v),
        Err(ClientError::Rpc(e)) => Told::Refused(e.code),
        Err(_) => Told::InFlight,
    }
}

/// A pairing token the agent reported minted.
#[derive(Debug)]
pub struct TokenRec {
    /// Its id.
    pub id: String,
    /// Its secret (from the link).
    pub secret: String,
    /// Its session.
    pub session: String,
    /// Each redemption attempt: the outcome and the key that made it.
    pub redeems: Vec<(Told<String>, Arc<StaticKeypair>)>,
    /// The cancel, if one was sent.
    pub cancel: Option<Told<()>>,
    /// Checked to the end (redeemed or refused after a restart): later
    /// rounds only re-read its status.
    pub settled: bool,
}

/// A grant some client holds a key for.
pub struct GrantRec {
    /// Its id.
    pub id: String,
    /// Its session.
    pub session: String,
    /// The companion key bound to it.
    pub key: Arc<StaticKeypair>,
    /// The revoke, if one was sent (`Done` carries the `revoked` count).
    pub revoke: Option<Told<u32>>,
    /// The redeem that made it was acknowledged (so its audit record must
    /// exist too).
    pub acked: bool,
}

/// Everything clients were told, across rounds.
#[derive(Default)]
pub struct Log {
    /// Tokens, in minting order.
    pub tokens: Vec<TokenRec>,
    /// Grants, in the order clients learnt of them.
    pub grants: Vec<GrantRec>,
}

/// Where the agent is and who the owner is.
#[derive(Clone)]
pub struct Target {
    /// The agent's URL.
    pub url: String,
    /// The agent's static key.
    pub agent_key: [u8; 32],
    /// The enrolled owner key.
    pub owner: Arc<StaticKeypair>,
}

/// Redeems `secret` with a fresh key on a fresh connection, as a phone does.
pub async fn redeem(t: &Target, secret: &str) -> (Told<GrantInfo>, Arc<StaticKeypair>) {
    let key = Arc::new(StaticKeypair::generate());
    let conn = match connect(&t.url, &t.agent_key, &key, "storm").await {
        Ok((c, _)) => c,
        Err(_) => return (Told::NotSent, key),
    };
    let r = conn
        .call(m::PAIR_REDEEM, json!({"token": secret, "label": "storm"}))
        .await
        .map(|v| serde_json::from_value::<GrantInfo>(v).expect("pair.redeem result"));
    conn.close().await;
    (told(r), key)
}

/// Cancels a token as the owner.
pub async fn cancel(own: &Connection, session: &str, token: &str) -> Told<()> {
    told(
        own.call(
            m::PAIR_CANCEL,
            json!({"session": session, "token_id": token}),
        )
        .await
        .map(|_| ()),
    )
}

/// Revokes one grant as the owner.
pub async fn revoke(own: &Connection, session: &str, grant: &str) -> Told<u32> {
    told(
        own.call(
            m::GRANT_REVOKE,
            json!({"session": session, "grant_id": grant}),
        )
        .await
        .map(|v| {
            serde_json::from_value::<Revoked>(v)
                .expect("grant.revoke result")
                .revoked
        }),
    )
}

/// Records a redemption; returns the index of the grant it recorded, if
/// it was acknowledged.
fn record_redeem(
    log: &Mutex<Log>,
    idx: usize,
    r: &Told<GrantInfo>,
    key: &Arc<StaticKeypair>,
) -> Option<usize> {
    let mut log = log.lock().unwrap();
    let t = &mut log.tokens[idx];
    let outcome = match r {
        Told::Done(g) => Told::Done(g.grant_id.clone()),
        Told::NotSent => Told::NotSent,
        Told::Refused(c) => Told::Refused(*c),
        Told::InFlight => Told::InFlight,
    };
    t.redeems.push((outcome, key.clone()));
    if let Told::Done(g) = r {
        log.grants.push(GrantRec {
            id: g.grant_id.clone(),
            session: g.session_id.clone(),
            key: key.clone(),
            revoke: None,
            acked: true,
        });
        return Some(log.grants.len() - 1);
    }
    None
}

/// One storm task: mints tokens and, at random, redeems, cancels, races a
/// redeem against a cancel, revokes the fresh grant, or leaves the token
/// pending; until `stop` or the agent dies.
pub async fn task(
    t: Target,
    session: String,
    seed: u64,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Log>>,
) {
    let Ok((own, _)) = connect(&t.url, &t.agent_key, &t.owner, "storm-owner").await else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..MAX_OPS {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let p: PairCreated = match own.call(m::PAIR_CREATE, json!({"session": session})).await {
            Ok(v) => serde_json::from_value(v).expect("pair.create result"),
            Err(ClientError::Rpc(e)) => panic!("pair.create refused by a live agent: {e}"),
            Err(_) => break,
        };
        let link = Link::parse_kind(&p.link, LinkKind::Pair).expect("pairing link parses");
        let secret = link.token.expose().to_owned();
        let idx = {
            let mut l = log.lock().unwrap();
            l.tokens.push(TokenRec {
                id: p.token_id.clone(),
                secret: secret.clone(),
                session: session.clone(),
                redeems: Vec::new(),
                cancel: None,
                settled: false,
            });
            l.tokens.len() - 1
        };
        match rng.gen_range(0..10) {
            0..=5 => {
                let (r, key) = redeem(&t, &secret).await;
                let gi = record_redeem(&log, idx, &r, &key);
                if let (Told::Done(g), Some(gi)) = (&r, gi) {
                    if rng.gen_bool(0.4) {
                        log.lock().unwrap().grants[gi].revoke = Some(Told::InFlight);
                        let out = revoke(&own, &session, &g.grant_id).await;
                        log.lock().unwrap().grants[gi].revoke = Some(out);
                    }
                }
            }
            6 | 7 => {
                log.lock().unwrap().tokens[idx].cancel = Some(Told::InFlight);
                let out = cancel(&own, &session, &p.token_id).await;
                log.lock().unwrap().tokens[idx].cancel = Some(out);
            }
            8 => {
                log.lock().unwrap().tokens[idx].cancel = Some(Told::InFlight);
                let ((r, key), c) =
                    tokio::join!(redeem(&t, &secret), cancel(&own, &session, &p.token_id));
                let _ = record_redeem(&log, idx, &r, &key);
                log.lock().unwrap().tokens[idx].cancel = Some(c);
            }
            _ => {}
        }
    }
    own.close().await;
}
