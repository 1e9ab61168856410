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
    // The first one went on undisturbed (the Worker is missing, so 8 of 10 are done) and
    // released its lock.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("8 done, 1 failed, 1 not started"),
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
