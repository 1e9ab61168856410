//! State commands, locking and import.

use crate::App;

#[test]
fn held_lock_stops_apply_with_its_owner_and_unlock_releases_it() {
    let app = App::new();
    std::fs::create_dir_all(app.path(".sv/state")).unwrap();
    std::fs::write(
        app.path(".sv/state/production.lock"),
        r#"{"id":"lock-1","owner":"bob","operation":"apply","reason":"release 42","created_at":"2026-11-25T10:00:00Z"}"#,
    )
    .unwrap();
    let (code, _, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("held by bob for `apply`"), "{err}");
    assert!(err.contains("(release 42)"), "{err}");
    assert!(err.contains("sv-plan state unlock lock-1"), "{err}");
    assert!(!app.path(".sv/state/production.json").exists());
    let (code, _, err) = app.run(&["state", "unlock", "wrong"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = app.run(&["state", "unlock", "lock-1"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!app.path(".sv/state/production.lock").exists());
}

#[test]
fn corrupt_state_is_refused() {
    let app = App::new();
    std::fs::create_dir_all(app.path(".sv/state")).unwrap();
    std::fs::write(app.path(".sv/state/production.json"), "{\"version\": 1, ").unwrap();
    let (code, _, err) = app.run(&["plan"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is unusable"), "{err}");
}

#[test]
fn import_adopts_an_existing_resource() {
    let app = App::new();
    let client = app.client();
    let ns = app
        .block_on(client.kv().create_namespace("sessions"))
        .unwrap();
    let (_, out, _) = app.run(&["plan"]);
    assert!(out.contains("sv-plan import kv.sessions"), "{out}");
    let (code, out, err) = app.run(&["import", "kv.sessions", &ns.id]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, out, _) = app.run(&["state", "list"]);
    assert!(
        out.contains(&format!("kv.sessions\t{}\tsessions", ns.id)),
        "{out}"
    );
    let (_, out, _) = app.run(&["plan"]);
    assert!(
        out.contains("9 to create, 0 to update, 0 to replace, 0 to delete, 1 unchanged"),
        "{out}"
    );
    // Importing twice, or an id that does not exist, is refused.
    let (code, _, err) = app.run(&["import", "kv.sessions", &ns.id]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = app.run(&["import", "kv.cache", "0000"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no KV namespace with id `0000`"), "{err}");
}

#[test]
fn state_rm_forgets_without_deleting() {
    let app = App::new();
    app.apply_all();
    let (code, out, err) = app.run(&["state", "rm", "kv.cache"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, out, _) = app.run(&["plan"]);
    // It still exists, unmanaged: the plan says how to adopt it again.
    assert!(out.contains("sv-plan import kv.cache"), "{out}");
    let audit = std::fs::read_to_string(app.path(".sv/audit.jsonl")).unwrap();
    assert!(audit.contains("\"operation\":\"state rm\""), "{audit}");
    assert!(audit.contains("\"operation\":\"apply.create\""), "{audit}");
}

#[test]
fn a_second_apply_is_refused_while_the_first_holds_the_lock() {
    // 300 ms per API call keeps the first apply busy for seconds.
    let app = App::with_emulator_args(&["--latency", "300ms"]);
    let first = app
        .std_cmd()
        .args(["apply", "--auto-approve", "--reason", "first"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lock = app.path(".sv/state/production.lock");
    let started = std::time::Instant::now();
    while !lock.exists() {
        assert!(
            started.elapsed().as_secs() < 30,
            "the first apply never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, _, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("held by alice for `apply`"), "{err}");
    assert!(err.contains("(first)"), "{err}");
    let out = first.wait_with_output().unwrap();
    // The first one went on undisturbed (the Worker is missing, so 8 of 10 are done and the
    // route and custom domain deferred) and released its lock.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("8 done, 0 failed, 0 not started, 2 deferred"),
        "{stdout}"
    );
    assert!(!lock.exists());
}

#[test]
fn state_commands_need_no_cloudflare_token_but_plan_says_which_one_is_missing() {
    let app = App::new();
    let out = app
        .cmd()
        .env_remove("CLOUDFLARE_API_TOKEN")
        .args(["state", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No resources are managed"));
    let out = app
        .cmd()
        .env_remove("CLOUDFLARE_API_TOKEN")
        .args(["plan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CLOUDFLARE_API_TOKEN is not set"), "{err}");
}

/// A token minted in the emulator with `groups` on the account and `zone_groups` on every
/// zone; returns its value.
fn mint_token(app: &App, groups: &[&str], zone_groups: &[&str]) -> String {
    let account = app.emu.account_id().to_owned();
    let group = |g: &&str| serde_json::json!({"id": g});
    let body = serde_json::json!({
        "name": "ci",
        "policies": [
            {"effect": "allow",
             "resources": {format!("com.cloudflare.api.account.{account}"): "*"},
             "permission_groups": groups.iter().map(group).collect::<Vec<_>>()},
            {"effect": "allow",
             "resources": {format!("com.cloudflare.api.account.{account}"): {"com.cloudflare.api.account.zone.*": "*"}},
             "permission_groups": zone_groups.iter().map(group).collect::<Vec<_>>()},
        ],
    });
    let url = format!("{}/user/tokens", app.emu.cloudflare_api_url());
    let token = app.emu.token().to_owned();
    sv_cloudflare::install_crypto_provider();
    let answer: serde_json::Value = app.block_on(async move {
        let resp = reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        serde_json::from_str(&resp.text().await.unwrap()).unwrap()
    });
    answer["result"]["value"].as_str().unwrap().to_owned()
}

/// Runs sv-plan with `token` as the API token; returns (exit code, stderr).
fn run_with_token(app: &App, token: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = app
        .cmd()
        .env("CLOUDFLARE_API_TOKEN", token)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn apply_refuses_a_token_without_a_permission_the_plan_needs_and_names_it() {
    let app = App::new();
    app.deploy_worker();
    // Everything but D1 Write (ids as the emulator lists them in /user/tokens/permission_groups).
    let kv = "f7f0eda5697f475c90846e879bab8666";
    let r2 = "bf7481a1826f439697cb59a20b22293e";
    let pages = "8d28297797f24fb8a0c332fe0866ec89";
    let scripts = "e086da7e2179491d91ee5f35b3ca210a";
    let dns = "4755a26eedb94da69e1066d98aa820be";
    let routes = "28f4b596e7d643029c524985477ae49a";
    // D1 Read lets it plan (a write group would include the read).
    let d1_read = "192192df92ee43ac90f2aeeffce67e35";
    let token = mint_token(&app, &[kv, d1_read, r2, pages, scripts], &[dns, routes]);
    let (code, err) = run_with_token(&app, &token, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "D1 Write on account {} (needed by d1.main)",
            app.emu.account_id()
        )),
        "{err}"
    );
    assert!(!err.contains("KV Storage"), "only what is missing: {err}");
    assert!(
        !app.path(".sv/state/production.json").exists(),
        "nothing applied"
    );
    // Given D1 Write too, the same token applies.
    let d1 = "09b2857d1c31407795e75e3fed8617a1";
    let token = mint_token(&app, &[kv, d1, r2, pages, scripts], &[dns, routes]);
    let (code, err) = run_with_token(&app, &token, &["apply", "--auto-approve"]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn plan_refuses_a_token_that_cannot_read_a_declared_kind_and_names_the_permission() {
    let app = App::new();
    // Read groups for everything but R2 and DNS (Workers Routes Write includes its read).
    let kv = "8b47d2786a534c08a1f94ee8f9f599ef";
    let d1 = "192192df92ee43ac90f2aeeffce67e35";
    let pages = "e247aedd66bd41cc9193af0213416666";
    let scripts = "1a71c399035b4950a1bd1466bbe4f420";
    let zone = "c8fed203ed3043cba015a93ad1616f1f";
    let routes_write = "28f4b596e7d643029c524985477ae49a";
    let token = mint_token(&app, &[kv, d1, pages, scripts], &[zone, routes_write]);
    let (code, err) = run_with_token(&app, &token, &["plan"]);
    assert_eq!(code, Some(2), "{err}");
    let account = app.emu.account_id();
    assert!(
        err.contains(&format!(
            "Workers R2 Storage Read on account {account} (needed by r2.uploads)"
        )),
        "{err}"
    );
    assert!(
        err.contains("DNS Read on zone spacevision.app (needed by dns."),
        "{err}"
    );
    assert!(!err.contains("Routes"), "only what is missing: {err}");
    assert!(!err.contains("D1"), "only what is missing: {err}");
    // The read permissions (and nothing to write) are enough for a plan.
    let r2 = "b4992e1108244f5d8bfbd5744320c2e1";
    let dns = "82e64a83756745bbbb1c9c2701bf816b";
    let token = mint_token(
        &app,
        &[kv, d1, r2, pages, scripts],
        &[zone, dns, routes_write],
    );
    let (code, err) = run_with_token(&app, &token, &["plan"]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn in_actions_local_state_missing_from_the_checkout_is_warned_about() {
    let app = App::new();
    let in_actions = |args: &[&str]| {
        let out = app
            .cmd()
            .env("GITHUB_ACTIONS", "true")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = in_actions(&["plan"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "::warning title=sv-plan%3A state is not kept::state .sv/state/production.json"
        ),
        "{out}"
    );
    assert!(out.contains("Keep state in R2"), "{out}");
    // Once the checkout has the state (committed, say), nothing to warn about.
    app.apply_all();
    let (code, out) = in_actions(&["plan"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("::warning"), "{out}");
}
