//! Telling people: pure payload builders for Slack (blocks) and Discord (embeds) and the
//! GitHub issue text for an incident, plus a small async [`Notifier`] that posts webhooks
//! with retries and parks what still fails in the dead-letter file (`sv_audit`) for the
//! next run.
//!
//! Payloads carry names, statuses and links only. Webhook URLs are secrets: they live in
//! [`Webhook`] as `SecretString`, never in payloads, errors or dead letters (a dead letter
//! names the channel; the next run looks its URL up again).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sv_audit::DeadLetterQueue;

use crate::Error;
use crate::alert::{AlertAction, Severity};
use crate::clock::Clock;

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Open,
    Repeat,
    Escalate,
    Acknowledged,
    Resolve,
}

/// A link shown under a message (workflow run, issue, report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// One message about one incident, independent of the channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub event: Event,
    pub check: String,
    pub incident: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub severity: Severity,
    pub summary: String,
    pub opened_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_level: Option<u32>,
    /// Who is assigned (open, escalate) or acknowledged (acknowledged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

/// What the binary knows besides the action.
#[derive(Debug, Clone, Default)]
pub struct NotifyContext {
    pub environment: Option<String>,
    pub now: DateTime<Utc>,
    /// Links added to every message (e.g. the workflow run).
    pub links: Vec<Link>,
    /// `https://github.com/OWNER/REPO/issues/`: issue numbers are appended.
    pub issue_url_base: Option<String>,
}

impl Notification {
    /// The message for an alert action; `None` for suppressed actions (nothing to send).
    pub fn from_action(action: &AlertAction, ctx: &NotifyContext) -> Option<Self> {
        let base = |event, check: &str, incident, severity, summary: &str, opened_at| Self {
            event,
            check: check.to_owned(),
            incident,
            environment: ctx.environment.clone(),
            severity,
            summary: summary.to_owned(),
            opened_at,
            at: ctx.now,
            escalation_level: None,
            person: None,
            links: ctx.links.clone(),
        };
        let mut n = match action {
            AlertAction::Open {
                check,
                incident,
                severity,
                summary,
                assignee,
                ..
            } => Self {
                person: assignee.clone(),
                ..base(Event::Open, check, *incident, *severity, summary, ctx.now)
            },
            AlertAction::Repeat {
                check,
                incident,
                severity,
                summary,
                opened_at,
                ..
            } => base(
                Event::Repeat,
                check,
                *incident,
                *severity,
                summary,
                *opened_at,
            ),
            AlertAction::Escalate {
                check,
                incident,
                level,
                severity,
                summary,
                opened_at,
                assignee,
                ..
            } => Self {
                escalation_level: Some(*level),
                person: assignee.clone(),
                ..base(
                    Event::Escalate,
                    check,
                    *incident,
                    *severity,
                    summary,
                    *opened_at,
                )
            },
            AlertAction::Acknowledged {
                check,
                incident,
                by,
                ..
            } => Self {
                person: Some(by.clone()),
                ..base(
                    Event::Acknowledged,
                    check,
                    *incident,
                    Severity::Warning,
                    &format!("acknowledged by @{by}; repeat alerts stop"),
                    ctx.now,
                )
            },
            AlertAction::Resolve {
                check,
                incident,
                opened_at,
                duration_s,
                ..
            } => base(
                Event::Resolve,
                check,
                *incident,
                Severity::Warning,
                &format!("{check} recovered after {}", human_secs(*duration_s)),
                *opened_at,
            ),
            AlertAction::Suppressed { .. } => return None,
        };
        let issue = match action {
            AlertAction::Repeat { issue, .. }
            | AlertAction::Escalate { issue, .. }
            | AlertAction::Acknowledged { issue, .. }
            | AlertAction::Resolve { issue, .. } => *issue,
            _ => None,
        };
        if let (Some(base), Some(num)) = (&ctx.issue_url_base, issue) {
            n.links.push(Link {
                label: format!("Issue #{num}"),
                url: format!("{base}{num}"),
            });
        }
        Some(n)
    }

    fn emoji(&self) -> &'static str {
        match (self.event, self.severity) {
            (Event::Open | Event::Repeat, Severity::Critical) => "🔴",
            (Event::Open | Event::Repeat, Severity::Warning) => "🟡",
            (Event::Escalate, _) => "🚨",
            (Event::Acknowledged, _) => "👀",
            (Event::Resolve, _) => "✅",
        }
    }

    /// The headline, e.g. `🔴 Outage: api (production)`.
    pub fn title(&self) -> String {
        let what = match (self.event, self.severity) {
            (Event::Open, Severity::Critical) => "Outage".to_owned(),
            (Event::Open, Severity::Warning) => "Degraded".to_owned(),
            (Event::Repeat, _) => "Still failing".to_owned(),
            (Event::Escalate, _) => {
                format!("Escalated (level {})", self.escalation_level.unwrap_or(1))
            }
            (Event::Acknowledged, _) => "Acknowledged".to_owned(),
            (Event::Resolve, _) => "Resolved".to_owned(),
        };
        let env = self
            .environment
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        format!("{} {what}: {}{env}", self.emoji(), self.check)
    }

    /// Facts shown under the summary.
    fn facts(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![("Incident", format!("#{}", self.incident))];
        if matches!(self.event, Event::Open | Event::Repeat | Event::Escalate) {
            f.push(("Severity", self.severity.to_string()));
        }
        f.push((
            "Since",
            self.opened_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ));
        if let Some(p) = &self.person {
            let label = if self.event == Event::Acknowledged {
                "By"
            } else {
                "Assigned"
            };
            f.push((label, format!("@{p}")));
        }
        f
    }

    fn color(&self) -> u32 {
        match (self.event, self.severity) {
            (Event::Resolve, _) => 0x2e_b6_7d,
            (Event::Acknowledged, _) => 0x36_c5_f0,
            (Event::Escalate, _) => 0x9b_59_b6,
            (_, Severity::Critical) => 0xe0_1e_5a,
            (_, Severity::Warning) => 0xec_b2_2e,
        }
    }

    fn help(&self) -> Option<&'static str> {
        matches!(self.event, Event::Open | Event::Repeat | Event::Escalate)
            .then_some("Comment /ack on the issue to acknowledge and stop repeats.")
    }
}

/// Slack incoming-webhook payload: a plain `text` fallback plus blocks.
pub fn slack_payload(n: &Notification) -> Value {
    let facts: Vec<String> = n
        .facts()
        .iter()
        .map(|(k, v)| format!("*{k}:* {}", slack_escape(v)))
        .collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&n.title(), 150), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&format!("{}\n{}", slack_escape(&n.summary), facts.join(" · ")), 3000)}}),
    ];
    let mut context: Vec<String> = n
        .links
        .iter()
        .map(|l| {
            format!(
                "<{}|{}>",
                l.url.replace(['|', '>'], ""),
                slack_escape(&l.label)
            )
        })
        .collect();
    if let Some(help) = n.help() {
        context.push(help.to_owned());
    }
    if !context.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(&context.join(" · "), 3000)}]}));
    }
    json!({
        "text": cut(&format!("{} — {}", n.title(), n.summary), 3000),
        "blocks": blocks,
    })
}

/// Discord webhook payload: one embed; mentions disabled so names in errors cannot ping.
pub fn discord_payload(n: &Notification) -> Value {
    let mut fields: Vec<Value> = n
        .facts()
        .into_iter()
        .map(|(k, v)| json!({"name": k, "value": cut(&v, 1024), "inline": true}))
        .collect();
    if !n.links.is_empty() {
        let links: Vec<String> = n
            .links
            .iter()
            .map(|l| {
                format!(
                    "[{}]({})",
                    l.label.replace([']', '['], ""),
                    l.url.replace(')', "%29")
                )
            })
            .collect();
        fields.push(
            json!({"name": "Links", "value": cut(&links.join(" · "), 1024), "inline": false}),
        );
    }
    let mut embed = json!({
        "title": cut(&n.title(), 256),
        "description": cut(&n.summary, 4096),
        "color": n.color(),
        "timestamp": n.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "fields": fields,
    });
    if let Some(help) = n.help() {
        embed["footer"] = json!({"text": help});
    }
    json!({
        "username": "sv-health",
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

/// Slack mrkdwn needs only these three escaped.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let kept: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

fn human_secs(s: i64) -> String {
    let s = s.max(0);
    match (s / 3600, s % 3600 / 60) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// A GitHub issue for an incident. The hidden marker lets the binary find the open issue
/// of a check again (one outage is one issue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueDraft {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
}

/// The hidden marker of a check's incident issue in an environment.
pub fn incident_marker(environment: Option<&str>, check: &str) -> String {
    // Without `>` nothing can close the comment early.
    let clean = |s: &str| s.replace(['<', '>', '\n'], "");
    format!(
        "<!-- sv-health:incident env={} check={} -->",
        clean(environment.unwrap_or("default")),
        clean(check)
    )
}

/// The issue to open for a new incident.
pub fn incident_issue(n: &Notification, labels: &[String]) -> IssueDraft {
    let env = n.environment.as_deref();
    let mut body = String::new();
    let _ = writeln!(body, "{}\n", incident_marker(env, &n.check));
    let _ = writeln!(
        body,
        "**{}** is failing{}.\n",
        sv_report::markdown_escape(&n.check),
        env.map(|e| format!(" in `{e}`")).unwrap_or_default()
    );
    let _ = writeln!(body, "> {}\n", sv_report::markdown_escape(&n.summary));
    for (k, v) in n.facts() {
        let _ = writeln!(body, "- **{k}:** {}", sv_report::markdown_escape(&v));
    }
    for l in &n.links {
        let _ = writeln!(
            body,
            "- [{}]({})",
            sv_report::markdown_escape(&l.label),
            l.url
        );
    }
    body.push_str(
        "\nComment `/ack` to acknowledge: repeat alerts and escalation stop. This issue is \
         closed automatically when the check recovers.\n",
    );
    IssueDraft {
        title: n.title(),
        body,
        labels: labels.to_vec(),
        assignees: n.person.iter().cloned().collect(),
    }
}

/// The comment to post on the incident's issue for a later event (repeat, escalation,
/// acknowledgement, resolution).
pub fn incident_comment(n: &Notification) -> String {
    let mut out = format!(
        "**{}**\n\n{}\n",
        n.title(),
        sv_report::markdown_escape(&n.summary)
    );
    if n.event == Event::Escalate
        && let Some(p) = &n.person
    {
        let _ = writeln!(out, "\nEscalated to @{p}.");
    }
    if n.event == Event::Resolve {
        out.push_str("\nClosing this issue: the check is healthy again.\n");
    }
    out
}

/// The kind of webhook a channel posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Slack,
    Discord,
}

/// A webhook channel. The URL is the secret: `Debug` and errors never show it.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub channel: String,
    pub kind: ChannelKind,
    pub url: SecretString,
}

impl Webhook {
    pub fn payload(&self, n: &Notification) -> Value {
        match self.kind {
            ChannelKind::Slack => slack_payload(n),
            ChannelKind::Discord => discord_payload(n),
        }
    }
}

/// An undelivered message as kept in the dead-letter file: channel name, never its URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub channel: String,
    pub kind: ChannelKind,
    pub payload: Value,
    pub error: String,
    pub failed_at: DateTime<Utc>,
}

/// What a dead-letter retry did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetryReport {
    pub delivered: usize,
    /// Failed again and went back to the file.
    pub requeued: usize,
    /// Too old to be worth sending, or their channel no longer exists.
    pub dropped: usize,
}

/// Posts webhooks with retries on connection errors, 429 and 5xx (honouring
/// `Retry-After`), and dead-letters what still fails.
pub struct Notifier {
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    dead_letters: Option<DeadLetterQueue>,
    /// Total attempts per message (at least 1).
    pub attempts: u32,
    /// Limit for one attempt.
    pub timeout: Duration,
    /// First backoff; doubled per attempt, with up to 25% jitter.
    pub backoff: Duration,
    /// Longest wait honoured from `Retry-After`.
    pub max_wait: Duration,
    /// Dead letters older than this are dropped instead of resent.
    pub max_age: TimeDelta,
    pub seed: u64,
}

impl Notifier {
    pub fn new(
        client: reqwest::Client,
        clock: Arc<dyn Clock>,
        dead_letters: Option<DeadLetterQueue>,
    ) -> Self {
        Self {
            client,
            clock,
            dead_letters,
            attempts: 4,
            timeout: Duration::from_secs(15),
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
            max_age: TimeDelta::hours(24),
            seed: 0x5eed,
        }
    }

    /// Sends one notification. When every attempt fails, the payload goes to the
    /// dead-letter file (if configured) and the error says so.
    pub async fn send(&self, hook: &Webhook, n: &Notification) -> Result<(), Error> {
        self.send_payload(hook, &hook.payload(n)).await
    }

    /// Sends a prepared payload (e.g. a dead letter).
    pub async fn send_payload(&self, hook: &Webhook, payload: &Value) -> Result<(), Error> {
        match self.post(hook, payload).await {
            Ok(()) => Ok(()),
            Err(reason) => {
                if let Some(q) = &self.dead_letters {
                    q.push(&DeadLetter {
                        channel: hook.channel.clone(),
                        kind: hook.kind,
                        payload: payload.clone(),
                        error: reason.clone(),
                        failed_at: self.clock.now(),
                    })?;
                }
                Err(Error::Delivery {
                    channel: hook.channel.clone(),
                    attempts: self.attempts.max(1),
                    reason,
                })
            }
        }
    }

    /// Resends what earlier runs could not deliver. `lookup` finds a channel's webhook by
    /// name in the current config; messages for unknown channels or older than `max_age`
    /// are dropped.
    pub async fn retry_dead_letters(
        &self,
        lookup: impl Fn(&str) -> Option<Webhook>,
    ) -> Result<RetryReport, Error> {
        let Some(q) = &self.dead_letters else {
            return Ok(RetryReport::default());
        };
        let letters: Vec<DeadLetter> = q.take_all()?;
        let now = self.clock.now();
        let mut report = RetryReport::default();
        for letter in letters {
            let hook = lookup(&letter.channel).filter(|h| h.kind == letter.kind);
            match hook {
                Some(hook) if now - letter.failed_at <= self.max_age => {
                    match self.post(&hook, &letter.payload).await {
                        Ok(()) => report.delivered += 1,
                        Err(error) => {
                            q.push(&DeadLetter { error, ..letter })?;
                            report.requeued += 1;
                        }
                    }
                }
                _ => report.dropped += 1,
            }
        }
        Ok(report)
    }

    async fn post(&self, hook: &Webhook, payload: &Value) -> Result<(), String> {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let attempts = self.attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let sent = self
                .client
                .post(hook.url.expose_secret())
                .timeout(self.timeout)
                .json(payload)
                .send()
                .await;
            let retry_after = match sent {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(Duration::from_secs_f64);
                    let body = resp.text().await.unwrap_or_default();
                    last = format!("HTTP {}: {}", status.as_u16(), cut(body.trim(), 200));
                    let retryable = status.as_u16() == 429
                        || status.as_u16() == 408
                        || status.is_server_error();
                    if !retryable {
                        return Err(last);
                    }
                    retry_after
                }
                Err(e) => {
                    last = e.without_url().to_string();
                    None
                }
            };
            if attempt < attempts {
                let factor = 1u32 << (attempt - 1).min(5);
                let base = self.backoff.saturating_mul(factor);
                let jitter = u64::try_from(base.as_millis() / 4).unwrap_or(0);
                let backoff = base
                    + Duration::from_millis(if jitter == 0 {
                        0
                    } else {
                        rng.random_range(0..=jitter)
                    });
                let wait = retry_after.map_or(backoff, |r| r.min(self.max_wait));
                tracing::debug!(channel = %hook.channel, attempt, ?wait, error = %last, "webhook retry");
                tokio::time::sleep(wait).await;
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn suppressed_actions_send_nothing() {
        let a = AlertAction::Suppressed {
            check: "api".into(),
            held: crate::alert::Held::Open,
            reason: crate::alert::SuppressReason::DeployInProgress,
        };
        assert!(Notification::from_action(&a, &NotifyContext::default()).is_none());
    }

    #[test]
    fn slack_text_is_escaped_and_discord_cannot_mention() {
        let a = AlertAction::Open {
            check: "api".into(),
            incident: 1,
            severity: Severity::Critical,
            summary: "api is unhealthy: <@U123> & @everyone".into(),
            channels: vec![],
            assignee: None,
        };
        let ctx = NotifyContext {
            now: t("2026-11-25T12:00:00Z"),
            ..NotifyContext::default()
        };
        let n = Notification::from_action(&a, &ctx).unwrap();
        let slack = slack_payload(&n).to_string();
        assert!(slack.contains("&lt;@U123&gt; &amp; @everyone"), "{slack}");
        let discord = discord_payload(&n);
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
    }

    #[test]
    fn markers_cannot_be_broken_by_names() {
        assert_eq!(
            incident_marker(Some("prod"), "a-->b<c"),
            "<!-- sv-health:incident env=prod check=a--bc -->"
        );
    }

    #[test]
    fn webhook_debug_hides_the_url() {
        let w = Webhook {
            channel: "slack-oncall".into(),
            kind: ChannelKind::Slack,
            url: SecretString::from("https://hooks.slack.com/services/T/B/secret"),
        };
        assert!(!format!("{w:?}").contains("secret"));
    }
}
