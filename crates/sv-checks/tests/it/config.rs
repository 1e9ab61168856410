//! The spacevision example's `health` section mapped onto the engine's types.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::TimeDelta;
use sv_checks::config::{Channel, ServiceTarget, alert_policy, channels, checks};
use sv_checks::{CheckTarget, ServiceKind};

fn spacevision() -> sv_config::LoadedConfig {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spacevision/sv.yaml");
    let vars = BTreeMap::from([("CLOUDFLARE_ACCOUNT_ID", "5ea7c0de5ea7c0de5ea7c0de5ea7c0de")]);
    sv_config::load(&path, &vars).unwrap()
}

#[test]
fn spacevision_checks_map_onto_specs_and_targets() {
    let loaded = spacevision();
    let staging = loaded.environment("staging").unwrap();
    let mapped = checks(staging).unwrap();
    let names: Vec<&str> = mapped.specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "api",
            "api-deep",
            "worker-deployed",
            "web",
            "sessions-kv",
            "main-db",
            "uploads-r2"
        ]
    );
    let api = &mapped.specs[0];
    let CheckTarget::Http(http) = &api.target else {
        panic!("api is an HTTP check")
    };
    // `${zone}` rendered for the environment.
    assert_eq!(
        http.url.as_str(),
        "https://api.staging.spacevision.app/health"
    );
    assert_eq!(http.expect_status.to_string(), "200");
    assert_eq!(http.json.len(), 1);
    assert_eq!(api.latency.degraded_ms, Some(500.0));
    assert_eq!(api.latency.unhealthy_ms, Some(2000.0));
    assert_eq!(api.interval, Duration::from_secs(60));
    let deep = &mapped.specs[1];
    assert_eq!((deep.retries, deep.timeout), (2, Duration::from_secs(10)));

    // Data stores get the environment's prefix.
    let kv = mapped
        .services
        .iter()
        .find(|s| s.kind == ServiceKind::Kv)
        .unwrap();
    assert_eq!(kv.resource, "staging-sessions");
    let d1 = mapped
        .services
        .iter()
        .find(|s| s.kind == ServiceKind::D1)
        .unwrap();
    assert_eq!(
        d1,
        &ServiceTarget {
            check: "main-db".into(),
            kind: ServiceKind::D1,
            resource: "staging-main".into(),
            query: Some("SELECT COUNT(*) FROM observations".into()),
        }
    );

    let only = checks(staging)
        .unwrap()
        .select(&["main-db".into()])
        .unwrap();
    assert_eq!((only.specs.len(), only.services.len()), (1, 1));
    assert!(checks(staging).unwrap().select(&["nope".into()]).is_err());
}

#[test]
fn spacevision_alert_policy_and_channels() {
    let loaded = spacevision();
    let prod = loaded.environment("production").unwrap();
    let policy = alert_policy(prod, TimeDelta::minutes(5), false).unwrap();
    assert_eq!(policy.after_failures, 3);
    assert_eq!(policy.repeat, Some(TimeDelta::minutes(30)));
    assert_eq!(policy.primary, ["slack-oncall", "github-issue"]);
    assert_eq!(policy.escalation, ["bob", "carol"]);
    // escalate_after defaults to 2 × after_failures = 6 failures: 3 runs after opening.
    assert_eq!(policy.escalate_after, Some(TimeDelta::minutes(15)));

    let channels = channels(prod);
    // Unset `${SLACK_ONCALL_WEBHOOK:-}`: the channel is off, not an error.
    assert!(matches!(channels["slack-oncall"], Channel::Off { .. }));
    match &channels["github-issue"] {
        Channel::GithubIssue { labels, .. } => assert_eq!(labels, &["outage"]),
        other => panic!("{other:?}"),
    }
}
