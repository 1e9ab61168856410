//! State in an R2 bucket (`state: { r2: … }`): plan/apply/no-op, lock contention between
//! two applies (conditional writes in sv-emulator), a corrupt state object, unlock.

use bytes::Bytes;
use sv_cloudflare::r2::CreateBucket;
use sv_cloudflare::r2_conditional::WriteCondition;

use crate::App;

const BUCKET: &str = "team-state";
const STATE_KEY: &str = "sv/production.json";
const LOCK_KEY: &str = "sv/production.lock";

/// The example app with its state moved to R2 (the bucket exists, as a team would make it).
fn app_with_r2_state(emulator_args: &[&str]) -> App {
    let app = App::with_emulator_args(emulator_args);
    app.edit(
        "state:\n  local: .sv/state",
        &format!("state:\n  r2: {{ bucket: {BUCKET}, prefix: sv/ }}\n  #"),
    );
    let client = app.client();
    app.block_on(client.r2().create_bucket(&CreateBucket {
        name: BUCKET.into(),
        ..CreateBucket::default()
    }))
    .unwrap();
    app
}

/// The object's text, or `None`.
fn object(app: &App, key: &str) -> Option<String> {
    let client = app.client();
    app.block_on(async {
        match client.r2().get_object(BUCKET, key, None).await {
            Ok(d) => Some(String::from_utf8(d.bytes().await.unwrap().to_vec()).unwrap()),
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("{e}"),
        }
    })
}

fn put(app: &App, key: &str, text: &str) {
    let client = app.client();
    app.block_on(client.r2().put_object_if(
        BUCKET,
        key,
        Bytes::from(text.to_owned()),
        "application/json",
        &WriteCondition::Always,
    ))
    .unwrap();
}

#[test]
fn plan_apply_then_no_changes_with_state_in_r2() {
    let app = app_with_r2_state(&[]);
    app.apply_all();
    let state = object(&app, STATE_KEY).expect("state written to R2");
    let parsed = sv_planner::State::from_json(&state).unwrap();
    assert_eq!(parsed.resources.len(), 10, "{state}");
    assert!(!app.path(".sv/state").exists(), "nothing written locally");
    assert!(object(&app, LOCK_KEY).is_none(), "the lock was released");
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No changes"), "{out}");
    let (code, out, _) = app.run(&["state", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("kv.sessions\t"), "{out}");
    // generate never offers sv's own state bucket as a resource.
    let (code, out, err) = app.run(&["--format", "json", "generate", "--kind", "r2"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let generated: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        generated["resources"]["r2"].get("uploads").is_some(),
        "{out}"
    );
    assert!(generated["resources"]["r2"].get(BUCKET).is_none(), "{out}");
    assert_eq!(
        generated["skipped"][0],
        "R2 bucket `team-state`: it holds sv's state"
    );
    // `state rm` writes through the conditional path too.
    let (code, out, err) = app.run(&["state", "rm", "kv.cache"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let after = sv_planner::State::from_json(&object(&app, STATE_KEY).unwrap()).unwrap();
    assert_eq!(after.serial, parsed.serial + 1);
    assert!(!after.resources.contains_key(&"kv.cache".parse().unwrap()));
}

#[test]
fn two_concurrent_applies_one_holds_the_r2_lock_the_other_is_refused() {
    // 300 ms per API call keeps the first apply busy for seconds.
    let app = app_with_r2_state(&["--latency", "300ms"]);
    let first = app
        .std_cmd()
        .args(["apply", "--auto-approve", "--reason", "first"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while object(&app, LOCK_KEY).is_none() {
        assert!(
            started.elapsed().as_secs() < 60,
            "the first apply never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (code, _, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("held by alice for `apply`"), "{err}");
    assert!(err.contains("(first)"), "{err}");
    assert!(err.contains("r2://team-state/sv/production.json"), "{err}");
    let out = first.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("8 done, 0 failed, 0 not started, 2 deferred"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(object(&app, LOCK_KEY).is_none(), "the first released it");
    let state = sv_planner::State::from_json(&object(&app, STATE_KEY).unwrap()).unwrap();
    assert_eq!(state.resources.len(), 8);
}

#[test]
fn a_corrupt_state_object_is_refused_and_a_held_lock_can_be_broken() {
    let app = app_with_r2_state(&[]);
    app.apply_all();
    let text = object(&app, STATE_KEY).unwrap();
    put(
        &app,
        STATE_KEY,
        &text.replacen("\"serial\": ", "\"serial\": 1", 1),
    );
    let (code, _, err) = app.run(&["plan"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("r2://team-state/sv/production.json` is unusable: state checksum mismatch"),
        "{err}"
    );
    put(&app, STATE_KEY, &text);

    put(
        &app,
        LOCK_KEY,
        r#"{"id":"lock-9","owner":"bob","operation":"apply","reason":"release 42","created_at":"2026-11-25T10:00:00Z"}"#,
    );
    let (code, _, err) = app.run(&["state", "rm", "kv.cache"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("held by bob for `apply`"), "{err}");
    assert!(err.contains("sv-plan state unlock lock-9"), "{err}");
    assert_eq!(object(&app, STATE_KEY).unwrap(), text, "state untouched");
    let (code, _, err) = app.run(&["state", "unlock", "other"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = app.run(&["state", "unlock", "lock-9"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(object(&app, LOCK_KEY).is_none());
}

#[test]
fn a_state_write_over_a_state_this_run_did_not_read_is_refused() {
    use sv_infra::{R2Store, StateStore as _};
    let app = app_with_r2_state(&[]);
    let client = app.client();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let a = R2Store::new(&client, BUCKET, "sv", "production");
        let b = R2Store::new(&client, BUCKET, "sv", "production");
        // Both see no state; A creates it, so B's create-only write must fail (writing
        // exactly what is there already counts as done: a retried PUT sees its own write).
        assert!(a.load().unwrap().is_none());
        assert!(b.load().unwrap().is_none());
        let mut s = sv_planner::State::new("production", "lineage-1");
        a.save(&s).unwrap();
        let theirs = sv_planner::State::new("production", "lineage-2");
        let err = b.save(&theirs).unwrap_err();
        assert!(matches!(err, sv_infra::Error::StateChanged { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("r2://team-state/sv/production.json was changed by another run"),
            "{err}"
        );
        assert_eq!(
            a.load().unwrap().unwrap().lineage,
            "lineage-1",
            "not overwritten"
        );
        // A goes on writing over its own writes; B, having re-read, can write after it.
        s.serial = 1;
        a.save(&s).unwrap();
        assert_eq!(b.load().unwrap().unwrap().serial, 1);
        s.serial = 2;
        b.save(&s).unwrap();
        s.serial = 3;
        assert!(matches!(
            a.save(&s),
            Err(sv_infra::Error::StateChanged { .. })
        ));
        assert_eq!(a.load().unwrap().unwrap().serial, 2);
    });
}
