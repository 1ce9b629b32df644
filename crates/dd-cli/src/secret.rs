//! One-time links (they carry a secret token) read without putting the
//! token on the command line.
//!
//! Every local user can read another process's arguments
//! (`/proc/PID/cmdline`), so a link given as an argument can be read and
//! redeemed first by anything that scans `/proc`. [`read_link`] takes the
//! link, in this order of preference, from a file (`--link-file`, `-` for
//! stdin), from `-` as the argument (stdin), from an environment variable
//! (readable only by the same user), or — still accepted, with a warning —
//! from the argument itself.

use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

use crate::CliError;

/// The longest link accepted from a file or stdin.
const MAX_LINK_BYTES: u64 = 8 * 1024;

/// Where [`read_link`] found the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSource {
    /// The command-line argument (visible to every local user).
    Argv,
    /// Standard input.
    Stdin,
    /// A file.
    File,
    /// The environment variable.
    Env,
}

/// The warning printed when a link came on the command line.
pub fn argv_warning(env_var: &str) -> String {
    format!(
        "warning: a link on the command line can be read by every user of this machine \
         (/proc/PID/cmdline) while the command runs; pass it on stdin (`-`), \
         with --link-file FILE or in ${env_var} instead"
    )
}

/// Reads the link from `file` (`-`: stdin), the argument `arg` (`-`:
/// stdin), or `env_var`, in that order; an argument other than `-` is used
/// as the link itself and a warning is printed on stderr. The text is
/// trimmed; an empty one is a usage error.
pub fn read_link(
    arg: Option<&str>,
    file: Option<&Path>,
    env_var: &str,
) -> Result<(Zeroizing<String>, LinkSource), CliError> {
    let (text, source) = match (file, arg) {
        (Some(_), Some(a)) if a != "-" => {
            return Err(CliError::usage(
                "give the link either as an argument or with --link-file, not both",
            ))
        }
        (Some(p), _) if p == Path::new("-") => (read_stdin()?, LinkSource::Stdin),
        (Some(p), _) => {
            let f = std::fs::File::open(p)
                .map_err(|e| CliError::usage(format!("--link-file {}: {e}", p.display())))?;
            (read_bounded(f, &p.display().to_string())?, LinkSource::File)
        }
        (None, Some("-")) => (read_stdin()?, LinkSource::Stdin),
        (None, Some(a)) => {
            eprintln!("{}", argv_warning(env_var));
            (Zeroizing::new(a.to_owned()), LinkSource::Argv)
        }
        (None, None) => match std::env::var(env_var) {
            Ok(v) => (Zeroizing::new(v), LinkSource::Env),
            Err(_) => {
                return Err(CliError::usage(format!(
                    "no link: pass it on stdin (`-`), with --link-file FILE, in ${env_var}, \
                     or as an argument"
                )))
            }
        },
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CliError::usage("the link is empty"));
    }
    Ok((Zeroizing::new(trimmed.to_owned()), source))
}

fn read_stdin() -> Result<Zeroizing<String>, CliError> {
    read_bounded(std::io::stdin().lock(), "stdin")
}

fn read_bounded(r: impl Read, what: &str) -> Result<Zeroizing<String>, CliError> {
    let mut buf = Zeroizing::new(Vec::new());
    r.take(MAX_LINK_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::usage(format!("reading the link from {what}: {e}")))?;
    if buf.len() as u64 > MAX_LINK_BYTES {
        return Err(CliError::usage(format!("{what} holds more than a link")));
    }
    // Only the first line counts (a trailing newline, a comment after).
    let text = std::str::from_utf8(&buf)
        .map_err(|_| CliError::usage(format!("the link in {what} is not UTF-8")))?;
    Ok(Zeroizing::new(
        text.lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_env_and_argv() {
        let dir = tempfile_dir();
        let p = dir.join("link");
        std::fs::write(&p, "\n  dd://enroll?x#y  \nrest\n").unwrap();
        let (l, s) = read_link(None, Some(&p), "DD_TEST_UNSET_VAR").unwrap();
        assert_eq!((l.as_str(), s), ("dd://enroll?x#y", LinkSource::File));
        assert_eq!(
            read_link(Some("dd://a"), Some(&p), "X").unwrap_err().exit,
            crate::errors::EXIT_USAGE
        );
        let (l, s) = read_link(Some("dd://a"), None, "X").unwrap();
        assert_eq!((l.as_str(), s), ("dd://a", LinkSource::Argv));
        assert_eq!(
            read_link(None, None, "DD_TEST_UNSET_VAR").unwrap_err().code,
            "usage"
        );
        std::fs::write(&p, vec![b'x'; 9000]).unwrap();
        assert!(read_link(None, Some(&p), "X").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("dd-cli-secret-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
