//! `--pause-on-inconclusive` against sv-emulator: a gate window with too little traffic to
//! judge holds the split (outcome `paused`, exit 1) instead of moving on, and a human then
//! promotes the new version with `rollback --to`.

use crate::common::{App, GOOD};

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\d{14}-[0-9a-f]{6}", "[ID]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[VERSION]",
        ),
        (r"\d+(\.\d+)? ms", "[N] ms"),
        (r"\d+ requests", "[N] requests"),
        (r"\d+ request\(s\)", "[N] request(s)"),
        (r"`[0-9a-f]{8}`", "`[SHORT]`"),
        (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z?", "[TIME]"),
        (r"\d+/\d+ \(", "[E]/[N] ("),
    ]
}

fn version_of(out: &std::process::Output) -> String {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["version_id"].as_str().unwrap().to_owned()
}

#[test]
fn an_inconclusive_gate_pauses_the_rollout_then_a_human_promotes() {
    let app = App::start();
    // The gate's own checks send a couple of requests per window: far fewer than 1000, so
    // every analytics verdict is inconclusive.
    let config = app.root().join("sv.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        "gate: { window: 2m,",
        "gate: { window: 2m, min_requests: 1000,",
    );
    assert!(text.contains("min_requests: 1000"));
    std::fs::write(&config, text).unwrap();

    // Without the flag an inconclusive gate passes on its HTTP checks: v1 reaches 100%.
    let first = app
        .deploy(GOOD)
        .args(["--skip-pages", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let v1 = version_of(&first);

    // With it, the first step (50% on staging) holds and the deploy stops.
    let out = app
        .deploy(GOOD)
        .args(["--skip-build", "--skip-pages", "--pause-on-inconclusive"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(": paused"), "{stdout}");
    assert!(!stdout.contains("step 100%"), "{stdout}");
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("paused_human", stdout);
    });
    let split = app.split();
    assert_eq!(split.len(), 2, "{split:?}");
    let v2 = split
        .iter()
        .find(|(v, _)| *v != v1)
        .map(|(v, _)| v.clone())
        .unwrap();
    for (_, percent) in &split {
        assert!((percent - 50.0).abs() < 0.01, "{split:?}");
    }

    // The history records the pause at 50%.
    let history = app
        .cmd()
        .args(["history", "--env", "staging", "--format", "markdown"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&history.stdout);
    assert!(md.contains("paused"), "{md}");
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("paused_history_markdown", md);
    });

    // A human decides: the new version takes all traffic.
    let promoted = app
        .cmd()
        .args(["rollback", "--env", "staging", "--to", &v2])
        .output()
        .unwrap();
    assert_eq!(promoted.status.code(), Some(0), "{promoted:?}");
    assert_eq!(app.split(), [(v2, 100.0)]);
}

/// The example app with a gate that never has enough traffic to judge, deployed once (v1),
/// then a second deploy paused at staging's first step (50%): (app, v1, v2, release id).
fn paused() -> (App, String, String, String) {
    let app = App::start();
    let config = app.root().join("sv.yaml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "gate: { window: 2m,",
        "gate: { window: 2m, min_requests: 1000,",
    );
    std::fs::write(&config, text).unwrap();
    let first = app
        .deploy(GOOD)
        .args(["--skip-pages", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let v1 = version_of(&first);
    let out = app
        .deploy(GOOD)
        .args([
            "--skip-build",
            "--pause-on-inconclusive",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "paused");
    let reason = v["reason"].as_str().unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(
        reason.contains(&format!("sv-deploy resume --env staging {id}")),
        "{reason}"
    );
    let v2 = v["version_id"].as_str().unwrap().to_owned();
    (app, v1, v2, id)
}

fn history(app: &App) -> Vec<serde_json::Value> {
    std::fs::read_to_string(app.root().join(".sv/deployments/staging.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn resume_continues_the_remaining_steps_of_a_paused_release() {
    let (app, _v1, v2, id) = paused();
    let out = app
        .cmd()
        .args([
            "resume",
            "--env",
            "staging",
            &id,
            "--gate-window",
            "1s",
            "--worker-url",
            &format!("http://{}", app.host()),
            "--connect-to",
            &app.addr(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "succeeded");
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["resumed"], true);
    // Only the remaining step ran, gated again; then Pages.
    let steps: Vec<u64> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["percent"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [100]);
    assert_eq!(v["pages"]["project"], "staging-spacevision-web");
    assert_eq!(app.split(), [(v2, 100.0)]);
    // The history now says how the release ended.
    let last = history(&app).pop().unwrap();
    assert_eq!(last["id"], id.as_str());
    assert_eq!(last["kind"], "resume");
    assert_eq!(last["outcome"], "succeeded");
    assert_eq!(last["percent"], 100);

    // `status ID` tells the release's story from any machine (the records kept in KV).
    std::fs::remove_dir_all(app.root().join(".sv/deployments")).unwrap();
    let status = app
        .cmd()
        .args(["status", "--env", "staging", &id, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let story: Vec<(&str, &str)> = status["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(story, [("deploy", "paused"), ("resume", "succeeded")]);
    let unknown = app
        .cmd()
        .args(["status", "--env", "staging", "20000101000000-000000"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");

    // It is no longer paused: a second resume is refused (from the KV records too).
    let again = app
        .cmd()
        .args(["resume", "--env", "staging", &id])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not paused"));
}

#[test]
fn rollback_of_a_paused_release_returns_its_previous_version() {
    let (app, v1, _v2, id) = paused();
    let out = app
        .cmd()
        .args(["rollback", "--env", "staging", &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(app.split(), [(v1, 100.0)]);
    // The split it paused at is gone: nothing to resume.
    let resume = app
        .cmd()
        .args(["resume", "--env", "staging", &id])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&resume.stderr);
    assert_eq!(resume.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("changed since release"), "{stderr}");
    // An unknown release is bad input.
    let unknown = app
        .cmd()
        .args(["rollback", "--env", "staging", "20000101000000-000000"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
}
