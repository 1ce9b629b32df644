//! A client process under a pseudo-terminal the harness owns, driven the
//! way a terminal emulator drives it: bytes written to the PTY master are
//! keystrokes, bytes read from it are what the screen would show.

use std::io::{Read, Write};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// A process running under a harness-owned PTY (24 x 80).
pub struct Term {
    pty: pty_process::blocking::Pty,
    child: Child,
    buf: Vec<u8>,
    /// Total bytes read from the master since spawn.
    pub read_total: u64,
    /// Every byte read, when [`Term::keep`] turned it on.
    pub seen: Option<Vec<u8>>,
}

impl Term {
    /// Spawns `program args` on a fresh PTY with extra `env`.
    pub fn spawn(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Term> {
        let (pty, pts) = pty_process::blocking::open().context("open pty")?;
        pty.resize(pty_process::Size::new(24, 80))
            .context("size pty")?;
        let mut cmd = pty_process::blocking::Command::new(program)
            .args(args)
            .env("TERM", "xterm");
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let child = cmd
            .spawn(pts)
            .with_context(|| format!("spawn {program} under a pty"))?;
        Ok(Term {
            pty,
            child,
            buf: vec![0; 256 * 1024],
            read_total: 0,
            seen: None,
        })
    }

    /// Keeps every byte read from now on in [`Term::seen`].
    pub fn keep(mut self) -> Term {
        self.seen = Some(Vec::new());
        self
    }

    /// Types `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.pty.write_all(bytes).context("write to pty master")
    }

    /// One read, waiting at most `timeout`; `Ok(None)` on timeout, an error
    /// once the child side is gone.
    fn read_some(&mut self, timeout: Duration) -> Result<Option<usize>> {
        let ts = Timespec {
            tv_sec: timeout.as_secs() as _,
            tv_nsec: timeout.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(&self.pty, PollFlags::IN)];
        let n = poll(&mut fds, Some(&ts)).context("poll pty")?;
        if n == 0 {
            return Ok(None);
        }
        match self.pty.read(&mut self.buf) {
            Ok(0) => bail!("terminal closed (child exited)"),
            Ok(n) => {
                self.read_total += n as u64;
                if let Some(seen) = self.seen.as_mut() {
                    seen.extend_from_slice(&self.buf[..n]);
                }
                Ok(Some(n))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(Some(0)),
            Err(e) => Err(e).context("terminal closed (child exited)"),
        }
    }

    /// Reads until `needle` has appeared in the output, at most `timeout`.
    /// Returns the bytes read meanwhile.
    pub fn wait_for(&mut self, needle: &[u8], timeout: Duration) -> Result<u64> {
        let deadline = Instant::now() + timeout;
        let mut carry: Vec<u8> = Vec::with_capacity(2 * needle.len());
        let start = self.read_total;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "timed out waiting for {:?}",
                    String::from_utf8_lossy(needle)
                );
            }
            let Some(n) = self.read_some(left)? else {
                continue;
            };
            let chunk = &self.buf[..n];
            // Search the seam with the previous chunk, then the chunk.
            let head = &chunk[..chunk.len().min(needle.len())];
            carry.extend_from_slice(head);
            if find(&carry, needle) || find(chunk, needle) {
                return Ok(self.read_total - start);
            }
            carry.clear();
            let tail = chunk.len().saturating_sub(needle.len().saturating_sub(1));
            carry.extend_from_slice(&chunk[tail..]);
        }
    }

    /// Reads until nothing arrives for `quiet` (at most `max`).
    pub fn drain(&mut self, quiet: Duration, max: Duration) -> Result<()> {
        let deadline = Instant::now() + max;
        while Instant::now() < deadline {
            if self.read_some(quiet)?.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `needle` occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut i = 0;
    while let Some(p) = hay[i..].iter().position(|&b| b == first) {
        let at = i + p;
        if hay[at + 1..].starts_with(rest) {
            return true;
        }
        i = at + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_needles() {
        assert!(find(b"xx__DONE__\r\n", b"__DONE__"));
        assert!(!find(b"xx__DONE_", b"__DONE__"));
        assert!(find(b"abc", b""));
        assert!(!find(b"", b"a"));
    }

    #[test]
    fn cat_under_a_pty_echoes_and_prints() {
        let mut t = Term::spawn("/bin/cat", &[], &[]).expect("spawn cat");
        t.write(b"hello\r").expect("type");
        // The line discipline echoes, then cat prints the line back.
        let n = t
            .wait_for(b"hello\r\nhello", Duration::from_secs(10))
            .expect("echo and output");
        assert!(n >= 12);
        t.drain(Duration::from_millis(50), Duration::from_secs(1))
            .expect("drain");
    }

    #[test]
    fn wait_for_fails_when_the_child_exits() {
        let mut t = Term::spawn("/bin/true", &[], &[]).expect("spawn true");
        assert!(t.wait_for(b"never", Duration::from_secs(10)).is_err());
    }

    #[test]
    fn wait_for_times_out() {
        let mut t = Term::spawn("/bin/cat", &[], &[]).expect("spawn cat");
        let e = t
            .wait_for(b"never", Duration::from_millis(100))
            .expect_err("times out");
        assert!(e.to_string().contains("timed out"));
    }
}
