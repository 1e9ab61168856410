//! `sv-onboard setup --developer NAME`: the developer's isolated environment as a pipeline of
//! onboarding steps (see [`crate::steps`]): validate the name, guard the quota, create the
//! resources (through `sv_infra::converge`, which also applies D1 migrations), seed them,
//! write env files and the wrangler environment, and record the `DevelopmentEnvironment`.
//! A failing step rolls back everything this run made — and nothing else.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use sv_cli::{CloudflareArgs, ExitStatus, GlobalArgs, input_error};
use sv_config::{Environment, ResourceKind};
use sv_infra::StateStore as _;
use sv_planner::{Action, Address, PlanOptions, State};
use sv_report::{Render, Styles, markdown_escape};

use crate::ctx::{Ctx, planner_address};
use crate::devfiles::{self, FilePlan};
use crate::record::{self, DevResource, DevService, DevStatus, DevelopmentEnvironment};
use crate::steps::{Journal, StepInfo, StepReport, StepStatus, Undo};

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Developer name: lowercase letters, digits and hyphens (your resources get `dev-NAME-`)
    #[arg(long, env = "SV_DEVELOPER", value_name = "NAME")]
    pub developer: String,
    /// Show what would be created and written; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not load `onboarding.seed` data into new databases
    #[arg(long)]
    pub no_seed: bool,
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

pub const VALIDATE: StepInfo = StepInfo {
    id: "validate-name",
    name: "Validate name",
    description: "The name makes valid Cloudflare names that collide with nobody else's",
    required: true,
};
pub const QUOTA: StepInfo = StepInfo {
    id: "quota",
    name: "Quota",
    description: "No more than onboarding.max_resources_per_developer resources",
    required: true,
};
pub const RESOURCES: StepInfo = StepInfo {
    id: "resources",
    name: "Resources",
    description: "KV namespaces, D1 databases (migrated) and R2 buckets, prefixed",
    required: true,
};
pub const SEED: StepInfo = StepInfo {
    id: "seed",
    name: "Seed data",
    description: "onboarding.seed loaded into new databases and namespaces",
    required: false,
};
pub const ENV_FILES: StepInfo = StepInfo {
    id: "env-files",
    name: "Env files",
    description: "Each workspace's .env (and .dev.vars for workers), merged",
    required: true,
};
pub const WRANGLER: StepInfo = StepInfo {
    id: "wrangler-env",
    name: "Wrangler environment",
    description: "[env.dev-NAME] in a generated wrangler.dev-NAME config beside each worker's",
    required: true,
};
pub const GITIGNORE: StepInfo = StepInfo {
    id: "gitignore",
    name: "Git ignore",
    description: "Personal and generated files listed in .gitignore",
    required: false,
};
pub const RECORD: StepInfo = StepInfo {
    id: "record",
    name: "Record",
    description: "The DevelopmentEnvironment status in .sv/dev/NAME.json",
    required: true,
};

/// What setup did.
#[derive(Debug, Serialize)]
pub struct SetupReport {
    pub developer: String,
    pub environment: String,
    pub prefix: String,
    pub dry_run: bool,
    /// `ready`, `error`, or for a dry run `initializing`.
    pub status: DevStatus,
    /// False when a re-run found everything in place.
    pub changed: bool,
    pub steps: Vec<StepReport>,
    pub resources: Vec<DevResource>,
    pub files: Vec<FilePlan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rolled_back: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Render for SetupReport {
    fn human(&self, s: &Styles) -> String {
        let mut out = String::new();
        let head = if self.dry_run {
            format!(
                "Dry run: setup of {} (prefix {})",
                self.environment, self.prefix
            )
        } else {
            format!(
                "Developer environment {} (prefix {}): {}",
                self.environment,
                self.prefix,
                self.status.label()
            )
        };
        out.push_str(&s.bold(&head));
        out.push('\n');
        for step in &self.steps {
            let sym = match step.status {
                StepStatus::Failed => s.red(step.status.symbol()),
                StepStatus::Done => s.green(step.status.symbol()),
                StepStatus::RolledBack => s.yellow(step.status.symbol()),
                _ => step.status.symbol().to_owned(),
            };
            out.push_str(&format!("  {sym} {:<22}", step.name));
            let mut lines = step.details.iter();
            if let Some(first) = lines.next() {
                out.push_str(first);
            }
            out.push('\n');
            for l in lines {
                out.push_str(&format!("    {:<22}{l}\n", ""));
            }
        }
        if !self.rolled_back.is_empty() {
            out.push_str("Rolled back (only what this run made):\n");
            for r in &self.rolled_back {
                out.push_str(&format!("  {r}\n"));
            }
        }
        if self.error.is_some() {
            out.push_str(&format!(
                "{} setup failed (see the step above); everything this run made was rolled back. Fix the cause and re-run.\n",
                s.red("error:")
            ));
        } else if self.dry_run {
            out.push_str("Nothing was changed (dry run).\n");
        } else if !self.changed {
            out.push_str("Nothing changed: the environment was already set up.\n");
        } else {
            match self.files.iter().find(|f| is_wrangler(f)) {
                Some(f) => out.push_str(&format!(
                    "Next: `wrangler dev -c {} --env {}`, or `npm run dev`.\n",
                    f.path, self.environment
                )),
                None => out.push_str("Next: `npm run dev`.\n"),
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### sv-onboard setup: `{}` ({})\n\n| step | status | details |\n|---|---|---|\n",
            self.environment,
            if self.dry_run {
                "dry run"
            } else {
                self.status.label()
            }
        );
        for step in &self.steps {
            out.push_str(&format!(
                "| {} | {} {:?} | {} |\n",
                markdown_escape(step.name),
                step.status.symbol(),
                step.status,
                step.details
                    .iter()
                    .map(|d| markdown_escape(d))
                    .collect::<Vec<_>>()
                    .join("<br>")
            ));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("\n**Error:** {}\n", markdown_escape(e)));
        } else if !self.changed && !self.dry_run {
            out.push_str("\nNothing changed.\n");
        }
        out
    }
}

/// A resource name of the developer's environment that somebody else already uses.
fn data_store_names(env: &Environment) -> BTreeMap<(ResourceKind, String), String> {
    env.resources
        .values()
        .filter(|r| r.address.kind().holds_data())
        .map(|r| ((r.address.kind(), r.name.clone()), r.address.to_string()))
        .collect()
}

/// The name is refused when one of its resource names is also another developer's or a
/// named environment's.
fn local_collisions(ctx: &Ctx, developer: &str, env: &Environment) -> anyhow::Result<Vec<String>> {
    let ours = data_store_names(env);
    let mut found = Vec::new();
    let mut check = |other: &Environment, whose: String| {
        for (key, addr) in data_store_names(other) {
            if let Some(mine) = ours.get(&key) {
                found.push(format!(
                    "`{}` ({mine}) would also be {whose}'s {addr}",
                    key.1
                ));
            }
        }
    };
    for named in ctx.config.environments() {
        check(named, format!("environment `{}`", named.name));
    }
    for other in record::all(&ctx.root()).keys() {
        if other == developer {
            continue;
        }
        if let Ok(o) = ctx.config.developer_environment(other) {
            check(&o, format!("developer `{other}`"));
        }
    }
    Ok(found)
}

fn data_store_count(env: &Environment) -> usize {
    env.resources
        .values()
        .filter(|r| r.address.kind().holds_data())
        .count()
}

pub async fn run(global: &GlobalArgs, args: SetupArgs) -> anyhow::Result<ExitStatus> {
    let ctx = Ctx::new(global)?;
    let client = ctx.client(&args.cloudflare)?;
    let opts = Options {
        dry_run: args.dry_run,
        no_seed: args.no_seed,
    };
    let report = execute(&ctx, &client, &args.developer, &opts, None).await?;
    finish(&ctx, &report, "onboard.setup")
}

/// Prints the report, writes Actions outputs, and maps it to an exit status.
pub fn finish(ctx: &Ctx, report: &SetupReport, _op: &str) -> anyhow::Result<ExitStatus> {
    ctx.runner.set_output("environment", &report.environment)?;
    ctx.runner.set_output("status", report.status.label())?;
    ctx.runner.append_summary(&report.markdown())?;
    ctx.global.output().print(report)?;
    Ok(if report.error.is_some() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

pub struct Options {
    pub dry_run: bool,
    pub no_seed: bool,
}

/// Runs the pipeline. `Err` for input errors (bad name, collision, quota: exit 2) and for
/// failures that leave nothing to report; a failed step is an `Ok` report with `error` set
/// after rolling back.
pub async fn execute(
    ctx: &Ctx,
    client: &sv_cloudflare::Client,
    developer: &str,
    opts: &Options,
    carried: Option<DevelopmentEnvironment>,
) -> anyhow::Result<SetupReport> {
    let root = ctx.root();
    let env = ctx.developer_env(developer)?;
    let mut steps = Vec::new();

    // validate-name
    let collisions = local_collisions(ctx, developer, &env)?;
    if !collisions.is_empty() {
        ctx.audit(
            &env.name,
            "onboard.setup",
            &env.name,
            sv_audit::Outcome::Denied,
            Some("name collision".into()),
        )?;
        return Err(input_error(anyhow::anyhow!(
            "developer name `{developer}` collides: {}; choose another name",
            collisions.join("; ")
        )));
    }
    let store = ctx.store(&env);
    let planned = sv_infra::plan_environment(&ctx.request(
        client,
        &env,
        &store,
        PlanOptions::default(),
        "onboard.setup",
    ))
    .await
    .with_context(|| format!("planning {}", env.name))?;
    let mut live = Vec::new();
    for c in &planned.plan.changes {
        if c.action != Action::Create {
            continue;
        }
        if let Some(o) = planned
            .inventory
            .observed
            .iter()
            .find(|o| o.kind == c.kind && o.natural_key() == c.name)
        {
            live.push(format!(
                "{} `{}` (id {}) already exists in the account and is not in {}",
                c.kind.label(),
                c.name,
                o.id,
                store.describe()
            ));
        }
    }
    if !live.is_empty() {
        ctx.audit(
            &env.name,
            "onboard.setup",
            &env.name,
            sv_audit::Outcome::Denied,
            Some("resource name taken".into()),
        )?;
        return Err(input_error(anyhow::anyhow!(
            "developer name `{developer}` collides with resources that are not yours: {}. Choose another name; if they are yours from another checkout, adopt them with `sv-plan import`",
            live.join("; ")
        )));
    }
    let count = data_store_count(&env);
    steps.push(StepReport::new(
        VALIDATE,
        StepStatus::Unchanged,
        vec![format!(
            "`{developer}` → prefix `{}`; no name collides",
            env.prefix
        )],
    ));

    // quota
    if let Some(max) = ctx.config.config.onboarding.max_resources_per_developer
        && count > max as usize
    {
        ctx.audit(
            &env.name,
            "onboard.setup",
            &env.name,
            sv_audit::Outcome::Denied,
            Some("quota".into()),
        )?;
        return Err(input_error(anyhow::anyhow!(
            "{} would hold {count} resources, more than onboarding.max_resources_per_developer ({max}) allows: raise the limit in sv.yaml or declare fewer resources",
            env.name
        )));
    }
    let quota_text = match ctx.config.config.onboarding.max_resources_per_developer {
        Some(max) => format!("{count} of {max} resources allowed"),
        None => format!("{count} resources (no limit set)"),
    };
    steps.push(StepReport::new(
        QUOTA,
        StepStatus::Unchanged,
        vec![quota_text],
    ));

    let previous = match carried {
        Some(r) => Some(r),
        None => record::load(&root, developer)?,
    };
    let mut rec = previous.clone().unwrap_or_else(|| {
        DevelopmentEnvironment::new(developer, &env.name, &env.prefix, chrono::Utc::now())
    });

    if opts.dry_run {
        ctx.audit(
            &env.name,
            "onboard.setup",
            &env.name,
            sv_audit::Outcome::DryRun,
            None,
        )?;
        return dry_run_report(ctx, developer, &env, &planned, &rec, opts, steps);
    }

    let mut journal = Journal::default();
    let mut files = Vec::new();
    let mut run = Run {
        files: &mut files,
        ctx,
        client,
        env: &env,
        developer,
        opts,
        journal: &mut journal,
        steps: &mut steps,
        rec: &mut rec,
    };
    let result = run.pipeline(planned.plan.summary.has_changes()).await;
    let (changed, error) = match result {
        Ok(changed) => (changed, None),
        Err((step, e)) => {
            let msg = format!("{e:#}");
            steps.push(StepReport::new(step, StepStatus::Failed, vec![msg.clone()]));
            (true, Some(msg))
        }
    };
    let mut rolled_back = Vec::new();
    if let Some(msg) = &error {
        let undone = journal.steps();
        for (_, undo) in journal.drain_reverse() {
            match &undo {
                Undo::Resources(addrs) => {
                    let names: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                    match ctx.destroy(client, &env, addrs.clone(), "onboard.setup.rollback").await {
                        Ok(c) if c.succeeded() => rolled_back.push(format!("deleted {}", names.join(", "))),
                        Ok(_) => rolled_back.push(format!("could not delete all of {} (state keeps what remains; re-run setup or reset)", names.join(", "))),
                        Err(e) => rolled_back.push(format!("could not delete {}: {e:#}", names.join(", "))),
                    }
                }
                other => match crate::steps::undo_file(other) {
                    Ok(Some(line)) => rolled_back.push(rel(&root, &line)),
                    Ok(None) => {}
                    Err(e) => rolled_back.push(format!("{e:#}")),
                },
            }
        }
        for s in steps.iter_mut() {
            if s.status == StepStatus::Done && undone.contains(&s.id) {
                s.status = StepStatus::RolledBack;
            }
        }
        // The record says what happened; what it lists is what state still holds.
        let state = store.load().ok().flatten();
        rec.resources = resources_of(&env, state.as_ref());
        rec.status = DevStatus::Error;
        rec.error = Some(msg.clone());
        rec.updated_at = chrono::Utc::now();
        let path = record::path(&root, developer);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        crate::steps::write_atomic(&path, &record::to_bytes(&rec))?;
        ctx.audit(
            &env.name,
            "onboard.setup",
            &env.name,
            sv_audit::Outcome::Failed,
            Some(msg.clone()),
        )?;
    } else {
        ctx.audit(
            &env.name,
            "onboard.setup",
            &env.name,
            sv_audit::Outcome::Succeeded,
            Some(if changed {
                "set up".into()
            } else {
                "no changes".into()
            }),
        )?;
    }
    Ok(SetupReport {
        developer: developer.to_owned(),
        environment: env.name.clone(),
        prefix: env.prefix.clone(),
        dry_run: false,
        status: if error.is_some() {
            DevStatus::Error
        } else {
            DevStatus::Ready
        },
        changed,
        steps,
        resources: rec.resources.clone(),
        files,
        rolled_back,
        error,
    })
}

fn rel(root: &std::path::Path, line: &str) -> String {
    let r = format!("{}/", root.display());
    line.replace(&r, "")
}

fn resources_of(env: &Environment, state: Option<&State>) -> Vec<DevResource> {
    let Some(state) = state else {
        return Vec::new();
    };
    env.resources
        .values()
        .filter_map(|r| {
            let a = planner_address(&r.address)?;
            state.resources.get(&a).map(|s| DevResource {
                address: r.address.to_string(),
                name: s.name.clone(),
                id: s.id.clone(),
            })
        })
        .collect()
}

fn services(env: &Environment) -> Vec<DevService> {
    env.config
        .workspaces
        .iter()
        .map(|(n, w)| DevService {
            workspace: n.clone(),
            dev_command: w.dev.clone(),
        })
        .collect()
}

fn file_inputs<'a>(
    ctx: &'a Ctx,
    developer: &'a str,
    env: &'a Environment,
    state: &'a State,
    rec: &'a DevelopmentEnvironment,
) -> devfiles::Inputs<'a> {
    let base = ctx.config.base_environment();
    let base_prefix = ctx
        .config
        .config
        .environments
        .get(base)
        .map_or("", |e| e.prefix.as_str());
    devfiles::Inputs {
        root: &ctx.config.root,
        developer,
        env,
        base_prefix,
        state,
        written: &rec.written,
        account_id: env.account_id.as_deref(),
    }
}

fn file_line(f: &FilePlan) -> String {
    if let Some(n) = &f.note {
        return n.clone();
    }
    let verb = if !f.changes {
        "unchanged"
    } else if f.created {
        "created"
    } else {
        "updated"
    };
    let merge = f.merge.summary();
    if merge == "unchanged"
        || (f.merge.added.is_empty() && f.merge.changed.is_empty() && f.merge.kept.is_empty())
    {
        format!("{}: {verb}", f.path)
    } else {
        format!("{}: {verb} ({merge})", f.path)
    }
}

fn is_wrangler(f: &FilePlan) -> bool {
    f.path
        .rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with("wrangler."))
}

fn dry_run_report(
    ctx: &Ctx,
    developer: &str,
    env: &Environment,
    planned: &sv_infra::converge::Planned,
    rec: &DevelopmentEnvironment,
    opts: &Options,
    mut steps: Vec<StepReport>,
) -> anyhow::Result<SetupReport> {
    let creates: Vec<String> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| format!("{} {} ({})", c.action.verb(), c.address, c.name))
        .collect();
    let any = !creates.is_empty();
    steps.push(StepReport::new(
        RESOURCES,
        if any {
            StepStatus::WouldRun
        } else {
            StepStatus::Unchanged
        },
        if any {
            creates
        } else {
            vec!["all present".into()]
        },
    ));
    let seeds = pending_seeds(ctx, env, rec, opts);
    steps.push(StepReport::new(
        SEED,
        if seeds.is_empty() {
            StepStatus::Skipped
        } else {
            StepStatus::WouldRun
        },
        if seeds.is_empty() {
            vec!["nothing to seed".into()]
        } else {
            seeds
                .iter()
                .map(|(a, p)| format!("{a} ← {}", p.display()))
                .collect()
        },
    ));
    let files = devfiles::plan(&file_inputs(ctx, developer, env, &planned.state, rec))?;
    for (info, wrangler) in [(ENV_FILES, false), (WRANGLER, true)] {
        let mine: Vec<&FilePlan> = files
            .iter()
            .filter(|f| is_wrangler(f) == wrangler)
            .collect();
        let status = if mine.iter().any(|f| f.changes) {
            StepStatus::WouldRun
        } else {
            StepStatus::Unchanged
        };
        steps.push(StepReport::new(
            info,
            status,
            mine.iter().map(|f| file_line(f)).collect(),
        ));
    }
    let changed = steps.iter().any(|s| s.status == StepStatus::WouldRun);
    Ok(SetupReport {
        developer: developer.to_owned(),
        environment: env.name.clone(),
        prefix: env.prefix.clone(),
        dry_run: true,
        status: DevStatus::Initializing,
        changed,
        steps,
        resources: rec.resources.clone(),
        files,
        rolled_back: Vec::new(),
        error: None,
    })
}

fn pending_seeds(
    ctx: &Ctx,
    env: &Environment,
    rec: &DevelopmentEnvironment,
    opts: &Options,
) -> Vec<(sv_config::ResourceAddress, std::path::PathBuf)> {
    if opts.no_seed {
        return Vec::new();
    }
    ctx.config
        .config
        .onboarding
        .seed
        .iter()
        .filter(|(a, _)| env.resources.contains_key(*a) && !rec.seeded.contains(&a.to_string()))
        .map(|(a, p)| (a.clone(), p.clone()))
        .collect()
}

type StepError = (StepInfo, anyhow::Error);

struct Run<'a> {
    ctx: &'a Ctx,
    client: &'a sv_cloudflare::Client,
    env: &'a Environment,
    developer: &'a str,
    opts: &'a Options,
    journal: &'a mut Journal,
    files: &'a mut Vec<FilePlan>,
    steps: &'a mut Vec<StepReport>,
    rec: &'a mut DevelopmentEnvironment,
}

impl Run<'_> {
    /// Returns whether anything changed.
    async fn pipeline(&mut self, resources_change: bool) -> Result<bool, StepError> {
        let root = self.ctx.root();
        let store = self.ctx.store(self.env);
        let mut changed = false;

        // resources
        if resources_change {
            let req = self.ctx.request(
                self.client,
                self.env,
                &store,
                PlanOptions::default(),
                "onboard.setup",
            );
            let converged = sv_infra::converge(&req)
                .await
                .map_err(|e| (RESOURCES, anyhow::Error::new(e)))?;
            let mut created = Vec::new();
            let mut lines = Vec::new();
            let mut failed = Vec::new();
            if let Some(report) = &converged.report {
                for r in &report.results {
                    match &r.outcome {
                        sv_infra::OpOutcome::Done { .. } => {
                            if r.action == Action::Create {
                                created.push(r.address.clone());
                            }
                            lines.push(format!("{} {} ({})", r.action.verb(), r.address, r.name));
                        }
                        sv_infra::OpOutcome::Failed { error } => {
                            failed.push(format!("{} {}: {error}", r.address, r.name));
                        }
                        sv_infra::OpOutcome::NotStarted | sv_infra::OpOutcome::Deferred { .. } => {}
                    }
                }
            }
            if !created.is_empty() {
                self.journal.push(RESOURCES.id, Undo::Resources(created));
            }
            if !failed.is_empty() {
                self.steps
                    .push(StepReport::new(RESOURCES, StepStatus::Done, lines));
                return Err((
                    RESOURCES,
                    anyhow::anyhow!("creating resources failed: {}", failed.join("; ")),
                ));
            }
            changed = true;
            self.steps
                .push(StepReport::new(RESOURCES, StepStatus::Done, lines));
        } else {
            self.steps.push(StepReport::new(
                RESOURCES,
                StepStatus::Unchanged,
                vec!["all present".into()],
            ));
        }
        let state = store
            .load()
            .map_err(|e| (RESOURCES, anyhow::Error::new(e)))?
            .unwrap_or_else(|| State::new(&self.env.name, ""));
        let before = self.rec.clone();
        self.rec.resources = resources_of(self.env, Some(&state));
        self.rec.services = services(self.env);
        self.rec.environment = self.env.name.clone();
        self.rec.prefix = self.env.prefix.clone();

        // seed
        let seeds = pending_seeds(self.ctx, self.env, self.rec, self.opts);
        if seeds.is_empty() {
            let why = if self.opts.no_seed {
                "--no-seed"
            } else if self.ctx.config.config.onboarding.seed.is_empty() {
                "no onboarding.seed in sv.yaml"
            } else {
                "already seeded"
            };
            self.steps
                .push(StepReport::new(SEED, StepStatus::Skipped, vec![why.into()]));
        } else {
            let mut lines = Vec::new();
            for (addr, path) in seeds {
                let line = self
                    .seed_one(&state, &addr, &root.join(&path))
                    .await
                    .map_err(|e| {
                        (
                            SEED,
                            e.context(format!("seeding {addr} from {}", path.display())),
                        )
                    })?;
                lines.push(line);
                self.rec.seeded.insert(addr.to_string());
            }
            changed = true;
            self.steps
                .push(StepReport::new(SEED, StepStatus::Done, lines));
        }

        // env files + wrangler environment
        let files = devfiles::plan(&file_inputs(
            self.ctx,
            self.developer,
            self.env,
            &state,
            self.rec,
        ))
        .map_err(|e| (ENV_FILES, e))?;
        for (info, wrangler) in [(ENV_FILES, false), (WRANGLER, true)] {
            let mut any = false;
            let mut lines = Vec::new();
            for f in files.iter().filter(|f| is_wrangler(f) == wrangler) {
                if f.note.is_none() {
                    let wrote = self
                        .journal
                        .write_file(info.id, &f.full, &f.bytes)
                        .map_err(|e| (info, e))?;
                    any |= wrote;
                    self.rec.written.insert(f.path.clone(), f.record.clone());
                }
                lines.push(file_line(f));
            }
            changed |= any;
            self.steps.push(StepReport::new(
                info,
                if any {
                    StepStatus::Done
                } else {
                    StepStatus::Unchanged
                },
                lines,
            ));
        }

        *self.files = files;

        // gitignore
        match devfiles::gitignore(&root).map_err(|e| (GITIGNORE, e))? {
            Some((f, missing)) => {
                self.journal
                    .write_file(GITIGNORE.id, &f.full, &f.bytes)
                    .map_err(|e| (GITIGNORE, e))?;
                changed = true;
                self.steps.push(StepReport::new(
                    GITIGNORE,
                    StepStatus::Done,
                    vec![format!(".gitignore: added {}", missing.join(", "))],
                ));
            }
            None => self.steps.push(StepReport::new(
                GITIGNORE,
                StepStatus::Unchanged,
                vec![".gitignore already lists them".into()],
            )),
        }

        // record
        self.rec.status = DevStatus::Ready;
        self.rec.error = None;
        let mut cmp = before.clone();
        cmp.updated_at = self.rec.updated_at;
        let record_path = record::path(&root, self.developer);
        if changed || cmp != *self.rec || !record_path.exists() {
            self.rec.updated_at = chrono::Utc::now();
            self.journal
                .write_file(RECORD.id, &record_path, &record::to_bytes(self.rec))
                .map_err(|e| (RECORD, e))?;
            changed = true;
            self.steps.push(StepReport::new(
                RECORD,
                StepStatus::Done,
                vec![format!(".sv/dev/{}.json: ready", self.developer)],
            ));
        } else {
            self.steps.push(StepReport::new(
                RECORD,
                StepStatus::Unchanged,
                vec![format!(".sv/dev/{}.json: ready", self.developer)],
            ));
        }
        Ok(changed)
    }

    async fn seed_one(
        &self,
        state: &State,
        addr: &sv_config::ResourceAddress,
        path: &std::path::Path,
    ) -> anyhow::Result<String> {
        let Some(a) = planner_address(addr) else {
            anyhow::bail!("{addr} cannot be seeded");
        };
        let id = state
            .resources
            .get(&a)
            .map(|r| r.id.clone())
            .ok_or_else(|| anyhow::anyhow!("{addr} is not in state"))?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        match addr.kind() {
            ResourceKind::D1 => {
                let results = self.client.d1().query(&id, &text, &[]).await?;
                Ok(format!(
                    "{addr} ← {} ({} statements)",
                    rel_path(&self.ctx.root(), path),
                    results.len()
                ))
            }
            ResourceKind::Kv => {
                let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text)
                    .with_context(|| {
                        format!("{} must be a JSON object of key → value", path.display())
                    })?;
                let pairs: Vec<sv_cloudflare::kv::KvBulkPair> = map
                    .into_iter()
                    .map(|(key, v)| sv_cloudflare::kv::KvBulkPair {
                        key,
                        value: match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        },
                        expiration: None,
                        expiration_ttl: None,
                        metadata: None,
                        base64: false,
                    })
                    .collect();
                let n = pairs.len();
                self.client.kv().bulk_write(&id, &pairs).await?;
                Ok(format!(
                    "{addr} ← {} ({n} keys)",
                    rel_path(&self.ctx.root(), path)
                ))
            }
            other => anyhow::bail!(
                "seed data for {other} resources is not supported (D1 SQL and KV JSON are)"
            ),
        }
    }
}

fn rel_path(root: &std::path::Path, p: &std::path::Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Planner addresses of the developer's resources in state (for reset and gc).
pub fn state_addresses(state: &State) -> BTreeSet<Address> {
    state.resources.keys().cloned().collect()
}
