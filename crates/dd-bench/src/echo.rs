//! Measures 1 and 2: keystroke echo latency and output throughput, for
//! every client driven as a process under a harness PTY.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::stats::Stat;
use crate::PROMPT;
use dd_testkit::term::Term;

/// Keystrokes per line before Enter (a line holds at most 4095 bytes).
const PER_LINE: usize = 200;
const LIVENESS: Duration = Duration::from_secs(30);

/// One client's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ClientFigures {
    /// Which client (`local-pty`, `ssh`, `dd-client`, `dd-companion`).
    pub client: String,
    /// Echo latency, microseconds.
    pub echo: Stat,
    /// Throughput of each run, MB/s (1 MB = 10^6 bytes).
    pub throughput: Stat,
    /// Bytes the terminal received per throughput run.
    pub throughput_bytes: u64,
    /// A live view (`dd-companion attach`, `Resume::Live`): more than 8 KiB
    /// behind, it is sent a fresh screen instead of the bytes, so it
    /// receives far fewer bytes than the session printed; its throughput
    /// is then the session's output (what the local PTY received for the
    /// same `cat`) over the time until its screen shows the end marker.
    pub live: bool,
}

/// Waits for the shell prompt of a fresh client and lets the screen settle.
pub fn ready(t: &mut Term) -> Result<()> {
    // Enter makes the prompt appear even if the attach snapshot raced it.
    t.write(b"\r")?;
    t.wait_for(PROMPT.as_bytes(), LIVENESS)
        .context("no shell prompt")?;
    t.drain(Duration::from_millis(300), Duration::from_secs(5))
}

/// `n` echo samples: type one byte, time until it is on the screen.
pub fn echo_samples(t: &mut Term, n: usize) -> Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // A comment line: the shell runs nothing when Enter comes.
        t.write(b"#")?;
        t.wait_for(b"#", LIVENESS)?;
        for _ in 0..PER_LINE.min(n - out.len()) {
            let t0 = Instant::now();
            t.write(b"x")?;
            t.wait_for(b"x", LIVENESS)?;
            out.push(t0.elapsed());
        }
        t.write(b"\r")?;
        t.wait_for(PROMPT.as_bytes(), LIVENESS)?;
        t.drain(Duration::from_millis(20), Duration::from_secs(2))?;
    }
    Ok(out)
}

/// Runs `cat file` in the client's shell `runs` times; MB/s of each run
/// and the bytes the terminal received in the last one. The rate is of
/// the bytes received, or of `session_bytes` when given (a live view,
/// see [`ClientFigures::live`]).
pub fn throughput(
    t: &mut Term,
    file: &str,
    runs: usize,
    session_bytes: Option<u64>,
) -> Result<(Vec<f64>, u64)> {
    let mut rates = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        // The quotes keep the typed command line from matching the marker.
        // The marker starts a row of its own: a live view's snapshot puts
        // each row with a cursor move, so a marker wrapped across two rows
        // (the file's last line has no newline) would never be contiguous.
        let cmd = format!("cat {file}; echo; echo __DO''NE__\r");
        t.write(cmd.as_bytes())?;
        let t0 = Instant::now();
        bytes = t.wait_for(b"__DONE__", Duration::from_secs(600))?;
        let secs = t0.elapsed().as_secs_f64();
        rates.push(session_bytes.unwrap_or(bytes) as f64 / secs / 1e6);
        t.drain(Duration::from_millis(100), Duration::from_secs(5))?;
    }
    Ok((rates, bytes))
}

/// Runs both measures on one client terminal; `live_of` is given for a
/// live view: the bytes the session prints for the `cat` (see
/// [`ClientFigures::live`]).
pub fn measure(
    name: &str,
    mut t: Term,
    samples: usize,
    file: &str,
    runs: usize,
    live_of: Option<u64>,
) -> Result<ClientFigures> {
    eprintln!("  {name}: echo ({samples} samples)");
    ready(&mut t).with_context(|| format!("{name}: ready"))?;
    let echo = echo_samples(&mut t, samples).with_context(|| format!("{name}: echo"))?;
    eprintln!("  {name}: throughput ({runs} runs)");
    let (rates, bytes) =
        throughput(&mut t, file, runs, live_of).with_context(|| format!("{name}: cat"))?;
    Ok(ClientFigures {
        client: name.to_owned(),
        echo: Stat::micros(&echo),
        throughput: Stat::of(rates, "MB/s"),
        throughput_bytes: bytes,
        live: live_of.is_some(),
    })
}

/// Writes a `size`-byte file of 100-byte text lines to `path`.
pub fn write_text_file(path: &std::path::Path, size: u64) -> Result<()> {
    use std::io::Write;
    let mut line = [b'x'; 100];
    line[99] = b'\n';
    let block: Vec<u8> = line.iter().copied().cycle().take(1 << 20).collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_shell_echo_and_cat() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("f");
        write_text_file(&file, 10_000).expect("file");
        assert_eq!(std::fs::metadata(&file).expect("meta").len(), 10_000);
        let t = Term::spawn("/bin/sh", &[], &[("PS1", PROMPT)]).expect("sh");
        let f = measure("local", t, 5, file.to_str().expect("utf8"), 1, None).expect("measure");
        assert_eq!(f.echo.n, 5);
        assert_eq!(f.throughput.n, 1);
        // 100 lines of 100 bytes, each \n turned into \r\n by the PTY.
        assert!(f.throughput_bytes >= 10_100, "{}", f.throughput_bytes);
    }
}
