//! The app's lifecycle, as the core sees it. iOS suspends a backgrounded
//! app and may move it to another network at any moment; the app tells the
//! core (`Companion::app_did_become_active`, `app_did_enter_background`,
//! `network_path_changed`) and holds no reconnect logic of its own.
//!
//! On foreground or a path change every attached handle checks its link at
//! once: a live one is probed (a ping answered within [`PROBE_TIMEOUT`], or
//! the connection is declared dead and the attach resumes from its offset on
//! a new one); one waiting to reconnect retries now, with its backoff
//! restarted. The state the app shows is then true within seconds, instead
//! of after the keepalive timeout or the next backoff step.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use dd_client_core::sync::lock;

use crate::attach::Inner;

/// How long a probe waits for the agent to answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The attached handles of one `Companion`, and the runtime they run on.
#[derive(Default)]
pub(crate) struct Lifecycle {
    handles: Mutex<Vec<Weak<Inner>>>,
    runtime: Mutex<Option<tokio::runtime::Handle>>,
    background: AtomicBool,
}

impl Lifecycle {
    /// Tracks an attach (called from `attach`, on the core's runtime).
    pub(crate) fn register(&self, inner: &Arc<Inner>) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            *lock(&self.runtime) = Some(rt);
        }
        let mut handles = lock(&self.handles);
        handles.retain(|w| w.strong_count() > 0);
        handles.push(Arc::downgrade(inner));
    }

    /// True while the app is in the background.
    pub(crate) fn in_background(&self) -> bool {
        self.background.load(Ordering::Acquire)
    }

    pub(crate) fn entered_background(&self) {
        self.background.store(true, Ordering::Release);
        tracing::debug!("app in background");
    }

    /// Probes every live attach and wakes every reconnecting one.
    pub(crate) fn check_all(&self, why: &'static str) {
        self.background.store(false, Ordering::Release);
        let handles: Vec<Arc<Inner>> = lock(&self.handles)
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|i| !i.is_stopping())
            .collect();
        let Some(rt) = lock(&self.runtime).clone() else {
            return;
        };
        tracing::debug!(why, handles = handles.len(), "checking every attach");
        for inner in handles {
            match inner.live_connection() {
                Some(conn) => {
                    rt.spawn(async move {
                        if let Err(e) = conn.probe(PROBE_TIMEOUT).await {
                            tracing::info!(session = %inner.session_id, %e, why, "probe failed; resuming on a new connection");
                        }
                    });
                }
                None => inner.wake_now(),
            }
        }
    }
}
