//! `session pair-mobile | grants | revoke | cancel-pairing`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use dd_client_core::clock::now_secs;
use dd_client_core::Connection;
use dd_proto::methods::{
    GrantInfo, GrantList, GrantRevoke, PairCancel, PairCreate, PairCreated, PairStatus, Revoked,
    SessionInfo, SessionRef, GRANT_LIST, GRANT_REVOKE, PAIR_CANCEL, PAIR_CREATE, PAIR_STATUS,
};
use dd_proto::ErrorCode;
use serde_json::{json, Value};

use super::{fmt_opt_time, fmt_time, print_json, print_table, Ctx};
use crate::cli::PairArgs;
use crate::duration::{countdown, parse_secs};
use crate::errors::CliError;
use crate::qr;
use dd_cli::term::Stdin;

fn dur(flag: &str, v: Option<&str>) -> Result<Option<u64>, CliError> {
    v.map(|s| {
        parse_secs(s).ok_or_else(|| {
            CliError::usage(format!(
                "{flag} takes a duration like 30s, 5m, 2h or 7d, not {s:?}"
            ))
        })
    })
    .transpose()
}

/// The variable the session host sets in every session it starts: its id.
pub const SESSION_ENV: &str = "DD_SESSION_ID";

/// Refuses to draw a pairing link into a dd session (unless `allowed`):
/// that terminal's output streams to everyone watching the session, and
/// the first to redeem the link gets the grant.
pub fn refuse_inside_session(allowed: bool) -> Result<(), CliError> {
    match std::env::var(SESSION_ENV) {
        Ok(id) if !id.is_empty() && !allowed => Err(CliError::new(
            "inside_session",
            format!(
                "this terminal is dd session {}: its output goes to everyone watching it, \
                and whoever redeems the link first gets the grant; run this outside dd \
                sessions, or pass --in-session if nobody else watches this one",
                dd_proto::text::sanitize(&id, 64)
            ),
        )),
        _ => Ok(()),
    }
}

/// Shells: an interactive grant on a session running one of these is a
/// shell as the agent's user.
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "fish", "dash", "ksh", "mksh", "pdksh", "ash", "tcsh", "csh", "nu",
    "elvish", "xonsh", "pwsh", "busybox", "login", "su", "sudo",
];

/// True when `command` is a shell (or no command: the agent's $SHELL).
pub fn is_shell(command: &[String]) -> bool {
    let Some(program) = command.first() else {
        return true;
    };
    let name = program.rsplit('/').next().unwrap_or(program);
    let name = name.strip_prefix('-').unwrap_or(name);
    SHELLS.contains(&name)
}

/// The on-screen warning before an interactive link for a shell session.
pub fn shell_warning(session: &SessionInfo) -> String {
    format!(
        "warning: session {} runs a shell ({}). Whoever redeems this link can run any \
        command as the agent's user on this machine — read your files, mint an owner \
        enrollment link (`dd-agent enroll-link`) and so reach every session. Share it \
        only with yourself; for anyone else use --read-only or a session running one \
        program (`dd-client session new -- PROGRAM`).",
        session.id,
        dd_proto::text::sanitize(&session.command.join(" "), 80)
    )
}

/// Prints [`shell_warning`] on stderr when an interactive link for
/// `session` is about to be shown.
pub async fn warn_if_shell(conn: &Connection, session: &str, read_only: bool) -> Result<()> {
    if read_only {
        return Ok(());
    }
    let info: SessionInfo = conn.session_meta(session).await?;
    if is_shell(&info.command) {
        eprintln!("{}", shell_warning(&info));
    }
    Ok(())
}

/// `pair.create` for a session.
pub async fn create(
    conn: &Connection,
    session: &str,
    ttl: Option<u64>,
    grant_ttl: Option<u64>,
    read_only: bool,
    label: Option<String>,
) -> Result<PairCreated> {
    Ok(conn
        .call_typed(
            PAIR_CREATE,
            &PairCreate {
                session: session.to_owned(),
                ttl_secs: ttl,
                grant_ttl_secs: grant_ttl,
                read_only,
                label,
            },
        )
        .await?)
}

/// Prints the QR (unless `no_qr`) and the link for a human. Every command
/// that draws a pairing QR (`pair-mobile`, `up`) goes through here.
pub fn show(p: &PairCreated, no_qr: bool) -> Result<()> {
    if !no_qr {
        print!("{}", qr::to_terminal(&qr::encode(&p.link)?));
    }
    println!(
        "Scan the code with the dd app, or open this link on the phone{}:",
        if p.read_only { " (read-only)" } else { "" }
    );
    println!("{}", p.link);
    println!(
        "One-time link for session {}; expires {} (token {}).",
        p.session_id,
        fmt_time(p.expires_at),
        p.token_id
    );
    Ok(())
}

/// `session pair-mobile`.
pub async fn pair_mobile(ctx: &Ctx, a: PairArgs) -> Result<()> {
    let ttl = dur("--ttl", a.ttl.as_deref())?;
    let grant_ttl = dur("--grant-ttl", a.grant_ttl.as_deref())?;
    refuse_inside_session(a.in_session)?;
    let conn = ctx.connect().await?;
    warn_if_shell(&conn, &a.id, a.read_only).await?;
    let p = create(&conn, &a.id, ttl, grant_ttl, a.read_only, a.label).await?;
    let code = qr::encode(&p.link)?;
    qr::write_files(&code, a.png.as_deref(), a.svg.as_deref())?;
    if ctx.json {
        print_json(&json!({
            "link": p.link,
            "token_id": p.token_id,
            "session_id": p.session_id,
            "expires_at": fmt_time(p.expires_at),
            "read_only": p.read_only,
        }));
    } else {
        show(&p, a.no_qr)?;
    }
    let tty = std::io::stdout().is_terminal() && !ctx.json;
    if !(a.wait || tty) {
        return Ok(());
    }
    let grant = wait(&conn, &p, tty).await?;
    if ctx.json {
        print_json(&json!({"state": "redeemed", "grant": grant}));
    } else {
        println!(
            "joined: {} (grant {}, {}, until {})",
            if grant.label.is_empty() {
                "a phone".into()
            } else {
                dd_proto::text::sanitized(&grant.label)
            },
            grant.grant_id,
            if grant.read_only {
                "read-only"
            } else {
                "read-write"
            },
            fmt_time(grant.expires_at)
        );
    }
    Ok(())
}

/// How a wait for a phone ended.
#[derive(Debug)]
pub enum WaitEnd {
    /// The token was redeemed: the grant it made.
    Joined(GrantInfo),
    /// A key other than Ctrl-C or Ctrl-D was pressed.
    Key,
    /// Ctrl-C or Ctrl-D (or stdin ended).
    Quit,
    /// The token expired unused.
    Expired,
    /// The token was cancelled.
    Cancelled,
}

/// Polls `pair.status` until the token is redeemed, expires or is
/// cancelled; errors for the last two.
async fn wait(conn: &Connection, p: &PairCreated, countdown_line: bool) -> Result<GrantInfo> {
    let hint = if countdown_line { Some("") } else { None };
    match wait_until(conn, p, hint, None).await? {
        WaitEnd::Joined(g) => Ok(g),
        WaitEnd::Expired => Err(CliError::from_code(
            ErrorCode::TokenExpired,
            "the pairing link expired before it was used",
        )
        .into()),
        WaitEnd::Cancelled => Err(CliError::from_code(
            ErrorCode::TokenCancelled,
            "the pairing link was cancelled",
        )
        .into()),
        WaitEnd::Key | WaitEnd::Quit => unreachable!("no keys are read without stdin"),
    }
}

/// Polls `pair.status` (every 500 ms) until the token is redeemed, expires
/// or is cancelled, or — when `keys` is given (stdin in raw mode) — a key
/// is pressed. With `hint`, draws a one-line countdown ending in the hint,
/// redrawn in place and cleared at the end.
pub async fn wait_until(
    conn: &Connection,
    p: &PairCreated,
    hint: Option<&str>,
    mut keys: Option<&mut Stdin>,
) -> Result<WaitEnd> {
    let params = PairCancel {
        session: p.session_id.clone(),
        token_id: p.token_id.clone(),
    };
    let clear = || {
        if hint.is_some() {
            print!("\r\x1b[2K");
            let _ = std::io::stdout().flush();
        }
    };
    loop {
        let st: PairStatus = match conn.call_typed(PAIR_STATUS, &params).await {
            Ok(s) => s,
            Err(e) => {
                clear();
                return Err(e.into());
            }
        };
        let end = match st.state.as_str() {
            "pending" => None,
            "redeemed" => Some(WaitEnd::Joined(st.grant.ok_or_else(|| {
                CliError::new("protocol_error", "redeemed token without a grant")
            })?)),
            "expired" => Some(WaitEnd::Expired),
            "cancelled" => Some(WaitEnd::Cancelled),
            other => {
                clear();
                return Err(
                    CliError::new("protocol_error", format!("pair state {other:?}")).into(),
                );
            }
        };
        if let Some(end) = end {
            clear();
            return Ok(end);
        }
        if let Some(hint) = hint {
            let left = p.expires_at - now_secs();
            print!(
                "\r\x1b[2Kwaiting for the phone… link expires in {}{hint}",
                countdown(left)
            );
            let _ = std::io::stdout().flush();
        }
        let tick = tokio::time::sleep(Duration::from_millis(500));
        match keys.as_deref_mut() {
            None => tick.await,
            Some(stdin) => {
                tokio::select! {
                    _ = tick => {}
                    k = stdin.read() => {
                        clear();
                        return Ok(match k {
                            None => WaitEnd::Quit,
                            Some(b) if b.contains(&0x03) || b.contains(&0x04) => WaitEnd::Quit,
                            Some(_) => WaitEnd::Key,
                        });
                    }
                }
            }
        }
    }
}

/// `session grants ID`.
pub async fn grants(ctx: &Ctx, id: &str) -> Result<()> {
    let conn = ctx.connect().await?;
    let list: GrantList = conn
        .call_typed(
            GRANT_LIST,
            &SessionRef {
                session: id.to_owned(),
            },
        )
        .await?;
    if ctx.json {
        print_json(&list.grants);
        return Ok(());
    }
    let now = now_secs();
    let rows: Vec<Vec<String>> = list
        .grants
        .iter()
        .map(|g| {
            let state = if g.revoked_at.is_some() {
                "revoked"
            } else if g.expires_at <= now {
                "expired"
            } else {
                "active"
            };
            vec![
                g.grant_id.clone(),
                g.label.clone(),
                if g.read_only {
                    "read-only"
                } else {
                    "read-write"
                }
                .into(),
                fmt_time(g.created_at),
                fmt_time(g.expires_at),
                fmt_opt_time(g.last_seen),
                g.connected.to_string(),
                state.into(),
            ]
        })
        .collect();
    print_table(
        &[
            "GRANT",
            "LABEL",
            "MODE",
            "CREATED",
            "EXPIRES",
            "LAST SEEN",
            "CONNECTED",
            "STATE",
        ],
        &rows,
    );
    Ok(())
}

/// `session revoke ID (GRANT | --all)`.
pub async fn revoke(ctx: &Ctx, id: &str, grant_id: Option<String>, all: bool) -> Result<()> {
    let conn = ctx.connect().await?;
    let r: Revoked = conn
        .call_typed(
            GRANT_REVOKE,
            &GrantRevoke {
                session: id.to_owned(),
                grant_id,
                all,
            },
        )
        .await?;
    if ctx.json {
        print_json(&r);
    } else {
        println!("revoked {} grant(s)", r.revoked);
    }
    Ok(())
}

/// `session cancel-pairing ID TOKEN_ID`.
pub async fn cancel(ctx: &Ctx, id: &str, token_id: &str) -> Result<()> {
    let conn = ctx.connect().await?;
    let _: Value = conn
        .call_typed(
            PAIR_CANCEL,
            &PairCancel {
                session: id.to_owned(),
                token_id: token_id.to_owned(),
            },
        )
        .await?;
    if ctx.json {
        print_json(&json!({"cancelled": token_id}));
    } else {
        println!("cancelled pairing {token_id}");
    }
    Ok(())
}

/// `pair.status` of one token.
pub async fn status(conn: &Connection, session: &str, token_id: &str) -> Result<PairStatus> {
    Ok(conn
        .call_typed(
            PAIR_STATUS,
            &PairCancel {
                session: session.to_owned(),
                token_id: token_id.to_owned(),
            },
        )
        .await?)
}

/// `pair.cancel` of one token.
pub async fn cancel_token(conn: &Connection, session: &str, token_id: &str) -> Result<()> {
    let _: Value = conn
        .call_typed(
            PAIR_CANCEL,
            &PairCancel {
                session: session.to_owned(),
                token_id: token_id.to_owned(),
            },
        )
        .await?;
    Ok(())
}

/// The active (not revoked, not expired) grants of a session.
pub async fn active_grants(conn: &Connection, session: &str) -> Result<Vec<GrantInfo>> {
    let list: GrantList = conn
        .call_typed(
            GRANT_LIST,
            &SessionRef {
                session: session.to_owned(),
            },
        )
        .await?;
    let now = now_secs();
    Ok(list
        .grants
        .into_iter()
        .filter(|g| g.revoked_at.is_none() && g.expires_at > now)
        .collect())
}
