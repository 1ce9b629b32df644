//! Measures 4, 5 and 6: pairing, late join, cost at rest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use dd_client_core::{Connection, StreamItem};
use dd_proto::methods::Resume;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::agent::{create_session, meta, Agent};
use crate::stats::Stat;

/// Waits for the first screen snapshot on a fresh attach.
async fn first_screen(conn: &Connection, session: &str) -> Result<()> {
    let mut s = conn.attach(session, Resume::Screen).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.next()).await {
            Ok(Some(StreamItem::Snapshot { .. })) => break,
            Ok(Some(StreamItem::Disconnected(why))) => bail!("stream cut: {why}"),
            Ok(Some(_)) => continue,
            Ok(None) => bail!("stream ended before a snapshot"),
            Err(_) => bail!("no snapshot within 60 s"),
        }
    }
    s.detach().await?;
    Ok(())
}

/// Pairing figures.
#[derive(Debug, Clone, Serialize)]
pub struct Pairing {
    /// Redeem (connect + handshake + pair.redeem) to first screen, ms.
    pub redeem_to_screen: Stat,
    /// Redemptions (each with its own connection) per second, 32 at once.
    pub redeems_per_sec: f64,
    /// How many redemptions the rate was taken over.
    pub redeems: usize,
}

/// Measure 4.
pub async fn pairing(owner: &Connection, samples: usize, bulk: usize) -> Result<Pairing> {
    let sid = create_session(owner, &["/bin/sh"]).await?;
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let p = dd_testkit::pair(owner, &sid, serde_json::json!({})).await;
        let t0 = Instant::now();
        let (conn, _, _) = dd_testkit::redeem(&p.link).await.context("redeem")?;
        first_screen(&conn, &sid).await?;
        lat.push(t0.elapsed());
        conn.close().await;
    }
    let mut links = Vec::with_capacity(bulk);
    for _ in 0..bulk {
        links.push(
            dd_testkit::pair(owner, &sid, serde_json::json!({}))
                .await
                .link,
        );
    }
    let queue = Arc::new(Mutex::new(links));
    eprintln!("  redeeming {bulk} links, 32 at a time");
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..32 {
        let q = queue.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let Some(link) = q.lock().await.pop() else {
                    return Ok::<_, anyhow::Error>(());
                };
                let (conn, _, _) = dd_testkit::redeem(&link).await.context("redeem")?;
                conn.close().await;
            }
        }));
    }
    for w in workers {
        w.await??;
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(Pairing {
        redeem_to_screen: Stat::millis(&lat),
        redeems_per_sec: bulk as f64 / secs,
        redeems: bulk,
    })
}

/// Late-join figures for one history size.
#[derive(Debug, Clone, Serialize)]
pub struct LateJoin {
    /// Transcript length when joining, bytes.
    pub history: u64,
    /// Attach to first screen, ms.
    pub attach_to_screen: Stat,
    /// Time the agent took to take in the history (MB/s through the PTY).
    pub fill_mb_per_sec: f64,
}

/// Measure 5 for a `size`-byte history.
pub async fn late_join(owner: &Connection, size: u64, samples: usize) -> Result<LateJoin> {
    let script = format!(
        "yes 'late join history line: the quick brown fox jumps over the lazy dog 0123456789' \
         | head -c {size}; echo; echo __FILLED__; exec cat"
    );
    let t0 = Instant::now();
    let sid = create_session(owner, &["/bin/sh", "-c", &script]).await?;
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let end = meta(owner, &sid).await?.end_offset;
        if end >= size && end == last {
            break;
        }
        if t0.elapsed() > Duration::from_secs(1800) {
            bail!("history of {size} bytes not written after 30 min");
        }
        last = end;
    }
    let fill = last as f64 / t0.elapsed().as_secs_f64() / 1e6;
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        first_screen(owner, &sid).await?;
        lat.push(t.elapsed());
    }
    owner
        .call(
            dd_proto::methods::SESSION_CLOSE,
            serde_json::json!({ "session": sid }),
        )
        .await?;
    Ok(LateJoin {
        history: last,
        attach_to_screen: Stat::millis(&lat),
        fill_mb_per_sec: fill,
    })
}

/// Cost-at-rest figures.
#[derive(Debug, Clone, Serialize)]
pub struct AtRest {
    /// Agent RSS with one owner connected and nothing else, KiB.
    pub rss_empty_kib: u64,
    /// Idle sessions.
    pub sessions: usize,
    /// RSS with them, KiB.
    pub rss_sessions_kib: u64,
    /// Idle companions (attached, one per session).
    pub companions: usize,
    /// RSS with them too, KiB.
    pub rss_companions_kib: u64,
    /// Agent CPU over 5 s of rest, percent of one core.
    pub idle_cpu_pct: f64,
}

/// Measure 6 on a fresh agent.
pub async fn at_rest(agent: &Agent, n: usize) -> Result<AtRest> {
    let owner = agent.owner().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_empty = agent.rss_kib();
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(create_session(&owner, &["/bin/sh"]).await?);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_sessions = agent.rss_kib();
    let mut keep = Vec::new();
    for id in &ids {
        let (conn, _, _) = dd_testkit::companion(&owner, id, serde_json::json!({})).await;
        let s = conn.attach(id, Resume::Screen).await?;
        keep.push((conn, s));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_companions = agent.rss_kib();
    let c0 = agent.cpu_secs();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = (agent.cpu_secs() - c0) / 5.0 * 100.0;
    drop(keep);
    Ok(AtRest {
        rss_empty_kib: rss_empty,
        sessions: n,
        rss_sessions_kib: rss_sessions,
        companions: n,
        rss_companions_kib: rss_companions,
        idle_cpu_pct: idle,
    })
}
