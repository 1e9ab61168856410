//! The exit-code contract and the `main` shim.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (for `--detailed-exitcode`: no changes) |
//! | 1 | the job failed: deploy failed, unhealthy, restore failed, API error |
//! | 2 | bad usage, config or input (for `--detailed-exitcode`: changes present) |
//!
//! Errors print their chain once on stderr; inside GitHub Actions they also become an
//! `::error::` annotation, pointing at `file:line:col` when the error carries a location.

use std::future::Future;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use sv_actions::{Annotation, Runner};

use crate::env_vars;

/// What a successful run tells the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0.
    Success,
    /// 1: the operation ran but its verdict is failure (unhealthy, gate failed, …).
    Failure,
    /// 2 where a command documents it, e.g. `plan --detailed-exitcode` with changes.
    Changes,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Changes => 2,
        }
    }
}

/// Marks an error as the user's input being wrong (exit 2) rather than the job failing.
/// Optionally carries where in which file, for annotations.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct InputError {
    #[source]
    source: anyhow::Error,
    location: Option<(PathBuf, usize, usize)>,
}

impl InputError {
    pub fn new(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: source.into(),
            location: None,
        }
    }

    /// Attaches a 1-based `file:line:column`.
    pub fn at(mut self, file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        self.location = Some((file.into(), line, column));
        self
    }
}

/// Shorthand: `result.map_err(input_error)?`.
pub fn input_error(err: impl Into<anyhow::Error>) -> anyhow::Error {
    InputError::new(err).into()
}

fn find_input_error(err: &anyhow::Error) -> Option<&InputError> {
    err.chain().find_map(|e| e.downcast_ref::<InputError>())
}

/// Maps an error to its exit code: 2 for input errors anywhere in the chain, else 1.
pub fn error_code(err: &anyhow::Error) -> u8 {
    if find_input_error(err).is_some() {
        2
    } else {
        1
    }
}

/// Renders `error: …` followed by one `caused by:` line per distinct source.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}");
    let mut last = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        // InputError and `#[error(transparent)]` wrappers repeat their source's text.
        if text != last && !last.ends_with(&text) {
            out.push_str(&format!("\n  caused by: {text}"));
        }
        last = text;
    }
    out
}

/// The body of every `main.rs`: builds the runtime, runs `run`, prints an error chain once,
/// turns the outcome into an exit code. A closed stdout (`sv-plan plan | head`) is success.
pub fn main<F, Fut>(run: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<ExitStatus>>,
{
    // reqwest/octocrab are built without a default crypto provider (see TOOLING.md).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(&anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match runtime.block_on(run()) {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => report(&err),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

#[allow(clippy::print_stderr)] // the one place errors reach the user
fn report(err: &anyhow::Error) -> ExitCode {
    let runner = Runner::from_env(env_vars::process_env);
    let mut annotation = Annotation::error(err.to_string());
    if let Some((file, line, col)) = find_input_error(err).and_then(|e| e.location.clone()) {
        annotation = annotation.at(file, line, col);
    }
    let _ = runner.annotate(&annotation);
    let _ = writeln!(io::stderr(), "{}", render_error(err));
    ExitCode::from(error_code(err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn input_errors_exit_2_anywhere_in_the_chain() {
        let e: anyhow::Error = input_error(anyhow::anyhow!("sv.yaml:3:1: unknown field `x`"));
        let wrapped = e.context("cannot load sv.yaml");
        assert_eq!(error_code(&wrapped), 2);
        let op = anyhow::anyhow!("deploy failed").context("rollout");
        assert_eq!(error_code(&op), 1);
    }

    #[test]
    fn chain_renders_each_cause_once() {
        let err = Err::<(), _>(io::Error::other("connection refused"))
            .context("GET /accounts")
            .map_err(input_error)
            .context("cannot verify token")
            .unwrap_err();
        insta::assert_snapshot!(render_error(&err), @r"
        error: cannot verify token
          caused by: GET /accounts
          caused by: connection refused
        ");
    }

    #[test]
    fn broken_pipe_is_detected_through_context() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("write");
        assert!(is_broken_pipe(&err));
    }
}
