//! Notification payloads (snapshots) and webhook delivery with retries and dead letters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::TimeDelta;
use secrecy::SecretString;
use sv_audit::DeadLetterQueue;
use sv_checks::notify::{
    ChannelKind, DeadLetter, Link, Notification, Notifier, NotifyContext, Webhook, discord_payload,
    incident_comment, incident_issue, slack_payload,
};
use sv_checks::{AlertAction, Error, Severity};

use crate::*;

fn ctx() -> NotifyContext {
    NotifyContext {
        environment: Some("production".into()),
        now: now(),
        links: vec![Link {
            label: "Workflow run".into(),
            url: "https://github.com/acme/spacevision/actions/runs/42".into(),
        }],
        issue_url_base: Some("https://github.com/acme/spacevision/issues/".into()),
    }
}

fn actions() -> Vec<(&'static str, AlertAction)> {
    let opened_at = now() - TimeDelta::minutes(40);
    vec![
        (
            "open",
            AlertAction::Open {
                check: "api".into(),
                incident: 7,
                severity: Severity::Critical,
                summary: "api is unhealthy: status 503, expected 2xx".into(),
                channels: vec!["slack-oncall".into()],
                assignee: Some("bob".into()),
            },
        ),
        (
            "repeat",
            AlertAction::Repeat {
                check: "api".into(),
                incident: 7,
                severity: Severity::Critical,
                summary: "api is unhealthy: timed out after 10s".into(),
                opened_at,
                channels: vec!["slack-oncall".into()],
                issue: Some(21),
            },
        ),
        (
            "escalate",
            AlertAction::Escalate {
                check: "api".into(),
                incident: 7,
                level: 1,
                severity: Severity::Critical,
                summary: "api is unhealthy: timed out after 10s".into(),
                opened_at,
                channels: vec!["pager".into()],
                assignee: Some("carol".into()),
                issue: Some(21),
            },
        ),
        (
            "acknowledged",
            AlertAction::Acknowledged {
                check: "api".into(),
                incident: 7,
                by: "carol".into(),
                issue: Some(21),
            },
        ),
        (
            "resolve",
            AlertAction::Resolve {
                check: "api".into(),
                incident: 7,
                opened_at,
                duration_s: 40 * 60,
                channels: vec!["slack-oncall".into(), "pager".into()],
                issue: Some(21),
            },
        ),
    ]
}

#[test]
fn slack_and_discord_payloads() {
    for (name, action) in actions() {
        let n = Notification::from_action(&action, &ctx()).unwrap();
        insta::assert_json_snapshot!(format!("slack_{name}"), slack_payload(&n));
        insta::assert_json_snapshot!(format!("discord_{name}"), discord_payload(&n));
    }
}

#[test]
fn degraded_open_reads_as_degraded() {
    let action = AlertAction::Open {
        check: "main-db".into(),
        incident: 2,
        severity: Severity::Warning,
        summary: "main-db is degraded: response time 612 ms above degraded limit 500 ms".into(),
        channels: vec![],
        assignee: None,
    };
    let n = Notification::from_action(&action, &NotifyContext::default()).unwrap();
    assert_eq!(n.title(), "🟡 Degraded: main-db");
    assert_eq!(discord_payload(&n)["embeds"][0]["color"], 0x00ec_b22e);
}

#[test]
fn github_issue_and_comments() {
    let all = actions();
    let open = Notification::from_action(&all[0].1, &ctx()).unwrap();
    let issue = incident_issue(&open, &["outage".to_owned()]);
    assert_eq!(issue.assignees, ["bob"]);
    assert_eq!(issue.labels, ["outage"]);
    insta::assert_snapshot!("issue_title", issue.title);
    insta::assert_snapshot!("issue_body", issue.body);
    let comments: Vec<String> = all[1..]
        .iter()
        .map(|(_, a)| incident_comment(&Notification::from_action(a, &ctx()).unwrap()))
        .collect();
    insta::assert_snapshot!("issue_comments", comments.join("\n---\n"));
}

#[derive(Default)]
struct Hooks {
    hits: BTreeMap<String, AtomicUsize>,
    bodies: Mutex<Vec<serde_json::Value>>,
}

async fn hook(
    State(h): State<Arc<Hooks>>,
    Path(name): Path<String>,
    body: String,
) -> axum::response::Response {
    let n = h.hits[&name].fetch_add(1, Ordering::SeqCst);
    let ok = || {
        h.bodies
            .lock()
            .unwrap()
            .push(serde_json::from_str(&body).unwrap());
        (StatusCode::OK, "ok").into_response()
    };
    match name.as_str() {
        "ok" => ok(),
        "flaky" if n >= 2 => ok(),
        "flaky" => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        "limited" if n >= 1 => ok(),
        "limited" => {
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", "0".parse().unwrap());
            (StatusCode::TOO_MANY_REQUESTS, headers, "slow down").into_response()
        }
        "gone" => (StatusCode::NOT_FOUND, "no_service").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
    }
}

async fn hooks() -> (String, Arc<Hooks>) {
    let mut h = Hooks::default();
    for name in ["ok", "flaky", "limited", "gone", "down"] {
        h.hits.insert(name.into(), AtomicUsize::new(0));
    }
    let h = Arc::new(h);
    let addr = serve(
        Router::new()
            .route("/hooks/{name}", post(hook))
            .with_state(h.clone()),
    )
    .await;
    (format!("http://{addr}/hooks/"), h)
}

fn webhook(base: &str, name: &str) -> Webhook {
    Webhook {
        channel: format!("slack-{name}"),
        kind: ChannelKind::Slack,
        url: SecretString::from(format!("{base}{name}?token=s3cr3t")),
    }
}

fn notifier(dlq: Option<DeadLetterQueue>) -> Notifier {
    let mut n = Notifier::new(client(), clock(), dlq);
    n.backoff = Duration::from_millis(5);
    n
}

fn notification() -> Notification {
    Notification::from_action(&actions()[0].1, &ctx()).unwrap()
}

#[tokio::test]
async fn delivers_after_server_errors_and_rate_limits() {
    let (base, h) = hooks().await;
    let n = notifier(None);
    n.send(&webhook(&base, "ok"), &notification())
        .await
        .unwrap();
    n.send(&webhook(&base, "flaky"), &notification())
        .await
        .unwrap();
    n.send(&webhook(&base, "limited"), &notification())
        .await
        .unwrap();
    assert_eq!(h.hits["ok"].load(Ordering::SeqCst), 1);
    assert_eq!(h.hits["flaky"].load(Ordering::SeqCst), 3);
    assert_eq!(h.hits["limited"].load(Ordering::SeqCst), 2);
    let bodies = h.bodies.lock().unwrap();
    assert_eq!(bodies.len(), 3);
    assert_eq!(bodies[0], slack_payload(&notification()));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (base, h) = hooks().await;
    let err = notifier(None)
        .send(&webhook(&base, "gone"), &notification())
        .await
        .unwrap_err();
    assert_eq!(h.hits["gone"].load(Ordering::SeqCst), 1);
    assert_eq!(
        err.to_string(),
        "cannot deliver to slack-gone after 4 attempts: HTTP 404: no_service"
    );
}

#[tokio::test]
async fn undeliverable_messages_become_dead_letters_and_are_retried() {
    let (base, h) = hooks().await;
    let dir = tempfile::tempdir().unwrap();
    let path = DeadLetterQueue::default_path(dir.path());
    let mut n = notifier(Some(DeadLetterQueue::new(&path)));
    n.attempts = 2;
    let err = n
        .send(&webhook(&base, "down"), &notification())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Delivery { attempts: 2, .. }), "{err}");
    assert!(!err.to_string().contains("s3cr3t"));
    assert_eq!(h.hits["down"].load(Ordering::SeqCst), 2);
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(
        !file.contains("s3cr3t") && !file.contains("/hooks/"),
        "{file}"
    );
    let letters: Vec<DeadLetter> = file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].channel, "slack-down");
    assert_eq!(letters[0].error, "HTTP 503: down");

    // Next run: the channel's URL now works.
    let report = n
        .retry_dead_letters(|channel| {
            (channel == "slack-down").then(|| Webhook {
                channel: channel.into(),
                ..webhook(&base, "ok")
            })
        })
        .await
        .unwrap();
    assert_eq!(
        (report.delivered, report.requeued, report.dropped),
        (1, 0, 0)
    );
    assert_eq!(h.bodies.lock().unwrap().len(), 1);
    assert!(!path.exists() || std::fs::read_to_string(&path).unwrap().is_empty());
}

#[tokio::test]
async fn dead_letters_requeue_or_drop() {
    let (base, _) = hooks().await;
    let dir = tempfile::tempdir().unwrap();
    let q = DeadLetterQueue::new(DeadLetterQueue::default_path(dir.path()));
    let letter = |channel: &str, hours_ago: i64| DeadLetter {
        channel: channel.into(),
        kind: ChannelKind::Slack,
        payload: serde_json::json!({"text": "x"}),
        error: "HTTP 503: down".into(),
        failed_at: now() - TimeDelta::hours(hours_ago),
    };
    q.push(&letter("slack-down", 1)).unwrap();
    q.push(&letter("slack-removed", 1)).unwrap();
    q.push(&letter("slack-down", 48)).unwrap();
    let mut n = notifier(Some(q.clone()));
    n.attempts = 1;
    let report = n
        .retry_dead_letters(|c| (c == "slack-down").then(|| webhook(&base, "down")))
        .await
        .unwrap();
    assert_eq!(
        (report.delivered, report.requeued, report.dropped),
        (0, 1, 2)
    );
    let left: Vec<DeadLetter> = q.take_all().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].channel, "slack-down");
}
