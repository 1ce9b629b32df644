//! Shell completions and man pages, generated from a tool's clap
//! definition (the same one that parses its command line, so they cannot
//! drift from it).
//!
//! Every dd binary has `completions SHELL` (the script on stdout) and
//! `man [--dir DIR]` (the top page on stdout, or one page per command
//! written into DIR, e.g. `dd-client.1`, `dd-client-session-attach.1`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Command};
pub use clap_complete::Shell;

/// `completions SHELL` arguments.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `man` arguments.
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write one page per command (section 1) into this directory instead
    /// of printing the top page, e.g. ~/.local/share/man/man1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Writes the completion script of `cmd` for `shell` to `out`.
pub fn completions(mut cmd: Command, shell: Shell, out: &mut dyn Write) {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// Writes the man page of `cmd` alone (no subcommand pages) to `out`.
pub fn man_page(cmd: Command, out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(cmd).render(out)
}

/// Writes `NAME.1` and one `NAME-SUB[-SUB…].1` per subcommand into `dir`
/// (created if missing); returns the files written.
pub fn man_pages(cmd: Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd;
    cmd.build();
    let mut written = Vec::new();
    write_tree(&cmd, cmd.get_name(), dir, &mut written)?;
    Ok(written)
}

fn write_tree(
    cmd: &Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    if cmd.is_hide_set() {
        return Ok(());
    }
    let page = cmd.clone().name(name.to_owned());
    let path = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(page).render(&mut buf)?;
    std::fs::write(&path, buf)?;
    written.push(path);
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        write_tree(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

/// Writes `bytes` to stdout; a closed pipe (`| head`) is not an error.
fn to_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// Runs `completions`: the script on stdout. (Generated into memory
/// first: clap_complete panics when its writer fails.)
pub fn run_completions(cmd: Command, a: &CompletionsArgs) {
    let mut buf = Vec::new();
    completions(cmd, a.shell, &mut buf);
    let _ = to_stdout(&buf);
}

/// Runs `man`: the top page on stdout, or every page into `--dir` (their
/// paths on stderr).
pub fn run_man(cmd: Command, a: &ManArgs) -> std::io::Result<()> {
    match &a.dir {
        None => {
            let mut buf = Vec::new();
            man_page(cmd, &mut buf)?;
            to_stdout(&buf)
        }
        Some(dir) => {
            let pages = man_pages(cmd, dir)?;
            eprintln!("wrote {} man pages into {}", pages.len(), dir.display());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser, Subcommand};

    /// A tool.
    #[derive(Parser)]
    #[command(name = "tool")]
    struct Cli {
        #[command(subcommand)]
        cmd: Sub,
    }

    #[derive(Subcommand)]
    enum Sub {
        /// Does a thing.
        Thing {
            /// Loudly.
            #[arg(long)]
            loud: bool,
        },
        /// Nested commands.
        #[command(subcommand)]
        Group(Inner),
        /// Hidden.
        #[command(hide = true)]
        Secret,
    }

    #[derive(Subcommand)]
    enum Inner {
        /// Inside.
        Inside,
    }

    #[test]
    fn every_shell_gets_a_script_naming_the_flags() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let mut out = Vec::new();
            completions(Cli::command(), shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("loud"), "{shell}: {text}");
            assert!(text.contains("inside"), "{shell}: {text}");
            assert!(text.contains("tool"), "{shell}");
        }
    }

    #[test]
    fn man_pages_cover_every_visible_command() {
        let dir = tempfile_dir();
        let pages = man_pages(Cli::command(), &dir).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "tool.1",
                "tool-thing.1",
                "tool-group.1",
                "tool-group-inside.1"
            ]
        );
        let top = std::fs::read_to_string(dir.join("tool.1")).unwrap();
        assert!(top.contains(".TH tool"), "{top}");
        let thing = std::fs::read_to_string(dir.join("tool-thing.1")).unwrap();
        assert!(thing.contains("loud"), "{thing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("dd-cli-gen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }
}
