//! Snapshots of the plan as people read it.

use crate::{App, filters};

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    for (re, with) in filters() {
        s.add_filter(re, with);
    }
    s
}

#[test]
fn plan_human_and_markdown() {
    let app = App::new();
    app.apply_all();
    app.edit(
        "content: 192.0.2.10, proxied: true",
        "content: 192.0.2.10, proxied: false",
    );
    app.edit("location: weur", "location: enam");
    let (code, human, err) = app.run(&["plan", "--allow-data-loss"]);
    assert_eq!(code, 0, "{err}");
    let (_, markdown, _) = app.run(&["plan", "--allow-data-loss", "--format", "markdown"]);
    let settings = snapshot_settings();
    settings.bind(|| {
        insta::assert_snapshot!("plan_human", human);
        insta::assert_snapshot!("plan_markdown", markdown);
    });
}

#[test]
fn help() {
    let app = App::new();
    let (_, out, _) = app.run(&["--help"]);
    snapshot_settings().bind(|| insta::assert_snapshot!(out));
}

#[test]
fn failed_apply_report_human_and_markdown() {
    let app = App::new();
    // No Worker deployed: the custom domain fails and the route never starts.
    let (code, human, _) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1);
    app.run(&["state", "rm", "kv.cache"]);
    let (_, markdown, _) = app.run(&["apply", "--auto-approve", "--format", "markdown"]);
    let (_, list, _) = app.run(&["state", "list", "--format", "markdown"]);
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("apply_failed_human", human);
        insta::assert_snapshot!("apply_failed_markdown", markdown);
        insta::assert_snapshot!("state_list_markdown", list);
    });
}
