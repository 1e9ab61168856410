//! `--help` of every subcommand, snapshotted.

use assert_cmd::Command;

fn help(args: &[&str]) -> String {
    let out = Command::cargo_bin("sv-deploy")
        .unwrap()
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SV_DEPLOY_WORKER_URL")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_texts() {
    insta::assert_snapshot!("help", help(&["--help"]));
    insta::assert_snapshot!("help_deploy", help(&["deploy", "--help"]));
    insta::assert_snapshot!("help_rollback", help(&["rollback", "--help"]));
    insta::assert_snapshot!("help_resume", help(&["resume", "--help"]));
    insta::assert_snapshot!("help_history", help(&["history", "--help"]));
    insta::assert_snapshot!("help_status", help(&["status", "--help"]));
}
