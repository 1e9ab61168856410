//! The deploy lock against one sv-emulator: two deploys of one environment never
//! interleave — the second waits, or fails after `--lock-timeout` naming the holder; a dry
//! run takes no lock; an expired lock is taken over.

use std::time::{Duration, Instant};

use crate::common::{App, GOOD, json};

fn lock_value(app: &App) -> Option<serde_json::Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = app.emulator.client().unwrap();
        let ns = namespace(&client).await;
        match client.kv().get_value(&ns, "sv-deploy-lock").await {
            Ok(v) => Some(serde_json::from_slice(&v.bytes).unwrap()),
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("{e}"),
        }
    })
}

/// The lock's namespace: staging's first KV namespace in sv.yaml order (`cache`).
async fn namespace(client: &sv_cloudflare::Client) -> String {
    use futures::TryStreamExt as _;
    let all: Vec<_> = client.kv().list_namespaces().try_collect().await.unwrap();
    all.into_iter()
        .find(|n| n.title == "staging-cache")
        .unwrap()
        .id
}

fn wait_for_lock(app: &App) -> serde_json::Value {
    let start = Instant::now();
    loop {
        if let Some(v) = lock_value(app) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no lock appeared"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn two_deploys_of_one_environment_never_interleave() {
    let app = App::start();
    let (code, setup) = json(app.deploy(GOOD).arg("--skip-pages"));
    assert_eq!(code, 0, "{setup:#}");
    assert!(lock_value(&app).is_none(), "released after the deploy");

    // A: a slow rollout (two 3 s gate windows) holding the lock.
    let mut a = app.deploy_watching(GOOD, "3s");
    a.args(["--skip-build", "--skip-pages", "--format", "json"]);
    let a = std::thread::spawn(move || a.output().unwrap());
    let held = wait_for_lock(&app);
    let release_a = held["release"].as_str().unwrap().to_owned();
    assert_eq!(held["actor"], "tester");
    assert_eq!(held["operation"], "deploy");

    // A dry run takes no lock.
    let dry = app
        .cmd()
        .args(["deploy", "--env", "staging", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(0), "{dry:?}");

    // B gives up after 1 s, naming A.
    let b = app
        .deploy(GOOD)
        .args(["--skip-build", "--skip-pages", "--lock-timeout", "1s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&b.stderr);
    assert_eq!(b.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is locked by another deploy"), "{stderr}");
    assert!(stderr.contains(&release_a), "{stderr}");
    assert!(stderr.contains("by tester"), "{stderr}");

    // C waits for A, then deploys on top of A's version.
    let (code, c) =
        json(
            app.deploy(GOOD)
                .args(["--skip-build", "--skip-pages", "--lock-timeout", "2m"]),
        );
    let a = a.join().unwrap();
    assert_eq!(a.status.code(), Some(0), "{a:?}");
    let a: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(code, 0, "{c:#}");
    assert_eq!(a["id"], release_a.as_str());
    assert_eq!(
        c["previous_version_id"], a["version_id"],
        "C started after A finished: {c:#}"
    );
    assert!(lock_value(&app).is_none());
}

#[test]
fn an_expired_lock_is_taken_over() {
    let app = App::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = app.emulator.client().unwrap();
        let ns = namespace(&client).await;
        let stale = serde_json::json!({
            "token": "crashed-run",
            "actor": "ghost",
            "operation": "deploy",
            "release": "20200101000000-dead00",
            "since": "2020-01-01T00:00:00Z",
            "expires_at": "2020-01-01T00:15:00Z",
        });
        client
            .kv()
            .put_value(
                &ns,
                "sv-deploy-lock",
                serde_json::to_vec(&stale).unwrap(),
                &sv_cloudflare::kv::KvPutOptions::default(),
            )
            .await
            .unwrap();
    });
    let out = app
        .deploy(GOOD)
        .args(["--skip-pages", "--lock-timeout", "0s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(lock_value(&app).is_none());
}

#[test]
fn two_deploys_started_together_run_one_after_the_other() {
    let app = App::start();
    let (code, setup) = json(app.deploy(GOOD).arg("--skip-pages"));
    assert_eq!(code, 0, "{setup:#}");
    let spawn = || {
        let mut cmd = app.deploy(GOOD);
        cmd.args(["--skip-build", "--skip-pages", "--format", "json"]);
        std::thread::spawn(move || cmd.output().unwrap())
    };
    let (x, y) = (spawn(), spawn());
    let parse = |o: std::process::Output| {
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (x, y) = (parse(x.join().unwrap()), parse(y.join().unwrap()));
    // Whichever went second built on the first one's version: no interleaving.
    let serialized =
        x["previous_version_id"] == y["version_id"] || y["previous_version_id"] == x["version_id"];
    assert!(serialized, "{x:#}\n{y:#}");
    assert!(lock_value(&app).is_none());
}
