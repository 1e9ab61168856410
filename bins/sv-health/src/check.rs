//! `sv-health check`: run the environment's checks once, append the results to the
//! history, advance the alert state and carry out its actions, and report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sv_checks::notify::Notifier;
use sv_checks::notify::{Link, NotifyContext};
use sv_checks::{
    AlertAction, AlertState, Clock, HealthReport, History, ReportInput, RunOptions, SystemClock,
};
use sv_cli::output::markdown_escape;
use sv_cli::{ExitStatus, GlobalArgs, Render, Styles};
use sv_config::{Environment, ResourceKind};

use crate::alerting::{Delivery, Dispatcher};
use crate::args::CheckArgs;
use crate::comment::PrComment;
use crate::store::{HistoryLocation, HistoryStore};

/// The `check` output: the engine's report plus what happened to the alerts.
#[derive(Debug, Serialize)]
pub struct CheckOutput {
    #[serde(flatten)]
    pub report: HealthReport,
    /// Messages sent (or not) on each channel this run.
    pub deliveries: Vec<Delivery>,
    /// Problems that did not stop the run (a channel without credentials, history not
    /// written, …).
    pub warnings: Vec<String>,
    /// The sticky pull-request comment, when one was due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr_comment: Option<PrComment>,
}

impl Render for CheckOutput {
    fn human(&self, styles: &Styles) -> String {
        let mut out = self.report.human(styles);
        if !self.deliveries.is_empty() {
            let _ = writeln!(out, "\n{}", styles.bold("Alerts sent"));
            for d in &self.deliveries {
                let mark = if d.delivered {
                    styles.green("✓")
                } else {
                    styles.red("✗")
                };
                let _ = writeln!(
                    out,
                    "  {mark} {} {:?} → {}{}",
                    d.check,
                    d.event,
                    d.channel,
                    d.detail
                        .as_deref()
                        .map(|t| format!(": {t}"))
                        .unwrap_or_default()
                );
            }
        }
        for w in &self.warnings {
            let _ = writeln!(out, "{} {w}", styles.yellow("warning:"));
        }
        if let Some(c) = &self.pr_comment {
            let _ = writeln!(out, "{}", c.line());
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = self.report.markdown();
        if !self.deliveries.is_empty() {
            out.push_str(
                "\n#### Alerts sent\n\n| Check | Event | Channel | Result |\n|---|---|---|---|\n",
            );
            for d in &self.deliveries {
                let _ = writeln!(
                    out,
                    "| {} | {:?} | {} | {} {} |",
                    markdown_escape(&d.check),
                    d.event,
                    markdown_escape(&d.channel),
                    if d.delivered { "✅" } else { "❌" },
                    markdown_escape(d.detail.as_deref().unwrap_or(""))
                );
            }
        }
        for w in &self.warnings {
            let _ = writeln!(out, "\n> **Warning:** {}", markdown_escape(w));
        }
        if let Some(c) = &self.pr_comment {
            let _ = writeln!(out, "\n{}", markdown_escape(&c.line()));
        }
        out
    }
}

/// `<app root>/.sv/health/<env>.<ext>`.
pub fn default_path(root: &Path, env: &str, ext: &str) -> PathBuf {
    root.join(".sv").join("health").join(format!("{env}.{ext}"))
}

/// The marker file sv-deploy keeps while a gradual rollout of `env` is under way.
pub fn rollout_marker(root: &Path, env: &str) -> PathBuf {
    root.join(".sv")
        .join("deployments")
        .join(format!("{env}.rollout"))
}

pub async fn run(global: &GlobalArgs, args: CheckArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let clock = SystemClock;
    let now = clock.now();
    let configured = sv_checks::config::checks(env)
        .and_then(|c| c.select(&args.only))
        .map_err(sv_cli::InputError::new)?;
    // `--comment-pr N` needs GitHub credentials: refuse up front (exit 2), not after the run.
    let explicit_comment = match args.comment_pr {
        Some(pr) => {
            let gh = sv_cli::context::github(&runner)?;
            if gh.token.is_none() || gh.repository.is_none() {
                return Err(sv_cli::InputError::new(anyhow::anyhow!(
                    "--comment-pr {pr} needs GITHUB_TOKEN and GITHUB_REPOSITORY"
                ))
                .into());
            }
            Some((gh, pr))
        }
        None => None,
    };
    let history_location = args
        .history
        .clone()
        .unwrap_or_else(|| HistoryLocation::File(default_path(&loaded.root, &env.name, "history")));
    let cloudflare = if configured.services.is_empty() && !history_location.is_remote() {
        None
    } else {
        Some(sv_cli::context::cloudflare(&args.cloudflare, &runner)?)
    };
    let store = HistoryStore::open(history_location, env, cloudflare.as_ref()).await?;
    let probes = cloudflare
        .as_ref()
        .map(|c| crate::probes::probes(c, &configured.services))
        .unwrap_or_default();
    let client = sv_checks::http_client(concat!("sv-health/", env!("CARGO_PKG_VERSION")))?;
    let options = RunOptions {
        concurrency: args.concurrency.max(1),
        ..RunOptions::default()
    };
    let mut results = sv_checks::run_checks(&configured.specs, &probes, &client, &clock, &options)
        .await
        .map_err(sv_cli::InputError::new)?;

    let mut warnings = Vec::new();
    let mut history = store.load().await?;
    // `degraded_after` / `unhealthy_after`: judged against the runs before this one.
    sv_checks::streak::apply(&mut results, &configured.specs, &history);
    let appended = history.append(now, &results);
    if !args.dry_run {
        store.save(&mut history, &appended, now).await?;
    }

    let run_interval = TimeDelta::from_std(args.run_interval).unwrap_or(TimeDelta::minutes(5));
    let state_path = args
        .alert_state
        .clone()
        .unwrap_or_else(|| default_path(&loaded.root, &env.name, "alerts.json"));
    let mut actions: Vec<AlertAction> = Vec::new();
    let mut deliveries = Vec::new();
    let mut state_after = None;
    let policy = sv_checks::config::alert_policy(env, run_interval, args.degraded_is_failure);
    if let (false, Some(policy)) = (args.no_alert, policy) {
        let previous = read_state(&state_path)?;
        let gh_ctx = sv_cli::context::github(&runner)?;
        let github = match (&gh_ctx.token, &gh_ctx.repository) {
            (Some(_), Some(_)) => Some(gh_ctx.client().context("cannot build the GitHub client")?),
            _ => None,
        };
        let acks = acknowledgements(github.as_ref(), &previous, &mut warnings).await;
        let rollout = rollout_in_progress(&loaded.root, env, cloudflare.as_ref()).await;
        let maintenance = env.maintenance_at(now).map(ToString::to_string);
        let outcome = sv_checks::alert::evaluate(
            &previous,
            &policy,
            &sv_checks::AlertInput {
                results: &results,
                acknowledgements: &acks,
                deploy_in_progress: rollout,
                maintenance: maintenance.as_deref(),
                now,
            },
        );
        let mut state = outcome.state;
        actions = outcome.actions;
        if args.dry_run {
            warnings.push("dry run: alerts evaluated, nothing sent or written".to_owned());
        } else {
            let channels = sv_checks::config::channels(env);
            let dead = sv_audit::DeadLetterQueue::new(
                loaded
                    .root
                    .join(".sv")
                    .join("health")
                    .join("dead-letter.jsonl"),
            );
            let notifier = Notifier::new(client.clone(), Arc::new(SystemClock), Some(dead));
            let retried = notifier
                .retry_dead_letters(|name| match channels.get(name) {
                    Some(sv_checks::config::Channel::Webhook(h)) => Some(h.clone()),
                    _ => None,
                })
                .await;
            match retried {
                Ok(r) if r.requeued > 0 => warnings.push(format!(
                    "{} earlier undelivered message(s) failed again and stay queued",
                    r.requeued
                )),
                Ok(_) => {}
                Err(e) => warnings.push(format!("retrying undelivered messages: {e}")),
            }
            let mut links = Vec::new();
            if let Some(url) = &gh_ctx.run_url {
                links.push(Link {
                    label: "Workflow run".to_owned(),
                    url: url.clone(),
                });
            }
            let dispatcher = Dispatcher {
                environment: &env.name,
                channels: &channels,
                notify_recovery: env
                    .config
                    .health
                    .alert
                    .as_ref()
                    .is_none_or(|a| a.notify_recovery),
                notifier: &notifier,
                github: github.as_ref(),
                context: NotifyContext {
                    environment: Some(env.name.clone()),
                    now,
                    links,
                    issue_url_base: gh_ctx.repository.as_ref().map(|r| {
                        format!(
                            "{}/{}/{}/issues/",
                            gh_ctx.server_url.as_str().trim_end_matches('/'),
                            r.owner,
                            r.name
                        )
                    }),
                },
                audit: &sv_audit::AuditLog::new(sv_audit::AuditLog::default_path(&loaded.root)),
                actor: gh_ctx
                    .actor
                    .clone()
                    .unwrap_or_else(|| sv_audit::Actor::from_env(sv_cli::env_vars::process_env).0),
                run_url: gh_ctx.run_url.clone(),
                now,
            };
            deliveries = dispatcher.dispatch(&actions, &mut state).await;
            write_atomically(&state_path, &state.to_json())
                .with_context(|| format!("cannot write {}", state_path.display()))?;
        }
        state_after = Some(state);
    }

    let report = HealthReport::build(&ReportInput {
        environment: Some(&env.name),
        results: &results,
        history: &history,
        alert_state: state_after.as_ref(),
        actions: &actions,
        expected_interval: run_interval,
        silences: &sv_checks::config::silences(env),
        now,
    });
    let pr_comment = pr_comment(
        explicit_comment,
        &args,
        &runner,
        &env.name,
        &report,
        &mut warnings,
    )
    .await;
    let output = CheckOutput {
        report,
        deliveries,
        warnings,
        pr_comment,
    };
    global.output().print(&output)?;
    if runner.is_active() {
        runner.set_output("status", output.report.overall.as_str())?;
        runner.set_output("history-path", &store.location().to_string())?;
        if let Some(url) = output.pr_comment.as_ref().and_then(|c| c.url.as_deref()) {
            runner.set_output("comment-url", url)?;
        }
        runner.append_summary(&output.markdown())?;
    }
    Ok(
        match sv_checks::exit_code(&results, args.degraded_is_failure) {
            0 => ExitStatus::Success,
            _ => ExitStatus::Failure,
        },
    )
}

/// Posts the report as the sticky PR comment: on `--comment-pr N`, or on the pull request
/// of a `pull_request` run that has a token (unless `--no-comment`). Never with
/// `--dry-run`; a failure is reported, and the health verdict stands.
async fn pr_comment(
    explicit: Option<(sv_github::GitHubContext, u64)>,
    args: &CheckArgs,
    runner: &sv_actions::Runner,
    env: &str,
    report: &HealthReport,
    warnings: &mut Vec<String>,
) -> Option<PrComment> {
    let (gh, pr) = match explicit {
        Some(target) => target,
        None if args.no_comment => return None,
        None => {
            let gh = match sv_cli::context::github(runner) {
                Ok(gh) => gh,
                Err(e) => {
                    warnings.push(format!("no PR comment: {e:#}"));
                    return None;
                }
            };
            match (gh.pr_number, &gh.token, &gh.repository) {
                (Some(pr), Some(_), Some(_)) => (gh, pr),
                _ => return None,
            }
        }
    };
    if args.dry_run {
        warnings.push(format!("dry run: PR comment on #{pr} not posted"));
        return None;
    }
    let body = crate::comment::body(&report.markdown(), gh.sha.as_deref(), gh.run_url.as_deref());
    Some(crate::comment::post(&gh, env, pr, &body).await)
}

/// Reads an alert state file; a missing file is a fresh state.
pub fn read_state(path: &Path) -> anyhow::Result<AlertState> {
    match std::fs::read(path) {
        Ok(bytes) => AlertState::from_json(&bytes)
            .with_context(|| format!("cannot read alert state {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AlertState::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// `/ack` comments on the issues of open incidents.
async fn acknowledgements(
    github: Option<&sv_github::GitHub>,
    state: &AlertState,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, sv_checks::Ack> {
    let mut acks = BTreeMap::new();
    let Some(gh) = github else {
        return acks;
    };
    for (check, incident) in state.open_incidents() {
        let (Some(issue), None) = (incident.issue, &incident.acknowledged) else {
            continue;
        };
        match gh.list_issue_comments(issue).await {
            Ok(comments) => {
                let comments: Vec<sv_checks::IssueComment> = comments
                    .into_iter()
                    .map(|c| sv_checks::IssueComment {
                        author: c.user.login,
                        body: c.body,
                        created_at: c.created_at,
                    })
                    .collect();
                if let Some(ack) = sv_checks::find_ack(&comments, incident.opened_at, &[]) {
                    acks.insert(check.to_owned(), ack);
                }
            }
            Err(e) => warnings.push(format!("reading comments of issue #{issue}: {e}")),
        }
    }
    acks
}

/// Whether an sv-deploy rollout of this environment is under way: the marker file
/// `.sv/deployments/<env>.rollout` exists, or a worker of the environment currently splits
/// traffic between two versions (a gradual deployment that has not reached 100%).
async fn rollout_in_progress(
    root: &Path,
    env: &Environment,
    cloudflare: Option<&sv_cloudflare::Client>,
) -> bool {
    if rollout_marker(root, &env.name).exists() {
        return true;
    }
    let Some(client) = cloudflare else {
        return false;
    };
    for worker in env.resources_of(ResourceKind::Worker) {
        if let Ok(deployments) = client.workers().list_deployments(&worker.name).await
            && deployments.first().is_some_and(|d| d.versions.len() > 1)
        {
            return true;
        }
    }
    false
}

/// The newest time in a history, for reports that are rendered from the file only.
pub fn latest_run(history: &History) -> Option<DateTime<Utc>> {
    history.runs().last().map(|r| r.at)
}
