//! End to end against sv-emulator: ordered builds, a healthy gradual rollout, a broken and a
//! slow version refused or rolled back automatically, manual rollback, history, status.

use crate::common::{App, BROKEN, GOOD, GithubEmu, Receiver, SLOW, json};

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\d{14}-[0-9a-f]{6}", "[ID]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[VERSION]",
        ),
        (r"\d+(\.\d+)? ms", "[N] ms"),
        (r"\d+ requests", "[N] requests"),
        (r"\d+ files, \d+ uploaded", "[N] files, [N] uploaded"),
        (r"https://[0-9a-f]{8}\.", "https://[SHORT]."),
        (r"\d+/\d+ \(", "[E]/[N] ("),
    ]
}

fn percent_of(split: &[(String, f64)], version: &str) -> f64 {
    split
        .iter()
        .find(|(v, _)| v == version)
        .map_or(0.0, |(_, p)| *p)
}

#[test]
fn ordered_builds_healthy_rollout_automatic_and_manual_rollback() {
    let app = App::start();

    // First deploy: every workspace built in dependency order, the new Worker at 100%.
    let (code, first) = json(&mut app.deploy(GOOD));
    assert_eq!(code, 0, "{first:#}");
    assert_eq!(first["outcome"], "succeeded");
    assert_eq!(
        first["waves"],
        serde_json::json!([["shared"], ["web", "worker"], ["tests"]])
    );
    let built: Vec<(&str, u64)> = first["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["workspace"].as_str().unwrap(),
                b["wave"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        built,
        [("shared", 1), ("web", 2), ("worker", 2), ("tests", 3)]
    );
    assert!(app.root().join("worker/dist/index.js").is_file());
    // The built web output went to Pages as a preview deployment of the staging branch.
    assert_eq!(first["pages"]["project"], "staging-spacevision-web");
    assert!(first["pages"]["files"].as_u64().unwrap() > 3, "{first:#}");
    assert_eq!(first["pages"]["files"], first["pages"]["uploaded"]);
    let v1 = first["version_id"].as_str().unwrap().to_owned();

    // Second deploy: staging rolls out 50% → 100%, each step gated; a secret goes along
    // without ever being printed.
    let out = app
        .deploy(GOOD)
        .args(["--skip-build", "--secret", "API_KEY"])
        .env("API_KEY", "s3cr3t-api-key-value")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("s3cr3t") && !stderr.contains("s3cr3t"));
    assert!(
        stdout.contains("API_KEY (secret from $API_KEY)"),
        "{stdout}"
    );
    assert!(stdout.contains("step 50%: pass"), "{stdout}");
    assert!(stdout.contains("step 100%: pass"), "{stdout}");
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("healthy_rollout_human", stdout);
    });
    let v2 = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("new version: "))
        .unwrap()
        .to_owned();
    assert_eq!(app.split(), vec![(v2.clone(), 100.0)]);

    // A version answering 500 on /health fails its smoke test: no traffic ever moves.
    let out = app
        .deploy(BROKEN)
        .args(["--skip-build", "--format", "markdown"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let md = String::from_utf8_lossy(&out.stdout);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("broken_version_markdown", md);
    });
    assert_eq!(app.split(), vec![(v2.clone(), 100.0)]);

    // A slow version passes the smoke test, takes 50%, fails the gate on CPU p99 and is
    // rolled back automatically.
    let (code, slow) = json(app.deploy(SLOW).arg("--skip-build"));
    assert_eq!(code, 1, "{slow:#}");
    assert_eq!(slow["outcome"], "rolled_back");
    assert_eq!(slow["smoke"]["verdict"], "pass");
    assert_eq!(slow["steps"][0]["percent"], 50);
    assert_eq!(slow["steps"][0]["gate"]["verdict"], "fail");
    assert!(
        slow["reason"]
            .as_str()
            .unwrap()
            .contains("CPU time p99 2000 ms is above the gate's 800 ms"),
        "{slow:#}"
    );
    assert_eq!(slow["steps"].as_array().unwrap().len(), 1);
    let split = app.split();
    assert_eq!(percent_of(&split, &v2), 100.0, "{split:?}");

    // Manual rollback to the first version, then history shows everything.
    let out = app
        .cmd()
        .args(["rollback", "--env", "staging", "--to", &v1, "--force"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.split(), vec![(v1.clone(), 100.0)]);

    let (code, history) = json(app.cmd().args(["history", "--env", "staging"]));
    assert_eq!(code, 0);
    let rows: Vec<(String, String)> = history["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = [
        ("deploy", "succeeded"),
        ("deploy", "succeeded"),
        ("deploy", "failed"),
        ("deploy", "rolled_back"),
        ("rollback", "succeeded"),
    ];
    assert_eq!(
        rows,
        expect
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect::<Vec<_>>()
    );
    assert_eq!(history["records"][4]["version_id"], v1.as_str());
    assert_eq!(history["records"][4]["actor"], "tester");

    // Every mutation is in the audit trail.
    let audit = std::fs::read_to_string(app.root().join(".sv/audit.jsonl")).unwrap();
    assert!(audit.lines().count() >= 6, "{audit}");
    assert!(audit.contains("\"operation\":\"rollback\""), "{audit}");
    assert!(!audit.contains("s3cr3t"));
}

#[test]
fn a_failing_build_stops_before_anything_is_uploaded() {
    let app = App::start();
    std::fs::write(
        app.root().join("shared/build.mjs"),
        "console.error('shared: type error in src/index.js'); process.exit(3);\n",
    )
    .unwrap();
    let slack = Receiver::start();
    let github = GithubEmu::of(&app.emulator);
    let mut cmd = app.deploy(GOOD);
    github.on_pull_request(app.root(), &mut cmd);
    let out = cmd
        .env("SLACK_RELEASES_WEBHOOK", &slack.url)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(code, 1, "{report:#}");
    // The release channel heard about it; the webhook URL (a secret) was never printed.
    let bodies = slack.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let text: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    let text = text["text"].as_str().unwrap();
    assert!(text.contains("to staging: failed"), "{text}");
    assert!(
        text.contains("build of workspace `shared` failed"),
        "{text}"
    );
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains("hook-secret-path"));
    }
    assert_eq!(report["outcome"], "failed");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .contains("build of workspace `shared` failed"),
        "{report:#}"
    );
    // Nothing after the failing wave ran, nothing was uploaded.
    assert_eq!(report["builds"].as_array().unwrap().len(), 1);
    assert_eq!(report["builds"][0]["exit_code"], 3);
    assert!(report.get("version_id").is_none());
    let (_, status) = json(&mut app.status());
    assert_eq!(status["versions"], serde_json::json!([]));

    // The PR has one sticky deploy comment, edited in place by the next run.
    let mut again = app.deploy(GOOD);
    github.on_pull_request(app.root(), &mut again);
    assert_eq!(again.output().unwrap().status.code(), Some(1));
    let comments = github.pr_comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains("to `staging`: failed"),
        "{}",
        comments[0]
    );
    assert!(
        comments[0].contains("build of workspace"),
        "{}",
        comments[0]
    );
}

#[test]
fn dry_run_changes_nothing_and_shows_the_plan() {
    let app = App::start();
    let out = app
        .cmd()
        .args(["deploy", "--env", "staging", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("dry_run_human", stdout);
    });
    assert!(!app.root().join("worker/dist").exists());
    assert!(!app.root().join(".sv/deployments/staging.jsonl").exists());
}

#[test]
fn production_refuses_actors_not_allowed() {
    let app = App::start();
    let out = app
        .cmd()
        .args([
            "deploy",
            "--env",
            "production",
            "--dry-run",
            "--ignore-freeze",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tester"), "{stderr}");
    assert!(stderr.contains("alice"), "{stderr}");
    let audit = std::fs::read_to_string(app.root().join(".sv/audit.jsonl")).unwrap();
    assert!(audit.contains("\"result\":\"denied\""), "{audit}");
}
