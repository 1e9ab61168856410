//! plan → apply → plan, updates, replacements, deletes, stale plans.

use futures::TryStreamExt as _;

use crate::App;

#[test]
fn create_from_empty_then_second_plan_is_a_no_op() {
    let app = App::new();
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("Plan: 10 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged."),
        "{out}"
    );
    app.apply_all();
    // THE property: nothing left to do after an apply.
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // Lists, not one GET per resource: zone lookup, one list per kind (7; the Pages list
    // carries each project's custom domains), CORS + lifecycle of the bucket, d1_migrations
    // of the database; and the token's verify + its permissions (the read-scope check).
    assert!(
        err.contains("Read the account with 13 API request(s)."),
        "{err}"
    );
    assert!(
        out.contains("No changes: `production` matches sv.yaml (10 unchanged)."),
        "{out}"
    );
    // The migrations really ran, recorded in wrangler's table.
    let state = app.run(&["state", "show", "d1.main", "--format", "json"]).1;
    let id = serde_json::from_str::<serde_json::Value>(&state).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = app.client();
    let applied = app
        .block_on(sv_infra::inventory::applied_migrations(
            &client, &id, "main",
        ))
        .unwrap();
    assert_eq!(applied, ["0001_init.sql", "0002_add_uploads.sql"]);
}

#[test]
fn failed_apply_reports_what_was_done_and_a_rerun_converges() {
    let app = App::new();
    app.deploy_worker();
    // An A record where sv.yaml's CNAME goes: the CNAME fails, the route (next wave, it
    // depends on the CNAME) never starts.
    let occupied = app.occupy_api_host();
    let (code, out, _) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("dns.CNAME.api (created) FAILED"), "{out}");
    assert!(
        out.contains("route.api.spacevision.app/* (created) not started"),
        "{out}"
    );
    assert!(
        out.contains("Apply failed: 8 done, 1 failed, 1 not started"),
        "{out}"
    );
    let (_, out, _) = app.run(&["plan"]);
    assert!(
        out.contains("Plan: 2 to create, 0 to update, 0 to replace, 0 to delete, 8 unchanged."),
        "{out}"
    );
    app.free_api_host(&occupied);
    app.apply_all();
    let (code, out, _) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn attribute_update_in_place() {
    let app = App::new();
    app.apply_all();
    app.edit(
        "content: 192.0.2.10, proxied: true",
        "content: 192.0.2.20, proxied: true",
    );
    app.edit(
        "prefix: tmp/, expire_days: 7",
        "prefix: tmp/, expire_days: 3",
    );
    let (code, out, _) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("~ content = \"192.0.2.10\" -> \"192.0.2.20\""),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to create, 2 to update, 0 to replace"),
        "{out}"
    );
    let (code, out, _) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn d1_location_change_plans_a_replacement_guarded_by_protect() {
    let app = App::new();
    app.apply_all();
    app.edit("location: weur", "location: enam");
    // production is `protect: true`: replacing a data store needs the explicit override.
    let (code, _, err) = app.run(&["plan"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("d1.main would be replaced"), "{err}");
    let (code, out, _) = app.run(&["plan", "--allow-data-loss", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("~ location = \"weur\" -> \"enam\"   # forces replacement"),
        "{out}"
    );
    assert!(out.contains("DATA LOSS"), "{out}");
    let (code, out, err) = app.run(&["apply", "--auto-approve", "--allow-data-loss"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, _) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn deletes_only_what_sv_manages() {
    let app = App::new();
    app.apply_all();
    // A namespace nobody declared: sv must leave it alone.
    let client = app.client();
    app.block_on(client.kv().create_namespace("hand-made"))
        .unwrap();
    app.edit(
        "    - { name: \"@\", type: TXT, content: \"v=spf1 -all\", ttl: 3600 }\n",
        "",
    );
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("- dns.TXT.@"), "{out}\n{err}");
    assert!(!out.contains("hand-made"), "{out}");
    assert!(out.contains("0 to replace, 1 to delete"), "{out}");
    let (code, out, _) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
    let names: Vec<String> = app
        .block_on(client.kv().list_namespaces().try_collect::<Vec<_>>())
        .unwrap()
        .into_iter()
        .map(|n| n.title)
        .collect();
    assert!(names.contains(&"hand-made".to_owned()), "{names:?}");
    assert!(names.contains(&"cache".to_owned()), "{names:?}");
}

#[test]
fn stale_saved_plan_is_refused() {
    let app = App::new();
    app.deploy_worker();
    let plan = app.path("plan.json");
    let (code, out, _) = app.run(&["plan", "--out", plan.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    app.edit(
        "location: weur",
        "location: weur\n      read_replication: false",
    );
    let (code, _, err) = app.run(&["apply", plan.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the saved plan is stale"), "{err}");
    assert!(
        err.contains("sv.yaml or the wrangler config changed"),
        "{err}"
    );
    assert!(!app.path(".sv/state/production.json").exists());
    // A fresh saved plan applies.
    let (code, _, _) = app.run(&["plan", "--out", plan.to_str().unwrap()]);
    assert_eq!(code, 0);
    let (code, out, err) = app.run(&["apply", plan.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn apply_without_a_terminal_needs_auto_approve_and_checks_actors() {
    let app = App::new();
    let (code, _, err) = app.run(&["apply"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pass --auto-approve"), "{err}");
    let out = app
        .cmd()
        .env("GITHUB_ACTOR", "mallory")
        .args(["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mallory"), "{err}");
    assert!(!app.path(".sv/state/production.json").exists());
}

#[test]
fn target_restricts_the_plan_to_a_resource_and_its_dependencies() {
    let app = App::new();
    app.deploy_worker();
    let (code, out, err) = app.run(&["plan", "--target", "route.api.spacevision.app/*"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // The route needs the proxied DNS record for its host, nothing else.
    assert!(out.contains("Plan: 2 to create, 0 to update"), "{out}");
    assert!(out.contains("dns.CNAME.api"), "{out}");
    assert!(!out.contains("kv.sessions"), "{out}");
    let (code, _, err) = app.run(&["plan", "--target", "kv.nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--target kv.nope matches no resource"),
        "{err}"
    );
}

#[test]
fn destroy_needs_the_override_in_a_protected_environment_then_empties_state() {
    let app = App::new();
    app.apply_all();
    let (code, _, err) = app.run(&["destroy", "--auto-approve"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("protect: true"), "{err}");
    let (code, out, err) = app.run(&["destroy", "--dry-run", "--allow-data-loss"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("10 to delete"), "{out}");
    let (code, out, err) = app.run(&["destroy", "--auto-approve", "--allow-data-loss"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, out, _) = app.run(&["state", "list"]);
    assert!(
        out.contains("No resources are managed in `production`."),
        "{out}"
    );
    let (_, out, _) = app.run(&["plan"]);
    assert!(out.contains("Plan: 10 to create"), "{out}");
}

#[test]
fn refresh_records_live_changes_so_the_plan_corrects_them() {
    let app = App::new();
    app.apply_all();
    let state = app
        .run(&["state", "show", "kv.cache", "--format", "json"])
        .1;
    let id = serde_json::from_str::<serde_json::Value>(&state).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = app.client();
    app.block_on(client.kv().rename_namespace(&id, "cache-by-hand"))
        .unwrap();
    let (code, out, err) = app.run(&["refresh"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("kv.cache.name"), "{out}");
    let (_, out, _) = app.run(&["state", "show", "kv.cache"]);
    assert!(out.contains("name = \"cache-by-hand\""), "{out}");
    let (code, out, _) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("~ name = \"cache-by-hand\" -> \"cache\""),
        "{out}"
    );
}

#[test]
fn a_bucket_in_a_jurisdiction_is_listed_there_so_a_second_plan_is_a_no_op() {
    let app = App::new();
    app.edit(
        "  r2:\n    uploads:\n",
        "  r2:\n    uploads:\n      jurisdiction: eu\n",
    );
    app.apply_all();
    let client = app.client();
    let eu: Vec<_> = app.block_on(async {
        use futures::TryStreamExt as _;
        client
            .r2()
            .list_buckets(&sv_cloudflare::r2::BucketFilter {
                jurisdiction: Some("eu".into()),
                ..sv_cloudflare::r2::BucketFilter::default()
            })
            .try_collect()
            .await
            .unwrap()
    });
    assert_eq!(eu.len(), 1, "created in the EU jurisdiction: {eu:?}");
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // Moving it to another jurisdiction is a replacement (data loss), not a second create.
    app.edit("      jurisdiction: eu\n", "      jurisdiction: fedramp\n");
    let (_, out, _) = app.run(&["plan", "--allow-data-loss"]);
    assert!(out.contains("r2.uploads"), "{out}");
    assert!(out.contains("1 to replace"), "{out}");
}
