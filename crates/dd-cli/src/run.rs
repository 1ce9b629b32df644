//! The top-level run/exit plumbing of a CLI's `main`.

use crate::errors::{CliError, EXIT_FAILURE};

/// The CLI's tokio runtime: one thread. A CLI talks to one agent over one
/// connection; on one thread a keystroke goes from stdin to the socket, and
/// an echo from the socket to stdout, without waking another thread (see
/// docs/benchmarks.md). When it cannot start, prints `error: internal:
/// cannot start the runtime: ...` and exits 1.
pub fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: internal: cannot start the runtime: {e}");
            std::process::exit(EXIT_FAILURE);
        }
    }
}

/// The process exit code for a command's result: its own code on success;
/// on failure the error, turned into a [`CliError`] by `classify`, is
/// printed (see [`CliError::print`]) and its exit code returned.
pub fn exit_code(
    result: anyhow::Result<i32>,
    json: bool,
    classify: impl FnOnce(&anyhow::Error) -> CliError,
) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => {
            let c = classify(&e);
            c.print(json);
            c.exit
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(Ok(0), false, |_| unreachable!()), 0);
        assert_eq!(exit_code(Ok(7), true, |_| unreachable!()), 7);
        let e = anyhow::Error::new(CliError::usage("bad"));
        assert_eq!(
            exit_code(Err(e), false, |e| crate::errors::classify(e, |_| None)),
            2
        );
        let e = anyhow::anyhow!("x");
        assert_eq!(
            exit_code(Err(e), true, |_| CliError::coded("revoked", "r")),
            3
        );
    }

    #[test]
    fn runtime_runs() {
        assert_eq!(runtime().block_on(async { 1 + 1 }), 2);
    }
}
