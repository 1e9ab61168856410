use crate::common::{app, github_server, http_server, sv_health};

#[test]
fn outage_opens_one_issue_and_recovery_closes_it() {
    let http = http_server();
    let gh = github_server();
    let yaml = format!(
        "  checks:\n    - {{ name: api, http: \"{}/switch\" }}\n  alert: {{ after_failures: 3, repeat: 30m, channels: [slack-oncall, github-issue], escalate: [bob, carol] }}\n",
        http.base
    );
    let (_tmp, root) = app(&yaml);
    let run = || {
        sv_health(&root)
            .env("GITHUB_TOKEN", &gh.token)
            .env("GITHUB_REPOSITORY", "acme/spacevision")
            .env("GITHUB_API_URL", &gh.api_url)
            .args(["check", "--env", "production", "--format", "json"])
            .output()
            .unwrap()
    };
    let issues = || {
        let snap = gh.snapshot();
        let all = snap
            .pointer("/repos/acme~1spacevision/issues")
            .or_else(|| snap.pointer("/repos/acme/spacevision/issues"))
            .cloned();
        let text = serde_json::to_string(&snap).unwrap();
        (all, text)
    };
    http.set_healthy(false);
    for i in 1..=4 {
        let out = run();
        assert_eq!(out.status.code(), Some(1), "run {i}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let actions = json["actions"].as_array().unwrap();
        if i == 3 {
            assert_eq!(actions.len(), 1, "{actions:?}");
            assert_eq!(actions[0]["action"], "open");
            let deliveries = json["deliveries"].as_array().unwrap();
            let issue = deliveries
                .iter()
                .find(|d| d["channel"] == "github-issue")
                .unwrap();
            assert_eq!(issue["delivered"], true, "{issue}");
            let slack = deliveries
                .iter()
                .find(|d| d["channel"] == "slack-oncall")
                .unwrap();
            assert_eq!(slack["delivered"], false);
        } else {
            assert!(actions.is_empty(), "run {i}: {actions:?}");
        }
    }
    let (_, text) = issues();
    assert_eq!(
        text.matches("sv:health:production:api").count(),
        1,
        "exactly one issue carries the marker: {text}"
    );
    assert!(text.contains("\"open\""), "{text}");
    assert!(
        text.contains("bob"),
        "assigned to the first of the escalation list: {text}"
    );
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join(".sv/health/production.alerts.json")).unwrap(),
    )
    .unwrap();
    let issue = state["checks"]["api"]["incident"]["issue"]
        .as_u64()
        .unwrap();

    http.set_healthy(true);
    let out = run();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["actions"][0]["action"], "resolve");
    let (_, text) = issues();
    assert!(!text.contains("\"open\""), "issue #{issue} closed: {text}");
    let audit = std::fs::read_to_string(root.join(".sv/audit.jsonl")).unwrap();
    assert!(audit.contains("open-incident-issue") && audit.contains("close-incident-issue"));
}

#[test]
fn rollout_marker_suppresses_and_dry_run_writes_nothing() {
    let http = http_server();
    let gh = github_server();
    let yaml = format!(
        "  checks:\n    - {{ name: api, http: \"{}/down\" }}\n  alert: {{ after_failures: 1, channels: [github-issue] }}\n",
        http.base
    );
    let (_tmp, root) = app(&yaml);
    let run = |extra: &[&str]| {
        let out = sv_health(&root)
            .env("GITHUB_TOKEN", &gh.token)
            .env("GITHUB_REPOSITORY", "acme/spacevision")
            .env("GITHUB_API_URL", &gh.api_url)
            .args(["check", "--env", "production", "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    // Dry run: the open is decided but nothing is written or sent.
    let json = run(&["--dry-run"]);
    assert_eq!(json["actions"][0]["action"], "open");
    assert!(!root.join(".sv/health").exists());
    assert!(
        !serde_json::to_string(&gh.snapshot())
            .unwrap()
            .contains("sv:health")
    );

    // A rollout in progress holds the alert back.
    std::fs::create_dir_all(root.join(".sv/deployments")).unwrap();
    std::fs::write(root.join(".sv/deployments/production.rollout"), "").unwrap();
    let json = run(&[]);
    assert_eq!(json["actions"][0]["action"], "suppressed");
    assert_eq!(json["actions"][0]["reason"]["kind"], "deploy_in_progress");
    assert!(
        !serde_json::to_string(&gh.snapshot())
            .unwrap()
            .contains("sv:health")
    );

    // Rollout over: the outage that outlasted it opens at the next run.
    std::fs::remove_file(root.join(".sv/deployments/production.rollout")).unwrap();
    let json = run(&[]);
    assert_eq!(json["actions"][0]["action"], "open");
    assert_eq!(json["deliveries"][0]["delivered"], true, "{json}");
}

#[test]
fn maintenance_window_from_config_suppresses() {
    let http = http_server();
    let now = chrono::Utc::now();
    let hhmm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    // A daily window from an hour ago to an hour from now.
    let window = format!(
        "{} - {} UTC",
        hhmm(now - chrono::TimeDelta::hours(1)),
        hhmm(now + chrono::TimeDelta::hours(1))
    );
    let yaml = format!(
        "  checks:\n    - {{ name: api, http: \"{}/down\" }}\n  alert: {{ after_failures: 1, channels: [github-issue] }}\n  maintenance: [\"{window}\"]\n",
        http.base
    );
    let (_tmp, root) = app(&yaml);
    let out = sv_health(&root)
        .args(["check", "--env", "production", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["actions"][0]["action"], "suppressed", "{json}");
    assert_eq!(json["actions"][0]["reason"]["kind"], "maintenance");
    assert_eq!(json["actions"][0]["reason"]["window"], window);
    assert_eq!(json["deliveries"], serde_json::json!([]));
}
