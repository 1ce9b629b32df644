//! Access ends with the session: the grants and pending pairing tokens of a
//! session that is no longer running are revoked and cancelled, after a
//! short grace (`--ended-grace`, [`super::bounds::Bounds::ended_grace`])
//! in which a companion may still read the end of its output. (Redeeming a
//! token of an ended session is refused at once, `session_ended`.)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Agent;
use crate::util::now_secs;

/// How often sessions with live access are checked.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Runs until shutdown.
pub(crate) async fn run(agent: Arc<Agent>) {
    let mut shutdown = agent.shutdown.clone();
    let grace = agent.bounds.ended_grace;
    let mut ended: HashMap<String, Instant> = HashMap::new();
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|v| *v) => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        let store = agent.store.clone();
        let Ok(Ok(ids)) =
            tokio::task::spawn_blocking(move || store.sessions_with_live_access(now_secs())).await
        else {
            continue;
        };
        let now = Instant::now();
        ended.retain(|id, _| ids.contains(id));
        for id in ids {
            let live = agent
                .sessions
                .get(&id)
                .is_some_and(|s| s.info().status.is_live());
            if live {
                ended.remove(&id);
                continue;
            }
            let since = *ended.entry(id.clone()).or_insert(now);
            if now.duration_since(since) < grace {
                continue;
            }
            ended.remove(&id);
            end_access(&agent, &id);
        }
    }
}

fn end_access(agent: &Agent, session: &str) {
    let now = now_secs();
    let ids = match agent.store.revoke_session_grants(session, now) {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(session, error = %e, "could not end the grants of an ended session");
            return;
        }
    };
    for g in &ids {
        agent.store.audit(
            crate::store::AuditAction::GrantRevoked,
            "agent",
            Some(session),
            &format!("{g}: session ended"),
            now,
        );
    }
    super::handlers::grants::cut_of(agent, &ids);
}
