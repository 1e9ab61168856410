//! The GitHub side: sticky plan comments on pull requests and the drift issue.

use std::path::Path;

use anyhow::Context as _;
use sv_cli::{ExitStatus, GlobalArgs, input_error};
use sv_github::{GitHubContext, Marker};
use sv_planner::{Plan, Render as _};

use crate::args::{CommentArgs, DriftArgs};
use crate::ctx::Ctx;
use crate::report::Message;

/// The comment body: the plan's Markdown and the commit it was planned at.
pub fn comment_body(plan: &Plan, sha: Option<&str>) -> String {
    let mut body = plan.markdown();
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
    let outcome = client(gh)?
        .upsert_comment(pr, &marker, &body)
        .await
        .with_context(|| format!("cannot comment on pull request #{pr}"))?;
    Ok(format!(
        "Plan comment {:?} on pull request #{pr}: {}",
        outcome.action, outcome.url
    ))
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
