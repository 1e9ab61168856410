//! The subcommands: orchestration between config, state, the live account and the planner.

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::Context as _;
use sv_audit::{AuditRecord, Outcome};
use sv_cli::{ExitStatus, input_error};
use sv_config::Operation;
use sv_infra::ExecContext;
use sv_planner::{LockInfo, Plan, PlanOptions, Render as _, State};

use crate::args::{ApplyArgs, DestroyArgs, ImportArgs, PlanArgs, RefreshArgs, StateCommand};
use crate::ctx::Ctx;
use crate::report::{ApplyOutput, Message, StateEntry, StateList, StateShow};

/// Holds the state lock for one command; released on drop (also on error).
struct LockGuard<'a> {
    ctx: &'a Ctx,
    id: String,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // A failed release leaves a lock that `state unlock` breaks; nothing else to do here.
        let _ = self.ctx.store.unlock(&self.id);
    }
}

fn lock<'a>(
    ctx: &'a Ctx,
    operation: &str,
    reason: Option<String>,
) -> anyhow::Result<LockGuard<'a>> {
    let info = LockInfo {
        id: uuid::Uuid::new_v4().to_string(),
        owner: ctx.actor().0,
        operation: operation.to_owned(),
        reason,
        created_at: chrono::Utc::now(),
        run_url: ctx.run_url(),
    };
    ctx.store
        .lock(&info)
        .with_context(|| format!("cannot lock state {}", ctx.store.describe()))?;
    Ok(LockGuard { ctx, id: info.id })
}

pub(crate) fn audit(
    ctx: &Ctx,
    operation: &str,
    target: &str,
    result: Outcome,
    detail: Option<String>,
) -> anyhow::Result<()> {
    ctx.audit()
        .append(&AuditRecord {
            time: chrono::Utc::now(),
            actor: ctx.actor().0,
            tool: "sv-plan".into(),
            environment: Some(ctx.env_name.clone()),
            operation: operation.to_owned(),
            target: target.to_owned(),
            result,
            detail,
            run_url: ctx.run_url(),
        })
        .context("cannot append to the audit trail")
}

fn authorize(ctx: &Ctx, op: Operation, name: &str) -> anyhow::Result<()> {
    let actor = ctx.actor();
    if let Err(e) = ctx.env().authorize(&actor.0, op) {
        audit(
            ctx,
            name,
            &ctx.env_name,
            Outcome::Denied,
            Some(e.to_string()),
        )?;
        return Err(e.into());
    }
    Ok(())
}

fn write_actions_outputs(ctx: &Ctx, plan: &Plan, plan_path: Option<&Path>) -> anyhow::Result<()> {
    if !ctx.runner.is_active() {
        return Ok(());
    }
    let s = plan.summary;
    let outputs = [
        ("has-changes", s.has_changes().to_string()),
        ("create", s.create.to_string()),
        ("update", s.update.to_string()),
        ("replace", s.replace.to_string()),
        ("delete", s.delete.to_string()),
        (
            "plan-path",
            plan_path
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
    ];
    for (k, v) in outputs {
        ctx.runner
            .set_output(k, &v)
            .context("cannot write step outputs")?;
    }
    ctx.runner
        .append_summary(&plan.markdown())
        .context("cannot write the job summary")?;
    Ok(())
}

pub async fn plan(ctx: &Ctx, args: &PlanArgs) -> anyhow::Result<ExitStatus> {
    ctx.warn_if_state_is_ephemeral();
    let planned = ctx
        .plan(args.flags.options(ctx.env().protect, false))
        .await?;
    let plan = &planned.plan;
    if !ctx.global.quiet {
        writeln!(
            std::io::stderr(),
            "Read the account with {} API request(s).",
            ctx.client()?.requests_sent()
        )?;
    }
    if let Some(out) = &args.out {
        let text = serde_json::to_string_pretty(plan)?;
        std::fs::write(out, text + "\n")
            .with_context(|| format!("cannot write the plan to {}", out.display()))?;
    }
    ctx.global.output().print(plan)?;
    write_actions_outputs(ctx, plan, args.out.as_deref())?;
    if args.comment {
        let gh = sv_cli::context::github(&ctx.runner)?;
        match gh.pr_number {
            Some(pr) => {
                let message = crate::github::post_comment(&gh, plan, pr).await?;
                tracing::info!("{message}");
            }
            None => tracing::info!("--comment: not a pull_request run, no comment posted"),
        }
    }
    Ok(if args.detailed_exitcode && plan.summary.has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}

fn read_saved_plan(path: &Path) -> anyhow::Result<Plan> {
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

fn confirm(plan: &Plan, verb: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(input_error(anyhow::anyhow!(
            "stdin is not a terminal, so {verb} cannot ask for confirmation: review the plan \
             and pass --auto-approve, or apply a saved plan (`sv-plan plan --out PLAN`)"
        )));
    }
    let mut err = std::io::stderr().lock();
    write!(
        err,
        "{}\nDo you want to {verb} these changes? Only `yes` is accepted: ",
        plan.human(&sv_planner::Styles::new(false))
    )?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

struct RunRequest<'a> {
    operation: Operation,
    name: &'static str,
    saved: Option<&'a Path>,
    options: PlanOptions,
    auto_approve: bool,
    dry_run: bool,
    concurrency: usize,
    reason: Option<String>,
    no_backup: bool,
    failure_issue: bool,
}

async fn run_plan(ctx: &Ctx, req: RunRequest<'_>) -> anyhow::Result<ExitStatus> {
    let saved = req.saved.map(read_saved_plan).transpose()?;
    let operation = match &saved {
        Some(plan) if plan.destroy => Operation::Destroy,
        _ => req.operation,
    };
    authorize(ctx, operation, req.name)?;
    ctx.warn_if_state_is_ephemeral();
    let _guard = if req.dry_run {
        None
    } else {
        Some(lock(ctx, req.name, req.reason.clone())?)
    };
    let (plan, mut planned) = match saved {
        Some(saved) => {
            let fresh = ctx
                .plan(PlanOptions {
                    destroy: saved.destroy,
                    allow_data_loss: true,
                    ..PlanOptions::default()
                })
                .await?;
            saved.check_fresh(&fresh.plan).map_err(input_error)?;
            (saved, fresh)
        }
        None => {
            let fresh = ctx.plan(req.options.clone()).await?;
            (fresh.plan.clone(), fresh)
        }
    };
    if req.dry_run {
        audit(ctx, req.name, &ctx.env_name, Outcome::DryRun, None)?;
        ctx.global.output().print(&plan)?;
        return Ok(ExitStatus::Success);
    }
    if !planned.adopted.is_empty() {
        // Recorded at once: adoption needs no confirmation, it changes nothing remote.
        crate::ctx::stamp_lineage(&mut planned.state);
        ctx.store
            .save(&planned.state)
            .with_context(|| format!("cannot write state {}", ctx.store.describe()))?;
    }
    if !plan.summary.has_changes() {
        ctx.global.output().print(&plan)?;
        return Ok(ExitStatus::Success);
    }
    check_token_scope(ctx, &plan, planned.inventory.zone_id.as_deref()).await?;
    let backup = crate::backup::prepare(ctx, &plan, &planned.state, req.name, req.no_backup)?;
    if req.saved.is_none() && !req.auto_approve && !confirm(&plan, req.name)? {
        return Err(anyhow::anyhow!(
            "{} cancelled: nothing was changed",
            req.name
        ));
    }
    let backup_path = match backup {
        Some(pending) => Some(crate::backup::take(ctx, pending, req.name).await?),
        None => None,
    };
    let exec = ExecContext {
        client: ctx.client()?,
        zone_id: planned.inventory.zone_id.clone(),
        migration_dirs: sv_infra::desired::migration_dirs(ctx.env(), &ctx.root()),
        concurrency: req.concurrency,
    };
    let mut state = planned.state;
    crate::ctx::stamp_lineage(&mut state);
    let (report, _state) = sv_infra::execute(&plan, &exec, ctx.store.as_ref(), state)
        .await
        .context("state could not be written during apply")?;
    for op in &report.results {
        let (result, detail) = match &op.outcome {
            sv_infra::OpOutcome::Done { .. } => (Outcome::Succeeded, None),
            sv_infra::OpOutcome::Failed { error } => (Outcome::Failed, Some(error.clone())),
            sv_infra::OpOutcome::NotStarted | sv_infra::OpOutcome::Deferred { .. } => continue,
        };
        let action = serde_json::to_value(op.action)?;
        audit(
            ctx,
            &format!("{}.{}", req.name, action.as_str().unwrap_or_default()),
            &op.address.to_string(),
            result,
            detail,
        )?;
    }
    let succeeded = report.succeeded;
    // The apply's own result stands whatever GitHub says: a failure to file the issue is
    // reported, not turned into a failed apply.
    let issue_note = if req.failure_issue {
        Some(
            crate::github::failure_issue(ctx, &report)
                .await
                .unwrap_or_else(|e| format!("warning: no failed-apply issue: {e:#}")),
        )
    } else {
        None
    };
    let output = ApplyOutput {
        report,
        backup: backup_path.map(|p| p.display().to_string()),
    };
    ctx.global.output().print(&output)?;
    if let Some(note) = issue_note {
        tracing::info!("{note}");
        if !ctx.global.quiet {
            writeln!(std::io::stderr(), "{note}")?;
        }
    }
    if ctx.runner.is_active() {
        ctx.runner
            .append_summary(&sv_planner::Render::markdown(&output))
            .context("cannot write the job summary")?;
        ctx.runner
            .set_output("applied", &succeeded.to_string())
            .context("cannot write step outputs")?;
        if let Some(path) = &output.backup {
            // Absolute, for the upload step of actions/apply.
            let absolute = std::fs::canonicalize(path)
                .map_or_else(|_| path.clone(), |p| p.display().to_string());
            ctx.runner
                .set_output("backup-path", &absolute)
                .context("cannot write step outputs")?;
        }
    }
    Ok(if succeeded {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// The write-scope check before an apply or destroy changes anything.
async fn check_token_scope(ctx: &Ctx, plan: &Plan, zone_id: Option<&str>) -> anyhow::Result<()> {
    let zone = ctx.env().zone.as_deref().zip(zone_id);
    let check = sv_infra::scope::check_write_scope(ctx.client()?, plan, zone).await;
    crate::ctx::enforce_scope(check, crate::ctx::ScopeFor::Applying)
}

pub async fn apply(ctx: &Ctx, args: &ApplyArgs) -> anyhow::Result<ExitStatus> {
    run_plan(
        ctx,
        RunRequest {
            operation: Operation::Apply,
            name: "apply",
            saved: args.plan.as_deref(),
            options: args.flags.options(ctx.env().protect, false),
            auto_approve: args.auto_approve,
            dry_run: args.dry_run,
            concurrency: args.concurrency,
            reason: args.reason.clone(),
            no_backup: args.no_backup,
            failure_issue: args.failure_issue,
        },
    )
    .await
}

pub async fn destroy(ctx: &Ctx, args: &DestroyArgs) -> anyhow::Result<ExitStatus> {
    run_plan(
        ctx,
        RunRequest {
            operation: Operation::Destroy,
            name: "destroy",
            saved: None,
            options: args.flags.options(ctx.env().protect, true),
            auto_approve: args.auto_approve,
            dry_run: args.dry_run,
            concurrency: args.concurrency,
            reason: None,
            no_backup: args.no_backup,
            failure_issue: false,
        },
    )
    .await
}

fn save_state(ctx: &Ctx, state: &mut State) -> anyhow::Result<()> {
    crate::ctx::stamp_lineage(state);
    state.serial += 1;
    ctx.store.save(state).context("cannot write state")
}

pub async fn state(ctx: &Ctx, cmd: &StateCommand) -> anyhow::Result<ExitStatus> {
    let out = ctx.global.output();
    match cmd {
        StateCommand::List => {
            let state = ctx.load_state()?;
            out.print(&StateList {
                environment: state.environment.clone(),
                serial: state.serial,
                resources: state
                    .resources
                    .iter()
                    .map(|(a, r)| StateEntry {
                        address: a.clone(),
                        id: r.id.clone(),
                        name: r.name.clone(),
                    })
                    .collect(),
            })?;
        }
        StateCommand::Show { address } => {
            let state = ctx.load_state()?;
            let resource = state.resources.get(address).cloned().ok_or_else(|| {
                input_error(anyhow::anyhow!(
                    "{address} is not in the state of `{}`",
                    ctx.env_name
                ))
            })?;
            out.print(&StateShow {
                address: address.clone(),
                resource,
            })?;
        }
        StateCommand::Rm { address, dry_run } => {
            let _guard = if *dry_run {
                None
            } else {
                Some(lock(ctx, "state rm", None)?)
            };
            let mut state = ctx.load_state()?;
            if !state.resources.contains_key(address) {
                return Err(input_error(anyhow::anyhow!(
                    "{address} is not in the state of `{}`",
                    ctx.env_name
                )));
            }
            if *dry_run {
                out.print(&Message {
                    message: format!("Would forget {address} (it stays in Cloudflare)."),
                    serial: None,
                })?;
                return Ok(ExitStatus::Success);
            }
            state.resources.remove(address);
            save_state(ctx, &mut state)?;
            audit(
                ctx,
                "state rm",
                &address.to_string(),
                Outcome::Succeeded,
                None,
            )?;
            out.print(&Message {
                message: format!(
                    "Forgot {address}: it stays in Cloudflare and is no longer managed by sv."
                ),
                serial: Some(state.serial),
            })?;
        }
        StateCommand::Unlock { id } => {
            ctx.store.unlock(id).map_err(input_error)?;
            audit(ctx, "state unlock", id, Outcome::Succeeded, None)?;
            out.print(&Message {
                message: format!("Released lock {id}."),
                serial: None,
            })?;
        }
    }
    Ok(ExitStatus::Success)
}

pub async fn import(ctx: &Ctx, args: &ImportArgs) -> anyhow::Result<ExitStatus> {
    authorize(ctx, Operation::Apply, "import")?;
    let desired = ctx.desired()?;
    let want = desired
        .iter()
        .find(|d| d.address == args.address)
        .ok_or_else(|| {
            input_error(anyhow::anyhow!(
                "{} is not declared in sv.yaml for environment `{}`",
                args.address,
                ctx.env_name
            ))
        })?;
    let _guard = if args.dry_run {
        None
    } else {
        Some(lock(ctx, "import", None)?)
    };
    let mut state = ctx.load_state()?;
    if let Some(existing) = state.resources.get(&args.address) {
        return Err(input_error(anyhow::anyhow!(
            "{} is already managed (id {}); `sv-plan state rm {}` first to adopt another",
            args.address,
            existing.id,
            args.address
        )));
    }
    let inventory = ctx.inventory(&state, &desired).await?;
    let live = inventory
        .observed
        .iter()
        .find(|o| o.kind == args.address.kind && o.id == args.id)
        .ok_or_else(|| {
            input_error(anyhow::anyhow!(
                "no {} with id `{}` exists in the account",
                args.address.kind.label(),
                args.id
            ))
        })?;
    let resource = sv_infra::adopt::adopted_resource(ctx.client()?, live, want).await?;
    let message = format!(
        "Imported {} as {} (id {}); run `sv-plan plan` to see how it differs from sv.yaml.",
        live.name, args.address, live.id
    );
    if args.dry_run {
        ctx.global.output().print(&Message {
            message: format!(
                "Would import {} as {} (id {}).",
                live.name, args.address, live.id
            ),
            serial: None,
        })?;
        return Ok(ExitStatus::Success);
    }
    state.resources.insert(args.address.clone(), resource);
    save_state(ctx, &mut state)?;
    audit(
        ctx,
        "import",
        &args.address.to_string(),
        Outcome::Succeeded,
        Some(live.id.clone()),
    )?;
    ctx.global.output().print(&Message {
        message,
        serial: Some(state.serial),
    })?;
    Ok(ExitStatus::Success)
}

pub async fn refresh(ctx: &Ctx, args: &RefreshArgs) -> anyhow::Result<ExitStatus> {
    let _guard = if args.dry_run {
        None
    } else {
        Some(lock(ctx, "refresh", None)?)
    };
    let mut state = ctx.load_state()?;
    let inventory = ctx.inventory(&state, &[]).await?;
    let mut changed = Vec::new();
    let mut gone = Vec::new();
    for (address, managed) in &mut state.resources {
        match inventory
            .observed
            .iter()
            .find(|o| o.kind == managed.kind && o.id == managed.id)
        {
            None => gone.push(address.clone()),
            Some(live) => {
                for (k, v) in &mut managed.attributes {
                    if let Some(l) = live.attributes.get(k)
                        && l != v
                    {
                        *v = l.clone();
                        changed.push(format!("{address}.{k}"));
                    }
                }
            }
        }
    }
    for a in &gone {
        state.resources.remove(a);
    }
    let mut message = format!(
        "{} attribute(s) updated from the live account, {} resource(s) gone and forgotten",
        changed.len(),
        gone.len()
    );
    if !changed.is_empty() || !gone.is_empty() {
        let all: Vec<String> = changed
            .iter()
            .cloned()
            .chain(gone.iter().map(|a| format!("{a} (gone)")))
            .collect();
        message.push_str(&format!(": {}", all.join(", ")));
    }
    if args.dry_run || (changed.is_empty() && gone.is_empty()) {
        ctx.global.output().print(&Message {
            message: format!(
                "{message}{}.",
                if args.dry_run {
                    " (dry run: state unchanged)"
                } else {
                    ""
                }
            ),
            serial: None,
        })?;
        return Ok(ExitStatus::Success);
    }
    save_state(ctx, &mut state)?;
    audit(
        ctx,
        "refresh",
        &ctx.env_name,
        Outcome::Succeeded,
        Some(message.clone()),
    )?;
    ctx.global.output().print(&Message {
        message: format!("{message}."),
        serial: Some(state.serial),
    })?;
    Ok(ExitStatus::Success)
}
