//! The attach loop: deliver, and on a drop reconnect and resume (on the
//! resume core's schedule and classification, [`Backoff::PHONE`]).

use std::sync::Arc;
use std::time::Duration;

use dd_client_core::clock::now_secs;
use dd_client_core::resume::{self, Backoff};
use dd_client_core::{AttachStream, ClientError, StreamItem};
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

/// Why a reconnect attempt failed: the agent or the network, or a final
/// state found before trying (detached, grant expired).
enum Failed {
    Client(ClientError),
    Final(ConnectionState),
}

/// Reconnects with backoff until attached again or a final state.
async fn reconnect(r: &Run) -> Result<AttachStream, ConnectionState> {
    // A network path change (the app's lifecycle call) abandons a backoff
    // wait or an attempt stuck on the old path and starts over at once.
    let outcome = loop {
        let attempts = resume::retry(
            &Backoff::PHONE,
            |f: &Failed| matches!(f, Failed::Client(e) if resume::retryable(e)),
            |attempt, wait| {
                if r.inner.is_stopping() {
                    return Err(Failed::Final(ConnectionState::Detached));
                }
                if now_secs() >= r.expires_at {
                    return Err(Failed::Final(ConnectionState::Expired));
                }
                r.listener.on_state(ConnectionState::Reconnecting {
                    attempt,
                    retry_in_ms: wait.as_millis() as u64,
                });
                Ok(())
            },
            async {
                r.inner.stopped().await;
                Failed::Final(ConnectionState::Detached)
            },
            || async {
                // A live view resumes with the present, not what it missed.
                let resume = match r.fallback {
                    Resume::Live => Resume::Live,
                    fallback => r.inner.resume_or(fallback),
                };
                let stream = open(&r.dialer, &r.inner.session_id, resume).await;
                let stream = stream.map_err(|e| {
                    tracing::debug!(%e, "reconnect failed");
                    Failed::Client(e)
                })?;
                if r.inner.is_stopping() {
                    stream.connection().close().await;
                    return Err(Failed::Final(ConnectionState::Detached));
                }
                Ok(stream)
            },
        );
        tokio::select! {
            o = attempts => break o,
            _ = r.inner.woken() => tracing::debug!("path changed; reconnecting now"),
        }
    };
    match outcome {
        Ok(stream) => {
            went_live(&r.inner, r.listener.as_ref(), &stream);
            Ok(stream)
        }
        Err(Failed::Final(state)) => Err(state),
        Err(Failed::Client(e)) => match policy::on_error(&e) {
            Next::Stop(state) => Err(state),
            // Not reached: the phone's schedule never gives up.
            Next::Retry(why) => Err(ConnectionState::Failed { message: why }),
        },
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
        // `None`: nothing new in this chunk (already delivered).
        let Some(item) = r.inner.admit(item) else {
            continue;
        };
        match item {
            StreamItem::Output { offset, data } => r.listener.on_output(offset, data),
            StreamItem::Snapshot {
                offset,
                rows,
                cols,
                data,
            } => r.listener.on_snapshot(offset, rows, cols, data),
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
