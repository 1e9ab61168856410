//! Transcript tests of the sv-backup binary: exit code, stdout and stderr together.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;

mod act;
mod create;
mod drill;
mod fetch;
mod kv_requests;
mod prune;
mod restore;

fn transcript(args: &[&str]) -> String {
    let out = Command::cargo_bin("sv-backup")
        .unwrap()
        .args(args)
        .env_remove("SV_CONFIG")
        .env_remove("SV_ENV")
        .env_remove("SV_FORMAT")
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn help() {
    insta::assert_snapshot!(transcript(&["--help"]));
}

#[test]
fn restore_help() {
    insta::assert_snapshot!(transcript(&["restore", "--help"]));
}

#[test]
fn plan_help() {
    insta::assert_snapshot!(transcript(&["plan", "--help"]));
}

#[test]
fn invalid_config_exits_2_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sv.yaml");
    std::fs::write(&path, "project: x\nenvironments:\n  prod: { prefx: a- }\n").unwrap();
    let text = transcript(&["validate", "--config", path.to_str().unwrap()]);
    let text = text.replace(path.to_str().unwrap(), "[SV_YAML]");
    insta::assert_snapshot!(text);
}

#[test]
fn missing_config_names_the_fix() {
    let text = transcript(&["validate", "--config", "does-not-exist.yaml"]);
    assert!(text.starts_with("exit: 2\n"), "{text}");
    assert!(text.contains("does-not-exist.yaml not found"), "{text}");
}

#[test]
fn prune_and_list_help() {
    insta::assert_snapshot!(transcript(&["prune", "--help"]));
    insta::assert_snapshot!(transcript(&["list", "--help"]));
}
