//! `sv-onboard preview …` end to end against sv-emulator, on a copy of examples/spacevision.

use std::collections::BTreeSet;
use std::path::PathBuf;

use assert_cmd::Command;
use futures::TryStreamExt as _;
use sv_test::EmulatorProcess;
use tempfile::TempDir;

/// The example app in a temp dir and an emulator.
pub struct PreviewApp {
    pub emu: EmulatorProcess,
    pub dir: TempDir,
}

impl PreviewApp {
    pub fn new() -> Self {
        let emu = EmulatorProcess::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        sv_test::example::copy_to(dir.path()).unwrap();
        Self { emu, dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Replaces `from` (which must occur) with `to` in sv.yaml.
    pub fn edit(&self, from: &str, to: &str) {
        let path = self.path("sv.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "sv.yaml has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// `bin` in the app's directory, pointed at the emulator, outside Actions.
    pub fn cmd(&self, bin: &str) -> Command {
        // Other packages' binaries are not built by `cargo test -p sv-onboard`: the error
        // says to run `cargo build --workspace --bins` first.
        let mut cmd = if bin == "sv-onboard" {
            Command::cargo_bin(bin).unwrap()
        } else {
            Command::new(sv_test::paths::cargo_bin(bin).unwrap_or_else(|e| panic!("{e}")))
        };
        cmd.current_dir(self.dir.path())
            .envs(self.emu.cloudflare_env())
            .env("USER", "tester")
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_ACTOR")
            .env_remove("GITHUB_EVENT_PATH")
            .env_remove("GITHUB_EVENT_NAME")
            .env_remove("GITHUB_TOKEN")
            .env_remove("GITHUB_REPOSITORY")
            .env_remove("GITHUB_SHA")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("SV_ENV")
            .env_remove("SV_CONFIG")
            .env_remove("SV_FORMAT");
        cmd
    }

    /// Runs sv-onboard; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(self.cmd("sv-onboard").args(args))
    }

    pub fn client(&self) -> sv_cloudflare::Client {
        self.emu.client().unwrap()
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Every KV title, D1 database, R2 bucket and Worker script in the account.
    pub fn names(&self) -> BTreeSet<String> {
        let c = self.client();
        self.block_on(async {
            let mut out = BTreeSet::new();
            let kv: Vec<_> = c.kv().list_namespaces().try_collect().await.unwrap();
            out.extend(kv.into_iter().map(|n| n.title));
            let d1: Vec<_> = c.d1().list(None).try_collect().await.unwrap();
            out.extend(d1.into_iter().map(|d| d.name));
            let r2: Vec<_> = c
                .r2()
                .list_buckets(&sv_cloudflare::r2::BucketFilter::default())
                .try_collect()
                .await
                .unwrap();
            out.extend(r2.into_iter().map(|b| b.name));
            let scripts = c.workers().list_scripts().await.unwrap();
            out.extend(scripts.into_iter().map(|s| s.id));
            out
        })
    }

    /// The uuid of D1 database `name`.
    pub fn database(&self, name: &str) -> String {
        let c = self.client();
        self.block_on(async {
            let all: Vec<_> = c.d1().list(None).try_collect().await.unwrap();
            all.into_iter().find(|d| d.name == name).unwrap().uuid
        })
    }

    /// Rows of `sql` in database `name`, each as JSON text.
    pub fn query(&self, name: &str, sql: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let uuid = self.database(name);
        let c = self.client();
        self.block_on(async {
            c.d1()
                .query(&uuid, sql, &[])
                .await
                .unwrap()
                .into_iter()
                .flat_map(|r| r.results)
                .collect()
        })
    }

    /// Creates D1 database `name` with the app's migrations applied and `sql` run after.
    pub fn database_with(&self, name: &str, sql: &str) {
        let c = self.client();
        let mut migrations: Vec<PathBuf> = std::fs::read_dir(self.path("worker/migrations"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        migrations.sort();
        self.block_on(async {
            let db = c
                .d1()
                .create(&sv_cloudflare::d1::CreateDatabase {
                    name: name.into(),
                    ..Default::default()
                })
                .await
                .unwrap();
            for m in &migrations {
                let text = std::fs::read_to_string(m).unwrap();
                c.d1().query(&db.uuid, &text, &[]).await.unwrap();
            }
            c.d1().query(&db.uuid, sql, &[]).await.unwrap();
        });
    }
}

pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

pub fn prefixed(names: &BTreeSet<String>, prefix: &str) -> BTreeSet<String> {
    names
        .iter()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect()
}

/// Version ids and timestamps vary from run to run.
pub fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[UUID]",
        ),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "[TIME]"),
    ]
}

#[test]
fn create_from_scratch_then_recreate_is_a_no_op() {
    let app = PreviewApp::new();
    let (code, dry, err) = app.run(&["preview", "create", "--pr", "7", "--dry-run"]);
    assert_eq!(code, 0, "{dry}\n{err}");
    assert!(app.names().is_empty(), "a dry run creates nothing");
    insta::assert_snapshot!("create_dry_run", dry);
    let (code, markdown, err) = app.run(&[
        "preview",
        "create",
        "--pr",
        "7",
        "--dry-run",
        "--format",
        "markdown",
    ]);
    assert_eq!(code, 0, "{markdown}\n{err}");
    insta::assert_snapshot!("create_dry_run_markdown", markdown);

    let (code, out, err) = app.run(&["preview", "create", "--pr", "7"]);
    assert_eq!(code, 0, "{out}\n{err}");
    insta::assert_snapshot!("create_from_scratch", out);
    assert_eq!(
        app.names(),
        BTreeSet::from(
            ["pr-7-cache", "pr-7-sessions", "pr-7-main", "pr-7-uploads"].map(String::from)
        )
    );
    // Migrations applied, then the seed.
    let users = app.query("pr-7-main", "SELECT email FROM users ORDER BY id");
    assert_eq!(users.len(), 2, "{users:?}");
    let migrations = app.query("pr-7-main", "SELECT name FROM d1_migrations");
    assert_eq!(migrations.len(), 2, "{migrations:?}");
    assert!(app.path(".sv/previews/pr-7.json").is_file());
    assert!(app.path(".sv/state/pr-7.json").is_file());

    let (code, again, err) = app.run(&["preview", "create", "--pr", "7", "--format", "json"]);
    assert_eq!(code, 0, "{again}\n{err}");
    let again = json(&again);
    assert_eq!(again["changed"], false, "{again:#}");
    assert!(again["adopted"].as_array().unwrap().is_empty());

    // A CI job starts without the previous job's state: still nothing to do.
    std::fs::remove_dir_all(app.path(".sv/state")).unwrap();
    let (code, fresh, err) = app.run(&["preview", "create", "--pr", "7"]);
    assert_eq!(code, 0, "{fresh}\n{err}");
    insta::assert_snapshot!("recreate_without_state", fresh);
    assert_eq!(
        app.query("pr-7-main", "SELECT count(*) AS n FROM users")[0]["n"],
        2,
        "the seed ran once"
    );

    let audit = std::fs::read_to_string(app.path(".sv/audit.jsonl")).unwrap();
    assert_eq!(
        audit.matches("\"operation\":\"preview.create\"").count(),
        5,
        "two dry runs and three runs: {audit}"
    );
}

#[test]
fn an_interrupted_create_is_finished_by_the_next_one() {
    let app = PreviewApp::new();
    // What a run that died after creating the database (and nothing else) leaves behind.
    app.block_on(
        app.client()
            .d1()
            .create(&sv_cloudflare::d1::CreateDatabase {
                name: "pr-5-main".into(),
                ..Default::default()
            }),
    )
    .unwrap();
    let (code, out, err) = app.run(&["preview", "create", "--pr", "5", "--format", "json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let report = json(&out);
    assert_eq!(
        report["adopted"],
        serde_json::json!(["d1.main"]),
        "{report:#}"
    );
    let main = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "d1.main")
        .unwrap()
        .clone();
    assert_eq!(main["action"], "update", "migrations applied: {main}");
    assert_eq!(
        app.query("pr-5-main", "SELECT count(*) AS n FROM users")[0]["n"],
        2,
        "seeded, since it was still empty"
    );
    assert_eq!(prefixed(&app.names(), "pr-5-").len(), 4);
}

#[test]
fn kv_seed_is_written_into_a_new_namespace_only() {
    let app = PreviewApp::new();
    std::fs::write(
        app.path("worker/cache-seed.json"),
        r#"{"greeting": "hello", "limits": {"max": 3}}"#,
    )
    .unwrap();
    app.edit(
        "seed: { d1.main: worker/seed.sql }",
        "seed: { d1.main: worker/seed.sql, kv.cache: worker/cache-seed.json }",
    );
    let (code, out, err) = app.run(&["preview", "create", "--pr", "4"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("seeded from worker/cache-seed.json (2 key(s))"),
        "{out}"
    );
    let c = app.client();
    let id = app.block_on(async {
        let all: Vec<_> = c.kv().list_namespaces().try_collect().await.unwrap();
        all.into_iter()
            .find(|n| n.title == "pr-4-cache")
            .unwrap()
            .id
    });
    let limits = app.block_on(c.kv().get_value(&id, "limits")).unwrap();
    assert_eq!(limits.bytes.as_ref(), br#"{"max":3}"#);
    let (code, again, err) = app.run(&["preview", "create", "--pr", "4"]);
    assert_eq!(code, 0, "{again}\n{err}");
    assert!(again.contains("kept: already has keys"), "{again}");
}

#[test]
fn derived_environment_works_in_sv_plan_and_sv_deploy() {
    let app = PreviewApp::new();
    let (code, out, err) = app.run(&["preview", "create", "--pr", "7"]);
    assert_eq!(code, 0, "{out}\n{err}");

    let (code, plan, err) =
        run(app
            .cmd("sv-plan")
            .args(["plan", "--env", "pr-7", "--detailed-exitcode"]));
    assert_eq!(code, 0, "no changes after create\n{plan}\n{err}");
    assert!(
        plan.contains("No changes: `pr-7` matches sv.yaml"),
        "{plan}"
    );

    let host = "pr-7-spacevision-api.sv-emulator.workers.dev";
    let addr = app.emu.base_url().trim_start_matches("http://").to_owned();
    let (code, out, err) = run(app.cmd("sv-deploy").args([
        "deploy",
        "--env",
        "pr-7",
        "--gate-window",
        "1s",
        "--worker-url",
        &format!("http://{host}"),
        "--connect-to",
        &addr,
        "--annotate",
        r#"sv/response={"status":200,"body":"{\"ok\":true}"}"#,
        "--format",
        "json",
    ]));
    assert_eq!(code, 0, "{out}\n{err}");
    let report = json(&out);
    assert_eq!(report["environment"], "pr-7");
    assert_eq!(report["script"], "pr-7-spacevision-api");
    let bindings = report["bindings"].to_string();
    for own in ["pr-7-main", "pr-7-uploads", "pr-7-sessions", "pr-7-cache"] {
        assert!(bindings.contains(own), "{own} not bound: {bindings}");
    }
    assert!(!bindings.contains("staging-"), "{bindings}");
}

#[test]
fn two_previews_are_isolated_and_production_is_untouched() {
    let app = PreviewApp::new();
    app.database_with(
        "main",
        "INSERT INTO users (id, email, name) VALUES (1, 'owner@corp.example', 'Owner');",
    );
    app.block_on(app.client().kv().create_namespace("sessions"))
        .unwrap();
    for pr in ["1", "2"] {
        let (code, out, err) = app.run(&["preview", "create", "--pr", pr]);
        assert_eq!(code, 0, "{out}\n{err}");
    }
    let before = app.names();
    assert_eq!(prefixed(&before, "pr-1-").len(), 4, "{before:?}");
    assert_eq!(prefixed(&before, "pr-2-").len(), 4, "{before:?}");

    let (code, out, err) = app.run(&["preview", "destroy", "--pr", "1", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let after = app.names();
    assert!(prefixed(&after, "pr-1-").is_empty(), "{after:?}");
    assert_eq!(prefixed(&after, "pr-2-"), prefixed(&before, "pr-2-"));
    assert!(
        after.contains("main") && after.contains("sessions"),
        "{after:?}"
    );
    assert_eq!(
        app.query("main", "SELECT email FROM users")[0]["email"],
        "owner@corp.example"
    );
    assert_eq!(
        app.query("pr-2-main", "SELECT count(*) AS n FROM users")[0]["n"],
        2
    );
    let (code, list, _) = app.run(&["preview", "list"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("list_after_destroying_one", list);
}

#[test]
fn destroy_deletes_resources_and_the_worker_and_is_idempotent() {
    let app = PreviewApp::new();
    let (code, out, err) = app.run(&["preview", "create", "--pr", "7"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The preview's Worker, as sv-deploy would upload it; and an object in its bucket.
    let c = app.client();
    app.block_on(async {
        use sv_cloudflare::workers::{Module, UploadMetadata, WorkerUpload};
        c.workers()
            .upload_script(
                "pr-7-spacevision-api",
                &WorkerUpload {
                    metadata: UploadMetadata {
                        main_module: Some("index.js".into()),
                        ..UploadMetadata::default()
                    },
                    modules: vec![Module::esm(
                        "index.js",
                        "export default { fetch() { return new Response('ok') } }",
                    )],
                },
            )
            .await
            .unwrap();
        c.r2()
            .put_object(
                "pr-7-uploads",
                "users/1/a.jpg",
                sv_cloudflare::r2::ObjectBody::from(b"jpeg".to_vec()),
                &sv_cloudflare::r2::PutObjectOptions::default(),
            )
            .await
            .unwrap();
    });

    let (code, out, err) = app
        .cmd("sv-onboard")
        .args(["preview", "destroy", "--pr", "7"])
        .write_stdin("")
        .output()
        .map(|o| {
            (
                o.status.code().unwrap(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(code, 2, "no --yes and no terminal\n{out}\n{err}");
    assert!(err.contains("pass --yes"), "{err}");
    assert_eq!(app.names().len(), 5, "nothing deleted");

    let (code, dry, err) = app.run(&["preview", "destroy", "--pr", "7", "--dry-run"]);
    assert_eq!(code, 0, "{dry}\n{err}");
    assert_eq!(app.names().len(), 5, "a dry run deletes nothing");
    insta::assert_snapshot!("destroy_dry_run", dry);

    // From a fresh checkout: the state of the create is gone.
    std::fs::remove_dir_all(app.path(".sv/state")).unwrap();
    let (code, out, err) = app.run(&["preview", "destroy", "--pr", "7", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    insta::assert_snapshot!("destroy", out);
    assert!(app.names().is_empty(), "{:?}", app.names());

    let (code, again, err) = app.run(&["preview", "destroy", "--pr", "7", "--yes"]);
    assert_eq!(code, 0, "{again}\n{err}");
    assert!(
        again.contains("does not exist: nothing to delete"),
        "{again}"
    );
    let record: serde_json::Value =
        json(&std::fs::read_to_string(app.path(".sv/previews/pr-7.json")).unwrap());
    assert!(record["destroyed_at"].is_string(), "{record:#}");
}

#[test]
fn branching_copies_a_masked_consistent_subset_of_production() {
    let app = PreviewApp::new();
    app.edit(
        "  stale_after: 14d\n",
        "  stale_after: 14d\n  branch_from: production\n  branch_rows: 2\n",
    );
    let originals = [
        "grace.hopper@navy.example",
        "alan.turing@bletchley.example",
        "katherine.johnson@nasa.example",
        "+1 202 555 0101",
        "+44 20 7946 0999",
    ];
    app.database_with(
        "main",
        "INSERT INTO users (id, email, name, phone) VALUES
            (11, 'grace.hopper@navy.example', 'Grace', '+1 202 555 0101'),
            (12, 'alan.turing@bletchley.example', 'Alan', '+44 20 7946 0999'),
            (13, 'katherine.johnson@nasa.example', 'Katherine', NULL);
         INSERT INTO observations (id, user_id, target, observed_at, seeing, notes) VALUES
            (101, 11, 'M31', '2026-09-20T21:40:00Z', 2, 'ok'),
            (102, 13, 'M42', '2026-10-02T03:15:00Z', 3, 'user 13 is not copied');",
    );
    let (code, out, err) = app.run(&["preview", "create", "--pr", "9"]);
    assert_eq!(code, 0, "{out}\n{err}");
    insta::assert_snapshot!("create_branched", out);

    let users = app.query(
        "pr-9-main",
        "SELECT id, email, name, phone FROM users ORDER BY id",
    );
    let ids: Vec<i64> = users.iter().map(|u| u["id"].as_i64().unwrap()).collect();
    // Branched: production's first two users (masked); then the seed's own rows.
    assert_eq!(ids, [1, 2, 11, 12], "{users:?}");
    assert_eq!(users[2]["email"], "user-1@example.invalid");
    assert_eq!(users[3]["email"], "user-2@example.invalid");
    assert_eq!(users[2]["phone"], "masked-1");
    assert_eq!(
        users[2]["name"], "Grace",
        "unmasked columns are copied as they are"
    );
    let observations = app.query("pr-9-main", "SELECT id FROM observations WHERE id > 100");
    assert_eq!(
        observations.len(),
        1,
        "the observation of a user left out is left out too: {observations:?}"
    );
    // No original value of a masked column anywhere in the preview's database.
    for table in ["users", "observations", "uploads"] {
        for row in app.query("pr-9-main", &format!("SELECT * FROM {table}")) {
            let text = serde_json::Value::Object(row).to_string();
            for original in originals {
                assert!(!text.contains(original), "{original} leaked: {text}");
            }
        }
    }
    // Production is read, never changed.
    assert_eq!(
        app.query("main", "SELECT count(*) AS n FROM users")[0]["n"],
        3
    );
}

#[test]
fn a_mask_naming_a_missing_column_copies_nothing() {
    let app = PreviewApp::new();
    app.edit("users: [email, phone]", "users: [email, mobile]");
    app.edit(
        "  stale_after: 14d\n",
        "  stale_after: 14d\n  branch_from: production\n",
    );
    app.database_with(
        "main",
        "INSERT INTO users (id, email, name) VALUES (11, 'grace.hopper@navy.example', 'Grace');",
    );
    let (code, out, err) = app.run(&["preview", "create", "--pr", "9"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("column `mobile` of table `users`"), "{err}");
    let rows = app.query("pr-9-main", "SELECT * FROM users");
    assert!(rows.is_empty(), "{rows:?}");
}

#[test]
fn invalid_pr_numbers_are_refused() {
    let app = PreviewApp::new();
    let (code, _, err) = app.run(&["preview", "create", "--pr", "0"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = app.run(&["preview", "create", "--pr", "seven"]);
    assert_eq!(code, 2, "{err}");
    // A prefix the number makes too long for Cloudflare's names.
    app.edit(
        "preview_prefix: \"pr-{pr}-\"",
        "preview_prefix: \"preview-of-pull-request-{pr}-\"",
    );
    let (code, out, err) = app.run(&["preview", "create", "--pr", "123456789"]);
    assert_eq!(code, 2, "{out}\n{err}");
    insta::assert_snapshot!("prefix_too_long", err);
    assert!(app.names().is_empty());
}

#[test]
fn quota_refuses_one_preview_too_many() {
    let app = PreviewApp::new();
    app.edit(
        "  stale_after: 14d\n",
        "  stale_after: 14d\n  max_previews: 1\n",
    );
    let (code, out, err) = app.run(&["preview", "create", "--pr", "1"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = app.run(&["preview", "create", "--pr", "2"]);
    assert_eq!(code, 1, "{out}\n{err}");
    insta::assert_snapshot!("quota", err);
    assert!(prefixed(&app.names(), "pr-2-").is_empty());
    // Re-creating an existing preview is not one more.
    let (code, out, err) = app.run(&["preview", "create", "--pr", "1"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn comment_is_sticky_and_says_when_the_preview_is_gone() {
    let app = PreviewApp::new();
    let gh = |cmd: &mut Command| {
        cmd.env("GITHUB_API_URL", app.emu.github_api_url())
            .env("GITHUB_TOKEN", app.emu.token())
            .env("GITHUB_REPOSITORY", "acme/spacevision")
            .env("GITHUB_SHA", "0123abc");
    };
    let comments = || {
        app.block_on(async {
            let client = sv_github::GitHub::new(
                app.emu.github_api_url().parse().unwrap(),
                app.emu.token().to_owned().into(),
                sv_github::RepoRef::parse("acme/spacevision").unwrap(),
            )
            .unwrap();
            client.list_issue_comments(7).await.unwrap()
        })
    };
    let (code, out, err) = app.run(&["preview", "create", "--pr", "7"]);
    assert_eq!(code, 0, "{out}\n{err}");

    let mut cmd = app.cmd("sv-onboard");
    gh(&mut cmd);
    let (code, out, err) = run(cmd.args(["preview", "comment", "--pr", "7"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let first = comments();
    assert_eq!(first.len(), 1);
    insta::assert_snapshot!("comment_not_deployed", first[0].body);

    let mut cmd = app.cmd("sv-onboard");
    gh(&mut cmd);
    let (code, out, err) = run(cmd.args(["preview", "comment", "--pr", "7"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("Comment unchanged"), "{out}");

    let (code, out, err) = app.run(&["preview", "destroy", "--pr", "7", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let mut cmd = app.cmd("sv-onboard");
    gh(&mut cmd);
    let (code, out, err) = run(cmd.args(["preview", "comment", "--pr", "7"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let after = comments();
    assert_eq!(after.len(), 1, "one comment per pull request");
    assert_eq!(after[0].id, first[0].id, "updated in place");
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("comment_gone", after[0].body);
    });
}

#[test]
fn preview_help() {
    for sub in [
        &["preview", "--help"][..],
        &["preview", "create", "--help"],
        &["preview", "destroy", "--help"],
        &["preview", "comment", "--help"],
    ] {
        let out = Command::cargo_bin("sv-onboard")
            .unwrap()
            .args(sub)
            .env_remove("CLOUDFLARE_ACCOUNT_ID")
            .env_remove("CLOUDFLARE_API_BASE_URL")
            .env_remove("CLOUDFLARE_API_TOKEN")
            .env_remove("SV_CONFIG")
            .env_remove("SV_ENV")
            .env_remove("SV_FORMAT")
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        assert!(out.status.success());
        insta::assert_snapshot!(
            format!("help_{}", sub[..sub.len() - 1].join("_")),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// With the team's state in R2 (`state.r2`), a preview's state lives there too, so the next
/// CI job finds it; nothing is written to `.sv/state`.
#[test]
fn a_preview_keeps_its_state_in_r2_when_the_team_does() {
    let app = PreviewApp::new();
    app.edit(
        "state:\n  local: .sv/state",
        "state:\n  r2: { bucket: team-state, prefix: sv/ }\n  #",
    );
    let client = app.client();
    app.block_on(client.r2().create_bucket(&sv_cloudflare::r2::CreateBucket {
        name: "team-state".into(),
        ..Default::default()
    }))
    .unwrap();
    let (code, out, err) = app.run(&["preview", "create", "--pr", "8"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!app.path(".sv/state").exists(), "no local state");
    let state = app.block_on(async {
        let object = client
            .r2()
            .get_object("team-state", "sv/pr-8.json", None)
            .await
            .unwrap();
        String::from_utf8(object.bytes().await.unwrap().to_vec()).unwrap()
    });
    let state = sv_planner::State::from_json(&state).unwrap();
    assert_eq!(state.resources.len(), 4, "{:?}", state.resources.keys());
    let (code, again, err) = app.run(&["preview", "create", "--pr", "8", "--format", "json"]);
    assert_eq!(code, 0, "{again}\n{err}");
    assert_eq!(json(&again)["changed"], false, "{again}");
    let (code, out, err) = app.run(&["preview", "destroy", "--pr", "8", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        prefixed(&app.names(), "pr-8-").is_empty(),
        "{:?}",
        app.names()
    );
}
