//! `session attach ID`: this terminal becomes the session's terminal.
//!
//! Raw mode is on for the whole attach and always undone (guard and panic
//! hook). The local terminal size drives the PTY (at start and on every
//! SIGWINCH). Keys go through the [`Escape`] machine: `Ctrl-]` `d`
//! detaches, `Ctrl-]` `p` draws a pairing QR over the session (any key
//! returns; the screen is then repainted from a fresh screen snapshot).
//! RPCs run in spawned tasks so the loop keeps draining the stream.
//!
//! When the connection drops (network, or the agent's gateway restarting)
//! it reconnects with backoff and resumes from the last offset it printed,
//! so the terminal goes on exactly where it was: nothing lost, nothing
//! repeated. `Ctrl-] d` while reconnecting gives up.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use dd_client_core::resume::{self, Cursor};
use dd_client_core::{AttachStream, ClientError, Connection, StreamItem};
use dd_proto::message::EndReason;
use dd_proto::methods::{
    PairCreate, PairCreated, Resize, Resume, SessionInfo, PAIR_CREATE, SESSION_RESIZE,
};
use dd_proto::{ErrorCode, Event};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::fmt_time;
use super::reattach::reattach;
use crate::errors::CliError;
use crate::{qr, term};
use dd_cli::escape::{Action, Escape};
use dd_cli::term::Stdin;

enum Bg {
    Pair(Result<Pairing, String>),
    Reattached(Result<AttachStream, ClientError>),
}

#[derive(PartialEq, Eq)]
enum Mode {
    Live,
    QrPending,
    QrShown,
    Repainting,
}

enum Outcome {
    Detached,
    Ended(Option<i32>),
}

fn out(data: &[u8]) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(data);
    let _ = o.flush();
}

fn spawn_resize(conn: &Connection, session: &str) {
    let Some((rows, cols)) = term::size() else {
        return;
    };
    let (conn, session) = (conn.clone(), session.to_owned());
    tokio::spawn(async move {
        let r: Result<serde_json::Value, _> = conn
            .call_typed(
                SESSION_RESIZE,
                &Resize {
                    session,
                    rows,
                    cols,
                },
            )
            .await;
        if let Err(e) = r {
            tracing::debug!(%e, "resize failed");
        }
    });
}

/// Attaches this terminal to session `id` until detach or end, reconnecting
/// through `ctx` when the connection drops.
pub async fn run(ctx: &super::Ctx, conn: &Connection, id: &str) -> Result<()> {
    eprintln!(
        "[dd] attaching to {id}. Ctrl-] d: detach · Ctrl-] p: pair a phone · Ctrl-] Ctrl-]: send Ctrl-]"
    );
    let guard = term::enter_raw()?;
    let result = attach_loop(ctx, conn.clone(), id).await;
    drop(guard);
    match result {
        Ok(Outcome::Detached) => {
            eprintln!("\n[dd] detached from {id} (reattach: dd-client session attach {id})");
            Ok(())
        }
        Ok(Outcome::Ended(code)) => {
            match code {
                Some(c) => eprintln!("\n[dd] session {id} ended (exit code {c})"),
                None => eprintln!("\n[dd] session {id} ended"),
            }
            Ok(())
        }
        Err(e) => {
            eprintln!();
            Err(e)
        }
    }
}

fn end_error(reason: EndReason, message: String) -> anyhow::Error {
    let code = match reason {
        EndReason::Revoked => ErrorCode::Revoked,
        EndReason::Expired => ErrorCode::Expired,
        EndReason::TooSlow => ErrorCode::TooSlow,
        _ => return CliError::new("shutdown", format!("agent is shutting down: {message}")).into(),
    };
    CliError::from_code(code, message).into()
}

/// What `Ctrl-] p` draws: the link, and the shell warning when the
/// session runs a shell.
struct Pairing {
    link: PairCreated,
    warning: Option<String>,
}

/// `Ctrl-] p`: a pairing link for `session`, with the shell warning when it
/// runs a shell. Refused, with nothing minted, when this terminal is itself
/// a dd session: the QR would be drawn into that session's output, for
/// everyone who watches it (`session pair-mobile --in-session` overrides
/// that outside an attach).
async fn pairing(conn: &Connection, session: &str) -> Result<Pairing, String> {
    super::pair::refuse_inside_session(false).map_err(|e| e.to_string())?;
    let info: SessionInfo = conn
        .session_meta(session)
        .await
        .map_err(|e| format!("cannot read the session: {e}"))?;
    let warning = super::pair::is_shell(&info.command).then(|| super::pair::shell_warning(&info));
    let params = PairCreate {
        session: session.to_owned(),
        ttl_secs: None,
        grant_ttl_secs: None,
        read_only: false,
        label: Some("attach".into()),
    };
    let link = conn
        .call_typed(PAIR_CREATE, &params)
        .await
        .map_err(|e| format!("cannot create a pairing link: {e}"))?;
    Ok(Pairing { link, warning })
}

fn draw_qr(p: &Result<Pairing, String>) {
    let mut s = String::from("\x1b[2J\x1b[H");
    match p {
        Ok(Pairing { link: p, warning }) => {
            if let Some(w) = warning {
                s.push_str(&format!("{w}\r\n\r\n"));
            }
            match qr::encode(&p.link) {
                Ok(code) => s.push_str(&qr::to_terminal(&code).replace('\n', "\r\n")),
                Err(e) => s.push_str(&format!("{e}\r\n")),
            }
            s.push_str(&format!(
                "\r\nScan with the dd app to join this session{}:\r\n{}\r\nexpires {} · token {}\r\n",
                if p.read_only { " (read-only)" } else { "" },
                p.link,
                fmt_time(p.expires_at),
                p.token_id
            ));
        }
        Err(e) => s.push_str(&format!("[dd] no pairing link: {e}\r\n")),
    }
    s.push_str("\r\nPress any key to return to the session.\r\n");
    out(s.as_bytes());
}

/// Says the connection dropped and re-attaches where `cursor` stands (see
/// [`reattach`]); `Ctrl-] d` meanwhile gives up (`Ok(None)`).
async fn reconnect(
    ctx: &super::Ctx,
    id: &str,
    cursor: Cursor,
    why: &str,
    stdin: &mut Stdin,
    esc: &mut Escape,
) -> Result<Option<(Connection, AttachStream)>> {
    out(
        format!("\r\n[dd] connection lost ({why}); reconnecting… (Ctrl-] d gives up)\r\n")
            .as_bytes(),
    );
    let detach = async {
        while let Some(bytes) = stdin.read().await {
            if esc
                .feed(&bytes)
                .iter()
                .any(|a| matches!(a, Action::Key(b'd')))
            {
                return;
            }
        }
    };
    tokio::select! {
        r = reattach(ctx, id, cursor.resume_or(Resume::Screen)) => {
            let pair = r?;
            out(b"[dd] reconnected\r\n");
            Ok(Some(pair))
        }
        _ = detach => Ok(None),
    }
}

async fn attach_loop(ctx: &super::Ctx, mut conn: Connection, id: &str) -> Result<Outcome> {
    let conn_ref = &mut conn;
    let mut stream = conn_ref.attach(id, Resume::Screen).await?;
    // Where a resume continues (before any output: the start).
    let mut cursor = Cursor::new();
    let mut stdin = Stdin::open();
    let mut winch = signal(SignalKind::window_change())?;
    let (bg_tx, mut bg_rx) = mpsc::unbounded_channel::<Bg>();
    let mut esc = Escape::new(b"dp");
    let mut mode = Mode::Live;
    let mut exit_code = None;
    let mut detach_deadline: Option<tokio::time::Instant> = None;
    spawn_resize(conn_ref, id);
    loop {
        let conn: &Connection = conn_ref;
        let deadline = detach_deadline;
        tokio::select! {
            item = stream.next() => {
                let Some(item) = item else { return Ok(Outcome::Detached) };
                // `None`: nothing new in this chunk.
                let Some(item) = cursor.admit(item) else { continue };
                if let Some(why) = resume::lost(&item) {
                    if detach_deadline.is_none() {
                        match reconnect(ctx, id, cursor, why, &mut stdin, &mut esc).await? {
                            Some((c, s)) => {
                                *conn_ref = c;
                                stream = s;
                                mode = Mode::Live;
                                spawn_resize(conn_ref, id);
                                continue;
                            }
                            None => return Ok(Outcome::Detached),
                        }
                    }
                }
                match item {
                    StreamItem::Snapshot { data, .. } | StreamItem::Output { data, .. } => {
                        if mode == Mode::Live {
                            out(&data);
                        }
                    }
                    StreamItem::Event(Event::Exited { exit_code: c, .. }) => exit_code = c,
                    StreamItem::Event(Event::Error { error }) => {
                        if mode == Mode::Live {
                            out(format!("\r\n[dd] {error}\r\n").as_bytes());
                        }
                    }
                    StreamItem::Event(
                        Event::Meta { .. } | Event::InputNeeded { .. } | Event::InputCleared { .. },
                    ) => {}
                    StreamItem::Event(Event::End { reason, message }) => {
                        return match reason {
                            EndReason::Detached => Ok(Outcome::Detached),
                            EndReason::SessionEnded => Ok(Outcome::Ended(exit_code)),
                            other => Err(end_error(other, message)),
                        };
                    }
                    // Lost while detaching: that is the detach.
                    StreamItem::Disconnected(_) => return Ok(Outcome::Detached),
                }
            }
            bytes = stdin.read(), if detach_deadline.is_none() => {
                let Some(bytes) = bytes else {
                    // stdin closed: leave the session running.
                    stream.detach().await?;
                    detach_deadline = Some(tokio::time::Instant::now() + Duration::from_secs(3));
                    continue;
                };
                match mode {
                    Mode::Live => {
                        for action in esc.feed(&bytes) {
                            match action {
                                Action::Send(d) => stream.send_input(&d).await?,
                                Action::Key(b'd') => {
                                    stream.detach().await?;
                                    detach_deadline =
                                        Some(tokio::time::Instant::now() + Duration::from_secs(3));
                                    break;
                                }
                                Action::Key(b'p') => {
                                    mode = Mode::QrPending;
                                    let (conn, tx) = (conn.clone(), bg_tx.clone());
                                    let session = id.to_owned();
                                    tokio::spawn(async move {
                                        let r = pairing(&conn, &session).await;
                                        let _ = tx.send(Bg::Pair(r));
                                    });
                                    break;
                                }
                                // No other key is registered.
                                Action::Key(_) => {}
                            }
                        }
                    }
                    Mode::QrShown => {
                        mode = Mode::Repainting;
                        let (conn, tx, id) = (conn.clone(), bg_tx.clone(), id.to_owned());
                        tokio::spawn(async move {
                            let r = conn.attach(&id, Resume::Screen).await;
                            let _ = tx.send(Bg::Reattached(r));
                        });
                    }
                    Mode::QrPending | Mode::Repainting => {}
                }
            }
            Some(bg) = bg_rx.recv() => match bg {
                Bg::Pair(p) => {
                    if mode == Mode::QrPending {
                        draw_qr(&p);
                        mode = Mode::QrShown;
                    }
                }
                Bg::Reattached(Ok(fresh)) => {
                    // Dropping the old stream detaches it.
                    drop(std::mem::replace(&mut stream, fresh));
                    mode = Mode::Live;
                    spawn_resize(conn, id);
                }
                Bg::Reattached(Err(e)) => return Err(e.into()),
            },
            _ = winch.recv() => spawn_resize(conn, id),
            _ = async { tokio::time::sleep_until(deadline.unwrap()).await }, if deadline.is_some() => {
                return Ok(Outcome::Detached);
            }
        }
    }
}
