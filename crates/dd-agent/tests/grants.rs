//! Pairing tokens and grants against a real agent: redemption races,
//! revocation and expiry of live streams, read-only input, session close,
//! and rate limiting of failed redemptions.

use std::time::{Duration, Instant};

use dd_client_core::{connect_with, AttachStream, ConnectOptions, StreamItem};
use dd_proto::link::{Link, LinkKind};
use dd_proto::message::{EndReason, Event};
use dd_proto::methods::Resume;
use dd_proto::noise::StaticKeypair;
use dd_testkit::{companion, owner, pair, redeem, shell_session, AgentProc};
use serde_json::json;

/// Reads a stream until its end event; returns the reason and the output seen.
async fn until_end(s: &mut AttachStream, limit: Duration) -> (EndReason, Vec<u8>) {
    let mut out = Vec::new();
    let deadline = Instant::now() + limit;
    loop {
        let item = tokio::time::timeout_at(deadline.into(), s.next())
            .await
            .expect("stream did not end in time");
        match item {
            Some(StreamItem::Output { data, .. }) => out.extend_from_slice(&data),
            Some(StreamItem::Event(Event::End { reason, .. })) => return (reason, out),
            Some(StreamItem::Disconnected(why)) => panic!("disconnected without end: {why}"),
            None => panic!("stream closed without end"),
            Some(_) => {}
        }
    }
}

/// Reads until `needle` shows up in the output (keeping only a short tail,
/// so long floods stay cheap to scan).
async fn until_seen(s: &mut AttachStream, needle: &str) {
    let mut seen: Vec<u8> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&seen).contains(needle) {
        if seen.len() > 4096 {
            seen.drain(..seen.len() - 1024);
        }
        match tokio::time::timeout_at(deadline.into(), s.next()).await {
            Ok(Some(StreamItem::Output { data, .. })) => seen.extend_from_slice(&data),
            Ok(Some(StreamItem::Snapshot { data, .. })) => seen.extend_from_slice(&data),
            Ok(Some(StreamItem::Event(Event::End { reason, .. }))) => panic!("ended: {reason:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("stream closed before {needle:?}"),
            Err(_) => panic!(
                "{needle:?} not seen; got {:?}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_ends_the_live_stream_at_once_and_only_that_one() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let (c1, k1, g1) = companion(&own, &s, json!({})).await;
    let (c2, _, _g2) = companion(&own, &s, json!({})).await;
    let mut s1 = c1.attach(&s, Resume::Screen).await.unwrap();
    let mut s2 = c2.attach(&s, Resume::Screen).await.unwrap();
    let mut so = own.attach(&s, Resume::Screen).await.unwrap();
    s1.send_input(b"echo before-$((1+1))\r").await.unwrap();
    until_seen(&mut s1, "before-2").await;

    let t0 = Instant::now();
    let r = own
        .call(
            "grant.revoke",
            json!({"session": s, "grant_id": g1.grant_id}),
        )
        .await
        .unwrap();
    assert_eq!(r["revoked"], 1);
    let (reason, _) = until_end(&mut s1, Duration::from_secs(1)).await;
    let took = t0.elapsed();
    assert_eq!(reason, EndReason::Revoked);
    assert!(took < Duration::from_secs(1), "revocation took {took:?}");

    // The other companion and the owner carry on.
    s2.send_input(b"echo after-$((2+2))\r").await.unwrap();
    until_seen(&mut s2, "after-4").await;
    until_seen(&mut so, "after-4").await;

    // Every later request or handshake from the revoked key fails.
    let e = agent.connect(&k1).await.unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "revoked");
    let audit = own.call("audit.list", json!({"session": s})).await.unwrap();
    let actions: Vec<_> = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    for want in [
        "token_minted",
        "token_redeemed",
        "grant_attached",
        "grant_revoked",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "no {want} in {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_ends_every_grant_of_the_session() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let mut streams = Vec::new();
    let mut keys = Vec::new();
    for _ in 0..3 {
        let (c, k, _) = companion(&own, &s, json!({})).await;
        streams.push(c.attach(&s, Resume::Screen).await.unwrap());
        keys.push(k);
    }
    let r = own
        .call("grant.revoke", json!({"session": s, "all": true}))
        .await
        .unwrap();
    assert_eq!(r["revoked"], 3);
    for st in &mut streams {
        assert_eq!(
            until_end(st, Duration::from_secs(1)).await.0,
            EndReason::Revoked
        );
    }
    for k in &keys {
        assert_eq!(
            agent.connect(k).await.unwrap_err().code().unwrap().as_str(),
            "revoked"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_expiry_ends_the_stream_and_later_handshakes() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let (c, k, g) = companion(&own, &s, json!({"grant_ttl_secs": 2})).await;
    let mut st = c.attach(&s, Resume::Screen).await.unwrap();
    let t0 = Instant::now();
    let (reason, _) = until_end(&mut st, Duration::from_secs(5)).await;
    assert_eq!(reason, EndReason::Expired);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(now >= g.expires_at, "ended before expiry");
    assert!(t0.elapsed() < Duration::from_secs(4));
    let e = agent.connect(&k).await.unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_companion_watches_but_cannot_type() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let (ro, _, g) = companion(&own, &s, json!({"read_only": true})).await;
    assert!(g.read_only);
    let mut st = ro.attach(&s, Resume::Screen).await.unwrap();
    assert!(!st.attached.can_input);
    st.send_input(b"echo sneaky\r").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline.into(), st.next())
            .await
            .unwrap()
        {
            Some(StreamItem::Event(Event::Error { error })) => {
                assert_eq!(error.code.as_str(), "forbidden");
                break;
            }
            Some(StreamItem::Event(Event::End { .. })) | None => panic!("stream ended"),
            _ => {}
        }
    }
    // The owner's typing shows up on the read-only stream: it stayed open.
    own.call(
        "session.input",
        json!({"session": s, "data": dd_proto::keys::encode_bytes(b"echo owner-$((3*3))\r")}),
    )
    .await
    .unwrap();
    until_seen(&mut st, "owner-9").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_session_ends_its_grants() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let (c, k, _) = companion(&own, &s, json!({})).await;
    let mut st = c.attach(&s, Resume::Screen).await.unwrap();
    own.call("session.close", json!({"session": s}))
        .await
        .unwrap();
    let (reason, _) = until_end(&mut st, Duration::from_secs(5)).await;
    assert!(
        matches!(reason, EndReason::SessionEnded | EndReason::Revoked),
        "{reason:?}"
    );
    assert_eq!(
        agent
            .connect(&k)
            .await
            .unwrap_err()
            .code()
            .unwrap()
            .as_str(),
        "revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_redemptions_of_one_token_make_exactly_one_grant() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let p = pair(&own, &s, json!({})).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let link = p.link.clone();
        let url = agent.url.clone();
        let akey = agent.key;
        tasks.push(tokio::spawn(async move {
            let l = Link::parse_kind(&link, LinkKind::Pair).unwrap();
            let key = StaticKeypair::generate();
            let (c, _) = dd_client_core::connect(&url, &akey, &key, "race")
                .await
                .unwrap();
            c.call(
                "pair.redeem",
                json!({"token": l.token.expose(), "label": "racer"}),
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.code().unwrap().as_str(), "token_used"),
        }
    }
    assert_eq!(ok, 1);
    let grants = own.call("grant.list", json!({"session": s})).await.unwrap();
    assert_eq!(grants["grants"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reuse_expiry_and_cancellation_are_refused() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let p = pair(&own, &s, json!({})).await;
    redeem(&p.link).await.unwrap();
    let e = redeem(&p.link).await.unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "token_used");

    let p = pair(&own, &s, json!({"ttl_secs": 1})).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let e = redeem(&p.link).await.unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "token_expired");

    let p = pair(&own, &s, json!({})).await;
    own.call("pair.cancel", json!({"session": s, "token_id": p.token_id}))
        .await
        .unwrap();
    let e = redeem(&p.link).await.unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "token_cancelled");
    let st = own
        .call("pair.status", json!({"session": s, "token_id": p.token_id}))
        .await
        .unwrap();
    assert_eq!(st["state"], "cancelled");

    // A tampered token is unknown; a link with another agent's key fails the handshake.
    let p = pair(&own, &s, json!({})).await;
    let mut l = Link::parse(&p.link).unwrap();
    let tampered = {
        let t = l.token.expose();
        let flipped = if t.starts_with('A') {
            t.replacen('A', "B", 1)
        } else {
            format!("A{}", &t[1..])
        };
        flipped
    };
    l.token = dd_proto::link::Token::new(&tampered).unwrap();
    let e = redeem(&l.render(None)).await.unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "token_invalid");
    l.agent_key = StaticKeypair::generate().public();
    let e = redeem(&l.render(None)).await.unwrap_err();
    assert!(
        e.code().is_none(),
        "wrong agent key must fail the handshake: {e}"
    );
    // The genuine link still works after all that.
    redeem(&p.link).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_is_rate_limited_and_audited_per_source() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let mut limited = false;
    for i in 0..30 {
        // A fresh connection each time: an unknown key is disconnected
        // after a few refused requests.
        let attacker = agent.connect(&StaticKeypair::generate()).await.unwrap();
        let bogus = dd_proto::keys::encode_bytes(&[i as u8; 16]);
        let e = attacker
            .call("pair.redeem", json!({"token": bogus, "label": "x"}))
            .await
            .unwrap_err();
        match e.code().unwrap().as_str() {
            "token_invalid" => {}
            "rate_limited" => {
                limited = true;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(limited, "30 wrong tokens were never rate limited");
    // The genuine token from the same source is refused while it is blocked…
    let p = pair(&own, &s, json!({})).await;
    let token = Link::parse(&p.link).unwrap().token.expose().to_owned();
    let attacker = agent.connect(&StaticKeypair::generate()).await.unwrap();
    let e = attacker
        .call("pair.redeem", json!({"token": token, "label": "x"}))
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().as_str(), "rate_limited");
    // …but works from another source address.
    let opts = ConnectOptions {
        bind_addr: Some("127.0.0.2".parse().unwrap()),
        ..ConnectOptions::default()
    };
    let (phone, _) = connect_with(
        &agent.url,
        &agent.key,
        &StaticKeypair::generate(),
        "phone",
        opts,
    )
    .await
    .unwrap();
    phone
        .call("pair.redeem", json!({"token": token, "label": "phone"}))
        .await
        .unwrap();
    let audit = own
        .call("audit.list", json!({"limit": 1000}))
        .await
        .unwrap();
    let failed = audit["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "redeem_failed")
        .map(|r| r["count"].as_u64().unwrap_or(1))
        .sum::<u64>();
    // Aggregated: few rows, each with the count of attempts it stands for.
    assert!(failed >= 11, "only {failed} failed redemptions audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn universal_links_and_the_association_file() {
    let agent = AgentProc::start_with(&[
        "--link-base",
        "https://dd.example.com/",
        "--apple-app-id",
        "ABCDE12345.dev.dd.companion",
    ]);
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let p = pair(&own, &s, json!({"read_only": true})).await;
    assert!(
        p.link.starts_with("https://dd.example.com/pair?v=1&"),
        "{}",
        p.link
    );
    let l = Link::parse_kind(&p.link, LinkKind::Pair).unwrap();
    assert_eq!(l.agent_url, agent.url);
    assert_eq!(l.session_id.as_deref(), Some(s.as_str()));
    assert!(l.read_only);
    let (_, _, g) = redeem(&p.link).await.unwrap();
    assert!(g.read_only);

    let body = http_get(&agent.url, "/.well-known/apple-app-site-association").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("ABCDE12345.dev.dd.companion") && body.contains("/pair"));
    let plain = AgentProc::start();
    let body = http_get(&plain.url, "/.well-known/apple-app-site-association").await;
    assert!(body.starts_with("HTTP/1.1 404"), "{body}");
}

/// A minimal HTTP/1.1 GET over a real socket.
async fn http_get(base: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_cuts_a_companion_that_stopped_reading() {
    let agent = AgentProc::start();
    let (own, _) = owner(&agent).await;
    let s = shell_session(&own).await;
    let p = pair(&own, &s, json!({})).await;
    let l = Link::parse_kind(&p.link, LinkKind::Pair).unwrap();
    // A client whose stream queue holds one item and which never reads it:
    // its connection stops reading the socket, so the agent's queue fills.
    let opts = ConnectOptions {
        stream_queue: 1,
        stream_stall: Duration::from_secs(3600),
        ..ConnectOptions::default()
    };
    let key = StaticKeypair::generate();
    let (slow, _) = connect_with(&l.agent_url, &l.agent_key, &key, "slow", opts)
        .await
        .unwrap();
    let g: dd_proto::methods::GrantInfo = serde_json::from_value(
        slow.call(
            "pair.redeem",
            json!({"token": l.token.expose(), "label": "slow"}),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let _stalled = slow.attach(&s, Resume::Offset { offset: 0 }).await.unwrap();
    let mut so = own.attach(&s, Resume::Screen).await.unwrap();
    own.call(
        "session.input",
        json!({"session": s, "data": dd_proto::keys::encode_bytes(b"head -c 30000000 /dev/zero | tr '\\\\0' x; echo; echo flood-$((1+1))\r")}),
    )
    .await
    .unwrap();
    until_seen(&mut so, "flood-2").await;

    let t0 = Instant::now();
    own.call(
        "grant.revoke",
        json!({"session": s, "grant_id": g.grant_id}),
    )
    .await
    .unwrap();
    loop {
        let grants = own.call("grant.list", json!({"session": s})).await.unwrap();
        if grants["grants"][0]["connected"] == 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "stalled companion still connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The owner's stream was never held up.
    so.send_input(b"echo owner-ok\r").await.unwrap();
    until_seen(&mut so, "owner-ok").await;
}
