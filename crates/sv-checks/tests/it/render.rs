//! Snapshots of the health report in every format.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use sv_checks::alert::{Held, Incident, SuppressReason};
use sv_checks::{
    AlertAction, AlertState, CheckKind, HealthReport, HealthStatus, History, ReportInput, Severity,
    Status,
};
use sv_report::{Render, Styles};

use crate::*;

/// A tiny deterministic generator, so snapshots do not depend on `rand`'s algorithms.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn result(name: &str, kind: CheckKind, status: Status, ms: f64, errors: &[&str]) -> HealthStatus {
    HealthStatus {
        name: name.into(),
        kind,
        status,
        last_check: now(),
        response_time_ms: ms,
        errors: errors.iter().map(|e| (*e).to_owned()).collect(),
        metrics: BTreeMap::from([("status_code".to_owned(), 200.0)]),
        attempts: 1,
        probed: None,
    }
}

fn sample_run(rng: &mut Lcg, at: DateTime<Utc>) -> Vec<HealthStatus> {
    let api_down = rng.next(40) == 0;
    let db_slow = rng.next(25) == 0;
    vec![
        result(
            "api",
            CheckKind::Http,
            if api_down {
                Status::Unhealthy
            } else {
                Status::Healthy
            },
            if api_down {
                5000.0
            } else {
                80.0 + rng.next(60) as f64
            },
            &[],
        ),
        result(
            "web",
            CheckKind::Http,
            Status::Healthy,
            30.0 + rng.next(20) as f64,
            &[],
        ),
        result(
            "sessions-kv",
            CheckKind::Kv,
            Status::Healthy,
            15.0 + rng.next(10) as f64,
            &[],
        ),
        result(
            "main-db",
            CheckKind::D1,
            if db_slow {
                Status::Degraded
            } else {
                Status::Healthy
            },
            if db_slow {
                900.0
            } else {
                40.0 + rng.next(30) as f64
            },
            &[],
        )
        .clone(),
    ]
    .into_iter()
    .map(|mut r| {
        r.last_check = at;
        r
    })
    .collect()
}

fn current() -> Vec<HealthStatus> {
    vec![
        result(
            "api",
            CheckKind::Http,
            Status::Unhealthy,
            212.0,
            &["status 503, expected 2xx", "$.ok == true: found false"],
        ),
        result("web", CheckKind::Http, Status::Healthy, 41.0, &[]),
        result("sessions-kv", CheckKind::Kv, Status::Healthy, 18.0, &[]),
        result(
            "main-db",
            CheckKind::D1,
            Status::Degraded,
            612.0,
            &["response time 612 ms above degraded limit 500 ms"],
        ),
    ]
}

/// 29 days of hourly runs, then a day of late 5-minute cron runs with one long gap.
fn history() -> History {
    let mut h = History::new();
    let mut rng = Lcg(42);
    for hour in (24..24 * 30).rev() {
        let at = now() - TimeDelta::hours(hour);
        h.append(at, &sample_run(&mut rng, at));
    }
    let mut at = now() - TimeDelta::hours(24) + TimeDelta::minutes(3);
    while at < now() {
        h.append(at, &sample_run(&mut rng, at));
        let hour = (now() - at).num_hours();
        let step = if hour == 7 {
            70
        } else {
            5 + rng.next(3) as i64
        };
        at += TimeDelta::minutes(step);
    }
    h.append(now(), &current());
    h
}

fn alert_state() -> AlertState {
    let mut state = AlertState {
        next_incident: 5,
        ..AlertState::default()
    };
    let mut check = serde_json::from_value::<sv_checks::alert::CheckState>(serde_json::json!({
        "consecutive_failures": 4, "consecutive_passes": 0, "recent": "..xxxx"
    }))
    .unwrap();
    check.incident = Some(Incident {
        id: 4,
        opened_at: now() - TimeDelta::minutes(25),
        severity: Severity::Critical,
        summary: "api is unhealthy: status 503, expected 2xx".into(),
        last_alert_at: now(),
        escalation_level: 1,
        acknowledged: None,
        issue: Some(17),
    });
    state.checks.insert("api".into(), check);
    state
}

fn actions() -> Vec<AlertAction> {
    vec![
        AlertAction::Escalate {
            check: "api".into(),
            incident: 4,
            level: 1,
            severity: Severity::Critical,
            summary: "api is unhealthy: status 503, expected 2xx".into(),
            opened_at: now() - TimeDelta::minutes(25),
            channels: vec!["pager".into()],
            assignee: Some("carol".into()),
            issue: Some(17),
        },
        AlertAction::Resolve {
            check: "web".into(),
            incident: 3,
            opened_at: now() - TimeDelta::minutes(95),
            duration_s: 95 * 60,
            channels: vec!["slack-oncall".into()],
            issue: Some(16),
        },
        AlertAction::Suppressed {
            check: "main-db".into(),
            held: Held::Open,
            reason: SuppressReason::DeployInProgress,
        },
    ]
}

fn full_report() -> HealthReport {
    let h = history();
    let state = alert_state();
    let results = current();
    let actions = actions();
    HealthReport::build(&ReportInput {
        environment: Some("production"),
        results: &results,
        history: &h,
        alert_state: Some(&state),
        actions: &actions,
        expected_interval: TimeDelta::minutes(5),
        silences: &[],
        now: now(),
    })
}

#[test]
fn full_report_human() {
    insta::assert_snapshot!(full_report().human(&Styles::plain()));
}

#[test]
fn full_report_markdown() {
    insta::assert_snapshot!(full_report().markdown());
}

#[test]
fn full_report_json() {
    let mut report = serde_json::to_value(full_report()).unwrap();
    // The charts are long and already in the Markdown snapshot; keep their sizes here.
    for c in report["checks"].as_array_mut().unwrap() {
        let n = c["chart"].as_array().unwrap().len();
        c["chart"] = serde_json::json!(format!("{n} points"));
    }
    insta::assert_json_snapshot!(report);
}

#[test]
fn report_figures_match_the_history() {
    let r = full_report();
    let api = r.checks.iter().find(|c| c.result.name == "api").unwrap();
    let h = history();
    assert_eq!(api.uptime.h24, h.uptime("api", TimeDelta::hours(24), now()));
    assert!(api.uptime.d30.unwrap() < 100.0);
    // 13:00 yesterday to 12:00 today; api's only 12:00 result is unhealthy, so not charted.
    assert_eq!(api.chart.len(), 23);
    let db = r
        .checks
        .iter()
        .find(|c| c.result.name == "main-db")
        .unwrap();
    assert_eq!(db.chart.len(), 24);
    assert_eq!(db.chart.last().unwrap(), &(now(), 612.0));
    assert_eq!(r.coverage.gaps.len(), 1);
    assert_eq!(r.coverage.gaps[0].seconds, 70 * 60);
}

#[test]
fn empty_report() {
    let h = History::new();
    let report = HealthReport::build(&ReportInput {
        environment: None,
        results: &[],
        history: &h,
        alert_state: None,
        actions: &[],
        expected_interval: TimeDelta::minutes(5),
        silences: &[],
        now: now(),
    });
    insta::assert_snapshot!("empty_human", report.human(&Styles::plain()));
    insta::assert_snapshot!("empty_markdown", report.markdown());
}

#[test]
fn hostile_names_cannot_break_markdown() {
    let mut h = History::new();
    let name = "a|b *c* <x> \"q\"";
    let mut r = result(
        name,
        CheckKind::Http,
        Status::Unhealthy,
        10.0,
        &["body does not contain \"`|`\""],
    );
    r.attempts = 3;
    let ok = result(name, CheckKind::Http, Status::Healthy, 10.0, &[]);
    h.append(now() - TimeDelta::minutes(5), std::slice::from_ref(&ok));
    h.append(now(), std::slice::from_ref(&r));
    let results = [r];
    let report = HealthReport::build(&ReportInput {
        environment: Some("pr-1|<b>"),
        results: &results,
        history: &h,
        alert_state: None,
        actions: &[],
        expected_interval: TimeDelta::minutes(5),
        silences: &[],
        now: now(),
    });
    insta::assert_snapshot!(report.markdown());
}

#[test]
fn colours_only_when_enabled() {
    let report = full_report();
    assert!(!report.human(&Styles::plain()).contains('\u{1b}'));
    assert!(report.human(&Styles::new(true)).contains('\u{1b}'));
}

#[test]
fn silenced_and_threshold_held_checks() {
    let mut h = History::new();
    let mut held = result(
        "api",
        CheckKind::Http,
        Status::Unhealthy,
        5000.0,
        &["expected status 200, got 503"],
    );
    let mut spec = sv_checks::CheckSpec::service("api", sv_checks::ServiceKind::Kv);
    spec.unhealthy_after = 3;
    sv_checks::streak::judge(&mut held, &spec, 0);
    let silenced = result(
        "uploads-r2",
        CheckKind::R2,
        Status::Unhealthy,
        40.0,
        &["the object read back differs"],
    );
    let results = [held, silenced];
    h.append(now(), &results);
    let silences = [
        sv_checks::alert::Silence {
            check: "uploads-r2".into(),
            until: now() + TimeDelta::hours(6),
            reason: Some("bucket migration, OPS-12".into()),
        },
        sv_checks::alert::Silence {
            check: "api".into(),
            until: now() - TimeDelta::minutes(1),
            reason: Some("expired".into()),
        },
    ];
    let report = HealthReport::build(&ReportInput {
        environment: Some("production"),
        results: &results,
        history: &h,
        alert_state: None,
        actions: &[AlertAction::Suppressed {
            check: "uploads-r2".into(),
            held: Held::Open,
            reason: SuppressReason::Silenced {
                until: now() + TimeDelta::hours(6),
                reason: Some("bucket migration, OPS-12".into()),
            },
        }],
        expected_interval: TimeDelta::minutes(5),
        silences: &silences,
        now: now(),
    });
    assert_eq!(report.overall, Status::Unhealthy);
    assert!(report.checks[0].silenced.is_none(), "expired silence");
    assert_eq!(report.checks[0].result.status, Status::Degraded);
    assert!(report.checks[1].silenced.is_some());
    insta::assert_snapshot!("silenced_human", report.human(&Styles::plain()));
    insta::assert_snapshot!("silenced_markdown", report.markdown());
}
