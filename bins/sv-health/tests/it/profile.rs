use crate::common::{app, sv_health};

/// Deploys `spacevision-api` to the emulator answering with 60 ms of CPU (and an exception
/// on `/err`), then sends 4 good requests and 1 failing one through its workers.dev host.
fn traffic(emu: &sv_test::EmulatorProcess) {
    deploy_and_hit(emu, true, &["/", "/", "/", "/", "/err"]);
}

/// Deploys the worker (when `deploy`) and sends GETs for `paths` to it.
pub fn deploy_and_hit(emu: &sv_test::EmulatorProcess, deploy: bool, paths: &[&str]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = emu.client().unwrap();
        let response =
            r#"{"cpu_ms": 60, "paths": {"/err": {"outcome": "exception", "status": 500}}}"#;
        let upload = sv_cloudflare::workers::WorkerUpload {
            metadata: sv_cloudflare::workers::UploadMetadata {
                main_module: Some("index.js".into()),
                compatibility_date: Some("2025-01-01".into()),
                bindings: vec![sv_cloudflare::workers::Binding::plain_text(
                    "SV_RESPONSE",
                    response,
                )],
                ..Default::default()
            },
            modules: vec![sv_cloudflare::workers::Module::esm(
                "index.js",
                "export default { fetch() { return new Response('ok') } }",
            )],
        };
        if deploy {
            client
                .workers()
                .upload_script("spacevision-api", &upload)
                .await
                .unwrap();
        }
        let http = reqwest::Client::new();
        for path in paths {
            let r = http
                .get(format!("{}{path}", emu.base_url()))
                .header("host", "spacevision-api.sv-emulator.workers.dev")
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.headers()
                    .get("x-sv-script")
                    .map(|v| v.to_str().unwrap().to_owned()),
                Some("spacevision-api".to_owned()),
                "{path} answered by the worker: {} {:?}",
                r.status(),
                r.text().await
            );
        }
    });
}

#[test]
fn profile_reads_emulated_analytics_and_names_bottlenecks() {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    traffic(&emu);
    let (_tmp, root) = app("  checks: []\n");
    let out = sv_health(&root)
        .envs(emu.cloudflare_env())
        .args(["profile", "--env", "production", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let versions = json["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1, "{json}");
    assert_eq!(versions[0]["script"], "spacevision-api");
    assert_eq!(versions[0]["requests"], 5);
    assert_eq!(versions[0]["errors"], 1);
    assert_eq!(versions[0]["error_rate"], 20.0);
    assert_eq!(versions[0]["cpu_p99_ms"], 60.0);
    let findings: Vec<(&str, &str)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["level"].as_str().unwrap(), f["title"].as_str().unwrap()))
        .collect();
    assert_eq!(
        findings,
        [
            ("critical", "high error rate"),
            ("critical", "CPU-bound requests")
        ]
    );

    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}( UTC)?", "[TIME]");
    settings.add_filter(r"\b[0-9a-f]{8}\b", "[VERSION]");
    let _guard = settings.bind_to_scope();
    for format in ["human", "markdown"] {
        let out = sv_health(&root)
            .envs(emu.cloudflare_env())
            .args(["profile", "--env", "production", "--format", format])
            .output()
            .unwrap();
        insta::assert_snapshot!(
            format!("profile_{format}"),
            String::from_utf8(out.stdout).unwrap()
        );
    }
}

#[test]
fn worker_probe_reports_deployment_and_error_rate() {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    traffic(&emu);
    let (_tmp, root) = app("  checks:\n    - { name: worker-deployed, worker: spacevision-api }\n");
    let out = sv_health(&root)
        .envs(emu.cloudflare_env())
        .args([
            "check",
            "--env",
            "production",
            "--no-alert",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = &json["checks"][0];
    assert_eq!(check["kind"], "worker");
    assert_eq!(check["status"], "healthy", "{check}");
    assert_eq!(check["metrics"]["deployed_versions"], 1.0);
    assert_eq!(check["metrics"]["requests"], 5.0);
    assert_eq!(check["metrics"]["error_rate"], 20.0);
}

#[test]
fn troubleshoot_names_the_recent_deployment_and_the_failing_store() {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    traffic(&emu);
    // `sessions` was never created: its probe fails.
    let (_tmp, root) = app(
        "  checks:\n    - { name: worker-deployed, worker: spacevision-api }\n    - { name: sessions-kv, kv: sessions }\n",
    );
    let run = |format: &str| {
        let out = sv_health(&root)
            .envs(emu.cloudflare_env())
            .args([
                "troubleshoot",
                "users see 500s",
                "--env",
                "production",
                "--format",
                format,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json["severity"], "critical");
    assert_eq!(
        json["affected_services"],
        serde_json::json!(["sessions-kv (kv)", "worker spacevision-api"])
    );
    let causes = json["likely_causes"].to_string();
    assert!(
        causes.contains("spacevision-api was deployed at"),
        "{causes}"
    );
    assert!(
        causes.contains("kv storage probe sessions-kv fails"),
        "{causes}"
    );
    assert!(
        json["next_steps"]
            .to_string()
            .contains("sv-deploy rollback")
    );

    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}( UTC)?", "[TIME]");
    settings.add_filter(r"\b[0-9a-f]{8}\b", "[VERSION]");
    settings.add_filter(r"[0-9a-f]{32}", "[ID]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    let _guard = settings.bind_to_scope();
    insta::assert_snapshot!("troubleshoot_markdown", run("markdown"));
    insta::assert_snapshot!("troubleshoot_human", run("human"));
}
