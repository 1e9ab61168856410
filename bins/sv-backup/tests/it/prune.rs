//! `prune` and `list` over the three sources: a local directory, workflow artifacts (the
//! emulator's `/github`) and an R2 bucket (the emulator's Cloudflare API).

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const REPO: &str = "acme/spacevision";

fn sv_backup(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("sv-backup").unwrap();
    for k in [
        "GITHUB_ACTIONS",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_TOKEN",
        "GITHUB_REPOSITORY",
        "GITHUB_API_URL",
        "SV_ENV",
        "SV_CONFIG",
        "SV_FORMAT",
        "SV_BACKUP_IDENTITY",
        "CLOUDFLARE_API_TOKEN",
        "CLOUDFLARE_API_BASE_URL",
        "CLOUDFLARE_ACCOUNT_ID",
    ] {
        cmd.env_remove(k);
    }
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("GITHUB_ACTOR", "prune-test");
    cmd
}

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout {}\nstderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Archive names of the staging group, oldest first, and what
/// `--keep-last 1 --keep-daily 2 --keep-monthly 2` does with them.
const STAGING: &[(&str, &str)] = &[
    ("spacevision-staging-20261005T010000Z", "monthly 2026-10"),
    ("spacevision-staging-20261120T010000Z", ""),
    ("spacevision-staging-20261124T010000Z", "daily 2026-11-24"),
    ("spacevision-staging-20261125T010000Z", ""),
    (
        "spacevision-staging-20261125T130000Z",
        "last #1, daily 2026-11-25, monthly 2026-11",
    ),
];
const POLICY: &[&str] = &[
    "--keep-last",
    "1",
    "--keep-daily",
    "2",
    "--keep-monthly",
    "2",
];

fn kept_by(report: &Value, name: &str) -> String {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["archives"].as_array().unwrap())
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report:#}"))["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| {
                    format!(
                        "{} {}",
                        r["rule"].as_str().unwrap(),
                        r["bucket"].as_str().unwrap()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

#[test]
fn prune_a_directory_dry_run_then_for_real() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    let mut names: Vec<String> = STAGING
        .iter()
        .map(|(n, _)| format!("{n}.tar.gz.age"))
        .collect();
    // Another environment is a group of its own; a foreign name is never touched.
    names.push("spacevision-production-20261101T000000Z.tar.gz.age".into());
    names.push("notes.tar.gz.age".into());
    for name in &names {
        std::fs::write(dir.join(name), name.as_bytes()).unwrap();
        std::fs::write(dir.join(format!("{name}.sha256")), "x").unwrap();
    }

    let out = sv_backup(tmp.path())
        .args(["prune", "--dir", "backups", "--dry-run"])
        .args(POLICY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(
        "prune_dry_run_human",
        String::from_utf8(out.stdout).unwrap()
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), names.len() * 2);
    assert!(!tmp.path().join(".sv/audit.jsonl").exists());

    let out = sv_backup(tmp.path())
        .args([
            "--format",
            "markdown",
            "prune",
            "--dir",
            "backups",
            "--dry-run",
        ])
        .args(POLICY)
        .output()
        .unwrap();
    insta::assert_snapshot!(
        "prune_dry_run_markdown",
        String::from_utf8(out.stdout).unwrap()
    );

    let report = json(
        &sv_backup(tmp.path())
            .args(["--format", "json", "prune", "--dir", "backups"])
            .args(POLICY)
            .output()
            .unwrap(),
    );
    assert_eq!(report["removed"], 2, "{report:#}");
    assert_eq!(report["kept"], 4, "{report:#}");
    assert_eq!(report["ignored"][0], "notes.tar.gz.age");
    for (name, reasons) in STAGING {
        let file = format!("{name}.tar.gz.age");
        assert_eq!(kept_by(&report, &file), *reasons, "{name}");
        let exists = dir.join(&file).exists();
        let sidecar = dir.join(format!("{file}.sha256")).exists();
        assert_eq!(exists, !reasons.is_empty(), "{file}");
        assert_eq!(sidecar, exists, "the sidecar of {file} goes with it");
    }
    assert!(dir.join("notes.tar.gz.age").exists());
    assert!(
        dir.join("spacevision-production-20261101T000000Z.tar.gz.age")
            .exists()
    );
    // One audit record per deleted archive.
    let audit = std::fs::read_to_string(tmp.path().join(".sv/audit.jsonl")).unwrap();
    let records: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2, "{audit}");
    for r in &records {
        assert_eq!(r["operation"], "backup.prune");
        assert_eq!(r["result"], "succeeded");
        assert_eq!(r["actor"], "prune-test");
    }

    // Pruning again with the same policy removes nothing more.
    let again = json(
        &sv_backup(tmp.path())
            .args(["--format", "json", "prune", "--dir", "backups"])
            .args(POLICY)
            .output()
            .unwrap(),
    );
    assert_eq!(again["removed"], 0, "{again:#}");
}

#[test]
fn prune_refuses_an_empty_policy() {
    let tmp = tempfile::tempdir().unwrap();
    // No flag and no sv.yaml: nothing to go by.
    let out = sv_backup(tmp.path()).args(["prune"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sv.yaml not found"), "{stderr}");
    let out = sv_backup(tmp.path())
        .args(["prune", "--keep-last", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("would delete every archive"), "{stderr}");
}

#[test]
fn prune_without_flags_uses_backup_keep_of_sv_yaml() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    sv_test::example::copy_to(&app).unwrap();
    let yaml = std::fs::read_to_string(app.join("sv.yaml")).unwrap();
    assert!(yaml.contains("keep: { daily: 7, weekly: 4, monthly: 6 }"));
    std::fs::create_dir_all(app.join("backups")).unwrap();
    let report = json(
        &sv_backup(&app)
            .env(
                "CLOUDFLARE_ACCOUNT_ID",
                sv_test::emulator::DEFAULT_ACCOUNT_ID,
            )
            .args(["--format", "json", "prune", "--dir", "backups", "--dry-run"])
            .output()
            .unwrap(),
    );
    assert_eq!(
        report["policy"],
        serde_json::json!({"last": 0, "daily": 7, "weekly": 4, "monthly": 6})
    );
}

fn curl_json(url: &str, body: &str) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail-with-body", "-X", "POST", "-H"])
        .arg("content-type: application/json")
        .arg("--data")
        .arg(body)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn list_and_prune_workflow_artifacts() {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    let gh = emu.github_api_url();
    for (name, _) in STAGING {
        curl_json(
            &format!("{gh}/_admin/repos/{REPO}/artifacts"),
            &serde_json::json!({
                "name": name,
                "files": {
                    format!("{name}.tar.gz.age"): "archive",
                    format!("{name}.tar.gz.age.sha256"): "digest",
                }
            })
            .to_string(),
        );
    }
    // Not a backup: outside the prefix, never listed or touched.
    curl_json(
        &format!("{gh}/_admin/repos/{REPO}/artifacts"),
        r#"{"name": "sv-plan-staging", "files": {"sv-plan.json": "{}"}}"#,
    );
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        json(
            &sv_backup(tmp.path())
                .env("GITHUB_API_URL", &gh)
                .env("GITHUB_TOKEN", emu.token())
                .env("GITHUB_REPOSITORY", REPO)
                .arg("--format")
                .arg("json")
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let listed = run(&["list", "--github", "spacevision-staging-"]);
    let archives = listed["archives"].as_array().unwrap();
    assert_eq!(archives.len(), STAGING.len(), "{listed:#}");
    assert_eq!(archives[0]["location"]["kind"], "artifact");
    assert_eq!(
        archives[0]["backup_time"], "2026-10-05T01:00:00+00:00",
        "{listed:#}"
    );

    let human = sv_backup(tmp.path())
        .env("GITHUB_API_URL", &gh)
        .env("GITHUB_TOKEN", emu.token())
        .env("GITHUB_REPOSITORY", REPO)
        .args(["list", "--github", "spacevision-staging-"])
        .output()
        .unwrap();
    assert!(human.status.success());
    let human = String::from_utf8(human.stdout).unwrap();
    insta::with_settings!({ filters => vec![
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", "[TIME]"),
        (r"  \d+ bytes", "  [SIZE] bytes"),
    ]}, {
        insta::assert_snapshot!("list_github_human", human);
    });

    let mut args = vec!["prune", "--github", "spacevision-staging-"];
    args.extend(POLICY);
    let report = run(&args);
    assert_eq!(report["removed"], 2, "{report:#}");
    for (name, reasons) in STAGING {
        assert_eq!(kept_by(&report, name), *reasons, "{name}");
    }
    let left = run(&["list", "--github"]);
    let mut left: Vec<&str> = left["archives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    left.sort_unstable();
    let mut expected: Vec<&str> = STAGING
        .iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|(n, _)| *n)
        .collect();
    expected.push("sv-plan-staging");
    expected.sort_unstable();
    assert_eq!(left, expected);
}

#[test]
fn github_source_needs_a_token() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sv_backup(tmp.path())
        .args(["list", "--github", "x-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("GITHUB_TOKEN"), "{stderr}");
}

#[test]
fn list_and_prune_an_r2_bucket() {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sv_cloudflare::install_crypto_provider();
        let client = emu.client().unwrap();
        let r2 = client.r2();
        r2.create_bucket(&sv_cloudflare::r2::CreateBucket {
            name: "sv-backups".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let mut keys: Vec<String> = Vec::new();
        for (name, _) in STAGING {
            keys.push(format!("nightly/{name}.tar.gz.age"));
            keys.push(format!("nightly/{name}.tar.gz.age.sha256"));
        }
        // Outside the folder: never touched.
        keys.push("spacevision-staging-20200101T000000Z.tar.gz.age".into());
        for key in keys {
            r2.put_object(
                "sv-backups",
                &key,
                sv_cloudflare::r2::ObjectBody::from(key.clone().into_bytes()),
                &Default::default(),
            )
            .await
            .unwrap();
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        json(
            &sv_backup(tmp.path())
                .envs(emu.cloudflare_env())
                .arg("--format")
                .arg("json")
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let listed = run(&["list", "--r2", "sv-backups/nightly"]);
    let archives = listed["archives"].as_array().unwrap();
    assert_eq!(archives.len(), STAGING.len(), "{listed:#}");
    assert_eq!(archives[0]["sha256"], "present", "{listed:#}");
    assert_eq!(listed["source"], "r2://sv-backups/nightly/");

    let mut args = vec!["prune", "--r2", "sv-backups/nightly/"];
    args.extend(POLICY);
    let report = run(&args);
    assert_eq!(report["removed"], 2, "{report:#}");
    let left = run(&["list", "--r2", "sv-backups"]);
    let left: Vec<&str> = left["archives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(left.len(), 4, "{left:?}");
    assert!(left.contains(&"spacevision-staging-20200101T000000Z.tar.gz.age"));
    assert!(!left.contains(&"nightly/spacevision-staging-20261120T010000Z.tar.gz.age"));
    // The sidecars went with their archives: 3 kept archives + 3 sidecars + the outsider.
    let objects: Vec<sv_cloudflare::r2::R2Object> = runtime.block_on(async {
        use futures::TryStreamExt as _;
        let client = emu.client().unwrap();
        client
            .r2()
            .list_objects("sv-backups", None, None)
            .try_collect()
            .await
            .unwrap()
    });
    assert_eq!(objects.len(), 7, "{objects:?}");
}
