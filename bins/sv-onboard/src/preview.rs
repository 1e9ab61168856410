//! `sv-onboard preview create|destroy|comment|list`: an isolated environment per pull
//! request.
//!
//! A preview is the derived environment `pr-N` of sv-config (prefix
//! `onboarding.preview_prefix`, default `pr-{pr}-`; data stores and workers only). Its
//! resources are created and deleted with [`sv_infra::converge`] — the one way sv creates
//! resources — after [`sv_infra::adopt_by_name`] has recorded in state what an earlier run
//! made (a CI job starts without the previous job's `.sv/state`). Its D1 databases are then
//! filled ([`crate::branch`]): branched from `onboarding.branch_from` when set, then seeded
//! from `onboarding.seed`. Deploying the code is sv-deploy's job (`sv-deploy deploy --env
//! pr-N`); `preview comment` then posts the URL as the PR's sticky comment, and after
//! `destroy` updates that comment to say the preview is gone.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use sv_actions::Runner;
use sv_audit::{AuditLog, AuditRecord, Outcome};
use sv_cli::{CloudflareArgs, ExitStatus, GlobalArgs, input_error};
use sv_cloudflare::Client;
use sv_config::{Environment, LoadedConfig, ResourceKind, ResourceSpec};
use sv_infra::{ConvergeRequest, StateStore};
use sv_planner::{Action, LockInfo, Plan, PlanOptions, State};

use crate::branch;
use crate::preview_report::{
    CommentReport, DataStep, PreviewList, PreviewReport, ResourceLine, comment_body,
};

/// Per-PR preview environments
#[derive(Debug, Subcommand)]
pub enum PreviewCommand {
    /// Create (or bring up to date) the isolated resources of a pull request's preview;
    /// deploy it afterwards with `sv-deploy deploy --env pr-N`
    Create(CreateArgs),
    /// Delete every resource of one pull request's preview (data stores and Worker)
    Destroy(DestroyArgs),
    /// Post or update the preview's sticky comment on its pull request (URL, or gone)
    Comment(CommentArgs),
    /// The previews that have resources in the Cloudflare account
    List(ListArgs),
}

/// `preview create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
    /// Pull request number
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pr: u64,
    /// Show what would be created; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `preview destroy`
#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
    /// Pull request number
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pr: u64,
    /// Do not ask for confirmation (required when stdin is not a terminal)
    #[arg(long)]
    pub yes: bool,
    /// Show what would be deleted; change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `preview comment`
#[derive(Debug, Args)]
pub struct CommentArgs {
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
    /// Pull request number (default: the pull request of this pull_request run)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pr: Option<u64>,
    /// Render the comment without posting it
    #[arg(long)]
    pub dry_run: bool,
}

/// `preview list`
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub cloudflare: CloudflareArgs,
}

/// Runs one `preview` subcommand.
pub async fn run(global: &GlobalArgs, command: &PreviewCommand) -> anyhow::Result<ExitStatus> {
    match command {
        PreviewCommand::Create(args) => create(global, args).await,
        PreviewCommand::Destroy(args) => destroy(global, args).await,
        PreviewCommand::Comment(args) => comment(global, args).await,
        PreviewCommand::List(args) => list(global, args).await,
    }
}

/// Everything a preview command needs.
struct Ctx {
    global: GlobalArgs,
    runner: Runner,
    config: LoadedConfig,
    env: Environment,
    pr: u64,
    client: Client,
    store: Box<dyn StateStore>,
}

impl Ctx {
    fn new(global: &GlobalArgs, cf: &CloudflareArgs, pr: u64) -> anyhow::Result<Self> {
        let runner = sv_cli::context::runner();
        let config = sv_cli::context::load_config(global)?;
        let env = config
            .preview_environment(pr)
            .map_err(sv_cli::context::config_error)?;
        let client = sv_cli::context::cloudflare(cf, &runner)?;
        // Previews live in CI, whose jobs start fresh: state in R2 (`state.r2`) survives
        // between them; a local one is rebuilt from the reserved names (`adopt_by_name`).
        let store = sv_infra::store::configured(&config, &env.name, Some(&client))?;
        Ok(Self {
            global: global.clone(),
            runner,
            config,
            env,
            pr,
            client,
            store,
        })
    }

    fn actor(&self) -> String {
        sv_audit::Actor::from_env(sv_cli::env_vars::process_env).0
    }

    fn request<'a>(
        &'a self,
        store: &'a dyn StateStore,
        options: PlanOptions,
        operation: &str,
    ) -> ConvergeRequest<'a> {
        ConvergeRequest {
            client: &self.client,
            env: &self.env,
            root: &self.config.root,
            store,
            options,
            concurrency: 4,
            owner: self.actor(),
            operation: operation.to_owned(),
            config_checksum: String::new(),
        }
    }

    fn audit(
        &self,
        operation: &str,
        result: Outcome,
        detail: Option<String>,
    ) -> anyhow::Result<()> {
        AuditLog::new(AuditLog::default_path(&self.config.root))
            .append(&AuditRecord {
                time: chrono::Utc::now(),
                actor: self.actor(),
                tool: "sv-onboard".into(),
                environment: Some(self.env.name.clone()),
                operation: operation.to_owned(),
                target: self.env.name.clone(),
                result,
                detail,
                run_url: sv_cli::env_vars::run_url(sv_cli::env_vars::process_env),
            })
            .context("cannot append to the audit trail")
    }

    fn record_path(&self) -> PathBuf {
        record_path(&self.config.root, self.pr)
    }
}

/// Where a preview is recorded: `<app>/.sv/previews/pr-N.json`.
#[must_use]
pub fn record_path(root: &Path, pr: u64) -> PathBuf {
    root.join(".sv")
        .join("previews")
        .join(format!("pr-{pr}.json"))
}

/// What this machine knows of a preview (CI jobs start without it: every command also
/// works from the live account alone).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreviewRecord {
    pub pr: u64,
    pub environment: String,
    pub prefix: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroyed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Commit the preview was last created for (`GITHUB_SHA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// Resource address → Cloudflare name.
    pub resources: BTreeMap<String, String>,
}

fn read_record(path: &Path) -> Option<PreviewRecord> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_record(path: &Path, record: &PreviewRecord) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(record)? + "\n";
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// State kept in memory: dry runs adopt and plan against a copy, never writing.
struct MemoryStore {
    state: Mutex<Option<State>>,
}

impl MemoryStore {
    fn copy_of(store: &dyn StateStore) -> Result<Self, sv_infra::Error> {
        Ok(Self {
            state: Mutex::new(store.load()?),
        })
    }
}

impl StateStore for MemoryStore {
    fn load(&self) -> Result<Option<State>, sv_infra::Error> {
        Ok(self.state.lock().map(|s| s.clone()).unwrap_or_default())
    }
    fn save(&self, state: &State) -> Result<(), sv_infra::Error> {
        if let Ok(mut s) = self.state.lock() {
            *s = Some(state.clone());
        }
        Ok(())
    }
    fn lock(&self, _info: &LockInfo) -> Result<(), sv_infra::Error> {
        Ok(())
    }
    fn lock_info(&self) -> Result<Option<LockInfo>, sv_infra::Error> {
        Ok(None)
    }
    fn unlock(&self, _id: &str) -> Result<(), sv_infra::Error> {
        Ok(())
    }
    fn describe(&self) -> String {
        "a copy of the state in memory (dry run)".into()
    }
}

/// `address: error` of each failed operation.
fn failures(report: Option<&sv_infra::ApplyReport>) -> Vec<String> {
    report
        .map(|r| {
            r.results
                .iter()
                .filter_map(|op| match &op.outcome {
                    sv_infra::OpOutcome::Failed { error } => {
                        Some(format!("{}: {error}", op.address))
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every resource the preview's plan considered, as report lines.
fn resource_lines(plan: &Plan) -> Vec<ResourceLine> {
    plan.changes
        .iter()
        .map(|c| ResourceLine {
            address: c.address.to_string(),
            name: c.name.clone(),
            action: c.action,
        })
        .collect()
}

/// The preview's Worker scripts: (deployed name, on workers.dev).
fn worker_scripts(env: &Environment) -> Vec<(String, bool)> {
    worker_resources(env)
        .into_iter()
        .map(|(_, name, dev)| (name, dev))
        .collect()
}

/// (address, deployed name, on workers.dev) of each Worker.
fn worker_resources(env: &Environment) -> Vec<(String, String, bool)> {
    env.resources
        .values()
        .filter_map(|r| match &r.spec {
            ResourceSpec::Worker(w) => Some((
                r.address.to_string(),
                r.name.clone(),
                w.definition.workers_dev,
            )),
            _ => None,
        })
        .collect()
}

/// `https://SCRIPT.SUBDOMAIN.workers.dev/` of each Worker on workers.dev.
async fn worker_urls(client: &Client, env: &Environment) -> anyhow::Result<Vec<String>> {
    let scripts = worker_scripts(env);
    if !scripts.iter().any(|(_, dev)| *dev) {
        return Ok(Vec::new());
    }
    let Some(sub) = client
        .workers()
        .account_subdomain()
        .await
        .context("reading the account's workers.dev subdomain")?
    else {
        return Ok(Vec::new());
    };
    Ok(scripts
        .into_iter()
        .filter(|(_, dev)| *dev)
        .map(|(s, _)| format!("https://{s}.{sub}.workers.dev/"))
        .collect())
}

/// Splits `pr-{pr}-` into what comes before and after the number.
fn prefix_parts(template: &str) -> (&str, &str) {
    template.split_once("{pr}").unwrap_or((template, ""))
}

/// The PR number a resource name belongs to under `template`, if any.
fn preview_of(name: &str, template: &str) -> Option<u64> {
    let (head, tail) = prefix_parts(template);
    let rest = name.strip_prefix(head)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !rest[digits..].starts_with(tail) {
        return None;
    }
    rest[..digits].parse().ok()
}

/// Previews with resources in the account: PR number → resource names (KV titles, D1
/// databases, R2 buckets, Worker scripts).
async fn live_previews(
    client: &Client,
    template: &str,
) -> anyhow::Result<BTreeMap<u64, BTreeSet<String>>> {
    let (kv, d1, r2, scripts) = futures::try_join!(
        async {
            client
                .kv()
                .list_namespaces()
                .map_ok(|n| n.title)
                .try_collect::<Vec<_>>()
                .await
                .context("listing KV namespaces")
        },
        async {
            client
                .d1()
                .list(None)
                .map_ok(|d| d.name)
                .try_collect::<Vec<_>>()
                .await
                .context("listing D1 databases")
        },
        async {
            client
                .r2()
                .list_buckets(&sv_cloudflare::r2::BucketFilter::default())
                .map_ok(|b| b.name)
                .try_collect::<Vec<_>>()
                .await
                .context("listing R2 buckets")
        },
        async {
            client
                .workers()
                .list_scripts()
                .await
                .map(|s| s.into_iter().map(|s| s.id).collect::<Vec<_>>())
                .context("listing Worker scripts")
        },
    )?;
    let mut out: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for name in kv.into_iter().chain(d1).chain(r2).chain(scripts) {
        if let Some(pr) = preview_of(&name, template) {
            out.entry(pr).or_default().insert(name);
        }
    }
    Ok(out)
}

/// The D1 database of `address` in `state`, by id.
fn state_database(state: &State, address: &sv_config::ResourceAddress) -> Option<branch::Database> {
    let a = sv_infra::desired::address(address)?;
    let r = state.resources.get(&a)?;
    Some(branch::Database {
        uuid: r.id.clone(),
        name: r.name.clone(),
    })
}

async fn database_by_name(client: &Client, name: &str) -> anyhow::Result<Option<branch::Database>> {
    let found: Vec<_> = client
        .d1()
        .list(Some(name))
        .try_collect()
        .await
        .with_context(|| format!("looking up D1 database `{name}`"))?;
    Ok(found
        .into_iter()
        .find(|d| d.name == name)
        .map(|d| branch::Database {
            uuid: d.uuid,
            name: d.name,
        }))
}

/// Fills the preview's new (or still empty) data stores: branch, then seed.
async fn fill_data(ctx: &Ctx, plan: &Plan, dry_run: bool) -> anyhow::Result<Vec<DataStep>> {
    let onboarding = &ctx.config.config.onboarding;
    let state = ctx
        .store
        .load()
        .map_err(input_error)?
        .unwrap_or_else(|| State::new(&ctx.env.name, ""));
    let created: BTreeSet<String> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .map(|c| c.address.to_string())
        .collect();
    let mut steps = Vec::new();
    for resource in ctx.env.resources.values() {
        let address = resource.address.to_string();
        match resource.address.kind() {
            ResourceKind::D1 => {
                let branch_source = onboarding.branch_from.as_deref();
                let seed = onboarding.seed.get(&resource.address);
                if branch_source.is_none() && seed.is_none() {
                    continue;
                }
                if dry_run {
                    if let Some(from) = branch_source {
                        steps.push(DataStep::planned(&address, &resource.name, format!(
                            "would branch from `{from}` when new or empty ({} rows per table at most)",
                            onboarding.branch_rows.unwrap_or(branch::DEFAULT_ROWS)
                        )));
                    }
                    if let Some(file) = seed {
                        steps.push(DataStep::planned(
                            &address,
                            &resource.name,
                            format!("would run seed {} when new or empty", file.display()),
                        ));
                    }
                    continue;
                }
                let Some(target) = state_database(&state, &resource.address) else {
                    continue;
                };
                let new = created.contains(&address);
                if !new && !branch::is_empty(&ctx.client, &target).await? {
                    steps.push(DataStep::kept(&address, &resource.name, "already has data"));
                    continue;
                }
                if let Some(from) = branch_source {
                    let source_env = ctx
                        .config
                        .environment(from)
                        .map_err(sv_cli::context::config_error)?;
                    let source_name = source_env
                        .resource(&resource.address)
                        .map(|r| r.name.clone())
                        .ok_or_else(|| {
                            input_error(anyhow::anyhow!(
                                "onboarding.branch_from: environment `{from}` has no {address}"
                            ))
                        })?;
                    let source = database_by_name(&ctx.client, &source_name)
                        .await?
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "onboarding.branch_from: D1 database `{source_name}` of `{from}` does not exist"
                            )
                        })?;
                    let empty = BTreeMap::new();
                    let mask = onboarding.mask.get(&resource.address).unwrap_or(&empty);
                    let report = branch::branch_d1(
                        &ctx.client,
                        &branch::BranchSpec {
                            source: &source,
                            target: &target,
                            mask,
                            rows: onboarding.branch_rows.unwrap_or(branch::DEFAULT_ROWS),
                        },
                    )
                    .await?;
                    steps.push(DataStep::branched(&address, &resource.name, from, report));
                }
                if let Some(file) = seed {
                    let changes =
                        branch::seed_d1(&ctx.client, &target, &ctx.config.resolve_path(file))
                            .await?;
                    steps.push(DataStep::done(
                        &address,
                        &resource.name,
                        format!("seeded from {} ({changes} row(s) written)", file.display()),
                    ));
                }
            }
            ResourceKind::Kv => {
                let Some(file) = onboarding.seed.get(&resource.address) else {
                    continue;
                };
                if dry_run {
                    steps.push(DataStep::planned(
                        &address,
                        &resource.name,
                        format!("would write seed {} when new or empty", file.display()),
                    ));
                    continue;
                }
                let Some(id) = sv_infra::desired::address(&resource.address)
                    .and_then(|a| state.resources.get(&a))
                    .map(|r| r.id.clone())
                else {
                    continue;
                };
                let new = created.contains(&address);
                let has_keys = if new {
                    false
                } else {
                    let mut keys = Box::pin(ctx.client.kv().list_keys(&id, None));
                    keys.try_next()
                        .await
                        .with_context(|| format!("listing keys of KV `{}`", resource.name))?
                        .is_some()
                };
                if has_keys {
                    steps.push(DataStep::kept(&address, &resource.name, "already has keys"));
                    continue;
                }
                let n = branch::seed_kv(
                    &ctx.client,
                    &id,
                    &resource.name,
                    &ctx.config.resolve_path(file),
                )
                .await?;
                steps.push(DataStep::done(
                    &address,
                    &resource.name,
                    format!("seeded from {} ({n} key(s))", file.display()),
                ));
            }
            _ => {}
        }
    }
    Ok(steps)
}

fn write_outputs(ctx: &Ctx, report: &PreviewReport) -> anyhow::Result<()> {
    if !ctx.runner.is_active() {
        return Ok(());
    }
    let outputs = [
        ("environment", report.environment.clone()),
        ("prefix", report.prefix.clone()),
        ("changed", report.changed.to_string()),
        ("url", report.urls.first().cloned().unwrap_or_default()),
    ];
    for (k, v) in outputs {
        ctx.runner
            .set_output(k, &v)
            .context("cannot write step outputs")?;
    }
    ctx.runner
        .append_summary(&sv_report::Render::markdown(report))
        .context("cannot write the job summary")?;
    Ok(())
}

/// `sv-onboard preview create --pr N`
async fn create(global: &GlobalArgs, args: &CreateArgs) -> anyhow::Result<ExitStatus> {
    let ctx = Ctx::new(global, &args.cloudflare, args.pr)?;
    let onboarding = &ctx.config.config.onboarding;
    if let Some(max) = onboarding.max_previews {
        let live = live_previews(&ctx.client, &onboarding.preview_prefix).await?;
        let others: Vec<String> = live
            .keys()
            .filter(|p| **p != ctx.pr)
            .map(|p| format!("#{p}"))
            .collect();
        if !live.contains_key(&ctx.pr) && others.len() >= max as usize {
            let message = format!(
                "{} preview(s) exist ({}), the most onboarding.max_previews allows ({max}): \
                 destroy one (`sv-onboard preview destroy --pr N --yes`) or raise the limit",
                others.len(),
                others.join(", ")
            );
            if !args.dry_run {
                ctx.audit("preview.create", Outcome::Denied, Some(message.clone()))?;
            }
            anyhow::bail!(message);
        }
    }

    let memory;
    let store: &dyn StateStore = if args.dry_run {
        memory = MemoryStore::copy_of(ctx.store.as_ref()).map_err(input_error)?;
        &memory
    } else {
        ctx.store.as_ref()
    };
    let req = ctx.request(store, PlanOptions::default(), "preview.create");
    let adopted = sv_infra::adopt_by_name(&req)
        .await
        .context("recording the preview's existing resources")?;
    let mut errors = Vec::new();
    let (plan, succeeded) = if args.dry_run {
        let planned = sv_infra::plan_environment(&req)
            .await
            .context("planning the preview")?;
        (planned.plan, true)
    } else {
        let converged = sv_infra::converge(&req)
            .await
            .context("creating the preview's resources")?;
        errors = failures(converged.report.as_ref());
        let ok = converged.succeeded();
        (converged.plan, ok)
    };
    let mut report = PreviewReport::new(&ctx.env, ctx.pr, args.dry_run, "create");
    report.adopted = adopted.iter().map(ToString::to_string).collect();
    report.resources = resource_lines(&plan);
    report.errors = errors;
    report.changed = plan.summary.has_changes();
    report.workers = worker_scripts(&ctx.env)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    if !succeeded {
        report.failed = Some(
            "some resources could not be created (see the errors above); run the command again \
             to finish"
                .into(),
        );
        ctx.audit("preview.create", Outcome::Failed, report.failed.clone())?;
        ctx.global.output().print(&report)?;
        write_outputs(&ctx, &report)?;
        return Ok(ExitStatus::Failure);
    }
    report.data = fill_data(&ctx, &plan, args.dry_run).await?;
    report.changed |= report.data.iter().any(|d| d.changed);
    report.urls = worker_urls(&ctx.client, &ctx.env).await?;
    if !args.dry_run {
        let now = chrono::Utc::now();
        let path = ctx.record_path();
        let previous = read_record(&path).filter(|r| r.destroyed_at.is_none());
        write_record(
            &path,
            &PreviewRecord {
                pr: ctx.pr,
                environment: ctx.env.name.clone(),
                prefix: ctx.env.prefix.clone(),
                created_at: previous.map_or(now, |r| r.created_at),
                updated_at: now,
                destroyed_at: None,
                sha: sv_cli::env_vars::process_env("GITHUB_SHA"),
                resources: ctx
                    .env
                    .resources
                    .values()
                    .map(|r| (r.address.to_string(), r.name.clone()))
                    .collect(),
            },
        )?;
        ctx.audit(
            "preview.create",
            Outcome::Succeeded,
            report.changed.then(|| "changed".to_owned()),
        )?;
    } else {
        ctx.audit("preview.create", Outcome::DryRun, None)?;
    }
    ctx.global.output().print(&report)?;
    write_outputs(&ctx, &report)?;
    Ok(ExitStatus::Success)
}

fn confirm(pr: u64, env: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(input_error(anyhow::anyhow!(
            "stdin is not a terminal, so destroy cannot ask for confirmation: pass --yes to \
             delete the preview of pull request #{pr}"
        )));
    }
    let mut err = std::io::stderr().lock();
    write!(
        err,
        "Delete every resource of preview `{env}` (pull request #{pr}), data included? Only `yes` is accepted: "
    )?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// Deletes every object of an R2 bucket (the API refuses to delete a bucket that has any).
async fn empty_bucket(client: &Client, bucket: &str) -> anyhow::Result<u64> {
    let r2 = client.r2();
    let keys: Vec<String> = match r2
        .list_objects(bucket, None, None)
        .map_ok(|o| o.key)
        .try_collect()
        .await
    {
        Ok(k) => k,
        Err(e) if e.is_not_found() => return Ok(0),
        Err(e) => {
            return Err(e).with_context(|| format!("listing objects of R2 bucket `{bucket}`"));
        }
    };
    for key in &keys {
        r2.delete_object(bucket, key, None)
            .await
            .with_context(|| format!("deleting objects of R2 bucket `{bucket}`"))?;
    }
    Ok(keys.len() as u64)
}

/// `sv-onboard preview destroy --pr N`
async fn destroy(global: &GlobalArgs, args: &DestroyArgs) -> anyhow::Result<ExitStatus> {
    let ctx = Ctx::new(global, &args.cloudflare, args.pr)?;
    if !args.dry_run && !args.yes && !confirm(ctx.pr, &ctx.env.name)? {
        writeln!(std::io::stderr(), "Nothing was deleted.")?;
        return Ok(ExitStatus::Failure);
    }
    let memory;
    let store: &dyn StateStore = if args.dry_run {
        memory = MemoryStore::copy_of(ctx.store.as_ref()).map_err(input_error)?;
        &memory
    } else {
        ctx.store.as_ref()
    };
    // A preview's data is disposable by definition: prevent_destroy does not apply.
    let options = PlanOptions {
        destroy: true,
        allow_data_loss: true,
        ..PlanOptions::default()
    };
    let req = ctx.request(store, options, "preview.destroy");
    let adopted = sv_infra::adopt_by_name(&req)
        .await
        .context("recording the preview's existing resources")?;
    let planned = sv_infra::plan_environment(&req)
        .await
        .context("planning the preview's deletion")?;
    let mut report = PreviewReport::new(&ctx.env, ctx.pr, args.dry_run, "destroy");
    report.adopted = adopted.iter().map(ToString::to_string).collect();

    let live_scripts: BTreeSet<String> = ctx
        .client
        .workers()
        .list_scripts()
        .await
        .context("listing Worker scripts")?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let scripts: Vec<(String, String)> = worker_resources(&ctx.env)
        .into_iter()
        .filter(|(_, s, _)| live_scripts.contains(s))
        .map(|(a, s, _)| (a, s))
        .collect();

    let mut succeeded = true;
    let plan = if args.dry_run {
        planned.plan
    } else {
        for change in &planned.plan.changes {
            if change.action == Action::Delete && change.kind == sv_planner::Kind::R2 {
                let n = empty_bucket(&ctx.client, &change.name).await?;
                if n > 0 {
                    report.data.push(DataStep::done(
                        &change.address.to_string(),
                        &change.name,
                        format!("emptied ({n} object(s) deleted)"),
                    ));
                }
            }
        }
        let converged = sv_infra::converge(&req)
            .await
            .context("deleting the preview's resources")?;
        succeeded = converged.succeeded();
        report.errors = failures(converged.report.as_ref());
        for (_, script) in &scripts {
            ctx.client
                .workers()
                .delete_script(script, true)
                .await
                .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) })
                .with_context(|| format!("deleting Worker `{script}`"))?;
        }
        converged.plan
    };
    report.resources = resource_lines(&plan);
    report
        .resources
        .extend(scripts.iter().map(|(a, s)| ResourceLine {
            address: a.clone(),
            name: s.clone(),
            action: Action::Delete,
        }));
    report.changed = plan.summary.has_changes() || !scripts.is_empty();
    if args.dry_run {
        ctx.audit("preview.destroy", Outcome::DryRun, None)?;
    } else if succeeded {
        let path = ctx.record_path();
        let now = chrono::Utc::now();
        let mut record = read_record(&path).unwrap_or_else(|| PreviewRecord {
            pr: ctx.pr,
            environment: ctx.env.name.clone(),
            prefix: ctx.env.prefix.clone(),
            created_at: now,
            updated_at: now,
            destroyed_at: None,
            sha: None,
            resources: BTreeMap::new(),
        });
        record.updated_at = now;
        record.destroyed_at = Some(now);
        write_record(&path, &record)?;
        ctx.audit(
            "preview.destroy",
            Outcome::Succeeded,
            report.changed.then(|| "deleted".to_owned()),
        )?;
    } else {
        report.failed = Some(
            "some resources could not be deleted (see the errors above); run the command again"
                .into(),
        );
        ctx.audit("preview.destroy", Outcome::Failed, report.failed.clone())?;
    }
    ctx.global.output().print(&report)?;
    write_outputs(&ctx, &report)?;
    Ok(if succeeded {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// What the account holds of a preview, for its comment.
async fn comment_report(ctx: &Ctx) -> anyhow::Result<CommentReport> {
    let template = &ctx.config.config.onboarding.preview_prefix;
    let live = live_previews(&ctx.client, template).await?;
    let resources: Vec<String> = live
        .get(&ctx.pr)
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default();
    let mut deployed = Vec::new();
    for (script, _) in worker_scripts(&ctx.env) {
        if !resources.contains(&script) {
            continue;
        }
        let version = ctx
            .client
            .workers()
            .list_deployments(&script)
            .await
            .ok()
            .and_then(|d| d.into_iter().max_by(|a, b| a.created_on.cmp(&b.created_on)))
            .and_then(|d| {
                d.versions
                    .into_iter()
                    .max_by(|a, b| a.percentage.total_cmp(&b.percentage))
            })
            .map(|v| v.version_id);
        deployed.push((script, version));
    }
    let urls = if deployed.is_empty() {
        Vec::new()
    } else {
        let live_scripts: BTreeSet<&String> = deployed.iter().map(|(s, _)| s).collect();
        worker_urls(&ctx.client, &ctx.env)
            .await?
            .into_iter()
            .filter(|u| {
                live_scripts
                    .iter()
                    .any(|s| u.starts_with(&format!("https://{s}.")))
            })
            .collect()
    };
    let record = read_record(&ctx.record_path());
    Ok(CommentReport {
        pr: ctx.pr,
        environment: ctx.env.name.clone(),
        exists: !resources.is_empty(),
        resources,
        workers: deployed
            .into_iter()
            .map(|(s, v)| (s, v.unwrap_or_default()))
            .collect(),
        urls,
        sha: sv_cli::env_vars::process_env("GITHUB_SHA")
            .or_else(|| record.as_ref().and_then(|r| r.sha.clone())),
        destroyed_at: record.and_then(|r| r.destroyed_at),
        posted: None,
    })
}

/// `sv-onboard preview comment [--pr N]`
async fn comment(global: &GlobalArgs, args: &CommentArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let gh = sv_cli::context::github(&runner)?;
    let pr = args.pr.or(gh.pr_number).ok_or_else(|| {
        input_error(anyhow::anyhow!(
            "no pull request: pass --pr N (outside a pull_request run)"
        ))
    })?;
    let ctx = Ctx::new(global, &args.cloudflare, pr)?;
    let mut report = comment_report(&ctx).await?;
    if !args.dry_run {
        let github = gh
            .client()
            .context("the comment needs GITHUB_TOKEN and GITHUB_REPOSITORY")
            .map_err(input_error)?;
        let marker = sv_github::Marker::new("preview", &ctx.env.name).map_err(input_error)?;
        let outcome = github
            .upsert_comment(pr, &marker, &comment_body(&report))
            .await
            .with_context(|| format!("cannot comment on pull request #{pr}"))?;
        report.posted = Some(format!("{:?} {}", outcome.action, outcome.url).to_lowercase());
    }
    ctx.global.output().print(&report)?;
    if ctx.runner.is_active() {
        ctx.runner
            .set_output("url", report.urls.first().map_or("", String::as_str))
            .context("cannot write step outputs")?;
    }
    Ok(ExitStatus::Success)
}

/// `sv-onboard preview list`
async fn list(global: &GlobalArgs, args: &ListArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let config = sv_cli::context::load_config(global)?;
    let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
    let onboarding = &config.config.onboarding;
    let live = live_previews(&client, &onboarding.preview_prefix).await?;
    global.output().print(&PreviewList {
        max_previews: onboarding.max_previews,
        previews: live
            .into_iter()
            .map(|(pr, names)| (pr, names.into_iter().collect()))
            .collect(),
    })?;
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_names_are_recognised_by_their_prefix() {
        assert_eq!(preview_of("pr-7-main", "pr-{pr}-"), Some(7));
        assert_eq!(preview_of("pr-12-spacevision-api", "pr-{pr}-"), Some(12));
        assert_eq!(preview_of("pr--main", "pr-{pr}-"), None);
        assert_eq!(preview_of("pr-7x-main", "pr-{pr}-"), None);
        assert_eq!(preview_of("staging-main", "pr-{pr}-"), None);
        assert_eq!(preview_of("preview-3-main", "preview-{pr}-"), Some(3));
        assert_eq!(preview_of("app-3-pr-main", "app-{pr}-pr-"), Some(3));
    }
}
