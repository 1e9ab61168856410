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

/// The example with its `health` section replaced (loaded from the example's directory, so
/// its wrangler configs resolve).
fn spacevision_with_health(health: &str) -> sv_config::LoadedConfig {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spacevision/sv.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("\nhealth:\n").unwrap() + 1;
    let end = start + text[start..].find("\nbackup:").unwrap() + 1;
    let patched = format!("{}health:\n{health}\n{}", &text[..start], &text[end..]);
    let vars = BTreeMap::from([("CLOUDFLARE_ACCOUNT_ID", "5ea7c0de5ea7c0de5ea7c0de5ea7c0de")]);
    sv_config::load_str(&patched, &path, &vars).unwrap()
}

#[test]
fn thresholds_flapping_and_silences_map_onto_the_engine() {
    let loaded = spacevision_with_health(
        r#"  checks:
    - { name: api, http: "https://api.${zone}/health", degraded_after: 2, unhealthy_after: 4 }
    - { name: worker-deployed, worker: spacevision-api, degraded_error_rate: 1%, unhealthy_error_rate: 5.5% }
    - { name: web, pages: spacevision-web }
  alert: { after_failures: 3, channels: [github-issue], flapping: { failures: 3, window: 10 } }
  silences:
    - { check: web, until: 2026-12-01T18:00:00+01:00, reason: "Pages migration" }
    - { check: "*", until: 2026-01-01, reason: "old" }
"#,
    );
    let prod = loaded.environment("production").unwrap();
    let mapped = checks(prod).unwrap();
    let api = &mapped.specs[0];
    assert_eq!((api.degraded_after, api.unhealthy_after), (2, 4));
    let worker = &mapped.specs[1];
    assert_eq!((worker.degraded_after, worker.unhealthy_after), (1, 1));
    assert_eq!(
        worker.metric_thresholds,
        [sv_checks::MetricThreshold {
            metric: "error_rate".into(),
            degraded_above: Some(1.0),
            unhealthy_above: Some(5.5),
        }]
    );
    assert!(mapped.specs[2].metric_thresholds.is_empty());

    let policy = alert_policy(prod, TimeDelta::minutes(5), false).unwrap();
    assert_eq!(
        policy.flapping,
        Some(sv_checks::alert::Flapping {
            failures: 3,
            of_last: 10
        })
    );
    let until: Vec<String> = policy
        .silences
        .iter()
        .map(|s| format!("{} {} {:?}", s.check, s.until.to_rfc3339(), s.reason))
        .collect();
    assert_eq!(
        until,
        [
            "web 2026-12-01T17:00:00+00:00 Some(\"Pages migration\")",
            "* 2026-01-01T00:00:00+00:00 Some(\"old\")"
        ]
    );
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let active = sv_checks::config::active_silences(prod, at);
    assert_eq!(active.len(), 1, "the expired `*` silence is ignored");
    assert_eq!(active[0].check, "web");
}
