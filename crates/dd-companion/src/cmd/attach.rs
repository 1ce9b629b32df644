//! `dd-companion attach`: this terminal becomes a view of the session.
//!
//! Raw mode for the duration (restored on every exit path by a guard);
//! stdin is read as bytes on a thread. `Ctrl-]` then `d` detaches, `Ctrl-]`
//! `Ctrl-]` sends a literal `Ctrl-]`. The local terminal size is never sent:
//! the owner's terminal drives the PTY size.

use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::Result;
use dd_mobile::{Companion, ConnectionState, ResumeFrom};
use tokio::sync::mpsc;

use crate::listener::{final_error, Forward, Item};

/// The escape byte: Ctrl-].
const ESCAPE: u8 = 0x1d;

/// Restores the terminal when dropped.
struct RawGuard(bool);

impl RawGuard {
    fn enable() -> RawGuard {
        RawGuard(crossterm::terminal::enable_raw_mode().is_ok())
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// What a chunk of keyboard input asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Keys {
    /// Send these bytes.
    Send(Vec<u8>),
    /// Send these bytes, then detach.
    Detach(Vec<u8>),
}

/// Splits keyboard input on the `Ctrl-] d` escape. `pending` carries an
/// escape byte seen at the end of the previous chunk.
pub fn scan(pending: &mut bool, chunk: &[u8]) -> Keys {
    let mut out = Vec::with_capacity(chunk.len());
    for &b in chunk {
        if *pending {
            *pending = false;
            match b {
                b'd' | b'D' => return Keys::Detach(out),
                ESCAPE => out.push(ESCAPE),
                other => {
                    out.push(ESCAPE);
                    out.push(other);
                }
            }
        } else if b == ESCAPE {
            *pending = true;
        } else {
            out.push(b);
        }
    }
    Keys::Send(out)
}

fn stdin_thread(tx: mpsc::UnboundedSender<Vec<u8>>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// Runs the interactive attach; returns the exit code.
pub async fn run(comp: Arc<Companion>, session_id: String) -> Result<i32> {
    let (listener, mut rx) = Forward::channel();
    let handle = comp
        .attach(session_id.clone(), ResumeFrom::Screen, listener)
        .await?;
    let (key_tx, mut keys) = mpsc::unbounded_channel();
    let guard = RawGuard::enable();
    eprint!("[attached to {session_id}; Ctrl-] d detaches]\r\n");
    stdin_thread(key_tx);
    let mut stdout = std::io::stdout();
    let mut pending = false;
    let mut stdin_open = true;
    let outcome: Result<i32> = loop {
        tokio::select! {
            item = rx.recv() => {
                let Some(item) = item else { break Ok(0) };
                match item {
                    Item::Snapshot(d) | Item::Output(d) => {
                        let _ = stdout.write_all(&d);
                        let _ = stdout.flush();
                    }
                    // The terminal shows the prompt itself.
            Item::Meta | Item::InputNeeded(_) | Item::InputCleared(_) => {}
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
            chunk = keys.recv(), if stdin_open => {
                let Some(chunk) = chunk else {
                    stdin_open = false;
                    continue;
                };
                let (data, detach) = match scan(&mut pending, &chunk) {
                    Keys::Send(d) => (d, false),
                    Keys::Detach(d) => (d, true),
                };
                if !data.is_empty() {
                    if let Err(e) = handle.send_input(data).await {
                        eprint!("\r\n[input not sent: {e}]\r\n");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_handling() {
        let mut p = false;
        assert_eq!(scan(&mut p, b"ls\r"), Keys::Send(b"ls\r".to_vec()));
        assert_eq!(scan(&mut p, b"ab\x1dd"), Keys::Detach(b"ab".to_vec()));
        assert!(!p);
        assert_eq!(scan(&mut p, b"x\x1d"), Keys::Send(b"x".to_vec()));
        assert!(p);
        assert_eq!(scan(&mut p, b"d"), Keys::Detach(vec![]));
        assert_eq!(scan(&mut p, b"\x1d\x1d"), Keys::Send(vec![0x1d]));
        assert_eq!(scan(&mut p, b"\x1dq"), Keys::Send(vec![0x1d, b'q']));
        assert!(!p);
    }
}
