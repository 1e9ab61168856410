//! `plan` and `restore` against sv-emulator: a full round trip (backup → wipe → restore →
//! equal), selective and cross-environment restores, and every bad input refused with the
//! emulator's state unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use futures::TryStreamExt as _;
use serde_json::{Value, json};

use crate::create::{ZONE, app_copy, borrowed, filters, json, keygen, seed, sv_backup};

const DRILL_ZONE: &str = "drill.spacevision.app";
const WORKER: &str = "spacevision-api-staging";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client(emu: &sv_test::EmulatorProcess) -> sv_cloudflare::Client {
    sv_cloudflare::install_crypto_provider();
    emu.client().unwrap()
}

/// Everything a restore could change, read through the API: KV (values, metadata,
/// expiration), D1 (schema and rows), R2 (bytes and metadata), DNS records.
fn fingerprint(emu: &sv_test::EmulatorProcess) -> Value {
    runtime().block_on(async {
        let c = client(emu);
        let mut kv = BTreeMap::new();
        let namespaces: Vec<_> = c.kv().list_namespaces().try_collect().await.unwrap();
        for ns in namespaces {
            let keys: Vec<_> = c.kv().list_keys(&ns.id, None).try_collect().await.unwrap();
            let mut entries = BTreeMap::new();
            for k in keys {
                let v = c.kv().get_value(&ns.id, &k.name).await.unwrap();
                entries.insert(
                    k.name.clone(),
                    json!({"value": v.bytes.to_vec(), "metadata": k.metadata, "expiration": k.expiration}),
                );
            }
            kv.insert(ns.title, entries);
        }
        let mut d1 = BTreeMap::new();
        let dbs: Vec<_> = c.d1().list(None).try_collect().await.unwrap();
        for db in dbs {
            let schema = c
                .d1()
                .query(
                    &db.uuid,
                    "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
                    &[],
                )
                .await
                .unwrap();
            // Tables and virtual tables by content; FTS shadow tables are an index, rebuilt
            // on restore, so their bytes may differ.
            let listed = c
                .d1()
                .query(
                    &db.uuid,
                    "SELECT name, type FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%'",
                    &[],
                )
                .await
                .unwrap();
            let mut tables = BTreeMap::new();
            for row in &listed[0].results {
                let name = row["name"].as_str().unwrap().to_owned();
                let sql = match row["type"].as_str().unwrap() {
                    "table" => format!("SELECT * FROM \"{name}\""),
                    "virtual" => format!("SELECT rowid, * FROM \"{name}\""),
                    _ => continue,
                };
                let rows = c.d1().query(&db.uuid, &sql, &[]).await.unwrap();
                let mut rows: Vec<String> =
                    rows[0].results.iter().map(|r| Value::Object(r.clone()).to_string()).collect();
                rows.sort();
                tables.insert(name, rows);
            }
            d1.insert(db.name, json!({"schema": schema[0].results, "rows": tables}));
        }
        let mut r2 = BTreeMap::new();
        let buckets: Vec<_> = c.r2().list_buckets(&Default::default()).try_collect().await.unwrap();
        for b in buckets {
            let objects: Vec<_> = c
                .r2()
                .list_objects(&b.name, None, None)
                .try_collect()
                .await
                .unwrap();
            let mut out = BTreeMap::new();
            for o in objects {
                let got = c.r2().get_object(&b.name, &o.key, None).await.unwrap();
                let custom = got.custom_metadata();
                let ct = got
                    .headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned());
                let cache = got
                    .headers
                    .get("cache-control")
                    .map(|v| v.to_str().unwrap().to_owned());
                let bytes = got.bytes().await.unwrap();
                out.insert(
                    o.key.clone(),
                    json!({"bytes": sha(&bytes), "size": bytes.len(), "custom": custom,
                           "content_type": ct, "cache_control": cache}),
                );
            }
            r2.insert(b.name, out);
        }
        let mut dns = Vec::new();
        let zones: Vec<_> = c.zones().list(&Default::default()).try_collect().await.unwrap();
        for z in zones {
            let records: Vec<_> = c
                .dns()
                .list(&z.id, &Default::default())
                .try_collect()
                .await
                .unwrap();
            for r in records {
                dns.push(json!([r.name, r.record_type, r.content, r.ttl, r.proxied]));
            }
        }
        dns.sort_by_key(ToString::to_string);
        let mut workers = BTreeMap::new();
        for script in c.workers().list_scripts().await.unwrap() {
            let content = c.workers().download_content(&script.id).await.unwrap();
            let (modules, _) = sv_backup::workers::modules(
                content.content_type.as_deref().unwrap(),
                content.entrypoint.as_deref(),
                content.body,
            )
            .unwrap();
            let modules: Vec<Value> = modules
                .iter()
                .map(|m| json!([m.name, m.content_type, String::from_utf8_lossy(&m.content)]))
                .collect();
            let settings = c.workers().get_settings(&script.id).await.unwrap();
            let schedules: Vec<String> = c
                .workers()
                .get_schedules(&script.id)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.cron)
                .collect();
            let secrets: Vec<String> = c
                .workers()
                .list_secrets(&script.id)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.name)
                .collect();
            workers.insert(
                script.id,
                json!({"modules": modules, "entrypoint": content.entrypoint, "bindings": settings["bindings"],
                       "compatibility_date": settings["compatibility_date"], "schedules": schedules, "secrets": secrets}),
            );
        }
        json!({"kv": kv, "d1": d1, "r2": r2, "dns": dns, "workers": workers})
    })
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Empties every data store of the staging environment and its zone.
fn wipe(emu: &sv_test::EmulatorProcess) {
    runtime().block_on(async {
        let c = client(emu);
        let namespaces: Vec<_> = c.kv().list_namespaces().try_collect().await.unwrap();
        for ns in namespaces.iter().filter(|n| n.title.starts_with("staging-")) {
            let keys: Vec<String> = c
                .kv()
                .list_keys(&ns.id, None)
                .map_ok(|k| k.name)
                .try_collect()
                .await
                .unwrap();
            c.kv().bulk_delete(&ns.id, &keys).await.unwrap();
        }
        let db = c.d1().get("staging-main").await.unwrap();
        let objects = c
            .d1()
            .query(
                &db.uuid,
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                &[],
            )
            .await
            .unwrap();
        // Virtual tables first: their shadow tables go with them.
        let mut names: Vec<(bool, String)> = objects[0]
            .results
            .iter()
            .map(|r| {
                (
                    !r["sql"].as_str().unwrap_or("").starts_with("CREATE VIRTUAL"),
                    r["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        names.sort();
        for (_, name) in names {
            c.d1()
                .query(&db.uuid, &format!("DROP TABLE IF EXISTS \"{name}\""), &[])
                .await
                .unwrap();
        }
        let objects: Vec<_> = c
            .r2()
            .list_objects("staging-uploads", None, None)
            .try_collect()
            .await
            .unwrap();
        for o in objects {
            c.r2()
                .delete_object("staging-uploads", &o.key, None)
                .await
                .unwrap();
        }
        c.workers().delete_script(WORKER, true).await.unwrap();
        let zone = c.zones().find_for_hostname(ZONE).await.unwrap().unwrap();
        let records: Vec<_> = c
            .dns()
            .list(&zone.id, &Default::default())
            .try_collect()
            .await
            .unwrap();
        for r in records {
            c.dns().delete(&zone.id, &r.id).await.unwrap();
        }
    });
}

/// The data the shared seed does not have: an FTS5 table, an R2 object with HTTP metadata,
/// a KV entry that will have expired by restore time.
fn seed_more(emu: &sv_test::EmulatorProcess) -> i64 {
    runtime().block_on(async {
        let c = client(emu);
        let db = c.d1().get("staging-main").await.unwrap();
        c.d1()
            .query(
                &db.uuid,
                "CREATE VIRTUAL TABLE notes USING fts5(title, body); \
                 INSERT INTO notes (title, body) VALUES ('andromeda', 'a spiral galaxy'), ('orion', 'a nebula in the sword'); \
                 CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT); \
                 CREATE VIRTUAL TABLE posts_fts USING fts5(body, content='posts', content_rowid='id'); \
                 CREATE TRIGGER posts_ai AFTER INSERT ON posts BEGIN \
                   INSERT INTO posts_fts(rowid, body) VALUES (new.id, new.body); END; \
                 INSERT INTO posts (id, body) VALUES (7, 'first light of the galaxy'), (9, 'clouds again');",
                &[],
            )
            .await
            .unwrap();
        c.r2()
            .put_object(
                "staging-uploads",
                "cached/page.html",
                sv_cloudflare::r2::ObjectBody::from(b"<h1>hi</h1>".to_vec()),
                &sv_cloudflare::r2::PutObjectOptions {
                    content_type: Some("text/html".into()),
                    cache_control: Some("max-age=60".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        c.r2()
            .put_object(
                "staging-uploads",
                "empty",
                sv_cloudflare::r2::ObjectBody::from(Vec::new()),
                &Default::default(),
            )
            .await
            .unwrap();
        let ns: Vec<_> = c.kv().list_namespaces().try_collect().await.unwrap();
        let sessions = ns.iter().find(|n| n.title == "staging-sessions").unwrap();
        let main_db = c.d1().get("staging-main").await.unwrap();
        let cache = ns.iter().find(|n| n.title == "staging-cache").unwrap();
        let upload = sv_cloudflare::workers::WorkerUpload {
            metadata: sv_cloudflare::workers::UploadMetadata {
                main_module: Some("index.js".into()),
                compatibility_date: Some("2025-06-01".into()),
                bindings: vec![
                    sv_cloudflare::workers::Binding::kv_namespace("CACHE", &cache.id),
                    sv_cloudflare::workers::Binding::d1("DB", &main_db.uuid),
                    sv_cloudflare::workers::Binding::r2_bucket("UPLOADS", "staging-uploads"),
                    sv_cloudflare::workers::Binding::plain_text("MODE", "staging"),
                    sv_cloudflare::workers::Binding::secret_text(
                        "API_KEY",
                        &sv_cloudflare::SecretString::from("not-in-any-backup".to_owned()),
                    ),
                ],
                ..Default::default()
            },
            modules: vec![
                sv_cloudflare::workers::Module::esm(
                    "index.js",
                    "import { x } from './lib.js';\nexport default { fetch() { return new Response(x); } };\n",
                ),
                sv_cloudflare::workers::Module::esm("lib.js", "export const x = 'hi';\n"),
            ],
        };
        c.workers()
            .upload_script(WORKER, &upload)
            .await
            .unwrap();
        c.workers()
            .put_schedules(WORKER, &["*/5 * * * *".to_owned()])
            .await
            .unwrap();
        let soon = chrono::Utc::now().timestamp() + 63;
        c.kv()
            .put_value(
                &sessions.id,
                "expiring",
                "bye",
                &sv_cloudflare::kv::KvPutOptions {
                    expiration: Some(soon),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        soon
    })
}

struct Setup {
    emu: sv_test::EmulatorProcess,
    tmp: tempfile::TempDir,
    app: PathBuf,
    key: PathBuf,
    recipient: String,
    archive: PathBuf,
    /// When the `expiring` KV entry expires.
    soon: i64,
}

fn setup() -> Setup {
    let emu = sv_test::EmulatorProcess::builder()
        .arg("--zone-name")
        .arg(ZONE)
        .start()
        .unwrap();
    seed(&emu);
    let soon = seed_more(&emu);
    let tmp = tempfile::tempdir().unwrap();
    let app = app_copy(tmp.path());
    let key = tmp.path().join("key.txt");
    let recipient = keygen(&key);
    let out_dir = tmp.path().join("backups");
    let out = sv_backup(&app, &emu)
        .args(["--env", "staging", "create", "--recipient"])
        .arg(&recipient)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archive = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz.age"))
        .unwrap();
    Setup {
        emu,
        tmp,
        app,
        key,
        recipient,
        archive,
        soon,
    }
}

fn restore(s: &Setup, archive: &Path, extra: &[&str]) -> std::process::Output {
    sv_backup(&s.app, &s.emu)
        .args(["--format", "json", "restore"])
        .arg(archive)
        .arg("--identity")
        .arg(&s.key)
        .args(extra)
        .output()
        .unwrap()
}

/// Waits until the `expiring` entry is within a minute of expiring (KV refuses it then).
fn wait_for_expiry(soon: i64) {
    while chrono::Utc::now().timestamp() + 60 <= soon {
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// Without what a restore cannot bring back: the KV entry that expired, and the Worker's
/// secret (never backed up).
fn without_expiring(mut v: Value) -> Value {
    v["kv"]["staging-sessions"]
        .as_object_mut()
        .unwrap()
        .remove("expiring");
    if let Some(w) = v["workers"].get_mut(WORKER) {
        w["secrets"] = json!([]);
        w["bindings"]
            .as_array_mut()
            .unwrap()
            .retain(|b| b["type"] != "secret_text");
    }
    v
}

#[test]
fn round_trip_restores_everything_byte_for_byte() {
    let s = setup();
    let before = fingerprint(&s.emu);
    let state = std::fs::read(s.app.join(".sv/state/staging.json")).unwrap();
    wipe(&s.emu);
    std::fs::remove_file(s.app.join(".sv/state/staging.json")).unwrap();
    assert_ne!(fingerprint(&s.emu), before);
    wait_for_expiry(s.soon);

    let out = restore(&s, &s.archive, &["--yes"]);
    let report = json(&out);
    let after = fingerprint(&s.emu);
    assert_eq!(without_expiring(after), without_expiring(before.clone()));
    assert!(
        fingerprint(&s.emu)["kv"]["staging-sessions"]
            .get("expiring")
            .is_none()
    );
    assert_eq!(
        std::fs::read(s.app.join(".sv/state/staging.json")).unwrap(),
        state
    );
    let by: BTreeMap<String, Value> = report["restored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["resource"].as_str().unwrap().to_owned(), o.clone()))
        .collect();
    assert_eq!(by["kv.sessions"]["restored"], 3, "{report:#}");
    assert_eq!(by["kv.sessions"]["skipped"], 1, "{report:#}");
    assert_eq!(by["kv.cache"]["restored"], 150, "{report:#}");
    assert_eq!(by["r2.uploads"]["restored"], 4, "{report:#}");
    assert_eq!(by["dns"]["restored"], 1, "{report:#}");
    assert_eq!(by["worker.spacevision-api"]["restored"], 1, "{report:#}");
    assert!(
        by["worker.spacevision-api"]["note"]
            .as_str()
            .unwrap()
            .contains("API_KEY"),
        "{report:#}"
    );
    assert_eq!(by["state"]["restored"], 1, "{report:#}");
    // Resources in dependency order: data stores, DNS, then state.
    let order: Vec<&str> = report["restored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["resource"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "d1.main",
            "kv.cache",
            "kv.sessions",
            "r2.uploads",
            "worker.spacevision-api",
            "dns",
            "state"
        ]
    );
    // Both FTS5 tables answer searches again: the own-content one refilled, the external
    // content one rebuilt from `posts`.
    let hits = runtime().block_on(async {
        let c = client(&s.emu);
        let db = c.d1().get("staging-main").await.unwrap();
        let a = c
            .d1()
            .query(
                &db.uuid,
                "SELECT title FROM notes WHERE notes MATCH 'nebula'",
                &[],
            )
            .await
            .unwrap();
        let b = c
            .d1()
            .query(
                &db.uuid,
                "SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'galaxy'",
                &[],
            )
            .await
            .unwrap();
        (a[0].results.clone(), b[0].results.clone())
    });
    assert_eq!(hits.0.len(), 1, "{hits:?}");
    assert_eq!(hits.0[0]["title"], "orion");
    assert_eq!(hits.1.len(), 1, "{hits:?}");
    assert_eq!(hits.1[0]["rowid"], 7);
    let audit = std::fs::read_to_string(s.app.join(".sv/audit.jsonl")).unwrap();
    let record: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(record["operation"], "backup.restore");
    assert_eq!(record["result"], "succeeded", "{record}");

    // Restoring again over the restored data changes nothing.
    let again = restore(&s, &s.archive, &["--yes"]);
    json(&again);
    assert_eq!(
        without_expiring(fingerprint(&s.emu)),
        without_expiring(before)
    );
}

#[test]
fn plan_and_dry_run_write_nothing() {
    let s = setup();
    // Something to overwrite and something to keep.
    runtime().block_on(async {
        let c = client(&s.emu);
        let ns: Vec<_> = c.kv().list_namespaces().try_collect().await.unwrap();
        let sessions = ns.iter().find(|n| n.title == "staging-sessions").unwrap();
        c.kv()
            .put_value(&sessions.id, "plain", "changed", &Default::default())
            .await
            .unwrap();
        c.kv()
            .put_value(&sessions.id, "extra", "kept", &Default::default())
            .await
            .unwrap();
    });
    let before = fingerprint(&s.emu);
    let scrub = filters(&s.archive);
    let mut scrub = scrub;
    scrub.push((
        r"bookmark=[0-9a-f-]+".to_owned(),
        "bookmark=[BOOKMARK]".to_owned(),
    ));
    scrub.push((r"is \d+ (minutes|hours)".to_owned(), "is [AGE]".to_owned()));
    scrub.push((r"~\d+ s".to_owned(), "~[N] s".to_owned()));
    for format in ["human", "markdown"] {
        let out = sv_backup(&s.app, &s.emu)
            .args(["--format", format, "plan"])
            .arg(&s.archive)
            .arg("--identity")
            .arg(&s.key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        insta::with_settings!({ filters => borrowed(&scrub) }, {
            insta::assert_snapshot!(format!("plan_{format}"), text);
        });
    }
    let plan = json(
        &sv_backup(&s.app, &s.emu)
            .args(["--format", "json", "plan"])
            .arg(&s.archive)
            .arg("--identity")
            .arg(&s.key)
            .output()
            .unwrap(),
    );
    let kv = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["resource"] == "kv.sessions")
        .unwrap();
    assert_eq!(kv["overwrites"], 4, "{plan:#}");
    assert_eq!(kv["kept"], 1, "{plan:#}");
    assert_eq!(kv["live_items"], 5, "{plan:#}");
    assert!(
        plan["fast_paths"][0]["available"].as_bool().unwrap(),
        "{plan:#}"
    );
    assert!(
        plan["fast_paths"][0]["command"]
            .as_str()
            .unwrap()
            .starts_with("wrangler d1 time-travel restore staging-main --bookmark="),
        "{plan:#}"
    );
    let out = sv_backup(&s.app, &s.emu)
        .arg("restore")
        .arg(&s.archive)
        .arg("--identity")
        .arg(&s.key)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Dry run: nothing was written."), "{text}");
    assert_eq!(fingerprint(&s.emu), before);
    assert!(
        !s.app.join(".sv/audit.jsonl").exists() || {
            let audit = std::fs::read_to_string(s.app.join(".sv/audit.jsonl")).unwrap();
            !audit.contains("backup.restore")
        }
    );
}

#[test]
fn only_restores_the_chosen_resources() {
    let s = setup();
    let before = fingerprint(&s.emu);
    wipe(&s.emu);
    let wiped = fingerprint(&s.emu);
    let out = restore(
        &s,
        &s.archive,
        &["--yes", "--only", "kv:cache", "--only", "r2"],
    );
    let report = json(&out);
    let restored: Vec<&str> = report["restored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["resource"].as_str().unwrap())
        .collect();
    assert_eq!(restored, ["kv.cache", "r2.uploads"]);
    let after = fingerprint(&s.emu);
    assert_eq!(after["kv"]["staging-cache"], before["kv"]["staging-cache"]);
    assert_eq!(after["r2"], before["r2"]);
    assert_eq!(
        after["kv"]["staging-sessions"],
        wiped["kv"]["staging-sessions"]
    );
    assert_eq!(after["d1"], wiped["d1"]);
    assert_eq!(after["dns"], wiped["dns"]);

    // An --only the archive does not hold: exit 2.
    let out = restore(&s, &s.archive, &["--yes", "--only", "kv:nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--only kv.nope"), "{stderr}");
}

/// Adds a `drill` environment to sv.yaml (prefix `drill-`, its own zone) and creates its
/// data stores, as `sv-plan apply --env drill` would.
fn add_drill(s: &Setup, with_bucket: bool) {
    let yaml = std::fs::read_to_string(s.app.join("sv.yaml")).unwrap();
    let yaml = yaml.replace(
        "\nworkspaces:",
        &format!("  drill:\n    prefix: \"drill-\"\n    zone: {DRILL_ZONE}\n\nworkspaces:"),
    );
    std::fs::write(s.app.join("sv.yaml"), yaml).unwrap();
    let out = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
        ])
        .arg(format!("{{\"name\":\"{DRILL_ZONE}\"}}"))
        .arg(format!("{}/__admin/zones", s.emu.base_url()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    runtime().block_on(async {
        let c = client(&s.emu);
        c.kv().create_namespace("drill-sessions").await.unwrap();
        c.kv().create_namespace("drill-cache").await.unwrap();
        c.d1()
            .create(&sv_cloudflare::d1::CreateDatabase {
                name: "drill-main".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        if with_bucket {
            c.r2()
                .create_bucket(&sv_cloudflare::r2::CreateBucket {
                    name: "drill-uploads".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    });
}

#[test]
fn restores_into_another_environment() {
    let s = setup();
    add_drill(&s, true);
    let before = fingerprint(&s.emu);
    wait_for_expiry(s.soon);
    let out = restore(&s, &s.archive, &["--yes", "--target-env", "drill"]);
    let report = json(&out);
    let after = fingerprint(&s.emu);
    // The source is untouched; the drill copies hold the same data.
    for (kind, name) in [
        ("kv", "sessions"),
        ("kv", "cache"),
        ("d1", "main"),
        ("r2", "uploads"),
    ] {
        assert_eq!(
            after[kind][format!("staging-{name}")],
            before[kind][format!("staging-{name}")]
        );
    }
    assert_eq!(after["kv"]["drill-cache"], before["kv"]["staging-cache"]);
    assert_eq!(
        without_expiring(json!({"kv": {"staging-sessions": after["kv"]["drill-sessions"]}})),
        without_expiring(json!({"kv": {"staging-sessions": before["kv"]["staging-sessions"]}}))
    );
    assert_eq!(
        after["d1"]["drill-main"]["rows"],
        before["d1"]["staging-main"]["rows"]
    );
    assert_eq!(
        after["r2"]["drill-uploads"],
        before["r2"]["staging-uploads"]
    );
    let dns: Vec<String> = after["dns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap().to_owned())
        .collect();
    assert!(dns.contains(&format!("api.{DRILL_ZONE}")), "{dns:?}");
    // The Worker is deployed under drill's name, bound to drill's data stores.
    let drill_workers: Vec<(&String, &Value)> = after["workers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.as_str() != WORKER)
        .collect();
    assert_eq!(drill_workers.len(), 1, "{:#}", after["workers"]);
    let (_, drill_worker) = drill_workers[0];
    let ids = runtime().block_on(async {
        let c = client(&s.emu);
        let ns: Vec<_> = c.kv().list_namespaces().try_collect().await.unwrap();
        let cache = ns
            .iter()
            .find(|n| n.title == "drill-cache")
            .unwrap()
            .id
            .clone();
        let db = c.d1().get("drill-main").await.unwrap().uuid;
        (cache, db)
    });
    let binding = |name: &str| {
        drill_worker["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(binding("CACHE")["namespace_id"], ids.0.as_str());
    assert_eq!(binding("DB")["id"], ids.1.as_str());
    assert_eq!(binding("UPLOADS")["bucket_name"], "drill-uploads");
    assert_eq!(
        drill_worker["modules"],
        before["workers"][WORKER]["modules"]
    );
    assert_eq!(drill_worker["schedules"], json!(["*/5 * * * *"]));
    // The state belongs to staging: not copied into drill.
    let state = report["restored"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["resource"] == "state")
        .unwrap();
    assert_eq!(state["restored"], 0, "{report:#}");
    assert!(!s.app.join(".sv/state/drill.json").exists());
}

/// Decrypts, lets `edit` change the extracted files, and packs and encrypts them again in
/// manifest order (as someone holding a recipient key could).
fn repack(s: &Setup, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let dir = s.tmp.path().join(format!("repack-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    crate::create::age_into_tar(&s.key, &s.archive, &["xz", "-C", dir.to_str().unwrap()]);
    let listing = crate::create::age_into_tar(&s.key, &s.archive, &["tz"]);
    edit(&dir);
    let names: Vec<String> = String::from_utf8(listing.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let out = s.tmp.path().join(format!("{name}.tar.gz.age"));
    let mut tar = std::process::Command::new("tar")
        .arg("czf")
        .arg("-")
        .arg("-C")
        .arg(&dir)
        .args(&names)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let status = std::process::Command::new("age")
        .args(["-r", &s.recipient, "-o"])
        .arg(&out)
        .stdin(tar.stdout.take().unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(tar.wait().unwrap().success());
    out
}

fn edit_manifest(dir: &Path, f: impl FnOnce(&mut Value)) {
    let path = dir.join("manifest.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut m);
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let s = setup();
    wipe(&s.emu);
    let before = fingerprint(&s.emu);
    let audit_before = std::fs::read_to_string(s.app.join(".sv/audit.jsonl")).unwrap();
    let state = std::fs::read(s.app.join(".sv/state/staging.json")).unwrap();
    let refused = |archive: &Path, extra: &[&str], expect: &str| {
        let out = restore(&s, archive, extra);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{expect}: {stderr}");
        assert!(stderr.contains(expect), "expected {expect:?} in {stderr}");
        assert_eq!(
            fingerprint(&s.emu),
            before,
            "{expect}: the emulator changed"
        );
        assert_eq!(
            std::fs::read(s.app.join(".sv/state/staging.json")).unwrap(),
            state,
            "{expect}: the state file changed"
        );
    };

    // The wrong key.
    let other = s.tmp.path().join("other.txt");
    keygen(&other);
    let out = sv_backup(&s.app, &s.emu)
        .args(["restore", "--yes"])
        .arg(&s.archive)
        .arg("--identity")
        .arg(&other)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("wrong key"), "{stderr}");
    assert_eq!(fingerprint(&s.emu), before);

    // A flipped byte near the end: found by pass one, after most entries were read.
    let bytes = std::fs::read(&s.archive).unwrap();
    let flipped = s.tmp.path().join("flipped.tar.gz.age");
    let mut b = bytes.clone();
    let at = b.len() - 100;
    b[at] ^= 0x40;
    std::fs::write(&flipped, b).unwrap();
    refused(&flipped, &["--yes"], "modified or truncated");

    // Truncated.
    let truncated = s.tmp.path().join("truncated.tar.gz.age");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    refused(&truncated, &["--yes"], "truncated");

    // A manifest whose checksum does not match its entry.
    let mismatch = repack(&s, "mismatch", |dir| {
        edit_manifest(dir, |m| {
            let entries = m["entries"].as_array_mut().unwrap();
            let last = entries.len() - 1;
            entries[last]["sha256"] = json!("0".repeat(64));
        });
    });
    refused(&mismatch, &["--yes"], "sha256");

    // A newer format version.
    let newer = repack(&s, "newer", |dir| {
        edit_manifest(dir, |m| m["format_version"] = json!(99));
    });
    refused(&newer, &["--yes"], "format version 99");

    // Without --yes and no terminal to ask on.
    refused(&s.archive, &[], "--yes");

    // A target environment missing a resource (drill has no R2 bucket).
    add_drill(&s, false);
    let before = fingerprint(&s.emu);
    let out = restore(&s, &s.archive, &["--yes", "--target-env", "drill"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("r2.uploads"), "{stderr}");
    assert!(stderr.contains("\"drill-uploads\""), "{stderr}");
    assert!(stderr.contains("sv-plan apply --env drill"), "{stderr}");
    assert_eq!(fingerprint(&s.emu), before);
    let audit = std::fs::read_to_string(s.app.join(".sv/audit.jsonl")).unwrap();
    assert_eq!(audit, audit_before, "a refused restore is not a restore");
}

/// Why `create` exports base tables only: a plain export of a database with an FTS5 table
/// does not import (wrangler's `d1 export` breaks the same way; D1 itself refuses to
/// export virtual tables). Either the export or the import must fail.
#[test]
fn regression_full_export_of_an_fts5_database_does_not_import() {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    runtime().block_on(async {
        let c = client(&emu);
        let d1 = c.d1();
        let create = |name: &str| sv_cloudflare::d1::CreateDatabase {
            name: name.into(),
            ..Default::default()
        };
        let src = d1.create(&create("fts-src")).await.unwrap();
        d1.query(
            &src.uuid,
            "CREATE VIRTUAL TABLE notes USING fts5(body); INSERT INTO notes VALUES ('hello');",
            &[],
        )
        .await
        .unwrap();
        let export = d1.export(&src.uuid, &Default::default()).await;
        let Ok(export) = export else { return };
        let chunks: Vec<bytes::Bytes> = d1
            .download_export(&export)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let sql = bytes::Bytes::from(chunks.concat());
        let dst = d1.create(&create("fts-dst")).await.unwrap();
        let imported = d1.import(&dst.uuid, sql, &Default::default()).await;
        let err = imported.unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
    });
}

#[test]
fn passphrase_archives_restore_and_the_passphrase_is_never_shown() {
    const PASS: &str = "correct horse battery staple 42";
    let emu = sv_test::EmulatorProcess::builder()
        .arg("--zone-name")
        .arg(ZONE)
        .start()
        .unwrap();
    seed(&emu);
    let tmp = tempfile::tempdir().unwrap();
    let app = app_copy(tmp.path());
    let out_dir = tmp.path().join("backups");
    let out = sv_backup(&app, &emu)
        .args([
            "--env",
            "staging",
            "create",
            "--passphrase-env",
            "SV_TEST_PASS",
            "--out",
        ])
        .arg(&out_dir)
        .env("SV_TEST_PASS", PASS)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(!text.contains(PASS));
    let archive = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz.age"))
        .unwrap();

    let verify = |var_value: &str| {
        sv_backup(&app, &emu)
            .args(["verify", "--passphrase-env", "SV_TEST_PASS"])
            .arg(&archive)
            .env("SV_TEST_PASS", var_value)
            .output()
            .unwrap()
    };
    assert!(verify(PASS).status.success());
    let wrong = verify("not it");
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("wrong passphrase"), "{stderr}");
    let key = tmp.path().join("key.txt");
    keygen(&key);
    let out = sv_backup(&app, &emu)
        .arg("verify")
        .arg(&archive)
        .arg("--identity")
        .arg(&key)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("encrypted to a passphrase"), "{stderr}");

    // Restore in GitHub Actions: job summary and outputs written, the passphrase only ever
    // in the runner's add-mask command.
    let summary = tmp.path().join("summary.md");
    let outputs = tmp.path().join("outputs.txt");
    let before = fingerprint(&emu);
    let out = sv_backup(&app, &emu)
        .args([
            "restore",
            "--yes",
            "--only",
            "kv",
            "--passphrase-env",
            "SV_TEST_PASS",
        ])
        .arg(&archive)
        .env("SV_TEST_PASS", PASS)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(
            !line.contains(PASS) || line.starts_with("::add-mask::"),
            "{line}"
        );
    }
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("### Restored `staging` into `staging`"),
        "{summary}"
    );
    assert!(!summary.contains(PASS));
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert!(outputs.contains("restored"), "{outputs}");
    assert_eq!(
        fingerprint(&emu),
        before,
        "restoring the same data changes nothing"
    );
    let human: String = stdout
        .lines()
        .filter(|l| !l.starts_with("::"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut scrub = filters(&archive);
    scrub.push((r"\d+\.\d s".to_owned(), "[T] s".to_owned()));
    insta::with_settings!({ filters => borrowed(&scrub) }, {
        insta::assert_snapshot!("restore_human", human);
        insta::assert_snapshot!("restore_markdown", summary);
    });
}

/// An object larger than what a restore holds in memory (16 MiB) is copied into an
/// encrypted temporary spool, uploaded from there, and comes back byte for byte with its
/// metadata; the spool is gone afterwards and held no plaintext.
#[test]
fn an_object_too_large_to_hold_in_memory_is_spooled_and_restored() {
    let emu = sv_test::EmulatorProcess::builder()
        .arg("--zone-name")
        .arg(ZONE)
        .start()
        .unwrap();
    seed(&emu);
    let big: Vec<u8> = (0..17 * 1024 * 1024 + 5u32)
        .map(|i| (i.wrapping_mul(7) % 253) as u8)
        .collect();
    let options = sv_cloudflare::r2::PutObjectOptions {
        content_type: Some("application/x-tar".into()),
        custom_metadata: [("owner".to_owned(), "ada".to_owned())].into(),
        ..Default::default()
    };
    runtime().block_on(async {
        client(&emu)
            .r2()
            .put_object(
                "staging-uploads",
                "big/archive.tar",
                sv_cloudflare::r2::ObjectBody::from(big.clone()),
                &options,
            )
            .await
            .unwrap();
    });
    let tmp = tempfile::tempdir().unwrap();
    let app = app_copy(tmp.path());
    let key = tmp.path().join("key.txt");
    let recipient = keygen(&key);
    let out_dir = tmp.path().join("backups");
    let out = sv_backup(&app, &emu)
        .args(["--env", "staging", "create", "--recipient"])
        .arg(&recipient)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archive = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz.age"))
        .unwrap();
    runtime().block_on(async {
        client(&emu)
            .r2()
            .delete_object("staging-uploads", "big/archive.tar", None)
            .await
            .unwrap();
    });
    let spools = tmp.path().join("spools");
    std::fs::create_dir_all(&spools).unwrap();
    let out = sv_backup(&app, &emu)
        .env("TMPDIR", &spools)
        .args(["--format", "json", "restore"])
        .arg(&archive)
        .arg("--identity")
        .arg(&key)
        .args(["--env", "staging", "--yes", "--only", "r2:uploads"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(&spools).unwrap().count(), 0);
    runtime().block_on(async {
        let got = client(&emu)
            .r2()
            .get_object("staging-uploads", "big/archive.tar", None)
            .await
            .unwrap();
        assert_eq!(got.custom_metadata()["owner"], "ada");
        assert_eq!(
            got.headers["content-type"].to_str().unwrap(),
            "application/x-tar"
        );
        let bytes = got.bytes().await.unwrap();
        assert_eq!(bytes.len(), big.len());
        assert_eq!(sha(&bytes), sha(&big));
    });
}

/// With sv-plan's state in R2 (`state.r2`), the `state` item backs the object up and a
/// restore puts it back — refused while a run holds the state's lock.
#[test]
fn state_kept_in_r2_is_backed_up_and_restored() {
    let emu = sv_test::EmulatorProcess::builder()
        .arg("--zone-name")
        .arg(ZONE)
        .start()
        .unwrap();
    seed(&emu);
    let tmp = tempfile::tempdir().unwrap();
    let app = app_copy(tmp.path());
    let yaml = std::fs::read_to_string(app.join("sv.yaml")).unwrap();
    let yaml = yaml.replacen(
        "state:\n  local: .sv/state",
        "state:\n  r2: { bucket: team-state, prefix: sv/ }\n  #",
        1,
    );
    std::fs::write(app.join("sv.yaml"), yaml).unwrap();
    let mut state = sv_planner::State::new("staging", "lineage-1");
    state.serial = 7;
    let original = state.to_json();
    let c = client(&emu);
    let put = |key: &str, text: &str| {
        let (c, key, text) = (c.clone(), key.to_owned(), text.to_owned());
        runtime().block_on(async move {
            c.r2()
                .put_object_if(
                    "team-state",
                    &key,
                    bytes::Bytes::from(text),
                    "application/json",
                    &sv_cloudflare::r2_conditional::WriteCondition::Always,
                )
                .await
                .unwrap();
        });
    };
    let get = |key: &str| {
        let (c, key) = (c.clone(), key.to_owned());
        runtime().block_on(async move {
            let o = c.r2().get_object("team-state", &key, None).await.unwrap();
            String::from_utf8(o.bytes().await.unwrap().to_vec()).unwrap()
        })
    };
    runtime()
        .block_on(c.r2().create_bucket(&sv_cloudflare::r2::CreateBucket {
            name: "team-state".into(),
            ..Default::default()
        }))
        .unwrap();
    put("sv/staging.json", &original);

    let key = tmp.path().join("key.txt");
    let recipient = keygen(&key);
    let out_dir = tmp.path().join("backups");
    let created = json(
        &sv_backup(&app, &emu)
            .args([
                "--format",
                "json",
                "--env",
                "staging",
                "create",
                "--recipient",
            ])
            .arg(&recipient)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap(),
    );
    let state_item = created["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["resource"] == "state")
        .unwrap_or_else(|| panic!("{created:#}"));
    assert_eq!(state_item["target"], "r2://team-state/sv/staging.json");
    let archive = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz.age"))
        .unwrap();

    // The state moves on (or is damaged); the restore puts the backed-up one back.
    put("sv/staging.json", "{\"damaged\": true}");
    let restore_state = || {
        sv_backup(&app, &emu)
            .args(["--format", "json", "restore"])
            .arg(&archive)
            .arg("--identity")
            .arg(&key)
            .args(["--env", "staging", "--yes", "--only", "state"])
            .output()
            .unwrap()
    };
    // Not while a run holds the lock.
    put("sv/staging.lock", "{}");
    let out = restore_state();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("is locked"), "{stderr}");
    assert_eq!(get("sv/staging.json"), "{\"damaged\": true}");
    runtime()
        .block_on(c.r2().delete_object("team-state", "sv/staging.lock", None))
        .unwrap();
    let report = json(&restore_state());
    assert_eq!(report["restored"][0]["resource"], "state", "{report:#}");
    assert_eq!(get("sv/staging.json"), original);
}
