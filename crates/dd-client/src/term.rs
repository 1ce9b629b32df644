//! The local terminal: raw mode that is always undone, and its size.

use std::io::IsTerminal;
use std::sync::Once;

use crate::errors::CliError;

/// Raw mode for as long as this lives. Undone on drop, and by a panic hook
/// should anything panic while it is on.
pub struct RawGuard(());

impl RawGuard {
    /// Puts the terminal in raw mode; fails when stdin is not a terminal.
    pub fn enter() -> Result<RawGuard, CliError> {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new(
                "not_a_terminal",
                "attaching needs a terminal on stdin (use `session watch` or `session send`)",
            ));
        }
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let _ = crossterm::terminal::disable_raw_mode();
                prev(info);
            }));
        });
        crossterm::terminal::enable_raw_mode()
            .map_err(|e| CliError::new("terminal", format!("cannot enter raw mode: {e}")))?;
        Ok(RawGuard(()))
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
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
