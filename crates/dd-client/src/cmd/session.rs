//! `session new | list | send | close`.

use anyhow::Result;
use dd_proto::keys::encode_bytes;
use dd_proto::methods::{
    CreateSession, SendInput, SessionInfo, SessionList, SessionRef, SESSION_CLOSE, SESSION_CREATE,
    SESSION_INPUT, SESSION_LIST,
};
use serde_json::Value;

use super::{attach, fmt_time, print_json, print_table, Ctx};
use crate::term;

/// `session new`.
pub async fn new(
    ctx: &Ctx,
    name: Option<String>,
    cwd: Option<String>,
    detach: bool,
    command: Vec<String>,
) -> Result<()> {
    let conn = ctx.connect().await?;
    let size = term::size();
    let cwd = cwd.map(|c| {
        // A relative path means "relative to here" when the directory
        // exists here; otherwise it is the agent's business.
        std::fs::canonicalize(&c)
            .ok()
            .and_then(|p| p.to_str().map(str::to_owned))
            .unwrap_or(c)
    });
    let params = CreateSession {
        name,
        command: (!command.is_empty()).then_some(command),
        cwd,
        rows: size.map(|s| s.0),
        cols: size.map(|s| s.1),
        ..Default::default()
    };
    let info: SessionInfo = conn.call_typed(SESSION_CREATE, &params).await?;
    if detach {
        if ctx.json {
            print_json(&info);
        } else {
            println!("{}", info.id);
        }
        return Ok(());
    }
    attach::run(ctx, &conn, &info.id).await
}

/// Lists sessions, newest first.
pub async fn list(ctx: &Ctx) -> Result<()> {
    let conn = ctx.connect().await?;
    let list: SessionList = conn
        .call_typed(SESSION_LIST, &serde_json::json!({}))
        .await?;
    if ctx.json {
        print_json(&list.sessions);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .sessions
        .iter()
        .map(|s| {
            let status = match (s.status, s.exit_code) {
                (st, Some(code)) => format!("{}({code})", status_name(st)),
                (st, None) => status_name(st).to_owned(),
            };
            vec![
                s.id.clone(),
                s.name.clone(),
                s.command.join(" "),
                status,
                fmt_time(s.created_at),
                s.clients.to_string(),
                waiting_cell(s),
            ]
        })
        .collect();
    print_table(
        &[
            "ID", "NAME", "COMMAND", "STATUS", "CREATED", "CLIENTS", "WAITING",
        ],
        &rows,
    );
    Ok(())
}

/// `-`, or `#seq body` cut to 40 characters.
fn waiting_cell(s: &SessionInfo) -> String {
    match &s.waiting {
        None => "-".into(),
        Some(w) => {
            let text: String = w.body.chars().filter(|c| !c.is_control()).collect();
            let mut cell = format!("#{} {}", w.seq, text.trim());
            if cell.chars().count() > 40 {
                cell = cell.chars().take(39).collect::<String>() + "…";
            }
            cell
        }
    }
}

fn status_name(s: dd_proto::methods::SessionStatus) -> &'static str {
    use dd_proto::methods::SessionStatus::*;
    match s {
        Running => "running",
        Exited => "exited",
        Closed => "closed",
        Lost => "lost",
    }
}

/// `session send ID [--enter] -- TEXT`.
pub async fn send(ctx: &Ctx, id: &str, enter: bool, text: Vec<String>) -> Result<()> {
    let mut data = text.join(" ").into_bytes();
    if enter {
        data.push(b'\r');
    }
    let conn = ctx.connect().await?;
    let _: Value = conn
        .call_typed(
            SESSION_INPUT,
            &SendInput {
                session: id.to_owned(),
                data: encode_bytes(&data),
            },
        )
        .await?;
    if ctx.json {
        print_json(&serde_json::json!({"session": id, "bytes": data.len()}));
    }
    Ok(())
}

/// `session close ID`.
pub async fn close(ctx: &Ctx, id: &str) -> Result<()> {
    let conn = ctx.connect().await?;
    let info: SessionInfo = conn
        .call_typed(
            SESSION_CLOSE,
            &SessionRef {
                session: id.to_owned(),
            },
        )
        .await?;
    if ctx.json {
        print_json(&info);
    } else {
        println!("closed {}", info.id);
    }
    Ok(())
}
