//! `session pair-mobile | grants | revoke | cancel-pairing`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use dd_client_core::clock::now_secs;
use dd_client_core::Connection;
use dd_proto::methods::{
    GrantInfo, GrantList, GrantRevoke, PairCancel, PairCreate, PairCreated, PairStatus, Revoked,
    SessionRef, GRANT_LIST, GRANT_REVOKE, PAIR_CANCEL, PAIR_CREATE, PAIR_STATUS,
};
use dd_proto::ErrorCode;
use serde_json::{json, Value};

use super::{fmt_opt_time, fmt_time, print_json, print_table, Ctx};
use crate::cli::PairArgs;
use crate::duration::{countdown, parse_secs};
use crate::errors::CliError;
use crate::qr;

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

/// Prints the QR (unless `no_qr`) and the link for a human.
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
    let conn = ctx.connect().await?;
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
                "a phone"
            } else {
                &grant.label
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

/// Polls `pair.status` until the token is redeemed, expires or is
/// cancelled; draws a one-line countdown when `countdown_line`.
async fn wait(conn: &Connection, p: &PairCreated, countdown_line: bool) -> Result<GrantInfo> {
    let params = PairCancel {
        session: p.session_id.clone(),
        token_id: p.token_id.clone(),
    };
    let clear = || {
        if countdown_line {
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
        match st.state.as_str() {
            "pending" => {}
            "redeemed" => {
                clear();
                return st.grant.ok_or_else(|| {
                    CliError::new("protocol_error", "redeemed token without a grant").into()
                });
            }
            "expired" => {
                clear();
                return Err(CliError::from_code(
                    ErrorCode::TokenExpired,
                    "the pairing link expired before it was used",
                )
                .into());
            }
            "cancelled" => {
                clear();
                return Err(CliError::from_code(
                    ErrorCode::TokenCancelled,
                    "the pairing link was cancelled",
                )
                .into());
            }
            other => {
                clear();
                return Err(
                    CliError::new("protocol_error", format!("pair state {other:?}")).into(),
                );
            }
        }
        if countdown_line {
            let left = p.expires_at - now_secs();
            print!(
                "\r\x1b[2Kwaiting for the phone… link expires in {}",
                countdown(left)
            );
            let _ = std::io::stdout().flush();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
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
