//! workflows/deploy.yml, as users copy it, under act against sv-emulator: a push deploys
//! the reference app to staging (first deploy, then a gated 50% → 100% rollout), and a
//! version that fails the gate is rolled back and fails the job.
//!
//! Only the `staging` job runs (`-j staging`): the `production` job is the same steps for
//! another environment behind a GitHub environment approval, which act does not model.

use std::path::Path;

use sv_test::ActRun;

use crate::common::App;

/// Makes the emulated staging Worker answer as `response` declares (the emulator runs no
/// JavaScript: a plain-text `SV_RESPONSE` binding from wrangler's vars says what to answer).
fn set_response(app: &App, response: &str) {
    let wrangler = app.root().join("worker/wrangler.toml");
    let text = std::fs::read_to_string(&wrangler).unwrap();
    let mut kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("SV_RESPONSE = "))
        .collect();
    let at = kept
        .iter()
        .position(|l| *l == "[env.staging.vars]")
        .unwrap();
    let line = format!("SV_RESPONSE = '{response}'");
    kept.insert(at + 1, &line);
    std::fs::write(&wrangler, kept.join("\n") + "\n").unwrap();
}

fn run(app: &App, repo: &Path) -> sv_test::ActOutcome {
    let base = app.emulator.base_url().to_owned();
    ActRun::new(app.root().join(".github/workflows/deploy.yml"))
        .source_dir(app.root())
        .event("push")
        .job("staging")
        .local_repository("sv-toolkit/sv@v0", repo)
        .secret("CLOUDFLARE_API_TOKEN", app.emulator.token())
        .var("CLOUDFLARE_ACCOUNT_ID", app.emulator.account_id())
        .env("CLOUDFLARE_API_BASE_URL", app.emulator.cloudflare_api_url())
        // TEST WIRING: the gate reaches the staging Worker at its workers.dev host over
        // plain HTTP through the emulator (which answers Worker traffic by Host).
        .env("SV_DEPLOY_WORKER_URL", format!("http://{}", app.host()))
        .env("HTTP_PROXY", base.clone())
        .env("http_proxy", base)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        // Plain text in the log, so the assertions read it as a person would.
        .env("NO_COLOR", "1")
        .run()
        .expect("act runs")
}

/// The `.sv/deployments/staging.jsonl` lines of the run's uploaded artifact.
fn history(outcome: &sv_test::ActOutcome) -> Vec<serde_json::Value> {
    outcome
        .read_artifact("sv-deploy-staging", "deployments/staging.jsonl")
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn deploy_workflow_gated_rollout_then_a_failing_gate_rolls_back() {
    if sv_test::act::skip_requested() {
        eprintln!("skipped: SV_SKIP_ACT=1");
        return;
    }
    let app = App::start();
    // A short gate window so the test does not wait sv.yaml's 2 minutes per step.
    let config = app.root().join("sv.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("window: 2m", "window: 1s")).unwrap();
    std::fs::create_dir_all(app.root().join(".github/workflows")).unwrap();
    std::fs::copy(
        sv_test::paths::workspace_root().join("workflows/deploy.yml"),
        app.root().join(".github/workflows/deploy.yml"),
    )
    .unwrap();
    let repo = tempfile::tempdir().unwrap();
    let bin_dir = sv_test::paths::cargo_bin("sv-deploy")
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    sv_test::act::sv_repository(repo.path(), &bin_dir).unwrap();

    // First push: nothing deployed yet, the Worker serves 100% at once, then gated.
    set_response(&app, r#"{"status":200,"body":"{\"ok\":true}"}"#);
    let first = run(&app, repo.path());
    first.assert_success();
    assert_eq!(first.step_output("outcome").as_deref(), Some("succeeded"));
    let v1 = first.step_output("version-id").unwrap();
    assert_eq!(app.split(), [(v1.clone(), 100.0)]);

    // Second push: staging's rollout, 50% then 100%, each step gated.
    set_response(&app, r#"{"status":200,"body":"{\"ok\":true,\"v\":2}"}"#);
    let second = run(&app, repo.path());
    second.assert_success();
    assert_eq!(second.step_output("outcome").as_deref(), Some("succeeded"));
    let v2 = second.step_output("version-id").unwrap();
    assert_ne!(v1, v2);
    let log = second.step_log().join("\n");
    assert!(log.contains("step 50%: pass"), "{log}");
    assert!(log.contains("step 100%: pass"), "{log}");
    assert_eq!(app.split(), [(v2.clone(), 100.0)]);

    // Third push: healthy answers but 2 s of CPU each (the gate allows a p99 of 800 ms):
    // the first step's gate fails, v2 is put back at 100% and the job fails.
    set_response(
        &app,
        r#"{"status":200,"cpu_ms":2000,"body":"{\"ok\":true}"}"#,
    );
    let third = run(&app, repo.path());
    assert!(!third.success(), "{}", third.stdout);
    assert_eq!(third.step_output("outcome").as_deref(), Some("rolled_back"));
    assert_eq!(app.split(), [(v2, 100.0)]);
    let records = history(&third);
    let last = records.last().unwrap();
    assert_eq!(last["outcome"], "rolled_back", "{last:#}");
    assert!(last["reason"].as_str().unwrap().contains("p99"), "{last:#}");
}
