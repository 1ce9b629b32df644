//! `dd-client enroll LINK`.

use anyhow::Result;
use dd_client_core::connect_with;
use dd_proto::link::{Link, LinkKind};
use dd_proto::methods::{EnrollRedeem, Enrolled, ENROLL_REDEEM};
use serde_json::json;

use super::{print_json, Ctx, CLIENT_NAME};
use crate::config::{key_string, Profile};
use crate::errors::CliError;

/// Runs the command.
pub async fn run(ctx: &Ctx, link: &str, label: Option<String>) -> Result<()> {
    let p = enroll(ctx, link, label).await?;
    if ctx.json {
        print_json(&json!({
            "device_id": p.device_id,
            "agent_url": p.agent_url,
            "agent_key": p.agent_key,
            "label": p.label,
        }));
    } else {
        println!(
            "enrolled this device as {} ({}) with the agent at {}",
            p.device_id, p.label, p.agent_url
        );
    }
    Ok(())
}

/// Redeems an enrollment link and saves the profile.
pub async fn enroll(ctx: &Ctx, link: &str, label: Option<String>) -> Result<Profile> {
    let cfg = &ctx.cfg;
    let link = Link::parse_kind(link, LinkKind::Enroll)
        .map_err(|e| CliError::new("bad_link", e.to_string()))?;
    let key = cfg.device_key()?;
    let (conn, _) = connect_with(
        &link.agent_url,
        &link.agent_key,
        &key,
        CLIENT_NAME,
        ctx.net.clone(),
    )
    .await?;
    let label = label.unwrap_or_else(hostname);
    let params = EnrollRedeem {
        token: link.token.expose().to_owned(),
        label: label.clone(),
    };
    let result = conn.call_typed::<_, Enrolled>(ENROLL_REDEEM, &params).await;
    drop(params);
    conn.close().await;
    let enrolled = result?;
    let profile = Profile {
        agent_url: link.agent_url.clone(),
        agent_key: key_string(&link.agent_key),
        device_id: enrolled.device_id,
        label,
    };
    cfg.save_profile(&profile)?;
    Ok(profile)
}

/// This machine's name, for labels.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "dd-client".into())
}
