//! `sv-backup drill`: restore into scratch `drill-staging-` resources, check them against the
//! manifest, delete them; a failing drill exits 1 and opens an issue.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::create::{ZONE, app_copy, keygen, seed, sv_backup};

const REPO: &str = "acme/spacevision";

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

/// KV namespace titles, R2 bucket names and D1 database names starting with `prefix`.
fn live_names(emu: &sv_test::EmulatorProcess, prefix: &str) -> Vec<String> {
    runtime().block_on(async {
        use futures::TryStreamExt as _;
        let client = client(emu);
        let mut names: Vec<String> = client
            .kv()
            .list_namespaces()
            .map_ok(|n| n.title)
            .try_collect()
            .await
            .unwrap();
        names.extend(
            client
                .r2()
                .list_buckets(&Default::default())
                .map_ok(|b| b.name)
                .try_collect::<Vec<_>>()
                .await
                .unwrap(),
        );
        names.extend(
            client
                .d1()
                .list(None)
                .map_ok(|d| d.name)
                .try_collect::<Vec<_>>()
                .await
                .unwrap(),
        );
        names.retain(|n| n.starts_with(prefix));
        names.sort();
        names
    })
}

fn backup(app: &Path, emu: &sv_test::EmulatorProcess, recipient: &str, out: &Path) -> PathBuf {
    let created = sv_backup(app, emu)
        .args([
            "--env",
            "staging",
            "--format",
            "json",
            "create",
            "--recipient",
        ])
        .arg(recipient)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let report: Value = serde_json::from_slice(&created.stdout).unwrap();
    PathBuf::from(report["archive"]["path"].as_str().unwrap())
}

#[test]
fn drill_restores_into_scratch_checks_and_cleans_up() {
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
    let archive = backup(&app, &emu, &recipient, &tmp.path().join("backups"));

    let out = sv_backup(&app, &emu)
        .args(["--format", "json", "drill"])
        .arg(&archive)
        .arg("--identity")
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], true, "{report:#}");
    assert_eq!(report["drill_environment"], "drill-staging");
    assert_eq!(report["scratch"], "deleted", "{report:#}");
    let checks: Vec<(String, String, u64)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["expected"], c["found"], "{c}");
            (
                c["resource"].as_str().unwrap().to_owned(),
                c["target"].as_str().unwrap().to_owned(),
                c["found"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        checks.contains(&("kv.sessions".into(), "drill-staging-sessions".into(), 3)),
        "{checks:?}"
    );
    assert!(
        checks.contains(&("kv.cache".into(), "drill-staging-cache".into(), 150)),
        "{checks:?}"
    );
    assert!(
        checks.contains(&("r2.uploads".into(), "drill-staging-uploads".into(), 2)),
        "{checks:?}"
    );
    assert!(
        checks.iter().any(|c| c.0 == "d1.main" && c.2 >= 3),
        "{checks:?}"
    );
    // The scratch resources are gone; the real ones are untouched.
    assert_eq!(live_names(&emu, "drill-"), Vec::<String>::new());
    assert!(live_names(&emu, "staging-").contains(&"staging-sessions".to_owned()));
    let audit = std::fs::read_to_string(app.join(".sv/audit.jsonl")).unwrap();
    assert!(audit.contains("\"backup.drill\""), "{audit}");

    // Human output.
    let out = sv_backup(&app, &emu)
        .args(["drill"])
        .arg(&archive)
        .arg("--identity")
        .arg(&key)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Restore drill passed"), "{text}");
    let archive_text = archive.display().to_string();
    insta::assert_snapshot!("drill_human", text.replace(&archive_text, "[ARCHIVE]"));
    let out = sv_backup(&app, &emu)
        .args(["--format", "markdown", "drill"])
        .arg(&archive)
        .arg("--identity")
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!("drill_markdown", text.replace(&archive_text, "[ARCHIVE]"));
}

#[test]
fn a_failing_drill_exits_1_and_opens_an_issue() {
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
    let archive = backup(&app, &emu, &recipient, &tmp.path().join("backups"));
    // A scratch namespace left behind by an earlier drill: the drill cannot create its
    // scratch resources, so it fails (and deletes the ones it did create).
    runtime().block_on(async {
        let client = client(&emu);
        let ns = client
            .kv()
            .create_namespace("drill-staging-sessions")
            .await
            .unwrap();
        client
            .kv()
            .put_value(&ns.id, "stray", "x", &Default::default())
            .await
            .unwrap();
    });
    let out = sv_backup(&app, &emu)
        .env("GITHUB_TOKEN", emu.token())
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_API_URL", emu.github_api_url())
        .args(["--format", "json", "drill"])
        .arg(&archive)
        .arg("--identity")
        .arg(&key)
        .arg("--issue")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], false, "{report:#}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("drill-staging-sessions: creating KV namespace"),
        "{report:#}"
    );
    assert!(
        report["issue"].as_str().unwrap().contains("/issues/"),
        "{report:#}"
    );
    let issues = std::process::Command::new("curl")
        .args(["-sS", "--fail-with-body", "-H"])
        .arg(format!("authorization: Bearer {}", emu.token()))
        .arg(format!(
            "{}/repos/{REPO}/issues?state=open",
            emu.github_api_url()
        ))
        .output()
        .unwrap();
    let issues: Value = serde_json::from_slice(&issues.stdout).unwrap();
    let titles: Vec<&str> = issues
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Restore drill failed for staging"]);
    assert_eq!(report["scratch"], "deleted", "{report:#}");
}
