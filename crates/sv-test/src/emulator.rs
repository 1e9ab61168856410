//! A real `sv-emulator` process for end-to-end tests.
//!
//! ```no_run
//! let emulator = sv_test::EmulatorProcess::start()?;
//! let output = std::process::Command::new("sv-plan")
//!     .envs(emulator.cloudflare_env())
//!     .arg("plan")
//!     .output();
//! # Ok::<(), sv_test::Error>(())
//! ```
//!
//! Contract with the emulator binary (bins/sv-emulator): it accepts
//! `--listen 127.0.0.1:0 --in-memory` (or `--data DIR`), `--account-id <32 hex>` and
//! `--token <TOKEN>`, and its first line on stdout is `listening on http://HOST:PORT`. Cloudflare endpoints are served
//! under `/client/v4`, GitHub endpoints under `/github`.
//!
//! Request validation is ON by default (`--validate-requests`): every request a tool under
//! test sends to `/client/v4` is checked against the request schema of its operation in the
//! Cloudflare OpenAPI subset (plus the emulator's recorded allowances), and a violation is
//! answered with a 400 whose error code is 99400 and whose message names the operation and
//! the mismatch — so client drift fails whichever test exercises it.
//! [`EmulatorProcess::violations`] lists what was caught; [`EmulatorBuilder::validate_requests`]
//! turns it off for a test that must send invalid requests on purpose.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::process::{Sink, collect};
use crate::{Error, paths};

/// Account id the emulator is started with unless the test picks another.
pub const DEFAULT_ACCOUNT_ID: &str = "5ea7c0de5ea7c0de5ea7c0de5ea7c0de";
/// API token the emulator is started with (`--token`): it then accepts only this one, so
/// a tool that forgets to send its token fails as it would against Cloudflare.
pub const DEFAULT_TOKEN: &str = "sv-test-token";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Options for starting an emulator; [`EmulatorProcess::start`] uses the defaults.
#[derive(Clone)]
pub struct EmulatorBuilder {
    binary: Option<PathBuf>,
    account_id: String,
    token: String,
    data_dir: Option<PathBuf>,
    extra_args: Vec<String>,
    startup_timeout: Duration,
    validate_requests: bool,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            binary: None,
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            token: DEFAULT_TOKEN.to_owned(),
            data_dir: None,
            extra_args: Vec::new(),
            startup_timeout: STARTUP_TIMEOUT,
            validate_requests: true,
        }
    }
}

impl EmulatorBuilder {
    /// Use this binary instead of looking it up with [`paths::cargo_bin`].
    #[must_use]
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Account id passed as `--account-id` (32 hex characters) and exported to the tools.
    #[must_use]
    pub fn account_id(mut self, id: impl Into<String>) -> Self {
        self.account_id = id.into();
        self
    }

    /// The only token the emulator accepts (`--token`), exported as `CLOUDFLARE_API_TOKEN`.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// Persist state in `dir` (`--data DIR`) instead of `--in-memory`.
    #[must_use]
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// An extra command-line argument for the emulator (fault injection, seeding, …).
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Whether the emulator checks every request against its request schema
    /// (`--validate-requests`; on by default).
    #[must_use]
    pub fn validate_requests(mut self, on: bool) -> Self {
        self.validate_requests = on;
        self
    }

    /// How long to wait for the `listening on …` line.
    #[must_use]
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Starts the emulator and waits until it reports its address.
    pub fn start(self) -> Result<EmulatorProcess, Error> {
        let binary = match self.binary {
            Some(path) => path,
            None => paths::cargo_bin("sv-emulator")?,
        };
        let mut command = Command::new(&binary);
        command.args(["--listen", "127.0.0.1:0"]);
        match &self.data_dir {
            Some(dir) => command.arg("--data").arg(dir),
            None => command.arg("--in-memory"),
        };
        command
            .args(["--account-id", &self.account_id])
            .args(["--token", &self.token])
            .args(self.validate_requests.then_some("--validate-requests"))
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| Error::Spawn {
            program: binary.clone(),
            source,
        })?;

        let (stderr, _) = match child.stderr.take() {
            Some(pipe) => collect(pipe),
            None => (Sink::default(), std::thread::spawn(|| ())),
        };
        let (first_line_tx, first_line_rx) = mpsc::channel();
        let stdout = Sink::default();
        if let Some(pipe) = child.stdout.take() {
            let rest = stdout.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(pipe);
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) > 0 {
                    let _ = first_line_tx.send(line);
                }
                // Keep draining so the emulator never blocks on a full stdout pipe.
                let mut chunk = Vec::new();
                while reader.read_until(b'\n', &mut chunk).unwrap_or(0) > 0 {
                    rest.append(&chunk);
                    chunk.clear();
                }
            });
        }

        let fail = |child: &mut Child, reason: String| {
            let _ = child.kill();
            let _ = child.wait();
            // Give the stderr reader a moment to catch the last words.
            std::thread::sleep(Duration::from_millis(50));
            Error::EmulatorStartup {
                timeout: self.startup_timeout,
                reason,
                stderr: stderr.text(),
            }
        };
        let line = match first_line_rx.recv_timeout(self.startup_timeout) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(fail(&mut child, "no output".to_owned()));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().ok();
                let reason = match status {
                    Some(status) => format!("it exited ({status}) without printing its address"),
                    None => "it closed stdout without printing its address".to_owned(),
                };
                return Err(fail(&mut child, reason));
            }
        };
        let Some(base_url) = parse_listening_line(&line) else {
            return Err(fail(
                &mut child,
                format!("unexpected first line {:?}", line.trim_end()),
            ));
        };

        Ok(EmulatorProcess {
            child,
            base_url,
            account_id: self.account_id,
            token: self.token,
            stdout,
            stderr,
        })
    }
}

/// A running `sv-emulator`; killed when dropped.
pub struct EmulatorProcess {
    child: Child,
    base_url: String,
    account_id: String,
    token: String,
    stdout: Sink,
    stderr: Sink,
}

impl std::fmt::Debug for EmulatorProcess {
    // Hand-written so the token never shows up in test failure output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorProcess")
            .field("pid", &self.child.id())
            .field("base_url", &self.base_url)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl EmulatorProcess {
    /// Starts `sv-emulator --listen 127.0.0.1:0 --in-memory` with the default account id.
    pub fn start() -> Result<Self, Error> {
        EmulatorBuilder::default().start()
    }

    /// Options other than the defaults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// `http://HOST:PORT`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The Cloudflare API base: `http://HOST:PORT/client/v4` (no trailing slash, as wrangler wants).
    pub fn cloudflare_api_url(&self) -> String {
        format!("{}/client/v4", self.base_url)
    }

    /// The GitHub API base: `http://HOST:PORT/github`.
    pub fn github_api_url(&self) -> String {
        format!("{}/github", self.base_url)
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Environment for a tool under test: `CLOUDFLARE_API_BASE_URL`, `CLOUDFLARE_API_TOKEN`,
    /// `CLOUDFLARE_ACCOUNT_ID` and `GITHUB_API_URL`, ready for `Command::envs`.
    pub fn cloudflare_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "CLOUDFLARE_API_BASE_URL".to_owned(),
                self.cloudflare_api_url(),
            ),
            ("CLOUDFLARE_API_TOKEN".to_owned(), self.token.clone()),
            ("CLOUDFLARE_ACCOUNT_ID".to_owned(), self.account_id.clone()),
            ("GITHUB_API_URL".to_owned(), self.github_api_url()),
        ]
    }

    /// A Cloudflare API client for this emulator (its URL, token and account id), e.g. to
    /// seed resources before running a tool or to inspect what the tool did.
    pub fn client(&self) -> Result<sv_cloudflare::Client, Error> {
        let base = sv_cloudflare::parse_base_url(&self.cloudflare_api_url())
            .map_err(|source| Error::Client { source })?;
        sv_cloudflare::Client::builder(base, sv_cloudflare::SecretString::from(self.token.clone()))
            .account_id(&self.account_id)
            .build()
            .map_err(|source| Error::Client { source })
    }

    /// The request-schema violations the emulator caught so far (`GET /__admin/violations`):
    /// `{"enabled", "count", "violations": [{method, path, operation, errors, at}],
    /// "unchecked": [...]}`.
    pub fn violations(&self) -> Result<serde_json::Value, Error> {
        let body = crate::http::get(&self.base_url, "/__admin/violations")?;
        serde_json::from_str(&body).map_err(|e| Error::Admin(format!("violations: {e}")))
    }

    /// The GitHub emulator's whole state (`GET /github/_admin/state`): repositories with
    /// their issues, comments and artifacts, for assertions.
    pub fn github_state(&self) -> Result<serde_json::Value, Error> {
        let body = crate::http::get(&self.base_url, "/github/_admin/state")?;
        serde_json::from_str(&body).map_err(|e| Error::Admin(format!("github state: {e}")))
    }

    /// Process id, e.g. to send it a signal.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the emulator wrote to stderr so far (its logs), for assertion messages.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// What the emulator wrote to stdout after its first line.
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `listening on http://127.0.0.1:41234` → `http://127.0.0.1:41234`.
fn parse_listening_line(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("listening on ")?;
    let url = rest.split_whitespace().next()?.trim_end_matches('/');
    let authority = url.strip_prefix("http://")?;
    (!authority.is_empty() && !authority.contains('/')).then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        assert_eq!(
            parse_listening_line("listening on http://127.0.0.1:41234\n").as_deref(),
            Some("http://127.0.0.1:41234")
        );
        assert_eq!(
            parse_listening_line("listening on http://127.0.0.1:8787/ (in-memory)").as_deref(),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(parse_listening_line("starting up"), None);
        assert_eq!(parse_listening_line("listening on https://x"), None);
        assert_eq!(parse_listening_line("listening on http://h:1/path"), None);
    }

    #[test]
    fn a_missing_binary_is_a_spawn_error() {
        let err = EmulatorProcess::builder()
            .binary("/nonexistent/sv-emulator")
            .start()
            .unwrap_err();
        assert!(matches!(err, Error::Spawn { .. }), "{err}");
    }

    #[test]
    fn startup_fails_clearly_when_the_first_line_is_not_an_address() {
        // `echo` stands in for an emulator that prints something else and exits.
        let err = EmulatorProcess::builder()
            .binary("echo")
            .start()
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("unexpected first line"), "{message}");
        assert!(
            message.contains("--listen 127.0.0.1:0 --in-memory --account-id"),
            "{message}"
        );
    }

    #[test]
    fn startup_fails_clearly_when_the_process_exits_silently() {
        let err = EmulatorProcess::builder()
            .binary("true")
            .start()
            .unwrap_err();
        assert!(
            err.to_string().contains("without printing its address"),
            "{err}"
        );
    }
}
