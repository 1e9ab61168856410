//! `sv-health profile`: a Worker's analytics over a time range (requests, errors, CPU time
//! p50/p99, subrequests) per script and version, with the bottlenecks it shows and what to
//! do about them. The rules are plain thresholds, stated in each finding.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::Serialize;
use sv_cli::output::markdown_escape;
use sv_cli::{ExitStatus, GlobalArgs, Render, Styles};
use sv_cloudflare::graphql::{InvocationGroup, InvocationQuery};
use sv_config::ResourceKind;

use crate::args::ProfileArgs;

/// Error rate (%) from which a version is flagged, and from which it is critical.
const ERROR_RATE_WARN: f64 = 1.0;
const ERROR_RATE_CRITICAL: f64 = 5.0;
/// CPU time p99 (ms) from which a version is flagged; 50 ms is the classic per-request
/// CPU budget of the Bundled plan.
const CPU_P99_WARN_MS: f64 = 30.0;
const CPU_P99_CRITICAL_MS: f64 = 50.0;
/// p99 / p50 ratio from which the CPU tail is called long.
const TAIL_RATIO: f64 = 10.0;
/// Subrequests per request from which fan-out is flagged.
const SUBREQUESTS_WARN: f64 = 10.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warning,
    Critical,
}

/// One version's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionProfile {
    pub script: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub requests: u64,
    pub errors: u64,
    /// Percent.
    pub error_rate: f64,
    pub subrequests: u64,
    pub cpu_p50_ms: f64,
    pub cpu_p99_ms: f64,
}

/// A bottleneck with its evidence and a recommendation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub level: Level,
    pub script: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub title: String,
    pub evidence: String,
    pub recommendation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub environment: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub versions: Vec<VersionProfile>,
    pub findings: Vec<Finding>,
}

pub async fn run(global: &GlobalArgs, args: ProfileArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let scripts: Vec<String> = if args.workers.is_empty() {
        env.resources_of(ResourceKind::Worker)
            .map(|r| r.name.clone())
            .collect()
    } else {
        args.workers.clone()
    };
    if scripts.is_empty() {
        return Err(sv_cli::InputError::new(anyhow::anyhow!(
            "environment {} has no worker: name one with --worker",
            env.name
        ))
        .into());
    }
    let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
    let until = Utc::now();
    let since = until - TimeDelta::from_std(args.since).unwrap_or(TimeDelta::hours(1));
    let (versions, findings) = gather(&client, &scripts, since, until).await?;
    let profile = Profile {
        environment: env.name.clone(),
        since,
        until,
        versions,
        findings,
    };
    global.output().print(&profile)?;
    if runner.is_active() {
        runner.append_summary(&profile.markdown())?;
    }
    Ok(ExitStatus::Success)
}

/// Analytics of `scripts` between `since` and `until`, and the bottlenecks they show
/// (most severe first).
pub async fn gather(
    client: &sv_cloudflare::Client,
    scripts: &[String],
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<(Vec<VersionProfile>, Vec<Finding>)> {
    let mut versions = Vec::new();
    for script in scripts {
        let groups = client
            .graphql()
            .worker_invocations(&InvocationQuery {
                script_name: Some(script.clone()),
                since: since.to_rfc3339_opts(SecondsFormat::Secs, true),
                // Whole seconds, rounded up: a request in the current second still counts.
                until: (until + TimeDelta::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true),
                by_version: true,
                limit: 100,
            })
            .await
            .map_err(|e| anyhow::anyhow!("reading analytics of {script}: {e}"))?;
        versions.extend(groups.iter().map(|g| version_profile(script, g)));
    }
    versions.sort_by(|a, b| (&a.script, b.requests).cmp(&(&b.script, a.requests)));
    let mut findings: Vec<Finding> = scripts
        .iter()
        .filter(|s| !versions.iter().any(|v| &v.script == *s))
        .map(|s| Finding {
            level: Level::Info,
            script: s.clone(),
            version: None,
            title: "no traffic".to_owned(),
            evidence: "no invocation in the window".to_owned(),
            recommendation: "widen --since, or check that routes point at this worker".to_owned(),
        })
        .collect();
    findings.extend(versions.iter().flat_map(bottlenecks));
    findings.sort_by_key(|f| std::cmp::Reverse(f.level));
    Ok((versions, findings))
}

fn version_profile(script: &str, g: &InvocationGroup) -> VersionProfile {
    let rate = if g.sum.requests == 0 {
        0.0
    } else {
        g.sum.errors as f64 * 100.0 / g.sum.requests as f64
    };
    VersionProfile {
        script: g
            .dimensions
            .script_name
            .clone()
            .unwrap_or_else(|| script.to_owned()),
        version: g.dimensions.script_version.clone(),
        requests: g.sum.requests,
        errors: g.sum.errors,
        error_rate: round2(rate),
        subrequests: g.sum.subrequests,
        cpu_p50_ms: round2(g.quantiles.cpu_time_p50 / 1000.0),
        cpu_p99_ms: round2(g.quantiles.cpu_time_p99 / 1000.0),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The rules, one finding each.
pub fn bottlenecks(v: &VersionProfile) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |level, title: &str, evidence: String, recommendation: &str| {
        out.push(Finding {
            level,
            script: v.script.clone(),
            version: v.version.clone(),
            title: title.to_owned(),
            evidence,
            recommendation: recommendation.to_owned(),
        });
    };
    if v.requests == 0 {
        return out;
    }
    if v.error_rate >= ERROR_RATE_WARN {
        add(
            if v.error_rate >= ERROR_RATE_CRITICAL {
                Level::Critical
            } else {
                Level::Warning
            },
            "high error rate",
            format!(
                "{} of {} requests failed ({}%; flagged from {ERROR_RATE_WARN}%)",
                v.errors, v.requests, v.error_rate
            ),
            "look at the exceptions of this version (wrangler tail); if it is new, roll back with sv-deploy rollback",
        );
    }
    if v.cpu_p99_ms >= CPU_P99_WARN_MS {
        add(
            if v.cpu_p99_ms >= CPU_P99_CRITICAL_MS {
                Level::Critical
            } else {
                Level::Warning
            },
            "CPU-bound requests",
            format!(
                "CPU time p99 {} ms (p50 {} ms; flagged from {CPU_P99_WARN_MS} ms, the budget is often {CPU_P99_CRITICAL_MS} ms)",
                v.cpu_p99_ms, v.cpu_p50_ms
            ),
            "move heavy work (parsing, crypto, image work) out of the request path or cache its results in KV",
        );
    } else if v.cpu_p50_ms > 0.0 && v.cpu_p99_ms / v.cpu_p50_ms >= TAIL_RATIO {
        add(
            Level::Warning,
            "long CPU tail",
            format!(
                "CPU time p99 {} ms is {:.0}× the p50 {} ms",
                v.cpu_p99_ms,
                v.cpu_p99_ms / v.cpu_p50_ms,
                v.cpu_p50_ms
            ),
            "find the slow paths (cold caches, large payloads) and bound their work",
        );
    }
    let per_request = v.subrequests as f64 / v.requests as f64;
    if per_request >= SUBREQUESTS_WARN {
        add(
            Level::Warning,
            "subrequest fan-out",
            format!("{per_request:.1} subrequests per request (flagged from {SUBREQUESTS_WARN})"),
            "batch upstream calls, or cache their answers (KV, Cache API)",
        );
    }
    out
}

impl Render for Profile {
    fn human(&self, styles: &Styles) -> String {
        let mut out = format!(
            "{} ({}) {} → {}\n\n",
            styles.bold("Worker profile"),
            self.environment,
            self.since.format("%Y-%m-%d %H:%M"),
            self.until.format("%Y-%m-%d %H:%M UTC")
        );
        if self.versions.is_empty() {
            out.push_str("No invocations in this window.\n");
        } else {
            let _ = writeln!(
                out,
                "{:20} {:12} {:>9} {:>7} {:>8} {:>9} {:>9} {:>11}",
                "SCRIPT",
                "VERSION",
                "REQUESTS",
                "ERRORS",
                "ERR %",
                "CPU P50",
                "CPU P99",
                "SUBREQUESTS"
            );
            for v in &self.versions {
                let _ = writeln!(
                    out,
                    "{:20} {:12} {:>9} {:>7} {:>7}% {:>6} ms {:>6} ms {:>11}",
                    v.script,
                    short(v.version.as_deref()),
                    v.requests,
                    v.errors,
                    v.error_rate,
                    v.cpu_p50_ms,
                    v.cpu_p99_ms,
                    v.subrequests
                );
            }
        }
        if !self.findings.is_empty() {
            let _ = writeln!(out, "\n{}", styles.bold("Bottlenecks"));
            for f in &self.findings {
                let level = match f.level {
                    Level::Critical => styles.red("critical"),
                    Level::Warning => styles.yellow("warning"),
                    Level::Info => styles.dim("info"),
                };
                let _ = writeln!(
                    out,
                    "  {level} {} {}: {} ({})\n    → {}",
                    f.script,
                    short(f.version.as_deref()),
                    f.title,
                    f.evidence,
                    f.recommendation
                );
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "## Worker profile — {}\n\n{} → {}\n\n",
            markdown_escape(&self.environment),
            self.since.format("%Y-%m-%d %H:%M"),
            self.until.format("%Y-%m-%d %H:%M UTC")
        );
        if self.versions.is_empty() {
            out.push_str("No invocations in this window.\n");
        } else {
            out.push_str("| Script | Version | Requests | Errors | Error rate | CPU p50 | CPU p99 | Subrequests |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
            for v in &self.versions {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {} | {}% | {} ms | {} ms | {} |",
                    markdown_escape(&v.script),
                    short(v.version.as_deref()),
                    v.requests,
                    v.errors,
                    v.error_rate,
                    v.cpu_p50_ms,
                    v.cpu_p99_ms,
                    v.subrequests
                );
            }
        }
        if !self.findings.is_empty() {
            out.push_str("\n### Bottlenecks\n\n");
            for f in &self.findings {
                let _ = writeln!(
                    out,
                    "- **{:?}** {} `{}`: **{}** — {}. *Next:* {}",
                    f.level,
                    markdown_escape(&f.script),
                    short(f.version.as_deref()),
                    markdown_escape(&f.title),
                    markdown_escape(&f.evidence),
                    markdown_escape(&f.recommendation)
                );
            }
        }
        out
    }
}

/// The first 8 characters of a version id.
pub fn short(version: Option<&str>) -> String {
    version.map_or_else(|| "-".to_owned(), |v| v.chars().take(8).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(requests: u64, errors: u64, p50: f64, p99: f64, sub: u64) -> VersionProfile {
        VersionProfile {
            script: "api".into(),
            version: Some("v1".into()),
            requests,
            errors,
            error_rate: round2(errors as f64 * 100.0 / requests.max(1) as f64),
            subrequests: sub,
            cpu_p50_ms: p50,
            cpu_p99_ms: p99,
        }
    }

    fn titles(p: &VersionProfile) -> Vec<(Level, String)> {
        bottlenecks(p)
            .into_iter()
            .map(|f| (f.level, f.title))
            .collect()
    }

    #[test]
    fn rules_name_each_bottleneck_at_its_threshold() {
        assert!(titles(&v(100, 0, 2.0, 5.0, 10)).is_empty());
        assert_eq!(
            titles(&v(100, 2, 2.0, 5.0, 0)),
            [(Level::Warning, "high error rate".to_owned())]
        );
        assert_eq!(titles(&v(100, 5, 2.0, 5.0, 0))[0].0, Level::Critical);
        assert_eq!(
            titles(&v(100, 0, 20.0, 60.0, 0)),
            [(Level::Critical, "CPU-bound requests".to_owned())]
        );
        assert_eq!(
            titles(&v(100, 0, 1.0, 12.0, 0)),
            [(Level::Warning, "long CPU tail".to_owned())]
        );
        assert_eq!(
            titles(&v(10, 0, 1.0, 2.0, 100)),
            [(Level::Warning, "subrequest fan-out".to_owned())]
        );
        assert!(titles(&v(0, 0, 0.0, 0.0, 0)).is_empty());
    }
}
