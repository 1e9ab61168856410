//! What `deploy`, `rollback`, `history` and `status` report, as data with human and Markdown
//! renderers (JSON via `Serialize`). Deployment records are also the history file's lines.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sv_report::{Render, Styles, markdown_escape};

use crate::build::{BuildPlan, BuildResult};
use crate::bundle::BindingSummary;
use crate::gate::{GateResult, Verdict};

/// How a deploy (or rollback) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The new version serves 100%.
    Succeeded,
    /// A gate failed; the previous version serves 100% again.
    RolledBack,
    /// Failed before traffic moved (build, upload, smoke test) or with no version to
    /// return to.
    Failed,
    /// `--dry-run`: nothing changed.
    DryRun,
    /// Refused (freeze window, access).
    Refused,
    /// `--pause-on-inconclusive`: a gate could not decide; the split stays for a human.
    Paused,
    /// `--affected`: nothing deployable changed since the ref; nothing was done.
    NothingToDeploy,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::RolledBack => "rolled back",
            Self::Failed => "failed",
            Self::DryRun => "dry run",
            Self::Refused => "refused",
            Self::Paused => "paused",
            Self::NothingToDeploy => "nothing to deploy",
        }
    }
}

/// One rollout step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Percent of traffic on the new version.
    pub percent: u32,
    pub gate: GateResult,
}

/// The result of `sv-deploy deploy`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployReport {
    /// Release id (also the version's `workers/tag`).
    pub id: String,
    pub environment: String,
    pub outcome: Outcome,
    /// Why it did not succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Build waves (workspace ids).
    pub waves: Vec<Vec<String>>,
    pub builds: Vec<BuildResult>,
    /// Worker script name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version_id: Option<String>,
    /// Where the Worker answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub bindings: Vec<BindingSummary>,
    /// Planned rollout percentages.
    pub rollout: Vec<u32>,
    /// The smoke test at 0% (pinned through the version-override header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smoke: Option<GateResult>,
    pub steps: Vec<Step>,
    /// Pages project the web output goes to (after the Worker reached 100%).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages_project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<crate::pages::PagesResult>,
    /// D1 migrations this release applied before its version took traffic (in a dry run:
    /// the pending ones it would apply).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<crate::migrate::Migration>,
    /// Workspaces `--affected` selected (changed since the ref, and what depends on them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected: Option<Vec<String>>,
    /// `resume` of a paused release (recorded with kind `resume`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    /// Splits and rollbacks are forced (the release set secrets: Cloudflare code 10220).
    #[serde(skip)]
    pub forced: bool,
}

impl DeployReport {
    pub fn new(id: String, environment: String) -> Self {
        Self {
            id,
            environment,
            outcome: Outcome::Failed,
            reason: None,
            waves: Vec::new(),
            builds: Vec::new(),
            script: None,
            version_id: None,
            previous_version_id: None,
            url: None,
            bindings: Vec::new(),
            rollout: Vec::new(),
            smoke: None,
            steps: Vec::new(),
            pages_project: None,
            pages: None,
            migrations: Vec::new(),
            affected: None,
            resumed: false,
            forced: false,
        }
    }

    pub fn set_plan(&mut self, plan: &BuildPlan) {
        self.waves = plan
            .waves
            .iter()
            .map(|w| w.iter().map(|s| s.workspace.clone()).collect())
            .collect();
    }

    /// The share of traffic the new version ended with.
    #[must_use]
    pub fn final_percent(&self) -> u32 {
        match self.outcome {
            Outcome::Succeeded => 100,
            Outcome::Paused => self.steps.last().map_or(0, |s| s.percent),
            _ => 0,
        }
    }
}

/// `held`: the rollout paused on this inconclusive gate (`--pause-on-inconclusive`).
fn verdict_text(v: Verdict, held: bool, styles: &Styles) -> String {
    match v {
        Verdict::Pass => styles.green("pass"),
        Verdict::Inconclusive if held => styles.yellow("inconclusive (paused here)"),
        Verdict::Inconclusive => styles.yellow("inconclusive (passed)"),
        Verdict::Fail => styles.red("FAIL"),
    }
}

fn gate_human(out: &mut String, title: &str, gate: &GateResult, held: bool, styles: &Styles) {
    let _ = writeln!(
        out,
        "  {title}: {}",
        verdict_text(gate.verdict, held, styles)
    );
    for c in &gate.checks {
        let mark = if c.healthy { "ok" } else { "failed" };
        let _ = writeln!(
            out,
            "    check {} {} {mark}{}",
            c.name,
            c.url,
            if c.errors.is_empty() {
                String::new()
            } else {
                format!(": {}", c.errors.join("; "))
            }
        );
    }
    if let Some(a) = &gate.analytics {
        if let Some(n) = a.new {
            let _ = writeln!(
                out,
                "    new version: {} requests, {} errors ({:.2}%), CPU p99 {:.1} ms",
                n.requests,
                n.errors,
                n.error_rate() * 100.0,
                n.cpu_p99_ms
            );
        }
        if let Some(p) = a.previous {
            let _ = writeln!(
                out,
                "    previous version: {} requests, {} errors ({:.2}%)",
                p.requests,
                p.errors,
                p.error_rate() * 100.0
            );
        }
    }
    for r in &gate.reasons {
        let _ = writeln!(out, "    {r}");
    }
}

impl Render for DeployReport {
    fn human(&self, styles: &Styles) -> String {
        let mut out = String::new();
        let outcome = match self.outcome {
            Outcome::Succeeded => styles.green(self.outcome.label()),
            Outcome::DryRun | Outcome::Paused | Outcome::NothingToDeploy => {
                styles.yellow(self.outcome.label())
            }
            _ => styles.red(self.outcome.label()),
        };
        let _ = writeln!(
            out,
            "{} {} to {}: {outcome}",
            styles.bold(if self.resumed { "resume" } else { "deploy" }),
            self.id,
            self.environment
        );
        if let Some(r) = &self.reason {
            let _ = writeln!(out, "  reason: {r}");
        }
        let waves: Vec<String> = self
            .waves
            .iter()
            .map(|w| format!("[{}]", w.join(", ")))
            .collect();
        let _ = writeln!(out, "  build order: {}", waves.join(" -> "));
        for b in &self.builds {
            let state = match (&b.command, b.ok) {
                (None, _) => "nothing to build".to_owned(),
                (Some(_), true) => format!("ok in {} ms", b.duration_ms),
                (Some(_), false) => styles.red(&format!(
                    "FAILED (exit {})",
                    b.exit_code.map_or("?".to_owned(), |c| c.to_string())
                )),
            };
            let _ = writeln!(out, "  build {} (wave {}): {state}", b.workspace, b.wave);
        }
        if let Some(s) = &self.script {
            let _ = writeln!(out, "  worker: {s}");
        }
        if let Some(v) = &self.version_id {
            let _ = writeln!(out, "  new version: {v}");
        }
        if let Some(v) = &self.previous_version_id {
            let _ = writeln!(out, "  previous version: {v}");
        }
        if let Some(u) = &self.url {
            let _ = writeln!(out, "  url: {u}");
        }
        if !self.bindings.is_empty() {
            let list: Vec<String> = self
                .bindings
                .iter()
                .map(|b| format!("{} ({} {})", b.name, b.kind, b.target))
                .collect();
            let _ = writeln!(out, "  bindings: {}", list.join(", "));
        }
        if let Some(a) = &self.affected {
            let _ = writeln!(out, "  affected workspaces: {}", a.join(", "));
        }
        if !self.migrations.is_empty() {
            let verb = if self.outcome == Outcome::DryRun {
                "would apply"
            } else {
                "applied"
            };
            let _ = writeln!(
                out,
                "  migrations {verb}: {}",
                migrations_list(&self.migrations)
            );
        }
        let steps: Vec<String> = self.rollout.iter().map(|p| format!("{p}%")).collect();
        let _ = writeln!(out, "  rollout: {}", steps.join(" -> "));
        if let Some(s) = &self.smoke {
            gate_human(&mut out, "smoke test at 0%", s, false, styles);
        }
        for (i, s) in self.steps.iter().enumerate() {
            let held = self.outcome == Outcome::Paused && i + 1 == self.steps.len();
            let title = format!("step {}%", s.percent);
            gate_human(&mut out, &title, &s.gate, held, styles);
        }
        match (&self.pages, &self.pages_project) {
            (Some(p), _) => {
                let _ = writeln!(
                    out,
                    "  pages: {} deployment {} ({} files, {} uploaded){}",
                    p.project,
                    p.deployment_id,
                    p.files,
                    p.uploaded,
                    p.url.as_ref().map_or(String::new(), |u| format!(" {u}"))
                );
            }
            (None, Some(project)) => {
                let state = if self.outcome == Outcome::DryRun {
                    "would be deployed after the Worker reaches 100%"
                } else {
                    "not deployed"
                };
                let _ = writeln!(out, "  pages: {project} ({state})");
            }
            (None, None) => {}
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let icon = match self.outcome {
            Outcome::Succeeded => "✅",
            Outcome::DryRun => "📝",
            Outcome::Paused => "⏸️",
            Outcome::NothingToDeploy => "⏭️",
            _ => "❌",
        };
        let _ = writeln!(
            out,
            "### {icon} Deploy `{}` to `{}`: {}\n",
            self.id,
            markdown_escape(&self.environment),
            self.outcome.label()
        );
        if let Some(r) = &self.reason {
            let _ = writeln!(out, "**Reason:** {}\n", markdown_escape(r));
        }
        let _ = writeln!(out, "| | |\n|---|---|");
        if let Some(s) = &self.script {
            let _ = writeln!(out, "| Worker | `{s}` |");
        }
        if let Some(v) = &self.version_id {
            let _ = writeln!(out, "| New version | `{v}` |");
        }
        if let Some(v) = &self.previous_version_id {
            let _ = writeln!(out, "| Previous version | `{v}` |");
        }
        if let Some(u) = &self.url {
            let _ = writeln!(out, "| URL | {u} |");
        }
        if let Some(a) = &self.affected {
            let _ = writeln!(
                out,
                "| Affected workspaces | {} |",
                markdown_escape(&a.join(", "))
            );
        }
        if !self.migrations.is_empty() {
            let _ = writeln!(
                out,
                "| Migrations | {} |",
                markdown_escape(&migrations_list(&self.migrations))
            );
        }
        let steps: Vec<String> = self.rollout.iter().map(|p| format!("{p}%")).collect();
        let _ = writeln!(out, "| Rollout | {} |", steps.join(" → "));
        let waves: Vec<String> = self
            .waves
            .iter()
            .map(|w| {
                w.iter()
                    .map(|x| format!("`{x}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        let _ = writeln!(out, "| Build order | {} |", waves.join(" → "));
        if let Some(p) = &self.pages {
            let _ = writeln!(
                out,
                "| Pages | `{}` deployment `{}`{} |",
                p.project,
                p.deployment_id,
                p.url.as_ref().map_or(String::new(), |u| format!(" {u}"))
            );
        }
        out.push('\n');
        if !self.builds.is_empty() {
            let _ = writeln!(
                out,
                "| Workspace | Wave | Build | Time |\n|---|---|---|---|"
            );
            for b in &self.builds {
                let state = match (&b.command, b.ok) {
                    (None, _) => "nothing to build",
                    (Some(_), true) => "ok",
                    (Some(_), false) => "**failed**",
                };
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {state} | {} ms |",
                    b.workspace, b.wave, b.duration_ms
                );
            }
            out.push('\n');
        }
        let gates = self
            .smoke
            .iter()
            .map(|g| ("smoke (0%)".to_owned(), g))
            .chain(
                self.steps
                    .iter()
                    .map(|s| (format!("{}%", s.percent), &s.gate)),
            );
        let mut any = false;
        for (title, g) in gates {
            if !any {
                let _ = writeln!(
                    out,
                    "| Step | Gate | Checks | New version errors | Notes |\n|---|---|---|---|---|"
                );
                any = true;
            }
            let checks = g
                .checks
                .iter()
                .map(|c| format!("{} {}", if c.healthy { "✅" } else { "❌" }, c.name))
                .collect::<Vec<_>>()
                .join(", ");
            let errors = g
                .analytics
                .as_ref()
                .and_then(|a| a.new)
                .map_or("–".to_owned(), |n| {
                    format!(
                        "{}/{} ({:.2}%)",
                        n.errors,
                        n.requests,
                        n.error_rate() * 100.0
                    )
                });
            let verdict = match g.verdict {
                Verdict::Pass => "pass",
                Verdict::Inconclusive => "inconclusive",
                Verdict::Fail => "**fail**",
            };
            let _ = writeln!(
                out,
                "| {title} | {verdict} | {checks} | {errors} | {} |",
                markdown_escape(&g.reasons.join("; "))
            );
        }
        out
    }
}

/// One line of `.sv/deployments/<env>.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub id: String,
    pub time: chrono::DateTime<chrono::Utc>,
    pub environment: String,
    /// `deploy` or `rollback`.
    pub kind: String,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version_id: Option<String>,
    /// Percent the new version ended at.
    pub percent: u32,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    /// D1 migrations the release applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<crate::migrate::Migration>,
    /// Pages project and deployment of the release (a rollback: the one it returned to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<PagesRef>,
    /// The rollout schedule of a deploy (what `resume` continues).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollout: Vec<u32>,
    /// Splits were forced (the deploy set secrets): `resume` forces its splits too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
}

/// A Pages deployment a release made or returned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagesRef {
    pub project: String,
    pub deployment_id: String,
}

/// `db/0003_x.sql (not backward-compatible), ...`
pub fn migrations_list(list: &[crate::migrate::Migration]) -> String {
    list.iter()
        .map(|m| {
            format!(
                "{}/{}{}",
                m.database,
                m.name,
                if m.incompatible {
                    " (not backward-compatible)"
                } else {
                    ""
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `sv-deploy history`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryReport {
    pub environment: String,
    pub records: Vec<DeploymentRecord>,
    /// `history --remote`: the Worker's deployments as the Cloudflare API lists them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<Vec<RemoteDeployment>>,
}

/// One deployment of the Worker as the API lists it (any tool, any machine).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteDeployment {
    pub id: String,
    pub created_on: String,
    pub source: String,
    /// `workers/message` (sv-deploy writes its deploy id and commit there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// (version, percent) of the split.
    pub versions: Vec<(String, f64)>,
}

impl From<sv_cloudflare::workers::Deployment> for RemoteDeployment {
    fn from(d: sv_cloudflare::workers::Deployment) -> Self {
        Self {
            id: d.id.unwrap_or_default(),
            created_on: d.created_on.unwrap_or_default(),
            source: d.source.unwrap_or_default(),
            message: d.annotations.get("workers/message").cloned(),
            versions: d
                .versions
                .into_iter()
                .map(|v| (v.version_id, v.percentage))
                .collect(),
        }
    }
}

impl RemoteDeployment {
    fn split(&self) -> String {
        self.versions
            .iter()
            .map(|(v, p)| format!("{} {p}%", short(Some(v))))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn short(id: Option<&str>) -> String {
    id.map_or("-".to_owned(), |v| v.chars().take(8).collect())
}

impl Render for HistoryReport {
    fn human(&self, styles: &Styles) -> String {
        let mut out = format!(
            "{} of {}\n",
            styles.bold("deployment history"),
            self.environment
        );
        if self.records.is_empty() {
            out.push_str("  no deployments recorded\n");
        }
        for r in &self.records {
            let _ = writeln!(
                out,
                "  {} {} {:<8} {} -> {} ({}%) {} by {}{}",
                r.time.format("%Y-%m-%d %H:%M:%S"),
                r.id,
                r.kind,
                short(r.previous_version_id.as_deref()),
                short(r.version_id.as_deref()),
                r.percent,
                r.outcome.label(),
                r.actor,
                r.reason
                    .as_ref()
                    .map_or(String::new(), |x| format!(": {x}"))
            );
            if !r.migrations.is_empty() {
                let _ = writeln!(out, "    migrations: {}", migrations_list(&r.migrations));
            }
            if let Some(p) = &r.pages {
                let _ = writeln!(
                    out,
                    "    pages: {} deployment {}",
                    p.project, p.deployment_id
                );
            }
        }
        if let Some(remote) = &self.remote {
            let _ = writeln!(
                out,
                "{} (Cloudflare API, newest first)",
                styles.bold("worker deployments")
            );
            if remote.is_empty() {
                out.push_str(
                    "  none
",
                );
            }
            for d in remote {
                let _ = writeln!(
                    out,
                    "  {} {} {:<8} {}{}",
                    d.created_on,
                    short(Some(&d.id)),
                    d.source,
                    d.split(),
                    d.message
                        .as_ref()
                        .map_or(String::new(), |m| format!(": {m}"))
                );
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Deployment history of `{}`\n\n| Time | Id | Kind | From | To | % | Outcome | Actor |\n|---|---|---|---|---|---|---|---|\n",
            markdown_escape(&self.environment)
        );
        for r in &self.records {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | `{}` | `{}` | {} | {} | {} |",
                r.time.format("%Y-%m-%d %H:%M:%S"),
                r.id,
                r.kind,
                short(r.previous_version_id.as_deref()),
                short(r.version_id.as_deref()),
                r.percent,
                r.outcome.label(),
                markdown_escape(&r.actor)
            );
        }
        if let Some(remote) = &self.remote {
            out.push_str("\n#### Worker deployments (Cloudflare API, newest first)\n\n| Created | Id | Source | Split | Message |\n|---|---|---|---|---|\n");
            for d in remote {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {} | {} |",
                    markdown_escape(&d.created_on),
                    short(Some(&d.id)),
                    markdown_escape(&d.source),
                    d.split(),
                    markdown_escape(d.message.as_deref().unwrap_or(""))
                );
            }
        }
        out
    }
}

/// A version serving traffic, for `status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServingVersion {
    pub version_id: String,
    pub percentage: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `sv-deploy status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub environment: String,
    pub script: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed_on: Option<String>,
    pub versions: Vec<ServingVersion>,
    /// The HTTP gate checks against the serving split (not pinned).
    pub checks: Vec<crate::gate::CheckOutcome>,
}

impl Render for StatusReport {
    fn human(&self, styles: &Styles) -> String {
        let mut out = format!(
            "{} {} in {}\n",
            styles.bold("worker"),
            self.script,
            self.environment
        );
        match &self.deployment_id {
            None => out.push_str("  not deployed\n"),
            Some(id) => {
                let _ = writeln!(
                    out,
                    "  deployment {id}{}",
                    self.deployed_on
                        .as_ref()
                        .map_or(String::new(), |d| format!(" ({d})"))
                );
            }
        }
        for v in &self.versions {
            let _ = writeln!(
                out,
                "  {:>5.1}% {}{}{}",
                v.percentage,
                v.version_id,
                v.number.map_or(String::new(), |n| format!(" #{n}")),
                v.message
                    .as_ref()
                    .map_or(String::new(), |m| format!(" {m}"))
            );
        }
        for c in &self.checks {
            let _ = writeln!(
                out,
                "  check {} {}: {}",
                c.name,
                c.url,
                if c.healthy {
                    styles.green("ok")
                } else {
                    styles.red(&format!("failed: {}", c.errors.join("; ")))
                }
            );
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Worker `{}` in `{}`\n\n| Version | Traffic | Message |\n|---|---|---|\n",
            self.script,
            markdown_escape(&self.environment)
        );
        for v in &self.versions {
            let _ = writeln!(
                out,
                "| `{}` | {:.1}% | {} |",
                v.version_id,
                v.percentage,
                markdown_escape(v.message.as_deref().unwrap_or(""))
            );
        }
        for c in &self.checks {
            let _ = writeln!(
                out,
                "\n{} check `{}` {}",
                if c.healthy { "✅" } else { "❌" },
                c.name,
                c.url
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::BuildResult;
    use crate::gate::{Analytics, CheckOutcome, VersionStats};

    fn rolled_back() -> DeployReport {
        let check = |healthy: bool| CheckOutcome {
            name: "api".into(),
            url: "/health".into(),
            healthy,
            response_time_ms: 3.0,
            errors: Vec::new(),
        };
        let mut r = DeployReport::new("20260101120000-abc123".into(), "staging".into());
        r.outcome = Outcome::RolledBack;
        r.reason = Some(
            "health gate at 10% failed: error rate 5.00% is above the gate's 1.00% (5 of 100 requests); rolled back to v1 (100%)"
                .into(),
        );
        r.waves = vec![vec!["shared".into()], vec!["web".into(), "worker".into()]];
        r.builds = vec![BuildResult {
            workspace: "shared".into(),
            wave: 1,
            command: Some("npm run build -w shared".into()),
            duration_ms: 120,
            ok: true,
            exit_code: None,
        }];
        r.script = Some("api".into());
        r.version_id = Some("v2".into());
        r.previous_version_id = Some("v1".into());
        r.url = Some("https://api.example.workers.dev/".into());
        r.rollout = vec![10, 50, 100];
        r.smoke = Some(GateResult {
            verdict: Verdict::Pass,
            reasons: Vec::new(),
            checks: vec![check(true)],
            analytics: None,
        });
        r.steps = vec![Step {
            percent: 10,
            gate: GateResult {
                verdict: Verdict::Fail,
                reasons: vec![
                    "error rate 5.00% is above the gate's 1.00% (5 of 100 requests)".into(),
                ],
                checks: vec![check(true)],
                analytics: Some(Analytics {
                    new: Some(VersionStats {
                        requests: 100,
                        errors: 5,
                        cpu_p99_ms: 12.5,
                    }),
                    previous: Some(VersionStats {
                        requests: 900,
                        errors: 1,
                        cpu_p99_ms: 10.0,
                    }),
                }),
            },
        }];
        r
    }

    #[test]
    fn rolled_back_report() {
        let r = rolled_back();
        insta::assert_snapshot!("rolled_back_human", r.human(&Styles::plain()));
        insta::assert_snapshot!("rolled_back_markdown", r.markdown());
    }

    #[test]
    fn history_renders_every_record() {
        let record = DeploymentRecord {
            id: "20260101120000-abc123".into(),
            time: chrono::DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            environment: "staging".into(),
            kind: "deploy".into(),
            actor: "alice|bob".into(),
            commit: None,
            script: Some("api".into()),
            version_id: Some("0123456789abcdef".into()),
            previous_version_id: None,
            percent: 0,
            outcome: Outcome::RolledBack,
            reason: Some("gate failed".into()),
            run_url: None,
            migrations: vec![crate::migrate::Migration {
                database: "staging-main".into(),
                name: "0003_drop_legacy.sql".into(),
                incompatible: true,
            }],
            pages: None,
            rollout: vec![10, 50, 100],
            forced: false,
        };
        let h = HistoryReport {
            environment: "staging".into(),
            records: vec![record],
            remote: None,
        };
        insta::assert_snapshot!("history_human", h.human(&Styles::plain()));
        insta::assert_snapshot!("history_markdown", h.markdown());
    }
}
