//! `dd-companion events ID` and `dd-companion answer ID CHOICE`: the same
//! as `dd-client session events/answer`, as this session's credential.

use std::io::Write;

use anyhow::Result;
use dd_client_core::prompt::{choose, describe};
use dd_client_core::StreamItem;
use dd_mobile::{Companion, MobileError};
use dd_proto::keys::encode_bytes;
use dd_proto::message::{EndReason, Event};
use dd_proto::methods::{SendInput, SessionInfo, SESSION_INPUT};
use serde_json::json;

use crate::errors::CliError;

/// Prints one event: a protocol JSON line, or text.
fn show(json: bool, event: &Event) {
    if json {
        println!("{}", serde_json::to_string(event).unwrap_or_default());
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

/// The command's outcome for how a stream ended.
fn ended(reason: EndReason, message: String) -> Result<i32> {
    match reason {
        EndReason::SessionEnded | EndReason::Detached => Ok(0),
        other => {
            let code = serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "ended".into());
            Err(CliError::coded(&code, message).into())
        }
    }
}

/// `events ID`: prints events until the session ends; returns the exit code.
pub async fn run(comp: &Companion, id: &str, json: bool) -> Result<i32> {
    let conn = comp.connect(id).await?;
    let mut stream = conn.events(id).await.map_err(MobileError::from)?;
    // The prompt waiting now, then events; a prompt is shown once even if
    // it was raised while the stream opened.
    let mut shown = None;
    if let Some(w) = stream.attached.session.waiting.clone() {
        shown = Some(w.seq);
        show(json, &Event::InputNeeded { prompt: *w });
    }
    let _ = std::io::stdout().flush();
    let outcome = loop {
        let Some(item) = stream.next().await else {
            break Err(CliError::coded("connection_closed", "the stream ended").into());
        };
        match item {
            StreamItem::Event(Event::End { reason, message }) => {
                if json {
                    show(
                        true,
                        &Event::End {
                            reason,
                            message: message.clone(),
                        },
                    );
                }
                break ended(reason, message);
            }
            StreamItem::Event(Event::InputNeeded { prompt }) if shown == Some(prompt.seq) => {}
            StreamItem::Event(e) => show(json, &e),
            StreamItem::Disconnected(why) => {
                break Err(CliError::coded("connection_closed", why).into())
            }
            StreamItem::Output { .. } | StreamItem::Snapshot { .. } => {}
        }
        let _ = std::io::stdout().flush();
    };
    let _ = std::io::stdout().flush();
    conn.close().await;
    outcome
}

/// `answer ID CHOICE [--seq N]`; returns the exit code.
pub async fn answer(
    comp: &Companion,
    id: &str,
    choice: &str,
    seq: Option<u64>,
    json: bool,
) -> Result<i32> {
    let conn = comp.connect(id).await?;
    let result = answer_on(&conn, id, choice, seq).await;
    conn.close().await;
    let (seq, label) = result?;
    if json {
        println!("{}", json!({"session": id, "seq": seq, "choice": label}));
    } else {
        println!("answered #{seq} with {label}");
    }
    Ok(0)
}

async fn answer_on(
    conn: &dd_client_core::Connection,
    id: &str,
    choice: &str,
    seq: Option<u64>,
) -> Result<(u64, String)> {
    let info: SessionInfo = conn.session_meta(id).await.map_err(MobileError::from)?;
    let Some(prompt) = info.waiting else {
        return Err(
            CliError::coded("not_waiting", format!("session {id} waits for no answer")).into(),
        );
    };
    if let Some(want) = seq.filter(|s| *s != prompt.seq) {
        return Err(CliError::coded(
            "not_waiting",
            format!("prompt #{} waits now, not #{want}", prompt.seq),
        )
        .into());
    }
    let (c, bytes) = choose(&prompt, choice).map_err(|e| CliError::usage(e.to_string()))?;
    let _: serde_json::Value = conn
        .call_typed(
            SESSION_INPUT,
            &SendInput {
                session: id.to_owned(),
                data: encode_bytes(&bytes),
            },
        )
        .await
        .map_err(MobileError::from)?;
    Ok((prompt.seq, c.label.clone()))
}
