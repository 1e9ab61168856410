//! Runs a workflow of this repository under [act](https://github.com/nektos/act) in host
//! mode (no Docker) and returns what happened.
//!
//! ```no_run
//! use sv_test::ActRun;
//!
//! if sv_test::act::skip_requested() {
//!     return Ok(());
//! }
//! let outcome = ActRun::new("crates/sv-test/tests/workflows/smoke.yml")
//!     .event("workflow_dispatch")
//!     .input("greeting", "hello")
//!     .env("SV_BIN_DIR", "/path/to/bins")
//!     .run()?;
//! outcome.assert_success();
//! assert_eq!(outcome.read_artifact("report", "report.txt")?, "hello\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How a run is set up:
//! - The repository is copied to a scratch directory (without `.git`, `target/`,
//!   `node_modules/`, `.venv-tools/`) and committed there, so parallel runs never share a
//!   workspace and act sees a clean `GITHUB_SHA`. `SRC` points at that snapshot: host mode
//!   starts each job in an empty workspace, so a workflow's first step is
//!   `cp -a "$SRC/." .` (or `uses: actions/checkout@…`, served by the stand-in below).
//! - `actions/checkout`, `actions/upload-artifact` and `actions/download-artifact` (at `v4`
//!   and at the SHAs our workflows pin, [`STAND_INS`]) are replaced through
//!   `--local-repository` by the composite stand-ins in `crates/sv-test/act-actions/`, which
//!   work offline. Uploaded artifacts land in [`ActOutcome::artifacts_dir`]`/<name>/`.
//! - Host-mode job workspaces (`--action-cache-path`) are inside the scratch directory, so
//!   nothing is left behind in `~/.cache/act`.
//! - act listens on loopback only (`--cache-server-addr`/`--artifact-server-addr`
//!   127.0.0.1) on free ports and reads no `.env`/`.secrets`/`.vars`/`.input` from the
//!   snapshot. It runs each step in a session of its own and kills what a job leaves
//!   running when the job ends or act dies, so killing act on timeout stops everything
//!   (`tests/it/act.rs` checks this with a hung workflow).
//!
//! act is looked up in `<repo>/.venv-tools/bin` (scripts/setup-test-deps.sh) and then PATH.
//! A missing act is an error, never a silent pass; tests skip only when `SV_SKIP_ACT=1` is
//! set explicitly ([`skip_requested`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{collect, tail};
use crate::{Error, paths};

/// Actions replaced by the offline stand-ins: (`owner/repo@ref`, stand-in directory name).
/// The SHAs are the ones `.github/workflows/` pins.
pub const STAND_INS: &[(&str, &str)] = &[
    ("actions/checkout@v4", "checkout"),
    (
        "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683",
        "checkout",
    ),
    ("actions/upload-artifact@v4", "upload-artifact"),
    (
        "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02",
        "upload-artifact",
    ),
    ("actions/download-artifact@v4", "download-artifact"),
    (
        "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093",
        "download-artifact",
    ),
];

/// Directories never copied into the snapshot, at any depth.
const SKIP_ANYWHERE: &[&str] = &[".git", "node_modules", ".venv-tools", ".tools", ".wrangler"];

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// True when the developer asked to skip act-based tests with `SV_SKIP_ACT=1`.
/// Tests call this first and return early; nothing else skips them.
pub fn skip_requested() -> bool {
    std::env::var_os("SV_SKIP_ACT").is_some_and(|v| v == "1")
}

/// Where act is: `<repo>/.venv-tools/bin/act`, else the first `act` on PATH.
pub fn find_act() -> Result<PathBuf, Error> {
    let venv_bin = paths::workspace_root().join(".venv-tools").join("bin");
    let candidate = venv_bin.join("act");
    if candidate.is_file() {
        return Ok(candidate);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("act"))
        .find(|path| path.is_file())
        .ok_or(Error::ActNotFound { venv_bin })
}

/// Directory of the stand-in for `actions/<name>`.
pub fn stand_in_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("act-actions")
        .join(name)
}

/// Fills `dir` with `sv-toolkit/sv@v0` as act serves it to a workflow under test: this
/// repository's `actions/` and `scripts/` (pass `dir` to
/// [`ActRun::local_repository`]`("sv-toolkit/sv@v0", dir)`).
///
/// TEST STAND-IN: no sv release can be downloaded here, so `scripts/install.sh` is wrapped
/// to install from the binaries this test run built (`bin_dir`, through its `--bin-dir`);
/// everything else (the workflow and every action) runs as shipped.
///
/// # Errors
/// Copying or writing fails.
pub fn sv_repository(dir: &Path, bin_dir: &Path) -> Result<(), Error> {
    let root = crate::paths::workspace_root();
    crate::example::copy_dir(&root.join("actions"), &dir.join("actions"), &[])?;
    crate::example::copy_dir(&root.join("scripts"), &dir.join("scripts"), &[])?;
    let (install, real) = (
        dir.join("scripts/install.sh"),
        dir.join("scripts/install.real.sh"),
    );
    std::fs::rename(&install, &real).map_err(Error::io(&install))?;
    std::fs::write(
        &install,
        format!(
            "#!/usr/bin/env bash\n# act test stand-in: install from the binaries this test run built.\n\
             exec bash \"$(dirname \"${{BASH_SOURCE[0]}}\")/install.real.sh\" --bin-dir '{}' \"$@\"\n",
            bin_dir.display()
        ),
    )
    .map_err(Error::io(&install))
}

/// One act invocation; build it up, then [`run`](Self::run) it.
#[derive(Clone)]
pub struct ActRun {
    workflow: PathBuf,
    event: String,
    event_json: Option<String>,
    job: Option<String>,
    inputs: Vec<(String, String)>,
    env: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    vars: Vec<(String, String)>,
    source: PathBuf,
    local_repositories: Vec<(String, PathBuf)>,
    timeout: Duration,
}

impl std::fmt::Debug for ActRun {
    // Hand-written so secret values never reach test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret_names: Vec<&str> = self.secrets.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ActRun")
            .field("workflow", &self.workflow)
            .field("event", &self.event)
            .field("job", &self.job)
            .field("inputs", &self.inputs)
            .field("env", &self.env)
            .field("secrets", &secret_names)
            .field("source", &self.source)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ActRun {
    /// A run of `workflow`: a path relative to the repository root (or absolute inside it).
    /// Defaults: event `push`, timeout 300 s, the stand-in actions wired.
    pub fn new(workflow: impl Into<PathBuf>) -> Self {
        Self {
            workflow: workflow.into(),
            event: "push".to_owned(),
            event_json: None,
            job: None,
            inputs: Vec::new(),
            env: Vec::new(),
            secrets: Vec::new(),
            vars: Vec::new(),
            source: paths::workspace_root(),
            local_repositories: STAND_INS
                .iter()
                .map(|(spec, dir)| ((*spec).to_owned(), stand_in_dir(dir)))
                .collect(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The triggering event: `push`, `pull_request`, `workflow_dispatch`, `schedule`, …
    #[must_use]
    pub fn event(mut self, event: impl Into<String>) -> Self {
        self.event = event.into();
        self
    }

    /// The event payload (`github.event`), as JSON text; passed with `-e`.
    #[must_use]
    pub fn event_json(mut self, json: impl Into<String>) -> Self {
        self.event_json = Some(json.into());
        self
    }

    /// Run only this job (`-j`).
    #[must_use]
    pub fn job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }

    /// A `workflow_dispatch` input (`--input k=v`).
    #[must_use]
    pub fn input(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.inputs.push((key.into(), value.into()));
        self
    }

    /// A workflow-level environment variable (`--env k=v`, visible as `env.k`).
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Several environment variables, e.g. `EmulatorProcess::cloudflare_env()`.
    #[must_use]
    pub fn envs<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// A secret (`secrets.k`). Passed through a file, never on act's command line.
    #[must_use]
    pub fn secret(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets.push((key.into(), value.into()));
        self
    }

    /// A configuration variable (`vars.k`), e.g. `CLOUDFLARE_ACCOUNT_ID`.
    #[must_use]
    pub fn var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((key.into(), value.into()));
        self
    }

    /// Snapshot this directory instead of the sv repository.
    #[must_use]
    pub fn source_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.source = dir.into();
        self
    }

    /// Serve `owner/repo@ref` from a local directory (`--local-repository`).
    #[must_use]
    pub fn local_repository(mut self, spec: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        self.local_repositories.push((spec.into(), dir.into()));
        self
    }

    /// Kill act after this long (default 300 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs act and waits for it. A failing workflow is an `Ok` outcome with a failed
    /// status; `Err` means the run could not happen (act missing, timeout, I/O).
    pub fn run(self) -> Result<ActOutcome, Error> {
        let act = find_act()?;
        let relative = self
            .workflow
            .strip_prefix(&self.source)
            .unwrap_or(&self.workflow)
            .to_path_buf();
        if !self.source.join(&relative).is_file() {
            return Err(Error::WorkflowMissing(self.source.join(&relative)));
        }
        for (key, _) in self.env.iter().chain(&self.secrets).chain(&self.vars) {
            check_name(key)?;
        }
        for (key, value) in self.secrets.iter().chain(&self.vars) {
            check_secret_value(key, value)?;
        }

        let scratch = tempfile::Builder::new()
            .prefix("sv-act-")
            .tempdir()
            .map_err(Error::io(std::env::temp_dir()))?;
        let repo = scratch.path().join("repo");
        let artifacts_dir = scratch.path().join("artifacts");
        fs::create_dir_all(&artifacts_dir).map_err(Error::io(&artifacts_dir))?;
        copy_tree(&self.source, &repo, true)?;
        commit_snapshot(&repo);

        let empty = scratch.path().join("empty.env");
        fs::write(&empty, "").map_err(Error::io(&empty))?;
        let var_file = scratch.path().join("vars.env");
        let vars: String = self
            .vars
            .iter()
            .map(|(k, v)| format!("{k}='{v}'\n"))
            .collect();
        fs::write(&var_file, vars).map_err(Error::io(&var_file))?;
        let secret_file = scratch.path().join("secrets.env");
        let secrets: String = self
            .secrets
            .iter()
            .map(|(k, v)| format!("{k}='{v}'\n"))
            .collect();
        fs::write(&secret_file, secrets).map_err(Error::io(&secret_file))?;
        let var_file = scratch.path().join("vars.env");
        let vars: String = self
            .vars
            .iter()
            .map(|(k, v)| format!("{k}='{v}'\n"))
            .collect();
        fs::write(&var_file, vars).map_err(Error::io(&var_file))?;

        let mut command = Command::new(&act);
        command
            .current_dir(&repo)
            .arg(&self.event)
            .arg("-W")
            .arg(&relative)
            .args(["-P", "ubuntu-latest=-self-hosted"])
            .args(["-P", "ubuntu-24.04=-self-hosted"])
            .args(["-P", "ubuntu-22.04=-self-hosted"])
            .args(["--cache-server-addr", "127.0.0.1"])
            .args(["--cache-server-port", "0"])
            .args(["--artifact-server-addr", "127.0.0.1"])
            .args(["--artifact-server-port", &free_port(&repo)?.to_string()])
            .arg("--artifact-server-path")
            .arg(&artifacts_dir)
            // Host workspaces live here too: keep them in the scratch directory so they go
            // when the outcome drops instead of piling up in ~/.cache/act.
            .arg("--action-cache-path")
            .arg(scratch.path().join("act-cache"))
            .arg("--env-file")
            .arg(&empty)
            .arg("--var-file")
            .arg(&var_file)
            .arg("--input-file")
            .arg(&empty)
            .arg("--secret-file")
            .arg(&secret_file)
            .arg("--env")
            .arg(format!("SRC={}", repo.display()))
            .arg("--env")
            .arg(format!("SV_ACT_ARTIFACT_DIR={}", artifacts_dir.display()));
        for (spec, dir) in &self.local_repositories {
            command
                .arg("--local-repository")
                .arg(format!("{spec}={}", dir.display()));
        }
        for (key, value) in &self.env {
            command.arg("--env").arg(format!("{key}={value}"));
        }
        for (key, value) in &self.inputs {
            command.arg("--input").arg(format!("{key}={value}"));
        }
        if let Some(json) = &self.event_json {
            let path = scratch.path().join("event.json");
            fs::write(&path, json).map_err(Error::io(&path))?;
            command.arg("-e").arg(path);
        }
        if let Some(job) = &self.job {
            command.arg("-j").arg(job);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());

        let mut child = command.spawn().map_err(|source| Error::Spawn {
            program: act.clone(),
            source,
        })?;
        let (stdout, stdout_reader) = match child.stdout.take() {
            Some(pipe) => collect(pipe),
            None => collect(std::io::empty()),
        };
        let (stderr, stderr_reader) = match child.stderr.take() {
            Some(pipe) => collect(pipe),
            None => collect(std::io::empty()),
        };

        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() >= self.timeout => break None,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(source) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Spawn {
                        program: act,
                        source,
                    });
                }
            }
        };
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = stdout_reader.join();
        let _ = stderr_reader.join();

        let Some(status) = status else {
            let log = format!("{}{}", stdout.text(), stderr.text());
            return Err(Error::ActTimeout {
                timeout: self.timeout,
                tail: tail(&log, 60),
            });
        };
        Ok(ActOutcome {
            status,
            stdout: stdout.text(),
            stderr: stderr.text(),
            artifacts_dir,
            _scratch: scratch,
        })
    }
}

/// The result of an act run. Keeps the scratch directory (and so the artifacts) alive
/// until dropped.
#[derive(Debug)]
pub struct ActOutcome {
    /// act's exit status: success only if every job succeeded.
    pub status: ExitStatus,
    /// act's log: one line per step event and per line a step printed (`[wf/job]   | …`).
    pub stdout: String,
    pub stderr: String,
    /// Artifacts uploaded through the stand-in, one directory per artifact name.
    pub artifacts_dir: PathBuf,
    _scratch: TempDir,
}

impl ActOutcome {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics with act's log when the run failed.
    #[track_caller]
    pub fn assert_success(&self) {
        assert!(
            self.success(),
            "act run failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            tail(&self.stdout, 200),
            tail(&self.stderr, 50)
        );
    }

    /// Directory of artifact `name`.
    pub fn artifact_path(&self, name: &str) -> PathBuf {
        self.artifacts_dir.join(name)
    }

    /// Contents of `file` (relative to the artifact's root) in artifact `name`.
    pub fn read_artifact(&self, name: &str, file: &str) -> std::io::Result<String> {
        fs::read_to_string(self.artifact_path(name).join(file))
    }

    /// Step outputs as act reports them (`::set-output:: key=value` lines), in order.
    pub fn step_outputs(&self) -> Vec<(String, String)> {
        self.stdout
            .lines()
            .filter_map(|line| line.split_once("::set-output:: "))
            .filter_map(|(_, kv)| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The first reported value of step output `key`.
    pub fn step_output(&self, key: &str) -> Option<String> {
        self.step_outputs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Lines the steps printed (act's `| ` log lines), without act's prefixes.
    pub fn step_log(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter_map(|line| line.split_once("]   | ").map(|(_, rest)| rest))
            .collect()
    }
}

fn check_name(key: &str) -> Result<(), Error> {
    let mut chars = key.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::UnsupportedValue {
            value_kind: "name",
            key: key.to_owned(),
            reason: "use letters, digits and underscores",
        })
    }
}

/// Secrets go through a dotenv file in single quotes, which holds anything but `'` and
/// line breaks.
fn check_secret_value(key: &str, value: &str) -> Result<(), Error> {
    if value.contains(['\'', '\n', '\r']) {
        return Err(Error::UnsupportedValue {
            value_kind: "secret",
            key: key.to_owned(),
            reason: "secret values cannot contain single quotes or line breaks",
        });
    }
    Ok(())
}

/// A loopback port free right now (act's artifact server defaults to a fixed port, so
/// parallel runs would collide; its cache server takes 0 for "any").
fn free_port(context: &Path) -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(Error::io(context))?;
    let port = listener.local_addr().map_err(Error::io(context))?.port();
    Ok(port)
}

/// Copies a directory tree, keeping symlinks as symlinks and file modes.
fn copy_tree(from: &Path, to: &Path, top: bool) -> Result<(), Error> {
    fs::create_dir_all(to).map_err(Error::io(to))?;
    for entry in fs::read_dir(from).map_err(Error::io(from))? {
        let entry = entry.map_err(Error::io(from))?;
        let name = entry.file_name();
        if SKIP_ANYWHERE.iter().any(|skip| name == *skip) || (top && name == "target") {
            continue;
        }
        let source = entry.path();
        let dest = to.join(&name);
        let kind = entry.file_type().map_err(Error::io(&source))?;
        if kind.is_dir() {
            copy_tree(&source, &dest, false)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&source).map_err(Error::io(&source))?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, &dest).map_err(Error::io(&dest))?;
            #[cfg(not(unix))]
            fs::copy(&source, &dest).map_err(Error::io(&dest))?;
        } else {
            fs::copy(&source, &dest).map_err(Error::io(&dest))?;
        }
    }
    Ok(())
}

/// Makes the snapshot a one-commit git repository so act finds a ref and a SHA. Best
/// effort: without git, act still runs (it only warns about the missing ref).
fn commit_snapshot(repo: &Path) {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(repo)
            .args([
                "-c",
                "user.name=sv-test",
                "-c",
                "user.email=sv-test@localhost",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let _ = git(&["init", "-q"])
        && git(&["add", "-A"])
        && git(&["commit", "-q", "--no-verify", "-m", "sv-test snapshot"]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_names_secrets_but_hides_their_values() {
        let run = ActRun::new("x.yml").secret("API_TOKEN", "hunter2");
        let debug = format!("{run:?}");
        assert!(debug.contains("API_TOKEN"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("SV_BIN_DIR").is_ok());
        assert!(check_name("_x1").is_ok());
        assert!(check_name("1X").is_err());
        assert!(check_name("A-B").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn secrets_that_the_file_cannot_carry_are_refused() {
        assert!(check_secret_value("T", "abc$def\"ghi").is_ok());
        assert!(check_secret_value("T", "it's").is_err());
        assert!(check_secret_value("T", "a\nb").is_err());
    }

    #[test]
    fn stand_ins_exist_for_every_wired_action() {
        for (spec, dir) in STAND_INS {
            assert!(
                stand_in_dir(dir).join("action.yml").is_file(),
                "{spec} → {dir}"
            );
        }
    }

    #[test]
    fn the_snapshot_skips_build_output_and_keeps_symlinks() {
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("target/debug")).unwrap();
        fs::create_dir_all(src.path().join("app/node_modules/x")).unwrap();
        fs::create_dir_all(src.path().join("app/target")).unwrap();
        fs::write(src.path().join("app/a.txt"), "a").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("a.txt", src.path().join("app/link")).unwrap();
        let dest = tempfile::tempdir().unwrap();
        copy_tree(src.path(), dest.path(), true).unwrap();
        assert!(!dest.path().join("target").exists());
        assert!(!dest.path().join("app/node_modules").exists());
        assert!(
            dest.path().join("app/target").is_dir(),
            "only the top-level target/ is skipped"
        );
        assert_eq!(
            fs::read_to_string(dest.path().join("app/a.txt")).unwrap(),
            "a"
        );
        #[cfg(unix)]
        assert_eq!(
            fs::read_link(dest.path().join("app/link")).unwrap(),
            Path::new("a.txt")
        );
    }
}
