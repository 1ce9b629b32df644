//! `dd-companion attach`: this terminal becomes a view of the session.
//!
//! Raw mode for the duration (restored on every exit path by a guard);
//! stdin is read as bytes on the runtime thread (`dd_cli::term::Stdin`).
//! `Ctrl-]` then `d` detaches, `Ctrl-]` `Ctrl-]` sends a literal `Ctrl-]`.
//! The local terminal size is never sent: the owner's terminal drives the
//! PTY size. The session is shown at its own size whatever this terminal's
//! size is (see [`super::view`]): `Ctrl-]` `h`/`j`/`k`/`l` moves the window
//! when this terminal is smaller.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use dd_cli::escape::{Action, Escape};
use dd_cli::term::{RawGuard, Stdin};
use dd_mobile::{Companion, ConnectionState, ResumeFrom};

use super::view::View;
use crate::listener::{final_error, Forward, Item};

/// The keys after `Ctrl-]`: detach, and pan the window.
const KEYS: &[u8] = b"dhjkl";

/// The session's and this terminal's size last told about.
type Told = Option<((u16, u16), Option<(u16, u16)>)>;

/// Says once per size pair how the session is shown here.
fn size_notice(view: &View, told: &mut Told) -> bool {
    let (Some(session), local) = (view.session_size(), dd_cli::term::size()) else {
        return false;
    };
    if *told == Some((session, local)) || !view.windowed() {
        return false;
    }
    *told = Some((session, local));
    let (rows, cols) = session;
    if let Some((r, c)) = local {
        eprint!(
            "\r\n[the session is {cols}x{rows}, this terminal {c}x{r}: showing it at its own size \
             through a window that follows the cursor; Ctrl-] h/j/k/l moves it]\r\n"
        );
    }
    true
}

/// Runs the interactive attach; returns the exit code.
pub async fn run(comp: Arc<Companion>, session_id: String) -> Result<i32> {
    let (listener, mut rx) = Forward::channel();
    let handle = comp
        .attach(session_id.clone(), ResumeFrom::Screen, listener)
        .await?;
    let guard = RawGuard::enable().ok();
    eprint!("[attached to {session_id}; Ctrl-] d detaches]\r\n");
    let mut keys = Stdin::open();
    let mut stdout = std::io::stdout();
    let mut esc = Escape::new(KEYS);
    // This terminal's answers to the program's questions are not typing.
    let mut replies = crate::replies::Replies::default();
    let mut view = View::new(dd_cli::term::size());
    let mut told = None;
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    let outcome: Result<i32> = loop {
        let out = view.take();
        if !out.is_empty() {
            let _ = stdout.write_all(&out);
            let _ = stdout.flush();
        }
        tokio::select! {
            _ = winch.recv() => {
                view.local_resized(dd_cli::term::size());
                if size_notice(&view, &mut told) {
                    view.disturbed();
                }
            }
            item = rx.recv() => {
                let Some(item) = item else { break Ok(0) };
                // Everything that already waits is taken before drawing.
                let mut next = Some(item);
                let mut end = None;
                while let Some(item) = next.take() {
                    if let Some(e) = handle_item(item, &mut view, &mut told) {
                        end = Some(e);
                        break;
                    }
                    next = rx.try_recv().ok();
                }
                if let Some(e) = end {
                    break e;
                }
            }

            chunk = keys.read() => {
                // At the end of stdin the view stays; `read` then never
                // returns again.
                let Some(chunk) = chunk else { continue };
                let mut detach = false;
                let typed = replies.feed(&chunk);
                for action in esc.feed(&typed) {
                    match action {
                        Action::Send(data) => {
                            if let Err(e) = handle.send_input(data).await {
                                eprint!("\r\n[input not sent: {e}]\r\n");
                            }
                        }
                        Action::Key(b'd') => {
                            detach = true;
                            break;
                        }
                        Action::Key(k) => view.pan(k),
                    }
                }
                if detach {
                    handle.detach().await;
                    break Ok(0);
                }
            }
        }
    };
    let _ = stdout.write_all(&view.take());
    let _ = stdout.write_all(&view.leave());
    let _ = stdout.flush();
    drop(guard);
    handle.detach().await;
    if outcome.is_ok() {
        eprintln!("\n[detached from {session_id}]");
    }
    outcome
}

/// Applies one delivered item to the view; `Some` ends the attach.
fn handle_item(item: Item, view: &mut View, told: &mut Told) -> Option<Result<i32>> {
    let notice = |view: &mut View, text: String| {
        eprint!("\r\n{text}\r\n");
        view.disturbed();
    };
    match item {
        Item::Snapshot(size, d) => {
            view.snapshot(size, &d);
            if size_notice(view, told) {
                view.disturbed();
            }
        }
        Item::Output(d) => view.output(&d),
        Item::Meta(size) => {
            view.session_resized(size);
            if size_notice(view, told) {
                view.disturbed();
            }
        }
        // The terminal shows the prompt itself.
        Item::InputNeeded(_) | Item::InputCleared(_) => {}
        Item::Notice(code, message) => notice(view, format!("[{code}: {message}]")),
        Item::State(ConnectionState::Reconnecting {
            attempt,
            retry_in_ms,
        }) => notice(
            view,
            format!("[connection lost; reconnecting (attempt {attempt}, in {retry_in_ms} ms)]"),
        ),
        Item::State(ConnectionState::Live) => {}
        Item::State(state) if state.is_final() => {
            return Some(match final_error(&state) {
                Some(e) => Err(e.into()),
                None => Ok(0),
            });
        }
        Item::State(_) => {}
    }
    None
}
