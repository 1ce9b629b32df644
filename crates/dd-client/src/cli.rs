//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// dd-client: drive terminal sessions on a dd agent from this desktop, and
/// pair a phone to one of them.
///
/// Start with `dd-client up` (runs a local agent, enrolls this device,
/// opens a session and shows a pairing QR), or enroll with a link minted on
/// the agent's host by `dd-agent enroll-link`.
///
/// Exit codes: 0 success, 1 failure, 2 usage error, 3 not authorized
/// (unauthorized, forbidden, revoked, expired, or a used/expired/invalid
/// token).
#[derive(Debug, Parser)]
#[command(name = "dd-client", version)]
pub struct Cli {
    /// Log diagnostics to stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Machine-readable output: JSON on stdout, errors as
    /// {"error": code, "message": ...} on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also trust the CA certificates in this PEM file for https:// agents
    /// (a private CA in front of the agent). The agent's pinned key stays
    /// what this client trusts; TLS only carries the connection.
    #[arg(long, global = true, env = "DD_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Ping the agent after this much quiet (e.g. 3s, 500ms).
    #[arg(long, global = true, env = "DD_KEEPALIVE", default_value = "3s", value_parser = interval)]
    pub keepalive: std::time::Duration,
    /// Treat the link as dead after hearing nothing for this long
    /// (`attach` and `watch` then reconnect and resume). Must exceed
    /// --keepalive.
    #[arg(long, global = true, env = "DD_DEAD_AFTER", default_value = "8s", value_parser = interval)]
    pub dead_after: std::time::Duration,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

fn interval(s: &str) -> Result<std::time::Duration, String> {
    dd_proto::duration::parse_interval(s).map_err(|e| e.to_string())
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enroll this device as an owner of the agent named in LINK (a one-time
    /// `dd://enroll?...` link from `dd-agent enroll-link`). Pins the agent's
    /// key and saves the profile in the config dir (DD_CLIENT_HOME, else
    /// $XDG_CONFIG_HOME/dd-client, else ~/.config/dd-client).
    Enroll {
        /// The enrollment link.
        link: String,
        /// A label for this device (default: the host name).
        #[arg(long)]
        label: Option<String>,
    },
    /// Create, list, attach to, watch and share sessions.
    #[command(subcommand)]
    Session(SessionCmd),
    /// Show the agent's audit log (pairings, redemptions, denials, ...).
    Audit {
        /// Only records about this session.
        #[arg(long)]
        session: Option<String>,
        /// At most this many records, newest first.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// List the agent's owner devices.
    Devices,
    /// Quickstart: start a local agent if needed, enroll this device, reuse
    /// the most recent running session or create one, show a pairing QR for
    /// it and attach. Running it again reuses what exists.
    Up(UpArgs),
    /// Tell dd that the program in this session waits for you (or no
    /// longer does): for Claude Code's hooks, Codex's `notify` program and
    /// any script. Run inside a dd session (it reads DD_SESSION_ID), it
    /// writes dd's OSC 6464 sequence to the session's terminal (/dev/tty),
    /// and the agent raises `input_needed` with the message and the choices
    /// on screen at once. It needs no network, key or config. Outside a dd
    /// session the agent forms (claude, codex) do nothing and exit 0. See
    /// docs/prompts.md for the settings snippets.
    #[command(subcommand)]
    Hook(HookCmd),
}

/// `dd-client hook ...`
#[derive(Debug, Subcommand)]
pub enum HookCmd {
    /// A Claude Code hook (its JSON on stdin): Notification, PermissionRequest
    /// and Stop raise a prompt; UserPromptSubmit, PreToolUse and PostToolUse
    /// clear it. Other events do nothing. Always exits 0 unless the JSON is
    /// bad.
    Claude,
    /// Codex: as its `notify` program (the JSON as the last argument;
    /// agent-turn-complete raises a prompt with the last message), or as a
    /// hook with the JSON on stdin (the same events as `claude`).
    Codex {
        /// The notification JSON Codex appends.
        payload: Option<String>,
    },
    /// Raise a prompt with this message (any program or script).
    Needed {
        /// The message (words are joined with spaces).
        #[arg(required = true)]
        message: Vec<String>,
        /// The prompt's title (default: the session's title).
        #[arg(long)]
        title: Option<String>,
    },
    /// Clear the waiting prompt (the program goes on by itself).
    Cleared,
}

/// `dd-client up` flags.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// The local agent's state dir (default $XDG_STATE_HOME/dd/agent or
    /// ~/.local/state/dd/agent).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Where a newly started agent listens. The default listens on every
    /// interface so a phone on the LAN can reach it.
    #[arg(long, default_value = "0.0.0.0:7777")]
    pub listen: String,
    /// Print the QR and link but do not attach.
    #[arg(long)]
    pub no_attach: bool,
}

/// `dd-client session ...`
#[derive(Debug, Subcommand)]
pub enum SessionCmd {
    /// Create a session running CMD (default: the agent user's $SHELL) and
    /// attach to it unless --detach.
    New {
        /// A name for the session.
        #[arg(long)]
        name: Option<String>,
        /// Working directory on the agent's host (default: its home).
        #[arg(long)]
        cwd: Option<String>,
        /// Do not attach; print the new session's id.
        #[arg(long)]
        detach: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// List sessions: id, name, command, status, created, attached
    /// clients, and whether (and on what) each waits for input.
    List,
    /// Print a session's input-needed events as they come: prompts that
    /// wait for an answer (with their likely choices) and their clearing.
    /// Starts with the prompt waiting now, if any; ends with the session.
    /// With --json, one JSON event per line.
    Events {
        /// Session id.
        id: String,
    },
    /// Answer the prompt a session waits on: send the input of CHOICE
    /// (a choice's label, its typed key such as `y`, or its 1-based number).
    Answer {
        /// Session id.
        id: String,
        /// The choice.
        choice: String,
        /// Only answer if the waiting prompt is still this one (its seq).
        #[arg(long)]
        seq: Option<u64>,
    },
    /// Attach this terminal to a session. Ctrl-] d detaches, Ctrl-] p shows
    /// a pairing QR for a phone, Ctrl-] Ctrl-] sends a literal Ctrl-].
    Attach {
        /// Session id.
        id: String,
    },
    /// Type TEXT into a session (no terminal needed).
    Send {
        /// Session id.
        id: String,
        /// Press Enter after the text (sends a carriage return).
        #[arg(long)]
        enter: bool,
        /// The text, after `--`; several words are joined by spaces.
        #[arg(last = true, required = true)]
        text: Vec<String>,
    },
    /// Print a session's output to stdout (raw bytes) without taking input.
    Watch {
        /// Session id.
        id: String,
        /// Where to start: `screen` (the current screen), `start` (the whole
        /// transcript) or a byte offset.
        #[arg(long, default_value = "screen")]
        from: String,
        /// Exit 0 as soon as TEXT appears in the output.
        #[arg(long)]
        until: Option<String>,
        /// Give up after SECS seconds (exit 1, `error: timeout`).
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Close (end) a session.
    Close {
        /// Session id.
        id: String,
    },
    /// Show a one-time QR code and link that let a phone join this session
    /// (and only this session).
    PairMobile(PairArgs),
    /// List the companion grants of a session.
    Grants {
        /// Session id.
        id: String,
    },
    /// Revoke one grant, or all of a session's grants; their live streams
    /// are cut at once.
    Revoke {
        /// Session id.
        id: String,
        /// The grant to revoke.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        grant_id: Option<String>,
        /// Revoke every grant of the session.
        #[arg(long)]
        all: bool,
    },
    /// Cancel a pairing link that has not been used yet.
    CancelPairing {
        /// Session id.
        id: String,
        /// The token id printed by pair-mobile.
        token_id: String,
    },
}

/// `dd-client session pair-mobile` flags.
#[derive(Debug, Args)]
pub struct PairArgs {
    /// Session id.
    pub id: String,
    /// How long the link stays valid (e.g. 30s, 5m; default: the agent's).
    #[arg(long)]
    pub ttl: Option<String>,
    /// How long the phone's grant lasts once redeemed (e.g. 2h, 7d).
    #[arg(long)]
    pub grant_ttl: Option<String>,
    /// The phone may watch but not type.
    #[arg(long)]
    pub read_only: bool,
    /// A label for the link (shown in the audit log).
    #[arg(long)]
    pub label: Option<String>,
    /// Do not draw the QR code.
    #[arg(long)]
    pub no_qr: bool,
    /// Wait until the link is redeemed (print who joined) or expires (exit 3).
    #[arg(long)]
    pub wait: bool,
    /// Also write the QR code as a PNG image.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// Also write the QR code as an SVG image.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}
