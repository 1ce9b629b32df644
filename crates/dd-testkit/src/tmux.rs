//! A private tmux server for tests that use tmux as the reference
//! terminal, and tmux's picture of a pane read back as our cells.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A tmux server on its own socket (`-L sock`), killed on drop.
pub struct Tmux {
    sock: String,
    /// The config file (`-f`); `/dev/null` for none.
    conf: PathBuf,
    env: Vec<(String, String)>,
}

impl Tmux {
    /// A server named `sock` with config `conf` (None: no config) whose
    /// commands run with `env` added.
    pub fn new(sock: String, conf: Option<PathBuf>, env: Vec<(String, String)>) -> Tmux {
        Tmux {
            sock,
            conf: conf.unwrap_or_else(|| PathBuf::from("/dev/null")),
            env,
        }
    }

    /// True when a `tmux` binary runs here.
    pub fn installed() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Runs one tmux command against this server.
    pub fn cmd(&self, args: &[&str]) -> Output {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.sock, "-f"]).arg(&self.conf).args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.env_remove("TMUX");
        c.output().expect("tmux runs")
    }

    /// Runs one tmux command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// `capture-pane -p -e` output as cells on a `rows` x `cols` screen. tmux
/// marks line-drawing cells with SO ... SI, so G1 is the DEC set here.
/// (The capture leaves out the blanks that end a row, whatever their
/// colour: compare with that in mind.)
pub fn captured(capture: &str, rows: u16, cols: u16) -> dd_term::Term {
    let mut screen = dd_term::Term::new(rows, cols);
    let bytes = format!(
        "\x1b)0{}",
        capture.trim_end_matches('\n').replace('\n', "\r\n")
    );
    screen.process(
        &mut vte::Parser::new(),
        bytes.as_bytes(),
        &mut dd_term::NoEvents,
    );
    screen
}
