//! `audit` and `devices`.

use anyhow::Result;
use dd_proto::methods::{AuditList, AuditQuery, DeviceList, AUDIT_LIST, DEVICE_LIST};

use super::{fmt_opt_time, fmt_time, print_json, print_table, Ctx};

/// `dd-client audit`.
pub async fn audit(ctx: &Ctx, q: AuditQuery) -> Result<()> {
    let conn = ctx.connect().await?;
    let list: AuditList = conn.call_typed(AUDIT_LIST, &q).await?;
    if ctx.json {
        // An array, as before; the next page is `--before` the last id.
        print_json(&list.records);
        if let Some(b) = list.next_before {
            eprintln!("more: dd-client audit --before {b} (same filters)");
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .records
        .iter()
        .map(|r| {
            let at = match r.last_at {
                Some(last) if r.count > 1 && last != r.at => {
                    format!("{}..{}", fmt_time(r.at), fmt_time(last))
                }
                _ => fmt_time(r.at),
            };
            vec![
                r.id.to_string(),
                at,
                r.action.clone(),
                r.actor.clone(),
                r.session_id.clone().unwrap_or_else(|| "-".into()),
                r.count.to_string(),
                r.detail.clone(),
            ]
        })
        .collect();
    print_table(
        &["ID", "AT", "ACTION", "ACTOR", "SESSION", "COUNT", "DETAIL"],
        &rows,
    );
    if let Some(b) = list.next_before {
        println!("more: dd-client audit --before {b} (same filters)");
    }
    Ok(())
}

/// `dd-client devices`.
pub async fn devices(ctx: &Ctx) -> Result<()> {
    let conn = ctx.connect().await?;
    let list: DeviceList = conn.call_typed(DEVICE_LIST, &serde_json::json!({})).await?;
    if ctx.json {
        print_json(&list.devices);
        return Ok(());
    }
    let me = ctx.cfg.profile()?.map(|p| p.device_id);
    let rows: Vec<Vec<String>> = list
        .devices
        .iter()
        .map(|d| {
            let mut label = d.label.clone();
            if me.as_deref() == Some(d.id.as_str()) {
                label.push_str(" (this device)");
            }
            vec![
                d.id.clone(),
                label,
                fmt_time(d.created_at),
                fmt_opt_time(d.last_seen),
                d.revoked_at
                    .map(|t| format!("revoked {}", fmt_time(t)))
                    .unwrap_or_else(|| "active".into()),
            ]
        })
        .collect();
    print_table(&["ID", "LABEL", "ENROLLED", "LAST SEEN", "STATE"], &rows);
    Ok(())
}
