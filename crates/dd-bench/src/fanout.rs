//! Measure 3: one session printing a steady rate to N companions, each a
//! real grant on its own connection (in process).
//!
//! The session runs `dd-bench gen`, which waits for Enter and then prints
//! 100-byte lines `T<unix-nanos> ...`; every received chunk's first line
//! start gives one delivery-latency sample (receipt time minus stamp).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use dd_client_core::{Connection, StreamItem};
use dd_proto::methods::Resume;
use dd_proto::Event;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::agent::{create_session, meta, Agent};
use crate::stats::Stat;

/// Bytes per generated line (newline included).
pub const LINE: usize = 100;

/// `dd-bench gen`: after one line on stdin, prints `rate` bytes/s of
/// stamped lines for `secs` seconds, in 10 ms ticks, then exits.
pub fn generate(rate: u64, secs: f64) -> Result<()> {
    let mut go = String::new();
    std::io::stdin().read_line(&mut go)?;
    let per_tick = (rate as usize / 100).max(LINE) / LINE;
    let ticks = (secs * 100.0).round() as u64;
    let start = Instant::now();
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::with_capacity(per_tick * LINE);
    for tick in 0..ticks {
        let due = start + Duration::from_millis(10 * tick);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        buf.clear();
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        for i in 0..per_tick {
            let head = format!("T{now} {tick} {i} ");
            buf.extend_from_slice(head.as_bytes());
            buf.resize(buf.len() + LINE - 1 - head.len(), b'.');
            buf.push(b'\n');
        }
        out.write_all(&buf)?;
        out.flush()?;
    }
    Ok(())
}

/// The stamp of the first complete line start in `data`, in unix nanos.
pub fn first_stamp(data: &[u8]) -> Option<u128> {
    let mut at = 0;
    if data.first() != Some(&b'T') {
        at = data.iter().position(|&b| b == b'\n')? + 1;
    }
    let rest = data.get(at..)?.strip_prefix(b"T")?;
    let end = rest.iter().position(|&b| b == b' ')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// One companion's account of the stream.
#[derive(Debug, Default)]
struct Received {
    end: u64,
    gaps: u64,
    lat_ms: Vec<f64>,
    cut: bool,
}

async fn consume(conn: Connection, session: String) -> Result<Received> {
    let mut s = conn.attach(&session, Resume::Offset { offset: 0 }).await?;
    let mut r = Received::default();
    while let Some(item) = s.next().await {
        match item {
            StreamItem::Output { offset, data } => {
                let t = now_nanos();
                if offset != r.end {
                    r.gaps += 1;
                }
                r.end = offset + data.len() as u64;
                if let Some(stamp) = first_stamp(&data) {
                    r.lat_ms.push(t.saturating_sub(stamp) as f64 / 1e6);
                }
            }
            StreamItem::Event(Event::End { .. }) => break,
            StreamItem::Disconnected(_) => {
                r.cut = true;
                break;
            }
            _ => {}
        }
    }
    conn.close().await;
    Ok(r)
}

/// Figures for one companion count.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutLevel {
    /// Companions attached.
    pub companions: usize,
    /// Offered rate, bytes/s.
    pub rate: u64,
    /// Delivery latency, ms (one sample per received chunk per companion).
    pub latency: Stat,
    /// Companions that received every byte, with no gap, to the end.
    pub complete: usize,
    /// Transcript bytes each should have received.
    pub bytes: u64,
    /// Agent CPU while streaming, percent of one core.
    pub agent_cpu_pct: f64,
    /// Harness (this process) CPU while streaming, percent of one core.
    pub harness_cpu_pct: f64,
    /// Agent RSS while streaming, KiB.
    pub agent_rss_kib: u64,
}

/// Pairs `n` companions to `session`, 32 at a time.
pub async fn companions(owner: &Connection, session: &str, n: usize) -> Result<Vec<Connection>> {
    let sem = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let p = dd_testkit::pair(owner, session, serde_json::json!({})).await;
        let sem = sem.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            dd_testkit::redeem(&p.link).await.map(|(c, _, _)| c)
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await?.context("redeem")?);
    }
    Ok(out)
}

/// Runs one level: `n` companions, `rate` bytes/s for `secs`.
pub async fn level(
    agent: &Agent,
    owner: &Connection,
    gen: &str,
    n: usize,
    rate: u64,
    secs: f64,
) -> Result<FanoutLevel> {
    let args = [
        gen,
        "gen",
        "--rate",
        &rate.to_string(),
        "--secs",
        &secs.to_string(),
    ];
    let sid = create_session(owner, &args).await?;
    let conns = companions(owner, &sid, n).await?;
    let mut tasks = Vec::new();
    for c in conns {
        tasks.push(tokio::spawn(consume(c, sid.clone())));
    }
    // Let every attach land before the first byte.
    let attached = Instant::now();
    while meta(owner, &sid).await?.clients < n as u32 && attached.elapsed().as_secs() < 60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ctl = owner
        .attach(&sid, Resume::Screen)
        .await
        .context("owner attach")?;
    let (cpu0, me0, t0) = (agent.cpu_secs(), self_cpu(), Instant::now());
    ctl.send_input(b"\r").await?;
    drop(ctl);
    tokio::time::sleep(Duration::from_secs_f64(secs / 2.0)).await;
    let rss = agent.rss_kib();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await?.context("companion")?);
    }
    let wall = t0.elapsed().as_secs_f64();
    let (cpu1, me1) = (agent.cpu_secs(), self_cpu());
    let end = meta(owner, &sid).await?.end_offset;
    let complete = results
        .iter()
        .filter(|r| !r.cut && r.gaps == 0 && r.end == end)
        .count();
    let lat: Vec<f64> = results.into_iter().flat_map(|r| r.lat_ms).collect();
    Ok(FanoutLevel {
        companions: n,
        rate,
        latency: Stat::of(lat, "ms"),
        complete,
        bytes: end,
        agent_cpu_pct: (cpu1 - cpu0) / wall * 100.0,
        harness_cpu_pct: (me1 - me0) / wall * 100.0,
        agent_rss_kib: rss,
    })
}

fn self_cpu() -> f64 {
    crate::agent::cpu_secs(std::process::id()).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_parse_at_a_line_start() {
        assert_eq!(first_stamp(b"T123 0 0 ...\r\n"), Some(123));
        assert_eq!(first_stamp(b"..\r\nT456 1 2 ..."), Some(456));
        assert_eq!(first_stamp(b"no newline"), None);
        assert_eq!(first_stamp(b"..\r\nT45"), None);
        assert_eq!(first_stamp(b"..\r\nTabc .."), None);
        assert_eq!(first_stamp(b""), None);
    }
}
