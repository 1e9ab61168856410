fn help(args: &[&str]) -> String {
    let out = crate::common::sv_health(std::path::Path::new("."))
        .env_remove("CLOUDFLARE_ACCOUNT_ID")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_snapshots() {
    insta::assert_snapshot!("help", help(&["--help"]));
    insta::assert_snapshot!("help_check", help(&["check", "--help"]));
    insta::assert_snapshot!("help_report", help(&["report", "--help"]));
    insta::assert_snapshot!("help_watch", help(&["watch", "--help"]));
    insta::assert_snapshot!("help_profile", help(&["profile", "--help"]));
    insta::assert_snapshot!("help_logs", help(&["logs", "--help"]));
    insta::assert_snapshot!("help_troubleshoot", help(&["troubleshoot", "--help"]));
}
