//! Session host tests on real PTYs and real files in temporary directories.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dd_agent::mirror::{
    HostConfig, Session, SessionError, SessionManager, StreamItem, Subscription,
};
use dd_proto::methods::{CreateSession, Resume, SessionStatus};
use dd_proto::ErrorCode;
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(30);

async fn manager() -> (TempDir, Arc<SessionManager>) {
    let tmp = tempfile::tempdir().unwrap();
    let mgr = open(&tmp).await;
    (tmp, mgr)
}

/// A manager on `tmp` with an in-process session host.
async fn open(tmp: &TempDir) -> Arc<SessionManager> {
    SessionManager::open(tmp.path(), HostConfig::default())
        .await
        .unwrap()
}

fn req(tmp: &TempDir, command: &[&str]) -> CreateSession {
    CreateSession {
        command: Some(command.iter().map(|s| s.to_string()).collect()),
        cwd: Some(tmp.path().to_str().unwrap().to_owned()),
        ..Default::default()
    }
}

async fn start(mgr: &Arc<SessionManager>, tmp: &TempDir, command: &[&str]) -> Arc<Session> {
    mgr.create(req(tmp, command)).await.unwrap()
}

async fn next(sub: &mut Subscription) -> Option<StreamItem> {
    tokio::time::timeout(LIMIT, sub.next())
        .await
        .expect("stream stalled")
}

/// Reads output until `want` appears in it; returns everything read.
async fn read_until(sub: &mut Subscription, want: &str) -> Vec<u8> {
    let mut out = Vec::new();
    while !String::from_utf8_lossy(&out).contains(want) {
        match next(sub).await {
            Some(StreamItem::Output { offset, data }) => {
                assert_eq!(offset, sub.offset() - data.len() as u64);
                out.extend_from_slice(&data);
            }
            Some(_) => {}
            None => panic!(
                "stream ended before {want:?}: {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    out
}

/// Reads a stream to its end, checking offsets are contiguous from `from`.
/// Returns the bytes and every non-output item.
async fn drain(sub: &mut Subscription, from: u64) -> (Vec<u8>, Vec<StreamItem>) {
    let mut out = Vec::new();
    let mut others = Vec::new();
    while let Some(item) = next(sub).await {
        match item {
            StreamItem::Output { offset, data } => {
                assert_eq!(offset, from + out.len() as u64, "gap or repeat");
                assert!(!data.is_empty() && data.len() <= dd_proto::MAX_OUTPUT_CHUNK);
                out.extend_from_slice(&data);
            }
            other => others.push(other),
        }
    }
    (out, others)
}

fn transcript(tmp: &TempDir, id: &str) -> Vec<u8> {
    std::fs::read(tmp.path().join("sessions").join(id).join("transcript")).unwrap()
}

async fn wait_ended(s: &Session) {
    let t = Instant::now();
    while s.is_running() {
        assert!(t.elapsed() < LIMIT, "session did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn shell_echoes_input() {
    let (tmp, mgr) = manager().await;
    let s = start(&mgr, &tmp, &["/bin/sh"]).await;
    assert_eq!(s.info().name, "sh");
    assert_eq!(s.info().status, SessionStatus::Running);
    let mut sub = s.attach(Resume::Offset { offset: 0 }).unwrap();
    s.write_input(b"echo hello-$((40+2))\r").await.unwrap();
    read_until(&mut sub, "hello-42").await;
    mgr.shutdown().await;
    assert_eq!(s.info().status, SessionStatus::Closed);
}

#[tokio::test]
async fn environment_and_defaults() {
    let (tmp, mgr) = manager().await;
    let mut r = req(
        &tmp,
        &["sh", "-c", "echo \"[$DD_SESSION_ID $TERM $FOO]\"; pwd"],
    );
    r.env.insert("FOO".into(), "bar".into());
    r.name = Some("named".into());
    let s = mgr.create(r).await.unwrap();
    let info = s.info();
    assert_eq!(
        (info.name.as_str(), info.rows, info.cols),
        ("named", 24, 80)
    );
    assert!(info.id.starts_with("s_"));
    let mut sub = s.attach(Resume::Offset { offset: 0 }).unwrap();
    let (out, _) = drain(&mut sub, 0).await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains(&format!("[{} xterm-256color bar]", info.id)),
        "{text}"
    );
    assert!(text.contains(tmp.path().to_str().unwrap()), "{text}");
}

#[tokio::test]
async fn two_subscribers_see_the_same_bytes() {
    let (tmp, mgr) = manager().await;
    let s = start(&mgr, &tmp, &["sh", "-c", "sleep 0.2; seq 1 20000"]).await;
    let mut a = s.attach(Resume::Offset { offset: 0 }).unwrap();
    let mut b = s.attach(Resume::Offset { offset: 0 }).unwrap();
    let mut c = s.attach(Resume::Offset { offset: 0 }).unwrap();
    assert_eq!(s.info().clients, 3);
    // c reads a little and goes away; the others are unaffected.
    read_until(&mut c, "100").await;
    drop(c);
    assert_eq!(s.info().clients, 2);
    let (out_a, items_a) = drain(&mut a, 0).await;
    let (out_b, items_b) = drain(&mut b, 0).await;
    assert_eq!(out_a, out_b);
    assert_eq!(items_a, items_b);
    assert!(String::from_utf8_lossy(&out_a).contains("\r\n20000\r\n"));
    assert_eq!(out_a, transcript(&tmp, s.id()));
    drop(a);
    drop(b);
    assert_eq!(s.info().clients, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_output_is_exact_for_live_late_and_resumed_subscribers() {
    let (tmp, mgr) = manager().await;
    let s = start(
        &mgr,
        &tmp,
        &[
            "sh",
            "-c",
            "sleep 0.2; head -c 3000000 /dev/urandom | base64",
        ],
    )
    .await;
    // Subscribed from the start, but it does not read until the end: it
    // must not hold up the PTY (and is served from the file later).
    let mut idle = s.attach(Resume::Offset { offset: 0 }).unwrap();
    let mut live = s.attach(Resume::Offset { offset: 0 }).unwrap();
    let (out, items) = drain(&mut live, 0).await;
    let end = s.info().end_offset;
    assert!(end > 4_000_000, "{end}");
    assert_eq!(out.len() as u64, end);
    assert_eq!(out, transcript(&tmp, s.id()));
    assert_eq!(
        items.last(),
        Some(&StreamItem::Exited {
            exit_code: Some(0),
            end_offset: end
        })
    );
    let (idle_out, _) = drain(&mut idle, 0).await;
    assert_eq!(idle_out, out);
    let late = s.attach(Resume::Offset { offset: 0 }).unwrap();
    let (late_out, _) = drain(&mut { late }, 0).await;
    assert_eq!(late_out, out);
    let mid = end / 3 + 7;
    let mut resumed = s.attach(Resume::Offset { offset: mid }).unwrap();
    let (rest, _) = drain(&mut resumed, mid).await;
    assert_eq!(rest, out[mid as usize..]);
    let mut tail = s.attach(Resume::Tail { bytes: 100 }).unwrap();
    let (tail_out, _) = drain(&mut tail, end - 100).await;
    assert_eq!(tail_out, out[out.len() - 100..]);
    let mut at_end = s.attach(Resume::Offset { offset: end }).unwrap();
    let (nothing, items) = drain(&mut at_end, end).await;
    assert!(nothing.is_empty());
    assert_eq!(items.len(), 1);
}

#[tokio::test]
async fn screen_resume_snapshots_at_the_end_offset() {
    let (tmp, mgr) = manager().await;
    let s = start(&mgr, &tmp, &["sh", "-c", "printf 'abc'; sleep 1000"]).await;
    let mut sub = s.attach(Resume::Offset { offset: 0 }).unwrap();
    read_until(&mut sub, "abc").await;
    let end = s.info().end_offset;
    let mut scr = s.attach(Resume::Screen).unwrap();
    match next(&mut scr).await {
        Some(StreamItem::Snapshot {
            offset,
            rows,
            cols,
            data,
        }) => {
            assert_eq!(offset, end);
            assert_eq!((rows, cols), (24, 80));
            assert!(String::from_utf8_lossy(&data).contains("abc"));
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    assert_eq!(scr.offset(), end);
    s.write_input(b"x").await.unwrap(); // echoed by the PTY
    match next(&mut scr).await {
        Some(StreamItem::Output { offset, data }) => {
            assert_eq!(offset, end);
            assert_eq!(&data[..], b"x");
        }
        other => panic!("expected output, got {other:?}"),
    }
    let info = mgr.close(s.id()).await.unwrap();
    assert_eq!(info.status, SessionStatus::Closed);
}

/// Under a flood the screen skips ahead (it is not fed every byte; see
/// `mirror/backlog.rs`) but what ends the flood is on it: a snapshot
/// shows the last lines, the title set at the end is the session's title,
/// and the stream still carries every byte.
#[tokio::test]
async fn after_a_flood_the_screen_and_title_show_its_end() {
    let (tmp, mgr) = manager().await;
    let script = "yes 0123456789abcdef | head -c 2000000; \
                  printf '\\033]0;flood-done\\007'; echo END-OF-FLOOD; sleep 1000";
    let s = start(&mgr, &tmp, &["sh", "-c", script]).await;
    let mut sub = s.attach(Resume::Offset { offset: 0 }).unwrap();
    let out = read_until(&mut sub, "END-OF-FLOOD").await;
    assert!(out.len() > 2_000_000, "{}", out.len());
    // Output has stopped: within the catch-up delay the title is set
    // without anyone asking for the screen.
    let t = Instant::now();
    while s.info().title != "flood-done" {
        assert!(
            t.elapsed() < LIMIT,
            "title not updated: {:?}",
            s.info().title
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let end = s.info().end_offset;
    let mut scr = s.attach(Resume::Screen).unwrap();
    match next(&mut scr).await {
        Some(StreamItem::Snapshot { offset, data, .. }) => {
            assert_eq!(offset, end);
            let text = String::from_utf8_lossy(&data);
            assert!(text.contains("END-OF-FLOOD"), "{text}");
            assert!(text.contains("0123456789abcdef"), "{text}");
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    mgr.close(s.id()).await.unwrap();
}

#[tokio::test]
async fn exit_code_is_recorded_and_exited_comes_last() {
    let (tmp, mgr) = manager().await;
    let s = start(&mgr, &tmp, &["sh", "-c", "sleep 0.2; echo out; exit 7"]).await;
    let mut sub = s.attach(Resume::Offset { offset: 0 }).unwrap();
    let (out, items) = drain(&mut sub, 0).await;
    assert!(String::from_utf8_lossy(&out).contains("out"));
    let info = s.info();
    assert_eq!(info.status, SessionStatus::Exited);
    assert_eq!(info.exit_code, Some(7));
    // A Meta with the new status, then Exited after all output.
    assert!(
        matches!(&items[..], [StreamItem::Meta(m), StreamItem::Exited { exit_code: Some(7), end_offset }]
        if m.status == SessionStatus::Exited && *end_offset == out.len() as u64)
    );
    assert!(next(&mut sub).await.is_none());
    // Still listable and attachable; closing it is a no-op.
    assert_eq!(mgr.list()[0].id, s.id());
    assert_eq!(
        mgr.close(s.id()).await.unwrap().status,
        SessionStatus::Exited
    );
    let mut again = s.attach(Resume::Offset { offset: 0 }).unwrap();
    let (again_out, items) = drain(&mut again, 0).await;
    assert_eq!(again_out, out);
    assert_eq!(items.len(), 1, "only Exited: {items:?}");
}

#[tokio::test]
async fn close_kills_a_process_that_ignores_hup_and_term() {
    let (tmp, mgr) = manager().await;
    let s = start(
        &mgr,
        &tmp,
        &["sh", "-c", "trap '' HUP TERM; echo ready; sleep 1000"],
    )
    .await;
    let mut sub = s.attach(Resume::Offset { offset: 0 }).unwrap();
    read_until(&mut sub, "ready").await;
    let t = Instant::now();
    let info = mgr.close(s.id()).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "HUP and TERM are ignored"
    );
    assert_eq!(info.status, SessionStatus::Closed);
    assert_eq!(info.exit_code, None, "killed by a signal");
    let from = sub.offset();
    let (_, items) = drain(&mut sub, from).await;
    assert!(matches!(
        items.last(),
        Some(StreamItem::Exited {
            exit_code: None,
            ..
        })
    ));
    assert_eq!(mgr.list().len(), 1);
}

#[tokio::test]
async fn a_new_manager_adopts_running_sessions_from_the_host() {
    let (tmp, mgr) = manager().await;
    let running = start(
        &mgr,
        &tmp,
        &[
            "sh",
            "-c",
            "echo persisted; read x; echo got-$x; sleep 1000",
        ],
    )
    .await;
    let exited = start(&mgr, &tmp, &["sh", "-c", "echo bye; exit 3"]).await;
    let mut sub = running.attach(Resume::Offset { offset: 0 }).unwrap();
    read_until(&mut sub, "persisted").await;
    wait_ended(&exited).await;
    let (id, exited_id) = (running.id().to_owned(), exited.id().to_owned());
    drop((sub, running, exited, mgr));

    // A second manager on the same root is what a restarted gateway sees:
    // the session host kept the session running.
    let again = open(&tmp).await;
    assert_eq!(again.list().len(), 2);
    let s = again.get(&id).unwrap();
    assert_eq!(s.info().status, SessionStatus::Running);
    let ex = again.get(&exited_id).unwrap().info();
    assert_eq!((ex.status, ex.exit_code), (SessionStatus::Exited, Some(3)));
    let mut replay = s.attach(Resume::Offset { offset: 0 }).unwrap();
    s.write_input(b"yes\n").await.unwrap();
    let out = read_until(&mut replay, "got-yes").await;
    assert!(String::from_utf8_lossy(&out).starts_with("persisted"));
    let mut scr = s.attach(Resume::Screen).unwrap();
    match next(&mut scr).await {
        Some(StreamItem::Snapshot { data, .. }) => {
            assert!(String::from_utf8_lossy(&data).contains("persisted"));
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    let closed = again.close(&id).await.unwrap();
    assert_eq!(closed.status, SessionStatus::Closed);
    let (rest, _) = drain(&mut replay, out.len() as u64).await;
    assert_eq!([out, rest].concat(), transcript(&tmp, &id));
    // Status persisted across a reopen too.
    drop((s, replay, scr, again));
    let third = open(&tmp).await;
    assert_eq!(third.get(&exited_id).unwrap().info().exit_code, Some(3));
    assert_eq!(third.get(&id).unwrap().info().status, SessionStatus::Closed);
}

/// What a program writes once it has seen SIGWINCH comes after the new
/// size in every stream, and the screen model draws it at the new size:
/// a repaint in answer to a resize is never drawn at the old one.
#[tokio::test]
async fn output_after_a_resize_follows_the_new_size_in_every_stream() {
    let (tmp, mgr) = manager().await;
    // Answers every SIGWINCH at once with its size, at the bottom-right
    // (a signal handler, run as soon as the signal arrives).
    let script = r#"
import os, signal, time
def winch(*_):
    size = os.get_terminal_size(0)
    r, c = size.lines, size.columns
    os.write(1, ("\033[%d;%dHW%dx%d" % (r, c - 6, r, c)).encode())
signal.signal(signal.SIGWINCH, winch)
os.write(1, b"ready")
while True:
    time.sleep(1)
"#;
    let s = start(&mgr, &tmp, &["python3", "-c", script]).await;
    let mut raw = s.attach(Resume::Offset { offset: 0 }).unwrap();
    read_until(&mut raw, "ready").await;
    for (rows, cols) in [(30u16, 100u16), (26, 90), (40, 120)] {
        let mut live = s.attach(Resume::Live).unwrap();
        s.resize(rows, cols).await.unwrap();
        let mark = format!("W{rows}x{cols}");
        for (name, sub) in [("transcript", &mut raw), ("live", &mut live)] {
            let mut size = None;
            let mut out = Vec::new();
            loop {
                match next(sub).await {
                    Some(StreamItem::Meta(m)) => size = Some((m.rows, m.cols)),
                    Some(StreamItem::Snapshot { rows, cols, .. }) => size = Some((rows, cols)),
                    Some(StreamItem::Output { data, .. }) => {
                        out.extend_from_slice(&data);
                        if String::from_utf8_lossy(&out).contains(&mark) {
                            break;
                        }
                    }
                    other => panic!("{name}: unexpected {other:?}"),
                }
            }
            assert_eq!(
                size,
                Some((rows, cols)),
                "{name}: {mark} came before the new size"
            );
        }
        // The model drew it at the new size: on the last row, not clipped.
        let t = Instant::now();
        loop {
            let mut late = s.attach(Resume::Screen).unwrap();
            let Some(StreamItem::Snapshot { data, .. }) = next(&mut late).await else {
                panic!("a screen resume starts with a snapshot");
            };
            let mut screen = dd_term::Term::new(rows, cols);
            screen.process(&mut vte::Parser::new(), &data, &mut dd_term::NoEvents);
            let lines = screen.lines();
            if lines[rows as usize - 1].ends_with(&mark) {
                break;
            }
            assert!(t.elapsed() < LIMIT, "{mark} not on row {rows}: {lines:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    mgr.shutdown().await;
}

#[tokio::test]
async fn resize_reaches_the_program_and_subscribers() {
    let (tmp, mgr) = manager().await;
    let s = start(&mgr, &tmp, &["/bin/sh"]).await;
    let mut sub = s.attach(Resume::Offset { offset: 0 }).unwrap();
    s.resize(30, 100).await.unwrap();
    assert_eq!((s.info().rows, s.info().cols), (30, 100));
    loop {
        match next(&mut sub).await {
            Some(StreamItem::Meta(m)) => break assert_eq!((m.rows, m.cols), (30, 100)),
            Some(StreamItem::Output { .. }) => {} // the prompt, if it came first
            other => panic!("expected meta, got {other:?}"),
        }
    }
    s.write_input(b"stty size\r").await.unwrap();
    read_until(&mut sub, "30 100").await;
    // Several changes while a subscriber is away coalesce into one Meta.
    s.resize(40, 120).await.unwrap();
    s.resize(41, 121).await.unwrap();
    s.write_input(b"printf '\\033]2;my-title\\007'\r")
        .await
        .unwrap();
    let t = Instant::now();
    while s.info().title != "my-title" {
        assert!(t.elapsed() < LIMIT, "title never set");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut metas = Vec::new();
    let mut out = Vec::new();
    while metas.is_empty() || !String::from_utf8_lossy(&out).contains("my-title") {
        match next(&mut sub).await {
            Some(StreamItem::Meta(m)) => metas.push(m),
            Some(StreamItem::Output { data, .. }) => out.extend_from_slice(&data),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(metas.len(), 1, "{metas:?}");
    assert_eq!((metas[0].rows, metas[0].cols), (41, 121));
    assert_eq!(metas[0].title, "my-title");
    assert_eq!(s.info().title, "my-title");
    assert!(matches!(
        s.resize(0, 10).await,
        Err(SessionError::BadRequest(_))
    ));
    assert!(matches!(
        s.resize(10, 1001).await,
        Err(SessionError::BadRequest(_))
    ));
    mgr.shutdown().await;
    assert!(matches!(
        s.resize(10, 10).await,
        Err(SessionError::SessionEnded)
    ));
}

#[tokio::test]
async fn list_is_newest_first_and_shutdown_closes_all() {
    let (tmp, mgr) = manager().await;
    let a = start(&mgr, &tmp, &["sleep", "1000"]).await;
    let b = start(&mgr, &tmp, &["sleep", "1000"]).await;
    let c = start(&mgr, &tmp, &["sleep", "1000"]).await;
    let ids: Vec<String> = mgr.list().into_iter().map(|i| i.id).collect();
    assert_eq!(ids, [c.id(), b.id(), a.id()]);
    assert_eq!(mgr.get(a.id()).unwrap().id(), a.id());
    let t = Instant::now();
    mgr.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(mgr.list().iter().all(|i| i.status == SessionStatus::Closed));
}

#[tokio::test]
async fn rejections() {
    let (tmp, mgr) = manager().await;
    let bad_request = |r: Result<Arc<Session>, SessionError>| match r {
        Err(e @ SessionError::BadRequest(_)) => assert_eq!(e.code(), ErrorCode::BadRequest),
        Err(e) => panic!("expected bad request, got {e}"),
        Ok(_) => panic!("expected bad request, got a session"),
    };
    let mut r = req(&tmp, &["/bin/sh"]);
    r.cwd = Some(tmp.path().join("missing").to_str().unwrap().into());
    bad_request(mgr.create(r).await);
    let file = tmp.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let mut r = req(&tmp, &["/bin/sh"]);
    r.cwd = Some(file.to_str().unwrap().into());
    bad_request(mgr.create(r).await);
    let mut r = req(&tmp, &["/bin/sh"]);
    r.cwd = Some("relative".into());
    bad_request(mgr.create(r).await);
    bad_request(mgr.create(req(&tmp, &[])).await);
    bad_request(mgr.create(req(&tmp, &[""])).await);
    bad_request(mgr.create(req(&tmp, &["sh", "a\0b"])).await);
    for (rows, cols) in [(0, 80), (24, 0), (1001, 80), (24, 1001)] {
        let mut r = req(&tmp, &["/bin/sh"]);
        (r.rows, r.cols) = (Some(rows), Some(cols));
        bad_request(mgr.create(r).await);
    }
    let mut r = req(&tmp, &["/bin/sh"]);
    r.env.insert("A=B".into(), "x".into());
    bad_request(mgr.create(r).await);
    let mut r = req(&tmp, &["/bin/sh"]);
    r.name = Some("a\nb".into());
    bad_request(mgr.create(r).await);
    match mgr.create(req(&tmp, &["/nonexistent/program"])).await {
        Err(e @ SessionError::Spawn { .. }) => assert_eq!(e.code(), ErrorCode::Internal),
        Err(e) => panic!("expected a spawn error, got {e}"),
        Ok(_) => panic!("expected a spawn error"),
    }
    assert!(mgr.list().is_empty(), "failed creates leave nothing behind");
    assert_eq!(
        std::fs::read_dir(tmp.path().join("sessions"))
            .unwrap()
            .count(),
        0
    );

    assert!(mgr.get("s_000000000000").is_none());
    assert!(matches!(
        mgr.close("s_000000000000").await,
        Err(SessionError::NotFound)
    ));
    let s = start(&mgr, &tmp, &["sh", "-c", "echo done"]).await;
    wait_ended(&s).await;
    let end = s.info().end_offset;
    match s.attach(Resume::Offset { offset: end + 1 }) {
        Err(e @ SessionError::BadRequest(_)) => assert_eq!(e.code(), ErrorCode::BadRequest),
        _ => panic!("expected bad request"),
    }
    let err = s.write_input(b"x").await.unwrap_err();
    assert!(matches!(err, SessionError::SessionEnded));
    assert_eq!(err.code(), ErrorCode::SessionEnded);
    assert!(matches!(
        s.resize(10, 10).await,
        Err(SessionError::SessionEnded)
    ));
}

#[tokio::test]
async fn corrupt_session_dirs_are_skipped_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sessions");
    std::fs::create_dir_all(dir.join("s_0123456789ab")).unwrap();
    std::fs::write(dir.join("s_0123456789ab/meta.json"), b"{oops").unwrap();
    std::fs::create_dir_all(dir.join("not-a-session")).unwrap();
    std::fs::create_dir_all(dir.join("s_aaaaaaaaaaaa")).unwrap();
    // A meta.json that names another session is not trusted.
    let info = dd_proto::methods::SessionInfo {
        id: "s_cccccccccccc".into(),
        name: "sh".into(),
        command: vec!["sh".into()],
        cwd: "/".into(),
        status: SessionStatus::Exited,
        exit_code: Some(0),
        created_at: 1,
        rows: 24,
        cols: 80,
        title: String::new(),
        end_offset: 0,
        clients: 0,
        waiting: None,
    };
    std::fs::create_dir_all(dir.join("s_bbbbbbbbbbbb")).unwrap();
    std::fs::write(
        dir.join("s_bbbbbbbbbbbb/meta.json"),
        serde_json::to_vec(&info).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("s_bbbbbbbbbbbb/transcript"), b"hi").unwrap();
    // The same files under the right name load fine.
    std::fs::create_dir_all(dir.join("s_cccccccccccc")).unwrap();
    std::fs::write(
        dir.join("s_cccccccccccc/meta.json"),
        serde_json::to_vec(&info).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("s_cccccccccccc/transcript"), b"hi").unwrap();
    let mgr = open(&tmp).await;
    let list = mgr.list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, "s_cccccccccccc");
    assert_eq!(list[0].end_offset, 2, "the transcript's length wins");
}

#[test]
fn handles_can_move_across_tasks() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Session>();
    send_sync::<SessionManager>();
    send_sync::<Subscription>();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (tmp, mgr) = manager().await;
        let s = start(&mgr, &tmp, &["sh", "-c", "echo hi"]).await;
        let mut sub = s.attach(Resume::Offset { offset: 0 }).unwrap();
        send(&sub.next());
        send(&s.write_input(b""));
        send(&mgr.close(s.id()));
        send(&mgr.create(CreateSession::default()));
        mgr.shutdown().await;
    });
}

#[tokio::test]
async fn a_broken_host_link_is_relinked_and_sessions_go_on() {
    use dd_proto::host::{encode_control, ToHost, HOST_PROTOCOL_VERSION};
    use tokio::io::AsyncWriteExt;
    let (tmp, mgr) = manager().await;
    let s = start(&mgr, &tmp, &["sh", "-c", "read x; echo got-$x; sleep 1000"]).await;
    let mut sub = s.attach(Resume::Offset { offset: 0 }).unwrap();
    // Another client says hello to the host, which drops this manager's
    // link; the manager reconnects and takes its session back.
    let mut other = tokio::net::UnixStream::connect(dd_agent::host::socket_path(tmp.path()))
        .await
        .unwrap();
    other
        .write_all(&encode_control(&ToHost::Hello {
            req: 1,
            version: HOST_PROTOCOL_VERSION,
            transcript_cap: 0,
        }))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    loop {
        match s.write_input(b"again\n").await {
            Ok(()) => break,
            Err(e) => assert!(t.elapsed() < LIMIT, "input refused: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    read_until(&mut sub, "got-again").await;
    assert_eq!(s.info().status, SessionStatus::Running);
    // The manager took the host back: the other client was dropped.
    let mut rest = Vec::new();
    tokio::time::timeout(
        LIMIT,
        tokio::io::AsyncReadExt::read_to_end(&mut other, &mut rest),
    )
    .await
    .expect("the host kept the other client")
    .unwrap();
    mgr.shutdown().await;
}
