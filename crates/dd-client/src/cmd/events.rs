//! `session events ID` and `session answer ID CHOICE`.

use anyhow::Result;
use dd_client_core::StreamItem;
use dd_proto::keys::encode_bytes;
use dd_proto::message::{EndReason, Event};
use dd_proto::methods::{
    InputNeeded, SendInput, SessionInfo, SessionRef, SESSION_INPUT, SESSION_META,
};
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

/// A prompt as text: header, the screen lines, numbered choices.
pub fn describe(p: &InputNeeded) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .collect()
    };
    let mut out = format!(
        "[input needed #{} via {}] {}: {}\n",
        p.seq,
        serde_json::to_value(p.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        clean(&p.title),
        clean(&p.body)
    );
    for line in p.prompt.lines() {
        out.push_str(&format!("  | {}\n", clean(line)));
    }
    for (i, c) in p.choices.iter().enumerate() {
        out.push_str(&format!("  {}) {}\n", i + 1, clean(&c.label)));
    }
    out
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
    let Some(c) = prompt.find_choice(choice) else {
        let labels: Vec<String> = prompt
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}) {}", i + 1, c.label))
            .collect();
        let have = if labels.is_empty() {
            "it offers no choices; type the answer with `session send`".to_owned()
        } else {
            format!("choose one of: {}", labels.join(", "))
        };
        return Err(CliError::usage(format!(
            "no choice {choice:?} in prompt #{}; {have}",
            prompt.seq
        ))
        .into());
    };
    let bytes = c.bytes().ok_or_else(|| {
        CliError::new("protocol", "the agent sent a choice that is not base64url")
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
