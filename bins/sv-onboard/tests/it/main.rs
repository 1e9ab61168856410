//! Tests of the sv-onboard binary: transcripts (exit code, stdout, stderr) and runs against
//! sv-emulator on copies of the reference app.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

mod dev;
mod dev_example;
mod doctor;
mod gc;
mod guide;
mod preview;
mod preview_act;
mod setup;
mod token;
mod token_act;

/// Running (a zombie waiting for whoever adopted it to reap it is not running).
fn alive(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    // `pid (comm) STATE …`
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .is_some_and(|state| state != 'Z' && state != 'X')
}

fn transcript(args: &[&str]) -> String {
    let out = Command::cargo_bin("sv-onboard")
        .unwrap()
        .args(args)
        .env_remove("SV_CONFIG")
        .env_remove("SV_ENV")
        .env_remove("SV_FORMAT")
        .env_remove("SV_DEVELOPER")
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn help() {
    insta::assert_snapshot!(transcript(&["--help"]));
}

#[test]
fn subcommand_help() {
    for cmd in ["setup", "doctor", "reset", "guide", "gc", "dev"] {
        insta::assert_snapshot!(format!("{cmd}_help"), transcript(&[cmd, "--help"]));
    }
    insta::assert_snapshot!(
        "token_check_help",
        transcript(&["token", "check", "--help"])
    );
    insta::assert_snapshot!(
        "token_rotate_help",
        transcript(&["token", "rotate", "--help"])
    );
}

#[test]
fn invalid_config_exits_2_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sv.yaml");
    std::fs::write(&path, "project: x\nenvironments:\n  prod: { prefx: a- }\n").unwrap();
    let text = transcript(&["validate", "--config", path.to_str().unwrap()]);
    let text = text.replace(path.to_str().unwrap(), "[SV_YAML]");
    insta::assert_snapshot!(text);
}

#[test]
fn missing_config_names_the_fix() {
    let text = transcript(&["validate", "--config", "does-not-exist.yaml"]);
    assert!(text.starts_with("exit: 2\n"), "{text}");
    assert!(text.contains("does-not-exist.yaml not found"), "{text}");
}

const CLEARED: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "SV_ENV",
    "SV_CONFIG",
    "SV_FORMAT",
    "SV_DEVELOPER",
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_BASE_URL",
    "CLOUDFLARE_ACCOUNT_ID",
];

/// A copy of the reference app in a temporary directory.
pub struct App {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("app");
        sv_test::example::copy_to(&root).unwrap();
        Self { _dir: dir, root }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// The file's text, empty when it does not exist (yet).
    pub fn read_opt(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    pub fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }
}

/// `sv-onboard` in `dir`, pointed at the emulator.
pub fn onboard(dir: &Path, emu: &sv_test::EmulatorProcess) -> Command {
    let mut cmd = Command::cargo_bin("sv-onboard").unwrap();
    for k in CLEARED {
        cmd.env_remove(k);
    }
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("USER", "tester")
        .envs(emu.cloudflare_env());
    cmd
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn run(mut cmd: Command, args: &[&str]) -> Out {
    let out = cmd.args(args).output().unwrap();
    Out {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replaces ids (hex, UUIDs) and temp paths so transcripts are stable.
pub fn scrub(text: &str, root: &Path) -> String {
    let mut s = text.replace(&root.display().to_string(), "[APP]");
    while let Some(i) = s.find("127.0.0.1:") {
        let start = i + "127.0.0.1:".len();
        let end = s[start..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(s.len(), |e| start + e);
        s.replace_range(i..end, "[HOST]");
    }
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let hexish = word.len() >= 32 && word.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if hexish {
            out.push_str("[ID]");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in s.drain(..) {
        if c.is_ascii_hexdigit() || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Names of the live KV namespaces, D1 databases and R2 buckets, sorted.
pub fn live_names(emu: &sv_test::EmulatorProcess) -> Vec<String> {
    use futures::TryStreamExt as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sv_cloudflare::install_crypto_provider();
        let config = sv_cloudflare::ClientConfig::new(
            sv_cloudflare::parse_base_url(&emu.cloudflare_api_url()).unwrap(),
            sv_cloudflare::SecretString::from(emu.token().to_owned()),
            Some(emu.account_id().to_owned()),
        );
        let client = sv_cloudflare::Client::builder_from_config(&config)
            .build()
            .unwrap();
        let mut names = Vec::new();
        let kv: Vec<_> = client.kv().list_namespaces().try_collect().await.unwrap();
        names.extend(kv.into_iter().map(|n| format!("kv:{}", n.title)));
        let d1: Vec<_> = client.d1().list(None).try_collect().await.unwrap();
        names.extend(d1.into_iter().map(|d| format!("d1:{}", d.name)));
        let r2: Vec<_> = client
            .r2()
            .list_buckets(&Default::default())
            .try_collect()
            .await
            .unwrap();
        names.extend(r2.into_iter().map(|b| format!("r2:{}", b.name)));
        names.sort();
        names
    })
}

/// Rows of a D1 query against the database named `name`.
pub fn d1_rows(emu: &sv_test::EmulatorProcess, name: &str, sql: &str) -> Vec<serde_json::Value> {
    use futures::TryStreamExt as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sv_cloudflare::install_crypto_provider();
        let config = sv_cloudflare::ClientConfig::new(
            sv_cloudflare::parse_base_url(&emu.cloudflare_api_url()).unwrap(),
            sv_cloudflare::SecretString::from(emu.token().to_owned()),
            Some(emu.account_id().to_owned()),
        );
        let client = sv_cloudflare::Client::builder_from_config(&config)
            .build()
            .unwrap();
        let dbs: Vec<_> = client.d1().list(None).try_collect().await.unwrap();
        let db = dbs.into_iter().find(|d| d.name == name).unwrap();
        let res = client.d1().query(&db.uuid, sql, &[]).await.unwrap();
        serde_json::to_value(&res[0]).unwrap()["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    })
}
