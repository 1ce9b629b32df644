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
mod tests;
