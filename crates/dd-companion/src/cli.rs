//! The command line.

use clap::{Parser, Subcommand};

/// dd-companion: join ONE dd session from any machine, the way a phone does.
///
/// `join` redeems a one-time pairing link (from `dd-client session
/// pair-mobile`) and keeps the resulting credential (its own private key,
/// 0600) in the store dir; every other command works on that one session
/// only. Errors print `error: <code>: <message>` on stderr (JSON on stdout
/// with --json); exit codes: 1 failure, 2 usage, 3 not authorized
/// (unauthorized, forbidden, revoked, expired, token_*).
#[derive(Debug, Parser)]
#[command(name = "dd-companion", version, about, long_about)]
pub struct Cli {
    /// Print results and errors as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also trust the CA certificates in this PEM file for https:// agents
    /// (a private CA in front of the agent). The key pinned from the
    /// pairing link stays what this device trusts.
    #[arg(long, global = true, env = "DD_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Ping the agent after this much quiet (e.g. 3s, 500ms).
    #[arg(long, global = true, env = "DD_KEEPALIVE", default_value = "3s", value_parser = interval)]
    pub keepalive: std::time::Duration,
    /// Treat the link as dead (and reconnect, resuming from the last byte
    /// seen) after hearing nothing for this long. Must exceed --keepalive.
    #[arg(long, global = true, env = "DD_DEAD_AFTER", default_value = "8s", value_parser = interval)]
    pub dead_after: std::time::Duration,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

fn interval(s: &str) -> Result<std::time::Duration, String> {
    dd_proto::duration::parse_interval(s).map_err(|e| e.to_string())
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Redeem a pairing link (dd://pair?...) and keep the credential.
    ///
    /// Keep the link off the command line, where every local user can read
    /// it: `dd-companion join -` (paste it, or pipe it in), `dd-companion
    /// join --link-file FILE`, or `DD_PAIR_LINK=... dd-companion join`. A
    /// link given as the argument still works, with a warning.
    Join {
        /// The pairing link, or `-` to read it from stdin (preferred).
        /// Without it, the link comes from --link-file or $DD_PAIR_LINK.
        link: Option<String>,
        /// Read the link from this file (`-`: stdin).
        #[arg(long, value_name = "FILE")]
        link_file: Option<std::path::PathBuf>,
        /// How this device names itself on the agent (default: hostname).
        #[arg(long)]
        label: Option<String>,
    },
    /// List the sessions this device is paired with.
    List,
    /// Attach this terminal to the session. Ctrl-] d detaches; Ctrl-]
    /// Ctrl-] sends a literal Ctrl-]. Never resizes the session's PTY: the
    /// session is shown at its own size, through a window that follows the
    /// cursor when this terminal is smaller (Ctrl-] h/j/k/l moves it).
    Attach {
        /// Session id (optional when exactly one pairing is stored).
        session_id: Option<String>,
    },
    /// Type TEXT into the session.
    Send {
        /// Session id.
        session_id: String,
        /// Press Enter after the text (sends a carriage return).
        #[arg(long)]
        enter: bool,
        /// The text, after `--`; several words are joined by spaces.
        #[arg(last = true, required = true)]
        text: Vec<String>,
    },
    /// Print the session's output (raw bytes) to stdout. Reconnects and
    /// resumes by itself after a lost link; SIGUSR1 means "the network
    /// path changed" (what the phone's path monitor reports): reconnect now.
    Watch {
        /// Session id.
        session_id: String,
        /// Where to start: `screen` (the current screen), `start` (the
        /// whole transcript) or a byte offset.
        #[arg(long, default_value = "screen")]
        from: String,
        /// Exit 0 as soon as TEXT appears in the output.
        #[arg(long)]
        until: Option<String>,
        /// Give up after SECS seconds (exit 1, `error: timeout`).
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Print the session's prompts (input needed) and their clearing as
    /// they come, until the session ends; first the prompt waiting now, if
    /// any. With --json: one protocol event per line.
    Events {
        /// Session id.
        session_id: String,
    },
    /// Answer the prompt the session waits on: CHOICE is a choice's label
    /// (`Yes`), its typed key (`y`) or its number (`1`).
    Answer {
        /// Session id.
        session_id: String,
        /// The choice.
        choice: String,
        /// Only if prompt number SEQ is the one waiting.
        #[arg(long)]
        seq: Option<u64>,
    },
    /// Call any protocol method as this session's credential and print the
    /// result JSON (the agent decides what is allowed).
    Call {
        /// Session id.
        session_id: String,
        /// Method name, e.g. session.meta.
        method: String,
        /// Parameters as a JSON object (default `{"session": SESSION_ID}`).
        params: Option<String>,
    },
    /// Revoke this device's grant (best effort when offline) and delete the
    /// credential.
    Forget {
        /// Session id.
        session_id: String,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(display_order = 1000)]
    Completions(dd_cli::gen::CompletionsArgs),
    /// Print the man page, or write one page per command with --dir.
    #[command(display_order = 1001)]
    Man(dd_cli::gen::ManArgs),
}
