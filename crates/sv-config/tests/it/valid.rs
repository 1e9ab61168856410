//! The full valid fixture: loads, resolves every environment, orders resources in waves.

use std::path::Path;

use chrono::{TimeZone, Utc};
use sv_config::{
    EnvironmentKind, LoadedConfig, Notification, Operation, ResourceAddress, ResourceKind,
    ResourceSpec,
};

const FIXTURE: &str = "tests/fixtures/valid/sv.yaml";

fn load() -> LoadedConfig {
    sv_config::load(Path::new(FIXTURE), &super::vars()).unwrap_or_else(|e| panic!("{e}"))
}

fn addr(s: &str) -> ResourceAddress {
    s.parse().unwrap()
}

fn names(wave: &[ResourceAddress]) -> Vec<String> {
    wave.iter().map(ToString::to_string).collect()
}

#[test]
fn loads_with_environment_variables_substituted() {
    let loaded = load();
    assert_eq!(loaded.config.project, "spacevision");
    assert_eq!(
        loaded.config.account_id.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(loaded.root, Path::new("tests/fixtures/valid"));
    assert_eq!(
        loaded.wrangler.keys().collect::<Vec<_>>(),
        ["jobs", "worker"]
    );
    let Notification::Slack(hook) = &loaded.config.notifications["slack-oncall"] else {
        panic!("slack-oncall is a Slack channel");
    };
    assert_eq!(
        hook.expose(),
        "https://hooks.slack.com/services/T000/B000/oncallsecret"
    );
    // Built-ins stay unrendered in the base model.
    assert_eq!(
        loaded.config.resources.worker_routes[0].pattern,
        "api.${zone}/*"
    );
}

#[test]
fn secrets_never_appear_in_debug_or_serialized_output() {
    let loaded = load();
    let debug = format!("{loaded:?}");
    assert!(!debug.contains("oncallsecret"), "Debug leaks a webhook");
    assert!(!debug.contains("releasessecret"), "Debug leaks a webhook");
    let env = loaded.environment("production").unwrap();
    let json = serde_json::to_string(env).unwrap();
    assert!(!json.contains("oncallsecret"));
    assert!(json.contains("[redacted]"));
}

#[test]
fn production_resolves_names_and_protection() {
    let loaded = load();
    let prod = loaded.environment("production").unwrap();
    assert_eq!(prod.kind, EnvironmentKind::Named);
    assert_eq!(prod.zone.as_deref(), Some("spacevision.app"));
    let resource_names: Vec<(String, String)> = prod
        .resources
        .values()
        .map(|r| (r.address.to_string(), r.name.clone()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("kv.cache", "cache"),
        ("kv.sessions", "sessions"),
        ("d1.main", "main"),
        ("r2.uploads", "uploads"),
        ("dns.A.@", "spacevision.app"),
        ("dns.CNAME.api", "api.spacevision.app"),
        ("dns.CNAME.www", "www.spacevision.app"),
        ("dns.spf", "spacevision.app"),
        ("pages.spacevision-web", "spacevision-web"),
        ("worker.spacevision-api", "spacevision-api"),
        ("worker.spacevision-jobs", "spacevision-jobs"),
        ("route.api.spacevision.app/*", "api.spacevision.app/*"),
        ("domain.jobs.spacevision.app", "jobs.spacevision.app"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(resource_names, expected);

    // protect: true guards data stores unless the resource says otherwise.
    assert!(prod.prevents_destroy(&addr("kv.sessions")));
    assert!(!prod.prevents_destroy(&addr("kv.cache")));
    assert!(prod.prevents_destroy(&addr("d1.main")));
    assert!(!prod.prevents_destroy(&addr("pages.spacevision-web")));

    // Implicit dependencies.
    let api = prod.resource(&addr("worker.spacevision-api")).unwrap();
    assert_eq!(
        names(&api.depends_on.iter().cloned().collect::<Vec<_>>()),
        ["kv.cache", "kv.sessions", "d1.main", "r2.uploads"]
    );
    let route = prod.resource(&addr("route.api.spacevision.app/*")).unwrap();
    assert_eq!(
        names(&route.depends_on.iter().cloned().collect::<Vec<_>>()),
        ["dns.CNAME.api", "worker.spacevision-api"]
    );
    let ResourceSpec::Worker(jobs) = &prod
        .resource(&addr("worker.spacevision-jobs"))
        .unwrap()
        .spec
    else {
        panic!("jobs is a worker");
    };
    assert_eq!(jobs.definition.crons, ["*/30 * * * *", "0 3 * * *"]);
    let www = prod.resource(&addr("dns.CNAME.www")).unwrap();
    assert!(www.depends_on.contains(&addr("pages.spacevision-web")));
    assert_eq!(www.location.to_string(), format!("{FIXTURE}:48:7"));
}

#[test]
fn production_waves() {
    let loaded = load();
    let waves = loaded
        .environment("production")
        .unwrap()
        .dependency_waves()
        .unwrap();
    let waves: Vec<Vec<String>> = waves.iter().map(|w| names(w)).collect();
    assert_eq!(
        waves,
        vec![
            vec![
                "kv.cache",
                "kv.sessions",
                "d1.main",
                "dns.A.@",
                "dns.spf",
                "pages.spacevision-web"
            ],
            vec!["r2.uploads", "dns.CNAME.www"],
            vec!["worker.spacevision-api", "worker.spacevision-jobs"],
            vec!["dns.CNAME.api", "domain.jobs.spacevision.app"],
            vec!["route.api.spacevision.app/*"],
        ]
    );
}

#[test]
fn staging_applies_prefix_overrides_and_wrangler_env() {
    let loaded = load();
    let staging = loaded.environment("staging").unwrap();
    assert_eq!(staging.prefix, "staging-");
    assert_eq!(staging.config.deploy.rollout, [50, 100]);
    assert_eq!(
        staging
            .config
            .deploy
            .gate
            .as_ref()
            .unwrap()
            .window
            .to_string(),
        "2m",
        "deploy.gate survives a merge that only sets rollout"
    );
    let ResourceSpec::D1(main) = &staging.resource(&addr("d1.main")).unwrap().spec else {
        panic!("d1");
    };
    assert_eq!(
        serde_json::to_value(main.location).unwrap(),
        serde_json::json!("enam")
    );
    assert_eq!(
        staging.resource(&addr("r2.uploads")).unwrap().name,
        "staging-uploads"
    );
    assert_eq!(
        staging
            .resource(&addr("worker.spacevision-api"))
            .unwrap()
            .name,
        "spacevision-api-staging",
        "named by wrangler's env.staging section"
    );
    assert_eq!(
        staging
            .resource(&addr("worker.spacevision-jobs"))
            .unwrap()
            .name,
        "staging-spacevision-jobs",
        "no env.staging section: prefixed"
    );
    let api = staging.resource(&addr("worker.spacevision-api")).unwrap();
    assert_eq!(
        names(&api.depends_on.iter().cloned().collect::<Vec<_>>()),
        ["kv.sessions", "d1.main"],
        "bindings are not inherited from wrangler's top level"
    );
    assert_eq!(
        staging.config.health.checks[0].http.as_deref(),
        Some("https://api.staging.spacevision.app/health")
    );
    assert_eq!(
        staging.config.resources.r2["uploads"].cors[0].origins,
        ["https://staging.spacevision.app"]
    );
    assert!(!staging.prevents_destroy(&addr("d1.main")), "not protected");
    let alert = staging.config.health.alert.as_ref().unwrap();
    assert_eq!(alert.after_failures, 5);
    assert_eq!(alert.channels, ["github-issue"]);
    assert_eq!(alert.escalate, ["bob", "carol"], "merged key by key");

    let waves: Vec<Vec<String>> = staging
        .dependency_waves()
        .unwrap()
        .iter()
        .map(|w| names(w))
        .collect();
    assert_eq!(
        waves,
        vec![
            vec![
                "kv.cache",
                "kv.sessions",
                "d1.main",
                "dns.A.@",
                "dns.spf",
                "pages.spacevision-web"
            ],
            // The staging API worker binds no R2 bucket (wrangler bindings are not inherited),
            // so it no longer waits for r2.uploads.
            vec!["r2.uploads", "dns.CNAME.www", "worker.spacevision-api"],
            vec!["dns.CNAME.api", "worker.spacevision-jobs"],
            vec![
                "route.api.staging.spacevision.app/*",
                "domain.jobs.staging.spacevision.app"
            ],
        ]
    );
}

#[test]
fn access_control_per_environment_and_operation() {
    let loaded = load();
    let prod = loaded.environment("production").unwrap();
    assert!(prod.may("alice", Operation::Apply));
    assert!(
        prod.may("Release-Bot", Operation::Deploy),
        "logins are case-insensitive"
    );
    assert!(!prod.may("mallory", Operation::Restore));
    let e = prod.authorize("mallory", Operation::Destroy).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`mallory` may not destroy in environment `production`; allowed: `alice`, `release-bot`"
    );
    let staging = loaded.environment("staging").unwrap();
    assert!(
        staging.may("mallory", Operation::Apply),
        "only restore is restricted"
    );
    assert!(!staging.may("mallory", Operation::Restore));
    assert!(staging.may("alice", Operation::Restore));
}

#[test]
fn freeze_and_maintenance_windows() {
    let loaded = load();
    let prod = loaded.environment("production").unwrap();
    let saturday = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    let wednesday = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    assert_eq!(
        prod.frozen_at(saturday).map(ToString::to_string).as_deref(),
        Some("Fri 16:00 - Mon 08:00 Europe/Berlin")
    );
    assert!(prod.frozen_at(wednesday).is_none());
    let sunday_2am = Utc.with_ymd_and_hms(2026, 11, 29, 2, 30, 0).unwrap();
    assert!(prod.maintenance_at(sunday_2am).is_some());
    assert!(
        loaded
            .environment("staging")
            .unwrap()
            .frozen_at(saturday)
            .is_none()
    );
}

#[test]
fn unknown_environment_lists_known_ones() {
    let loaded = load();
    let e = loaded.environment("prod").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown environment `prod`; known environments: `production`, `staging`"
    );
    assert!(e.location().is_none());
}

#[test]
fn developer_and_preview_environments() {
    let loaded = load();
    assert_eq!(loaded.base_environment(), "staging");
    let dev = loaded.developer_environment("alice").unwrap();
    assert_eq!(dev.name, "dev-alice");
    assert_eq!(
        dev.resources
            .values()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        [
            "dev-alice-cache",
            "dev-alice-sessions",
            "dev-alice-main",
            "dev-alice-uploads",
            "dev-alice-spacevision-api",
            "dev-alice-spacevision-jobs"
        ]
    );
    assert!(dev.allowed_actors.is_none());
    assert!(
        dev.resources_of(ResourceKind::Dns).next().is_none(),
        "DNS stays shared"
    );
    let api = dev.resource(&addr("worker.spacevision-api")).unwrap();
    assert!(
        api.depends_on.contains(&addr("d1.main")),
        "database_name `staging-main` (the base environment's name) still matches"
    );
    let e = loaded.developer_environment("Alice Smith").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("invalid developer name `Alice Smith`"),
        "{e}"
    );
    let pr = loaded.preview_environment(42).unwrap();
    assert_eq!(
        pr.resource(&addr("r2.uploads")).unwrap().name,
        "pr-42-uploads"
    );
}

#[test]
fn snapshot_of_resolved_environments() {
    let loaded = load();
    for name in ["production", "staging"] {
        let env = loaded.environment(name).unwrap();
        insta::assert_yaml_snapshot!(format!("environment_{name}"), env);
    }
}

#[test]
fn interpolation_end_to_end() {
    let text = r#"
project: demo
account_id: ${ACCOUNT:-0000}
environments:
  production: { zone: example.com }
  staging: { zone: staging.example.com, prefix: stg- }
resources:
  dns:
    - { name: txt, type: TXT, content: "literal $${zone} and ${prefix}${project} in ${env} of ${zone}" }
notifications:
  hook: { discord: "https://discord.example/${HOOK_PATH}" }
"#;
    let vars: std::collections::BTreeMap<String, String> = [(
        "HOOK_PATH".to_owned(),
        "api/webhooks/secret${zone}".to_owned(),
    )]
    .into();
    let loaded = sv_config::load_str(text, Path::new("sv.yaml"), &vars).unwrap();
    assert_eq!(loaded.config.account_id.as_deref(), Some("0000"));
    let staging = loaded.environment("staging").unwrap();
    let ResourceSpec::Dns(rec) = &staging.resource(&addr("dns.TXT.txt")).unwrap().spec else {
        panic!("dns");
    };
    assert_eq!(
        rec.content,
        "literal ${zone} and stg-demo in staging of staging.example.com"
    );
    let Notification::Discord(hook) = &staging.config.notifications["hook"] else {
        panic!("discord");
    };
    assert_eq!(
        hook.expose(),
        "https://discord.example/api/webhooks/secret${zone}",
        "a variable's value is never interpolated again"
    );
}

#[test]
fn variable_values_are_redacted_from_errors() {
    let text =
        "project: demo\nenvironments:\n  production: {}\ndeploy:\n  auto_rollback: ${TOKEN}\n";
    let vars: std::collections::BTreeMap<String, String> =
        [("TOKEN".to_owned(), "hunter2-secret".to_owned())].into();
    let e = sv_config::load_str(text, Path::new("sv.yaml"), &vars).unwrap_err();
    assert_eq!(
        e.to_string(),
        "sv.yaml:5:18: invalid type: string \"***\", expected a boolean"
    );
}
