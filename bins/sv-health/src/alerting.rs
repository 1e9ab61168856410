//! Carrying out what [`sv_checks::alert::evaluate`] decided: webhooks through the
//! [`Notifier`] (retries, dead letters), and one GitHub issue per incident (opened with the
//! escalation list's first login assigned, commented on repeat, escalation and
//! acknowledgement, closed on recovery). A failing channel is reported and never stops the
//! others.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sv_audit::{AuditLog, AuditRecord, Outcome};
use sv_checks::config::Channel;
use sv_checks::notify::Notifier;
use sv_checks::notify::{Event, Notification, NotifyContext, incident_comment, incident_issue};
use sv_checks::{AlertAction, AlertState};
use sv_github::{GitHub, Marker};

/// What happened to one message on one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub check: String,
    pub channel: String,
    pub event: Event,
    pub delivered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Everything the actions need besides themselves.
pub struct Dispatcher<'a> {
    pub environment: &'a str,
    pub channels: &'a BTreeMap<String, Channel>,
    pub notify_recovery: bool,
    pub notifier: &'a Notifier,
    /// `None` without `GITHUB_TOKEN`/`GITHUB_REPOSITORY`: issue channels then fail.
    pub github: Option<&'a GitHub>,
    pub context: NotifyContext,
    pub audit: &'a AuditLog,
    pub actor: String,
    pub run_url: Option<String>,
    pub now: DateTime<Utc>,
}

/// The marker of a check's incident issue: `<!-- sv:health:<env>:<check> -->`, with
/// characters a marker cannot hold replaced by `_`.
pub fn issue_marker(environment: &str, check: &str) -> Result<Marker, sv_github::Error> {
    let clean = |s: &str| -> String {
        let mut out: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        while out.contains("--") {
            out = out.replace("--", "-_");
        }
        out
    };
    Marker::from_parts(&["health", &clean(environment), &clean(check)])
}

impl Dispatcher<'_> {
    /// Carries out `actions`, recording issue numbers in `state`.
    pub async fn dispatch(&self, actions: &[AlertAction], state: &mut AlertState) -> Vec<Delivery> {
        let mut out = Vec::new();
        for action in actions {
            let Some(n) = Notification::from_action(action, &self.context) else {
                continue; // suppressed: nothing to send
            };
            let (channels, issue) = match action {
                AlertAction::Open { channels, .. } => (channels.clone(), None),
                AlertAction::Repeat {
                    channels, issue, ..
                }
                | AlertAction::Escalate {
                    channels, issue, ..
                }
                | AlertAction::Resolve {
                    channels, issue, ..
                } => (channels.clone(), *issue),
                AlertAction::Acknowledged { issue, .. } => {
                    // Only the issue hears about an acknowledgement.
                    let issue_channels = self
                        .channels
                        .iter()
                        .filter(|(_, c)| matches!(c, Channel::GithubIssue { .. }))
                        .map(|(name, _)| name.clone())
                        .collect();
                    (issue_channels, *issue)
                }
                AlertAction::Suppressed { .. } => continue,
            };
            for name in channels {
                let delivery = self.deliver(&name, &n, issue, state).await;
                out.push(delivery);
            }
        }
        out
    }

    async fn deliver(
        &self,
        name: &str,
        n: &Notification,
        issue: Option<u64>,
        state: &mut AlertState,
    ) -> Delivery {
        let mut d = Delivery {
            check: n.check.clone(),
            channel: name.to_owned(),
            event: n.event,
            delivered: false,
            detail: None,
        };
        if n.event == Event::Resolve
            && !self.notify_recovery
            && !matches!(self.channels.get(name), Some(Channel::GithubIssue { .. }))
        {
            d.detail = Some("recovery messages are off (alert.notify_recovery)".into());
            return d;
        }
        match self.channels.get(name) {
            None => d.detail = Some("no such channel in `notifications`".into()),
            Some(Channel::Off { .. }) => {
                d.detail = Some("channel is off (its webhook URL is empty)".into());
            }
            Some(Channel::Webhook(hook)) => match self.notifier.send(hook, n).await {
                Ok(()) => d.delivered = true,
                Err(e) => d.detail = Some(e.to_string()),
            },
            Some(Channel::GithubIssue {
                labels, assignees, ..
            }) => match self.github {
                None => {
                    d.detail = Some(
                        "GitHub is not configured (set GITHUB_TOKEN and GITHUB_REPOSITORY)".into(),
                    );
                }
                Some(gh) => {
                    let result = self.issue(gh, n, issue, labels, assignees, state).await;
                    self.audit(n, &result);
                    match result {
                        Ok(what) => {
                            d.delivered = true;
                            d.detail = Some(what);
                        }
                        Err(e) => d.detail = Some(e.to_string()),
                    }
                }
            },
        }
        d
    }

    async fn issue(
        &self,
        gh: &GitHub,
        n: &Notification,
        issue: Option<u64>,
        labels: &[String],
        assignees: &[String],
        state: &mut AlertState,
    ) -> Result<String, sv_github::Error> {
        let marker = issue_marker(self.environment, &n.check)?;
        match n.event {
            Event::Open => {
                let draft = incident_issue(n, labels);
                let mut people: Vec<&str> = draft.assignees.iter().map(String::as_str).collect();
                for a in assignees {
                    if !people.iter().any(|p| p.eq_ignore_ascii_case(a)) {
                        people.push(a);
                    }
                }
                let labels: Vec<&str> = draft.labels.iter().map(String::as_str).collect();
                let outcome = gh
                    .upsert_issue(&marker, &draft.title, &draft.body, &labels, &people)
                    .await?;
                state.set_issue(&n.check, outcome.number);
                Ok(format!("issue #{} {:?}", outcome.number, outcome.action).to_lowercase())
            }
            Event::Resolve => {
                let closed = gh
                    .close_issue_by_marker(&marker, Some(&incident_comment(n)))
                    .await?;
                Ok(match closed.as_slice() {
                    [] => "no open issue to close".to_owned(),
                    numbers => format!(
                        "closed {}",
                        numbers
                            .iter()
                            .map(|n| format!("#{n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })
            }
            Event::Repeat | Event::Escalate | Event::Acknowledged => {
                let number = issue.or_else(|| {
                    state
                        .checks
                        .get(&n.check)
                        .and_then(|c| c.incident.as_ref())
                        .and_then(|i| i.issue)
                });
                match number {
                    Some(number) => {
                        gh.comment_on_issue(number, &incident_comment(n)).await?;
                        Ok(format!("commented on #{number}"))
                    }
                    None => Ok("no issue recorded for this incident".to_owned()),
                }
            }
        }
    }

    fn audit(&self, n: &Notification, result: &Result<String, sv_github::Error>) {
        let operation = match n.event {
            Event::Open => "open-incident-issue",
            Event::Resolve => "close-incident-issue",
            _ => "comment-incident-issue",
        };
        let record = AuditRecord {
            time: self.now,
            actor: self.actor.clone(),
            tool: "sv-health".to_owned(),
            environment: Some(self.environment.to_owned()),
            operation: operation.to_owned(),
            target: format!("check {}", n.check),
            result: if result.is_ok() {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            },
            detail: result.as_ref().err().map(ToString::to_string),
            run_url: self.run_url.clone(),
        };
        if let Err(e) = self.audit.append(&record) {
            tracing::warn!("cannot append to the audit trail: {e}");
        }
    }
}
