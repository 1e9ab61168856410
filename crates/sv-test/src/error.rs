use std::path::PathBuf;
use std::time::Duration;

/// Why a test fixture could not be set up. Messages say what to run to fix it.
///
/// `Debug` prints the message and its causes, so that `.unwrap()`/`.expect()` in a test
/// shows the hint instead of a struct dump.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "{name} is not built (looked in: {}); build it first: cargo build -p {name}, or set {env_var}",
        display_paths(.searched)
    )]
    BinaryNotBuilt {
        name: String,
        env_var: String,
        searched: Vec<PathBuf>,
    },

    #[error("could not start {program}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "sv-emulator did not report its address within {timeout:?}: {reason}\n--- emulator stderr ---\n{stderr}"
    )]
    EmulatorStartup {
        timeout: Duration,
        reason: String,
        stderr: String,
    },

    #[error(
        "act is not installed (looked in {} and PATH); run scripts/setup-test-deps.sh, \
         or set SV_SKIP_ACT=1 to skip the act tests explicitly",
        .venv_bin.display()
    )]
    ActNotFound { venv_bin: PathBuf },

    #[error("workflow {} does not exist", .0.display())]
    WorkflowMissing(PathBuf),

    #[error("{value_kind} {key:?} cannot be passed to act: {reason}")]
    UnsupportedValue {
        value_kind: &'static str,
        key: String,
        reason: &'static str,
    },

    #[error(
        "act did not finish within {timeout:?} and was killed\n--- act output (last lines) ---\n{tail}"
    )]
    ActTimeout { timeout: Duration, tail: String },

    #[error("could not build a Cloudflare client for the emulator")]
    Client {
        #[source]
        source: sv_cloudflare::Error,
    },

    #[error("the emulator's admin API failed: {0}")]
    Admin(String),

    #[error("preparing the act run in {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
