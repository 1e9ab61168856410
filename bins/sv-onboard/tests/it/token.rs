//! `token check` against tokens minted on sv-emulator.

use sv_test::EmulatorProcess;

use crate::doctor::{D1, KV, R2, mint_with};
use crate::{App, onboard, run, scrub};

/// Dates (`2026-11-25T21:57:23Z`) vary by run.
fn scrub_dates(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            line.split(' ')
                .map(|w| {
                    let b = w.as_bytes();
                    if b.len() >= 10
                        && b[4] == b'-'
                        && b[7] == b'-'
                        && b[..4].iter().all(u8::is_ascii_digit)
                    {
                        "[DATE]".to_owned()
                    } else {
                        w.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn token_check_reports_status_expiry_and_policies() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let good = mint_with(
        &emu,
        emu.account_id(),
        &[KV, D1, R2],
        Some("2099-01-01T00:00:00Z"),
    );
    let expired = mint_with(&emu, emu.account_id(), &[KV], Some("2020-01-01T00:00:00Z"));
    let mut cmd = onboard(&app.root, &emu);
    cmd.env("CLOUDFLARE_API_TOKEN", &good);
    let out = run(cmd, &["token", "check"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(!out.stdout.contains(&good));
    insta::assert_snapshot!(
        "token_check",
        scrub_dates(&scrub(&out.transcript(), &app.root))
    );

    // An expired token fails the check (the API refuses it, so it does not even verify).
    let mut cmd = onboard(&app.root, &emu);
    cmd.env("CLOUDFLARE_API_TOKEN", &good)
        .env("OLD_TOKEN", &expired);
    let out = run(
        cmd,
        &[
            "token",
            "check",
            "--token-var",
            "CLOUDFLARE_API_TOKEN",
            "--token-var",
            "OLD_TOKEN",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout.contains("OLD_TOKEN: token — invalid"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(&expired));

    // A variable that is not set is a usage error.
    let out = run(
        onboard(&app.root, &emu),
        &["token", "check", "--token-var", "NOPE"],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
}

#[test]
fn token_check_fail_expiring_turns_the_warning_into_exit_1() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let soon = (chrono::Utc::now() + chrono::Duration::days(3) + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let token = mint_with(&emu, emu.account_id(), &[KV], Some(&soon));
    let check = |args: &[&str]| {
        let mut cmd = onboard(&app.root, &emu);
        cmd.env("CLOUDFLARE_API_TOKEN", &token)
            .env_remove("GITHUB_TOKEN")
            .env_remove("GITHUB_REPOSITORY");
        run(cmd, args)
    };
    // Without the flag an expiring token is a note, and the check passes.
    let out = check(&["token", "check", "--warn-days", "7"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(out.stdout.contains("expires in 3 day(s)"), "{}", out.stdout);
    let out = check(&["token", "check", "--warn-days", "7", "--fail-expiring"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stdout.contains("expires in 3 day(s)"), "{}", out.stdout);
    // Outside the window it passes even with the flag.
    let out = check(&["token", "check", "--warn-days", "2", "--fail-expiring"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(!out.stdout.contains("expires in"), "{}", out.stdout);
    // JSON says which token is expiring.
    let out = check(&["token", "check", "--warn-days", "7", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["tokens"][0]["expiring_soon"], true, "{v}");
    // --issue without GitHub credentials is a usage error.
    let out = check(&["token", "check", "--warn-days", "7", "--issue"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("GITHUB_TOKEN"), "{}", out.stderr);
}

const OWNER_REPO: &str = "acme/spacevision";

/// A blocking JSON request to the emulator (admin routes need no credentials).
fn http(
    method: reqwest::Method,
    url: &str,
    bearer: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    sv_cloudflare::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut req = reqwest::Client::new().request(method, url);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_default())
    })
}

/// The plain value of the repository secret, opened by the emulator.
fn secret_value(emu: &EmulatorProcess, name: &str) -> Option<String> {
    let (status, v) = http(
        reqwest::Method::GET,
        &format!(
            "{}/_admin/repos/{OWNER_REPO}/secrets/{name}",
            emu.github_api_url()
        ),
        None,
        None,
    );
    (status == 200).then(|| v["value"].as_str().unwrap().to_owned())
}

/// The id the token verifies as, or `None` when the API refuses it.
pub(crate) fn verified_id(emu: &EmulatorProcess, token: &str) -> Option<String> {
    let (status, v) = http(
        reqwest::Method::GET,
        &format!("{}/user/tokens/verify", emu.cloudflare_api_url()),
        Some(token),
        None,
    );
    (status == 200).then(|| v["result"]["id"].as_str().unwrap().to_owned())
}

fn rotate_cmd(app: &App, emu: &EmulatorProcess, token: &str) -> assert_cmd::Command {
    let mut cmd = onboard(&app.root, emu);
    cmd.env("CLOUDFLARE_API_TOKEN", token)
        .env("GITHUB_TOKEN", emu.token())
        .env("GITHUB_REPOSITORY", OWNER_REPO)
        .env("GITHUB_ACTOR", "octo-admin");
    cmd
}

fn audit_lines(app: &App) -> Vec<serde_json::Value> {
    std::fs::read_to_string(app.root.join(".sv/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("token.rotate"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn token_rotate_rolls_and_stores_the_sealed_secret() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let old = mint_with(&emu, emu.account_id(), &[KV, D1], None);
    let id = verified_id(&emu, &old).unwrap();

    // Dry run: checks access, changes nothing.
    let out = run(
        rotate_cmd(&app, &emu, &old),
        &["token", "rotate", "--dry-run"],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    insta::assert_snapshot!("token_rotate_dry_run", scrub(&out.transcript(), &app.root));
    assert_eq!(verified_id(&emu, &old).as_deref(), Some(id.as_str()));
    assert_eq!(secret_value(&emu, "CLOUDFLARE_API_TOKEN"), None);

    // The real thing: the token rolls, the secret is created with the new value.
    let out = run(rotate_cmd(&app, &emu, &old), &["token", "rotate"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    insta::assert_snapshot!("token_rotate", scrub(&out.transcript(), &app.root));
    let new = secret_value(&emu, "CLOUDFLARE_API_TOKEN").unwrap();
    assert_ne!(new, old);
    assert_eq!(verified_id(&emu, &new).as_deref(), Some(id.as_str()));
    assert_eq!(verified_id(&emu, &old), None, "the old value must be dead");
    assert!(!out.stdout.contains(&new) && !out.stderr.contains(&new));

    // Again, naming the token: the existing secret is updated.
    let out = run(
        rotate_cmd(&app, &emu, &new),
        &["token", "rotate", "--token-id", &id, "--format", "json"],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["secret_action"], "updated");
    assert_eq!(report["secret_existed"], true);
    let newer = secret_value(&emu, "CLOUDFLARE_API_TOKEN").unwrap();
    assert_ne!(newer, new);
    assert_eq!(verified_id(&emu, &newer).as_deref(), Some(id.as_str()));
    assert!(!out.stdout.contains(&newer));

    // The audit trail: dry run and two rotations, with token id, secret name and actor, and
    // never a value.
    let audit = audit_lines(&app);
    assert_eq!(audit.len(), 3, "{audit:?}");
    let results: Vec<&str> = audit
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["dry_run", "succeeded", "succeeded"]);
    for r in &audit {
        assert_eq!(r["actor"], "octo-admin");
        let text = r.to_string();
        assert!(
            text.contains(&id) && text.contains("CLOUDFLARE_API_TOKEN"),
            "{text}"
        );
        for v in [&old, &new, &newer] {
            assert!(!text.contains(v.as_str()), "{text}");
        }
    }
}

#[test]
fn token_rotate_without_secrets_write_says_what_happened_and_how_to_recover() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let old = mint_with(&emu, emu.account_id(), &[KV], None);
    let id = verified_id(&emu, &old).unwrap();
    let set_permission = |p: &str| {
        let (status, _) = http(
            reqwest::Method::PUT,
            &format!("{}/_admin/permissions/secrets", emu.github_api_url()),
            None,
            Some(serde_json::json!({ "permission": p })),
        );
        assert_eq!(status, 204);
    };

    // The secret exists, holding the current value (as a first setup would leave it).
    let out = run(
        rotate_cmd(&app, &emu, emu.token()),
        &["token", "rotate", "--token-id", &id],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let old = secret_value(&emu, "CLOUDFLARE_API_TOKEN").unwrap();

    // No access at all: refused before the roll, nothing changed.
    set_permission("none");
    let out = run(rotate_cmd(&app, &emu, &old), &["token", "rotate"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(out.stderr.contains("HTTP 403"), "{}", out.stderr);
    assert!(out.stderr.contains("Nothing changed"), "{}", out.stderr);
    assert_eq!(verified_id(&emu, &old).as_deref(), Some(id.as_str()));

    // Read but not write: the roll happens, the write is refused.
    set_permission("read");
    let out = run(rotate_cmd(&app, &emu, &old), &["token", "rotate"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(
        "token_rotate_forbidden",
        scrub(&out.transcript(), &app.root)
    );
    assert_eq!(verified_id(&emu, &old), None);
    assert_eq!(
        secret_value(&emu, "CLOUDFLARE_API_TOKEN").as_deref(),
        Some(old.as_str()),
        "the secret keeps the old value"
    );
    let audit = audit_lines(&app);
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[1]["result"], "failed");

    // Recovery as the message says: write access, and a token that can roll this one.
    set_permission("write");
    let out = run(
        rotate_cmd(&app, &emu, emu.token()),
        &["token", "rotate", "--token-id", &id],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let new = secret_value(&emu, "CLOUDFLARE_API_TOKEN").unwrap();
    assert_eq!(verified_id(&emu, &new).as_deref(), Some(id.as_str()));
}

#[test]
fn token_rotate_bad_input_exits_2() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let out = run(
        rotate_cmd(&app, &emu, emu.token()),
        &["token", "rotate", "--secret", "GITHUB_X"],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    let mut cmd = rotate_cmd(&app, &emu, emu.token());
    cmd.env_remove("GITHUB_TOKEN");
    let out = run(cmd, &["token", "rotate"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("GITHUB_TOKEN is not set"),
        "{}",
        out.stderr
    );
}
