//! Running a binary of the toolkit and checking the corpus rules on what it did.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sv_test::EmulatorProcess;

/// Longest a binary may take on one bad input: bad input must fail fast, not hang.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What one run did.
#[derive(Debug)]
pub struct Outcome {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Asserts the corpus rules: one of `codes`, a message, no panic.
    pub fn assert_refused(&self, codes: &[i32], case: &str) {
        assert!(
            self.code.is_some_and(|c| codes.contains(&c)),
            "{case}: `{}` exited {:?}, expected one of {codes:?}\nstdout: {}\nstderr: {}",
            self.command,
            self.code,
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.trim().is_empty(),
            "{case}: `{}` failed without saying why",
            self.command
        );
        for sign in ["panicked at", "RUST_BACKTRACE", "stack backtrace"] {
            assert!(
                !self.stderr.contains(sign) && !self.stdout.contains(sign),
                "{case}: `{}` panicked:\n{}",
                self.command,
                self.stderr
            );
        }
    }
}

/// A binary of the workspace, with the emulator's environment.
pub struct Run<'a> {
    emulator: &'a EmulatorProcess,
    cwd: PathBuf,
    unset: Vec<String>,
    extra_env: Vec<(String, String)>,
}

impl<'a> Run<'a> {
    pub fn new(emulator: &'a EmulatorProcess, cwd: &Path) -> Self {
        Self {
            emulator,
            cwd: cwd.to_owned(),
            unset: Vec::new(),
            extra_env: Vec::new(),
        }
    }

    pub fn unset(mut self, vars: &[String]) -> Self {
        self.unset.extend(vars.iter().cloned());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.extra_env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs `argv[0]` (a workspace binary name) with the rest as arguments.
    pub fn run(&self, argv: &[String]) -> Outcome {
        let (bin, args) = argv.split_first().expect("a command");
        let path = sv_test::paths::cargo_bin(bin).unwrap();
        let mut cmd = Command::new(path);
        cmd.args(args)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Not in GitHub Actions, no colour, no inherited tool settings.
            .env_remove("GITHUB_ACTIONS")
            .env_remove("SV_ENV")
            .env_remove("SV_CONFIG")
            .env_remove("SV_FORMAT")
            .env_remove("SV_BACKUP_IDENTITY")
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0");
        for (k, v) in self.emulator.cloudflare_env() {
            if !self.unset.contains(&k) {
                cmd.env(k, v);
            }
        }
        for k in &self.unset {
            cmd.env_remove(k);
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        let command = argv.join(" ");
        let mut child = cmd.spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            stdout.read_to_string(&mut s).ok();
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            stderr.read_to_string(&mut s).ok();
            s
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > TIMEOUT {
                child.kill().ok();
                panic!("`{command}` still running after {TIMEOUT:?}: bad input must fail fast");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Outcome {
            command,
            // `None` when killed by a signal, which the corpus rules count as a failure.
            code: status.code(),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        }
    }
}

/// The emulator's whole state (`GET /__admin/snapshot`): equal before and after a refused
/// command means the command changed nothing remote.
pub fn remote_state(emulator: &EmulatorProcess) -> String {
    let mut state: serde_json::Value =
        serde_json::from_str(&http_get(emulator, "/__admin/snapshot", None)).unwrap();
    // Reading with a token records when it was last used, as Cloudflare does: bookkeeping,
    // not a change the command made.
    if let Some(user) = state["model"]["user"].as_object_mut() {
        user.remove("token_last_used_on");
    }
    if let Some(tokens) = state["model"]["tokens"].as_object_mut() {
        for token in tokens.values_mut() {
            if let Some(token) = token.as_object_mut() {
                token.remove("last_used_on");
            }
        }
    }
    state.to_string()
}

/// `GET path` on the emulator (HTTP/1.0, so the body is not chunked); panics unless 200.
pub fn http_get(emulator: &EmulatorProcess, path: &str, bearer: Option<&str>) -> String {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let (status, body) = http(emulator, "GET", path, &headers, &[]);
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// One HTTP/1.0 request to the emulator: (status, body bytes).
pub fn http(
    emulator: &EmulatorProcess,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let address = emulator.base_url().trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nUser-Agent: sv-proof\r\n\
         Connection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response[split + 4..].to_vec())
}

/// Every path under `dir` (relative), to show a refused command wrote nothing there.
pub fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.insert(path.strip_prefix(root).unwrap().to_owned());
            if path.is_dir() && !path.is_symlink() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// `tests/corpus/` of the repository.
pub fn corpus_dir() -> PathBuf {
    sv_test::paths::workspace_root().join("tests/corpus")
}

/// The files of `dir` with extension `ext`, sorted.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}
