//! The alert policy as a pure state machine: previous [`AlertState`] + this run's results +
//! [`AlertPolicy`] + now → new state and the [`AlertAction`]s to carry out. The binary
//! persists the state (JSON) between runs and performs the actions (Slack, Discord, GitHub
//! issues); nothing here does I/O, so every rule is table-tested.
//!
//! Rules:
//! - One outage is one incident per check: it opens once and stays open until the check
//!   recovers; repeats and escalations refer to it; recovery resolves it and a later outage
//!   opens a new one.
//! - Opening needs `after_failures` consecutive failures, or with flapping control `N` of
//!   the last `M` results failed. Resolving needs `recover_after` consecutive passes (and,
//!   with flapping control, fewer than `N` of the last `M` failing), so a flapping check
//!   does not open and resolve on every run.
//! - While open, unacknowledged and still failing: repeat every `repeat`, and escalate one
//!   level per `escalate_after` (second channel set, next assignee of the escalation list).
//! - `/ack` on the incident's issue (see [`find_ack`]) stops repeats and escalation.
//! - Suppression (weekly maintenance windows, silences per check with expiry, an sv-deploy
//!   rollout in progress in the same environment) turns open/repeat/escalate into
//!   [`AlertAction::Suppressed`]; failures are still counted, so an outage that outlasts the
//!   suppression opens at the first run after it. Resolutions are never suppressed.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::status::{HealthStatus, Status};

/// How much history of pass/fail each check keeps for flapping control.
const RECENT_LEN: usize = 64;

/// What to do about failing checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPolicy {
    /// Consecutive failures before an incident opens (at least 1).
    pub after_failures: u32,
    /// When set, replaces `after_failures`: open when `failures` of the last `of_last`
    /// results failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping: Option<Flapping>,
    /// Consecutive passing results before an incident resolves (at least 1).
    pub recover_after: u32,
    /// Re-alert an open, unacknowledged incident this often.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_minutes")]
    pub repeat: Option<TimeDelta>,
    /// Escalate an open, unacknowledged incident one level per this much time.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_minutes")]
    pub escalate_after: Option<TimeDelta>,
    /// Channels for open, repeat and resolve.
    pub primary: Vec<String>,
    /// Channels added from the first escalation on.
    #[serde(default)]
    pub secondary: Vec<String>,
    /// GitHub logins: the incident is assigned to the first, each escalation level to the
    /// next.
    #[serde(default)]
    pub escalation: Vec<String>,
    /// Whether degraded results count as failures for alerting.
    #[serde(default)]
    pub degraded_is_failure: bool,
    #[serde(default)]
    pub maintenance: Vec<WeeklyWindow>,
    #[serde(default)]
    pub silences: Vec<Silence>,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            after_failures: 3,
            flapping: None,
            recover_after: 1,
            repeat: Some(TimeDelta::minutes(30)),
            escalate_after: None,
            primary: Vec::new(),
            secondary: Vec::new(),
            escalation: Vec::new(),
            degraded_is_failure: false,
            maintenance: Vec::new(),
            silences: Vec::new(),
        }
    }
}

/// "Alert only when `failures` of the last `of_last` results failed."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flapping {
    pub failures: u32,
    pub of_last: u32,
}

/// A silence on one check (or `*` for all) until a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub check: String,
    pub until: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The silence on `check` in force at `now` (the one lasting longest), if any; expired
/// silences are ignored.
pub fn active_silence<'a>(
    silences: &'a [Silence],
    check: &str,
    now: DateTime<Utc>,
) -> Option<&'a Silence> {
    silences
        .iter()
        .filter(|s| (s.check == check || s.check == "*") && s.until > now)
        .max_by_key(|s| s.until)
}

/// A recurring weekly window in UTC, written `Sun 02:00 - Sun 03:00 UTC`. A window whose
/// end is before its start wraps over the week boundary (`Sat 22:00 - Mon 02:00`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyWindow {
    text: String,
    /// Minutes since Monday 00:00.
    start: u32,
    end: u32,
}

const WEEK_MINUTES: u32 = 7 * 24 * 60;

impl WeeklyWindow {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let m = at.weekday().num_days_from_monday() * 1440 + at.hour() * 60 + at.minute();
        if self.start < self.end {
            self.start <= m && m < self.end
        } else {
            m >= self.start || m < self.end
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for WeeklyWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for WeeklyWindow {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::Window {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let mut body = text.trim();
        for zone in [" UTC", " utc", " Z"] {
            if let Some(b) = body.strip_suffix(zone) {
                body = b;
            }
        }
        let (a, b) = body
            .split_once('-')
            .ok_or_else(|| bad("expected `Day HH:MM - Day HH:MM UTC`"))?;
        let point = |s: &str| -> Result<u32, Error> {
            let mut parts = s.split_whitespace();
            let (Some(day), Some(time), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad(
                    "expected `Day HH:MM - Day HH:MM UTC`; only UTC windows are supported",
                ));
            };
            let day = parse_weekday(day).ok_or_else(|| bad("unknown day (use Mon … Sun)"))?;
            let (h, m) = time
                .split_once(':')
                .ok_or_else(|| bad("time must be HH:MM"))?;
            let (h, m): (u32, u32) = (
                h.parse().map_err(|_| bad("time must be HH:MM"))?,
                m.parse().map_err(|_| bad("time must be HH:MM"))?,
            );
            if h > 23 || m > 59 {
                return Err(bad("time must be HH:MM between 00:00 and 23:59"));
            }
            Ok(day * 1440 + h * 60 + m)
        };
        let (start, end) = (point(a)?, point(b)?);
        if start == end {
            return Err(bad("start and end are the same"));
        }
        debug_assert!(start < WEEK_MINUTES && end < WEEK_MINUTES);
        Ok(Self {
            text: text.trim().to_owned(),
            start,
            end,
        })
    }
}

fn parse_weekday(s: &str) -> Option<u32> {
    let s = s.to_ascii_lowercase();
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    days.iter()
        .position(|d| s.len() >= 3 && d.starts_with(&s))
        .and_then(|i| u32::try_from(i).ok())
}

impl Serialize for WeeklyWindow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for WeeklyWindow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An acknowledgement of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub by: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Everything about this run the state machine needs besides the policy.
#[derive(Debug, Clone, Copy)]
pub struct AlertInput<'a> {
    pub results: &'a [HealthStatus],
    /// Acknowledgements found for checks' incidents (from [`find_ack`] on their issues).
    pub acknowledgements: &'a BTreeMap<String, Ack>,
    /// An sv-deploy rollout of the same environment is under way.
    pub deploy_in_progress: bool,
    /// A maintenance window the caller found in force now, as text for the report. The
    /// config's windows may be daily or carry an IANA zone, which [`WeeklyWindow`] (UTC
    /// only) cannot express, so the caller decides and the engine only suppresses.
    pub maintenance: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// How bad an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Degraded (only when degraded counts as failure).
    Warning,
    /// Unhealthy.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
        })
    }
}

/// The persisted state (JSON) between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    pub version: u32,
    /// Incident ids are unique within a state file.
    pub next_incident: u64,
    pub checks: BTreeMap<String, CheckState>,
}

impl Default for AlertState {
    fn default() -> Self {
        Self {
            version: 1,
            next_incident: 1,
            checks: BTreeMap::new(),
        }
    }
}

impl AlertState {
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let state: Self = serde_json::from_slice(bytes).map_err(Error::AlertState)?;
        if state.version != 1 {
            return Err(Error::AlertState(serde::de::Error::custom(format!(
                "unsupported alert state version {}",
                state.version
            ))));
        }
        Ok(state)
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data into memory cannot fail.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Open incidents, by check name.
    pub fn open_incidents(&self) -> impl Iterator<Item = (&str, &Incident)> {
        self.checks
            .iter()
            .filter_map(|(name, c)| c.incident.as_ref().map(|i| (name.as_str(), i)))
    }

    /// Records the GitHub issue the binary opened for a check's incident, so later
    /// actions can refer to it and `/ack` comments can be read from it.
    pub fn set_issue(&mut self, check: &str, issue: u64) -> bool {
        match self.checks.get_mut(check).and_then(|c| c.incident.as_mut()) {
            Some(incident) => {
                incident.issue = Some(issue);
                true
            }
            None => false,
        }
    }
}

/// Per-check memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckState {
    pub consecutive_failures: u32,
    pub consecutive_passes: u32,
    /// Pass (`.`) or fail (`x`) of the latest results, newest last.
    pub recent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<Incident>,
}

impl CheckState {
    fn new() -> Self {
        Self {
            consecutive_failures: 0,
            consecutive_passes: 0,
            recent: String::new(),
            incident: None,
        }
    }

    fn failures_in_last(&self, n: u32) -> u32 {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let skip = self.recent.len().saturating_sub(n);
        let count = self
            .recent
            .bytes()
            .skip(skip)
            .filter(|b| *b == b'x')
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

/// An open outage of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: u64,
    pub opened_at: DateTime<Utc>,
    pub severity: Severity,
    pub summary: String,
    pub last_alert_at: DateTime<Utc>,
    /// 0 until the first escalation.
    pub escalation_level: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Ack>,
    /// The GitHub issue tracking it, once the binary opened one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<u64>,
}

/// Why an alert was held back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SuppressReason {
    Maintenance {
        window: String,
    },
    Silenced {
        until: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    DeployInProgress,
}

impl fmt::Display for SuppressReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Maintenance { window } => write!(f, "maintenance window {window}"),
            Self::Silenced { until, reason } => {
                write!(f, "silenced until {}", until.format("%Y-%m-%d %H:%M UTC"))?;
                if let Some(r) = reason {
                    write!(f, " ({r})")?;
                }
                Ok(())
            }
            Self::DeployInProgress => f.write_str("deploy in progress"),
        }
    }
}

/// Which alert a suppression held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Held {
    Open,
    Repeat,
    Escalate,
}

/// What the binary should do after this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AlertAction {
    /// A new incident: notify `channels`, open an issue assigned to `assignee`.
    Open {
        check: String,
        incident: u64,
        severity: Severity,
        summary: String,
        channels: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee: Option<String>,
    },
    /// Still failing after `repeat`: notify again.
    Repeat {
        check: String,
        incident: u64,
        severity: Severity,
        summary: String,
        opened_at: DateTime<Utc>,
        channels: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issue: Option<u64>,
    },
    /// Unacknowledged for too long: notify the next channels, assign the next person.
    Escalate {
        check: String,
        incident: u64,
        level: u32,
        severity: Severity,
        summary: String,
        opened_at: DateTime<Utc>,
        channels: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issue: Option<u64>,
    },
    /// Someone acknowledged with `/ack`: repeats and escalations stop.
    Acknowledged {
        check: String,
        incident: u64,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issue: Option<u64>,
    },
    /// Recovered: send a resolved message and close the issue.
    Resolve {
        check: String,
        incident: u64,
        opened_at: DateTime<Utc>,
        duration_s: i64,
        channels: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issue: Option<u64>,
    },
    /// An alert that was due but held back.
    Suppressed {
        check: String,
        held: Held,
        reason: SuppressReason,
    },
}

impl AlertAction {
    pub fn check(&self) -> &str {
        match self {
            Self::Open { check, .. }
            | Self::Repeat { check, .. }
            | Self::Escalate { check, .. }
            | Self::Acknowledged { check, .. }
            | Self::Resolve { check, .. }
            | Self::Suppressed { check, .. } => check,
        }
    }
}

/// The outcome of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertOutcome {
    pub state: AlertState,
    pub actions: Vec<AlertAction>,
}

/// Advances the alert state by one run. Checks absent from `results` keep their state
/// untouched (a partial run neither opens nor resolves them).
pub fn evaluate(
    previous: &AlertState,
    policy: &AlertPolicy,
    input: &AlertInput<'_>,
) -> AlertOutcome {
    let mut state = previous.clone();
    let mut actions = Vec::new();
    let now = input.now;
    let mut results: Vec<&HealthStatus> = input.results.iter().collect();
    results.sort_by(|a, b| a.name.cmp(&b.name));
    for result in results {
        let failed = result.status.is_failure(policy.degraded_is_failure);
        let mut next_id = state.next_incident;
        let check = state
            .checks
            .entry(result.name.clone())
            .or_insert_with(CheckState::new);
        record(check, failed);
        let suppression = suppression(policy, input, &result.name);
        let severity = if result.status == Status::Unhealthy {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let name = result.name.clone();
        match check.incident.take() {
            None => {
                if failed && should_open(check, policy) {
                    if let Some(reason) = suppression {
                        actions.push(AlertAction::Suppressed {
                            check: name,
                            held: Held::Open,
                            reason,
                        });
                    } else {
                        let summary = summary(result);
                        actions.push(AlertAction::Open {
                            check: name,
                            incident: next_id,
                            severity,
                            summary: summary.clone(),
                            channels: policy.primary.clone(),
                            assignee: policy.escalation.first().cloned(),
                        });
                        check.incident = Some(Incident {
                            id: next_id,
                            opened_at: now,
                            severity,
                            summary,
                            last_alert_at: now,
                            escalation_level: 0,
                            acknowledged: None,
                            issue: None,
                        });
                        next_id += 1;
                    }
                }
            }
            Some(mut incident) => {
                if !failed && should_resolve(check, policy) {
                    actions.push(AlertAction::Resolve {
                        check: name,
                        incident: incident.id,
                        opened_at: incident.opened_at,
                        duration_s: (now - incident.opened_at).num_seconds(),
                        channels: channels_at(policy, incident.escalation_level),
                        issue: incident.issue,
                    });
                } else {
                    if incident.acknowledged.is_none()
                        && let Some(ack) = input
                            .acknowledgements
                            .get(&name)
                            .filter(|a| a.at >= incident.opened_at)
                    {
                        actions.push(AlertAction::Acknowledged {
                            check: name.clone(),
                            incident: incident.id,
                            by: ack.by.clone(),
                            issue: incident.issue,
                        });
                        incident.acknowledged = Some(ack.clone());
                    }
                    if failed {
                        incident.severity = incident.severity.max(severity);
                        incident.summary = summary(result);
                    }
                    if failed && incident.acknowledged.is_none() {
                        follow_up(&mut incident, policy, &name, suppression, now, &mut actions);
                    }
                    check.incident = Some(incident);
                }
            }
        }
        state.next_incident = next_id;
    }
    AlertOutcome { state, actions }
}

fn record(check: &mut CheckState, failed: bool) {
    if failed {
        check.consecutive_failures = check.consecutive_failures.saturating_add(1);
        check.consecutive_passes = 0;
    } else {
        check.consecutive_passes = check.consecutive_passes.saturating_add(1);
        check.consecutive_failures = 0;
    }
    check.recent.push(if failed { 'x' } else { '.' });
    if check.recent.len() > RECENT_LEN {
        let cut = check.recent.len() - RECENT_LEN;
        check.recent.drain(..cut);
    }
}

fn should_open(check: &CheckState, policy: &AlertPolicy) -> bool {
    match policy.flapping {
        Some(f) => check.failures_in_last(f.of_last) >= f.failures.max(1),
        None => check.consecutive_failures >= policy.after_failures.max(1),
    }
}

fn should_resolve(check: &CheckState, policy: &AlertPolicy) -> bool {
    check.consecutive_passes >= policy.recover_after.max(1)
        && policy
            .flapping
            .is_none_or(|f| check.failures_in_last(f.of_last) < f.failures.max(1))
}

/// Repeat or escalate an open, unacknowledged, failing incident when due.
fn follow_up(
    incident: &mut Incident,
    policy: &AlertPolicy,
    name: &str,
    suppression: Option<SuppressReason>,
    now: DateTime<Utc>,
    actions: &mut Vec<AlertAction>,
) {
    let max_level = max_escalation_level(policy);
    let due_level = match policy.escalate_after {
        Some(step) if step > TimeDelta::zero() => {
            let periods = (now - incident.opened_at).num_seconds() / step.num_seconds().max(1);
            u32::try_from(periods).unwrap_or(u32::MAX).min(max_level)
        }
        _ => 0,
    };
    if due_level > incident.escalation_level {
        if let Some(reason) = suppression {
            actions.push(AlertAction::Suppressed {
                check: name.to_owned(),
                held: Held::Escalate,
                reason,
            });
            return;
        }
        incident.escalation_level = due_level;
        incident.last_alert_at = now;
        actions.push(AlertAction::Escalate {
            check: name.to_owned(),
            incident: incident.id,
            level: due_level,
            severity: incident.severity,
            summary: incident.summary.clone(),
            opened_at: incident.opened_at,
            channels: if policy.secondary.is_empty() {
                policy.primary.clone()
            } else {
                policy.secondary.clone()
            },
            assignee: usize::try_from(due_level)
                .ok()
                .and_then(|l| policy.escalation.get(l))
                .cloned(),
            issue: incident.issue,
        });
        return;
    }
    let Some(repeat) = policy.repeat.filter(|r| *r > TimeDelta::zero()) else {
        return;
    };
    if now - incident.last_alert_at < repeat {
        return;
    }
    if let Some(reason) = suppression {
        actions.push(AlertAction::Suppressed {
            check: name.to_owned(),
            held: Held::Repeat,
            reason,
        });
        return;
    }
    incident.last_alert_at = now;
    actions.push(AlertAction::Repeat {
        check: name.to_owned(),
        incident: incident.id,
        severity: incident.severity,
        summary: incident.summary.clone(),
        opened_at: incident.opened_at,
        channels: channels_at(policy, incident.escalation_level),
        issue: incident.issue,
    });
}

/// Level 1 brings in the secondary channels; each further level the next assignee.
fn max_escalation_level(policy: &AlertPolicy) -> u32 {
    let by_people = u32::try_from(policy.escalation.len().saturating_sub(1)).unwrap_or(u32::MAX);
    let by_channels = u32::from(!policy.secondary.is_empty());
    by_people.max(by_channels)
}

fn channels_at(policy: &AlertPolicy, level: u32) -> Vec<String> {
    let mut out = policy.primary.clone();
    if level > 0 {
        for c in &policy.secondary {
            if !out.contains(c) {
                out.push(c.clone());
            }
        }
    }
    out
}

fn suppression(
    policy: &AlertPolicy,
    input: &AlertInput<'_>,
    check: &str,
) -> Option<SuppressReason> {
    if let Some(w) = policy.maintenance.iter().find(|w| w.contains(input.now)) {
        return Some(SuppressReason::Maintenance {
            window: w.to_string(),
        });
    }
    if let Some(window) = input.maintenance {
        return Some(SuppressReason::Maintenance {
            window: window.to_owned(),
        });
    }
    if let Some(s) = active_silence(&policy.silences, check, input.now) {
        return Some(SuppressReason::Silenced {
            until: s.until,
            reason: s.reason.clone(),
        });
    }
    input
        .deploy_in_progress
        .then_some(SuppressReason::DeployInProgress)
}

/// One line for a notification: the check's first errors.
fn summary(result: &HealthStatus) -> String {
    let text = if result.errors.is_empty() {
        format!("{} is {}", result.name, result.status)
    } else {
        format!(
            "{} is {}: {}",
            result.name,
            result.status,
            result.errors.join("; ")
        )
    };
    if text.chars().count() > 300 {
        let cut: String = text.chars().take(297).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// A comment on an incident's GitHub issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueComment {
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// The first `/ack` on an incident's issue made at or after `since` (when the incident
/// opened). A line counts when its first word is `/ack` (any case), outside a `>` quote;
/// the rest of the line is kept as a note. Comments by bots (`…[bot]`) and by
/// `ignore_authors` (sv's own account, whose alert text explains `/ack`) never count.
pub fn find_ack(
    comments: &[IssueComment],
    since: DateTime<Utc>,
    ignore_authors: &[String],
) -> Option<Ack> {
    let mut sorted: Vec<&IssueComment> = comments.iter().collect();
    sorted.sort_by_key(|c| c.created_at);
    sorted.into_iter().find_map(|c| {
        if c.created_at < since
            || c.author.ends_with("[bot]")
            || ignore_authors
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&c.author))
        {
            return None;
        }
        let mut in_fence = false;
        for line in c.body.lines() {
            let line = line.trim();
            if line.starts_with("```") || line.starts_with("~~~") {
                in_fence = !in_fence;
                continue;
            }
            if in_fence || line.starts_with('>') {
                continue;
            }
            let mut words = line.splitn(2, char::is_whitespace);
            if words.next().is_some_and(|w| w.eq_ignore_ascii_case("/ack")) {
                let note = words.next().map(str::trim).filter(|n| !n.is_empty());
                return Some(Ack {
                    by: c.author.clone(),
                    at: c.created_at,
                    note: note.map(str::to_owned),
                });
            }
        }
        None
    })
}

/// Durations in state JSON as whole minutes.
mod opt_minutes {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<TimeDelta>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_i64(d.num_minutes()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TimeDelta>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(TimeDelta::minutes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    use crate::spec::CheckKind;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const WED_NOON: &str = "2026-11-25T12:00:00Z";

    fn result(status: Status, at: DateTime<Utc>) -> HealthStatus {
        HealthStatus {
            name: "api".into(),
            kind: CheckKind::Http,
            status,
            last_check: at,
            response_time_ms: 10.0,
            errors: if status == Status::Healthy {
                vec![]
            } else {
                vec!["status 503, expected 2xx".into()]
            },
            metrics: BTreeMap::new(),
            attempts: 1,
            probed: None,
        }
    }

    fn short(a: &AlertAction) -> String {
        match a {
            AlertAction::Open { incident, .. } => format!("open#{incident}"),
            AlertAction::Repeat { incident, .. } => format!("repeat#{incident}"),
            AlertAction::Escalate {
                incident, level, ..
            } => format!("escalate#{incident}@{level}"),
            AlertAction::Acknowledged { incident, .. } => format!("ack#{incident}"),
            AlertAction::Resolve { incident, .. } => format!("resolve#{incident}"),
            AlertAction::Suppressed { held, reason, .. } => {
                let r = match reason {
                    SuppressReason::Maintenance { .. } => "maintenance",
                    SuppressReason::Silenced { .. } => "silenced",
                    SuppressReason::DeployInProgress => "deploy",
                };
                format!("hold-{}:{r}", format!("{held:?}").to_lowercase())
            }
        }
    }

    /// Steps are `<minutes from start><status>[D][A]`: status `.` healthy, `d` degraded,
    /// `x` unhealthy; `D` a deploy is in progress; `A` bob acknowledged at that time.
    /// Returns the actions of each step (`-` for none, `+` between several) and the state.
    fn play(policy: &AlertPolicy, start: &str, steps: &str) -> (String, AlertState) {
        let start = t(start);
        let mut state = AlertState::default();
        let mut out = Vec::new();
        for step in steps.split_whitespace() {
            let digits: String = step.chars().take_while(char::is_ascii_digit).collect();
            let flags = &step[digits.len()..];
            let now = start + TimeDelta::minutes(digits.parse().unwrap());
            let status = match flags.chars().next().unwrap() {
                '.' => Status::Healthy,
                'd' => Status::Degraded,
                'x' => Status::Unhealthy,
                other => panic!("bad status {other}"),
            };
            let mut acks = BTreeMap::new();
            if flags.contains('A') {
                acks.insert(
                    "api".to_owned(),
                    Ack {
                        by: "bob".into(),
                        at: now,
                        note: None,
                    },
                );
            }
            let results = [result(status, now)];
            let outcome = evaluate(
                &state,
                policy,
                &AlertInput {
                    results: &results,
                    acknowledgements: &acks,
                    deploy_in_progress: flags.contains('D'),
                    maintenance: None,
                    now,
                },
            );
            state = outcome.state;
            let acts: Vec<String> = outcome.actions.iter().map(short).collect();
            out.push(if acts.is_empty() {
                "-".to_owned()
            } else {
                acts.join("+")
            });
        }
        (out.join(" "), state)
    }

    fn policy(after: u32) -> AlertPolicy {
        AlertPolicy {
            after_failures: after,
            repeat: None,
            primary: vec!["slack-oncall".into()],
            ..AlertPolicy::default()
        }
    }

    #[test]
    fn state_machine_table() {
        let with = |f: &dyn Fn(&mut AlertPolicy), after: u32| {
            let mut p = policy(after);
            f(&mut p);
            p
        };
        let repeat30 = |p: &mut AlertPolicy| p.repeat = Some(TimeDelta::minutes(30));
        let cases: Vec<(&str, AlertPolicy, &str, &str, &str)> = vec![
            (
                "N consecutive failures open once",
                policy(3),
                WED_NOON,
                "0x 5x 10x 15x 20x",
                "- - open#1 - -",
            ),
            (
                "a blip between failures resets the count",
                policy(2),
                WED_NOON,
                "0x 5. 10x 15. 20x",
                "- - - - -",
            ),
            (
                "flapping: 3 of the last 5 opens where consecutive would not",
                with(
                    &|p| {
                        p.flapping = Some(Flapping {
                            failures: 3,
                            of_last: 5,
                        })
                    },
                    3,
                ),
                WED_NOON,
                "0x 5. 10x 15. 20x",
                "- - - - open#1",
            ),
            (
                "flapping: resolves only when fewer than N of the last M fail",
                with(
                    &|p| {
                        p.flapping = Some(Flapping {
                            failures: 2,
                            of_last: 4,
                        })
                    },
                    1,
                ),
                WED_NOON,
                "0x 5x 10. 15. 20. 25x",
                "- open#1 - - resolve#1 -",
            ),
            (
                "repeat every M minutes while failing",
                with(&repeat30, 1),
                WED_NOON,
                "0x 10x 20x 30x 40x 60x 65.",
                "open#1 - - repeat#1 - repeat#1 resolve#1",
            ),
            (
                "escalate after a delay, then repeat to both channel sets",
                with(
                    &|p| {
                        p.repeat = Some(TimeDelta::minutes(30));
                        p.escalate_after = Some(TimeDelta::minutes(20));
                        p.secondary = vec!["pager".into()];
                        p.escalation = vec!["alice".into(), "bob".into()];
                    },
                    1,
                ),
                WED_NOON,
                "0x 10x 20x 40x 50x",
                "open#1 - escalate#1@1 - repeat#1",
            ),
            (
                "escalation follows the whole list, one level per period, late runs jump",
                with(
                    &|p| {
                        p.escalate_after = Some(TimeDelta::minutes(10));
                        p.escalation = vec!["a".into(), "b".into(), "c".into(), "d".into()];
                    },
                    1,
                ),
                WED_NOON,
                "0x 10x 35x 60x",
                "open#1 escalate#1@1 escalate#1@3 -",
            ),
            (
                "maintenance window holds the open until it ends",
                with(
                    &|p| p.maintenance = vec!["Sun 02:00 - Sun 03:00 UTC".parse().unwrap()],
                    1,
                ),
                "2026-11-29T01:55:00Z",
                "0. 10x 20x 65x 70.",
                "- hold-open:maintenance hold-open:maintenance open#1 resolve#1",
            ),
            (
                "maintenance holds repeats of an incident opened before it",
                with(
                    &|p| {
                        p.repeat = Some(TimeDelta::minutes(30));
                        p.maintenance = vec!["Sun 02:00 - Sun 03:00 UTC".parse().unwrap()];
                    },
                    1,
                ),
                "2026-11-29T01:50:00Z",
                "0x 40x 75x 80x",
                "open#1 hold-repeat:maintenance repeat#1 -",
            ),
            (
                "a window wrapping the week boundary (Sun 23:00 - Mon 01:00)",
                with(
                    &|p| p.maintenance = vec!["Sun 23:00 - Mon 01:00 UTC".parse().unwrap()],
                    1,
                ),
                "2026-11-29T22:50:00Z",
                "0. 20x 80x 130x",
                "- hold-open:maintenance hold-open:maintenance open#1",
            ),
            (
                "a silence holds alerts until it expires",
                with(
                    &|p| {
                        p.silences = vec![
                            Silence {
                                check: "api".into(),
                                until: t(WED_NOON) + TimeDelta::minutes(30),
                                reason: Some("migrating".into()),
                            },
                            Silence {
                                check: "web".into(),
                                until: t(WED_NOON) + TimeDelta::days(1),
                                reason: None,
                            },
                        ]
                    },
                    1,
                ),
                WED_NOON,
                "0x 10x 30x",
                "hold-open:silenced hold-open:silenced open#1",
            ),
            (
                "/ack stops repeats; recovery still resolves",
                with(&repeat30, 1),
                WED_NOON,
                "0x 30x 45xA 60x 90x 95.",
                "open#1 repeat#1 ack#1 - - resolve#1",
            ),
            (
                "a deploy in progress suppresses, then the outage opens",
                policy(1),
                WED_NOON,
                "0xD 5xD 10x",
                "hold-open:deploy hold-open:deploy open#1",
            ),
            (
                "resolution is not suppressed by a deploy",
                policy(1),
                WED_NOON,
                "0x 5.D",
                "open#1 resolve#1",
            ),
            (
                "recovery resolves and the next outage is a new incident",
                policy(1),
                WED_NOON,
                "0x 5x 10. 15x 20x",
                "open#1 - resolve#1 open#2 -",
            ),
            (
                "recover_after needs consecutive passes",
                with(&|p| p.recover_after = 2, 1),
                WED_NOON,
                "0x 5. 10x 15. 20.",
                "open#1 - - - resolve#1",
            ),
            (
                "degraded is not a failure by default",
                policy(1),
                WED_NOON,
                "0d 5d",
                "- -",
            ),
            (
                "degraded counts when configured",
                with(&|p| p.degraded_is_failure = true, 1),
                WED_NOON,
                "0d 5.",
                "open#1 resolve#1",
            ),
        ];
        for (name, policy, start, steps, expected) in cases {
            let (got, _) = play(&policy, start, steps);
            assert_eq!(got, expected, "case: {name}");
        }
    }

    #[test]
    fn open_action_carries_severity_channels_and_first_assignee() {
        let mut p = policy(1);
        p.escalation = vec!["alice".into(), "bob".into()];
        let now = t(WED_NOON);
        let results = [result(Status::Unhealthy, now)];
        let out = evaluate(
            &AlertState::default(),
            &p,
            &AlertInput {
                results: &results,
                acknowledgements: &BTreeMap::new(),
                deploy_in_progress: false,
                maintenance: None,
                now,
            },
        );
        assert_eq!(
            out.actions,
            [AlertAction::Open {
                check: "api".into(),
                incident: 1,
                severity: Severity::Critical,
                summary: "api is unhealthy: status 503, expected 2xx".into(),
                channels: vec!["slack-oncall".into()],
                assignee: Some("alice".into()),
            }]
        );
        assert_eq!(out.state.next_incident, 2);
    }

    #[test]
    fn ack_from_before_the_incident_is_ignored() {
        let p = AlertPolicy {
            repeat: Some(TimeDelta::minutes(30)),
            ..policy(1)
        };
        let now = t(WED_NOON);
        let run = |state: &AlertState, at: DateTime<Utc>, acks: &BTreeMap<String, Ack>| {
            let results = [result(Status::Unhealthy, at)];
            evaluate(
                state,
                &p,
                &AlertInput {
                    results: &results,
                    acknowledgements: acks,
                    deploy_in_progress: false,
                    maintenance: None,
                    now: at,
                },
            )
        };
        let opened = run(&AlertState::default(), now, &BTreeMap::new());
        let stale = BTreeMap::from([(
            "api".to_owned(),
            Ack {
                by: "bob".into(),
                at: now - TimeDelta::hours(2),
                note: None,
            },
        )]);
        let later = run(&opened.state, now + TimeDelta::minutes(30), &stale);
        assert_eq!(
            later.actions.iter().map(short).collect::<Vec<_>>(),
            ["repeat#1"]
        );
    }

    #[test]
    fn state_round_trips_and_records_issue_numbers() {
        let (_, mut state) = play(&policy(1), WED_NOON, "0x");
        assert!(state.set_issue("api", 42));
        assert!(!state.set_issue("web", 1));
        let bytes = state.to_json();
        let back = AlertState::from_json(&bytes).unwrap();
        assert_eq!(back, state);
        assert_eq!(back.open_incidents().next().unwrap().1.issue, Some(42));
        let bad = AlertState::from_json(br#"{"version":2,"next_incident":1,"checks":{}}"#);
        assert!(
            bad.unwrap_err()
                .source()
                .unwrap()
                .to_string()
                .contains("version 2")
        );
    }

    #[test]
    fn checks_missing_from_a_run_keep_their_incident() {
        let (_, state) = play(&policy(1), WED_NOON, "0x");
        let out = evaluate(
            &state,
            &policy(1),
            &AlertInput {
                results: &[],
                acknowledgements: &BTreeMap::new(),
                deploy_in_progress: false,
                maintenance: None,
                now: t(WED_NOON) + TimeDelta::hours(1),
            },
        );
        assert!(out.actions.is_empty());
        assert_eq!(out.state, state);
    }

    #[test]
    fn windows_parse_and_contain() {
        let w: WeeklyWindow = "Sun 02:00 - Sun 03:00 UTC".parse().unwrap();
        assert!(w.contains(t("2026-11-29T02:00:00Z")));
        assert!(w.contains(t("2026-11-29T02:59:59Z")));
        assert!(!w.contains(t("2026-11-29T03:00:00Z")));
        assert!(!w.contains(t("2026-11-22T01:59:00Z")));
        let wrap: WeeklyWindow = "saturday 22:00-monday 02:00".parse().unwrap();
        assert!(wrap.contains(t("2026-11-28T23:00:00Z")));
        assert!(wrap.contains(t("2026-11-30T01:59:00Z")));
        assert!(!wrap.contains(t("2026-11-30T02:00:00Z")));
        assert!(!wrap.contains(t("2026-11-25T12:00:00Z")));
        for bad in [
            "Sun 02:00",
            "Sun 02:00 - Sun 02:00",
            "Fun 02:00 - Sun 03:00",
            "Sun 24:00 - Mon 01:00",
            "Sun 02:00 - Sun 03:00 Europe/Berlin",
        ] {
            assert!(bad.parse::<WeeklyWindow>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(json, r#""Sun 02:00 - Sun 03:00 UTC""#);
        assert_eq!(serde_json::from_str::<WeeklyWindow>(&json).unwrap(), w);
    }

    fn comment(author: &str, body: &str, minute: i64) -> IssueComment {
        IssueComment {
            author: author.into(),
            body: body.into(),
            created_at: t(WED_NOON) + TimeDelta::minutes(minute),
        }
    }

    #[test]
    fn ack_parsing() {
        let since = t(WED_NOON);
        let sv = vec!["sv-health-app".to_owned()];
        let comments = vec![
            comment("carol", "/ack", -10),
            comment("sv-health-app", "/ack to acknowledge", 1),
            comment("github-actions[bot]", "/ack", 2),
            comment("dave", "> /ack\nquoting the instructions", 3),
            comment("erin", "```\n/ack\n```", 4),
            comment("frank", "please /ack this", 5),
            comment("bob", "Looking.\n/ACK  rolling back now", 7),
            comment("alice", "/ack", 6),
        ];
        let ack = find_ack(&comments, since, &sv).unwrap();
        assert_eq!(ack.by, "alice");
        assert_eq!(ack.at, since + TimeDelta::minutes(6));
        let without_alice: Vec<IssueComment> = comments
            .iter()
            .filter(|c| c.author != "alice")
            .cloned()
            .collect();
        let ack = find_ack(&without_alice, since, &sv).unwrap();
        assert_eq!(
            (ack.by.as_str(), ack.note.as_deref()),
            ("bob", Some("rolling back now"))
        );
        assert!(find_ack(&comments[..6], since, &sv).is_none());
        assert!(find_ack(&[comment("x", "/acknowledge", 1)], since, &sv).is_none());
    }
}
