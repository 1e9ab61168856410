//! sv-plan end to end against sv-emulator, on a copy of examples/spacevision.
#![allow(clippy::unwrap_used)] // tests may unwrap (workspace rule); helpers outside #[test] need it said

mod act;
mod backup;
mod generate;
mod github;
mod lifecycle;
mod output;
mod pages;
mod r2_state;
mod state;

use std::path::PathBuf;

use assert_cmd::Command;
use sv_test::EmulatorProcess;
use tempfile::TempDir;

/// The example app in a temp dir, and an emulator serving its zone.
pub struct App {
    pub emu: EmulatorProcess,
    pub dir: TempDir,
}

impl App {
    #[allow(clippy::new_without_default)] // starts a process: not a default value
    pub fn new() -> App {
        App::with_emulator_args(&[])
    }

    /// As [`App::new`], with extra `sv-emulator` flags (latency, faults).
    pub fn with_emulator_args(args: &[&str]) -> App {
        App::build("spacevision.app", args)
    }

    /// As [`App::new`], with the emulator serving `zone` (e.g. staging's).
    pub fn with_zone(zone: &str) -> App {
        App::build(zone, &[])
    }

    fn build(zone: &str, args: &[&str]) -> App {
        let mut builder = EmulatorProcess::builder().arg("--zone-name").arg(zone);
        for a in args {
            builder = builder.arg(*a);
        }
        let emu = builder.start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        sv_test::example::copy_to(dir.path()).unwrap();
        App { emu, dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Replaces `from` (which must occur) with `to` in sv.yaml.
    pub fn edit(&self, from: &str, to: &str) {
        let path = self.path("sv.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "sv.yaml has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// The sv-plan command with this app's directory and environment.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("sv-plan"));
        cmd.current_dir(self.dir.path())
            .envs(self.emu.cloudflare_env())
            .env("GITHUB_ACTOR", "alice")
            .env("SV_ENV", "production")
            .env("NO_COLOR", "1")
            .env("SLACK_ONCALL_WEBHOOK", "https://hooks.invalid/oncall")
            .env("SLACK_RELEASES_WEBHOOK", "https://hooks.invalid/releases")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("SV_FORMAT")
            .env_remove("SV_CONFIG");
        cmd
    }

    /// Runs sv-plan; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn client(&self) -> sv_cloudflare::Client {
        self.emu.client().unwrap()
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Deploys the Worker that routes and custom domains point at (sv-deploy's job).
    pub fn deploy_worker(&self) {
        self.deploy_worker_named("spacevision-api");
    }

    /// Deploys a Worker called `name`.
    pub fn deploy_worker_named(&self, name: &str) {
        use sv_cloudflare::workers::{Module, UploadMetadata, WorkerUpload};
        let client = self.client();
        let upload = WorkerUpload {
            metadata: UploadMetadata {
                main_module: Some("index.js".into()),
                ..UploadMetadata::default()
            },
            modules: vec![Module::esm(
                "index.js",
                "export default { fetch() { return new Response('ok') } }",
            )],
        };
        self.block_on(client.workers().upload_script(name, &upload))
            .unwrap();
    }

    /// Creates an A record at `api.` of the zone that sv.yaml does not manage, so creating
    /// sv.yaml's CNAME there fails (Cloudflare refuses a CNAME beside an A record: 81053) —
    /// a real API refusal for tests of failed applies. Returns (zone id, record id).
    pub fn occupy_api_host(&self) -> (String, String) {
        use sv_cloudflare::dns::DnsRecordInput;
        let client = self.client();
        self.block_on(async {
            let zone = client
                .zones()
                .find_for_hostname("spacevision.app")
                .await
                .unwrap()
                .unwrap();
            let record = client
                .dns()
                .create(
                    &zone.id,
                    &DnsRecordInput {
                        record_type: "A".into(),
                        name: "api.spacevision.app".into(),
                        content: "192.0.2.99".into(),
                        ttl: 1,
                        proxied: None,
                        comment: None,
                        tags: Vec::new(),
                        priority: None,
                        data: None,
                    },
                )
                .await
                .unwrap();
            (zone.id, record.id)
        })
    }

    /// Undoes [`App::occupy_api_host`].
    pub fn free_api_host(&self, (zone_id, record_id): &(String, String)) {
        let client = self.client();
        self.block_on(client.dns().delete(zone_id, record_id))
            .unwrap();
    }

    /// Deploys the worker and applies the config; asserts it succeeded.
    pub fn apply_all(&self) {
        self.deploy_worker();
        let (code, out, err) = self.run(&["apply", "--auto-approve"]);
        assert_eq!(code, 0, "{out}\n{err}");
    }
}

/// Filters for ids, times, digests and temp paths in snapshots.
pub fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"sha256:[0-9a-f]{12}", "sha256:[digest]"),
        (r"\b[0-9a-f]{32}\b", "[id]"),
        (
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "[uuid]",
        ),
        (
            r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?(Z| UTC)?",
            "[time]",
        ),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
    ]
}
