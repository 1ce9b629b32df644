//! `session watch ID [--from ..] [--until TEXT] [--timeout SECS]`.
//!
//! A dropped connection (the agent's gateway restarting, the network) is
//! re-established and the stream resumed from the next byte owed, within
//! `--timeout` if one is given.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use dd_client_core::resume::{self, Cursor};
use dd_client_core::{Connection, StreamItem};
use dd_proto::methods::Resume;
use dd_proto::Event;

use super::reattach::reattach;
use super::Ctx;
use crate::errors::CliError;
use dd_client_core::until::Until;

/// Parses `--from`: `screen`, `start` or a byte offset.
pub fn parse_from(s: &str) -> Result<Resume, CliError> {
    match s {
        "screen" => Ok(Resume::Screen),
        "start" => Ok(Resume::Offset { offset: 0 }),
        n => n
            .parse::<u64>()
            .map(|offset| Resume::Offset { offset })
            .map_err(|_| {
                CliError::usage(format!(
                    "--from takes `screen`, `start` or a byte offset, not {n:?}"
                ))
            }),
    }
}

/// Runs the command.
pub async fn run(
    ctx: &Ctx,
    id: &str,
    from: &str,
    until: Option<String>,
    timeout: Option<f64>,
) -> Result<()> {
    let resume = parse_from(from)?;
    let limit = match timeout {
        Some(t) if t.is_finite() && t > 0.0 && t < 1e9 => Some(Duration::from_secs_f64(t)),
        Some(t) => return Err(CliError::usage(format!("invalid --timeout {t}")).into()),
        None => None,
    };
    let conn = ctx.connect().await?;
    let fut = watch(ctx, conn, id, resume, until.as_deref());
    let result = match limit {
        Some(d) => match tokio::time::timeout(d, fut).await {
            Ok(r) => r,
            Err(_) => Err(CliError::new(
                "timeout",
                match &until {
                    Some(t) => format!("{t:?} did not appear within {}s", d.as_secs_f64()),
                    None => format!("gave up after {}s", d.as_secs_f64()),
                },
            )
            .into()),
        },
        None => fut.await,
    };
    result
}

fn emit(data: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(data)?;
    out.flush()?;
    Ok(())
}

async fn watch(
    ctx: &Ctx,
    mut conn: Connection,
    id: &str,
    resume: Resume,
    until: Option<&str>,
) -> Result<()> {
    let mut matcher = until.map(|t| Until::new(t.as_bytes()));
    let mut stream = conn.attach(id, resume).await?;
    // Where a resume continues (before any output: where we started).
    let mut cursor = Cursor::new();
    while let Some(item) = stream.next().await {
        // `None`: nothing new in this chunk.
        let Some(item) = cursor.admit(item) else {
            continue;
        };
        if let Some(why) = resume::lost(&item) {
            tracing::info!(%why, "stream dropped; reconnecting");
            conn.close().await;
            (conn, stream) = reattach(ctx, id, cursor.resume_or(resume)).await?;
            continue;
        }
        let data = match item {
            StreamItem::Snapshot { data, .. } | StreamItem::Output { data, .. } => data,
            StreamItem::Event(Event::Error { error }) => {
                tracing::warn!(%error, "stream error");
                continue;
            }
            StreamItem::Event(Event::End { reason, message }) => {
                conn.close().await;
                return match until {
                    None => Ok(()),
                    Some(t) => Err(CliError::new(
                        "session_ended",
                        format!("the stream ended ({reason:?}: {message}) before {t:?} appeared"),
                    )
                    .into()),
                };
            }
            // (A lost stream was resumed above.)
            StreamItem::Event(_) | StreamItem::Disconnected(_) => continue,
        };
        emit(&data)?;
        if let Some(m) = matcher.as_mut() {
            if m.feed(&data) {
                conn.close().await;
                return Ok(());
            }
        }
    }
    conn.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_forms() {
        assert_eq!(parse_from("screen").unwrap(), Resume::Screen);
        assert_eq!(parse_from("start").unwrap(), Resume::Offset { offset: 0 });
        assert_eq!(parse_from("123").unwrap(), Resume::Offset { offset: 123 });
        for bad in ["", "-1", "end", "1.5"] {
            assert_eq!(parse_from(bad).unwrap_err().exit, 2);
        }
    }
}
