//! Every live connection and attach stream, so that revocation, expiry and
//! session close can reach them at once.

use std::collections::HashMap;
use std::sync::Mutex;

use dd_proto::message::EndReason;
use tokio::sync::{mpsc, watch};

struct ConnEntry {
    key: [u8; 32],
    /// Turns true when the connection's access was revoked.
    revoked: watch::Sender<bool>,
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
        g.conns.insert(id, ConnEntry { key, revoked: tx });
        (id, rx)
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
