//! workflows/health.yml, as users copy it, under act against a local HTTP server and the
//! GitHub emulator of sv-emulator: the history and alert state travel between runs through
//! the Actions cache (sv-test's offline `actions/cache` stand-in keeps entries in a
//! directory this test owns), a healthy run passes, and an outage opens one issue.

use sv_test::ActRun;

use crate::common::{app, github_server, http_server};

/// The SHA workflows/health.yml pins `actions/cache/{restore,save}` to.
const CACHE: &str = "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684";

#[test]
fn health_workflow_keeps_history_in_the_cache_and_opens_an_issue_on_outage() {
    if sv_test::act::skip_requested() {
        eprintln!("skipped: SV_SKIP_ACT=1");
        return;
    }
    let http = http_server();
    let gh = github_server();
    let yaml = format!(
        "  checks:\n    - {{ name: api, http: \"{}/switch\" }}\n  alert: {{ after_failures: 2, repeat: 30m, channels: [github-issue] }}\n",
        http.base
    );
    let (_tmp, root) = app(&yaml);
    std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
    std::fs::copy(
        sv_test::paths::workspace_root().join("workflows/health.yml"),
        root.join(".github/workflows/health.yml"),
    )
    .unwrap();
    let repo = tempfile::tempdir().unwrap();
    let bin_dir = sv_test::paths::cargo_bin("sv-health")
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    sv_test::act::sv_repository(repo.path(), &bin_dir).unwrap();
    let cache = tempfile::tempdir().unwrap();

    let run = |run_id: u32| {
        ActRun::new(root.join(".github/workflows/health.yml"))
            .source_dir(&root)
            .event("workflow_dispatch")
            .input("environment", "production")
            .local_repository("sv-toolkit/sv@v0", repo.path())
            .local_repository(CACHE, sv_test::act::stand_in_dir("cache"))
            .env("SV_ACT_CACHE_DIR", cache.path().display().to_string())
            // Each scheduled run has its own id, so each saves its own cache entry.
            .env("GITHUB_RUN_ID", run_id.to_string())
            .secret("GITHUB_TOKEN", gh.token.clone())
            .env("GITHUB_API_URL", gh.api_url.clone())
            .env("GITHUB_REPOSITORY", "acme/spacevision")
            .env("NO_COLOR", "1")
            .run()
            .expect("act runs")
    };
    let issues_text = || serde_json::to_string(&gh.snapshot()).unwrap();

    // A healthy run: passes, and its history is saved to the cache.
    let first = run(101);
    first.assert_success();
    assert_eq!(first.step_output("status").as_deref(), Some("healthy"));
    assert!(cache.path().join("sv-health-production-101.tar").is_file());

    // The outage's first failing run fails the job but opens nothing yet (2 failures needed).
    http.set_healthy(false);
    let second = run(102);
    assert!(!second.success(), "{}", second.stdout);
    assert_eq!(second.step_output("status").as_deref(), Some("unhealthy"));
    let log = second.step_log().join("\n");
    assert!(
        log.contains("Cache restored from key: sv-health-production-101"),
        "{log}"
    );
    assert!(
        !issues_text().contains("sv:health:production:api"),
        "no issue after one failure"
    );
    assert!(cache.path().join("sv-health-production-102.tar").is_file());

    // The second consecutive failure — counted only because the alert state came back from
    // the cache — opens one issue.
    let third = run(103);
    assert!(!third.success(), "{}", third.stdout);
    let text = issues_text();
    assert_eq!(
        text.matches("sv:health:production:api").count(),
        1,
        "exactly one issue carries the marker: {text}"
    );
    // The history restored into run 3 holds all three runs.
    let log = third.step_log().join("\n");
    assert!(
        log.contains("Cache restored from key: sv-health-production-102"),
        "{log}"
    );
}

#[test]
fn health_action_comments_on_the_pull_request_once() {
    if sv_test::act::skip_requested() {
        eprintln!("skipped: SV_SKIP_ACT=1");
        return;
    }
    let http = http_server();
    let gh = github_server();
    let yaml = format!(
        "  checks:\n    - {{ name: api, http: \"{}/switch\" }}\n",
        http.base
    );
    let (_tmp, root) = app(&yaml);
    std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
    std::fs::copy(
        sv_test::paths::workspace_root().join("bins/sv-health/tests/workflows/pr-health.yml"),
        root.join(".github/workflows/pr-health.yml"),
    )
    .unwrap();
    let repo = tempfile::tempdir().unwrap();
    let bin_dir = sv_test::paths::cargo_bin("sv-health")
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    sv_test::act::sv_repository(repo.path(), &bin_dir).unwrap();
    let run = || {
        ActRun::new(root.join(".github/workflows/pr-health.yml"))
            .source_dir(&root)
            .event("pull_request")
            .event_json(r#"{"action":"synchronize","number":7,"pull_request":{"number":7,"head":{"ref":"feature"},"base":{"ref":"main"}}}"#)
            .local_repository("sv-toolkit/sv@v0", repo.path())
            .secret("GITHUB_TOKEN", gh.token.clone())
            .secret(
                "CLOUDFLARE_ACCOUNT_ID",
                sv_test::emulator::DEFAULT_ACCOUNT_ID,
            )
            .env("GITHUB_API_URL", gh.api_url.clone())
            .env("GITHUB_REPOSITORY", "acme/spacevision")
            .env("NO_COLOR", "1")
            .run()
            .expect("act runs")
    };
    let marked = || {
        serde_json::to_string(&gh.snapshot())
            .unwrap()
            .matches("sv:health:production")
            .count()
    };
    let first = run();
    first.assert_success();
    assert!(
        first
            .step_output("comment-url")
            .is_some_and(|u| !u.is_empty()),
        "{:?}",
        first.step_outputs()
    );
    assert_eq!(marked(), 1);
    http.set_healthy(false);
    let second = run();
    assert!(!second.success(), "an unhealthy check fails the job");
    assert_eq!(marked(), 1, "the comment is updated, not duplicated");
    assert!(
        serde_json::to_string(&gh.snapshot())
            .unwrap()
            .contains("Health: unhealthy"),
        "the comment shows the latest verdict"
    );
}
