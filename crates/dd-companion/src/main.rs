//! dd-companion: the phone's flow on any desktop, over the dd-mobile core.
//!
//! It joins ONE session by redeeming a pairing link, keeps the credential
//! (with its own private key) in a 0600 file under its store dir
//! (`DD_COMPANION_HOME`, default `$XDG_CONFIG_HOME/dd-companion`), and
//! watches, types into, attaches to and forgets that session, exactly as
//! the iOS app does through the same Rust core. The end-to-end tests drive
//! it. Errors print `error: <code>: <message>` on stderr (JSON on stdout
//! with `--json`); exit codes: 1 failure, 2 usage, 3 not authorized.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cli;
mod cmd;
mod errors;
mod listener;
mod replies;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let json = cli.json;
    let rt = dd_cli::run::runtime();
    let result = rt.block_on(cmd::run(cli));
    let code = dd_cli::run::exit_code(result, json, errors::classify);
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}
