//! `degraded_after` / `unhealthy_after` across runs (history fixtures stand in for earlier
//! runs), flapping control, silences and the Worker error-rate thresholds, through the real
//! binary.

use chrono::{TimeDelta, Utc};

use crate::common::{app, github_server, http_server, sv_health};

fn check(root: &std::path::Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let out = sv_health(root)
        .args(["check", "--env", "production", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

fn api(json: &serde_json::Value) -> &serde_json::Value {
    json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "api")
        .unwrap()
}

#[test]
fn reported_status_follows_consecutive_failures() {
    let http = http_server();
    let yaml = format!(
        "  checks:\n    - {{ name: api, http: \"{}/switch\", degraded_after: 2, unhealthy_after: 3 }}\n",
        http.base
    );
    let (_tmp, root) = app(&yaml);
    http.set_healthy(false);
    // (exit code, reported status) of four failing runs, then a passing one.
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (code, json) = check(&root, &[]);
        seen.push((code, api(&json)["status"].as_str().unwrap().to_owned()));
    }
    http.set_healthy(true);
    let (code, json) = check(&root, &[]);
    seen.push((code, api(&json)["status"].as_str().unwrap().to_owned()));
    let expected: Vec<(Option<i32>, String)> = [
        (0, "healthy"),
        (0, "degraded"),
        (1, "unhealthy"),
        (1, "unhealthy"),
        (0, "healthy"),
    ]
    .into_iter()
    .map(|(c, s)| (Some(c), s.to_owned()))
    .collect();
    assert_eq!(seen, expected);
    // The history keeps what the probe found: four failures, then a pass.
    let history = std::fs::read_to_string(root.join(".sv/health/production.history")).unwrap();
    let found: String = history
        .lines()
        .filter(|l| l.starts_with("api "))
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(found, "uuuuh");
}

#[test]
fn earlier_failures_in_the_history_count() {
    let http = http_server();
    let yaml = format!(
        "  checks:\n    - {{ name: api, http: \"{}/down\", unhealthy_after: 3 }}\n    - {{ name: ok, http: \"{}/ok\" }}\n",
        http.base, http.base
    );
    let (_tmp, root) = app(&yaml);
    let history = root.join(".sv/health/production.history");
    std::fs::create_dir_all(history.parent().unwrap()).unwrap();
    let t = |minutes_ago: i64| (Utc::now() - TimeDelta::minutes(minutes_ago)).timestamp();
    // A pass, then two failures (a run of the other check only in between is skipped).
    std::fs::write(
        &history,
        format!(
            "sv-health-history 1\n@{}\napi h 20\n@{}\napi u 5000\n@{}\nok h 3\n@{}\napi u 5000\n",
            t(20),
            t(15),
            t(10),
            t(5)
        ),
    )
    .unwrap();
    let (code, json) = check(&root, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(api(&json)["status"], "unhealthy");
    assert_eq!(api(&json)["metrics"]["consecutive_failures"], 3.0);
    assert!(api(&json).get("probed").is_none(), "{}", api(&json));

    // Without the earlier failures the same run is only degraded (degraded_after 1).
    std::fs::remove_file(&history).unwrap();
    let (code, json) = check(&root, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(api(&json)["status"], "degraded");
    assert_eq!(api(&json)["probed"], "unhealthy");
    let errors = api(&json)["errors"].to_string();
    assert!(
        errors.contains("1 failing run(s) in a row: reported degraded until 3 (unhealthy_after)"),
        "{errors}"
    );
    let (code, _) = check(&root, &["--degraded-is-failure"]);
    assert_eq!(code, Some(1), "degraded counts with --degraded-is-failure");
}

#[test]
fn flapping_opens_on_n_of_the_last_m_failures() {
    let http = http_server();
    let yaml = format!(
        "  checks:\n    - {{ name: api, http: \"{}/switch\" }}\n  alert: {{ after_failures: 3, channels: [github-issue], flapping: {{ failures: 2, window: 4 }} }}\n",
        http.base
    );
    let (_tmp, root) = app(&yaml);
    // down, up, down: never 3 in a row, but 2 of the last 4 → opens on the third run.
    let mut opened = Vec::new();
    for (i, up) in [false, true, false, true].into_iter().enumerate() {
        http.set_healthy(up);
        let (_, json) = check(&root, &[]);
        let actions: Vec<String> = json["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap().to_owned())
            .collect();
        opened.push((i + 1, actions));
    }
    assert_eq!(
        opened,
        [
            (1, vec![]),
            (2, vec![]),
            (3, vec!["open".to_owned()]),
            // A pass while 2 of the last 4 still failed: the incident stays open.
            (4, vec![]),
        ]
    );
}

#[test]
fn silenced_checks_run_and_report_but_never_alert() {
    let http = http_server();
    let gh = github_server();
    let until = (Utc::now() + TimeDelta::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let yaml = format!(
        "  checks:\n    - {{ name: api, http: \"{base}/down\" }}\n    - {{ name: web, http: \"{base}/down\" }}\n  alert: {{ after_failures: 1, channels: [github-issue] }}\n  silences:\n    - {{ check: api, until: {until}, reason: \"vendor outage, OPS-7\" }}\n    - {{ check: web, until: 2020-01-01, reason: expired }}\n",
        base = http.base
    );
    let (_tmp, root) = app(&yaml);
    let run = || {
        let out = sv_health(&root)
            .env("GITHUB_TOKEN", &gh.token)
            .env("GITHUB_REPOSITORY", "acme/spacevision")
            .env("GITHUB_API_URL", &gh.api_url)
            .args(["check", "--env", "production", "--format", "json"])
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), json)
    };
    for i in 1..=2 {
        let (code, json) = run();
        // A silence holds alerts back; the check still fails the run.
        assert_eq!(code, Some(1));
        let api = api(&json);
        assert_eq!(api["status"], "unhealthy");
        assert_eq!(api["silenced"]["reason"], "vendor outage, OPS-7");
        let web = json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "web")
            .unwrap();
        assert!(web.get("silenced").is_none(), "expired silence: {web}");
        let actions: Vec<(String, String)> = json["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["check"].as_str().unwrap().to_owned(),
                    a["action"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if i == 1 {
            assert_eq!(
                actions,
                [
                    ("api".to_owned(), "suppressed".to_owned()),
                    ("web".to_owned(), "open".to_owned())
                ]
            );
        } else {
            assert_eq!(actions, [("api".to_owned(), "suppressed".to_owned())]);
        }
    }
    let issues = serde_json::to_string(&gh.snapshot()).unwrap();
    assert_eq!(issues.matches("sv:health:production:web").count(), 1);
    assert_eq!(
        issues.matches("sv:health:production:api").count(),
        0,
        "a silenced check opens no issue: {issues}"
    );

    let out = sv_health(&root)
        .args(["check", "--env", "production", "--no-alert"])
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains("silenced: until ") && human.contains("(vendor outage, OPS-7)"),
        "{human}"
    );
}

#[test]
fn worker_error_rate_is_thresholded() {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    // 4 good requests and 1 exception: a 20% error rate.
    crate::profile::deploy_and_hit(&emu, true, &["/", "/", "/", "/", "/err"]);
    let statuses: Vec<String> = [
        "",
        "degraded_error_rate: 5%",
        "degraded_error_rate: 5%, unhealthy_error_rate: 10%",
        "unhealthy_error_rate: 25%",
    ]
    .iter()
    .map(|limits| {
        let sep = if limits.is_empty() { "" } else { ", " };
        let yaml =
            format!("  checks:\n    - {{ name: worker, worker: spacevision-api{sep}{limits} }}\n");
        let (_tmp, root) = app(&yaml);
        let out = sv_health(&root)
            .envs(emu.cloudflare_env())
            .args(["check", "--env", "production", "--format", "json"])
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let worker = &json["checks"][0];
        assert_eq!(worker["metrics"]["error_rate"], 20.0, "{worker}");
        let status = worker["status"].as_str().unwrap().to_owned();
        if status != "healthy" {
            assert!(
                worker["errors"].to_string().contains("error_rate 20 above"),
                "{worker}"
            );
        }
        status
    })
    .collect();
    assert_eq!(statuses, ["healthy", "degraded", "unhealthy", "healthy"]);
}

#[test]
fn watch_counts_consecutive_failures_over_its_own_runs() {
    let http = http_server();
    let yaml = format!(
        "  checks:\n    - {{ name: down, http: \"{}/down\", interval: 1s, timeout: 1s, unhealthy_after: 2 }}\n",
        http.base
    );
    let (_tmp, root) = app(&yaml);
    let out = sv_health(&root)
        .args(["watch", "--env", "production", "--for", "3500ms"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let statuses: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).filter(|_| l.contains(" down ")))
        .collect();
    assert!(statuses.len() >= 2, "{text}");
    assert_eq!(statuses[0], "degraded", "{text}");
    assert!(statuses[1..].iter().all(|s| *s == "unhealthy"), "{text}");
}
