//! `create` → `verify` → `list` against sv-emulator, and interop with the `age` and `tar`
//! command-line tools.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;
use serde_json::Value;

pub(crate) const ZONE: &str = "staging.spacevision.app";

const CLEARED: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "SV_ENV",
    "SV_CONFIG",
    "SV_FORMAT",
    "SV_BACKUP_IDENTITY",
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_API_BASE_URL",
    "CLOUDFLARE_ACCOUNT_ID",
];

pub(crate) fn sv_backup(dir: &Path, emu: &sv_test::EmulatorProcess) -> Command {
    let mut cmd = Command::cargo_bin("sv-backup").unwrap();
    for k in CLEARED {
        cmd.env_remove(k);
    }
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(emu.cloudflare_env());
    cmd
}

pub(crate) fn app_copy(root: &Path) -> PathBuf {
    let app = root.join("app");
    sv_test::example::copy_to(&app).unwrap();
    // Also back up the cache namespace: text values only, read with bulk gets.
    let yaml = std::fs::read_to_string(app.join("sv.yaml")).unwrap();
    let yaml = yaml.replace(
        "include: [d1.main, kv.sessions,",
        "include: [d1.main, kv.sessions, kv.cache,",
    );
    assert!(yaml.contains("kv.cache,"));
    std::fs::write(app.join("sv.yaml"), yaml).unwrap();
    std::fs::create_dir_all(app.join(".sv/state")).unwrap();
    std::fs::write(
        app.join(".sv/state/staging.json"),
        r#"{"version":1,"resources":{}}"#,
    )
    .unwrap();
    app
}

/// `age-keygen -o FILE`; returns the public key.
pub(crate) fn keygen(path: &Path) -> String {
    let out = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned()
}

/// Seeds the staging data stores of spacevision with data of every shape we keep.
pub(crate) fn seed(emu: &sv_test::EmulatorProcess) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sv_cloudflare::install_crypto_provider();
        let client = emu.client().unwrap();
        let ns = client
            .kv()
            .create_namespace("staging-sessions")
            .await
            .unwrap();
        let kv = client.kv();
        kv.put_value(&ns.id, "plain", "hello", &Default::default())
            .await
            .unwrap();
        kv.put_value(
            &ns.id,
            "with-meta",
            "v2",
            &sv_cloudflare::kv::KvPutOptions {
                expiration: Some(4_102_444_800),
                metadata: Some(serde_json::json!({"user": "alice"})),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        kv.put_value(
            &ns.id,
            "binary",
            vec![0u8, 159, 146, 150, 255],
            &Default::default(),
        )
        .await
        .unwrap();
        let cache = client.kv().create_namespace("staging-cache").await.unwrap();
        let pairs: Vec<sv_cloudflare::kv::KvBulkPair> = (0..150)
            .map(|i| sv_cloudflare::kv::KvBulkPair {
                key: format!("page-{i:03}"),
                value: format!("<p>{i}</p>"),
                expiration: None,
                expiration_ttl: None,
                metadata: (i == 7).then(|| serde_json::json!({"lang": "en"})),
                base64: false,
            })
            .collect();
        kv.bulk_write(&cache.id, &pairs).await.unwrap();
        let db = client
            .d1()
            .create(&sv_cloudflare::d1::CreateDatabase {
                name: "staging-main".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        client
            .d1()
            .query(
                &db.uuid,
                "CREATE TABLE observations (id INTEGER PRIMARY KEY, name TEXT); \
                 INSERT INTO observations (name) VALUES ('m31'), ('m42'), ('ngc7000');",
                &[],
            )
            .await
            .unwrap();
        client
            .r2()
            .create_bucket(&sv_cloudflare::r2::CreateBucket {
                name: "staging-uploads".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("owner".to_owned(), "alice".to_owned());
        client
            .r2()
            .put_object(
                "staging-uploads",
                "users/alice/photo.jpg",
                sv_cloudflare::r2::ObjectBody::from(vec![7u8; 200_000]),
                &sv_cloudflare::r2::PutObjectOptions {
                    content_type: Some("image/jpeg".into()),
                    custom_metadata: meta,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        client
            .r2()
            .put_object(
                "staging-uploads",
                "readme.txt",
                sv_cloudflare::r2::ObjectBody::from(b"hi".to_vec()),
                &Default::default(),
            )
            .await
            .unwrap();
        let zone = client
            .zones()
            .find_for_hostname(ZONE)
            .await
            .unwrap()
            .unwrap();
        client
            .dns()
            .create(
                &zone.id,
                &sv_cloudflare::dns::DnsRecordInput {
                    record_type: "A".into(),
                    name: "api".into(),
                    content: "192.0.2.10".into(),
                    ttl: 1,
                    proxied: None,
                    comment: None,
                    tags: Vec::new(),
                    priority: None,
                    data: None,
                },
            )
            .await
            .unwrap();
    });
}

/// `age -d -i KEY ARCHIVE | tar ARGS`, both checked for success; tar's output.
pub(crate) fn age_into_tar(key: &Path, archive: &Path, args: &[&str]) -> std::process::Output {
    let mut age = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(key)
        .arg(archive)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let tar = std::process::Command::new("tar")
        .args(args)
        .stdin(age.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(age.wait().unwrap().success());
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    tar
}

/// Hides what changes from run to run: paths, times, hashes, the encrypted size.
pub(crate) fn filters(archive: &Path) -> Vec<(String, String)> {
    vec![
        (
            regex_escape(archive.to_str().unwrap()),
            "[ARCHIVE]".to_owned(),
        ),
        (r"[0-9a-f]{64}".to_owned(), "[SHA256]".to_owned()),
        (r"size \d+ bytes".to_owned(), "size [SIZE] bytes".to_owned()),
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00".to_owned(),
            "[TIME]".to_owned(),
        ),
        (
            format!(r"sv-backup {}", regex_escape(env!("CARGO_PKG_VERSION"))),
            "sv-backup [VERSION]".to_owned(),
        ),
    ]
}

pub(crate) fn borrowed(filters: &[(String, String)]) -> Vec<(&str, &str)> {
    filters
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}

pub(crate) fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

pub(crate) fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout {}\nstderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn create_verify_list_and_interop() {
    let emu = sv_test::EmulatorProcess::builder()
        .arg("--zone-name")
        .arg(ZONE)
        .start()
        .unwrap();
    seed(&emu);
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
    let human = String::from_utf8(out.stdout).unwrap();
    let scrub = filters(&archive);
    insta::with_settings!({ filters => borrowed(&scrub) }, {
        insta::assert_snapshot!("create_human", human);
    });
    assert!(
        out_dir
            .join(format!(
                "{}.sha256",
                archive.file_name().unwrap().to_string_lossy()
            ))
            .exists()
    );
    // The audit trail records the backup.
    let audit = std::fs::read_to_string(app.join(".sv/audit.jsonl")).unwrap();
    assert!(audit.contains("\"backup.create\""), "{audit}");

    // verify with the identity: every resource with its counts.
    let verified = json(
        &sv_backup(&app, &emu)
            .args(["--format", "json", "verify"])
            .arg(&archive)
            .arg("--identity")
            .arg(&key)
            .output()
            .unwrap(),
    );
    let res = &verified["resources"];
    assert_eq!(res["kv.sessions"]["items"], 3, "{verified:#}");
    assert_eq!(res["kv.cache"]["items"], 150, "{verified:#}");
    assert_eq!(res["r2.uploads"]["entries"], 2, "{verified:#}");
    assert_eq!(res["d1.main"]["entries"], 1, "{verified:#}");
    assert_eq!(res["dns"]["entries"], 1, "{verified:#}");
    assert_eq!(res["state"]["entries"], 1, "{verified:#}");
    assert_eq!(verified["environment"], "staging");
    for format in ["human", "markdown"] {
        let out = sv_backup(&app, &emu)
            .args(["--format", format, "verify"])
            .arg(&archive)
            .arg("--identity")
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        insta::with_settings!({ filters => borrowed(&scrub) }, {
            insta::assert_snapshot!(format!("verify_{format}"), text);
        });
    }

    // The identity from SV_BACKUP_IDENTITY works too.
    let verified = json(
        &sv_backup(&app, &emu)
            .args(["--format", "json", "verify"])
            .arg(&archive)
            .env("SV_BACKUP_IDENTITY", std::fs::read_to_string(&key).unwrap())
            .output()
            .unwrap(),
    );
    assert_eq!(verified["resources"], *res);

    // age -d -i key file | tar tz
    let tar = age_into_tar(&key, &archive, &["tz"]);
    let listing = String::from_utf8(tar.stdout).unwrap();
    let names: Vec<&str> = listing.lines().collect();
    assert_eq!(names[0], "manifest.json", "{listing}");
    for expected in [
        "kv/sessions/entries.jsonl",
        "kv/cache/entries.jsonl",
        "d1/main/dump.sql",
        "r2/uploads/objects/users/alice/photo.jpg",
        "r2/uploads/objects/readme.txt",
        "dns/staging.spacevision.app.bind",
        "state/staging.json",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from\n{listing}"
        );
    }

    // The KV entries keep binary values, metadata and expiration.
    let extract = tmp.path().join("x");
    std::fs::create_dir_all(&extract).unwrap();
    age_into_tar(&key, &archive, &["xz", "-C", extract.to_str().unwrap()]);
    let jsonl = std::fs::read_to_string(extract.join("kv/sessions/entries.jsonl")).unwrap();
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let with_meta = lines.iter().find(|l| l["key"] == "with-meta").unwrap();
    assert_eq!(with_meta["metadata"]["user"], "alice");
    assert_eq!(with_meta["expiration"], 4_102_444_800_i64);
    let cache = std::fs::read_to_string(extract.join("kv/cache/entries.jsonl")).unwrap();
    let cache: Vec<Value> = cache
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(cache.len(), 150);
    assert_eq!(cache[7]["key"], "page-007");
    assert_eq!(cache[7]["value"], "PHA+NzwvcD4=");
    assert_eq!(cache[7]["metadata"]["lang"], "en");
    let binary = lines.iter().find(|l| l["key"] == "binary").unwrap();
    assert_eq!(binary["value"], "AJ+Slv8=");
    let dump = std::fs::read_to_string(extract.join("d1/main/dump.sql")).unwrap();
    assert!(dump.contains("ngc7000"), "{dump}");
    // sqlite3 loads the dump as it is.
    let db = tmp.path().join("restored.sqlite");
    let loaded = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(format!(
            ".read {}",
            extract.join("d1/main/dump.sql").display()
        ))
        .arg("SELECT COUNT(*) FROM observations;")
        .output()
        .unwrap();
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&loaded.stdout).trim(), "3");
    let photo = std::fs::read(extract.join("r2/uploads/objects/users/alice/photo.jpg")).unwrap();
    assert_eq!(photo, vec![7u8; 200_000]);

    // list: the sidecar checks out and the manifest names the environment.
    let listed = json(
        &sv_backup(&app, &emu)
            .args(["--format", "json", "list", "--dir"])
            .arg(&out_dir)
            .arg("--identity")
            .arg(&key)
            .output()
            .unwrap(),
    );
    assert_eq!(
        listed["archives"].as_array().unwrap().len(),
        1,
        "{listed:#}"
    );
    assert_eq!(listed["archives"][0]["sha256"], "ok", "{listed:#}");
    assert_eq!(
        listed["archives"][0]["environment"], "staging",
        "{listed:#}"
    );

    // A flipped byte: refused with exit 2 and a clear message.
    let tampered = tmp.path().join("tampered.tar.gz.age");
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&tampered, bytes).unwrap();
    let out = sv_backup(&app, &emu)
        .arg("verify")
        .arg(&tampered)
        .arg("--identity")
        .arg(&key)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("modified or truncated"), "{stderr}");

    // The wrong key: exit 2.
    let other = tmp.path().join("other.txt");
    keygen(&other);
    let out = sv_backup(&app, &emu)
        .arg("verify")
        .arg(&archive)
        .arg("--identity")
        .arg(&other)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}

#[test]
fn dry_run_lists_the_backup_set_without_calling_the_api() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app_copy(tmp.path());
    let out = Command::cargo_bin("sv-backup")
        .unwrap()
        .current_dir(&app)
        .env_remove("SV_ENV")
        .env_remove("CLOUDFLARE_API_TOKEN")
        .env(
            "CLOUDFLARE_ACCOUNT_ID",
            sv_test::emulator::DEFAULT_ACCOUNT_ID,
        )
        .env("NO_COLOR", "1")
        .args(["--env", "staging", "create", "--dry-run", "--out"])
        .arg(tmp.path().join("backups"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!tmp.path().join("backups").exists());
    let text = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!(text.replace(app.to_str().unwrap(), "[APP]"));
}

#[test]
fn a_failed_backup_leaves_no_archive_and_is_audited() {
    // Nothing seeded: the first data store (d1.main) does not exist.
    let emu = sv_test::EmulatorProcess::builder()
        .arg("--zone-name")
        .arg(ZONE)
        .start()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let app = app_copy(tmp.path());
    let recipient = keygen(&tmp.path().join("key.txt"));
    let out_dir = tmp.path().join("backups");
    let out = sv_backup(&app, &emu)
        .args(["--env", "staging", "create", "--recipient"])
        .arg(&recipient)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("backing up d1.main (staging-main)"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let audit = std::fs::read_to_string(app.join(".sv/audit.jsonl")).unwrap();
    let record: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(record["operation"], "backup.create");
    assert_eq!(record["result"], "failed", "{record}");
}
