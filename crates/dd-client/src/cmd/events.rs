//! `session events ID` and `session answer ID CHOICE`.

use anyhow::Result;
use dd_client_core::prompt::{choose, describe, ChooseError};
use dd_client_core::StreamItem;
use dd_proto::keys::encode_bytes;
use dd_proto::message::{EndReason, Event};
use dd_proto::methods::{SendInput, SessionInfo, SessionRef, SESSION_INPUT, SESSION_META};
use serde_json::Value;

use super::{print_json, Ctx};
use crate::errors::CliError;

/// Prints one event (human or JSON).
fn show(ctx: &Ctx, event: &Event) {
    if ctx.json {
        print_json(event);
        return;
    }
    match event {
        Event::InputNeeded { prompt } => print!("{}", describe(prompt)),
        Event::InputCleared { seq } => println!("[cleared #{seq}]"),
        Event::Exited { exit_code, .. } => match exit_code {
            Some(c) => println!("[exited {c}]"),
            None => println!("[exited]"),
        },
        Event::Error { error } => println!("[error] {error}"),
        Event::Meta { .. } | Event::End { .. } => {}
    }
}

/// `session events ID`: prints events until the session ends.
pub async fn run(ctx: &Ctx, id: &str) -> Result<()> {
    let conn = ctx.connect().await?;
    let mut stream = conn.events(id).await?;
    if let Some(w) = stream.attached.session.waiting.clone() {
        show(ctx, &Event::InputNeeded { prompt: *w });
    }
    use std::io::Write;
    while let Some(item) = stream.next().await {
        match item {
            StreamItem::Event(Event::End { reason, message }) => {
                if ctx.json {
                    print_json(&Event::End {
                        reason,
                        message: message.clone(),
                    });
                }
                return match reason {
                    EndReason::SessionEnded | EndReason::Detached => Ok(()),
                    other => Err(CliError::new(
                        &serde_json::to_value(other)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_else(|| "ended".into()),
                        message,
                    )
                    .into()),
                };
            }
            StreamItem::Event(e) => show(ctx, &e),
            StreamItem::Disconnected(why) => {
                return Err(CliError::new("connection_closed", why).into())
            }
            StreamItem::Output { .. } | StreamItem::Snapshot { .. } => {}
        }
        let _ = std::io::stdout().flush();
    }
    Ok(())
}

/// `session answer ID CHOICE [--seq N]`.
pub async fn answer(ctx: &Ctx, id: &str, choice: &str, seq: Option<u64>) -> Result<()> {
    let conn = ctx.connect().await?;
    let info: SessionInfo = conn
        .call_typed(
            SESSION_META,
            &SessionRef {
                session: id.to_owned(),
            },
        )
        .await?;
    let Some(prompt) = info.waiting else {
        return Err(
            CliError::new("not_waiting", format!("session {id} waits for no answer")).into(),
        );
    };
    if seq.is_some_and(|s| s != prompt.seq) {
        return Err(CliError::new(
            "not_waiting",
            format!(
                "prompt #{} waits now, not #{}",
                prompt.seq,
                seq.unwrap_or_default()
            ),
        )
        .into());
    }
    let (c, bytes) = choose(&prompt, choice).map_err(|e| match e {
        ChooseError::NoInput { .. } => CliError::usage(format!("{e}; use `session send`")),
        other => CliError::usage(other.to_string()),
    })?;
    let _: Value = conn
        .call_typed(
            SESSION_INPUT,
            &SendInput {
                session: id.to_owned(),
                data: encode_bytes(&bytes),
            },
        )
        .await?;
    if ctx.json {
        print_json(&serde_json::json!({"session": id, "seq": prompt.seq, "choice": c.label}));
    } else {
        println!("answered #{} with {}", prompt.seq, c.label);
    }
    Ok(())
}
