//! `dd-companion watch`: print the session's output; optionally stop when
//! a text appears or after a timeout.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use dd_mobile::{Companion, ConnectionState, ResumeFrom};

use crate::errors::CliError;
use crate::listener::{final_error, Forward, Item};
use dd_client_core::until::Until;

fn parse_from(from: &str) -> Result<ResumeFrom, CliError> {
    match from {
        "screen" => Ok(ResumeFrom::Screen),
        "start" => Ok(ResumeFrom::Start),
        n => n
            .parse::<u64>()
            .map(|offset| ResumeFrom::Offset { offset })
            .map_err(|_| CliError::usage("--from takes screen, start or a byte offset")),
    }
}

/// Runs the watch; returns the exit code.
pub async fn run(
    comp: Arc<Companion>,
    session_id: String,
    from: &str,
    until: Option<String>,
    timeout: Option<f64>,
) -> Result<i32> {
    let resume = parse_from(from)?;
    let deadline = match timeout {
        Some(s) if s.is_finite() && s >= 0.0 => {
            Some(tokio::time::Instant::now() + Duration::from_secs_f64(s))
        }
        Some(_) => return Err(CliError::usage("--timeout takes a number of seconds").into()),
        None => None,
    };
    let mut matcher = until.as_deref().map(|t| Until::new(t.as_bytes()));
    let (listener, mut rx) = Forward::channel();
    let handle = comp.attach(session_id, resume, listener).await?;
    let mut stdout = std::io::stdout();
    let far = tokio::time::Instant::now() + Duration::from_secs(86400 * 365);
    // SIGUSR1 stands for the phone's network-path monitor: "the path
    // changed", so a reconnect waiting on backoff tries now.
    let mut path_changed =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()).ok();
    let mut lost = false;
    let result = loop {
        let item = tokio::select! {
            i = rx.recv() => i,
            Some(()) = async {
                match path_changed.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                comp.network_path_changed();
                continue;
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or(far)) => {
                break Err(CliError::coded("timeout", "gave up waiting").into());
            }
        };
        let Some(item) = item else {
            break Err(CliError::coded("failed", "the attach ended without a reason").into());
        };
        match item {
            Item::Snapshot(_, data) | Item::Output(data) => {
                let _ = stdout.write_all(&data);
                let _ = stdout.flush();
                if matcher.as_mut().is_some_and(|m| m.feed(&data)) {
                    break Ok(0);
                }
            }
            Item::Meta(_) => {}
            Item::InputNeeded(p) => eprintln!(
                "input needed #{}: {} (dd-companion answer {} CHOICE)",
                p.seq,
                dd_client_core::prompt::clean(&p.body).replace('\n', " "),
                p.session_id
            ),
            Item::InputCleared(seq) => eprintln!("input cleared #{seq}"),
            Item::Notice(code, message) => eprintln!("notice: {code}: {message}"),
            Item::State(ConnectionState::Reconnecting {
                attempt,
                retry_in_ms,
            }) => {
                lost = true;
                eprintln!("connection lost; reconnecting (attempt {attempt}, in {retry_in_ms} ms)")
            }
            Item::State(state) if state.is_final() => {
                if let Some(e) = final_error(&state) {
                    break Err(e.into());
                }
                if matcher.is_some() {
                    break Err(CliError::coded(
                        "session_ended",
                        "the stream ended before the text appeared",
                    )
                    .into());
                }
                break Ok(0);
            }
            Item::State(ConnectionState::Live) if lost => {
                lost = false;
                eprintln!("connection live again");
            }
            Item::State(_) => {}
        }
    };
    let _ = stdout.flush();
    handle.detach().await;
    result
}
