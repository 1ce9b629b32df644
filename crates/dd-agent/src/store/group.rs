//! Group commit: concurrent write transactions share one `COMMIT` (one
//! fsync under `synchronous=FULL`).
//!
//! Every write runs on a dedicated writer connection, inside the batch
//! transaction that is open (`BEGIN IMMEDIATE`, opened by the first writer
//! of a batch), in its own savepoint, so one writer's error rolls back only
//! its own changes. It then waits until its batch is committed: the first
//! waiter to find no commit under way becomes the committer, lets the
//! writers already queued for the connection add their work, and commits the
//! whole batch; writers that arrive meanwhile form the next batch. No writer
//! returns before the commit of its batch returned, so an acknowledged write
//! is as durable as before, and a failed commit fails every writer of that
//! batch. Readers use the other connection and never wait for an fsync (WAL).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::StoreError;

/// How long a committer waits for writers already queued to join its batch.
const JOIN_WAIT: Duration = Duration::from_millis(2);

/// How many failed batch ids are remembered for late waiters.
const FAILED_KEPT: usize = 64;

struct Conn {
    conn: Connection,
    /// The id of the batch whose transaction is open, if any.
    open: Option<u64>,
    /// The id of the last batch opened.
    last: u64,
}

#[derive(Default)]
struct Progress {
    /// Every batch up to this id is finished (committed or failed).
    done: u64,
    /// A committer is at work.
    committing: bool,
    /// Recently failed batches and why.
    failed: VecDeque<(u64, String)>,
}

/// The writer connection and its batch bookkeeping.
pub(super) struct GroupWriter {
    conn: Mutex<Conn>,
    progress: Mutex<Progress>,
    finished: Condvar,
    /// Writers waiting for the connection.
    queued: AtomicUsize,
}

use crate::util::lock;

impl GroupWriter {
    /// Wraps a configured connection to the store's database.
    pub(super) fn new(conn: Connection) -> GroupWriter {
        GroupWriter {
            conn: Mutex::new(Conn {
                conn,
                open: None,
                last: 0,
            }),
            progress: Mutex::new(Progress::default()),
            finished: Condvar::new(),
            queued: AtomicUsize::new(0),
        }
    }

    /// Runs `f` in the open batch (in its own savepoint) and returns its
    /// result once the batch is committed.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.queued.fetch_add(1, Ordering::AcqRel);
        let mut c = lock(&self.conn);
        self.queued.fetch_sub(1, Ordering::AcqRel);
        let id = match c.open {
            Some(id) => id,
            None => {
                c.conn.execute_batch("BEGIN IMMEDIATE")?;
                c.last += 1;
                c.open = Some(c.last);
                c.last
            }
        };
        let out = match c.conn.execute_batch("SAVEPOINT w") {
            Ok(()) => {
                let out = f(&c.conn);
                let end = if out.is_ok() {
                    "RELEASE w"
                } else {
                    "ROLLBACK TO w; RELEASE w"
                };
                c.conn.execute_batch(end).map(|()| out)
            }
            Err(e) => Err(e),
        };
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                // The transaction is in an unknown state: abandon the
                // whole batch (its other writers learn it failed).
                let _ = c.conn.execute_batch("ROLLBACK");
                c.open = None;
                drop(c);
                self.finish(id, Some(e.to_string()));
                return Err(e.into());
            }
        };
        drop(c);
        self.wait(id)?;
        out
    }

    /// Records batch `id` as finished (failed with `error` if given) and
    /// wakes its waiters.
    fn finish(&self, id: u64, error: Option<String>) {
        let mut p = lock(&self.progress);
        p.done = p.done.max(id);
        if let Some(e) = error {
            p.failed.push_back((id, e));
            if p.failed.len() > FAILED_KEPT {
                p.failed.pop_front();
            }
        }
        drop(p);
        self.finished.notify_all();
    }

    /// Waits for batch `id` to be finished, committing it if nobody else is.
    fn wait(&self, id: u64) -> Result<(), StoreError> {
        let mut p = lock(&self.progress);
        loop {
            if p.done >= id {
                return match p.failed.iter().find(|(f, _)| *f == id) {
                    Some((_, e)) => Err(StoreError::Commit(e.clone())),
                    None => Ok(()),
                };
            }
            if p.committing {
                p = self.finished.wait(p).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            p.committing = true;
            drop(p);
            self.commit();
            p = lock(&self.progress);
            p.committing = false;
            self.finished.notify_all();
        }
    }

    /// Commits the open batch, after letting queued writers join it.
    fn commit(&self) {
        let t0 = Instant::now();
        while self.queued.load(Ordering::Acquire) > 0 && t0.elapsed() < JOIN_WAIT {
            std::thread::yield_now();
        }
        let mut c = lock(&self.conn);
        let Some(id) = c.open.take() else {
            return;
        };
        let error = match c.conn.execute_batch("COMMIT") {
            Ok(()) => None,
            Err(e) => {
                let _ = c.conn.execute_batch("ROLLBACK");
                Some(e.to_string())
            }
        };
        drop(c);
        self.finish(id, error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn open(path: &std::path::Path) -> Connection {
        let c = Connection::open(path).unwrap();
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
            .unwrap();
        c.pragma_update(None, "synchronous", "FULL").unwrap();
        c
    }

    #[test]
    fn concurrent_writes_are_all_committed_and_failures_stay_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        open(&path)
            .execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .unwrap();
        let w = Arc::new(GroupWriter::new(open(&path)));
        let threads: Vec<_> = (0..32)
            .map(|n| {
                let w = Arc::clone(&w);
                std::thread::spawn(move || {
                    w.write(|c| {
                        c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                        if n % 4 == 0 {
                            // Its insert must be rolled back, nobody else's.
                            return Err(StoreError::BadRequest("odd one out".into()));
                        }
                        Ok(n)
                    })
                })
            })
            .collect();
        for (n, t) in threads.into_iter().enumerate() {
            let r = t.join().unwrap();
            if n % 4 == 0 {
                assert!(matches!(r, Err(StoreError::BadRequest(_))));
            } else {
                assert_eq!(r.unwrap(), n as i64);
            }
        }
        // Returned means committed: another connection sees exactly the
        // successful writes.
        let other = open(&path);
        let count: i64 = other
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 24);
        let bad: i64 = other
            .query_row("SELECT COUNT(*) FROM t WHERE n % 4 = 0", [], |r| r.get(0))
            .unwrap();
        assert_eq!(bad, 0);
    }

    #[test]
    fn a_write_that_breaks_the_transaction_fails_its_batch_and_the_next_works() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        open(&path)
            .execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .unwrap();
        let w = GroupWriter::new(open(&path));
        // Ending the transaction under the writer's feet breaks RELEASE.
        let r = w.write(|c| {
            c.execute_batch("COMMIT")?;
            Ok(())
        });
        assert!(r.is_err());
        assert_eq!(
            w.write(|c| Ok(c.execute("INSERT INTO t VALUES (1)", [])?))
                .unwrap(),
            1
        );
        let n: i64 = open(&path)
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
