//! The ready-to-copy workflows under act, against sv-emulator.
//!
//! Each test builds what a user's repository would look like: the reference app at the root,
//! the workflow under `.github/workflows/`, and sv's `actions/` beside it. The workflow is
//! the real file from `workflows/` with one mechanical change ([`localise`]): its
//! `sv-toolkit/sv/actions/NAME@v0` steps use the local `./actions/NAME` with the binaries of
//! this build (`bin-dir`), since act cannot fetch a release offline.

use std::path::{Path, PathBuf};

use sv_test::ActRun;

use crate::create::{ZONE, keygen, seed};

const REPO: &str = "acme/spacevision";

/// `uses: sv-toolkit/sv/actions/NAME@…` → `uses: ./actions/NAME`, and `bin-dir:
/// ${{ env.SV_BIN_DIR }}` as the first input of that step.
fn localise(workflow: &str) -> String {
    let mut out = Vec::new();
    let mut pending = false;
    for line in workflow.lines() {
        if let Some((indent, rest)) = line.split_once("uses: sv-toolkit/sv/actions/") {
            let name = rest.split('@').next().unwrap();
            out.push(format!("{indent}uses: ./actions/{name}"));
            pending = true;
            continue;
        }
        out.push(line.to_owned());
        if pending && line.trim() == "with:" {
            let indent = line.len() - line.trim_start().len();
            out.push(format!(
                "{}bin-dir: ${{{{ env.SV_BIN_DIR }}}}",
                " ".repeat(indent + 2)
            ));
            pending = false;
        }
    }
    assert!(!pending, "an sv action step without `with:`");
    out.join("\n") + "\n"
}

/// A user's repository: the app, `.github/workflows/NAME` (localised) and sv's actions.
fn user_repo(root: &Path, workflow: &str, recipient: &str) -> PathBuf {
    let repo = root.join("repo");
    sv_test::example::copy_to(&repo).unwrap();
    let yaml = std::fs::read_to_string(repo.join("sv.yaml")).unwrap();
    let yaml = yaml.replace(
        "recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]",
        &format!("recipients: [{recipient}]"),
    );
    assert!(yaml.contains(recipient));
    std::fs::write(repo.join("sv.yaml"), yaml).unwrap();
    let sv = sv_test::paths::workspace_root();
    std::fs::create_dir_all(repo.join("scripts")).unwrap();
    std::fs::copy(
        sv.join("scripts/install.sh"),
        repo.join("scripts/install.sh"),
    )
    .unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(sv.join("actions"))
        .arg(&repo)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(sv.join("workflows").join(workflow)).unwrap();
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::write(
        repo.join(".github/workflows").join(workflow),
        localise(&text),
    )
    .unwrap();
    repo
}

fn bin_dir() -> String {
    sv_test::paths::cargo_bin("sv-backup")
        .unwrap()
        .parent()
        .unwrap()
        .display()
        .to_string()
}

fn add_artifact(emu: &sv_test::EmulatorProcess, name: &str) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail-with-body", "-X", "POST", "-H"])
        .arg("content-type: application/json")
        .arg("--data")
        .arg(
            serde_json::json!({
                "name": name,
                "files": { name: "archive", format!("{name}.sha256"): "digest" }
            })
            .to_string(),
        )
        .arg(format!(
            "{}/_admin/repos/{REPO}/artifacts",
            emu.github_api_url()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn artifact_names(emu: &sv_test::EmulatorProcess) -> Vec<String> {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail-with-body", "-H"])
        .arg(format!("authorization: Bearer {}", emu.token()))
        .arg(format!(
            "{}/repos/{REPO}/actions/artifacts?per_page=100",
            emu.github_api_url()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<String> = page["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn backup_workflow_uploads_the_archive_and_prunes_old_artifacts() {
    if sv_test::act::skip_requested() {
        return;
    }
    let emu = sv_test::EmulatorProcess::builder()
        .arg("--zone-name")
        .arg(ZONE)
        .start()
        .unwrap();
    seed(&emu);
    // Earlier nightly backups, as artifacts: three on one day. With backup.keep of sv.yaml
    // (daily 7, weekly 4, monthly 6) the newest of that day stays, the other two go.
    let old = [
        "spacevision-staging-20261001T031700Z.tar.gz.age",
        "spacevision-staging-20261001T120000Z.tar.gz.age",
        "spacevision-staging-20261001T180000Z.tar.gz.age",
    ];
    for name in old {
        add_artifact(&emu, name);
    }
    // Another environment's backup: a group of its own, untouched.
    add_artifact(&emu, "spacevision-production-20261001T031700Z.tar.gz.age");
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("key.txt");
    let recipient = keygen(&key);
    let repo = user_repo(tmp.path(), "backup.yml", &recipient);

    let outcome = ActRun::new(repo.join(".github/workflows/backup.yml"))
        .source_dir(&repo)
        .event("workflow_dispatch")
        .input("environment", "staging")
        .env("SV_BIN_DIR", bin_dir())
        .env("CLOUDFLARE_API_BASE_URL", emu.cloudflare_api_url())
        .env("GITHUB_API_URL", emu.github_api_url())
        .env("GITHUB_REPOSITORY", REPO)
        .secret("CLOUDFLARE_API_TOKEN_READ", emu.token())
        .secret("GITHUB_TOKEN", emu.token())
        .var("CLOUDFLARE_ACCOUNT_ID", emu.account_id())
        .run()
        .expect("act runs");
    outcome.assert_success();

    // The archive and its sidecar were uploaded as one artifact named after the archive.
    let name = outcome.step_output("name").expect("the name output");
    assert!(
        name.starts_with("spacevision-staging-") && name.ends_with(".tar.gz.age"),
        "{name}"
    );
    let artifact = outcome.artifact_path(&name);
    let archive = artifact.join(&name);
    assert!(archive.is_file(), "{}", artifact.display());
    let sidecar = std::fs::read_to_string(artifact.join(format!("{name}.sha256"))).unwrap();
    let sha256 = outcome.step_output("sha256").unwrap();
    assert_eq!(sidecar, format!("{sha256}  {name}\n"));
    let counts: serde_json::Value =
        serde_json::from_str(&outcome.step_output("counts").unwrap()).unwrap();
    assert_eq!(counts["kv.sessions"]["items"], 3, "{counts}");

    // The recipients' key decrypts it and every checksum matches.
    let verify = assert_cmd::Command::cargo_bin("sv-backup")
        .unwrap()
        .env_remove("SV_BACKUP_IDENTITY")
        .args(["--format", "json", "verify"])
        .arg(&archive)
        .arg("--identity")
        .arg(&key)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");

    // prune ran against the repository's artifacts.
    assert_eq!(outcome.step_output("removed").as_deref(), Some("2"));
    assert!(
        outcome
            .step_log()
            .iter()
            .any(|l| l.contains("2 older backup(s) pruned")),
        "{}",
        outcome.stdout
    );
    assert_eq!(
        artifact_names(&emu),
        vec![
            "spacevision-production-20261001T031700Z.tar.gz.age".to_owned(),
            "spacevision-staging-20261001T180000Z.tar.gz.age".to_owned(),
        ]
    );
}

fn client(emu: &sv_test::EmulatorProcess) -> sv_cloudflare::Client {
    sv_cloudflare::install_crypto_provider();
    emu.client().unwrap()
}

/// The value of `key` in KV namespace `title`, `None` when the key does not exist.
fn kv_value(emu: &sv_test::EmulatorProcess, title: &str, key: &str) -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use futures::TryStreamExt as _;
        let client = client(emu);
        let kv = client.kv();
        let ns = kv
            .list_namespaces()
            .try_filter(|n| futures::future::ready(n.title == title))
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .remove(0);
        match kv.get_value(&ns.id, key).await {
            Ok(v) => Some(String::from_utf8(v.bytes.to_vec()).unwrap()),
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("{e}"),
        }
    })
}

fn delete_kv(emu: &sv_test::EmulatorProcess, title: &str, key: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use futures::TryStreamExt as _;
        let client = client(emu);
        let kv = client.kv();
        let ns = kv
            .list_namespaces()
            .try_filter(|n| futures::future::ready(n.title == title))
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .remove(0);
        kv.delete_value(&ns.id, key).await.unwrap();
    });
}

/// Plants an artifact holding the archive and its sidecar, as actions/backup uploads them.
fn add_backup_artifact(emu: &sv_test::EmulatorProcess, archive: &Path) {
    use base64::Engine as _;
    let name = archive.file_name().unwrap().to_str().unwrap();
    let b64 =
        |p: &Path| base64::engine::general_purpose::STANDARD.encode(std::fs::read(p).unwrap());
    let body = serde_json::json!({
        "name": name,
        "files_base64": {
            name: b64(archive),
            format!("{name}.sha256"): b64(Path::new(&format!("{}.sha256", archive.display()))),
        }
    })
    .to_string();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), body).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail-with-body", "-X", "POST", "-H"])
        .arg("content-type: application/json")
        .arg("--data-binary")
        .arg(format!("@{}", file.path().display()))
        .arg(format!(
            "{}/_admin/repos/{REPO}/artifacts",
            emu.github_api_url()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn recover_run(
    repo: &Path,
    emu: &sv_test::EmulatorProcess,
    identity: &str,
    artifact: &str,
    confirm: &str,
) -> sv_test::act::ActOutcome {
    ActRun::new(repo.join(".github/workflows/recover.yml"))
        .source_dir(repo)
        .event("workflow_dispatch")
        .input("artifact", artifact)
        .input("resources", "kv:sessions")
        .input("environment", "staging")
        .input("confirm", confirm)
        .env("SV_BIN_DIR", bin_dir())
        .env("CLOUDFLARE_API_BASE_URL", emu.cloudflare_api_url())
        .env("GITHUB_API_URL", emu.github_api_url())
        .env("GITHUB_REPOSITORY", REPO)
        .secret("CLOUDFLARE_API_TOKEN_READ", emu.token())
        .secret("CLOUDFLARE_API_TOKEN", emu.token())
        .secret("SV_BACKUP_IDENTITY", identity)
        .secret("GITHUB_TOKEN", emu.token())
        .var("CLOUDFLARE_ACCOUNT_ID", emu.account_id())
        .run()
        .expect("act runs")
}

#[test]
fn recover_workflow_plans_refuses_a_wrong_confirmation_then_restores() {
    if sv_test::act::skip_requested() {
        return;
    }
    let emu = sv_test::EmulatorProcess::builder()
        .arg("--zone-name")
        .arg(ZONE)
        .start()
        .unwrap();
    seed(&emu);
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("key.txt");
    let recipient = keygen(&key);
    let identity = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_owned();
    let repo = user_repo(tmp.path(), "recover.yml", &recipient);
    // Last night's backup, uploaded as actions/backup does.
    let created = crate::create::sv_backup(&repo, &emu)
        .args([
            "--env",
            "staging",
            "--format",
            "json",
            "create",
            "--recipient",
        ])
        .arg(&recipient)
        .arg("--out")
        .arg(tmp.path().join("backups"))
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let report: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let archive = PathBuf::from(report["archive"]["path"].as_str().unwrap());
    add_backup_artifact(&emu, &archive);
    let name = archive.file_name().unwrap().to_str().unwrap().to_owned();
    // Then data is lost.
    assert_eq!(
        kv_value(&emu, "staging-sessions", "plain").as_deref(),
        Some("hello")
    );
    delete_kv(&emu, "staging-sessions", "plain");

    // A wrong confirmation: the dry-run plan ran, the restore job refused, nothing written.
    let refused = recover_run(&repo, &emu, &identity, &name, "production");
    assert!(!refused.success(), "{}", refused.stdout);
    let log = refused.step_log().join("\n");
    assert!(log.contains("Recovery plan for"), "{log}");
    assert!(log.contains("kv.sessions → staging-sessions"), "{log}");
    assert!(
        refused
            .stdout
            .contains("does not match the environment 'staging'"),
        "{}",
        refused.stdout
    );
    assert_eq!(kv_value(&emu, "staging-sessions", "plain"), None);
    assert!(!log.contains(&identity), "the identity leaked into the log");

    // The right confirmation: planned, then restored.
    let restored = recover_run(&repo, &emu, &identity, &name, "staging");
    restored.assert_success();
    // One resource restored (act reports the output once per step and action level; the
    // plan job's action reports it empty).
    let counts: Vec<String> = restored
        .step_outputs()
        .into_iter()
        .filter(|(k, v)| k == "restored" && !v.is_empty())
        .map(|(_, v)| v)
        .collect();
    assert!(
        !counts.is_empty() && counts.iter().all(|c| c == "1"),
        "{counts:?}"
    );
    // The dry-run plan reached the plan job's summary before the restore job ran.
    let plan_summary = restored
        .stdout
        .find("[sv recover/plan (dry run)]   ⚙  Summary - ### Recovery plan")
        .expect("the plan job's summary");
    let restored_at = restored
        .stdout
        .find("Summary - ### Restored `staging`")
        .expect("the restore job's summary");
    assert!(plan_summary < restored_at);
    assert_eq!(
        kv_value(&emu, "staging-sessions", "plain").as_deref(),
        Some("hello")
    );
    assert!(
        !restored.stdout.contains(&identity),
        "the identity leaked into the log"
    );
}

#[test]
fn restore_drill_workflow_drills_the_newest_backup() {
    if sv_test::act::skip_requested() {
        return;
    }
    let emu = sv_test::EmulatorProcess::builder()
        .arg("--zone-name")
        .arg(ZONE)
        .start()
        .unwrap();
    seed(&emu);
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("key.txt");
    let recipient = keygen(&key);
    let identity = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_owned();
    let repo = user_repo(tmp.path(), "restore-drill.yml", &recipient);
    let created = crate::create::sv_backup(&repo, &emu)
        .args([
            "--env",
            "staging",
            "--format",
            "json",
            "create",
            "--recipient",
        ])
        .arg(&recipient)
        .arg("--out")
        .arg(tmp.path().join("backups"))
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let report: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    add_backup_artifact(&emu, Path::new(report["archive"]["path"].as_str().unwrap()));

    let outcome = ActRun::new(repo.join(".github/workflows/restore-drill.yml"))
        .source_dir(&repo)
        .event("workflow_dispatch")
        .env("SV_BIN_DIR", bin_dir())
        .env("CLOUDFLARE_API_BASE_URL", emu.cloudflare_api_url())
        .env("GITHUB_API_URL", emu.github_api_url())
        .env("GITHUB_REPOSITORY", REPO)
        .secret("CLOUDFLARE_API_TOKEN", emu.token())
        .secret("SV_BACKUP_IDENTITY", &identity)
        .secret("GITHUB_TOKEN", emu.token())
        .var("CLOUDFLARE_ACCOUNT_ID", emu.account_id())
        .var("SV_DRILL_PREFIX", "spacevision-staging-")
        .run()
        .expect("act runs");
    outcome.assert_success();
    let log = outcome.step_log().join("\n");
    assert!(log.contains("Restore drill passed"), "{log}");
    assert!(log.contains("scratch resources: deleted"), "{log}");
    assert!(
        outcome
            .stdout
            .contains("Summary - ### Restore drill passed"),
        "{}",
        outcome.stdout
    );
    assert_eq!(outcome.step_output("passed").as_deref(), Some("true"));
    assert!(
        !outcome.stdout.contains(&identity),
        "the identity leaked into the log"
    );
}
