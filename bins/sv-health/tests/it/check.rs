use crate::common::{app, http_server, seed_stores, sv_health};

fn health_yaml(base: &str) -> String {
    format!(
        r#"  checks:
    - {{ name: api, http: "{base}/ok", expect: {{ status: 200, json: {{ "$.ok": true }}, headers: {{ content-type: application/json }} }}, timeout: 5s }}
    - {{ name: sessions-kv, kv: sessions }}
    - {{ name: main-db, d1: main, query: "SELECT 1 AS one" }}
    - {{ name: uploads-r2, r2: uploads }}
"#
    )
}

#[test]
fn healthy_run_exits_0_and_appends_history() {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    seed_stores(&emu);
    let http = http_server();
    let (_tmp, root) = app(&health_yaml(&http.base));
    for run in 1..=2 {
        let out = sv_health(&root)
            .envs(emu.cloudflare_env())
            .args(["check", "--env", "production", "--format", "json"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "run {run}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["overall"], "healthy");
        let checks = json["checks"].as_array().unwrap();
        let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["api", "main-db", "sessions-kv", "uploads-r2"]);
        for c in checks {
            assert_eq!(c["status"], "healthy", "{c}");
        }
        let history = std::fs::read_to_string(root.join(".sv/health/production.history")).unwrap();
        assert_eq!(history.lines().filter(|l| l.starts_with('@')).count(), run);
    }
}

#[test]
fn canary_probes_fail_when_stores_are_missing() {
    // No seed: the namespace, database and bucket do not exist.
    let emu = sv_test::EmulatorProcess::start().unwrap();
    let http = http_server();
    let (_tmp, root) = app(&health_yaml(&http.base));
    let out = sv_health(&root)
        .envs(emu.cloudflare_env())
        .args(["check", "--env", "production", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |name: &str| {
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| (c["status"].clone(), c["errors"].clone()))
            .unwrap()
    };
    assert_eq!(status("api").0, "healthy");
    let (kv, kv_errors) = status("sessions-kv");
    assert_eq!(kv, "unhealthy");
    assert!(
        kv_errors.to_string().contains("does not exist"),
        "{kv_errors}"
    );
    assert_eq!(status("main-db").0, "unhealthy");
    assert_eq!(status("uploads-r2").0, "unhealthy");
}

#[test]
fn unhealthy_http_check_exits_1_and_only_selects() {
    let http = http_server();
    let yaml = format!(
        "  checks:\n    - {{ name: up, http: \"{0}/ok\" }}\n    - {{ name: down, http: \"{0}/down\", retries: 1 }}\n",
        http.base
    );
    let (_tmp, root) = app(&yaml);
    let out = sv_health(&root)
        .args(["check", "--env", "production", "--no-alert"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("status 503, expected 2xx"), "{text}");
    // --only leaves the failing check out: healthy, exit 0, no Cloudflare token needed.
    sv_health(&root)
        .args(["check", "--env", "production", "--only", "up"])
        .assert()
        .success();
    // An unknown name is bad input.
    sv_health(&root)
        .args(["check", "--env", "production", "--only", "nope"])
        .assert()
        .code(2);
}

#[test]
fn watch_logs_each_result_until_for_elapses() {
    let http = http_server();
    let yaml = format!(
        "  checks:\n    - {{ name: up, http: \"{0}/ok\", interval: 1s, timeout: 1s }}\n    - {{ name: down, http: \"{0}/down\", interval: 1s, timeout: 1s }}\n",
        http.base
    );
    let (_tmp, root) = app(&yaml);
    let out = sv_health(&root)
        .args(["watch", "--env", "production", "--for", "2500ms"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let ups = text.lines().filter(|l| l.contains(" up healthy ")).count();
    let downs = text
        .lines()
        .filter(|l| l.contains(" down unhealthy ") && l.contains("status 503"))
        .count();
    // Ticks at 0 s, 1 s and 2 s (a failing check's retries may delay its last one).
    assert!(ups >= 2 && downs >= 1, "{text}");
    assert!(!root.join(".sv/health/production.history").exists());
}

#[test]
fn in_actions_writes_outputs_and_job_summary() {
    let http = http_server();
    let (_tmp, root) = app(&format!(
        "  checks:\n    - {{ name: up, http: \"{}/ok\" }}\n",
        http.base
    ));
    let output = root.join("gh-output");
    let summary = root.join("gh-summary.md");
    sv_health(&root)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["check", "--env", "production"])
        .assert()
        .success();
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("status"), "{outputs}");
    assert!(outputs.contains("healthy"), "{outputs}");
    assert!(outputs.contains("production.history"), "{outputs}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("Health: healthy") && md.contains("| up |"),
        "{md}"
    );
}
