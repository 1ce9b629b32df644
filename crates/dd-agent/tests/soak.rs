//! Soak: many companions reconnecting in a loop (connect, attach, read some
//! output, detach, disconnect; repeat) against one agent whose session keeps
//! printing, while the agent's resident memory, open file descriptors and
//! threads are sampled from `/proc`. Tokio tasks are not visible from
//! outside, so the session's `clients` count must also return to 0 once
//! everyone has gone.
//!
//! Knobs (environment): `SOAK_SECS` (default 15), `SOAK_COMPANIONS`
//! (default 100), `SOAK_SAMPLE_MS` (default 1000). `scripts/soak.sh` runs it
//! for minutes with hundreds of companions in release mode.
//!
//! Bounds: after a warm-up (a third of the run, at most 30 s) the last
//! sample under load is within +20 MiB RSS and +8 threads of the first, and
//! open fds stay under 2 per companion (+16); once everyone has
//! disconnected, fds and threads fall back to within +16 and +8 of the idle
//! counts before the run, and the session counts no clients.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dd_client_core::{connect_with, ConnectOptions, Connection, StreamItem};
use dd_proto::methods::{self as m, GrantInfo, Resume, SessionList};
use dd_proto::noise::StaticKeypair;
use dd_testkit::{command_session, owner, pair, AgentProc};
use serde_json::json;

const RSS_TOLERANCE_KIB: u64 = 20 * 1024;
const FD_TOLERANCE: u64 = 16;
const THREAD_TOLERANCE: u64 = 8;
/// Companions per source address: the agent caps connections per source
/// (64 by default), so the companions come from 127.0.0.2, .3, ...
const PER_SOURCE: usize = 32;
/// Output bytes a companion reads per cycle (its 512-byte tail, then live).
const READ_PER_CYCLE: usize = 600;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One look at the agent process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    fds: u64,
    threads: u64,
    cycles: u64,
}

fn sample(pid: u32, t0: Instant, cycles: u64) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("agent status");
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    let count = |dir: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{dir}"))
            .unwrap()
            .count() as u64
    };
    Sample {
        at: t0.elapsed(),
        rss_kib,
        fds: count("fd"),
        threads: count("task"),
        cycles,
    }
}

fn source(i: usize) -> ConnectOptions {
    ConnectOptions {
        bind_addr: Some(format!("127.0.0.{}", 2 + i / PER_SOURCE).parse().unwrap()),
        ..ConnectOptions::default()
    }
}

/// Pairs companion `i` once; its key is reused for every reconnect.
async fn pair_one(agent: &AgentProc, own: &Connection, session: &str, i: usize) -> StaticKeypair {
    let p = pair(own, session, json!({"label": format!("soak {i}")})).await;
    let link = dd_proto::link::Link::parse_kind(&p.link, dd_proto::link::LinkKind::Pair).unwrap();
    let key = StaticKeypair::generate();
    let (c, _) = connect_with(&agent.url, &agent.key, &key, "soak", source(i))
        .await
        .expect("connect to redeem");
    let v = c
        .call(
            m::PAIR_REDEEM,
            json!({"token": link.token.expose(), "label": "soak"}),
        )
        .await
        .expect("pair.redeem");
    let _: GrantInfo = serde_json::from_value(v).expect("GrantInfo");
    c.close().await;
    key
}

/// One reconnect cycle of companion `i`.
async fn cycle(
    url: &str,
    akey: &[u8; 32],
    key: &StaticKeypair,
    session: &str,
    i: usize,
) -> Result<(), String> {
    let (c, _) = connect_with(url, akey, key, "soak", source(i))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let r = async {
        let mut s = c
            .attach(session, Resume::Tail { bytes: 512 })
            .await
            .map_err(|e| format!("attach: {e}"))?;
        let mut got = 0;
        while got < READ_PER_CYCLE {
            match tokio::time::timeout(Duration::from_secs(10), s.next()).await {
                Ok(Some(StreamItem::Output { data, .. })) => got += data.len(),
                Ok(Some(StreamItem::Event(dd_proto::message::Event::End { reason, .. }))) => {
                    return Err(format!("stream ended: {reason:?}"))
                }
                Ok(Some(StreamItem::Disconnected(why))) => {
                    return Err(format!("disconnected: {why}"))
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err("stream closed".into()),
                Err(_) => return Err(format!("no output for 10 s after {got} bytes")),
            }
        }
        s.detach().await.map_err(|e| format!("detach: {e}"))
    }
    .await;
    c.close().await;
    r
}

async fn clients(own: &Connection, session: &str) -> u32 {
    let l: SessionList =
        serde_json::from_value(own.call(m::SESSION_LIST, json!({})).await.unwrap()).unwrap();
    l.sessions
        .iter()
        .find(|s| s.id == session)
        .expect("session")
        .clients
}

fn print_table(samples: &[Sample]) {
    eprintln!(
        "{:>8} {:>10} {:>6} {:>8} {:>9}",
        "secs", "rss_kib", "fds", "threads", "cycles"
    );
    for s in samples {
        eprintln!(
            "{:>8.1} {:>10} {:>6} {:>8} {:>9}",
            s.at.as_secs_f64(),
            s.rss_kib,
            s.fds,
            s.threads,
            s.cycles
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companions_reconnecting_in_a_loop_leak_nothing() {
    let secs = env_u64("SOAK_SECS", 15);
    let n = env_u64("SOAK_COMPANIONS", 100) as usize;
    let every = Duration::from_millis(env_u64("SOAK_SAMPLE_MS", 1000));
    let warmup = Duration::from_secs((secs / 3).min(30));
    let agent = Arc::new(AgentProc::start());
    let pid = agent.pid();
    let (own, _) = owner(&agent).await;
    let script =
        "i=0; while :; do i=$((i+1)); echo \"soak line $i: the quick brown fox\"; sleep 0.02; done";
    let session = command_session(&own, &["/bin/sh", "-c", script]).await;

    let mut keys = Vec::with_capacity(n);
    for i in 0..n {
        keys.push(Arc::new(pair_one(&agent, &own, &session, i).await));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_before = sample(pid, Instant::now(), 0);
    eprintln!("soak: {n} companions paired; {secs} s; idle before: {idle_before:?}");

    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(secs);
    let cycles = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(std::sync::Mutex::new(BTreeMap::<String, u64>::new()));
    let mut tasks = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let (url, akey, key, session) =
            (agent.url.clone(), agent.key, key.clone(), session.clone());
        let (cycles, errors) = (cycles.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match cycle(&url, &akey, &key, &session, i).await {
                    Ok(()) => {
                        cycles.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let kind = e.split(':').next().unwrap_or_default().to_owned();
                        *errors.lock().unwrap().entry(kind).or_default() += 1;
                        eprintln!("companion {i}: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }));
    }
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        tokio::time::sleep(every.min(deadline.saturating_duration_since(Instant::now()))).await;
        samples.push(sample(pid, t0, cycles.load(Ordering::Relaxed)));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("companion loop ends")
            .expect("companion loop");
    }

    // Everyone has gone: the agent must forget every stream and connection.
    let settle = Instant::now() + Duration::from_secs(20);
    let mut left = clients(&own, &session).await;
    while left > 0 && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = clients(&own, &session).await;
    }
    let mut idle_after = sample(pid, t0, cycles.load(Ordering::Relaxed));
    while idle_after.fds > idle_before.fds + FD_TOLERANCE && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(200)).await;
        idle_after = sample(pid, t0, cycles.load(Ordering::Relaxed));
    }
    samples.push(idle_after);
    print_table(&samples);
    let errors = errors.lock().unwrap().clone();
    let total = cycles.load(Ordering::Relaxed);
    eprintln!("soak: {total} cycles, errors {errors:?}, idle after: {idle_after:?}");

    assert!(errors.is_empty(), "companion cycles failed: {errors:?}");
    assert!(total >= n as u64, "only {total} cycles for {n} companions");
    assert_eq!(
        left, 0,
        "the session still counts {left} clients after all left"
    );
    let loaded: Vec<_> = samples[..samples.len() - 1]
        .iter()
        .filter(|s| s.at >= warmup)
        .collect();
    assert!(loaded.len() >= 2, "too few samples after warm-up");
    let (first, last) = (loaded[0], loaded[loaded.len() - 1]);
    assert!(
        last.rss_kib <= first.rss_kib + RSS_TOLERANCE_KIB,
        "RSS grew from {} KiB to {} KiB under steady load",
        first.rss_kib,
        last.rss_kib
    );
    // Open connections come and go with the cycles, so under load fds are
    // only bounded (a companion's connection, and one still closing); the
    // no-growth check for fds is the idle one below.
    let fd_bound = idle_before.fds + 2 * n as u64 + FD_TOLERANCE;
    let most = loaded.iter().map(|s| s.fds).max().unwrap_or_default();
    assert!(most <= fd_bound, "{most} fds under load, bound {fd_bound}");
    assert!(
        last.threads <= first.threads + THREAD_TOLERANCE,
        "threads grew from {} to {} under steady load",
        first.threads,
        last.threads
    );
    assert!(
        idle_after.fds <= idle_before.fds + FD_TOLERANCE,
        "{} fds open after everyone left, {} before",
        idle_after.fds,
        idle_before.fds
    );
    assert!(
        idle_after.threads <= idle_before.threads + THREAD_TOLERANCE,
        "{} threads after everyone left, {} before",
        idle_after.threads,
        idle_before.threads
    );
    own.close().await;
}
