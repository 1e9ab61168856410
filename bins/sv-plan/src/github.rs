//! The GitHub side: sticky plan comments on pull requests and the drift issue.

use std::path::Path;

use anyhow::Context as _;
use sv_cli::{ExitStatus, GlobalArgs, input_error};
use sv_github::{GitHubContext, Marker};
use sv_planner::{Plan, Render as _};

use crate::args::{CommentArgs, DriftArgs};
use crate::ctx::Ctx;
use crate::report::Message;

/// The pull-request labels sv-plan keeps in step with its plan comments.
pub const LABEL_RISKY: &str = "sv:risky";
pub const LABEL_DESTROY: &str = "sv:destroy";
pub const LABEL_CHANGES: &str = "sv:changes";
pub const LABEL_NO_CHANGES: &str = "sv:no-changes";

/// The labels `plan` calls for, each also written into its comment as a hidden
/// `<!-- sv:… -->` flag: a pull request can carry one comment per environment, and its
/// labels are those of all of them together.
fn flags(plan: &Plan) -> Vec<&'static str> {
    let mut out = Vec::new();
    if plan
        .risks
        .iter()
        .any(|r| r.level >= sv_planner::RiskLevel::Warning)
    {
        out.push(LABEL_RISKY);
    }
    if plan.summary.delete + plan.summary.replace > 0 {
        out.push(LABEL_DESTROY);
    }
    if plan.summary.has_changes() {
        out.push(LABEL_CHANGES);
    }
    out
}

fn flag(label: &str) -> String {
    format!("<!-- {label} -->")
}

/// The comment body: the plan's flags (hidden), its Markdown and the commit it was planned at.
pub fn comment_body(plan: &Plan, sha: Option<&str>) -> String {
    let mut body: String = flags(plan).iter().map(|l| flag(l) + "\n").collect();
    body.push_str(&plan.markdown());
    if let Some(sha) = sha {
        body.push_str(&format!("\n\n<sub>Planned at commit {sha}.</sub>\n"));
    }
    body
}

fn client(gh: &GitHubContext) -> anyhow::Result<sv_github::GitHub> {
    gh.client()
        .context("GitHub needs GITHUB_TOKEN and GITHUB_REPOSITORY")
        .map_err(input_error)
}

/// Creates or updates the sticky comment of `plan`'s environment on pull request `pr`.
pub async fn post_comment(gh: &GitHubContext, plan: &Plan, pr: u64) -> anyhow::Result<String> {
    let marker = Marker::new("plan", &plan.environment).map_err(input_error)?;
    let body = comment_body(plan, gh.sha.as_deref());
    let github = client(gh)?;
    let outcome = github
        .upsert_comment(pr, &marker, &body)
        .await
        .with_context(|| format!("cannot comment on pull request #{pr}"))?;
    let labels = sync_labels(&github, pr)
        .await
        .with_context(|| format!("cannot label pull request #{pr}"))?;
    Ok(format!(
        "Plan comment {:?} on pull request #{pr}: {}{labels}",
        outcome.action, outcome.url
    ))
}

/// Sets `sv:risky`, `sv:destroy`, `sv:changes` and `sv:no-changes` on the pull request from
/// the flags of all its plan comments (every environment), adding and removing only those;
/// other labels are left alone. Returns a note of what changed.
async fn sync_labels(github: &sv_github::GitHub, pr: u64) -> anyhow::Result<String> {
    let comments = github.list_issue_comments(pr).await?;
    let plans: Vec<&str> = comments
        .iter()
        .map(|c| c.body.as_str())
        .filter(|b| b.starts_with("<!-- sv:plan:"))
        .collect();
    let any = |label: &str| plans.iter().any(|b| b.contains(&flag(label)));
    let wanted = [
        (LABEL_RISKY, any(LABEL_RISKY)),
        (LABEL_DESTROY, any(LABEL_DESTROY)),
        (LABEL_CHANGES, any(LABEL_CHANGES)),
        (LABEL_NO_CHANGES, !plans.is_empty() && !any(LABEL_CHANGES)),
    ];
    let current = github.get_issue(pr).await?.labels;
    let mut changed = Vec::new();
    for (label, on) in wanted {
        if github.set_label(pr, &current, label, on).await? {
            changed.push(format!("{}{label}", if on { "+" } else { "-" }));
        }
    }
    Ok(if changed.is_empty() {
        String::new()
    } else {
        format!(" (labels {})", changed.join(" "))
    })
}

/// `sv-plan comment PLAN [--pr N]`
pub async fn comment(global: &GlobalArgs, args: &CommentArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let gh = sv_cli::context::github(&runner)?;
    let plan = read_plan(&args.plan)?;
    let pr = args.pr.or(gh.pr_number).ok_or_else(|| {
        input_error(anyhow::anyhow!(
            "no pull request: pass --pr N (outside a pull_request run)"
        ))
    })?;
    let message = post_comment(&gh, &plan, pr).await?;
    global.output().print(&Message {
        message,
        serial: None,
    })?;
    Ok(ExitStatus::Success)
}

fn read_plan(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the saved plan {}", path.display()))
        .map_err(input_error)?;
    serde_json::from_str(&text)
        .with_context(|| {
            format!(
                "{} is not a plan saved by `sv-plan plan --out`",
                path.display()
            )
        })
        .map_err(input_error)
}

/// After an apply: with failed operations, opens or updates the environment's
/// `sv:apply-failed` issue (the report, and the run that failed); after a successful apply,
/// closes it. Returns what was done, for the log.
pub async fn failure_issue(ctx: &Ctx, report: &sv_infra::ApplyReport) -> anyhow::Result<String> {
    let gh = sv_cli::context::github(&ctx.runner)?;
    let github = client(&gh)?;
    let marker = Marker::new("apply", &report.environment).map_err(input_error)?;
    if report.succeeded {
        let closed = github
            .close_issue_by_marker(&marker, Some("Apply succeeded again: closing."))
            .await
            .context("cannot close the failed-apply issue")?;
        return Ok(closed
            .iter()
            .map(|n| format!("Closed failed-apply issue #{n}."))
            .collect::<Vec<_>>()
            .join(" "));
    }
    let mut body = sv_planner::Render::markdown(&crate::report::ApplyOutput {
        report: report.clone(),
        backup: None,
    });
    match gh.run_url.as_deref().or(ctx.run_url().as_deref()) {
        Some(url) => body.push_str(&format!("\n\nFailed run: {url}\n")),
        None => body.push_str("\n\nFailed outside GitHub Actions (no run to link).\n"),
    }
    body.push_str(
        "\nEverything marked done is recorded in state: fix the cause and run apply again; \
         this issue closes itself when an apply succeeds.\n",
    );
    let outcome = github
        .upsert_issue(
            &marker,
            &format!("sv-plan apply failed in `{}`", report.environment),
            &body,
            &["sv:apply-failed"],
            &[],
        )
        .await
        .context("cannot open or update the failed-apply issue")?;
    Ok(format!(
        "Failed-apply issue #{} {:?}: {}",
        outcome.number, outcome.action, outcome.url
    ))
}

/// `sv-plan drift`: exit 2 when the live account differs from sv.yaml, with one issue per
/// environment kept open while it does.
pub async fn drift(ctx: &Ctx, args: &DriftArgs) -> anyhow::Result<ExitStatus> {
    let planned = ctx
        .plan(sv_planner::PlanOptions {
            protect: false,
            allow_data_loss: true,
            ..sv_planner::PlanOptions::default()
        })
        .await?;
    let plan = planned.plan;
    let drifted = plan.summary.has_changes() || !plan.drift.is_empty();
    let mut lines = vec![if drifted {
        format!(
            "Drift in `{}`: {} resource(s) changed outside sv, {} change(s) to apply.",
            plan.environment,
            plan.drift.len(),
            plan.summary.create + plan.summary.update + plan.summary.replace + plan.summary.delete
        )
    } else {
        format!("No drift: `{}` matches sv.yaml.", plan.environment)
    }];
    if !args.no_issue {
        let gh = sv_cli::context::github(&ctx.runner)?;
        if gh.token.is_some() && gh.repository.is_some() {
            let github = client(&gh)?;
            let marker = Marker::new("drift", &plan.environment).map_err(input_error)?;
            if drifted {
                let labels: Vec<&str> = args.labels.iter().map(String::as_str).collect();
                let mut body = plan.markdown();
                if let Some(url) = &gh.run_url {
                    body.push_str(&format!("\n\nFound by {url}.\n"));
                }
                let outcome = github
                    .upsert_issue(
                        &marker,
                        &format!("Infrastructure drift in `{}`", plan.environment),
                        &body,
                        &labels,
                        &[],
                    )
                    .await
                    .context("cannot open or update the drift issue")?;
                lines.push(format!(
                    "Issue #{} {:?}: {}",
                    outcome.number, outcome.action, outcome.url
                ));
            } else {
                let closed = github
                    .close_issue_by_marker(&marker, Some("No drift any more: closing."))
                    .await
                    .context("cannot close the drift issue")?;
                for n in closed {
                    lines.push(format!("Closed drift issue #{n}."));
                }
            }
        } else {
            lines.push("No GITHUB_TOKEN/GITHUB_REPOSITORY: no issue opened or closed.".into());
        }
    }
    ctx.global.output().print(&Message {
        message: lines.join("\n"),
        serial: None,
    })?;
    if ctx.runner.is_active() {
        ctx.runner
            .set_output("drift", &drifted.to_string())
            .context("cannot write step outputs")?;
        ctx.runner
            .append_summary(&plan.markdown())
            .context("cannot write the job summary")?;
    }
    Ok(if drifted {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}
