//! `create --upload-r2`, then `fetch` from R2 and from workflow artifacts: the archive comes
//! back byte for byte and is checked against its `.sha256`; a damaged one is refused.

use std::path::Path;

use base64::Engine as _;

use crate::create::{ZONE, keygen, seed, sv_backup};

const REPO: &str = "acme/spacevision";

fn app_copy(root: &Path) -> std::path::PathBuf {
    let app = root.join("app");
    sv_test::example::copy_to(&app).unwrap();
    app
}

fn create_bucket(emu: &sv_test::EmulatorProcess, name: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sv_cloudflare::install_crypto_provider();
        let client = emu.client().unwrap();
        client
            .r2()
            .create_bucket(&sv_cloudflare::r2::CreateBucket {
                name: name.into(),
                ..Default::default()
            })
            .await
            .unwrap();
    });
}

/// Plants an artifact holding `files` (name → bytes) in the emulator's repository.
fn add_artifact(emu: &sv_test::EmulatorProcess, name: &str, files: &[(&str, &[u8])]) {
    let b64: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|(n, b)| {
            (
                (*n).to_owned(),
                base64::engine::general_purpose::STANDARD.encode(b).into(),
            )
        })
        .collect();
    let body = serde_json::json!({ "name": name, "files_base64": b64 }).to_string();
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), body).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail-with-body", "-X", "POST", "-H"])
        .arg("content-type: application/json")
        .arg("--data-binary")
        .arg(format!("@{}", tmp.path().display()))
        .arg(format!(
            "{}/_admin/repos/{REPO}/artifacts",
            emu.github_api_url()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn json(out: &std::process::Output) -> serde_json::Value {
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
fn upload_to_r2_then_fetch_from_r2_and_from_artifacts() {
    let emu = sv_test::EmulatorProcess::builder()
        .arg("--zone-name")
        .arg(ZONE)
        .start()
        .unwrap();
    seed(&emu);
    create_bucket(&emu, "sv-backups");
    let tmp = tempfile::tempdir().unwrap();
    let app = app_copy(tmp.path());
    let key = tmp.path().join("key.txt");
    let recipient = keygen(&key);
    let created = json(
        &sv_backup(&app, &emu)
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
            .args(["--upload-r2", "sv-backups/nightly"])
            .output()
            .unwrap(),
    );
    let original = std::path::PathBuf::from(created["archive"]["path"].as_str().unwrap());
    let name = original.file_name().unwrap().to_str().unwrap().to_owned();
    assert_eq!(
        created["uploaded"],
        format!("r2://sv-backups/nightly/{name}")
    );
    let bytes = std::fs::read(&original).unwrap();
    let sidecar = std::fs::read(format!("{}.sha256", original.display())).unwrap();

    // From R2: the newest archive under the folder.
    let fetched = json(
        &sv_backup(&app, &emu)
            .args([
                "--format",
                "json",
                "fetch",
                "--r2",
                "sv-backups/nightly",
                "--out",
            ])
            .arg(tmp.path().join("from-r2"))
            .output()
            .unwrap(),
    );
    assert_eq!(fetched["name"], name.as_str());
    let local = tmp.path().join("from-r2").join(&name);
    assert_eq!(std::fs::read(&local).unwrap(), bytes);
    assert_eq!(
        fetched["sha256"], created["archive"]["sha256"],
        "{fetched:#}"
    );
    let verified = json(
        &sv_backup(&app, &emu)
            .args(["--format", "json", "verify"])
            .arg(&local)
            .arg("--identity")
            .arg(&key)
            .output()
            .unwrap(),
    );
    assert_eq!(verified["environment"], "staging");

    // From workflow artifacts, by name.
    add_artifact(
        &emu,
        &name,
        &[
            (name.as_str(), &bytes),
            (format!("{name}.sha256").as_str(), &sidecar),
        ],
    );
    let gh = |cmd: &mut assert_cmd::Command| {
        cmd.env("GITHUB_API_URL", emu.github_api_url())
            .env("GITHUB_TOKEN", emu.token())
            .env("GITHUB_REPOSITORY", REPO);
    };
    let mut cmd = sv_backup(&app, &emu);
    gh(&mut cmd);
    let fetched = json(
        &cmd.args([
            "--format",
            "json",
            "fetch",
            "--github",
            "spacevision-staging-",
        ])
        .arg(&name)
        .arg("--out")
        .arg(tmp.path().join("from-gh"))
        .output()
        .unwrap(),
    );
    assert_eq!(fetched["name"], name.as_str());
    assert_eq!(
        std::fs::read(tmp.path().join("from-gh").join(&name)).unwrap(),
        bytes
    );

    // Human output.
    let mut cmd = sv_backup(&app, &emu);
    gh(&mut cmd);
    let out = cmd
        .env("NO_COLOR", "1")
        .args(["fetch", "--github", "spacevision-staging-"])
        .arg(&name)
        .arg("--out")
        .arg(tmp.path().join("from-gh-2"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(tmp.path().to_str().unwrap(), "[TMP]")
        .replace(&name, "[NAME]")
        .replace(created["archive"]["sha256"].as_str().unwrap(), "[SHA256]");
    let text = text.replace(&bytes.len().to_string(), "[SIZE]");
    insta::assert_snapshot!("fetch_human", text);

    // A newer artifact whose archive was damaged: the default (newest) is refused, exit 2.
    let newer = "spacevision-staging-29991231T000000Z.tar.gz.age";
    let mut damaged = bytes.clone();
    damaged[100] ^= 1;
    let newer_sidecar = String::from_utf8(sidecar.clone())
        .unwrap()
        .replace(&name, newer);
    add_artifact(
        &emu,
        newer,
        &[
            (newer, &damaged),
            (format!("{newer}.sha256").as_str(), newer_sidecar.as_bytes()),
        ],
    );
    let mut cmd = sv_backup(&app, &emu);
    gh(&mut cmd);
    let out = cmd
        .args(["fetch", "--github", "spacevision-staging-", "--out"])
        .arg(tmp.path().join("damaged"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("does not match its .sha256"), "{stderr}");
    assert!(!tmp.path().join("damaged").join(newer).exists());

    // Nothing by that name: exit 2.
    let mut cmd = sv_backup(&app, &emu);
    gh(&mut cmd);
    let out = cmd
        .args(["fetch", "--github", "spacevision-staging-", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
