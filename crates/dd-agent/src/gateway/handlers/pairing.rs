//! Pairing: mint a pairing link for a session (`pair.create`), redeem one
//! (`pair.redeem`, which makes a grant), cancel a token, ask its status;
//! and the redemption rate limit shared with enrollment.

use dd_proto::link::{Link, LinkKind, Token};
use dd_proto::methods::{PairCancel, PairCreate, PairCreated, PairRedeem};
use dd_proto::{ErrorBody, ErrorCode};

use super::{done, err, find_session, ok, store_err, Ctx, Reply};
use crate::gateway::peer::Conn;
use crate::store::{AuditAction, NewPairToken, StoreError};
use crate::util::now_secs;

/// `pair.create`: a one-time token for a running session, as a link.
pub(crate) fn create(cx: &Ctx<'_>, r: PairCreate) -> Reply {
    let agent = &cx.conn.agent;
    let s = find_session(cx.conn, &r.session)?;
    if !s.info().status.is_live() {
        return Err(err(
            ErrorCode::SessionEnded,
            "the session has ended; pair to a running session",
        ));
    }
    let cfg = agent.store.config().map_err(store_err)?;
    let ttl = r.ttl_secs.unwrap_or(cfg.pair_token_ttl_secs);
    let grant_ttl = r.grant_ttl_secs.unwrap_or(cfg.grant_ttl_secs);
    if ttl == 0 || ttl > cfg.pair_token_max_ttl_secs {
        return Err(err(
            ErrorCode::BadRequest,
            format!("token ttl must be 1..={}s", cfg.pair_token_max_ttl_secs),
        ));
    }
    if grant_ttl == 0 || grant_ttl > cfg.grant_max_ttl_secs {
        return Err(err(
            ErrorCode::BadRequest,
            format!("grant ttl must be 1..={}s", cfg.grant_max_ttl_secs),
        ));
    }
    let new = NewPairToken {
        session_id: r.session.clone(),
        read_only: r.read_only,
        ttl_secs: ttl,
        grant_ttl_secs: grant_ttl,
        label: r.label.clone(),
        created_by: cx.actor.clone(),
    };
    let minted = agent
        .store
        .mint_pair_token(&new, cx.now)
        .map_err(store_err)?;
    let token = Token::new(&minted.secret)
        .ok_or_else(|| err(ErrorCode::Internal, "minted token has an unexpected form"))?;
    let link = Link {
        kind: LinkKind::Pair,
        version: dd_proto::PROTOCOL_VERSION,
        agent_url: agent.public_url.clone(),
        agent_key: agent.key.public(),
        expires_at: minted.expires_at,
        session_id: Some(r.session.clone()),
        read_only: r.read_only,
        token,
    };
    agent.store.audit(
        AuditAction::TokenMinted,
        &cx.actor,
        Some(&r.session),
        &format!(
            "{} ttl {ttl}s grant ttl {grant_ttl}s read_only {}",
            minted.id, r.read_only
        ),
        cx.now,
    );
    ok(PairCreated {
        link: link.render(cfg.public_link_base.as_deref()),
        token_id: minted.id.clone(),
        session_id: r.session,
        expires_at: minted.expires_at,
        read_only: r.read_only,
    })
}

/// `pair.redeem`: consumes the token and makes a grant for the peer's key.
pub(crate) async fn redeem(cx: &Ctx<'_>, r: PairRedeem) -> Reply {
    let conn = cx.conn;
    redeem_guard(conn)?;
    // On a blocking thread: it waits for its (group) commit.
    let (st, key, peer, now) = (conn.agent.store.clone(), conn.key, conn.peer, cx.now);
    // The audit record goes in the redemption's own transaction.
    let done = tokio::task::spawn_blocking(move || {
        st.redeem_pair_token_audited(&r.token, &key, &r.label, now, |grant| {
            Some(format!(
                "label {:?}, read_only {}, from {}",
                grant.label, grant.read_only, peer
            ))
        })
    })
    .await
    .map_err(|_| err(ErrorCode::Internal, "redeem task failed"))?;
    match done {
        Ok(grant) => ok(grant),
        Err(e) => Err(redeem_failed(cx, e)),
    }
}

/// `pair.cancel`.
pub(crate) fn cancel(cx: &Ctx<'_>, r: PairCancel) -> Reply {
    let store = &cx.conn.agent.store;
    store
        .cancel_pair_token(&r.session, &r.token_id, cx.now)
        .map_err(store_err)?;
    store.audit(
        AuditAction::TokenCancelled,
        &cx.actor,
        Some(&r.session),
        &r.token_id,
        cx.now,
    );
    done()
}

/// `pair.status`: the token's state, and the grant it made with its live
/// streams counted.
pub(crate) fn status(cx: &Ctx<'_>, r: PairCancel) -> Reply {
    let agent = &cx.conn.agent;
    let mut st = agent
        .store
        .pair_token_status(&r.session, &r.token_id, cx.now)
        .map_err(store_err)?;
    if let Some(g) = st.grant.as_mut() {
        g.connected = agent.live.grant_streams(&g.grant_id);
    }
    ok(st)
}

/// Refuses a redemption from an address (or, past the global limit, from
/// anyone) that failed too often, before its token is looked at.
pub(crate) fn redeem_guard(conn: &Conn) -> Result<(), ErrorBody> {
    conn.agent
        .limits
        .may_redeem(conn.peer.ip())
        .map_err(|wait| {
            conn.agent.store.audit(
                AuditAction::RedeemFailed,
                &format!("key:{}", &dd_proto::keys::encode_key(&conn.key)[..12]),
                None,
                &format!("rate_limited from {}", conn.peer.ip()),
                now_secs(),
            );
            err(
                ErrorCode::RateLimited,
                format!(
                    "too many failed redemptions from this address; retry in {}s",
                    wait.as_secs() + 1
                ),
            )
        })
}

/// A failed redemption: counts it against the source when the token was
/// refused, records it, and gives the error to answer with.
pub(crate) fn redeem_failed(cx: &Ctx<'_>, e: StoreError) -> ErrorBody {
    let conn = cx.conn;
    let body = store_err(e);
    if body.code.is_authorization() {
        conn.agent.limits.failed(conn.peer.ip());
    }
    conn.agent.store.audit(
        AuditAction::RedeemFailed,
        &cx.actor,
        None,
        &format!("{} from {}", body.code, conn.peer.ip()),
        cx.now,
    );
    body
}
