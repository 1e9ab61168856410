//! One release = D1 migrations + Worker (+ Pages): pending migrations applied before the new
//! version exists and recorded; a rollback across a not-backward-compatible migration
//! refused (exit 2) unless overridden, the override recorded.

use crate::common::{App, GOOD, SLOW, json};

fn applied(app: &App, db: &str) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = app.emulator.client().unwrap();
        let uuid = client.d1().get(db).await.unwrap().uuid;
        sv_infra::inventory::applied_migrations(&client, &uuid, db)
            .await
            .unwrap()
    })
}

fn names(v: &serde_json::Value) -> Vec<(String, bool)> {
    v["migrations"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["name"].as_str().unwrap().to_owned(),
                        m["incompatible"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn migrations_are_part_of_the_release_and_guard_rollbacks() {
    let app = App::start();
    assert!(applied(&app, "staging-main").is_empty());

    // A dry run shows what would be applied and applies nothing.
    let (code, dry) = json(app.cmd().args(["deploy", "--env", "staging", "--dry-run"]));
    assert_eq!(code, 0, "{dry}");
    assert_eq!(
        names(&dry),
        [
            ("0001_init.sql".to_owned(), false),
            ("0002_add_uploads.sql".to_owned(), false)
        ]
    );
    assert!(applied(&app, "staging-main").is_empty());

    // The first release applies the example's two migrations before its version exists.
    let (code, first) = json(app.deploy(GOOD).arg("--skip-pages"));
    assert_eq!(code, 0, "{first}");
    assert_eq!(names(&first).len(), 2, "{first}");
    assert_eq!(
        applied(&app, "staging-main"),
        ["0001_init.sql", "0002_add_uploads.sql"]
    );
    let v1 = first["version_id"].as_str().unwrap().to_owned();

    // A second release with a not-backward-compatible migration.
    std::fs::write(
        app.root().join("worker/migrations/0003_drop_legacy.sql"),
        "-- sv: not-backward-compatible (v1 still reads observations.legacy)\n\
         CREATE TABLE observations_v2 (id INTEGER PRIMARY KEY, body TEXT);\n",
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, second) = json(app.deploy(GOOD).args(["--skip-build", "--skip-pages"]));
    assert_eq!(code, 0, "{second}");
    assert_eq!(
        names(&second),
        [("0003_drop_legacy.sql".to_owned(), true)],
        "only the pending one: {second}"
    );
    let v2 = second["version_id"].as_str().unwrap().to_owned();
    assert_eq!(applied(&app, "staging-main").len(), 3);

    // The release record names the migrations it applied.
    let history =
        std::fs::read_to_string(app.root().join(".sv/deployments/staging.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        names(&records[1]),
        [("0003_drop_legacy.sql".to_owned(), true)]
    );

    // Rolling back to v1 (made before 0003) is refused, naming the migration.
    let refused = app
        .cmd()
        .args(["rollback", "--env", "staging", "--to", &v1])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("0003_drop_legacy.sql"), "{stderr}");
    assert!(stderr.contains("staging-main"), "{stderr}");
    assert!(
        stderr.contains("--allow-incompatible-migrations"),
        "{stderr}"
    );
    assert_eq!(app.split(), [(v2.clone(), 100.0)]);
    // The dry run is refused too: it shows what the real one would do.
    let dry = app
        .cmd()
        .args(["rollback", "--env", "staging", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(2));

    // With the override it happens, and the record says so.
    let (code, rolled) = json(app.cmd().args([
        "rollback",
        "--env",
        "staging",
        "--to",
        &v1,
        "--allow-incompatible-migrations",
    ]));
    assert_eq!(code, 0, "{rolled}");
    let reason = rolled["records"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("0003_drop_legacy.sql"), "{reason}");
    assert!(
        reason.contains("--allow-incompatible-migrations"),
        "{reason}"
    );
    assert_eq!(app.split(), [(v1.clone(), 100.0)]);
    let audit = std::fs::read_to_string(app.root().join(".sv/audit.jsonl")).unwrap();
    assert!(audit.contains("\"migration-override\""), "{audit}");
    assert!(audit.contains("\"apply-migration\""), "{audit}");

    // Forward again to v2 (made after the migration): no refusal.
    let forward = app
        .cmd()
        .args(["rollback", "--env", "staging", "--to", &v2])
        .output()
        .unwrap();
    assert_eq!(forward.status.code(), Some(0), "{forward:?}");
    assert_eq!(app.split(), [(v2.clone(), 100.0)]);

    // A release whose gate fails after an incompatible migration is still rolled back (the
    // old version already served most traffic against the new schema), and says so.
    std::fs::write(
        app.root().join("worker/migrations/0004_rename.sql"),
        "-- sv: not-backward-compatible\nCREATE TABLE renamed (id INTEGER PRIMARY KEY);\n",
    )
    .unwrap();
    let (code, slow) = json(app.deploy(SLOW).args(["--skip-build", "--skip-pages"]));
    assert_eq!(code, 1, "{slow:#}");
    assert_eq!(slow["outcome"], "rolled_back");
    let reason = slow["reason"].as_str().unwrap();
    assert!(reason.contains("0004_rename.sql"), "{reason}");
    assert!(reason.contains("stay applied"), "{reason}");
    assert_eq!(app.split(), [(v2, 100.0)]);
}

/// Production's resources (names as written in sv.yaml) beside staging's.
fn production_resources(app: &App) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = app.emulator.client().unwrap();
        client
            .pages()
            .create_project(&sv_cloudflare::pages::CreateProject {
                name: "spacevision-web".into(),
                production_branch: "main".into(),
                extra: serde_json::Map::new(),
            })
            .await
            .unwrap();
        for title in ["sessions", "cache"] {
            client.kv().create_namespace(title).await.unwrap();
        }
        client
            .d1()
            .create(&sv_cloudflare::d1::CreateDatabase {
                name: "main".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        client
            .r2()
            .create_bucket(&sv_cloudflare::r2::CreateBucket {
                name: "uploads".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    });
}

/// Commit messages of the production Pages deployments, newest first.
fn pages_messages(app: &App) -> Vec<(String, String)> {
    use futures::TryStreamExt as _;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = app.emulator.client().unwrap();
        let mut list: Vec<_> = client
            .pages()
            .list_deployments("spacevision-web", Some("production"))
            .try_collect()
            .await
            .unwrap();
        list.sort_by(|a, b| b.created_on.cmp(&a.created_on));
        list.into_iter()
            .map(|d| {
                let message = d.extra["deployment_trigger"]["metadata"]["commit_message"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                (d.id, message)
            })
            .collect()
    })
}

#[test]
fn a_rollback_returns_the_worker_and_pages_together() {
    let app = App::start();
    production_resources(&app);
    let deploy = || {
        let mut cmd = app.cmd();
        cmd.env("USER", "alice").args([
            "deploy",
            "--env",
            "production",
            "--ignore-freeze",
            "--gate-window",
            "1s",
            "--rollout",
            "100",
            "--worker-url",
            "http://spacevision-api.sv-emulator.workers.dev",
            "--connect-to",
            &app.addr(),
            "--annotate",
            &format!("sv/response={GOOD}"),
        ]);
        cmd
    };
    let (code, first) = json(&mut deploy());
    assert_eq!(code, 0, "{first:#}");
    let (code, second) = json(deploy().arg("--skip-build"));
    assert_eq!(code, 0, "{second:#}");
    let first_pages = first["pages"]["deployment_id"].as_str().unwrap().to_owned();
    let release1 = first["id"].as_str().unwrap().to_owned();
    let v1 = first["version_id"].as_str().unwrap().to_owned();
    assert_eq!(
        pages_messages(&app)[0].1,
        format!("sv-deploy {}", second["id"].as_str().unwrap())
    );

    let (code, rolled) =
        json(
            app.cmd()
                .env("USER", "alice")
                .args(["rollback", "--env", "production"]),
        );
    assert_eq!(code, 0, "{rolled:#}");
    let record = &rolled["records"][0];
    assert_eq!(record["version_id"], v1.as_str());
    // Pages is back on release 1's content: a new production deployment made by
    // Cloudflare's rollback from release 1's deployment.
    let pages_id = record["pages"]["deployment_id"].as_str().unwrap();
    assert_ne!(pages_id, first_pages);
    let latest = &pages_messages(&app)[0];
    assert_eq!(latest.0, pages_id);
    assert_eq!(latest.1, format!("sv-deploy {release1}"));
    let audit = std::fs::read_to_string(app.root().join(".sv/audit.jsonl")).unwrap();
    assert!(audit.contains("\"pages-rollback\""), "{audit}");
}

#[test]
fn a_staging_rollback_leaves_preview_pages_and_says_why() {
    let app = App::start();
    let (code, first) = json(&mut app.deploy(GOOD));
    assert_eq!(code, 0, "{first:#}");
    let (code, second) = json(app.deploy(GOOD).arg("--skip-build"));
    assert_eq!(code, 0, "{second:#}");
    let (code, rolled) = json(app.cmd().args(["rollback", "--env", "staging"]));
    assert_eq!(code, 0, "{rolled:#}");
    let reason = rolled["records"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("preview deployment"), "{reason}");
    assert!(rolled["records"][0].get("pages").is_none());
}
