//! `sv.yaml`'s `health` section (sv-config's model) mapped onto the engine's types, so
//! `sv-health` and `sv-deploy`'s gate read checks, alert policy and channels the same way.
//!
//! Mapping notes (where the config and the engine speak differently):
//! - `expect.status` (a code or a list) becomes a [`StatusExpectation`]; absent means 2xx.
//! - `expect.json: {path: value}` becomes `path == value` conditions.
//! - Service checks name resources by their sv.yaml key; the mapping resolves them to the
//!   environment's Cloudflare names (prefixed KV title, D1 database, R2 bucket, Pages
//!   project, worker script) in [`ServiceTarget`], which the binary turns into probes.
//! - `alert.escalate_after` counts failures, the engine escalates by time since the
//!   incident opened: `(escalate_after − after_failures) × run interval` (at least one run
//!   interval), where the run interval is how often the caller runs the checks.
//! - `degraded_after` / `unhealthy_after` go onto the spec; the caller that keeps a history
//!   applies them with [`crate::streak::apply`] (`run_checks` judges each run on its own).
//! - A worker check's `degraded_error_rate` / `unhealthy_error_rate` become a
//!   [`MetricThreshold`] on the probe's `error_rate` metric (in percent).
//! - `alert.flapping: {failures, window}` becomes [`Flapping`] `{failures, of_last}`;
//!   `health.silences` become the policy's [`Silence`]s (see also [`active_silences`]).

use std::collections::BTreeMap;
use std::fmt;

use chrono::TimeDelta;
use secrecy::SecretString;
use sv_config::{Environment, HttpMethod, Notification, ResourceAddress, ResourceKind};

use crate::Error;
use crate::alert::{AlertPolicy, Flapping, Silence};
use crate::jsonpath::{JsonCondition, JsonPath};
use crate::notify::{ChannelKind, Webhook};
use crate::spec::{
    CheckSpec, HttpCheck, LatencyThresholds, MetricThreshold, ServiceKind, StatusExpectation,
};

/// A Cloudflare service check resolved to what it probes in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTarget {
    /// The check's name (the probe is registered under it).
    pub check: String,
    pub kind: ServiceKind,
    /// The Cloudflare name: KV namespace title, D1 database name, R2 bucket, Pages project
    /// or worker script, as deployed in this environment.
    pub resource: String,
    /// The SQL a D1 probe runs.
    pub query: Option<String>,
}

/// The checks of one environment.
#[derive(Debug, Clone)]
pub struct ConfiguredChecks {
    pub specs: Vec<CheckSpec>,
    /// One per service check, in config order.
    pub services: Vec<ServiceTarget>,
}

impl ConfiguredChecks {
    /// Keeps only the named checks (all when `only` is empty). Unknown names are an error
    /// listing the known ones.
    pub fn select(mut self, only: &[String]) -> Result<Self, Error> {
        if only.is_empty() {
            return Ok(self);
        }
        if let Some(unknown) = only
            .iter()
            .find(|n| !self.specs.iter().any(|s| &s.name == *n))
        {
            return Err(Error::InvalidSpec {
                name: unknown.clone(),
                reason: format!(
                    "no such check; known: {}",
                    self.specs
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        self.specs.retain(|s| only.contains(&s.name));
        self.services.retain(|s| only.contains(&s.check));
        Ok(self)
    }
}

/// The default D1 probe query.
pub const DEFAULT_D1_QUERY: &str = "SELECT 1";

/// Maps `health.checks` of an environment (built-ins such as `${zone}` already rendered).
pub fn checks(env: &Environment) -> Result<ConfiguredChecks, Error> {
    let mut specs = Vec::new();
    let mut services = Vec::new();
    for check in &env.config.health.checks {
        let invalid = |reason: String| Error::InvalidSpec {
            name: check.name.clone(),
            reason,
        };
        let resolve = |kind: ResourceKind, name: &str| -> Result<String, Error> {
            env.resource(&ResourceAddress::new(kind, name))
                .map(|r| r.name.clone())
                .ok_or_else(|| invalid(format!("unknown resource {}.{name}", kind.as_str())))
        };
        let mut service = |kind: ServiceKind, resource: String, query: Option<String>| {
            services.push(ServiceTarget {
                check: check.name.clone(),
                kind,
                resource,
                query,
            });
            CheckSpec::service(check.name.clone(), kind)
        };
        let mut spec = match check.target() {
            Some(sv_config::CheckTarget::Http(url)) => {
                let url: url::Url = url
                    .parse()
                    .map_err(|e| invalid(format!("invalid URL `{url}`: {e}")))?;
                CheckSpec::http(check.name.clone(), http_check(check, url)?)
            }
            Some(sv_config::CheckTarget::Kv(name)) => {
                service(ServiceKind::Kv, resolve(ResourceKind::Kv, name)?, None)
            }
            Some(sv_config::CheckTarget::D1(name)) => service(
                ServiceKind::D1,
                resolve(ResourceKind::D1, name)?,
                Some(
                    check
                        .query
                        .clone()
                        .unwrap_or_else(|| DEFAULT_D1_QUERY.to_owned()),
                ),
            ),
            Some(sv_config::CheckTarget::R2(name)) => {
                service(ServiceKind::R2, resolve(ResourceKind::R2, name)?, None)
            }
            Some(sv_config::CheckTarget::Pages(name)) => service(
                ServiceKind::Pages,
                resolve(ResourceKind::Pages, name)?,
                None,
            ),
            Some(sv_config::CheckTarget::Worker(name)) => service(
                ServiceKind::Worker,
                resolve(ResourceKind::Worker, name)?,
                None,
            ),
            None => {
                return Err(invalid(
                    "no target (http, kv, d1, r2, pages, worker)".into(),
                ));
            }
        };
        spec.timeout = check.timeout.get();
        spec.interval = check.interval.get();
        spec.retries = check.retries;
        spec.latency = LatencyThresholds {
            degraded_ms: check.degraded_ms.map(|v| v as f64),
            unhealthy_ms: check.unhealthy_ms.map(|v| v as f64),
        };
        spec.degraded_after = check.degraded_after.max(1);
        spec.unhealthy_after = check.unhealthy_after.max(spec.degraded_after);
        if check.degraded_error_rate.is_some() || check.unhealthy_error_rate.is_some() {
            spec.metric_thresholds.push(MetricThreshold {
                metric: "error_rate".to_owned(),
                degraded_above: check.degraded_error_rate.map(sv_config::Percent::percent),
                unhealthy_above: check.unhealthy_error_rate.map(sv_config::Percent::percent),
            });
        }
        specs.push(spec);
    }
    Ok(ConfiguredChecks { specs, services })
}

fn http_check(check: &sv_config::HealthCheck, url: url::Url) -> Result<HttpCheck, Error> {
    let mut http = HttpCheck::get(url);
    if let Some(method) = check.method {
        http.method = method_name(method).to_owned();
    }
    http.headers = check.headers.clone();
    http.body = check.body.clone();
    if let Some(expect) = &check.expect {
        if let Some(status) = &expect.status {
            let text = status
                .codes()
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",");
            http.expect_status = text.parse::<StatusExpectation>()?;
        }
        for (path, value) in &expect.json {
            let path: JsonPath = path.as_str().parse()?;
            http.json.push(JsonCondition::equals(path, value.clone()));
        }
        http.body_contains = expect.body_contains.iter().cloned().collect();
        http.expect_headers = expect.headers.clone();
    }
    Ok(http)
}

fn method_name(m: HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "GET",
        HttpMethod::Head => "HEAD",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Options => "OPTIONS",
    }
}

/// A notification channel as configured.
#[derive(Clone)]
pub enum Channel {
    Webhook(Webhook),
    GithubIssue {
        name: String,
        labels: Vec<String>,
        assignees: Vec<String>,
        /// `owner/name` when not the workflow's repository.
        repository: Option<String>,
    },
    /// A webhook whose URL is empty (an unset `${VAR:-}`): the channel is off.
    Off {
        name: String,
    },
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `Webhook`'s own Debug never shows the URL (a SecretString).
            Self::Webhook(w) => f.debug_tuple("Webhook").field(w).finish(),
            Self::GithubIssue {
                name,
                labels,
                assignees,
                repository,
            } => f
                .debug_struct("GithubIssue")
                .field("name", name)
                .field("labels", labels)
                .field("assignees", assignees)
                .field("repository", repository)
                .finish(),
            Self::Off { name } => f.debug_struct("Off").field("name", name).finish(),
        }
    }
}

/// Every channel of `notifications`, by name.
pub fn channels(env: &Environment) -> BTreeMap<String, Channel> {
    env.config
        .notifications
        .iter()
        .map(|(name, n)| {
            let hook = |kind, url: &sv_config::Secret| {
                if url.expose().trim().is_empty() {
                    Channel::Off { name: name.clone() }
                } else {
                    Channel::Webhook(Webhook {
                        channel: name.clone(),
                        kind,
                        url: SecretString::from(url.expose().to_owned()),
                    })
                }
            };
            let channel = match n {
                Notification::Slack(url) => hook(ChannelKind::Slack, url),
                Notification::Discord(url) => hook(ChannelKind::Discord, url),
                Notification::GithubIssue(g) => Channel::GithubIssue {
                    name: name.clone(),
                    labels: g.labels.clone(),
                    assignees: g.assignees.clone(),
                    repository: g.repository.clone(),
                },
            };
            (name.clone(), channel)
        })
        .collect()
}

/// The alert policy of an environment. `run_interval` is how often the caller runs the
/// checks (used to turn `escalate_after` failures into time); `None` when `health.alert`
/// is absent (nobody is alerted).
pub fn alert_policy(
    env: &Environment,
    run_interval: TimeDelta,
    degraded_is_failure: bool,
) -> Option<AlertPolicy> {
    let alert = env.config.health.alert.as_ref()?;
    let extra_runs = alert
        .escalate_after()
        .saturating_sub(alert.after_failures)
        .max(1);
    let escalate_after = (!alert.escalate.is_empty())
        .then(|| run_interval * i32::try_from(extra_runs).unwrap_or(i32::MAX));
    Some(AlertPolicy {
        after_failures: alert.after_failures.max(1),
        flapping: alert.flapping.map(|f| Flapping {
            failures: f.failures,
            of_last: f.window,
        }),
        recover_after: 1,
        repeat: alert.repeat.and_then(|d| TimeDelta::from_std(d.get()).ok()),
        escalate_after,
        primary: alert.channels.clone(),
        secondary: Vec::new(),
        escalation: alert.escalate.clone(),
        degraded_is_failure,
        maintenance: Vec::new(),
        silences: silences(env),
    })
}

/// Every silence of `health.silences` (expired ones included: the engine ignores them).
pub fn silences(env: &Environment) -> Vec<Silence> {
    env.config
        .health
        .silences
        .iter()
        .map(|s| Silence {
            check: s.check.clone(),
            until: s.until.utc(),
            reason: Some(s.reason.clone()),
        })
        .collect()
}

/// The silences in force at `now` (not expired).
pub fn active_silences(env: &Environment, now: chrono::DateTime<chrono::Utc>) -> Vec<Silence> {
    silences(env)
        .into_iter()
        .filter(|s| s.until > now)
        .collect()
}
