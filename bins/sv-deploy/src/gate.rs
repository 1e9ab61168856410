//! The health gate: sv.yaml's HTTP health checks aimed at the Worker (pinned to one version
//! through `Cloudflare-Workers-Version-Overrides`) run by `sv_checks::run_checks`, and the
//! per-version error rate and CPU p99 from GraphQL analytics, judged against `deploy.gate`.

use std::str::FromStr as _;
use std::time::Duration;

use serde::Serialize;
use sv_checks::{
    CheckSpec, HttpCheck, JsonCondition, JsonPath, Probes, RunOptions, StatusExpectation,
    SystemClock,
};
use sv_cloudflare::graphql::{InvocationGroup, InvocationQuery};
use sv_config::{HealthCheck, StatusCodes};
use url::Url;

/// What the gate judges against (from `deploy.gate`, with CLI overrides).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateConfig {
    /// How long to watch each step before judging.
    #[serde(with = "millis")]
    pub window: Duration,
    /// Highest acceptable error rate (a fraction, 0.01 = 1%).
    pub max_error_rate: Option<f64>,
    /// Highest acceptable CPU-time p99 in milliseconds (analytics report CPU time).
    pub max_p99_ms: Option<u64>,
    /// Fail when clearly worse than the previous version.
    pub compare_to_previous: bool,
    /// Requests needed before analytics are judged (fewer: inconclusive, the step passes
    /// on its HTTP checks alone).
    pub min_requests: u64,
}

mod millis {
    use serde::Serializer;
    pub fn serialize<S: Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl GateConfig {
    pub fn from_config(gate: Option<&sv_config::Gate>, window: Option<Duration>) -> Self {
        Self {
            window: window
                .or_else(|| gate.map(|g| g.window.get()))
                .unwrap_or(Duration::from_secs(120)),
            max_error_rate: gate.and_then(|g| g.max_error_rate).map(|p| p.fraction()),
            max_p99_ms: gate.and_then(|g| g.max_p99_ms),
            compare_to_previous: gate.is_some_and(|g| g.compare_to_previous),
            min_requests: gate.and_then(|g| g.min_requests).unwrap_or(1),
        }
    }
}

/// One check's result, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckOutcome {
    pub name: String,
    pub url: String,
    pub healthy: bool,
    pub response_time_ms: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// One version's traffic in a gate window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VersionStats {
    pub requests: u64,
    pub errors: u64,
    /// CPU time p99 in milliseconds.
    pub cpu_p99_ms: f64,
}

impl VersionStats {
    #[must_use]
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            #[allow(clippy::cast_precision_loss)]
            let rate = self.errors as f64 / self.requests as f64;
            rate
        }
    }

    /// Sums the analytics groups of `version`.
    pub fn of(groups: &[InvocationGroup], version: &str) -> Option<Self> {
        let mine: Vec<&InvocationGroup> = groups
            .iter()
            .filter(|g| g.dimensions.script_version.as_deref() == Some(version))
            .collect();
        if mine.is_empty() {
            return None;
        }
        Some(Self {
            requests: mine.iter().map(|g| g.sum.requests).sum(),
            errors: mine.iter().map(|g| g.sum.errors).sum(),
            cpu_p99_ms: mine
                .iter()
                .map(|g| g.quantiles.cpu_time_p99 / 1000.0)
                .fold(0.0, f64::max),
        })
    }
}

/// Analytics of one gate window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analytics {
    pub new: Option<VersionStats>,
    pub previous: Option<VersionStats>,
}

/// How a gate ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Passed on HTTP checks, too little traffic to judge analytics.
    Inconclusive,
    Fail,
}

/// The gate's result at one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    pub verdict: Verdict,
    /// Why it failed or was inconclusive; empty on a clean pass.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    pub checks: Vec<CheckOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analytics: Option<Analytics>,
}

/// Error rate of the new version counts as clearly worse than the previous one when it is
/// above twice the previous rate and at least this many points above it.
const WORSE_MARGIN: f64 = 0.01;

/// Judges analytics against the gate (pure).
#[must_use]
pub fn judge_analytics(gate: &GateConfig, analytics: &Analytics) -> (Verdict, Vec<String>) {
    let Some(new) = analytics
        .new
        .filter(|s| s.requests >= gate.min_requests.max(1))
    else {
        let seen = analytics.new.map_or(0, |s| s.requests);
        return (
            Verdict::Inconclusive,
            vec![format!(
                "analytics: {seen} request(s) to the new version in the window, {} needed to judge",
                gate.min_requests.max(1)
            )],
        );
    };
    let mut reasons = Vec::new();
    let rate = new.error_rate();
    if let Some(max) = gate.max_error_rate
        && rate > max
    {
        reasons.push(format!(
            "error rate {:.2}% is above the gate's {:.2}% ({} of {} requests)",
            rate * 100.0,
            max * 100.0,
            new.errors,
            new.requests
        ));
    }
    if let Some(max) = gate.max_p99_ms {
        #[allow(clippy::cast_precision_loss)]
        let max_f = max as f64;
        if new.cpu_p99_ms > max_f {
            reasons.push(format!(
                "CPU time p99 {:.0} ms is above the gate's {max} ms",
                new.cpu_p99_ms
            ));
        }
    }
    if gate.compare_to_previous
        && let Some(prev) = analytics.previous.filter(|p| p.requests > 0)
    {
        let prev_rate = prev.error_rate();
        if rate > prev_rate * 2.0 && rate - prev_rate >= WORSE_MARGIN {
            reasons.push(format!(
                "error rate {:.2}% is clearly worse than the previous version's {:.2}%",
                rate * 100.0,
                prev_rate * 100.0
            ));
        }
    }
    if reasons.is_empty() {
        (Verdict::Pass, reasons)
    } else {
        (Verdict::Fail, reasons)
    }
}

/// The gate's HTTP checks: every `health.checks` entry with `http:`, its path and query
/// kept and its origin replaced by `base` (the Worker's own URL), pinned to `script` =
/// `version`. Without any, `GET /` must not answer 5xx.
///
/// # Errors
/// A check whose URL, status or JSON path does not parse (exit 2).
pub fn specs(
    checks: &[HealthCheck],
    base: &Url,
    script: &str,
    version: &str,
) -> anyhow::Result<Vec<CheckSpec>> {
    let pin = format!("{script}=\"{version}\"");
    let mut out = Vec::new();
    for c in checks {
        let Some(url) = &c.http else { continue };
        let original = Url::parse(url).map_err(|e| {
            sv_cli::input_error(anyhow::anyhow!("health check `{}`: bad URL: {e}", c.name))
        })?;
        let mut target = base.clone();
        target.set_path(original.path());
        target.set_query(original.query());
        let mut http = HttpCheck::get(target);
        if let Some(m) = c.method {
            http.method = format!("{m:?}").to_ascii_uppercase();
        }
        http.headers = c.headers.clone();
        http.body = c.body.clone();
        if let Some(expect) = &c.expect {
            if let Some(status) = &expect.status {
                http.expect_status = match status {
                    StatusCodes::One(s) => StatusExpectation::exactly(*s),
                    StatusCodes::Any(list) => StatusExpectation::from_str(
                        &list
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(","),
                    )
                    .map_err(sv_cli::input_error)?,
                };
            }
            for (path, value) in &expect.json {
                let path = JsonPath::from_str(path.as_str()).map_err(sv_cli::input_error)?;
                http.json.push(JsonCondition::equals(path, value.clone()));
            }
            http.body_contains.extend(expect.body_contains.clone());
        }
        http.headers
            .insert("Cloudflare-Workers-Version-Overrides".into(), pin.clone());
        let mut spec = CheckSpec::http(c.name.clone(), http);
        spec.timeout = c.timeout.get();
        spec.retries = c.retries;
        out.push(spec);
    }
    if out.is_empty() {
        let mut http = HttpCheck::get(base.clone());
        http.expect_status = StatusExpectation::range(200, 499);
        http.headers
            .insert("Cloudflare-Workers-Version-Overrides".into(), pin);
        let mut spec = CheckSpec::http("worker", http);
        spec.retries = 1;
        out.push(spec);
    }
    Ok(out)
}

/// Runs the HTTP checks once.
///
/// # Errors
/// Inconsistent specs.
pub async fn run_http(
    specs: &[CheckSpec],
    client: &reqwest::Client,
) -> anyhow::Result<Vec<CheckOutcome>> {
    let options = RunOptions {
        retry_backoff: Duration::from_millis(200),
        ..RunOptions::default()
    };
    let results = sv_checks::run_checks(specs, &Probes::new(), client, &SystemClock, &options)
        .await
        .map_err(sv_cli::input_error)?;
    Ok(results
        .into_iter()
        .map(|r| {
            let url = specs
                .iter()
                .find(|s| s.name == r.name)
                .and_then(|s| match &s.target {
                    sv_checks::CheckTarget::Http(h) => Some(h.url.path().to_owned()),
                    sv_checks::CheckTarget::Service(_) => None,
                })
                .unwrap_or_default();
            CheckOutcome {
                healthy: r.status == sv_checks::Status::Healthy
                    || r.status == sv_checks::Status::Degraded,
                name: r.name,
                url,
                response_time_ms: r.response_time_ms,
                errors: r.errors,
            }
        })
        .collect())
}

/// The per-version analytics of `script` between `since` and now.
///
/// # Errors
/// API errors.
pub async fn analytics(
    client: &sv_cloudflare::Client,
    script: &str,
    since: chrono::DateTime<chrono::Utc>,
    new: &str,
    previous: Option<&str>,
) -> Result<Analytics, sv_cloudflare::Error> {
    let query = InvocationQuery {
        script_name: Some(script.to_owned()),
        since: since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        until: (chrono::Utc::now() + chrono::Duration::seconds(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        by_version: true,
        limit: 100,
    };
    let groups = client.graphql().worker_invocations(&query).await?;
    Ok(Analytics {
        new: VersionStats::of(&groups, new),
        previous: previous.and_then(|p| VersionStats::of(&groups, p)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> GateConfig {
        GateConfig {
            window: Duration::from_secs(1),
            max_error_rate: Some(0.01),
            max_p99_ms: Some(800),
            compare_to_previous: true,
            min_requests: 5,
        }
    }

    fn stats(requests: u64, errors: u64, p99: f64) -> Option<VersionStats> {
        Some(VersionStats {
            requests,
            errors,
            cpu_p99_ms: p99,
        })
    }

    #[test]
    fn too_little_traffic_is_inconclusive() {
        let (v, reasons) = judge_analytics(
            &gate(),
            &Analytics {
                new: stats(2, 2, 1.0),
                previous: None,
            },
        );
        assert_eq!(v, Verdict::Inconclusive);
        assert!(reasons[0].contains("2 request(s)"), "{reasons:?}");
    }

    #[test]
    fn thresholds_and_comparison() {
        let (v, reasons) = judge_analytics(
            &gate(),
            &Analytics {
                new: stats(100, 0, 900.0),
                previous: stats(100, 0, 1.0),
            },
        );
        assert_eq!(v, Verdict::Fail);
        assert_eq!(
            reasons,
            vec!["CPU time p99 900 ms is above the gate's 800 ms"]
        );
        let mut g = gate();
        g.max_error_rate = None;
        let (v, reasons) = judge_analytics(
            &g,
            &Analytics {
                new: stats(100, 5, 1.0),
                previous: stats(100, 1, 1.0),
            },
        );
        assert_eq!(v, Verdict::Fail);
        assert!(reasons[0].contains("clearly worse"), "{reasons:?}");
        let (v, _) = judge_analytics(
            &gate(),
            &Analytics {
                new: stats(1000, 5, 10.0),
                previous: stats(1000, 4, 1.0),
            },
        );
        assert_eq!(v, Verdict::Pass);
    }
}
