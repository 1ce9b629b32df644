//! `session events ID` and `session answer ID CHOICE`.

use anyhow::Result;
use dd_client_core::prompt::{answer_waiting, describe, AnswerError, ChooseError};
use dd_client_core::StreamItem;
use dd_proto::message::{EndReason, Event};

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
    let (prompt, label) = answer_waiting(&conn, id, choice, seq)
        .await
        .map_err(answer_error)?;
    if ctx.json {
        print_json(&serde_json::json!({"session": id, "seq": prompt.seq, "choice": label}));
    } else {
        println!("answered #{} with {}", prompt.seq, label);
    }
    Ok(())
}

/// The CLI's error for an answer that was not sent.
fn answer_error(e: AnswerError) -> anyhow::Error {
    match e {
        AnswerError::Client(e) => e.into(),
        AnswerError::NotWaiting { .. } | AnswerError::Stale { .. } => {
            CliError::new("not_waiting", e.to_string()).into()
        }
        AnswerError::Choose(e @ ChooseError::NoInput { .. }) => {
            CliError::usage(format!("{e}; use `session send`")).into()
        }
        AnswerError::Choose(other) => CliError::usage(other.to_string()).into(),
    }
}
