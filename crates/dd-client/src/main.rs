//! dd-client: the desktop CLI of dd, an enrolled owner device.
//!
//! It creates, lists, attaches to, watches and closes sessions on a dd agent
//! over a Noise-encrypted WebSocket (through `dd-client-core`), and pairs a
//! phone to one session with a one-time QR code. Every error prints
//! `error: <code>: <message>` on stderr (or JSON on stdout with `--json`);
//! exit codes: 1 failure, 2 usage, 3 not authorized.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cli;
mod cmd;
mod config;
mod duration;
mod errors;
mod qr;
mod term;

use std::io::Write;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .init();
    let json = cli.json;
    let rt = dd_cli::run::runtime();
    let result = rt.block_on(cmd::run(cli)).map(|()| 0);
    let code = dd_cli::run::exit_code(result, json, errors::classify);
    let _ = std::io::stdout().flush();
    // Exit without waiting for the runtime: a thread blocked reading stdin
    // must not keep the process alive.
    std::process::exit(code);
}
