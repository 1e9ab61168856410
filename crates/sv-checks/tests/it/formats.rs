//! The persisted formats, pinned: what one version writes the next must read.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use sv_checks::alert::{Flapping, evaluate};
use sv_checks::{
    Ack, AlertInput, AlertPolicy, AlertState, CheckKind, HealthStatus, History, Status,
};

use crate::*;

fn result(name: &str, status: Status, ms: f64, minutes: i64) -> HealthStatus {
    HealthStatus {
        name: name.into(),
        kind: CheckKind::Http,
        status,
        last_check: now() + TimeDelta::minutes(minutes),
        response_time_ms: ms,
        errors: if status == Status::Healthy {
            vec![]
        } else {
            vec!["status 502, expected 2xx".into()]
        },
        metrics: BTreeMap::from([("status_code".to_owned(), 502.0)]),
        attempts: 1,
        probed: None,
    }
}

#[test]
fn history_file() {
    let mut h = History::new();
    let mut appended = Vec::new();
    for (m, status) in [
        (0, Status::Healthy),
        (5, Status::Unhealthy),
        (12, Status::Degraded),
    ] {
        let at = now() + TimeDelta::minutes(m);
        appended.extend(h.append(
            at,
            &[
                result("api", status, 120.4, m),
                result("main-db", Status::Healthy, 33.0, m),
            ],
        ));
    }
    let bytes = h.to_bytes();
    insta::assert_snapshot!(String::from_utf8(bytes.clone()).unwrap());
    // Appended blocks and the whole file read back the same.
    assert_eq!(History::from_bytes(&appended).unwrap(), h);
    assert_eq!(History::from_bytes(&bytes).unwrap(), h);
}

#[test]
fn alert_state_file_and_actions() {
    let policy = AlertPolicy {
        after_failures: 2,
        flapping: Some(Flapping {
            failures: 2,
            of_last: 3,
        }),
        repeat: Some(TimeDelta::minutes(30)),
        escalate_after: Some(TimeDelta::minutes(15)),
        primary: vec!["slack-oncall".into()],
        secondary: vec!["discord-leads".into()],
        escalation: vec!["alice".into(), "bob".into()],
        maintenance: vec!["Sun 02:00 - Sun 03:00 UTC".parse().unwrap()],
        ..AlertPolicy::default()
    };
    let mut state = AlertState::default();
    let mut log = Vec::new();
    for (m, status, ack) in [
        (0, Status::Unhealthy, false),
        (5, Status::Unhealthy, false),
        (20, Status::Unhealthy, false),
        (25, Status::Unhealthy, true),
        // Flapping control: 2 of the last 3 still failed, so the first pass does not resolve.
        (30, Status::Healthy, false),
        (35, Status::Healthy, false),
    ] {
        let at = now() + TimeDelta::minutes(m);
        let acks = if ack {
            BTreeMap::from([(
                "api".to_owned(),
                Ack {
                    by: "bob".into(),
                    at,
                    note: Some("rolling back".into()),
                },
            )])
        } else {
            BTreeMap::new()
        };
        let results = [result("api", status, 100.0, m)];
        let out = evaluate(
            &state,
            &policy,
            &AlertInput {
                results: &results,
                acknowledgements: &acks,
                deploy_in_progress: false,
                maintenance: None,
                now: at,
            },
        );
        state = out.state;
        if m == 5 {
            state.set_issue("api", 21);
        }
        if m == 25 {
            insta::assert_snapshot!(
                "alert_state_open",
                String::from_utf8(state.to_json()).unwrap()
            );
        }
        log.push(serde_json::json!({"minute": m, "actions": out.actions}));
    }
    insta::assert_json_snapshot!("alert_actions", log);
    insta::assert_json_snapshot!("alert_policy", policy);
    assert!(state.open_incidents().next().is_none());
}
