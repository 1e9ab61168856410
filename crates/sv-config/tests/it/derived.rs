//! Derived environment names (`pr-<n>`, `dev-<name>`) resolve wherever `--env` is accepted.

use std::path::Path;

use sv_config::{EnvironmentKind, LoadedConfig};

fn load() -> LoadedConfig {
    sv_config::load(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/valid/sv.yaml"
        )),
        &super::vars(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn preview_and_developer_names_resolve_to_derived_environments() {
    let mut loaded = load();
    assert!(loaded.environment("pr-7").is_err(), "not resolved yet");
    let pr = loaded.add_derived_environment("pr-7").unwrap().unwrap();
    assert_eq!(pr.kind, EnvironmentKind::Preview { pr: 7 });
    assert_eq!(pr.prefix, "pr-7-");
    // Now answered by `environment` too, as every tool asks.
    assert_eq!(loaded.environment("pr-7").unwrap().name, "pr-7");

    let dev = loaded
        .add_derived_environment("dev-alice")
        .unwrap()
        .unwrap();
    assert_eq!(
        dev.kind,
        EnvironmentKind::Developer {
            developer: "alice".into()
        }
    );
}

#[test]
fn declared_environments_are_not_derived() {
    let mut loaded = load();
    assert!(loaded.derived_environment("staging").unwrap().is_none());
    assert!(loaded.add_derived_environment("staging").unwrap().is_none());
    assert_eq!(
        loaded.environment("staging").unwrap().kind,
        EnvironmentKind::Named
    );
    assert!(loaded.add_derived_environment("prod").unwrap().is_none());
}

#[test]
fn invalid_derived_names_are_refused() {
    let mut loaded = load();
    let e = loaded.add_derived_environment("pr-0").unwrap_err();
    assert!(
        e.to_string().contains("pull request numbers start at 1"),
        "{e}"
    );
    let e = loaded.add_derived_environment("dev-Alice").unwrap_err();
    assert!(e.to_string().contains("invalid developer name"), "{e}");
    assert!(loaded.add_derived_environment("pr-x").unwrap().is_none());
    let e = loaded.environment("pr-x").unwrap_err();
    assert!(
        e.to_string().starts_with("unknown environment `pr-x`"),
        "{e}"
    );
}

#[test]
fn derived_workers_bind_their_own_data_stores() {
    let loaded = load();
    let pr = loaded.preview_environment(7).unwrap();
    let worker = pr
        .resources
        .values()
        .find_map(|r| match &r.spec {
            sv_config::ResourceSpec::Worker(w) if r.name == "pr-7-spacevision-api" => Some(w),
            _ => None,
        })
        .unwrap();
    let d1: Vec<_> = worker
        .definition
        .d1_databases
        .iter()
        .map(|b| b.database_name.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        d1,
        ["pr-7-main"],
        "not the base environment's `staging-main`"
    );
    assert!(
        worker
            .definition
            .r2_buckets
            .iter()
            .all(|b| b.bucket_name.starts_with("pr-7-")),
        "{:?}",
        worker.definition.r2_buckets
    );
}
