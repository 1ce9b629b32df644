//! The local terminal: raw mode that is always undone, its size, and
//! stdin as an async source of bytes.

use std::io::{IsTerminal, Read};
use std::sync::Once;

use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

/// Raw mode for as long as this lives. Undone on drop, and by a panic hook
/// should anything panic while it is on.
pub struct RawGuard(());

impl RawGuard {
    /// Puts the terminal in raw mode (whatever stdin is; callers that need
    /// a terminal check [`stdin_is_terminal`] first).
    pub fn enable() -> std::io::Result<RawGuard> {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let prev = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let _ = crossterm::terminal::disable_raw_mode();
                prev(info);
            }));
        });
        crossterm::terminal::enable_raw_mode()?;
        Ok(RawGuard(()))
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// True when stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// The terminal's (rows, cols), if stdout or stdin is a terminal.
pub fn size() -> Option<(u16, u16)> {
    if !std::io::stdout().is_terminal() && !std::io::stdin().is_terminal() {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .filter(|&(c, r)| c > 0 && r > 0)
        .map(|(c, r)| (r, c))
}

/// Standard input as an async source of byte chunks (up to 4 KiB each).
///
/// Where it can, this reads stdin on the caller's runtime thread: stdin is
/// reopened through `/proc/self/fd/0` (a new open file description of the
/// same terminal or pipe, so making it non-blocking leaves stdout and the
/// shell's own descriptor alone) and polled with the runtime's reactor. A
/// key typed then goes from `read(2)` to the socket without waking another
/// thread, which is most of what a keystroke costs on a small machine.
/// Where that is not possible (no `/proc`, stdin a regular file or a
/// socket) a thread reads stdin and hands chunks over a channel.
pub struct Stdin(StdinInner);

enum StdinInner {
    Polled(AsyncFd<std::fs::File>),
    Thread(mpsc::Receiver<Vec<u8>>),
    Ended,
}

impl Stdin {
    /// Opens stdin. Must be called within a tokio runtime.
    pub fn open() -> Stdin {
        match reopen_nonblocking() {
            Some(fd) => Stdin(StdinInner::Polled(fd)),
            None => {
                let (tx, rx) = mpsc::channel(64);
                std::thread::spawn(move || {
                    pump(std::io::stdin().lock(), |c| tx.blocking_send(c).is_ok())
                });
                Stdin(StdinInner::Thread(rx))
            }
        }
    }

    /// The next chunk of input; `None` once stdin ended or failed (and on
    /// every call after that). Cancel-safe: a chunk is only read when it is
    /// returned.
    pub async fn read(&mut self) -> Option<Vec<u8>> {
        let chunk = match &mut self.0 {
            StdinInner::Polled(fd) => read_polled(fd).await,
            StdinInner::Thread(rx) => rx.recv().await,
            StdinInner::Ended => return std::future::pending().await,
        };
        if chunk.is_none() {
            self.0 = StdinInner::Ended;
        }
        chunk
    }
}

async fn read_polled(fd: &AsyncFd<std::fs::File>) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4096];
    loop {
        let mut ready = fd.readable().await.ok()?;
        match ready.try_io(|f| (&mut f.get_ref()).read(&mut buf)) {
            Ok(Ok(0)) => return None,
            Ok(Ok(n)) => return Some(buf[..n].to_vec()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(Err(_)) => return None,
            // Spurious readiness: wait again.
            Err(_) => continue,
        }
    }
}

/// A non-blocking descriptor of its own for stdin, registered with the
/// runtime's reactor, where the platform allows it.
#[allow(unsafe_code)] // the one `unsafe` block of this crate; see SAFETY below
fn reopen_nonblocking() -> Option<AsyncFd<std::fs::File>> {
    use rustix::fs::{Mode, OFlags};
    if !cfg!(target_os = "linux") {
        return None;
    }
    let fd = rustix::fs::open(
        "/proc/self/fd/0",
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .ok()?;
    // Regular files cannot be polled (epoll refuses them): use the thread.
    // SAFETY: the `File` owns the descriptor `open` just returned; it is
    // open, nothing else holds it, and it is closed only when the `File`
    // is dropped, which `AsyncFd` does after deregistering it. `File`'s
    // `as_raw_fd` always returns that same descriptor.
    unsafe {
        AsyncFd::register_with_interest(std::fs::File::from(fd), tokio::io::Interest::READABLE)
    }
    .ok()
}

fn pump(mut input: impl Read, mut sink: impl FnMut(Vec<u8>) -> bool) {
    let mut buf = [0u8; 4096];
    loop {
        match input.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !sink(buf[..n].to_vec()) {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stdin_reads_a_pipe_on_the_runtime_thread_until_it_ends() {
        // A child process's stdin is a pipe: it is polled, not threaded.
        let exe = std::env::current_exe().unwrap();
        let mut child = std::process::Command::new(exe)
            .args([
                "--exact",
                "term::tests::stdin_child",
                "--nocapture",
                "--ignored",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut w = child.stdin.take().unwrap();
            w.write_all(&[5u8; 10_000]).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("stdin: polled 10000 bytes"), "{text}");
    }

    /// Run by the test above in a child whose stdin is a pipe.
    #[tokio::test]
    #[ignore = "run by stdin_reads_a_pipe_on_the_runtime_thread_until_it_ends"]
    async fn stdin_child() {
        let mut stdin = Stdin::open();
        let polled = matches!(stdin.0, StdinInner::Polled(_));
        let mut n = 0;
        while let Some(c) = stdin.read().await {
            assert!(c.len() <= 4096 && !c.is_empty());
            n += c.len();
        }
        // Ended stays ended (pending, not a busy loop of Nones).
        let again = tokio::time::timeout(std::time::Duration::from_millis(50), stdin.read()).await;
        assert!(again.is_err());
        println!(
            "stdin: {} {n} bytes",
            if polled { "polled" } else { "threaded" }
        );
    }

    #[test]
    fn pump_until_eof() {
        let data = vec![7u8; 10_000];
        let mut got = Vec::new();
        pump(&data[..], |c| {
            assert!(c.len() <= 4096 && !c.is_empty());
            got.extend(c);
            true
        });
        assert_eq!(got, data);
    }

    #[test]
    fn pump_stops_when_sink_refuses() {
        let data = vec![1u8; 10_000];
        let mut calls = 0;
        pump(&data[..], |_| {
            calls += 1;
            false
        });
        assert_eq!(calls, 1);
    }

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("broken"))
        }
    }

    #[test]
    fn pump_stops_on_error() {
        pump(Failing, |_| panic!("nothing was read"));
    }
}
