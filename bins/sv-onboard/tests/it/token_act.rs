//! workflows/token-check.yml, as users copy it, under act against sv-emulator: a healthy
//! token passes with the report in the job summary; a token that expires within the warning
//! window fails the job, naming the token.

use sv_test::{ActRun, EmulatorProcess};

use crate::doctor::{KV, mint_with};
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
    sv_test::act::sv_repository(repo.path(), &bin_dir).unwrap();
    ActRun::new(app.path().join(".github/workflows/token-check.yml"))
        .source_dir(app.path())
        .event("schedule")
        .local_repository("sv-toolkit/sv@v0", repo.path())
        .secret("CLOUDFLARE_API_TOKEN", token)
        .var("CLOUDFLARE_ACCOUNT_ID", emu.account_id())
        .env("CLOUDFLARE_API_BASE_URL", emu.cloudflare_api_url())
        .secret("GITHUB_TOKEN", emu.token())
        .env("GITHUB_API_URL", emu.github_api_url())
        .env("GITHUB_REPOSITORY", "acme/spacevision")
        .run()
        .expect("act runs")
}

/// Every issue of acme/spacevision on the emulator (open and closed).
fn issues(emu: &EmulatorProcess) -> Vec<serde_json::Value> {
    sv_cloudflare::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reqwest::Client::new()
            .get(format!(
                "{}/repos/acme/spacevision/issues?state=all",
                emu.github_api_url()
            ))
            .bearer_auth(emu.token())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
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

    assert!(issues(&emu).is_empty(), "a passing check opens no issue");

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
    let opened = issues(&emu);
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0]["state"], "open");
    assert_eq!(
        opened[0]["title"],
        "Cloudflare API token needs attention: CLOUDFLARE_API_TOKEN"
    );
    let body = opened[0]["body"].as_str().unwrap();
    assert!(body.contains("sv:token-check:cloudflare"), "{body}");
    assert!(body.contains(&expiring_id), "{body}");

    // Failing again updates the same issue; a passing run closes it.
    let again = run(&emu, &expiring);
    assert!(!again.success());
    assert_eq!(issues(&emu).len(), 1);
    run(&emu, &healthy).assert_success();
    let closed = issues(&emu);
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0]["state"], "closed", "{closed:?}");
}
