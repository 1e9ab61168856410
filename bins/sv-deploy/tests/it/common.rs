//! A copy of examples/spacevision in a temp dir, an emulator with the staging resources,
//! and a command builder for the binary under test.

use std::path::Path;

use assert_cmd::Command;
use sv_test::EmulatorProcess;

/// A healthy emulated SpaceVision API: `/health` answers `{"ok": true}`.
pub const GOOD: &str = r#"{"paths":{"/health":{"status":200,"body":"{\"ok\":true}"}}}"#;
/// Answers 500 (an exception) on `/health`.
pub const BROKEN: &str = r#"{"paths":{"/health":{"status":500,"outcome":"exception"}}}"#;
/// Healthy answers, but 2 s of CPU per request (the gate allows a p99 of 800 ms).
pub const SLOW: &str =
    r#"{"cpu_ms":2000,"paths":{"/health":{"status":200,"cpu_ms":2000,"body":"{\"ok\":true}"}}}"#;

pub struct App {
    pub dir: tempfile::TempDir,
    pub emulator: EmulatorProcess,
}

impl App {
    /// The example app and an emulator holding staging's KV, D1, R2 and Pages resources.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        sv_test::example::copy_to(dir.path()).unwrap();
        let emulator = EmulatorProcess::start().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let client = emulator.client().unwrap();
            client
                .pages()
                .create_project(&sv_cloudflare::pages::CreateProject {
                    name: "staging-spacevision-web".into(),
                    production_branch: "main".into(),
                    extra: serde_json::Map::new(),
                })
                .await
                .unwrap();
            for title in ["staging-sessions", "staging-cache"] {
                client.kv().create_namespace(title).await.unwrap();
            }
            client
                .d1()
                .create(&sv_cloudflare::d1::CreateDatabase {
                    name: "staging-main".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
            client
                .r2()
                .create_bucket(&sv_cloudflare::r2::CreateBucket {
                    name: "staging-uploads".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        });
        Self { dir, emulator }
    }

    /// The example app and an empty emulator serving `zone`: nothing applied yet.
    pub fn empty(zone: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        sv_test::example::copy_to(dir.path()).unwrap();
        let emulator = EmulatorProcess::builder()
            .arg("--zone-name")
            .arg(zone)
            .start()
            .unwrap();
        Self { dir, emulator }
    }

    /// `sv-plan` run like [`Self::cmd`] (needs `cargo build --workspace --bins`).
    pub fn sv_plan(&self) -> Command {
        let bin = sv_test::paths::cargo_bin("sv-plan").unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = Command::new(bin);
        cmd.current_dir(self.root())
            .envs(self.emulator.cloudflare_env())
            .env_remove("GITHUB_ACTIONS")
            .env_remove("SV_ENV")
            .env("USER", "tester")
            .env("NO_COLOR", "1");
        cmd
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn host(&self) -> &'static str {
        "spacevision-api-staging.sv-emulator.workers.dev"
    }

    pub fn addr(&self) -> String {
        self.emulator
            .base_url()
            .trim_start_matches("http://")
            .to_owned()
    }

    /// `sv-deploy` run in the app's directory against the emulator.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("sv-deploy").unwrap();
        cmd.current_dir(self.root())
            .envs(self.emulator.cloudflare_env())
            .env_remove("GITHUB_ACTIONS")
            .env_remove("SV_ENV")
            .env("USER", "tester")
            .env_remove("GITHUB_ACTOR")
            .env_remove("GITHUB_EVENT_PATH")
            .env_remove("GITHUB_EVENT_NAME")
            .env_remove("GITHUB_TOKEN")
            .env_remove("GITHUB_REPOSITORY")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_OUTPUT")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `sv-deploy deploy --env staging` with a 1 s gate, the Worker reached on the emulator,
    /// answering as `response` declares.
    pub fn deploy(&self, response: &str) -> Command {
        self.deploy_watching(response, "1s")
    }

    /// [`Self::deploy`] with another gate window.
    pub fn deploy_watching(&self, response: &str, window: &str) -> Command {
        let mut cmd = self.cmd();
        cmd.args([
            "deploy",
            "--env",
            "staging",
            "--gate-window",
            window,
            "--worker-url",
            &format!("http://{}", self.host()),
            "--connect-to",
            &self.addr(),
            "--annotate",
            &format!("sv/response={response}"),
        ]);
        cmd
    }

    pub fn status(&self) -> Command {
        let mut cmd = self.cmd();
        cmd.args([
            "status",
            "--env",
            "staging",
            "--worker-url",
            &format!("http://{}", self.host()),
            "--connect-to",
            &self.addr(),
        ]);
        cmd
    }

    /// The serving split from `status --format json`: (version, percent).
    pub fn split(&self) -> Vec<(String, f64)> {
        let out = self.status().args(["--format", "json"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["version_id"].as_str().unwrap().to_owned(),
                    x["percentage"].as_f64().unwrap(),
                )
            })
            .collect()
    }
}

/// Runs and parses `--format json` output.
pub fn json(cmd: &mut Command) -> (i32, serde_json::Value) {
    let out = cmd.args(["--format", "json"]).output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, v)
}

/// A local webhook receiver: answers 200 to every POST and keeps the bodies.
pub struct Receiver {
    pub url: String,
    pub bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Receiver {
    pub fn start() -> Self {
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/services/hook-secret-path",
            listener.local_addr().unwrap()
        );
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                keep.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            }
        });
        Self { url, bodies }
    }
}

/// The GitHub REST subset the emulator process serves under `/github` (it accepts the
/// emulator's token only).
pub struct GithubEmu {
    pub url: String,
    token: String,
}

impl GithubEmu {
    pub fn of(emulator: &EmulatorProcess) -> Self {
        Self {
            url: emulator.github_api_url(),
            token: emulator.token().to_owned(),
        }
    }

    /// Runs `cmd` as in a workflow run for pull request 7 of acme/spacevision.
    pub fn on_pull_request(&self, dir: &Path, cmd: &mut Command) {
        let event = dir.join("event.json");
        std::fs::write(&event, r#"{"pull_request": {"number": 7}}"#).unwrap();
        cmd.env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_REPOSITORY", "acme/spacevision")
            .env("GITHUB_API_URL", &self.url)
            .env("GITHUB_TOKEN", &self.token);
    }

    /// The comments of pull request 7.
    pub fn pr_comments(&self) -> Vec<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let gh = sv_github::GitHub::new(
                url::Url::parse(&self.url).unwrap(),
                sv_github::SecretString::from(self.token.clone()),
                sv_github::RepoRef::new("acme", "spacevision").unwrap(),
            )
            .unwrap();
            gh.list_issue_comments(7)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.body)
                .collect()
        })
    }
}
