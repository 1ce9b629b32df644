//! dd-cli: the plumbing the dd command-line tools share.
//!
//! * [`errors`]: [`CliError`] (a stable code, a message, an exit code:
//!   1 failure, 2 usage, 3 not authorized) and how it is printed,
//! * [`run`]: the tokio runtime and the top-level exit path,
//! * [`secret`]: one-time links read from stdin, a file or the
//!   environment rather than the command line,
//! * [`escape`]: the `Ctrl-]` escape-key parser of interactive attach,
//! * [`term`]: raw mode that is always undone, the terminal size, and
//!   stdin as an async source of bytes ([`term::Stdin`]),
//! * [`gen`]: shell completions and man pages from a clap definition,
//! * [`fmt_time`]: RFC 3339 timestamps.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod errors;
pub mod escape;
pub mod gen;
pub mod run;
pub mod secret;
pub mod term;

pub use errors::CliError;

/// Formats Unix seconds as RFC 3339 (UTC); the plain number when out of
/// range.
pub fn fmt_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::fmt_time;

    #[test]
    fn rfc3339() {
        assert_eq!(fmt_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(fmt_time(i64::MAX), i64::MAX.to_string());
    }
}
