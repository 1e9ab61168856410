//! workflows/token-check.yml, as users copy it, under act against sv-emulator: a healthy
//! token passes with the report in the job summary; a token that expires within the warning
//! window fails the job, naming the token.

use sv_test::{ActRun, EmulatorProcess};

use crate::doctor::{KV, mint_with};
use crate::preview_act::sv_repository;
use crate::token::verified_id;

/// The scheduled run of the workflow, checking `token` (the emulator's account).
fn run(emu: &EmulatorProcess, token: &str) -> sv_test::ActOutcome {
    let app = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(app.path().join(".github/workflows")).unwrap();
    std::fs::copy(
        sv_test::paths::workspace_root().join("workflows/token-check.yml"),
        app.path().join(".github/workflows/token-check.yml"),
    )
    .unwrap();
    let repo = tempfile::tempdir().unwrap();
    let bin_dir = sv_test::paths::cargo_bin("sv-onboard")
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    sv_repository(repo.path(), &bin_dir);
    ActRun::new(app.path().join(".github/workflows/token-check.yml"))
        .source_dir(app.path())
        .event("schedule")
        .local_repository("sv-toolkit/sv@v0", repo.path())
        .secret("CLOUDFLARE_API_TOKEN", token)
        .var("CLOUDFLARE_ACCOUNT_ID", emu.account_id())
        .env("CLOUDFLARE_API_BASE_URL", emu.cloudflare_api_url())
        .run()
        .expect("act runs")
}

#[test]
fn token_check_workflow_passes_healthy_and_fails_expiring() {
    if sv_test::act::skip_requested() {
        eprintln!("skipped: SV_SKIP_ACT=1");
        return;
    }
    let emu = EmulatorProcess::start().unwrap();

    let healthy = mint_with(&emu, emu.account_id(), &[KV], Some("2099-01-01T00:00:00Z"));
    let healthy_id = verified_id(&emu, &healthy).unwrap();
    let ok = run(&emu, &healthy);
    ok.assert_success();
    let summary = ok
        .stdout
        .split_once("Summary - ### sv-onboard token check")
        .map(|(_, rest)| rest)
        .expect("the report in the job summary");
    assert!(
        summary.contains(&format!(
            "| `CLOUDFLARE_API_TOKEN` | {healthy_id} | active | 2099-01-01T00:00:00Z |"
        )),
        "{summary}"
    );
    assert!(
        !ok.stdout.contains(&healthy),
        "the token leaked into the log"
    );

    // Expires in 5 days: inside the workflow's 14-day window.
    let soon = (chrono::Utc::now() + chrono::Duration::days(5) + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let expiring = mint_with(&emu, emu.account_id(), &[KV], Some(&soon));
    let expiring_id = verified_id(&emu, &expiring).unwrap();
    let failed = run(&emu, &expiring);
    assert!(!failed.success(), "{}", failed.stdout);
    let log = failed.step_log().join("\n");
    assert!(
        log.contains(&format!("CLOUDFLARE_API_TOKEN: token {expiring_id}")),
        "{log}"
    );
    assert!(log.contains("expires in 5 day(s)"), "{log}");
    assert!(
        failed.stdout.contains(&format!(
            "CLOUDFLARE_API_TOKEN (token {expiring_id}) expires on {soon}"
        )),
        "the error annotation names the token: {}",
        failed.stdout
    );
    assert!(
        !failed.stdout.contains(&expiring),
        "the token leaked into the log"
    );
}
