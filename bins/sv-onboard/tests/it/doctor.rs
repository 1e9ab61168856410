//! `doctor` with a fake PATH (directories of small scripts printing versions) and tokens
//! minted on sv-emulator with chosen policies.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use sv_test::EmulatorProcess;

use crate::{App, onboard, run, scrub};

pub const KV: &str = "f7f0eda5697f475c90846e879bab8666";
pub const D1: &str = "09b2857d1c31407795e75e3fed8617a1";
pub const R2: &str = "bf7481a1826f439697cb59a20b22293e";

/// A directory of fake tools: each prints `output` for `--version` (and exits `code`).
fn fake_bin(dir: &Path, tools: &[(&str, &str, i32)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for (name, output, code) in tools {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\necho '{output}'\nexit {code}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir.to_owned()
}

fn all_tools() -> Vec<(&'static str, &'static str, i32)> {
    vec![
        ("node", "v22.3.0", 0),
        ("npm", "10.8.1", 0),
        ("wrangler", " ⛅️ wrangler 4.125.0", 0),
        ("git", "git version 2.43.0", 0),
    ]
}

/// Mints a user token on the emulator with these permission groups on its account.
fn mint(emu: &EmulatorProcess, account: &str, groups: &[&str]) -> String {
    mint_with(emu, account, groups, None)
}

/// As [`mint`], optionally with an expiry.
pub fn mint_with(
    emu: &EmulatorProcess,
    account: &str,
    groups: &[&str],
    expires_on: Option<&str>,
) -> String {
    sv_cloudflare::install_crypto_provider();
    let mut body = serde_json::json!({
        "name": "dev token",
        "policies": [{
            "effect": "allow",
            "resources": {format!("com.cloudflare.api.account.{account}"): "*"},
            "permission_groups": groups.iter().map(|g| serde_json::json!({"id": g})).collect::<Vec<_>>(),
        }],
    });
    if let Some(e) = expires_on {
        body["expires_on"] = serde_json::json!(e);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let v: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/user/tokens", emu.cloudflare_api_url()))
            .bearer_auth(emu.token())
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["result"]["value"].as_str().unwrap().to_owned()
    })
}

fn doctor(app: &App, emu: &EmulatorProcess, path: &Path, token: Option<&str>) -> crate::Out {
    let mut cmd = onboard(&app.root, emu);
    cmd.env("PATH", path);
    match token {
        Some(t) => {
            cmd.env("CLOUDFLARE_API_TOKEN", t);
        }
        None => {
            cmd.env_remove("CLOUDFLARE_API_TOKEN");
        }
    }
    run(cmd, &["doctor", "--developer", "alice"])
}

#[test]
fn all_present_and_a_dev_only_token_is_all_good() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    // Production in its own account: the developer's token cannot reach it.
    let yaml = app.read("sv.yaml").replace(
        "    prefix: \"\"                                # resource names as written below\n",
        "    prefix: \"\"                                # resource names as written below\n    account_id: ffffffffffffffffffffffffffffffff\n",
    );
    assert!(yaml.contains("account_id: ffff"));
    app.write("sv.yaml", &yaml);
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_bin(tmp.path(), &all_tools());
    let token = mint(&emu, emu.account_id(), &[KV, D1, R2]);
    let out = doctor(&app, &emu, &bin, Some(&token));
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(out.stdout.contains("fresh clone"), "{}", out.stdout);
    assert!(!out.stdout.contains("production"), "{}", out.stdout);
    assert!(!out.stdout.contains(&token));
    insta::assert_snapshot!("doctor_all_good", scrub(&out.transcript(), &app.root));

    let md = run(
        {
            let mut c = onboard(&app.root, &emu);
            c.env("PATH", &bin).env("CLOUDFLARE_API_TOKEN", &token);
            c
        },
        &["--format", "markdown", "doctor", "--developer", "alice"],
    );
    assert_eq!(md.code, 0, "{}", md.transcript());
    insta::assert_snapshot!("doctor_markdown", scrub(&md.stdout, &app.root));
}

#[test]
fn a_token_that_could_change_production_is_a_loud_warning() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_bin(tmp.path(), &all_tools());
    let token = mint(&emu, emu.account_id(), &[KV, D1, R2]);
    let out = doctor(&app, &emu, &bin, Some(&token));
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stdout
            .contains("WARNING: this token could also change production (`production`)"),
        "{}",
        out.stdout
    );

    // A token without D1 and R2 cannot create the developer's resources: exit 1.
    let narrow = mint(&emu, emu.account_id(), &[KV]);
    let out = doctor(&app, &emu, &bin, Some(&narrow));
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout.contains(
            "the token cannot create dev-alice-* resources: no D1 Write, Workers R2 Storage Write"
        ),
        "{}",
        out.stdout
    );

    // No token at all.
    let out = doctor(&app, &emu, &bin, None);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout.contains("CLOUDFLARE_API_TOKEN is not set"),
        "{}",
        out.stdout
    );
    // A token the API does not know.
    let out = doctor(&app, &emu, &bin, Some("not-a-real-token-value"));
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout.contains("the token does not verify"),
        "{}",
        out.stdout
    );
}

#[test]
fn each_tool_missing_failing_or_too_old_fails() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let tmp = tempfile::tempdir().unwrap();
    let token = mint(&emu, emu.account_id(), &[KV, D1, R2]);
    for (i, (tool, _, _)) in all_tools().iter().enumerate() {
        // Missing.
        let tools: Vec<_> = all_tools()
            .into_iter()
            .filter(|(t, _, _)| t != tool)
            .collect();
        let bin = fake_bin(&tmp.path().join(format!("missing-{i}")), &tools);
        let out = doctor(&app, &emu, &bin, Some(&token));
        assert_eq!(out.code, 1, "{tool} missing: {}", out.transcript());
        assert!(
            out.stdout.contains(&format!("✗ {tool}: not found on PATH")),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("fix: "), "{}", out.stdout);
        // Present but broken.
        let mut tools = all_tools();
        tools[i].2 = 3;
        let bin = fake_bin(&tmp.path().join(format!("broken-{i}")), &tools);
        let out = doctor(&app, &emu, &bin, Some(&token));
        assert_eq!(out.code, 1, "{tool} broken: {}", out.transcript());
        assert!(
            out.stdout
                .contains(&format!("✗ {tool}: `--version` exited with")),
            "{}",
            out.stdout
        );
    }
    // Too old: node against engines (>=20), wrangler against 3.91.
    let mut tools = all_tools();
    tools[0].1 = "v18.19.0";
    tools[2].1 = "3.60.0";
    let bin = fake_bin(&tmp.path().join("old"), &tools);
    let out = doctor(&app, &emu, &bin, Some(&token));
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!("doctor_old_tools", scrub(&out.transcript(), &app.root));

    // .nvmrc asks for more than engines.
    app.write(".nvmrc", "v22.5.0\n");
    let bin = fake_bin(&tmp.path().join("nvmrc"), &all_tools());
    let out = doctor(&app, &emu, &bin, Some(&token));
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout
            .contains("node 22.3.0 is too old: .nvmrc needs 22.5.0 or newer"),
        "{}",
        out.stdout
    );
}

#[test]
fn broken_config_and_layout_are_reported() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_bin(tmp.path(), &all_tools());
    app.write("worker/wrangler.toml", "name = [unclosed\n");
    let out = doctor(&app, &emu, &bin, Some(emu.token()));
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout.contains("✗ sv.yaml does not load"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("fix: sv-onboard validate --config sv.yaml"),
        "{}",
        out.stdout
    );
    std::fs::remove_file(app.path("package.json")).unwrap();
    let out = doctor(&app, &emu, &bin, Some(emu.token()));
    assert!(
        out.stdout.contains("✗ npm workspaces cannot be read"),
        "{}",
        out.stdout
    );
}
