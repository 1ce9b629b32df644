//! The local terminal: raw mode that is always undone, its size, and a
//! thread reading stdin.

use std::io::{IsTerminal, Read};
use std::sync::Once;

/// Raw mode for as long as this lives. Undone on drop, and by a panic hook
/// should anything panic while it is on.
pub struct RawGuard(());

impl RawGuard {
    /// Puts the terminal in raw mode (whatever stdin is; callers that need
    /// a terminal check [`stdin_is_terminal`] first).
    pub fn enable() -> std::io::Result<RawGuard> {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let _ = crossterm::terminal::disable_raw_mode();
                prev(info);
            }));
        });
        crossterm::terminal::enable_raw_mode()?;
        Ok(RawGuard(()))
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// True when stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// The terminal's (rows, cols), if stdout or stdin is a terminal.
pub fn size() -> Option<(u16, u16)> {
    if !std::io::stdout().is_terminal() && !std::io::stdin().is_terminal() {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .filter(|&(c, r)| c > 0 && r > 0)
        .map(|(c, r)| (r, c))
}

/// Reads stdin on a thread, in chunks of up to 4 KiB, handing each to
/// `sink` until stdin ends, a read fails, or `sink` returns false.
pub fn spawn_stdin_reader(sink: impl FnMut(Vec<u8>) -> bool + Send + 'static) {
    std::thread::spawn(move || pump(std::io::stdin().lock(), sink));
}

fn pump(mut input: impl Read, mut sink: impl FnMut(Vec<u8>) -> bool) {
    let mut buf = [0u8; 4096];
    loop {
        match input.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !sink(buf[..n].to_vec()) {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pump_until_eof() {
        let data = vec![7u8; 10_000];
        let mut got = Vec::new();
        pump(&data[..], |c| {
            assert!(c.len() <= 4096 && !c.is_empty());
            got.extend(c);
            true
        });
        assert_eq!(got, data);
    }

    #[test]
    fn pump_stops_when_sink_refuses() {
        let data = vec![1u8; 10_000];
        let mut calls = 0;
        pump(&data[..], |_| {
            calls += 1;
            false
        });
        assert_eq!(calls, 1);
    }

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("broken"))
        }
    }

    #[test]
    fn pump_stops_on_error() {
        pump(Failing, |_| panic!("nothing was read"));
    }
}
