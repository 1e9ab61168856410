//! Shared set-up: the spacevision app copied to a temp dir with its `health` section
//! replaced, a controllable local HTTP server, and the command builder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use assert_cmd::Command;

/// Variables of the test process that must not leak into the binary under test.
const CLEARED: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_EVENT_PATH",
    "GITHUB_EVENT_NAME",
    "GITHUB_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "GITHUB_RUN_ID",
    "SV_ENV",
    "SV_CONFIG",
    "SV_FORMAT",
    "SLACK_ONCALL_WEBHOOK",
    "SLACK_RELEASES_WEBHOOK",
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_BASE_URL",
    "CLOUDFLARE_ACCOUNT_ID",
];

pub fn sv_health(dir: &Path) -> Command {
    Command::from_std(sv_health_std(dir))
}

/// The same command as a plain `std::process::Command`, for tests that spawn it.
pub fn sv_health_std(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("sv-health"));
    for k in CLEARED {
        cmd.env_remove(k);
    }
    cmd.current_dir(dir).env("NO_COLOR", "1").env(
        "CLOUDFLARE_ACCOUNT_ID",
        sv_test::emulator::DEFAULT_ACCOUNT_ID,
    );
    cmd
}

/// The spacevision example in a temp dir, with `health:` replaced by `health_yaml` (an
/// indented block without the `health:` line).
pub fn app(health_yaml: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("spacevision");
    sv_test::example::copy_to(&root).unwrap();
    let yaml = std::fs::read_to_string(root.join("sv.yaml")).unwrap();
    let start = yaml
        .find("\nhealth:\n")
        .expect("sv.yaml has a health section")
        + 1;
    let end = start
        + yaml[start..]
            .find("\nbackup:")
            .expect("backup follows health")
        + 1;
    let patched = format!("{}health:\n{health_yaml}\n{}", &yaml[..start], &yaml[end..]);
    std::fs::write(root.join("sv.yaml"), patched).unwrap();
    (tmp, root)
}

/// A local HTTP server: `/ok` answers `{"ok":true}`, `/down` 503, and `/switch` 200 or
/// 503 as the returned flag says.
pub struct HttpServer {
    pub base: String,
    pub healthy: Arc<AtomicBool>,
    _runtime: tokio::runtime::Runtime,
}

impl HttpServer {
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }
}

pub fn http_server() -> HttpServer {
    use axum::routing::get;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let healthy = Arc::new(AtomicBool::new(true));
    let flag = healthy.clone();
    let app = axum::Router::new()
        .route(
            "/ok",
            get(|| async { axum::Json(serde_json::json!({"ok": true})) }),
        )
        .route(
            "/down",
            get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .route(
            "/switch",
            get(move || {
                let up = flag.load(Ordering::SeqCst);
                async move {
                    if up {
                        (axum::http::StatusCode::OK, "up")
                    } else {
                        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                    }
                }
            }),
        );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    HttpServer {
        base,
        healthy,
        _runtime: runtime,
    }
}

/// The GitHub REST subset of an sv-emulator process (under `/github`; it accepts the
/// emulator's token only).
pub struct GitHubServer {
    pub api_url: String,
    pub token: String,
    emulator: sv_test::EmulatorProcess,
}

impl GitHubServer {
    /// The GitHub emulator's whole state (repositories, issues, comments).
    pub fn snapshot(&self) -> serde_json::Value {
        self.emulator.github_state().unwrap()
    }
}

pub fn github_server() -> GitHubServer {
    let emulator = sv_test::EmulatorProcess::start().unwrap();
    GitHubServer {
        api_url: emulator.github_api_url(),
        token: emulator.token().to_owned(),
        emulator,
    }
}

/// Insta filters for times, durations and ports.
pub fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "[TIME]"),
        (r"\d+(\.\d+)? ?ms", "[MS]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
    ]
}

/// Creates the production data stores of spacevision (`sessions`, `main`, `uploads`) in the
/// emulator, as sv-plan would.
pub fn seed_stores(emu: &sv_test::EmulatorProcess) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = emu.client().unwrap();
        client.kv().create_namespace("sessions").await.unwrap();
        client
            .d1()
            .create(&sv_cloudflare::d1::CreateDatabase {
                name: "main".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        client
            .r2()
            .create_bucket(&sv_cloudflare::r2::CreateBucket {
                name: "uploads".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    });
}
