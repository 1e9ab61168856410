//! `setup` against sv-emulator: from scratch, re-run, merge, names, quota, rollback.

use sv_test::EmulatorProcess;

use crate::{App, d1_rows, live_names, onboard, run, scrub};

fn dev_names(emu: &EmulatorProcess, prefix: &str) -> Vec<String> {
    live_names(emu)
        .into_iter()
        .filter(|n| {
            n.split_once(':')
                .is_some_and(|(_, name)| name.starts_with(prefix))
        })
        .collect()
}

#[test]
fn setup_from_scratch_then_rerun_changes_nothing() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let wrangler_before = app.read("worker/wrangler.toml");

    let dry = run(
        onboard(&app.root, &emu),
        &["setup", "--developer", "alice", "--dry-run"],
    );
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    assert!(
        dev_names(&emu, "dev-alice-").is_empty(),
        "dry run created something"
    );
    assert!(!app.path("worker/.dev.vars").exists());
    insta::assert_snapshot!("setup_dry_run", scrub(&dry.transcript(), &app.root));

    let first = run(onboard(&app.root, &emu), &["setup", "--developer", "alice"]);
    assert_eq!(first.code, 0, "{}", first.transcript());
    insta::assert_snapshot!("setup_first_run", scrub(&first.transcript(), &app.root));
    assert_eq!(
        dev_names(&emu, "dev-alice-"),
        [
            "d1:dev-alice-main",
            "kv:dev-alice-cache",
            "kv:dev-alice-sessions",
            "r2:dev-alice-uploads"
        ]
    );
    // Migrations applied, then the seed.
    let users = d1_rows(
        &emu,
        "dev-alice-main",
        "SELECT email FROM users ORDER BY id",
    );
    assert_eq!(users.len(), 2, "{users:?}");
    let uploads = d1_rows(&emu, "dev-alice-main", "SELECT COUNT(*) AS n FROM uploads");
    assert_eq!(uploads[0]["n"], 0);

    // The user's wrangler.toml is untouched; the generated one is it plus [env.dev-alice].
    assert_eq!(app.read("worker/wrangler.toml"), wrangler_before);
    let generated = app.read("worker/wrangler.dev-alice.toml");
    assert!(generated.contains(&wrangler_before));
    let parsed: toml::Table = toml::from_str(&generated).unwrap();
    let section = &parsed["env"]["dev-alice"];
    assert_eq!(section["name"].as_str(), Some("dev-alice-spacevision-api"));
    assert_eq!(
        section["d1_databases"][0]["database_name"].as_str(),
        Some("dev-alice-main")
    );
    assert_eq!(
        section["r2_buckets"][0]["bucket_name"].as_str(),
        Some("dev-alice-uploads")
    );
    assert_eq!(section["kv_namespaces"].as_array().unwrap().len(), 2);

    let vars = app.read("worker/.dev.vars");
    assert!(vars.contains("SV_ENV=dev-alice"), "{vars}");
    assert!(app.read("web/.env").contains("SV_DEVELOPER=alice"));
    let record: serde_json::Value = serde_json::from_str(&app.read(".sv/dev/alice.json")).unwrap();
    assert_eq!(record["status"], "ready");
    assert_eq!(record["resources"].as_array().unwrap().len(), 4);
    assert!(app.read(".gitignore").contains("wrangler.dev-*"));

    // Re-run: nothing changes, anywhere.
    let files_before: Vec<String> = [
        "worker/.dev.vars",
        "worker/.env",
        "worker/wrangler.dev-alice.toml",
        ".sv/dev/alice.json",
        ".sv/state/dev-alice.json",
        ".gitignore",
    ]
    .iter()
    .map(|p| app.read(p))
    .collect();
    let again = run(onboard(&app.root, &emu), &["setup", "--developer", "alice"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert!(again.stdout.contains("Nothing changed"), "{}", again.stdout);
    insta::assert_snapshot!("setup_rerun", scrub(&again.transcript(), &app.root));
    let files_after: Vec<String> = [
        "worker/.dev.vars",
        "worker/.env",
        "worker/wrangler.dev-alice.toml",
        ".sv/dev/alice.json",
        ".sv/state/dev-alice.json",
        ".gitignore",
    ]
    .iter()
    .map(|p| app.read(p))
    .collect();
    assert_eq!(files_before, files_after);
    assert_eq!(dev_names(&emu, "dev-alice-").len(), 4);
    let audit = app.read(".sv/audit.jsonl");
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("onboard.setup"))
            .count(),
        3
    );
    assert!(audit.contains("\"dry_run\""), "{audit}");

    // JSON output is stable data.
    let json = run(
        onboard(&app.root, &emu),
        &["--format", "json", "setup", "--developer", "alice"],
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["changed"], false);
    assert_eq!(v["status"], "ready");
    let md = run(
        onboard(&app.root, &emu),
        &["--format", "markdown", "setup", "--developer", "alice"],
    );
    assert_eq!(md.code, 0, "{}", md.transcript());
    insta::assert_snapshot!("setup_rerun_markdown", scrub(&md.stdout, &app.root));
}

fn delete_kv(emu: &EmulatorProcess, title: &str) {
    use futures::TryStreamExt as _;
    sv_cloudflare::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = sv_cloudflare::ClientConfig::new(
            sv_cloudflare::parse_base_url(&emu.cloudflare_api_url()).unwrap(),
            sv_cloudflare::SecretString::from(emu.token().to_owned()),
            Some(emu.account_id().to_owned()),
        );
        let client = sv_cloudflare::Client::builder_from_config(&config)
            .build()
            .unwrap();
        let all: Vec<_> = client.kv().list_namespaces().try_collect().await.unwrap();
        let ns = all.into_iter().find(|n| n.title == title).unwrap();
        client.kv().delete_namespace(&ns.id).await.unwrap();
    });
}

#[test]
fn a_half_finished_setup_is_completed_by_running_it_again() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let out = run(onboard(&app.root, &emu), &["setup", "--developer", "alice"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    // As if it had stopped half-way: a resource, the record and a file are missing.
    delete_kv(&emu, "dev-alice-cache");
    std::fs::remove_file(app.path(".sv/dev/alice.json")).unwrap();
    std::fs::remove_file(app.path("worker/.dev.vars")).unwrap();
    let out = run(onboard(&app.root, &emu), &["setup", "--developer", "alice"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout.contains("created kv.cache (dev-alice-cache)"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("created kv.sessions"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("worker/.dev.vars: created"),
        "{}",
        out.stdout
    );
    assert_eq!(dev_names(&emu, "dev-alice-").len(), 4);
    // The seed is safe to load again (INSERT OR IGNORE): still two users.
    let users = d1_rows(&emu, "dev-alice-main", "SELECT COUNT(*) AS n FROM users");
    assert_eq!(users[0]["n"], 2);
    let record: serde_json::Value = serde_json::from_str(&app.read(".sv/dev/alice.json")).unwrap();
    assert_eq!(record["status"], "ready");
}

#[test]
fn env_file_merge_keeps_developer_values() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    app.write(
        "worker/.dev.vars",
        "# my local settings\nALLOWED_ORIGIN=http://localhost:5173\nAPI_SECRET=\"s3cr3t value\"\n",
    );
    let out = run(onboard(&app.root, &emu), &["setup", "--developer", "alice"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout.contains(
            "worker/.dev.vars: updated (added SV_ENV; kept your value of ALLOWED_ORIGIN)"
        ),
        "{}",
        out.stdout
    );
    let vars = app.read("worker/.dev.vars");
    assert!(vars.starts_with(
        "# my local settings\nALLOWED_ORIGIN=http://localhost:5173\nAPI_SECRET=\"s3cr3t value\"\n"
    ));
    assert!(vars.contains("SV_ENV=dev-alice"));
    assert!(!out.stdout.contains("s3cr3t"), "a value reached the report");
    assert!(!app.read(".sv/dev/alice.json").contains("s3cr3t"));

    // A value sv wrote and the developer then changed is kept on the next run too.
    let edited = app
        .read("worker/.env")
        .replace("SV_ENV=dev-alice", "SV_ENV=staging");
    app.write("worker/.env", &edited);
    let again = run(onboard(&app.root, &emu), &["setup", "--developer", "alice"]);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert!(app.read("worker/.env").contains("SV_ENV=staging"));
    assert!(
        again
            .stdout
            .contains("worker/.env: unchanged (kept your value of SV_ENV)"),
        "{}",
        again.stdout
    );
}

#[test]
fn invalid_names_are_refused() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    for bad in [
        "Alice",
        "al_ice",
        "-alice",
        "a-very-long-developer-name-over-32-chars",
    ] {
        let arg = format!("--developer={bad}");
        let out = run(onboard(&app.root, &emu), &["setup", &arg]);
        assert_eq!(out.code, 2, "{bad}: {}", out.transcript());
        assert!(out.stderr.contains("invalid developer"), "{}", out.stderr);
    }
    let out = run(onboard(&app.root, &emu), &["setup", "--developer", "Alice"]);
    insta::assert_snapshot!("invalid_name", scrub(&out.transcript(), &app.root));
    assert!(live_names(&emu).is_empty());
}

#[test]
fn colliding_names_and_quota_are_refused() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    // `dev-alice-` + `x-cache` is also `dev-alice-x-` + `cache`.
    let yaml = app
        .read("sv.yaml")
        .replace("    sessions: {}\n", "    sessions: {}\n    x-cache: {}\n");
    app.write("sv.yaml", &yaml);
    let out = run(onboard(&app.root, &emu), &["setup", "--developer", "alice"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let before = live_names(&emu);
    let out = run(
        onboard(&app.root, &emu),
        &["setup", "--developer", "alice-x"],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    insta::assert_snapshot!("colliding_name", scrub(&out.transcript(), &app.root));
    assert_eq!(live_names(&emu), before);

    // A resource with one of our names that is not in our state belongs to someone else.
    let other = App::new();
    let out = run(
        onboard(&other.root, &emu),
        &["setup", "--developer", "alice"],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr.contains("already exists in the account"),
        "{}",
        out.stderr
    );
    assert_eq!(live_names(&emu), before);
    assert!(!other.path("worker/.dev.vars").exists());

    // Quota.
    let yaml = other.read("sv.yaml").replace(
        "max_resources_per_developer: 10",
        "max_resources_per_developer: 3",
    );
    other.write("sv.yaml", &yaml);
    let out = run(onboard(&other.root, &emu), &["setup", "--developer", "bob"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("more than onboarding.max_resources_per_developer (3)"),
        "{}",
        out.stderr
    );
    assert_eq!(live_names(&emu), before);
}

#[test]
fn failing_step_rolls_back_only_what_the_run_made() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let gitignore = app.read(".gitignore");
    app.write("worker/.env", "MINE=1\n");
    app.write("worker/seed.sql", "INSERT INTO no_such_table VALUES (1);\n");
    // Something that is not the run's: must survive the rollback.
    let out = run(
        onboard(&app.root, &emu),
        &["setup", "--developer", "zed", "--no-seed"],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    let zed = live_names(&emu);

    let out = run(onboard(&app.root, &emu), &["setup", "--developer", "alice"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!("rollback", scrub(&out.transcript(), &app.root));
    assert_eq!(
        live_names(&emu),
        zed,
        "alice's resources were not all deleted"
    );
    assert!(!app.path("worker/wrangler.dev-alice.toml").exists());
    let state: serde_json::Value =
        serde_json::from_str(&app.read(".sv/state/dev-alice.json")).unwrap();
    assert_eq!(state["resources"], serde_json::json!({}));
    let record: serde_json::Value = serde_json::from_str(&app.read(".sv/dev/alice.json")).unwrap();
    assert_eq!(record["status"], "error");
    assert!(record["error"].as_str().unwrap().contains("no_such_table"));
    // zed's files, written by the earlier run, are as they were.
    assert!(app.read("worker/.env").contains("SV_DEVELOPER=zed"));
    assert!(app.read(".gitignore").starts_with(&gitignore));
    assert!(app.path("worker/wrangler.dev-zed.toml").exists());
}

fn record_ids(app: &App, developer: &str) -> Vec<String> {
    let record: serde_json::Value =
        serde_json::from_str(&app.read(&format!(".sv/dev/{developer}.json"))).unwrap();
    record["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_developers_are_isolated_and_reset_touches_only_its_own() {
    let emu = EmulatorProcess::start().unwrap();
    let alice = App::new();
    let bob = App::new();
    for (app, name) in [(&alice, "alice"), (&bob, "bob")] {
        let out = run(onboard(&app.root, &emu), &["setup", "--developer", name]);
        assert_eq!(out.code, 0, "{}", out.transcript());
    }
    assert_eq!(dev_names(&emu, "dev-alice-").len(), 4);
    assert_eq!(dev_names(&emu, "dev-bob-").len(), 4);
    let bob_ids = record_ids(&bob, "bob");
    let alice_ids = record_ids(&alice, "alice");
    let bob_files = bob.read("worker/wrangler.dev-bob.toml");
    // bob's data, which alice's reset must not touch.
    let users_before = d1_rows(&emu, "dev-bob-main", "SELECT COUNT(*) AS n FROM users");

    // Without --yes: refused, nothing deleted.
    let out = run(onboard(&alice.root, &emu), &["reset"]);
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_eq!(record_ids(&alice, "alice"), alice_ids);

    let dry = run(onboard(&alice.root, &emu), &["reset", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    insta::assert_snapshot!("reset_dry_run", scrub(&dry.transcript(), &alice.root));

    // Edit a value in alice's env: reset keeps it.
    let edited = alice.read("worker/.dev.vars").replace(
        "ALLOWED_ORIGIN=https://staging.spacevision.app",
        "ALLOWED_ORIGIN=http://localhost:1234",
    );
    alice.write("worker/.dev.vars", &edited);
    let out = run(onboard(&alice.root, &emu), &["reset", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    insta::assert_snapshot!("reset", scrub(&out.transcript(), &alice.root));
    let new_alice = record_ids(&alice, "alice");
    assert_eq!(new_alice.len(), 4);
    // KV and D1 ids are fresh (R2's id is its name).
    assert_ne!(new_alice[0], alice_ids[0]);
    assert!(
        alice
            .read("worker/.dev.vars")
            .contains("ALLOWED_ORIGIN=http://localhost:1234")
    );
    assert!(
        alice
            .read("worker/wrangler.dev-alice.toml")
            .contains(&new_alice[0])
    );
    // bob: same resources, same data, same files.
    assert_eq!(record_ids(&bob, "bob"), bob_ids);
    assert_eq!(dev_names(&emu, "dev-bob-").len(), 4);
    assert_eq!(
        d1_rows(&emu, "dev-bob-main", "SELECT COUNT(*) AS n FROM users"),
        users_before
    );
    assert_eq!(bob.read("worker/wrangler.dev-bob.toml"), bob_files);
    let audit = alice.read(".sv/audit.jsonl");
    assert!(audit.contains("onboard.reset"), "{audit}");
}

/// `npm run setup:dev` and `npm run reset:dev` of the reference app call sv-onboard.
#[test]
fn npm_scripts_call_sv_onboard() {
    let npm = std::process::Command::new("npm").arg("--version").output();
    if !npm.is_ok_and(|o| o.status.success()) {
        eprintln!("npm not installed: skipping");
        return;
    }
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let bin_dir = assert_cmd::cargo::cargo_bin("sv-onboard")
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let npm_run = |script: &str| {
        let mut cmd = assert_cmd::Command::new("npm");
        for k in ["SV_CONFIG", "SV_ENV", "SV_FORMAT", "GITHUB_ACTIONS"] {
            cmd.env_remove(k);
        }
        cmd.current_dir(&app.root)
            .env("PATH", &path)
            .env("SV_DEVELOPER", "carol")
            .env("NO_COLOR", "1")
            .envs(emu.cloudflare_env())
            .args(["run", "--silent", script]);
        run(cmd, &[])
    };
    let out = npm_run("setup:dev");
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(out.stdout.contains("dev-carol"), "{}", out.stdout);
    assert_eq!(dev_names(&emu, "dev-carol-").len(), 4);
    let ids = record_ids(&app, "carol");
    let out = npm_run("reset:dev");
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_ne!(record_ids(&app, "carol")[0], ids[0]);
    assert_eq!(dev_names(&emu, "dev-carol-").len(), 4);
}
