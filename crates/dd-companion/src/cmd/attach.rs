//! `dd-companion attach`: this terminal becomes a view of the session.
//!
//! Raw mode for the duration (restored on every exit path by a guard);
//! stdin is read as bytes on the runtime thread (`dd_cli::term::Stdin`).
//! `Ctrl-]` then `d` detaches, `Ctrl-]` `Ctrl-]` sends a literal `Ctrl-]`.
//! The local terminal size is never sent: the owner's terminal drives the
//! PTY size.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use dd_cli::escape::{Action, Escape};
use dd_cli::term::{RawGuard, Stdin};
use dd_mobile::{Companion, ConnectionState, ResumeFrom};

use crate::listener::{final_error, Forward, Item};

/// Follows the session's size: the output is drawn for the session's
/// rows x cols (the owner's terminal), never for this one, so when the
/// session's size is first known or changes, this terminal is asked to
/// take that size (xterm's `CSI 8 ; rows ; cols t`; terminals that do not
/// honour it ignore it), and when it still differs a notice says so. The
/// PTY is never resized from here.
#[derive(Default)]
struct View {
    size: Option<(u16, u16)>,
}

impl View {
    fn follow(&mut self, size: (u16, u16), out: &mut impl Write) {
        if self.size == Some(size) {
            return;
        }
        self.size = Some(size);
        let (rows, cols) = size;
        let local = dd_cli::term::size();
        if let Some((r, c)) = local.filter(|&l| l != size) {
            eprint!("\r\n[the session is {cols}x{rows}, this terminal {c}x{r}: asking it to resize]\r\n");
            let _ = write!(out, "\x1b[8;{rows};{cols}t");
        }
    }
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
    let mut esc = Escape::new(b"d");
    let mut view = View::default();
    let outcome: Result<i32> = loop {
        tokio::select! {
            item = rx.recv() => {
                let Some(item) = item else { break Ok(0) };
                match item {
                    Item::Snapshot(size, d) => {
                        view.follow(size, &mut stdout);
                        let _ = stdout.write_all(&d);
                        let _ = stdout.flush();
                    }
                    Item::Output(d) => {
                        let _ = stdout.write_all(&d);
                        let _ = stdout.flush();
                    }
                    Item::Meta(size) => {
                        view.follow(size, &mut stdout);
                        let _ = stdout.flush();
                    }
                    // The terminal shows the prompt itself.
                    Item::InputNeeded(_) | Item::InputCleared(_) => {}
                    Item::Notice(code, message) => eprint!("\r\n[{code}: {message}]\r\n"),
                    Item::State(ConnectionState::Reconnecting { attempt, retry_in_ms }) => {
                        eprint!("\r\n[connection lost; reconnecting (attempt {attempt}, in {retry_in_ms} ms)]\r\n");
                    }
                    Item::State(ConnectionState::Live) => {}
                    Item::State(state) if state.is_final() => {
                        if let Some(e) = final_error(&state) {
                            break Err(e.into());
                        }
                        break Ok(0);
                    }
                    Item::State(_) => {}
                }
            }
            chunk = keys.read() => {
                // At the end of stdin the view stays; `read` then never
                // returns again.
                let Some(chunk) = chunk else { continue };
                let mut detach = false;
                for action in esc.feed(&chunk) {
                    match action {
                        Action::Send(data) => {
                            if let Err(e) = handle.send_input(data).await {
                                eprint!("\r\n[input not sent: {e}]\r\n");
                            }
                        }
                        // `d` is the only key registered.
                        Action::Key(_) => {
                            detach = true;
                            break;
                        }
                    }
                }
                if detach {
                    handle.detach().await;
                    break Ok(0);
                }
            }
        }
    };
    drop(guard);
    handle.detach().await;
    if outcome.is_ok() {
        eprintln!("\n[detached from {session_id}]");
    }
    outcome
}
