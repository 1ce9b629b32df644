//! `agent.config.get` and `agent.config.set`.

use dd_proto::methods::AgentConfigPatch;

use super::{ok, store_err, Ctx, Reply};
use crate::store::AuditAction;

/// `agent.config.get`.
pub(crate) fn get(cx: &Ctx<'_>) -> Reply {
    ok(cx.conn.agent.store.config().map_err(store_err)?)
}

/// `agent.config.set`: stores the patch and applies the prompt settings to
/// the running sessions at once.
pub(crate) fn set(cx: &Ctx<'_>, patch: AgentConfigPatch) -> Reply {
    let agent = &cx.conn.agent;
    let cfg = agent.store.set_config(&patch).map_err(store_err)?;
    agent
        .sessions
        .prompt_settings()
        .set(cfg.prompt_quiet_ms, cfg.prompt_heuristic);
    agent.store.audit(
        AuditAction::ConfigChanged,
        &cx.actor,
        None,
        &serde_json::to_string(&patch).unwrap_or_default(),
        cx.now,
    );
    ok(cfg)
}
