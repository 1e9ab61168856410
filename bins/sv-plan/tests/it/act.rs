//! actions/plan → actions/apply → actions/plan under act, against sv-emulator.

use sv_test::ActRun;

use crate::App;

#[test]
fn plan_action_then_apply_action_then_no_changes() {
    if sv_test::act::skip_requested() {
        return;
    }
    // staging: no allowed_actors (act's actor is not alice), zone staging.spacevision.app.
    let app = App::with_zone("staging.spacevision.app");
    // staging's Worker is wrangler's [env.staging] name.
    app.deploy_worker_named("spacevision-api-staging");
    let bin_dir = sv_test::paths::cargo_bin("sv-plan")
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let outcome = ActRun::new("bins/sv-plan/tests/workflows/plan-apply.yml")
        .event("workflow_dispatch")
        .env("SV_BIN_DIR", bin_dir.display().to_string())
        .env("APP_DIR", app.dir.path().display().to_string())
        .envs(app.emu.cloudflare_env())
        .env("SLACK_ONCALL_WEBHOOK", "https://hooks.invalid/oncall")
        .env("SLACK_RELEASES_WEBHOOK", "https://hooks.invalid/releases")
        .run()
        .expect("act runs");
    outcome.assert_success();
    // KV ×2, D1, R2, DNS ×3, the Pages project, the route and the custom domain.
    assert_eq!(outcome.step_output("planned-create").as_deref(), Some("10"));
    assert_eq!(
        outcome.step_output("planned-artifact").as_deref(),
        Some("sv-plan-staging")
    );
    assert_eq!(
        outcome.step_output("second-plan").as_deref(),
        Some("no-changes")
    );
    let saved = outcome
        .read_artifact("sv-plan-staging", "sv-plan.json")
        .unwrap();
    assert!(saved.contains("\"environment\": \"staging\""), "{saved}");
    // The D1 replacement at the end was backed up, and the archive uploaded.
    let name = outcome.step_output("backup-name").unwrap();
    assert!(name.starts_with("spacevision-staging-"), "{name}");
    let uploaded = outcome
        .artifact_path("sv-backup-before-apply-staging")
        .join(&name);
    assert!(uploaded.is_file(), "{uploaded:?} not uploaded");
}
