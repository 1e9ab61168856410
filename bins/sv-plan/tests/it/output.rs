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
