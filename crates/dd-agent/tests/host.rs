//! Sessions outlive the gateway: `kill -9` of `dd-agent serve` while an
//! owner and two companions stream, a restart on the same address, and
//! every client resuming from its offset with each byte exactly once. And
//! the other way round: when the session host itself dies, the next start
//! marks its sessions `lost` and keeps their transcripts.

use std::path::Path;
use std::time::{Duration, Instant};

use dd_client_core::{connect, StreamItem};
use dd_proto::methods::{self as m, Resume, SessionInfo, SessionStatus};
use dd_proto::noise::StaticKeypair;
use dd_proto::Event;
use dd_testkit::{command_session, companion, owner, AgentProc};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
/// The PTY turns `\n` into `\r\n`.
const LAST_LINE: &str = "line-1999\r\n";

/// Reads `key`'s stream of `session` from `from` until the connection
/// breaks or `LAST_LINE` has been seen; appends to `out` (checking the
/// offsets are contiguous). True when the last line was seen.
async fn follow(target: &Target, key: &StaticKeypair, session: &str, out: &mut Vec<u8>) -> bool {
    let Ok((conn, _)) = connect(&target.0, &target.1, key, "host-test").await else {
        return false;
    };
    let Ok(mut stream) = conn
        .attach(
            session,
            Resume::Offset {
                offset: out.len() as u64,
            },
        )
        .await
    else {
        return false;
    };
    loop {
        let item = match tokio::time::timeout(LIMIT, stream.next()).await {
            Ok(Some(item)) => item,
            Ok(None) => return false,
            Err(_) => panic!("stream stalled"),
        };
        match item {
            StreamItem::Output { offset, data } => {
                assert_eq!(offset, out.len() as u64, "gap or repeat");
                out.extend_from_slice(&data);
                if contains(
                    &out[out.len().saturating_sub(data.len() + LAST_LINE.len())..],
                    LAST_LINE,
                ) {
                    return true;
                }
            }
            StreamItem::Disconnected(_) | StreamItem::Event(Event::End { .. }) => return false,
            _ => {}
        }
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The agent's URL and key (the same across the restart).
type Target = (String, [u8; 32]);

/// Follows until the last line, reconnecting after each break (the agent
/// may be down for a while).
async fn follow_to_end(target: Target, key: StaticKeypair, session: String) -> Vec<u8> {
    let mut out = Vec::new();
    let t = Instant::now();
    while !follow(&target, &key, &session, &mut out).await {
        assert!(t.elapsed() < LIMIT * 2, "never saw the last line");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    out
}

async fn meta(o: &dd_client_core::Connection, session: &str) -> SessionInfo {
    serde_json::from_value(
        o.call(m::SESSION_META, json!({ "session": session }))
            .await
            .unwrap(),
    )
    .unwrap()
}

/// Polls the session's status until `ok` holds.
async fn wait_status(
    o: &dd_client_core::Connection,
    session: &str,
    ok: impl Fn(SessionStatus) -> bool,
) {
    let t = Instant::now();
    loop {
        let status = meta(o, session).await.status;
        if ok(status) {
            return;
        }
        assert!(t.elapsed() < LIMIT, "session status stays {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn transcript(state: &Path, id: &str) -> Vec<u8> {
    std::fs::read(state.join("sessions").join(id).join("transcript")).unwrap()
}

fn host_pid(state: &Path) -> Option<i32> {
    let out = std::process::Command::new("pgrep")
        .args([
            "-f",
            &format!("session-host --state-dir {}", state.display()),
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gateway_kill_9_every_client_resumes_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let first = AgentProc::start_on(&state);
    let listen = first.listen_addr();
    let (o, okey) = owner(&first).await;
    let session = command_session(&o, &["sh", "-c",
                "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); sleep 0.002; done; sleep 1000"]).await;
    let (_c1, k1, _) = companion(&o, &session, json!({})).await;
    let (_c2, k2, _) = companion(&o, &session, json!({})).await;
    drop(o);

    let target: Target = (first.url.clone(), first.key);
    let readers: Vec<_> = [okey, k1, k2]
        .into_iter()
        .map(|k| tokio::spawn(follow_to_end(target.clone(), k, session.clone())))
        .collect();

    // Let them stream a little, then kill the gateway mid-output.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let host_before = host_pid(&state).expect("session host runs");
    let mut first = first;
    first.kill();
    drop(first);
    // The output goes on without a gateway.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restarted = AgentProc::start_listen_on(&state, &listen, &[]);
    assert_eq!(host_pid(&state), Some(host_before), "same session host");

    let mut outs = Vec::new();
    for r in readers {
        outs.push(r.await.unwrap());
    }
    let file = transcript(&state, &session);
    for out in &outs {
        assert!(contains(out, LAST_LINE));
        assert_eq!(out.as_slice(), &file[..out.len()], "byte for byte");
        // Every line once, in order.
        let text = String::from_utf8_lossy(out);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim_end)
            .filter(|l| l.starts_with("line-"))
            .collect();
        assert_eq!(lines.len(), 2000);
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(*l, format!("line-{i}"));
        }
    }
    // The session is still running under the new gateway.
    let (o, _) = owner(&restarted).await;
    let info = meta(&o, &session).await;
    assert_eq!(info.status, SessionStatus::Running);
    o.call(m::SESSION_CLOSE, json!({"session": session}))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_session_host_dies_sessions_are_lost_with_transcripts_kept() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut agent = AgentProc::start_on(&state);
    let (o, _) = owner(&agent).await;
    let session = command_session(&o, &["sh", "-c", "echo still-here; sleep 1000"]).await;
    let mut s = o
        .attach(&session, Resume::Offset { offset: 0 })
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !contains(&seen, "still-here") {
        if let Some(StreamItem::Output { data, .. }) =
            tokio::time::timeout(LIMIT, s.next()).await.unwrap()
        {
            seen.extend_from_slice(&data);
        }
    }
    // Kill the host (and with it the sessions' PTYs): the live gateway
    // marks the session lost and ends the stream.
    let pid = host_pid(&state).expect("session host runs");
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    wait_status(&o, &session, |s| s == SessionStatus::Lost).await;
    // A new session starts a new host.
    o.call(m::SESSION_CREATE, json!({"command": ["sh"]}))
        .await
        .unwrap();
    drop((s, o));
    agent.kill();
    drop(agent);

    // The next start: still lost, transcript readable.
    let agent = AgentProc::start_on(&state);
    let (o, _) = owner(&agent).await;
    let info = meta(&o, &session).await;
    assert_eq!(info.status, SessionStatus::Lost);
    let mut replay = o
        .attach(&session, Resume::Offset { offset: 0 })
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(item) = tokio::time::timeout(LIMIT, replay.next()).await.unwrap() {
        match item {
            StreamItem::Output { data, .. } => out.extend_from_slice(&data),
            StreamItem::Event(Event::Exited { .. }) => {}
            StreamItem::Event(Event::End { .. }) | StreamItem::Disconnected(_) => break,
            _ => {}
        }
    }
    assert!(contains(&out, "still-here"));
    assert_eq!(out, transcript(&state, &session));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_sessions_ends_every_session_and_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let agent = AgentProc::start_on(&state);
    let (o, _) = owner(&agent).await;
    let session = command_session(&o, &["sleep", "1000"]).await;
    assert!(host_pid(&state).is_some());
    let st = std::process::Command::new(dd_testkit::agent_bin())
        .args(["stop-sessions", "--state-dir"])
        .arg(&state)
        .status()
        .unwrap();
    assert!(st.success());
    wait_status(&o, &session, |s| s != SessionStatus::Running).await;
    let t = Instant::now();
    while host_pid(&state).is_some() {
        assert!(t.elapsed() < LIMIT, "host still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transcript_cap_drops_the_oldest_bytes_with_a_marker() {
    let agent = AgentProc::start_with(&["--transcript-cap", "256KiB"]);
    let (o, _) = owner(&agent).await;
    let session = command_session(
        &o,
        &[
            "sh",
            "-c",
            "head -c 3000000 /dev/zero | tr '\\0' x; echo; echo done-marker; sleep 1000",
        ],
    )
    .await;
    // From offset 0: the marker first, then output from the oldest kept
    // byte to the end, contiguous.
    let mut s = o
        .attach(&session, Resume::Offset { offset: 0 })
        .await
        .unwrap();
    // A reader that falls behind the cap is told and skips ahead; else it
    // reads every byte from 0.
    let mut out = Vec::new();
    let mut next = 0u64;
    let mut dropped = Vec::new();
    while !contains(&out[out.len().saturating_sub(64 * 1024)..], "done-marker") {
        match tokio::time::timeout(LIMIT, s.next()).await.unwrap() {
            Some(StreamItem::Output { offset, data }) => {
                if offset != next {
                    assert!(offset > next && !dropped.is_empty(), "gap or repeat");
                    out.clear();
                }
                next = offset + data.len() as u64;
                out.extend_from_slice(&data);
            }
            Some(StreamItem::Event(Event::Error { error })) => {
                assert_eq!(error.code, dd_proto::ErrorCode::Truncated);
                dropped.push(error);
            }
            Some(StreamItem::Event(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let path = agent
        .state
        .join("sessions")
        .join(&session)
        .join("transcript");
    let meta = std::fs::metadata(&path).unwrap();
    let end = next;
    // Offsets never move: the file keeps its logical length ...
    assert_eq!(meta.len(), end);
    assert!(end > 3_000_000);
    // ... but the dropped bytes no longer take disk space.
    use std::os::unix::fs::MetadataExt;
    assert!(
        meta.blocks() * 512 < 1024 * 1024,
        "{} bytes on disk",
        meta.blocks() * 512
    );
    let start: u64 = std::fs::read_to_string(path.with_file_name("transcript.start"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        start > 0 && start <= end - 256 * 1024 + 4096,
        "start {start}"
    );
    assert!(dropped.len() <= 1, "{dropped:?}");
    // A client resuming from 0 now is told and starts at `start` or later.
    let mut again = o
        .attach(&session, Resume::Offset { offset: 0 })
        .await
        .unwrap();
    match tokio::time::timeout(LIMIT, again.next()).await.unwrap() {
        Some(StreamItem::Event(Event::Error { error })) => {
            assert_eq!(error.code, dd_proto::ErrorCode::Truncated);
            assert!(error.message.contains("dropped"), "{}", error.message);
        }
        other => panic!("expected the truncation marker, got {other:?}"),
    }
    match tokio::time::timeout(LIMIT, again.next()).await.unwrap() {
        Some(StreamItem::Output { offset, .. }) => assert!(offset >= start),
        other => panic!("expected output, got {other:?}"),
    }
}

#[test]
fn a_second_gateway_on_the_same_state_dir_is_refused() {
    let agent = AgentProc::start();
    let out = std::process::Command::new(dd_testkit::agent_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(&agent.state)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already running"), "{err}");
}
