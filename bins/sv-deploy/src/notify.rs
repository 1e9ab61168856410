//! Deploy notifications to the Slack and Discord channels named by `deploy.notify`, posted
//! through `sv_checks::notify::Notifier` (retries, dead letters). A failed delivery is a
//! warning: it never fails a deploy.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use sv_checks::notify::{ChannelKind, Notifier, Webhook};
use sv_config::Environment;

use crate::console::Console;
use crate::report::{DeployReport, Outcome};

/// The one-paragraph message for a deploy.
#[must_use]
pub fn message(report: &DeployReport, run_url: Option<&str>) -> String {
    let icon = match report.outcome {
        Outcome::Succeeded => "✅",
        Outcome::Paused => "⏸️",
        _ => "❌",
    };
    let outcome = serde_json::to_value(report.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
        .replace('_', " ");
    let mut text = format!(
        "{icon} sv-deploy {} to {}: {outcome}",
        report.id, report.environment
    );
    if let (Some(script), Some(v)) = (&report.script, &report.version_id) {
        text.push_str(&format!("\nWorker {script} version {v}"));
    }
    if let Some(u) = &report.url {
        text.push_str(&format!("\n{u}"));
    }
    if let Some(r) = &report.reason {
        text.push_str(&format!("\nReason: {r}"));
    }
    if let Some(u) = run_url {
        text.push_str(&format!("\nRun: {u}"));
    }
    text
}

/// The webhook body for `kind`.
#[must_use]
pub fn payload(kind: ChannelKind, text: &str) -> Value {
    match kind {
        ChannelKind::Slack => json!({ "text": text }),
        ChannelKind::Discord => json!({ "content": text }),
    }
}

/// Posts `report` to every webhook channel of `deploy.notify` that has a URL (an empty URL
/// turns a channel off; `github_issue` channels are for incidents, not deploys).
pub async fn send(
    env: &Environment,
    report: &DeployReport,
    run_url: Option<&str>,
    root: &Path,
    console: &Console,
) {
    let mut hooks = Vec::new();
    for name in &env.config.deploy.notify {
        let (kind, url) = match env.config.notifications.get(name) {
            Some(sv_config::Notification::Slack(s)) => (ChannelKind::Slack, s.expose()),
            Some(sv_config::Notification::Discord(s)) => (ChannelKind::Discord, s.expose()),
            _ => continue,
        };
        if url.trim().is_empty() {
            continue;
        }
        if console.runner().mask(url).is_err() {
            continue;
        }
        hooks.push(Webhook {
            channel: name.clone(),
            kind,
            url: secrecy::SecretString::from(url.to_owned()),
        });
    }
    if hooks.is_empty() {
        return;
    }
    let client = match sv_checks::http_client(concat!("sv-deploy/", env!("CARGO_PKG_VERSION"))) {
        Ok(c) => c,
        Err(e) => {
            console.warn(&format!("notifications not sent: {e}"));
            return;
        }
    };
    let notifier = Notifier::new(
        client,
        Arc::new(sv_checks::SystemClock),
        Some(sv_audit::DeadLetterQueue::new(
            sv_audit::DeadLetterQueue::default_path(root),
        )),
    );
    let text = message(report, run_url);
    for hook in hooks {
        if let Err(e) = notifier
            .send_payload(&hook, &payload(hook.kind, &text))
            .await
        {
            console.warn(&format!(
                "notification to `{}` failed (the deploy result stands): {e}",
                hook.channel
            ));
        }
    }
}
