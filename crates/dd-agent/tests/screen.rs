//! The screen model on real PTYs: a hostile screen size never stops other
//! sessions (issue 13, finding 6), and live-mode streams that fall behind
//! get the present instead of the backlog.

use std::sync::Arc;
use std::time::Duration;

use dd_agent::mirror::{HostConfig, Session, SessionManager, StreamItem, Subscription};
use dd_proto::methods::{CreateSession, Resume};
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(30);

fn req(tmp: &TempDir, command: &[&str], size: Option<(u16, u16)>) -> CreateSession {
    CreateSession {
        command: Some(command.iter().map(|s| s.to_string()).collect()),
        cwd: Some(tmp.path().to_str().unwrap().to_owned()),
        rows: size.map(|s| s.0),
        cols: size.map(|s| s.1),
        ..Default::default()
    }
}

async fn next(sub: &mut Subscription) -> StreamItem {
    tokio::time::timeout(LIMIT, sub.next())
        .await
        .expect("stream stalled")
        .expect("stream ended")
}

async fn read_until(sub: &mut Subscription, want: &str) -> String {
    let mut out = Vec::new();
    while !String::from_utf8_lossy(&out).contains(want) {
        match next(sub).await {
            StreamItem::Output { data, .. } => out.extend_from_slice(&data),
            StreamItem::Snapshot { data, .. } => out.extend_from_slice(&data),
            _ => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn echoes(s: &Arc<Session>, word: &str) {
    let mut sub = s.attach(Resume::Offset { offset: 0 }).unwrap();
    s.write_input(format!("echo {word}-$((40+2))\r").as_bytes())
        .await
        .unwrap();
    read_until(&mut sub, &format!("{word}-42")).await;
}

#[tokio::test]
async fn a_one_row_session_printing_wide_lines_leaves_every_session_echoing() {
    let tmp = tempfile::tempdir().unwrap();
    let mgr = SessionManager::open(tmp.path(), HostConfig::default())
        .await
        .unwrap();
    let other = mgr.create(req(&tmp, &["/bin/sh"], None)).await.unwrap();
    echoes(&other, "before").await;
    // vt100 0.16 panicked on this (Grid::col_wrap) inside the one task
    // reading the session host; afterwards no session echoed.
    let narrow = mgr
        .create(req(&tmp, &["/bin/sh"], Some((1, 20))))
        .await
        .unwrap();
    let mut late = narrow.attach(Resume::Screen).unwrap();
    assert!(matches!(
        next(&mut late).await,
        StreamItem::Snapshot {
            rows: 1,
            cols: 20,
            ..
        }
    ));
    narrow
        .write_input(b"printf '%0300d\\n' 0; printf '\\344\\270\\255%.0s' $(seq 1 80); echo; echo narrow-done\r")
        .await
        .unwrap();
    read_until(&mut late, "narrow-done").await;
    // The narrow session's own screen still answers a late joiner, at its size.
    let mut again = narrow.attach(Resume::Screen).unwrap();
    match next(&mut again).await {
        StreamItem::Snapshot {
            rows, cols, data, ..
        } => {
            assert_eq!((rows, cols), (1, 20));
            assert!(!data.is_empty());
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    // Every session still echoes, and new ones can be made.
    echoes(&other, "after").await;
    echoes(&narrow, "narrow").await;
    let third = mgr.create(req(&tmp, &["/bin/sh"], None)).await.unwrap();
    echoes(&third, "third").await;
}

#[tokio::test]
async fn a_live_stream_that_falls_behind_gets_the_present_and_a_transcript_stream_every_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let mgr = SessionManager::open(tmp.path(), HostConfig::default())
        .await
        .unwrap();
    let s = mgr
        .create(req(&tmp, &["/bin/sh"], Some((24, 80))))
        .await
        .unwrap();
    let mut live = s.attach(Resume::Live).unwrap();
    let mut all = s.attach(Resume::Offset { offset: 0 }).unwrap();
    let first = match next(&mut live).await {
        StreamItem::Snapshot { offset, .. } => offset,
        other => panic!("a live stream starts with a snapshot, not {other:?}"),
    };
    s.write_input(b"seq 1 300000; echo flood-$((1+1))-done\r")
        .await
        .unwrap();
    // The live reader does not read while the flood runs (a link that
    // cannot keep up), then reads on: it gets a snapshot of the present,
    // far past where it stopped, not megabytes of backlog.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut behind_by_snapshot = None;
    let mut backlog_bytes = 0usize;
    let mut at = first;
    let mut seen = String::new();
    while !seen.contains("flood-2-done") {
        match next(&mut live).await {
            StreamItem::Snapshot { offset, data, .. } => {
                assert!(offset >= at, "snapshots move forward");
                if offset > at + 64 * 1024 {
                    behind_by_snapshot.get_or_insert(offset - at);
                }
                at = offset;
                seen = String::from_utf8_lossy(&data).into_owned();
            }
            StreamItem::Output { offset, data } => {
                assert_eq!(offset, at, "output goes on from the snapshot");
                at += data.len() as u64;
                backlog_bytes += data.len();
                seen += &String::from_utf8_lossy(&data);
            }
            _ => {}
        }
    }
    let jumped = behind_by_snapshot.expect("the live stream was never resynced");
    let total = s.info().end_offset;
    assert!(
        (backlog_bytes as u64) + 64 * 1024 < total,
        "the live stream got {backlog_bytes} of {total} bytes as output"
    );
    eprintln!(
        "live stream: skipped {jumped} bytes at once, {backlog_bytes} of {total} bytes as output"
    );
    // The transcript stream gets every byte, in order.
    let text = read_until(&mut all, "flood-2-done").await;
    let numbers: Vec<u64> = text
        .split("\r\n")
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(numbers.len(), 300_000, "every line of the flood");
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "in order");
}
