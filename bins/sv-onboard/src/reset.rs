//! `sv-onboard reset --developer NAME --yes`: deletes the developer's resources — exactly
//! those in the developer's own state (`.sv/state/dev-NAME.json`), through `converge` with
//! destroy — and local state, then runs setup again. Env files and the generated wrangler
//! config are not deleted: setup rewrites what is sv's in them and keeps what is the
//! developer's.

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use sv_cli::{CloudflareArgs, ExitStatus, GlobalArgs, input_error};
use sv_planner::{Action, PlanOptions};
use sv_report::{Render, Styles};

use crate::ctx::Ctx;
use crate::record::{self, DevStatus};
use crate::setup::{self, SetupReport};

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Developer whose environment to reset [default: the only one set up in this checkout]
    #[arg(long, env = "SV_DEVELOPER", value_name = "NAME")]
    pub developer: Option<String>,
    /// Really delete (reset refuses to run without it)
    #[arg(long)]
    pub yes: bool,
    /// Show what would be deleted; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not load `onboarding.seed` data into the recreated databases
    #[arg(long)]
    pub no_seed: bool,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

#[derive(Debug, Serialize)]
pub struct ResetReport {
    pub environment: String,
    pub dry_run: bool,
    /// `kv.sessions (dev-alice-sessions)`.
    pub deleted: Vec<String>,
    pub local_state_removed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<SetupReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Render for ResetReport {
    fn human(&self, s: &Styles) -> String {
        let mut out = String::new();
        let verb = if self.dry_run {
            "Would delete"
        } else {
            "Deleted"
        };
        out.push_str(&s.bold(&format!("Reset of {}", self.environment)));
        out.push('\n');
        if self.deleted.is_empty() {
            out.push_str(&format!("  {verb}: no resources (none in state)\n"));
        }
        for d in &self.deleted {
            out.push_str(&format!("  {verb} {d}\n"));
        }
        for f in &self.local_state_removed {
            let v = if self.dry_run {
                "Would remove"
            } else {
                "Removed"
            };
            out.push_str(&format!("  {v} {f}\n"));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("{} {e}\n", s.red("error:")));
        }
        if let Some(setup) = &self.setup {
            out.push('\n');
            out.push_str(&setup.human(s));
        } else if self.dry_run {
            out.push_str("Then setup runs again. Nothing was changed (dry run).\n");
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("### sv-onboard reset: `{}`\n\n", self.environment);
        for d in &self.deleted {
            out.push_str(&format!("- deleted {}\n", sv_report::markdown_escape(d)));
        }
        if let Some(setup) = &self.setup {
            out.push('\n');
            out.push_str(&setup.markdown());
        }
        out
    }
}

/// `--developer`, else `SV_DEVELOPER`, else the only developer set up in this checkout.
pub fn pick_developer(ctx: &Ctx, given: Option<String>) -> anyhow::Result<String> {
    if let Some(d) = given {
        return Ok(d);
    }
    let all = record::all(&ctx.root());
    let mut names = all.keys();
    match (names.next(), names.next()) {
        (Some(one), None) => Ok(one.clone()),
        (None, _) => Err(input_error(anyhow::anyhow!(
            "no developer environment is set up in this checkout: pass --developer NAME (or run `sv-onboard setup --developer NAME` first)"
        ))),
        _ => Err(input_error(anyhow::anyhow!(
            "several developers are set up here ({}): pass --developer NAME",
            all.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
    }
}

pub async fn run(global: &GlobalArgs, args: ResetArgs) -> anyhow::Result<ExitStatus> {
    let ctx = Ctx::new(global)?;
    let developer = pick_developer(&ctx, args.developer)?;
    let env = ctx.developer_env(&developer)?;
    let client = ctx.client(&args.cloudflare)?;
    let store = ctx.store(&env);
    let root = ctx.root();
    let state_file = store.path().to_owned();
    let record_file = record::path(&root, &developer);
    let rel = |p: &std::path::Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();

    let planned = sv_infra::plan_environment(&ctx.request(
        &client,
        &env,
        &store,
        PlanOptions {
            destroy: true,
            targets: Vec::new(),
            protect: false,
            allow_data_loss: true,
        },
        "onboard.reset",
    ))
    .await
    .with_context(|| format!("planning the reset of {}", env.name))?;
    let deleting: Vec<String> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| format!("{} ({})", c.address, c.name))
        .collect();
    let local: Vec<String> = [&state_file]
        .into_iter()
        .filter(|p| p.exists())
        .map(|p| rel(p))
        .collect();

    if args.dry_run || !args.yes {
        let report = ResetReport {
            environment: env.name.clone(),
            dry_run: true,
            deleted: deleting,
            local_state_removed: local,
            setup: None,
            error: None,
        };
        if !args.dry_run {
            global.output().print(&report)?;
            return Err(input_error(anyhow::anyhow!(
                "reset deletes the resources above and their data: re-run with --yes"
            )));
        }
        ctx.audit(
            &env.name,
            "onboard.reset",
            &env.name,
            sv_audit::Outcome::DryRun,
            None,
        )?;
        global.output().print(&report)?;
        return Ok(ExitStatus::Success);
    }

    let converged = ctx
        .destroy(&client, &env, Vec::new(), "onboard.reset")
        .await?;
    if !converged.succeeded() {
        let failed: Vec<String> = converged
            .report
            .iter()
            .flat_map(|r| &r.results)
            .filter_map(|r| match &r.outcome {
                sv_infra::OpOutcome::Failed { error } => Some(format!("{}: {error}", r.address)),
                _ => None,
            })
            .collect();
        let msg = format!(
            "deleting failed: {}; state keeps what remains, re-run reset",
            failed.join("; ")
        );
        ctx.audit(
            &env.name,
            "onboard.reset",
            &env.name,
            sv_audit::Outcome::Failed,
            Some(msg.clone()),
        )?;
        let report = ResetReport {
            environment: env.name.clone(),
            dry_run: false,
            deleted: deleting,
            local_state_removed: Vec::new(),
            setup: None,
            error: Some(msg),
        };
        global.output().print(&report)?;
        return Ok(ExitStatus::Failure);
    }
    for p in [&state_file] {
        match std::fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("cannot remove {}", p.display())));
            }
        }
    }
    // Keep what sv wrote into env files (for the merge); forget resources and seeds.
    let carried = record::load(&root, &developer)?.map(|mut r| {
        r.resources.clear();
        r.seeded.clear();
        r.status = DevStatus::Initializing;
        r
    });
    if let Some(r) = &carried {
        crate::steps::write_atomic(&record_file, &record::to_bytes(r))?;
    }
    ctx.audit(
        &env.name,
        "onboard.reset",
        &env.name,
        sv_audit::Outcome::Succeeded,
        Some(format!("deleted {}", deleting.len())),
    )?;
    let setup = setup::execute(
        &ctx,
        &client,
        &developer,
        &setup::Options {
            dry_run: false,
            no_seed: args.no_seed,
        },
        carried,
    )
    .await?;
    let failed = setup.error.is_some();
    let report = ResetReport {
        environment: env.name.clone(),
        dry_run: false,
        deleted: deleting,
        local_state_removed: local,
        setup: Some(setup),
        error: None,
    };
    ctx.runner.append_summary(&report.markdown())?;
    global.output().print(&report)?;
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
