//! `sv-health troubleshoot "description"`: the seed's TroubleshootingReport. It runs every
//! check once (no history, no alerts), reads the Workers analytics and current deployments,
//! and turns them into a severity, the affected services, likely causes (most specific
//! first) and next steps. The reasoning is rule-based and each cause states its evidence.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sv_checks::{CheckKind, HealthStatus, RunOptions, Status, SystemClock};
use sv_cli::output::markdown_escape;
use sv_cli::{ExitStatus, GlobalArgs, Render, Styles};
use sv_config::ResourceKind;

use crate::args::TroubleshootArgs;
use crate::profile::{Finding, Level, VersionProfile, short};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Nothing found wrong.
    None,
    Low,
    High,
    Critical,
}

/// A worker's current deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentInfo {
    pub script: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_on: Option<DateTime<Utc>>,
    /// Version id → percent of traffic.
    pub versions: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TroubleshootingReport {
    pub environment: String,
    pub description: String,
    pub generated_at: DateTime<Utc>,
    pub severity: Severity,
    pub affected_services: Vec<String>,
    pub likely_causes: Vec<String>,
    pub next_steps: Vec<String>,
    pub checks: Vec<HealthStatus>,
    pub deployments: Vec<DeploymentInfo>,
    pub analytics: Vec<VersionProfile>,
    pub findings: Vec<Finding>,
    /// What could not be gathered (missing credentials, API errors).
    pub gaps: Vec<String>,
}

pub async fn run(global: &GlobalArgs, args: TroubleshootArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let now = Utc::now();
    let mut gaps = Vec::new();
    let configured = sv_checks::config::checks(env).map_err(sv_cli::InputError::new)?;
    let cloudflare = sv_cli::context::cloudflare(&args.cloudflare, &runner).ok();
    let mut configured = configured;
    if cloudflare.is_none() && !configured.services.is_empty() {
        gaps.push("Cloudflare service checks, analytics and deployments skipped: CLOUDFLARE_API_TOKEN is not set".to_owned());
        let services: Vec<String> = configured
            .services
            .iter()
            .map(|s| s.check.clone())
            .collect();
        configured.specs.retain(|s| !services.contains(&s.name));
        configured.services.clear();
    }
    let probes = cloudflare
        .as_ref()
        .map(|c| crate::probes::probes(c, &configured.services))
        .unwrap_or_default();
    let client = sv_checks::http_client(concat!("sv-health/", env!("CARGO_PKG_VERSION")))?;
    let checks = sv_checks::run_checks(
        &configured.specs,
        &probes,
        &client,
        &SystemClock,
        &RunOptions::default(),
    )
    .await
    .map_err(sv_cli::InputError::new)?;

    let scripts: Vec<String> = env
        .resources_of(ResourceKind::Worker)
        .map(|r| r.name.clone())
        .collect();
    let since = now - TimeDelta::from_std(args.since).unwrap_or(TimeDelta::hours(1));
    let (mut analytics, mut findings, mut deployments) = (Vec::new(), Vec::new(), Vec::new());
    if let Some(cf) = &cloudflare {
        match crate::profile::gather(cf, &scripts, since, now).await {
            Ok((v, f)) => (analytics, findings) = (v, f),
            Err(e) => gaps.push(format!("analytics: {e}")),
        }
        for script in &scripts {
            match cf.workers().list_deployments(script).await {
                Ok(list) => {
                    if let Some(d) = list.first() {
                        deployments.push(DeploymentInfo {
                            script: script.clone(),
                            created_on: d
                                .created_on
                                .as_deref()
                                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                                .map(|t| t.with_timezone(&Utc)),
                            versions: d
                                .versions
                                .iter()
                                .map(|v| (v.version_id.clone(), v.percentage))
                                .collect(),
                        });
                    }
                }
                Err(e) => gaps.push(format!("deployments of {script}: {e}")),
            }
        }
    }
    let report = diagnose(Diagnosis {
        environment: env.name.clone(),
        description: args.description.unwrap_or_default(),
        now,
        since,
        checks,
        deployments,
        analytics,
        findings,
        gaps,
    });
    global.output().print(&report)?;
    if runner.is_active() {
        runner.set_output("severity", &format!("{:?}", report.severity).to_lowercase())?;
        runner.append_summary(&report.markdown())?;
    }
    Ok(ExitStatus::Success)
}

/// Everything gathered, before reasoning.
pub struct Diagnosis {
    pub environment: String,
    pub description: String,
    pub now: DateTime<Utc>,
    /// Start of the analytics window: deployments after it are "recent".
    pub since: DateTime<Utc>,
    pub checks: Vec<HealthStatus>,
    pub deployments: Vec<DeploymentInfo>,
    pub analytics: Vec<VersionProfile>,
    pub findings: Vec<Finding>,
    pub gaps: Vec<String>,
}

/// The rules, pure so they are unit-tested.
pub fn diagnose(d: Diagnosis) -> TroubleshootingReport {
    let failing: Vec<&HealthStatus> = d
        .checks
        .iter()
        .filter(|c| c.status != Status::Healthy)
        .collect();
    let severity = [
        failing
            .iter()
            .map(|c| match c.status {
                Status::Unhealthy => Severity::Critical,
                Status::Degraded => Severity::Low,
                Status::Healthy => Severity::None,
            })
            .max()
            .unwrap_or(Severity::None),
        d.findings
            .iter()
            .map(|f| match f.level {
                Level::Critical => Severity::High,
                Level::Warning => Severity::Low,
                Level::Info => Severity::None,
            })
            .max()
            .unwrap_or(Severity::None),
    ]
    .into_iter()
    .max()
    .unwrap_or(Severity::None);

    let mut affected: Vec<String> = failing
        .iter()
        .map(|c| format!("{} ({})", c.name, c.kind))
        .collect();
    for f in d.findings.iter().filter(|f| f.level != Level::Info) {
        let name = format!("worker {}", f.script);
        if !affected.contains(&name) {
            affected.push(name);
        }
    }

    let mut causes = Vec::new();
    let mut steps = Vec::new();
    // A recent deployment whose version carries the errors or CPU problems.
    for dep in &d.deployments {
        let bad: Vec<&Finding> = d
            .findings
            .iter()
            .filter(|f| f.script == dep.script && f.level != Level::Info)
            .collect();
        if bad.is_empty() {
            continue;
        }
        let recent = dep.created_on.is_some_and(|t| t >= d.since);
        if dep.versions.len() > 1 {
            causes.push(format!(
                "a gradual rollout of {} is in progress ({}) and {} shows {}",
                dep.script,
                dep.versions
                    .iter()
                    .map(|(v, p)| format!("{} at {p}%", short(Some(v))))
                    .collect::<Vec<_>>()
                    .join(", "),
                short(bad[0].version.as_deref()),
                bad[0].title
            ));
            steps.push(format!(
                "stop the rollout of {} and roll back: sv-deploy rollback",
                dep.script
            ));
        } else if recent {
            causes.push(format!(
                "{} was deployed at {} (within the window) and shows {}: {}",
                dep.script,
                dep.created_on
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default(),
                bad[0].title,
                bad[0].evidence
            ));
            steps.push(format!(
                "compare with the previous version of {} and roll back if it was healthy: sv-deploy rollback",
                dep.script
            ));
        }
    }
    // Data stores failing their probes.
    for c in failing
        .iter()
        .filter(|c| matches!(c.kind, CheckKind::Kv | CheckKind::D1 | CheckKind::R2))
    {
        causes.push(format!(
            "{} storage probe {} fails: {}",
            c.kind,
            c.name,
            c.errors.first().map_or("no detail", String::as_str)
        ));
        steps.push(format!(
            "check the {} resource of {} exists (sv-plan plan) and the Cloudflare status page",
            c.kind, c.name
        ));
    }
    // Endpoints failing while the worker itself looks fine.
    let http_failing: Vec<&&HealthStatus> = failing
        .iter()
        .filter(|c| c.kind == CheckKind::Http)
        .collect();
    let worker_ok = d.findings.iter().all(|f| f.level == Level::Info);
    if !http_failing.is_empty() && worker_ok && causes.is_empty() {
        causes.push(format!(
            "{} fail{} ({}) while the Worker analytics show no errors: the requests may not reach the worker (routes, DNS, custom domains) or fail before it",
            http_failing
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if http_failing.len() == 1 { "s" } else { "" },
            http_failing[0]
                .errors
                .first()
                .map_or("no detail", String::as_str)
        ));
        steps.push("check routes and DNS with sv-plan plan (drift)".to_owned());
    }
    for f in d.findings.iter().filter(|f| f.level != Level::Info) {
        let text = format!("{} {}: {}", f.script, f.title, f.evidence);
        if !causes.iter().any(|c| c.contains(&f.title)) {
            causes.push(text);
        }
        if !steps.contains(&f.recommendation) {
            steps.push(f.recommendation.clone());
        }
    }
    for c in &failing {
        if !causes.iter().any(|x| x.contains(&c.name)) {
            causes.push(format!(
                "{} is {}: {}",
                c.name,
                c.status,
                c.errors.first().map_or("no detail", String::as_str)
            ));
        }
    }
    if causes.is_empty() {
        causes.push("no check fails and the analytics show no bottleneck".to_owned());
        steps.push(
            "if the problem persists, reproduce it and widen the window (--since)".to_owned(),
        );
    }
    if !d.gaps.is_empty() {
        steps.push("fill the gaps listed below and run troubleshoot again".to_owned());
    }
    TroubleshootingReport {
        environment: d.environment,
        description: d.description,
        generated_at: d.now,
        severity,
        affected_services: affected,
        likely_causes: causes,
        next_steps: steps,
        checks: d.checks,
        deployments: d.deployments,
        analytics: d.analytics,
        findings: d.findings,
        gaps: d.gaps,
    }
}

impl Render for TroubleshootingReport {
    fn human(&self, styles: &Styles) -> String {
        let sev = format!("{:?}", self.severity).to_uppercase();
        let sev = match self.severity {
            Severity::Critical | Severity::High => styles.red(&sev),
            Severity::Low => styles.yellow(&sev),
            Severity::None => styles.green(&sev),
        };
        let mut out = format!(
            "{} ({}) at {}: severity {sev}\n",
            styles.bold("Troubleshooting"),
            self.environment,
            self.generated_at.format("%Y-%m-%d %H:%M UTC")
        );
        if !self.description.is_empty() {
            let _ = writeln!(out, "Reported: {}", self.description);
        }
        let list = |out: &mut String, title: &str, items: &[String]| {
            if items.is_empty() {
                return;
            }
            let _ = writeln!(out, "\n{}", styles.bold(title));
            for (i, item) in items.iter().enumerate() {
                let _ = writeln!(out, "  {}. {item}", i + 1);
            }
        };
        list(&mut out, "Affected services", &self.affected_services);
        list(&mut out, "Likely causes", &self.likely_causes);
        list(&mut out, "Next steps", &self.next_steps);
        let _ = writeln!(out, "\n{}", styles.bold("Checks"));
        for c in &self.checks {
            let _ = writeln!(
                out,
                "  {} {} ({}) {}",
                c.status.emoji(),
                c.name,
                c.kind,
                c.errors.join("; ")
            );
        }
        list(&mut out, "Not gathered", &self.gaps);
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "## Troubleshooting — {}\n\n**Severity:** {:?}\n\n",
            markdown_escape(&self.environment),
            self.severity
        );
        if !self.description.is_empty() {
            let _ = writeln!(out, "> {}\n", markdown_escape(&self.description));
        }
        let list = |out: &mut String, title: &str, items: &[String], numbered: bool| {
            if items.is_empty() {
                return;
            }
            let _ = writeln!(out, "### {title}\n");
            for (i, item) in items.iter().enumerate() {
                if numbered {
                    let _ = writeln!(out, "{}. {}", i + 1, markdown_escape(item));
                } else {
                    let _ = writeln!(out, "- {}", markdown_escape(item));
                }
            }
            out.push('\n');
        };
        list(
            &mut out,
            "Affected services",
            &self.affected_services,
            false,
        );
        list(&mut out, "Likely causes", &self.likely_causes, true);
        list(&mut out, "Next steps", &self.next_steps, true);
        out.push_str("### Checks\n\n| | Check | Kind | Status | Errors |\n|---|---|---|---|---|\n");
        for c in &self.checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                c.status.emoji(),
                markdown_escape(&c.name),
                c.kind,
                c.status,
                markdown_escape(&c.errors.join("; "))
            );
        }
        if !self.gaps.is_empty() {
            out.push('\n');
            list(&mut out, "Not gathered", &self.gaps, false);
        }
        out
    }
}
