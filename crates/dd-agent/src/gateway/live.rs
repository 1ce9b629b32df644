//! Every live connection and attach stream, so that revocation, expiry and
//! session close can reach them at once.

use std::collections::HashMap;
use std::sync::Mutex;

use dd_proto::message::EndReason;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};

use super::alive::Heard;

struct ConnEntry {
    key: [u8; 32],
    /// Turns true when the connection's access was revoked.
    revoked: watch::Sender<bool>,
    /// When it last heard from its peer, and how to tell it to go (set by
    /// [`Live::track`]).
    liveness: Option<(Heard, Arc<Notify>)>,
}

struct StreamEntry {
    conn: u64,
    session: String,
    grant: Option<String>,
    stop: mpsc::Sender<EndReason>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    conns: HashMap<u64, ConnEntry>,
    streams: HashMap<(u64, u64), StreamEntry>,
}

/// The registry. Cheap operations under one short lock.
#[derive(Default)]
pub struct Live {
    inner: Mutex<Inner>,
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        crate::util::lock(&self.inner)
    }

    /// Registers a connection; returns its id and a flag that turns true
    /// when its access is revoked.
    pub(crate) fn add_conn(&self, key: [u8; 32]) -> (u64, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        let mut g = self.lock();
        g.next_id += 1;
        let id = g.next_id;
        g.conns.insert(
            id,
            ConnEntry {
                key,
                revoked: tx,
                liveness: None,
            },
        );
        (id, rx)
    }

    /// Records when `conn` hears from its peer and how to make it close
    /// as superseded (see [`Live::drop_stale`]).
    pub(crate) fn track(&self, conn: u64, heard: Heard, supersede: Arc<Notify>) {
        if let Some(c) = self.lock().conns.get_mut(&conn) {
            c.liveness = Some((heard, supersede));
        }
    }

    /// Closes every other connection of `key` that holds a stream on
    /// `session` and has heard nothing for `stale_after`: the same device
    /// came back on a new connection, the old one is dead. Returns how many.
    pub(crate) fn drop_stale(
        &self,
        key: &[u8; 32],
        session: &str,
        except: u64,
        stale_after: Duration,
    ) -> usize {
        let g = self.lock();
        let mut dropped = 0;
        for (id, c) in &g.conns {
            if *id == except || c.key != *key {
                continue;
            }
            let Some((heard, supersede)) = &c.liveness else {
                continue;
            };
            let on_session = g
                .streams
                .values()
                .any(|s| s.conn == *id && s.session == session);
            if on_session && heard.silent_for() >= stale_after {
                supersede.notify_one();
                dropped += 1;
            }
        }
        dropped
    }

    /// Forgets a connection and its streams.
    pub(crate) fn remove_conn(&self, conn: u64) {
        let mut g = self.lock();
        g.conns.remove(&conn);
        g.streams.retain(|(c, _), _| *c != conn);
    }

    /// Registers an attach stream of a connection.
    pub(crate) fn add_stream(
        &self,
        conn: u64,
        stream: u64,
        session: &str,
        grant: Option<String>,
        stop: mpsc::Sender<EndReason>,
    ) {
        self.lock().streams.insert(
            (conn, stream),
            StreamEntry {
                conn,
                session: session.to_owned(),
                grant,
                stop,
            },
        );
    }

    /// Forgets one stream.
    pub(crate) fn remove_stream(&self, conn: u64, stream: u64) {
        self.lock().streams.remove(&(conn, stream));
    }

    /// Asks one stream of a connection to end. False if there is none.
    pub(crate) fn stop_stream(&self, conn: u64, stream: u64, reason: EndReason) -> bool {
        let g = self.lock();
        match g.streams.get(&(conn, stream)) {
            Some(s) => {
                let _ = s.stop.try_send(reason);
                true
            }
            None => false,
        }
    }

    /// The session a connection's stream is attached to.
    pub(crate) fn stream_session(&self, conn: u64, stream: u64) -> Option<String> {
        self.lock()
            .streams
            .get(&(conn, stream))
            .map(|s| s.session.clone())
    }

    /// Live streams using a grant.
    pub(crate) fn grant_streams(&self, grant: &str) -> u32 {
        self.lock()
            .streams
            .values()
            .filter(|s| s.grant.as_deref() == Some(grant))
            .count() as u32
    }

    /// Ends every stream using one of `grants` with `reason` and kills the
    /// connections of `key` (the key the grants were issued to), if given.
    pub(crate) fn cut(&self, grants: &[String], key: Option<[u8; 32]>, reason: EndReason) {
        let g = self.lock();
        let mut conns = Vec::new();
        for s in g.streams.values() {
            if s.grant.as_ref().is_some_and(|id| grants.contains(id)) {
                let _ = s.stop.try_send(reason);
                conns.push(s.conn);
            }
        }
        for (id, c) in &g.conns {
            if key.is_some_and(|k| k == c.key) || conns.contains(id) {
                c.revoked.send_replace(true);
            }
        }
    }
}
