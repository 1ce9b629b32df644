//! The local terminal: raw mode (from `dd-cli`) that needs a terminal.

pub use dd_cli::term::size;
use dd_cli::term::{stdin_is_terminal, RawGuard};

use crate::errors::CliError;

/// Puts the terminal in raw mode until the guard drops; fails when stdin
/// is not a terminal.
pub fn enter_raw() -> Result<RawGuard, CliError> {
    if !stdin_is_terminal() {
        return Err(CliError::new(
            "not_a_terminal",
            "attaching needs a terminal on stdin (use `session watch` or `session send`)",
        ));
    }
    RawGuard::enable().map_err(|e| CliError::new("terminal", format!("cannot enter raw mode: {e}")))
}
