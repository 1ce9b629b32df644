//! The resume core: everything a client decides when an attach stream or
//! a connection is lost, so that `dd-client session attach`/`watch` and
//! the mobile core (hence `dd-companion` and the phone) decide it alike.
//!
//! - **Classification**: [`on_error`] and [`on_end`] say whether a failed
//!   connect/attach or a stream end is worth another try ([`Verdict::Retry`])
//!   or final ([`Verdict::Stop`] with a [`Stop`] reason). Network trouble,
//!   a closed connection, `rate_limited`, `internal`, `too_slow` and an
//!   agent `shutdown` are retried; refusals (`revoked`, `expired`,
//!   `forbidden`, `not_found`, ...) and a detach or session end are final.
//! - **Backoff**: one schedule, [`Backoff`]: the first wait is 250 ms and
//!   each next one doubles, capped at `max`, plus up to a quarter more of
//!   random jitter (never above `max`), so clients that lost the same agent
//!   do not all come back in the same instant. Callers differ only in the
//!   cap and when to give up: [`Backoff::DESKTOP`] (cap 3 s, give up after
//!   10 min) and [`Backoff::PHONE`] (cap 10 s, never: the phone retries
//!   until its grant expires or the user detaches).
//! - **Retry loop**: [`retry`] waits, tries, classifies, repeats.
//! - **Next offset**: [`Cursor`] holds the transcript offset right after
//!   the last byte delivered and trims what a resumed stream repeats
//!   ([`fresh`]), so nothing is lost or shown twice.

use std::future::Future;
use std::time::Duration;

use dd_proto::message::EndReason;
use dd_proto::methods::Resume;
use dd_proto::{ErrorCode, Event};

use crate::error::ClientError;
use crate::item::StreamItem;

/// Why a resumable attach is over for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The client detached.
    Detached,
    /// The session exited or was closed.
    SessionEnded,
    /// The grant (or device) was revoked.
    Revoked,
    /// The grant expired.
    Expired,
    /// The agent refused for another reason (`forbidden`, `not_found`,
    /// `unsupported_version`, a bad request, ...): trying again cannot help.
    Refused(ErrorCode),
}

/// What to do after a failure or a stream end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Connect again and resume from the next offset.
    Retry,
    /// Stop, for this reason.
    Stop(Stop),
}

/// Whether an agent error code is worth retrying: only `rate_limited`,
/// `internal` and `too_slow` are (a busy or restarting agent, a client that
/// fell behind). Every code is listed, so a new one must be decided here.
pub fn retryable_code(code: ErrorCode) -> bool {
    match code {
        ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::TooSlow => true,
        ErrorCode::Unauthorized
        | ErrorCode::Forbidden
        | ErrorCode::Revoked
        | ErrorCode::Expired
        | ErrorCode::TokenInvalid
        | ErrorCode::TokenUsed
        | ErrorCode::TokenExpired
        | ErrorCode::TokenCancelled
        | ErrorCode::NotFound
        | ErrorCode::BadRequest
        | ErrorCode::UnknownMethod
        | ErrorCode::TooLarge
        | ErrorCode::SessionEnded
        | ErrorCode::UnsupportedVersion
        | ErrorCode::Truncated => false,
    }
}

/// The verdict on an agent error code.
pub fn on_code(code: ErrorCode) -> Verdict {
    if retryable_code(code) {
        return Verdict::Retry;
    }
    Verdict::Stop(match code {
        ErrorCode::Revoked => Stop::Revoked,
        ErrorCode::Expired => Stop::Expired,
        ErrorCode::SessionEnded => Stop::SessionEnded,
        other => Stop::Refused(other),
    })
}

/// The verdict on a failed connect or attach: without an agent code
/// (network trouble, a handshake cut short, a closed connection, a
/// timeout, garbled data) it is retried, else as [`on_code`] says.
pub fn on_error(e: &ClientError) -> Verdict {
    match e.code() {
        None => Verdict::Retry,
        Some(code) => on_code(code),
    }
}

/// True when [`on_error`] says [`Verdict::Retry`].
pub fn retryable(e: &ClientError) -> bool {
    on_error(e) == Verdict::Retry
}

/// The verdict on `Event::End { reason }`: a client that fell behind
/// (`too_slow`) or an agent going down (`shutdown`) resumes; the rest is
/// final.
pub fn on_end(reason: EndReason) -> Verdict {
    match reason {
        EndReason::TooSlow | EndReason::Shutdown => Verdict::Retry,
        EndReason::Detached => Verdict::Stop(Stop::Detached),
        EndReason::SessionEnded => Verdict::Stop(Stop::SessionEnded),
        EndReason::Revoked => Verdict::Stop(Stop::Revoked),
        EndReason::Expired => Verdict::Stop(Stop::Expired),
    }
}

/// Why `item` ended its stream in a way worth resuming from: a lost
/// connection ([`StreamItem::Disconnected`]) or an end that [`on_end`]
/// retries. `None` for any other item, final ends included.
pub fn lost(item: &StreamItem) -> Option<&str> {
    match item {
        StreamItem::Disconnected(why) => Some(why),
        StreamItem::Event(Event::End { reason, message }) if on_end(*reason) == Verdict::Retry => {
            Some(message)
        }
        _ => None,
    }
}

/// A reconnect schedule: waits of `first`, doubling up to `max`, each
/// plus up to a quarter more jitter (never above `max`); after a failure
/// later than `give_up_after` from the start, no more tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait, before jitter.
    pub first: Duration,
    /// The longest wait, jitter included.
    pub max: Duration,
    /// Stop retrying once a try fails this long after the first wait
    /// began (`None`: never give up).
    pub give_up_after: Option<Duration>,
}

impl Backoff {
    /// The desktop CLI (`dd-client session attach`/`watch`): 250 ms up to
    /// 3 s, giving up after 10 minutes. A person watches the frozen
    /// terminal, so the cap is short; a script gets an error in the end.
    pub const DESKTOP: Backoff = Backoff {
        first: Duration::from_millis(250),
        max: Duration::from_secs(3),
        give_up_after: Some(Duration::from_secs(600)),
    };

    /// The phone (dd-mobile, dd-companion): 250 ms up to 10 s, never
    /// giving up (the grant's expiry and the user's detach end it). A
    /// longer cap spares the radio and spreads many phones out.
    pub const PHONE: Backoff = Backoff {
        first: Duration::from_millis(250),
        max: Duration::from_secs(10),
        give_up_after: None,
    };

    /// The wait before try `attempt` (1-based; 0 counts as 1), before
    /// jitter: `first`, doubled per try, at most `max`.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(16);
        self.first.saturating_mul(1 << shift).min(self.max)
    }

    /// [`Backoff::base_delay`] plus up to a quarter more, by `jitter` in
    /// `0.0..=1.0` (clamped), never above `max`.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let base = self.base_delay(attempt);
        let jitter = if jitter.is_nan() { 0.0 } else { jitter };
        let extra = base.mul_f64(jitter.clamp(0.0, 1.0) / 4.0);
        (base + extra).min(self.max)
    }
}

/// Tries `attempt` until it succeeds or fails for good, on `backoff`'s
/// schedule. Before try `n` (1, 2, ...) it calls `before(n, wait)` (to
/// report the wait, or to end the retry with an error of its own, e.g.
/// once a grant expired) and sleeps `wait` (jittered); if `stop` finishes
/// during a wait, its error ends the retry (a user's detach). A try is
/// never cut short by `stop`: it finishes and is judged (so a connection
/// it opened can be closed). A failure that is `retryable` (for a
/// [`ClientError`], [`retryable`]) is tried again, unless
/// `backoff.give_up_after` has passed since the call began: then, like any
/// final failure, it is returned.
pub async fn retry<T, E, F, Fut>(
    backoff: &Backoff,
    retryable: impl Fn(&E) -> bool,
    mut before: impl FnMut(u32, Duration) -> Result<(), E>,
    stop: impl Future<Output = E>,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = tokio::time::Instant::now();
    tokio::pin!(stop);
    let mut n = 0u32;
    loop {
        n = n.saturating_add(1);
        let wait = backoff.delay(n, rand::random::<f64>());
        before(n, wait)?;
        tokio::select! {
            biased;
            e = &mut stop => return Err(e),
            _ = tokio::time::sleep(wait) => {}
        }
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let late = backoff
                    .give_up_after
                    .is_some_and(|limit| start.elapsed() >= limit);
                if late || !retryable(&e) {
                    return Err(e);
                }
            }
        }
    }
}

/// The part of an output chunk at `offset` that is new when everything
/// before `next` was already delivered: `None` when it is all old (or
/// empty and not the first). A chunk past `next` (a gap: older output the
/// agent no longer keeps) is delivered whole.
pub fn fresh(next: Option<u64>, offset: u64, data: &[u8]) -> Option<(u64, &[u8])> {
    let Some(next) = next else {
        return Some((offset, data));
    };
    let end = offset.saturating_add(data.len() as u64);
    if end <= next {
        None
    } else if offset < next {
        let skip = (next - offset) as usize;
        Some((next, &data[skip..]))
    } else {
        Some((offset, data))
    }
}

/// Where a resumable stream stands: the transcript offset right after the
/// last byte delivered, kept across reconnects. Feed it every item
/// ([`Cursor::admit`]) and resume from [`Cursor::resume_or`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    next: Option<u64>,
}

impl Cursor {
    /// A cursor that has seen nothing yet.
    pub const fn new() -> Self {
        Cursor { next: None }
    }

    /// The offset right after the last byte delivered, once any output or
    /// snapshot went through.
    pub fn next(&self) -> Option<u64> {
        self.next
    }

    /// Where to resume: right after the last byte delivered, or
    /// `fallback` while nothing was.
    pub fn resume_or(&self, fallback: Resume) -> Resume {
        match self.next {
            Some(offset) => Resume::Offset { offset },
            None => fallback,
        }
    }

    /// Takes in one item: output is trimmed to what is new ([`fresh`];
    /// `None` when nothing is) and moves the cursor past it; a snapshot
    /// moves the cursor to its offset (the screen then stands there);
    /// anything else passes unchanged.
    pub fn admit(&mut self, item: StreamItem) -> Option<StreamItem> {
        match item {
            StreamItem::Output { offset, mut data } => {
                let (at, len) = {
                    let (at, new) = fresh(self.next, offset, &data)?;
                    (at, new.len())
                };
                data.drain(..data.len() - len);
                self.next = Some(at.saturating_add(len as u64));
                Some(StreamItem::Output { offset: at, data })
            }
            StreamItem::Snapshot { offset, .. } => {
                self.next = Some(offset);
                Some(item)
            }
            other => Some(other),
        }
    }
}

#[cfg(test)]
mod tests {
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
        let ms =
            |b: Backoff| -> Vec<u128> { (1..=8).map(|a| b.base_delay(a).as_millis()).collect() };
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
}
