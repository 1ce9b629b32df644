//! Tests of the resume core: every code and end reason classified, the
//! schedules' bounds, the retry loop, and offset trimming.

use super::*;
use dd_proto::ErrorBody;

/// Every code, with whether it is retried (a new code does not compile
/// in `retryable_code` until it is decided there; add it here too).
const ALL: [(ErrorCode, bool); 18] = [
    (ErrorCode::Unauthorized, false),
    (ErrorCode::Forbidden, false),
    (ErrorCode::Revoked, false),
    (ErrorCode::Expired, false),
    (ErrorCode::TokenInvalid, false),
    (ErrorCode::TokenUsed, false),
    (ErrorCode::TokenExpired, false),
    (ErrorCode::TokenCancelled, false),
    (ErrorCode::NotFound, false),
    (ErrorCode::BadRequest, false),
    (ErrorCode::UnknownMethod, false),
    (ErrorCode::TooLarge, false),
    (ErrorCode::RateLimited, true),
    (ErrorCode::SessionEnded, false),
    (ErrorCode::UnsupportedVersion, false),
    (ErrorCode::TooSlow, true),
    (ErrorCode::Truncated, false),
    (ErrorCode::Internal, true),
];

#[test]
fn the_table_lists_each_code_once() {
    let mut seen = std::collections::HashSet::new();
    for (code, _) in ALL {
        assert!(seen.insert(code), "{code} twice");
    }
}

#[test]
fn every_error_code_is_classified() {
    for (code, retried) in ALL {
        assert_eq!(retryable_code(code), retried, "{code}");
        for e in [
            ClientError::Rpc(ErrorBody::new(code, "m")),
            ClientError::Refused(ErrorBody::new(code, "m")),
        ] {
            let v = on_error(&e);
            assert_eq!(v, on_code(code), "{code}");
            assert_eq!(retryable(&e), retried, "{code}");
            let want = match code {
                _ if retried => Verdict::Retry,
                ErrorCode::Revoked => Verdict::Stop(Stop::Revoked),
                ErrorCode::Expired => Verdict::Stop(Stop::Expired),
                ErrorCode::SessionEnded => Verdict::Stop(Stop::SessionEnded),
                other => Verdict::Stop(Stop::Refused(other)),
            };
            assert_eq!(v, want, "{code}");
        }
    }
    // No agent code: the network, the handshake, the connection.
    for e in [
        ClientError::Closed,
        ClientError::Timeout,
        ClientError::Connect("refused".into()),
        ClientError::Handshake("cut".into()),
        ClientError::Protocol("garbled".into()),
    ] {
        assert_eq!(on_error(&e), Verdict::Retry, "{e}");
        assert!(retryable(&e));
    }
}

#[test]
fn every_end_reason_is_classified() {
    use EndReason as R;
    for (reason, want) in [
        (R::Detached, Verdict::Stop(Stop::Detached)),
        (R::SessionEnded, Verdict::Stop(Stop::SessionEnded)),
        (R::Revoked, Verdict::Stop(Stop::Revoked)),
        (R::Expired, Verdict::Stop(Stop::Expired)),
        (R::TooSlow, Verdict::Retry),
        (R::Shutdown, Verdict::Retry),
    ] {
        assert_eq!(on_end(reason), want, "{reason:?}");
    }
}

#[test]
fn lost_streams_are_the_resumable_ends() {
    let end = |reason| {
        StreamItem::Event(Event::End {
            reason,
            message: "why".into(),
        })
    };
    assert_eq!(lost(&StreamItem::Disconnected("net".into())), Some("net"));
    assert_eq!(lost(&end(EndReason::Shutdown)), Some("why"));
    assert_eq!(lost(&end(EndReason::TooSlow)), Some("why"));
    for r in [
        EndReason::Detached,
        EndReason::SessionEnded,
        EndReason::Revoked,
        EndReason::Expired,
    ] {
        assert_eq!(lost(&end(r)), None, "{r:?}");
    }
    let out = StreamItem::Output {
        offset: 0,
        data: vec![],
    };
    assert_eq!(lost(&out), None);
}

#[test]
fn schedules_double_up_to_their_cap() {
    let ms = |b: Backoff| -> Vec<u128> { (1..=8).map(|a| b.base_delay(a).as_millis()).collect() };
    assert_eq!(
        ms(Backoff::PHONE),
        vec![250, 500, 1000, 2000, 4000, 8000, 10000, 10000]
    );
    assert_eq!(
        ms(Backoff::DESKTOP),
        vec![250, 500, 1000, 2000, 3000, 3000, 3000, 3000]
    );
    assert_eq!(
        Backoff::DESKTOP.give_up_after,
        Some(Duration::from_secs(600))
    );
    assert_eq!(Backoff::PHONE.give_up_after, None);
}

#[test]
fn jittered_delays_stay_within_bounds() {
    for b in [Backoff::PHONE, Backoff::DESKTOP] {
        assert_eq!(b.base_delay(0), b.first);
        assert_eq!(b.base_delay(u32::MAX), b.max);
        assert_eq!(b.delay(1, 0.0), b.first);
        assert_eq!(b.delay(1, 0.999_999).as_millis(), 312);
        assert_eq!(b.delay(3, 1.0), Duration::from_millis(1250));
        assert_eq!(b.delay(40, 1.0), b.max);
        // Out-of-range jitter is clamped, NaN counts as none.
        assert_eq!(b.delay(2, 7.0), Duration::from_millis(625));
        assert_eq!(b.delay(2, -3.0), Duration::from_millis(500));
        assert_eq!(b.delay(2, f64::NAN), Duration::from_millis(500));
        for a in 0..64 {
            for j in [0.0, 0.3, 0.5, 0.99, 1.0] {
                let d = b.delay(a, j);
                assert!(d >= b.first && d <= b.max, "{a} {j}: {d:?}");
                assert!(d >= b.base_delay(a));
                assert!(d <= b.base_delay(a).mul_f64(1.25));
            }
            assert!(b.base_delay(a) <= b.base_delay(a + 1));
        }
    }
}

fn tiny(give_up_after: Option<Duration>) -> Backoff {
    Backoff {
        first: Duration::from_millis(1),
        max: Duration::from_millis(2),
        give_up_after,
    }
}

#[tokio::test]
async fn retry_retries_the_retryable_then_succeeds() {
    let mut tries = 0;
    let mut waits = Vec::new();
    let r: Result<&str, ClientError> = retry(
        &tiny(None),
        retryable,
        |n, d| {
            waits.push((n, d));
            Ok(())
        },
        std::future::pending(),
        || {
            tries += 1;
            let t = tries;
            async move {
                match t {
                    1 => Err(ClientError::Closed),
                    2 => Err(ClientError::Rpc(ErrorBody::new(
                        ErrorCode::RateLimited,
                        "x",
                    ))),
                    _ => Ok("attached"),
                }
            }
        },
    )
    .await;
    assert_eq!(r, Ok("attached"));
    assert_eq!(tries, 3);
    assert_eq!(waits.iter().map(|w| w.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(waits.iter().all(|w| w.1 <= Duration::from_millis(2)));
}

#[tokio::test]
async fn retry_stops_at_a_final_error() {
    let mut tries = 0;
    let r: Result<(), ClientError> = retry(
        &tiny(None),
        retryable,
        |_, _| Ok(()),
        std::future::pending(),
        || {
            tries += 1;
            async {
                Err(ClientError::Refused(ErrorBody::new(
                    ErrorCode::Revoked,
                    "gone",
                )))
            }
        },
    )
    .await;
    assert_eq!(r.unwrap_err().code(), Some(ErrorCode::Revoked));
    assert_eq!(tries, 1);
}

#[tokio::test]
async fn retry_ends_when_before_refuses() {
    let mut tries = 0;
    let r: Result<(), ClientError> = retry(
        &tiny(None),
        retryable,
        |n, _| {
            if n < 3 {
                Ok(())
            } else {
                Err(ClientError::Timeout)
            }
        },
        std::future::pending(),
        || {
            tries += 1;
            async { Err(ClientError::Closed) }
        },
    )
    .await;
    assert_eq!(r, Err(ClientError::Timeout));
    assert_eq!(tries, 2);
}

#[tokio::test]
async fn retry_stops_during_a_wait_but_not_during_a_try() {
    let stop = tokio::sync::Notify::new();
    let mut tries = 0;
    let slow = Backoff {
        first: Duration::from_secs(3600),
        ..Backoff::PHONE
    };
    let r = retry(
        &slow,
        retryable,
        |_, _| Ok(()),
        async {
            stop.notified().await;
            ClientError::Closed
        },
        || {
            tries += 1;
            async { Ok(()) }
        },
    );
    stop.notify_one();
    assert_eq!(r.await, Err::<(), _>(ClientError::Closed));
    assert_eq!(tries, 0);
    // A try in flight when the stop comes is finished and judged.
    let stop = tokio::sync::Notify::new();
    let r: Result<&str, ClientError> = retry(
        &tiny(None),
        retryable,
        |_, _| Ok(()),
        async {
            stop.notified().await;
            ClientError::Closed
        },
        || {
            stop.notify_one();
            async { Ok("done") }
        },
    )
    .await;
    assert_eq!(r, Ok("done"));
}

#[tokio::test]
async fn retry_gives_up_after_its_limit() {
    let mut tries = 0;
    let r: Result<(), ClientError> = retry(
        &tiny(Some(Duration::ZERO)),
        retryable,
        |_, _| Ok(()),
        std::future::pending(),
        || {
            tries += 1;
            async { Err(ClientError::Connect("down".into())) }
        },
    )
    .await;
    assert_eq!(r, Err(ClientError::Connect("down".into())));
    assert_eq!(tries, 1);
}

#[test]
fn fresh_trims_overlap_and_passes_gaps() {
    assert_eq!(fresh(None, 5, b"abc"), Some((5, &b"abc"[..])));
    assert_eq!(fresh(Some(5), 5, b"abc"), Some((5, &b"abc"[..])));
    // Overlap: the first byte was delivered already.
    assert_eq!(fresh(Some(6), 5, b"abc"), Some((6, &b"bc"[..])));
    // All old.
    assert_eq!(fresh(Some(8), 5, b"abc"), None);
    assert_eq!(fresh(Some(100), 5, b"abc"), None);
    // Gap: bytes 3..5 never came (truncated transcript); deliver whole.
    assert_eq!(fresh(Some(3), 5, b"abc"), Some((5, &b"abc"[..])));
    assert_eq!(fresh(Some(5), 5, b""), None);
    assert_eq!(fresh(Some(u64::MAX), u64::MAX - 1, b"ab"), None);
}

fn out(offset: u64, data: &[u8]) -> StreamItem {
    StreamItem::Output {
        offset,
        data: data.to_vec(),
    }
}

#[test]
fn cursor_delivers_each_byte_once_across_a_resume() {
    let mut c = Cursor::new();
    assert_eq!(c.next(), None);
    assert_eq!(c.resume_or(Resume::Screen), Resume::Screen);
    assert_eq!(c.admit(out(0, b"hello")), Some(out(0, b"hello")));
    assert_eq!(c.next(), Some(5));
    assert_eq!(c.resume_or(Resume::Screen), Resume::Offset { offset: 5 });
    // A resumed stream that repeats a little, then all, then nothing.
    assert_eq!(c.admit(out(3, b"lo wo")), Some(out(5, b" wo")));
    assert_eq!(c.admit(out(0, b"hello wo")), None);
    assert_eq!(c.next(), Some(8));
    // A gap moves the cursor past it.
    assert_eq!(c.admit(out(20, b"xy")), Some(out(20, b"xy")));
    assert_eq!(c.next(), Some(22));
    // Events pass and do not move it.
    let ev = StreamItem::Event(Event::InputCleared { seq: 1 });
    assert_eq!(c.admit(ev.clone()), Some(ev));
    let gone = StreamItem::Disconnected("x".into());
    assert_eq!(c.admit(gone.clone()), Some(gone));
    assert_eq!(c.next(), Some(22));
    // A snapshot sets it, even backwards (the screen stands there).
    let snap = StreamItem::Snapshot {
        offset: 10,
        rows: 1,
        cols: 1,
        data: vec![],
    };
    assert_eq!(c.admit(snap.clone()), Some(snap));
    assert_eq!(c.next(), Some(10));
    assert_eq!(c.admit(out(10, b"z")), Some(out(10, b"z")));
    assert_eq!(c.next(), Some(11));
}
