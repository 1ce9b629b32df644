//! The attach loop: deliver, and on a drop reconnect and resume.

use std::sync::Arc;
use std::time::Duration;

use dd_client_core::{AttachStream, StreamItem};
use dd_proto::methods::Resume;
use dd_proto::Event;

use super::policy::{self, Next};
use super::{Inner, SessionListener};
use crate::net::Dialer;
use crate::types::{ConnectionState, SessionMeta};

/// How long a detach waits for the agent's end-of-stream before closing.
const DETACH_GRACE: Duration = Duration::from_secs(3);

/// Everything the runner needs.
pub(crate) struct Run {
    pub(crate) inner: Arc<Inner>,
    pub(crate) dialer: Dialer,
    /// Grant expiry (Unix seconds): past it, reconnecting is pointless.
    pub(crate) expires_at: i64,
    /// Where to resume when nothing has been delivered yet.
    pub(crate) fallback: Resume,
    pub(crate) listener: Arc<dyn SessionListener>,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Opens a connection and attaches at `resume`.
pub(crate) async fn open(
    dialer: &Dialer,
    session: &str,
    resume: Resume,
) -> Result<AttachStream, dd_client_core::ClientError> {
    let conn = dialer.connect().await?;
    match conn.attach(session, resume).await {
        Ok(s) => Ok(s),
        Err(e) => {
            conn.close().await;
            Err(e)
        }
    }
}

/// Reports a fresh stream as live.
pub(crate) fn went_live(inner: &Inner, listener: &dyn SessionListener, stream: &AttachStream) {
    inner.set_live(Some(stream));
    listener.on_state(ConnectionState::Live);
    listener.on_meta(SessionMeta::from(&stream.attached.session));
    super::prompts::sync(inner, listener, stream.attached.session.waiting.as_deref());
}

/// Runs until a final state, which it reports last.
pub(crate) async fn run(r: Run, mut stream: AttachStream) {
    let final_state = loop {
        let next = pump(&r, &mut stream).await;
        r.inner.set_live(None);
        stream.connection().close().await;
        match next {
            Next::Stop(state) => break state,
            Next::Retry(why) => {
                tracing::debug!(session = %r.inner.session_id, %why, "stream lost; reconnecting");
                match reconnect(&r).await {
                    Ok(s) => stream = s,
                    Err(state) => break state,
                }
            }
        }
    };
    r.inner.set_live(None);
    super::prompts::clear_all(&r.inner, r.listener.as_ref());
    r.listener.on_state(final_state);
}

/// Reconnects with backoff until attached again or a final state.
async fn reconnect(r: &Run) -> Result<AttachStream, ConnectionState> {
    let mut attempt = 0u32;
    loop {
        if r.inner.is_stopping() {
            return Err(ConnectionState::Detached);
        }
        if now_secs() >= r.expires_at {
            return Err(ConnectionState::Expired);
        }
        attempt = attempt.saturating_add(1);
        let wait = policy::delay(attempt, rand::random::<f64>());
        r.listener.on_state(ConnectionState::Reconnecting {
            attempt,
            retry_in_ms: wait.as_millis() as u64,
        });
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = r.inner.stopped() => return Err(ConnectionState::Detached),
        }
        // A live view resumes with the present, not what it missed.
        let resume = match r.inner.next_offset() {
            Some(_) if r.fallback == Resume::Live => Resume::Live,
            Some(offset) => Resume::Offset { offset },
            None => r.fallback,
        };
        match open(&r.dialer, &r.inner.session_id, resume).await {
            Ok(stream) => {
                if r.inner.is_stopping() {
                    stream.connection().close().await;
                    return Err(ConnectionState::Detached);
                }
                went_live(&r.inner, r.listener.as_ref(), &stream);
                return Ok(stream);
            }
            Err(e) => match policy::on_error(&e) {
                Next::Stop(state) => return Err(state),
                Next::Retry(why) => {
                    tracing::debug!(attempt, %why, "reconnect failed");
                }
            },
        }
    }
}

/// Delivers one stream's items until it ends.
async fn pump(r: &Run, stream: &mut AttachStream) -> Next {
    let mut exit_code = None;
    let mut detach_sent = false;
    let grace = tokio::time::sleep(Duration::from_secs(0));
    tokio::pin!(grace);
    loop {
        let item = tokio::select! {
            biased;
            _ = r.inner.stopped(), if !detach_sent => {
                detach_sent = true;
                if stream.detach().await.is_err() {
                    return Next::Stop(ConnectionState::Detached);
                }
                grace.as_mut().reset(tokio::time::Instant::now() + DETACH_GRACE);
                continue;
            }
            _ = &mut grace, if detach_sent => return Next::Stop(ConnectionState::Detached),
            item = stream.next() => item,
        };
        let Some(item) = item else {
            return Next::Retry("stream over".into());
        };
        match item {
            StreamItem::Output { offset, data } => {
                if let Some((at, bytes)) = policy::fresh(r.inner.next_offset(), offset, &data) {
                    let end = at + bytes.len() as u64;
                    r.listener.on_output(at, bytes.to_vec());
                    r.inner.set_next_offset(end);
                }
            }
            StreamItem::Snapshot {
                offset,
                rows,
                cols,
                data,
            } => {
                r.listener.on_snapshot(offset, rows, cols, data);
                r.inner.set_next_offset(offset);
            }
            StreamItem::Event(Event::Meta { session }) => {
                exit_code = session.exit_code.or(exit_code);
                r.listener.on_meta(SessionMeta::from(&session));
            }
            StreamItem::Event(Event::Exited { exit_code: c, .. }) => exit_code = c,
            StreamItem::Event(Event::Error { error }) => {
                r.listener
                    .on_notice(error.code.as_str().to_owned(), error.message);
            }
            StreamItem::Event(Event::InputNeeded { prompt }) => {
                super::prompts::raised(&r.inner, r.listener.as_ref(), prompt);
            }
            StreamItem::Event(Event::InputCleared { seq }) => {
                super::prompts::cleared(&r.inner, r.listener.as_ref(), seq);
            }
            StreamItem::Event(Event::End { reason, message }) => {
                if detach_sent {
                    return Next::Stop(ConnectionState::Detached);
                }
                return policy::on_end(reason, &message, exit_code);
            }
            StreamItem::Disconnected(why) => {
                if detach_sent || r.inner.is_stopping() {
                    return Next::Stop(ConnectionState::Detached);
                }
                return Next::Retry(why);
            }
        }
    }
}
