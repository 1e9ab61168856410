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
    app.deploy_worker();
    // An unmanaged A record where sv.yaml's CNAME goes: the CNAME fails and the route
    // (which depends on it) never starts.
    app.occupy_api_host();
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

/// A new environment's first apply: the Worker its route and custom domain point at is not
/// deployed yet, so those two are deferred (not failed); everything else is created, the
/// apply succeeds, and once the Worker exists the next apply creates exactly the two.
#[test]
fn first_apply_defers_routes_until_the_worker_exists() {
    let app = App::new();
    let (code, human, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{human}\n{err}");
    let state = std::fs::read_to_string(app.path(".sv/state/production.json")).unwrap();
    assert!(state.contains("\"dns."), "{state}");
    assert!(
        !state.contains("route."),
        "deferred routes are not in state: {state}"
    );
    assert!(!state.contains("domain.images"), "{state}");
    let client = app.client();
    let zone = app
        .block_on(client.zones().find_for_hostname("spacevision.app"))
        .unwrap()
        .unwrap();
    let routes = app
        .block_on(client.workers().list_routes(&zone.id))
        .unwrap();
    assert!(routes.is_empty(), "{routes:?}");

    let (_, human_plan, _) = app.run(&["plan"]);
    assert!(
        human_plan.contains(
            "route.api.spacevision.app/*: Worker `spacevision-api` is not deployed yet, so apply defers this"
        ),
        "the plan says so in advance: {human_plan}"
    );
    let (_, plan, _) = app.run(&["plan", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let creates: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "create")
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        creates.len(),
        2,
        "only the route and the custom domain: {creates:?}"
    );

    let (_, markdown, _) = {
        // The same apply again, in Markdown: still deferred, nothing else to do.
        app.run(&["apply", "--auto-approve", "--format", "markdown"])
    };
    app.deploy_worker();
    let (code, after, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{after}\n{err}");
    assert!(
        after.contains("2 done, 0 failed, 0 not started;"),
        "{after}"
    );
    let (code, _, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{err}");
    let settings = snapshot_settings();
    settings.bind(|| {
        insta::assert_snapshot!("apply_deferred_human", human);
        insta::assert_snapshot!("apply_deferred_markdown", markdown);
    });
}
