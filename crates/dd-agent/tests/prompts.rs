//! Input-needed detection against a real agent and real PTYs: explicit
//! signals, the quiet-screen heuristic, clearing, events streams and
//! `waiting` in the session metadata.

use std::time::{Duration, Instant};

use dd_client_core::{AttachStream, Connection, StreamItem};
use dd_proto::keys::encode_bytes;
use dd_proto::message::Event;
use dd_proto::methods::{self as m, InputNeeded, PromptSource, Resume, SessionInfo};
use dd_proto::ErrorCode;
use dd_testkit::{companion, owner, shell_session, AgentProc};
use serde_json::json;

/// A prompt event, or the stream's end.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Needed(InputNeeded),
    Cleared(u64),
    End,
}

/// The next prompt event within `limit` (output and meta skipped); `None`
/// when nothing came.
async fn next_ev(s: &mut AttachStream, limit: Duration) -> Option<Ev> {
    let deadline = Instant::now() + limit;
    loop {
        let item = tokio::time::timeout_at(deadline.into(), s.next())
            .await
            .ok()?;
        match item {
            Some(StreamItem::Event(Event::InputNeeded { prompt })) => {
                return Some(Ev::Needed(prompt))
            }
            Some(StreamItem::Event(Event::InputCleared { seq })) => return Some(Ev::Cleared(seq)),
            Some(StreamItem::Event(Event::End { .. })) | None => return Some(Ev::End),
            Some(StreamItem::Disconnected(why)) => panic!("disconnected: {why}"),
            Some(_) => {}
        }
    }
}

/// Waits for an `input_needed` (generously), then checks nothing else
/// arrives for a while: exactly one event.
async fn exactly_one(s: &mut AttachStream) -> InputNeeded {
    let p = match next_ev(s, Duration::from_secs(20)).await {
        Some(Ev::Needed(p)) => p,
        other => panic!("expected input_needed, got {other:?}"),
    };
    let more = next_ev(s, Duration::from_millis(1500)).await;
    assert_eq!(more, None, "a second event for one prompt");
    p
}

async fn create(own: &Connection, script: &str) -> String {
    dd_testkit::command_session(own, &["/bin/sh", "-c", script]).await
}

async fn input(conn: &Connection, session: &str, bytes: &[u8]) {
    conn.call(
        m::SESSION_INPUT,
        json!({"session": session, "data": encode_bytes(bytes)}),
    )
    .await
    .expect("session.input");
}

async fn meta(conn: &Connection, session: &str) -> SessionInfo {
    serde_json::from_value(
        conn.call(m::SESSION_META, json!({ "session": session }))
            .await
            .expect("session.meta"),
    )
    .unwrap()
}

/// An agent whose heuristic waits 300 ms of quiet.
fn agent() -> AgentProc {
    AgentProc::start_with(&["--prompt-quiet", "300ms"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_explicit_signal_raises_exactly_one_event_with_its_text() {
    let agent = agent();
    let (own, _) = owner(&agent).await;
    let cases: [(&str, PromptSource, &str, &str); 4] = [
        (
            r"printf 'tests done\a\a'",
            PromptSource::Bel,
            "",
            "tests done",
        ),
        (
            r"printf '\033]9;Build finished\007'",
            PromptSource::Osc9,
            "",
            "Build finished",
        ),
        (
            r"printf '\033]777;notify;Codex;Approve the patch\033\\'",
            PromptSource::Osc777,
            "Codex",
            "Approve the patch",
        ),
        (
            r"printf '\033]99;i=7:d=0;Claude\033\\\033]99;i=7:p=body;Needs you\033\\'",
            PromptSource::Osc99,
            "Claude",
            "Needs you",
        ),
    ];
    for (print, source, title, body) in cases {
        // `read go` holds the signal back until the events stream is open,
        // and the sleep past the window in which a bell is the owner's own.
        let s = create(&own, &format!("read go; sleep 1.6; {print}; sleep 60")).await;
        let mut ev = own.events(&s).await.unwrap();
        assert_eq!(ev.attached.session.waiting, None);
        input(&own, &s, b"\r").await;
        let p = exactly_one(&mut ev).await;
        assert_eq!((p.source, p.body.as_str()), (source, body), "{print}");
        if !title.is_empty() {
            assert_eq!(p.title, title);
        }
        assert_eq!((p.session.as_str(), p.seq), (s.as_str(), 1));
        assert_eq!(meta(&own, &s).await.waiting.as_deref(), Some(&p));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menus_and_yes_no_prompts_raise_one_event_each_and_answers_clear_them() {
    let agent = agent();
    let (own, _) = owner(&agent).await;
    let script = r"read go
printf '\342\225\255\342\224\200\342\224\200\342\224\200\342\225\256\n'
printf '\342\224\202 Do you want to proceed?  \342\224\202\n'
printf '\342\224\202 \342\235\257 1. Yes                  \342\224\202\n'
printf '\342\224\202   2. No                   \342\224\202\n'
printf '\342\225\260\342\224\200\342\224\200\342\224\200\342\225\257\n'
read a
printf 'Overwrite config? [Y/n] '
read b
printf 'Delete cache? [y/N] '
read c
echo 'answers:' $a $b $c
sleep 60";
    let s = create(&own, script).await;
    let mut ev = own.events(&s).await.unwrap();
    let mut out = own.attach(&s, Resume::Offset { offset: 0 }).await.unwrap();
    input(&own, &s, b"\r").await;

    let menu = exactly_one(&mut ev).await;
    assert_eq!(menu.source, PromptSource::Heuristic);
    assert_eq!(menu.body, "Do you want to proceed?");
    let labels: Vec<&str> = menu.choices.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["Yes", "No"]);
    assert_eq!(menu.choices[0].bytes().unwrap(), b"\r");
    assert_eq!(menu.choices[1].bytes().unwrap(), b"\x1b[B\r");
    assert!(menu.prompt.contains("1. Yes"), "{}", menu.prompt);
    // The attach stream carries the same event.
    assert_eq!(
        next_ev(&mut out, Duration::from_secs(20)).await,
        Some(Ev::Needed(menu.clone()))
    );

    input(&own, &s, &menu.choices[0].bytes().unwrap()).await;
    assert_eq!(
        next_ev(&mut ev, Duration::from_secs(20)).await,
        Some(Ev::Cleared(menu.seq))
    );
    let yn = exactly_one(&mut ev).await;
    assert_eq!(yn.seq, menu.seq + 1);
    assert_eq!(yn.body, "Overwrite config? [Y/n]");
    let inputs: Vec<(String, Vec<u8>)> = yn
        .choices
        .iter()
        .map(|c| (c.label.clone(), c.bytes().unwrap()))
        .collect();
    assert_eq!(
        inputs,
        [
            ("Yes".into(), b"y\r".to_vec()),
            ("No".into(), b"n\r".to_vec())
        ]
    );
    assert_eq!(meta(&own, &s).await.waiting.map(|w| w.seq), Some(yn.seq));

    input(&own, &s, &yn.find_choice("n").unwrap().bytes().unwrap()).await;
    assert_eq!(
        next_ev(&mut ev, Duration::from_secs(20)).await,
        Some(Ev::Cleared(yn.seq))
    );
    let third = exactly_one(&mut ev).await;
    assert_eq!(
        (third.seq, third.body.as_str()),
        (yn.seq + 1, "Delete cache? [y/N]")
    );
    input(
        &own,
        &s,
        &third.find_choice("yes").unwrap().bytes().unwrap(),
    )
    .await;
    assert_eq!(
        next_ev(&mut ev, Duration::from_secs(20)).await,
        Some(Ev::Cleared(third.seq))
    );
    assert_eq!(next_ev(&mut ev, Duration::from_millis(1500)).await, None);
    assert_eq!(meta(&own, &s).await.waiting, None);
    // The program got the answers.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("answers: n y") {
        match tokio::time::timeout_at(deadline.into(), out.next()).await {
            Ok(Some(StreamItem::Output { data, .. })) => seen.extend_from_slice(&data),
            Ok(Some(_)) => {}
            other => panic!("no answers: {other:?} {:?}", String::from_utf8_lossy(&seen)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flowing_output_raises_nothing() {
    let agent = agent();
    let (own, _) = owner(&agent).await;
    let script = "read go; for i in $(seq 1 40); do echo \"line $i: ok?\"; sleep 0.1; done; \
                  echo 'build finished'; sleep 60";
    let s = create(&own, script).await;
    let mut ev = own.events(&s).await.unwrap();
    input(&own, &s, b"\r").await;
    // 40 lines at 0.1 s, then quiet: well past the end of the log.
    assert_eq!(next_ev(&mut ev, Duration::from_secs(7)).await, None);
    assert_eq!(meta(&own, &s).await.waiting, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_answered_before_the_quiet_period_raises_nothing() {
    let agent = agent();
    let (own, _) = owner(&agent).await;
    // A longer quiet period, set at runtime, leaves room to answer first.
    let cfg = own
        .call(m::AGENT_CONFIG_SET, json!({"prompt_quiet_ms": 3000}))
        .await
        .unwrap();
    assert_eq!(cfg["prompt_quiet_ms"], 3000);
    let s = create(
        &own,
        "read go; printf 'Proceed? [y/N] '; read x; echo \"answer=$x\"; sleep 60",
    )
    .await;
    let mut out = own.attach(&s, Resume::Offset { offset: 0 }).await.unwrap();
    input(&own, &s, b"\r").await;
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("Proceed?") {
        match tokio::time::timeout(Duration::from_secs(20), out.next()).await {
            Ok(Some(StreamItem::Output { data, .. })) => seen.extend_from_slice(&data),
            Ok(Some(StreamItem::Event(Event::InputNeeded { prompt }))) => {
                panic!("raised before the quiet period: {prompt:?}")
            }
            Ok(Some(_)) => {}
            other => panic!("no prompt: {other:?}"),
        }
    }
    input(&own, &s, b"y\r").await;
    // Well past the quiet period: nothing was raised.
    assert_eq!(next_ev(&mut out, Duration::from_secs(5)).await, None);
    assert_eq!(meta(&own, &s).await.waiting, None);
    // Bad settings are refused.
    let e = own
        .call(m::AGENT_CONFIG_SET, json!({"prompt_quiet_ms": 10_000_000}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("bad_request"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_shell_read_p_is_one_event_a_companion_can_answer() {
    let agent = agent();
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let (phone, _, _) = companion(&own, &s, json!({})).await;
    let (watcher, _, _) = companion(&own, &s, json!({"read_only": true})).await;
    let mut ev = phone.events(&s).await.unwrap();
    assert!(ev.attached.can_input);
    let mut ro = watcher.events(&s).await.unwrap();
    assert!(!ro.attached.can_input);
    let mut out = own.attach(&s, Resume::Offset { offset: 0 }).await.unwrap();

    input(
        &own,
        &s,
        b"read -p \"Continue? [y/N] \" x; echo \"you said $x\"\r",
    )
    .await;
    let p = exactly_one(&mut ev).await;
    assert_eq!(p.body, "Continue? [y/N]");
    assert_eq!(p.source, PromptSource::Heuristic);
    assert_eq!(p.choices.len(), 2);
    assert_eq!(
        next_ev(&mut ro, Duration::from_secs(5)).await,
        Some(Ev::Needed(p.clone()))
    );
    // A late joiner sees it in the metadata.
    assert_eq!(meta(&phone, &s).await.waiting.as_deref(), Some(&p));
    let late = phone.events(&s).await.unwrap();
    assert_eq!(late.attached.session.waiting.as_deref(), Some(&p));
    drop(late);

    // The read-only companion cannot answer.
    let e = watcher
        .call(
            m::SESSION_INPUT,
            json!({"session": s, "data": p.choices[0].input}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("forbidden"), "{e}");
    // The phone answers with the choice's bytes.
    let yes = p.find_choice("y").unwrap();
    phone
        .call(m::SESSION_INPUT, json!({"session": s, "data": yes.input}))
        .await
        .unwrap();
    assert_eq!(
        next_ev(&mut ev, Duration::from_secs(10)).await,
        Some(Ev::Cleared(p.seq))
    );
    assert_eq!(
        next_ev(&mut ro, Duration::from_secs(10)).await,
        Some(Ev::Cleared(p.seq))
    );
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("you said y") {
        match tokio::time::timeout(Duration::from_secs(20), out.next()).await {
            Ok(Some(StreamItem::Output { data, .. })) => seen.extend_from_slice(&data),
            Ok(Some(_)) => {}
            other => panic!("shell did not proceed: {other:?}"),
        }
    }
    assert_eq!(next_ev(&mut ev, Duration::from_millis(1500)).await, None);
    assert_eq!(meta(&own, &s).await.waiting, None);

    // Closing the session ends the events stream.
    own.call(m::SESSION_CLOSE, json!({ "session": s }))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline.into(), ev.next()).await {
            Ok(Some(StreamItem::Event(Event::End { .. }))) => break,
            Ok(Some(StreamItem::Output { .. })) => panic!("output on an events stream"),
            Ok(Some(_)) => {}
            other => panic!("events stream did not end: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_only_for_the_companions_own_session() {
    let agent = agent();
    let (own, _) = owner(&agent).await;
    let a = shell_session(&own).await;
    let b = shell_session(&own).await;
    let (phone, _, _) = companion(&own, &a, json!({})).await;
    let e = phone.events(&b).await.unwrap_err();
    assert!(e.to_string().contains("forbidden"), "{e}");
    let e = own.events("s_nosuchsession").await.unwrap_err();
    assert!(e.to_string().contains("not_found"), "{e}");
    let e = own
        .call(m::SESSION_EVENTS, json!({"sesion": a}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("bad_request"), "{e}");
    // A stranger's key is refused (and disconnected).
    let stranger = agent
        .connect(&dd_proto::noise::StaticKeypair::generate())
        .await
        .unwrap();
    let e = stranger.events(&a).await.unwrap_err();
    assert!(
        e.to_string().contains(&ErrorCode::Unauthorized.to_string()),
        "{e}"
    );
    // Events streams are detached like attach streams.
    let mut ev = phone.events(&a).await.unwrap();
    ev.detach().await.unwrap();
    assert_eq!(
        next_ev(&mut ev, Duration::from_secs(10)).await,
        Some(Ev::End)
    );
}
