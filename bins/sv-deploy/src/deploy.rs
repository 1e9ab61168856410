//! Orchestration of `deploy`, `rollback`, `history` and `status`: config and access checks,
//! builds, upload, smoke test, gated rollout with automatic rollback, and the records.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use secrecy::SecretString;
use sv_audit::{Actor, AuditLog, AuditRecord};
use sv_cli::{ExitStatus, GlobalArgs, input_error};
use sv_cloudflare::workers::{Deployment, NewDeployment};
use sv_config::{Environment, LoadedConfig, Operation};
use url::Url;

use crate::args::{DeployArgs, HistoryArgs, ResumeArgs, RollbackArgs, StatusArgs};
use crate::console::Console;
use crate::gate::{self, GateConfig, GateResult, Verdict};
use crate::report::{
    DeployReport, DeploymentRecord, HistoryReport, Outcome, PagesRef, RemoteDeployment,
    ServingVersion, StatusReport, Step,
};
use crate::{build, bundle};

const TOOL: &str = "sv-deploy";

/// The app root (sv.yaml's directory), never an empty path.
fn app_root(loaded: &LoadedConfig) -> PathBuf {
    let root = loaded.resolve_path(Path::new(""));
    if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root
    }
}

/// `.sv/deployments/<env>.jsonl` under the app root.
pub fn history_path(root: &Path, env: &str) -> PathBuf {
    root.join(".sv")
        .join("deployments")
        .join(format!("{env}.jsonl"))
}

fn append_history(root: &Path, record: &DeploymentRecord) -> anyhow::Result<()> {
    let path = history_path(root, &record.environment);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let line = serde_json::to_string(record)?;
    writeln!(f, "{line}").with_context(|| format!("writing {}", path.display()))
}

fn read_history(root: &Path, env: &str) -> anyhow::Result<Vec<DeploymentRecord>> {
    let path = history_path(root, env);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not a deployment record", path.display(), i + 1))
        })
        .collect()
}

/// Appends a record to the local history and, when there is a client, to the release
/// records in KV (a failed KV write is a warning: the local record stands).
async fn keep_record(
    env: &Environment,
    root: &Path,
    audit: &Audit,
    console: &Console,
    record: &DeploymentRecord,
) -> anyhow::Result<()> {
    append_history(root, record)?;
    if let Some(client) = audit.cloud.get()
        && let Err(e) = crate::records::publish(client, env, record).await
    {
        console.warn(&format!(
            "release record not written to Cloudflare (the local record stands): {e:#}"
        ));
    }
    Ok(())
}

struct Audit {
    log: AuditLog,
    actor: Actor,
    env: String,
    run_url: Option<String>,
    /// The Cloudflare client, once there is one: release records also go to KV.
    cloud: std::sync::OnceLock<sv_cloudflare::Client>,
}

impl Audit {
    fn new(root: &Path, env: &str) -> Self {
        Self {
            log: AuditLog::new(AuditLog::default_path(root)),
            actor: Actor::from_env(sv_cli::env_vars::process_env),
            env: env.to_owned(),
            run_url: sv_cli::env_vars::run_url(sv_cli::env_vars::process_env),
            cloud: std::sync::OnceLock::new(),
        }
    }

    fn record(
        &self,
        operation: &str,
        target: &str,
        result: sv_audit::Outcome,
        detail: Option<String>,
    ) -> anyhow::Result<()> {
        self.log
            .append(&AuditRecord {
                time: Utc::now(),
                actor: self.actor.0.clone(),
                tool: TOOL.to_owned(),
                environment: Some(self.env.clone()),
                operation: operation.to_owned(),
                target: target.to_owned(),
                result,
                detail,
                run_url: self.run_url.clone(),
            })
            .context("writing the audit trail")
    }
}

/// Refuses actors not allowed to deploy here and deploys inside a freeze window.
fn guard(
    env: &Environment,
    audit: &Audit,
    ignore_freeze: bool,
    console: &Console,
) -> anyhow::Result<()> {
    if let Err(e) = env.authorize(&audit.actor.0, Operation::Deploy) {
        audit.record(
            "deploy",
            &env.name,
            sv_audit::Outcome::Denied,
            Some(e.to_string()),
        )?;
        return Err(sv_cli::context::config_error(e));
    }
    if let Some(window) = env.frozen_at(Utc::now()) {
        if ignore_freeze {
            console.warn(&format!(
                "environment `{}` is frozen ({window}); deploying anyway (--ignore-freeze, recorded)",
                env.name
            ));
            audit.record(
                "freeze-override",
                &env.name,
                sv_audit::Outcome::Succeeded,
                Some(format!("deploy inside freeze window {window}")),
            )?;
        } else {
            audit.record(
                "deploy",
                &env.name,
                sv_audit::Outcome::Denied,
                Some(format!("freeze window {window}")),
            )?;
            return Err(input_error(anyhow::anyhow!(
                "environment `{}` is frozen now ({window}, sv.yaml environments.{}.freeze): \
                 deploy later, or pass --ignore-freeze to override (recorded in the audit trail)",
                env.name,
                env.name
            )));
        }
    }
    Ok(())
}

fn validate_rollout(rollout: &[u32]) -> anyhow::Result<()> {
    let increasing = rollout.windows(2).all(|w| w[0] < w[1]);
    if rollout.is_empty()
        || !increasing
        || rollout.last() != Some(&100)
        || rollout.first() == Some(&0)
    {
        return Err(input_error(anyhow::anyhow!(
            "invalid rollout {rollout:?}: percentages must increase, be above 0 and end at 100 (e.g. [10, 50, 100])"
        )));
    }
    Ok(())
}

/// The version serving the most traffic in a deployment.
fn serving(deployment: &Deployment) -> Option<String> {
    deployment
        .versions
        .iter()
        .max_by(|a, b| a.percentage.total_cmp(&b.percentage))
        .map(|v| v.version_id.clone())
}

async fn current_deployment(
    client: &sv_cloudflare::Client,
    script: &str,
) -> anyhow::Result<Option<Deployment>> {
    match client.workers().list_deployments(script).await {
        Ok(list) => Ok(list.into_iter().next()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading the deployments of {script}")),
    }
}

/// The URL the gate checks reach: `--worker-url`, else `https://SCRIPT.SUBDOMAIN.workers.dev`
/// when the Worker is on workers.dev.
async fn worker_base(
    client: &sv_cloudflare::Client,
    flag: Option<&Url>,
    script: &str,
    workers_dev: bool,
) -> anyhow::Result<Option<Url>> {
    if let Some(u) = flag {
        return Ok(Some(u.clone()));
    }
    if !workers_dev {
        return Ok(None);
    }
    let sub = client
        .workers()
        .account_subdomain()
        .await
        .context("reading the account's workers.dev subdomain")?;
    Ok(sub.and_then(|s| Url::parse(&format!("https://{script}.{s}.workers.dev/")).ok()))
}

fn http_client(
    base: Option<&Url>,
    connect_to: Option<std::net::SocketAddr>,
) -> anyhow::Result<reqwest::Client> {
    sv_checks::install_crypto_provider();
    let mut builder =
        reqwest::Client::builder().user_agent(concat!("sv-deploy/", env!("CARGO_PKG_VERSION")));
    if let (Some(addr), Some(host)) = (connect_to, base.and_then(Url::host_str)) {
        builder = builder.resolve(host, addr).no_proxy();
    }
    builder.build().context("building the HTTP client")
}

/// Whose analytics a gate judges.
struct AnalyticsTarget<'a> {
    client: &'a sv_cloudflare::Client,
    script: &'a str,
    since: chrono::DateTime<Utc>,
    new: &'a str,
    previous: Option<&'a str>,
}

async fn run_gate(
    specs: &[sv_checks::CheckSpec],
    http: &reqwest::Client,
    cf: Option<AnalyticsTarget<'_>>,
    gate: &GateConfig,
) -> anyhow::Result<GateResult> {
    let checks = gate::run_http(specs, http).await?;
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.healthy)
        .map(|c| {
            format!(
                "check `{}` ({}) failed: {}",
                c.name,
                c.url,
                c.errors.join("; ")
            )
        })
        .collect();
    let mut result = GateResult {
        verdict: Verdict::Pass,
        reasons: Vec::new(),
        checks,
        analytics: None,
    };
    if !failed.is_empty() {
        result.verdict = Verdict::Fail;
        result.reasons = failed;
        return Ok(result);
    }
    if let Some(t) = cf {
        match gate::analytics(t.client, t.script, t.since, t.new, t.previous).await {
            Ok(a) => {
                let (verdict, reasons) = gate::judge_analytics(gate, &a);
                result.verdict = verdict;
                result.reasons = reasons;
                result.analytics = Some(a);
            }
            Err(e) => {
                result.verdict = Verdict::Inconclusive;
                result.reasons = vec![format!("analytics unavailable: {e}")];
            }
        }
    }
    Ok(result)
}

fn fail_reason(g: &GateResult) -> String {
    g.reasons.join("; ")
}

/// The held deploy lock and the client to release it with.
type Held = Option<(crate::lock::DeployLock, sv_cloudflare::Client)>;

/// Releases the deploy lock, if one was taken, whatever the outcome.
async fn release(global: &GlobalArgs, held: Held) {
    if let Some((lock, client)) = held
        && let Err(e) = lock.release(&client).await
    {
        Console::new(sv_cli::context::runner(), global.quiet).warn(&format!(
            "the deploy lock was not released (it expires by itself): {e:#}"
        ));
    }
}

/// Takes the environment's deploy lock (waiting up to `timeout`).
#[allow(clippy::too_many_arguments)]
async fn take_lock(
    client: &sv_cloudflare::Client,
    env: &Environment,
    root: &Path,
    audit: &Audit,
    operation: &str,
    release: &str,
    timeout: Duration,
    ttl: Duration,
    console: &Console,
) -> anyhow::Result<crate::lock::DeployLock> {
    let lock = crate::lock::acquire(
        client,
        &crate::lock::Request {
            env,
            root,
            actor: &audit.actor.0,
            operation,
            release,
            run_url: audit.run_url.clone(),
            timeout,
            ttl,
        },
        |holder| {
            console.info(&format!(
                "waiting for the deploy lock of `{}`: {holder}",
                env.name
            ))
        },
    )
    .await?;
    console.info(&format!("deploy lock taken ({})", lock.describe()));
    Ok(lock)
}

/// `sv-deploy deploy`.
pub async fn deploy(global: &GlobalArgs, args: &DeployArgs) -> anyhow::Result<ExitStatus> {
    let mut held = None;
    let result = deploy_inner(global, args, &mut held).await;
    release(global, held).await;
    result
}

async fn deploy_inner(
    global: &GlobalArgs,
    args: &DeployArgs,
    held: &mut Held,
) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let console = Console::new(runner.clone(), global.quiet);
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let root = app_root(&loaded);
    let audit = Audit::new(&root, &env.name);
    let id = format!(
        "{}-{}",
        Utc::now().format("%Y%m%d%H%M%S"),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    let mut report = DeployReport::new(id.clone(), env.name.clone());
    report.rollout = args
        .rollout
        .clone()
        .unwrap_or_else(|| env.config.deploy.rollout.clone());
    validate_rollout(&report.rollout)?;
    guard(env, &audit, args.ignore_freeze, &console)?;

    let graph = build::graph(&root, env)?;
    let mut plan = build::plan(&graph, env)?;
    let worker = bundle::worker(env)?;
    let script = worker.definition.name.clone();
    report.script = Some(script.clone());
    let planned = bundle::plan_bindings(env, worker)?;
    report.bindings = bundle::summaries(&planned, &worker.definition.vars, &args.secrets);
    let mut pages_target = if args.skip_pages {
        None
    } else {
        crate::pages::target(env, &loaded.resolve_path(Path::new("")))
    };
    let mut deploy_worker = true;
    if args.affected {
        let since = args.since.as_deref().unwrap_or("HEAD");
        let changed = crate::affected::changed_files(&root, since)?;
        let selection = crate::affected::select(&graph, env, changed);
        report.affected = Some(selection.affected.iter().cloned().collect());
        plan = crate::affected::restrict(plan, &graph, &selection.affected);
        deploy_worker = selection.worker;
        if !selection.pages {
            pages_target = None;
        }
        if !deploy_worker {
            report.script = None;
            report.bindings.clear();
            report.rollout.clear();
        }
        if !deploy_worker && pages_target.is_none() {
            report.set_plan(&plan);
            report.outcome = Outcome::NothingToDeploy;
            report.reason = Some(format!(
                "nothing to deploy: neither the Worker's nor the web workspace changed since {since} \
                 ({} changed file(s){})",
                selection.changed.len(),
                if selection.affected.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; affected: {}",
                        selection
                            .affected
                            .iter()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
            return finish(env, global, &console, &root, &audit, report, false).await;
        }
    }
    report.set_plan(&plan);
    report.pages_project = pages_target.as_ref().map(|t| t.project.clone());
    let gate_cfg = GateConfig::from_config(env.config.deploy.gate.as_ref(), args.gate_window);

    let databases = crate::migrate::databases(env, &loaded.resolve_path(Path::new("")));
    if args.dry_run {
        report.outcome = Outcome::DryRun;
        // What a release would migrate, when the account can be read (a dry run changes nothing).
        if !databases.is_empty() {
            match sv_cloudflare_client(args, &runner) {
                Ok(client) => match crate::migrate::pending(&client, &databases).await {
                    Ok(p) => report.migrations = p.into_iter().flat_map(|p| p.migrations).collect(),
                    Err(e) => console.warn(&format!("pending migrations unknown: {e:#}")),
                },
                Err(e) => console.warn(&format!("pending migrations unknown: {e:#}")),
            }
        }
        audit.record("deploy", &script, sv_audit::Outcome::DryRun, None)?;
        return finish(env, global, &console, &root, &audit, report, false).await;
    }

    // One deploy per environment at a time (a dry run takes no lock).
    let client = sv_cloudflare_client(args, &runner)?;
    let _ = audit.cloud.set(client.clone());
    let ttl = (gate_cfg.window * 2 + Duration::from_secs(300)).max(Duration::from_secs(900));
    let lock = take_lock(
        &client,
        env,
        &root,
        &audit,
        "deploy",
        &id,
        args.lock_timeout,
        ttl,
        &console,
    )
    .await?;
    *held = Some((lock, client.clone()));

    // Secrets first: masked before anything could print them.
    let mut secrets = Vec::new();
    for name in &args.secrets {
        let value = sv_cli::env_vars::process_env(name).ok_or_else(|| {
            input_error(anyhow::anyhow!(
                "--secret {name}: the environment variable {name} is not set"
            ))
        })?;
        runner.mask(&value).context("cannot write to stdout")?;
        secrets.push((name.clone(), SecretString::from(value)));
    }

    if args.skip_build {
        console.info("builds skipped (--skip-build)");
    } else {
        console.info(&format!(
            "building {} workspace(s) in {} wave(s)",
            graph.workspaces.len(),
            plan.waves.len()
        ));
        report.builds = build::run(&plan, &root, &console).await?;
        if let Some(failed) = report.builds.iter().find(|b| !b.ok) {
            report.reason = Some(format!(
                "build of workspace `{}` failed (`{}`); nothing was uploaded",
                failed.workspace,
                failed.command.as_deref().unwrap_or("")
            ));
            return finish(env, global, &console, &root, &audit, report, true).await;
        }
    }

    let config_root = loaded.resolve_path(Path::new(""));
    // The Worker's bundle and bindings, read before anything changes (a release that leaves
    // the Worker alone needs neither: its build output may not even exist here).
    let prepared = if deploy_worker {
        let (base_dir, main) = bundle::module_root(worker, &config_root)?;
        let modules = bundle::modules(&base_dir, &main)?;
        let bindings = bundle::resolve(&client, &planned).await?;
        Some((main, modules, bindings))
    } else {
        None
    };
    let previous = if deploy_worker {
        current_deployment(&client, &script)
            .await?
            .and_then(|d| serving(&d))
    } else {
        None
    };
    report.previous_version_id.clone_from(&previous);

    // D1 migrations before the new version exists: it never serves a request without its
    // schema (a first deploy serves 100% as soon as it is uploaded).
    let pending = crate::migrate::pending(&client, &databases).await?;
    let (applied, migration_error) = crate::migrate::apply(&client, &pending).await;
    for m in &applied {
        audit.record(
            "apply-migration",
            &format!("{}/{}", m.database, m.name),
            sv_audit::Outcome::Succeeded,
            m.incompatible
                .then(|| "marked not backward-compatible".to_owned()),
        )?;
    }
    report.migrations = applied;
    if let Some(e) = migration_error {
        report.reason = Some(format!(
            "D1 migration failed: {e:#}; no new version was uploaded{}",
            previous
                .as_deref()
                .map_or(String::new(), |old| format!(", {old} still serves 100%"))
        ));
        return finish(env, global, &console, &root, &audit, report, true).await;
    }

    let message = format!("sv-deploy {id}");
    let worker_rollout = if let Some((main, modules, bindings)) = prepared {
        let mut annotations = args.annotations();
        annotations
            .entry("workers/message".into())
            .or_insert_with(|| format!("sv-deploy {id} by {}", audit.actor));
        annotations
            .entry("workers/tag".into())
            .or_insert_with(|| id.clone());
        // What marks this deploy's version, to find it after an upload whose answer was lost.
        let mark = (
            annotations.get("workers/tag").cloned(),
            annotations.get("workers/message").cloned(),
        );
        let upload = bundle::upload(worker, main, modules, bindings, &secrets, annotations);
        console.info(&format!("uploading a new version of {script}"));
        let version = if previous.is_some() {
            let workers = client.workers();
            crate::once::create_once(
                &format!("uploading a new version of {script}"),
                || workers.upload_version(&script, &upload),
                || version_marked(&client, &script, &mark, &id),
            )
            .await?
            .id
        } else {
            // First deploy: a Worker must exist before versions can be uploaded, and with no
            // previous version there is nothing to split traffic with.
            client
                .workers()
                .upload_script(&script, &upload)
                .await
                .with_context(|| format!("uploading {script}"))?;
            report.rollout = vec![100];
            current_deployment(&client, &script)
                .await?
                .and_then(|d| serving(&d))
                .context("the first upload created no deployment")?
        };
        report.version_id = Some(version.clone());
        audit.record(
            "upload-version",
            &format!("{script}@{version}"),
            sv_audit::Outcome::Succeeded,
            None,
        )?;

        let base = worker_base(
            &client,
            args.worker_url.as_ref(),
            &script,
            worker.definition.workers_dev,
        )
        .await?;
        report.url = base.as_ref().map(ToString::to_string);
        let http = http_client(base.as_ref(), args.connect_to)?;
        let specs = match &base {
            Some(b) => gate::specs(&env.config.health.checks, b, &script, &version)?,
            None => {
                console.warn("no workers.dev URL and no --worker-url: the gate has no HTTP checks");
                Vec::new()
            }
        };
        // Setting secrets changes them for every version: Cloudflare refuses a split with a
        // version older than the change (10220) unless forced, which is what a gradual rollout
        // (and a rollback) of a deploy that sets secrets means to do.
        let force = !secrets.is_empty();
        report.forced = force;

        // Smoke test at 0%: Cloudflare applies the version-override header only to a version of
        // the current deployment (docs: Workers › Version overrides), so the new version first
        // joins the deployment at 0% beside the old one at 100% — no traffic yet — and the
        // checks reach it through the override.
        if let Some(old) = &previous {
            client
                .workers()
                .create_deployment(
                    &script,
                    &NewDeployment::split(
                        &[(old.as_str(), 100.0), (version.as_str(), 0.0)],
                        Some(&format!("{message}: smoke test")),
                    ),
                    force,
                )
                .await
                .with_context(|| format!("staging {version} at 0% for the smoke test"))?;
            audit.record(
                "stage-version",
                &format!("{script}@{version} 0%"),
                sv_audit::Outcome::Succeeded,
                None,
            )?;
        }
        console.info(&format!("smoke test of {version}"));
        let smoke = run_gate(&specs, &http, None, &gate_cfg).await?;
        let smoke_failed = smoke.verdict == Verdict::Fail;
        let smoke_reason = fail_reason(&smoke);
        report.smoke = Some(smoke);
        if smoke_failed {
            // The failed version leaves the deployment again (it served no traffic at 0%).
            if let Some(old) = &previous {
                client
                    .workers()
                    .create_deployment(
                        &script,
                        &NewDeployment::split(
                            &[(old.as_str(), 100.0)],
                            Some(&format!("{message}: smoke test failed")),
                        ),
                        force,
                    )
                    .await
                    .with_context(|| format!("removing {version} from the deployment"))?;
                audit.record(
                    "unstage-version",
                    &format!("{script}@{version}"),
                    sv_audit::Outcome::Succeeded,
                    None,
                )?;
            }
            report.reason = Some(match &previous {
                Some(old) => {
                    format!("smoke test failed: {smoke_reason}; {old} still serves 100%")
                }
                None => {
                    format!("smoke test failed: {smoke_reason}; no previous version to return to")
                }
            });
            return finish(env, global, &console, &root, &audit, report, true).await;
        }

        Some(WorkerRollout {
            script: script.clone(),
            version: version.clone(),
            previous: previous.clone(),
            force,
            http,
            specs,
        })
    } else {
        None
    };
    let steps = if worker_rollout.is_some() {
        report.rollout.clone()
    } else {
        Vec::new()
    };
    let release = Release {
        global,
        env,
        console: &console,
        root: &root,
        audit: &audit,
        runner: &runner,
        client: &client,
        message,
        gate_cfg: &gate_cfg,
        pause_on_inconclusive: args.pause_on_inconclusive,
        pages_target,
    };
    let first_upload = worker_rollout
        .as_ref()
        .filter(|w| w.previous.is_none())
        .map(|w| w.script.clone());
    let status = roll_out(&release, worker_rollout.as_ref(), &steps, held, report).await?;
    if status == ExitStatus::Success
        && let Some(script) = first_upload
    {
        create_deferred_routes(&loaded, env, &client, &script, &console, &audit).await;
    }
    Ok(status)
}

/// After a Worker's first release: creates the routes and custom domains of it that
/// `sv-plan apply` deferred because the Worker did not exist yet (sv-infra's
/// `finish_deferred`), so a new environment needs one apply and one deploy. The release's
/// own result stands: a failure here is a warning saying what to run.
async fn create_deferred_routes(
    loaded: &LoadedConfig,
    env: &Environment,
    client: &sv_cloudflare::Client,
    script: &str,
    console: &Console,
    audit: &Audit,
) {
    let store = match sv_infra::store::configured(loaded, &env.name, Some(client)) {
        Ok(s) => s,
        Err(e) => {
            console.warn(&format!(
                "routes of {script} not created: {e}; run `sv-plan apply`"
            ));
            return;
        }
    };
    let root = loaded.resolve_path(Path::new(""));
    let req = sv_infra::ConvergeRequest {
        client,
        env,
        root: &root,
        store: store.as_ref(),
        options: sv_planner::PlanOptions {
            protect: env.protect,
            ..sv_planner::PlanOptions::default()
        },
        concurrency: 8,
        owner: audit.actor.0.clone(),
        operation: "deploy.routes".into(),
        config_checksum: String::new(),
    };
    match sv_infra::finish_deferred(&req, script).await {
        Ok(sv_infra::FinishedDeferred::Done(done)) => {
            for op in done.report.iter().flat_map(|r| &r.results) {
                let (outcome, detail) = match &op.outcome {
                    sv_infra::OpOutcome::Done { .. } => (sv_audit::Outcome::Succeeded, None),
                    sv_infra::OpOutcome::Failed { error } => {
                        (sv_audit::Outcome::Failed, Some(error.clone()))
                    }
                    _ => continue,
                };
                let line = match &detail {
                    None => format!(
                        "created {} ({}) now that {script} exists (sv-plan apply deferred it)",
                        op.address, op.name
                    ),
                    Some(e) => format!("creating {} ({}) failed: {e}", op.address, op.name),
                };
                if detail.is_some() {
                    console.warn(&format!("{line}; run `sv-plan apply` to retry"));
                } else {
                    console.info(&line);
                }
                if let Err(e) =
                    audit.record("create-route", &op.address.to_string(), outcome, detail)
                {
                    console.warn(&format!("{e:#}"));
                }
            }
        }
        Ok(sv_infra::FinishedDeferred::Nothing | sv_infra::FinishedDeferred::NoState) => {}
        Err(e) => console.warn(&format!(
            "routes and custom domains of {script} not created: {e}; run `sv-plan apply`"
        )),
    }
}

/// The Worker half of a release, once its version is uploaded and smoke-tested.
struct WorkerRollout {
    script: String,
    version: String,
    previous: Option<String>,
    /// Force splits and rollbacks (the release set secrets: Cloudflare code 10220).
    force: bool,
    http: reqwest::Client,
    specs: Vec<sv_checks::CheckSpec>,
}

/// What the rollout steps, Pages and the records need.
struct Release<'a> {
    global: &'a GlobalArgs,
    env: &'a Environment,
    console: &'a Console,
    root: &'a Path,
    audit: &'a Audit,
    runner: &'a sv_actions::Runner,
    client: &'a sv_cloudflare::Client,
    message: String,
    gate_cfg: &'a GateConfig,
    pause_on_inconclusive: bool,
    pages_target: Option<crate::pages::PagesTarget>,
}

/// The gated rollout steps `steps` of the Worker (none when the release leaves it alone),
/// then Pages, then the records; used by `deploy` and by `resume`.
async fn roll_out(
    release: &Release<'_>,
    worker: Option<&WorkerRollout>,
    steps: &[u32],
    held: &mut Held,
    mut report: DeployReport,
) -> anyhow::Result<ExitStatus> {
    let Release {
        global,
        env,
        console,
        root,
        audit,
        runner,
        client,
        message,
        gate_cfg,
        pause_on_inconclusive,
        pages_target,
    } = release;
    let (global, env, console, root, audit, runner, client, gate_cfg) = (
        *global, *env, *console, *root, *audit, *runner, *client, *gate_cfg,
    );
    if let Some(w) = worker {
        let WorkerRollout {
            script,
            version,
            previous,
            force,
            http,
            specs,
        } = w;
        let force = *force;

        for &percent in steps {
            if let Some(old) = &previous {
                let split: Vec<(&str, f64)> = if percent >= 100 {
                    vec![(version.as_str(), 100.0)]
                } else {
                    vec![
                        (version.as_str(), f64::from(percent)),
                        (old.as_str(), f64::from(100 - percent)),
                    ]
                };
                let shifted = create_deployment(
                    client,
                    script,
                    &NewDeployment::split(&split, Some(message)),
                    force,
                )
                .await;
                if let Err(e) = shifted {
                    // Traffic may already be split (an earlier step, or an ambiguous failure):
                    // return it to the previous version before giving up.
                    let restored = restore(client, script, old, message, force).await;
                    report.reason = Some(match restored {
                        Ok(()) => format!(
                            "shifting {percent}% to {version} failed: {e}; {old} serves 100% again"
                        ),
                        Err(r) => format!(
                            "shifting {percent}% to {version} failed: {e}; rolling back failed too: {r:#}"
                        ),
                    });
                    return finish(env, global, console, root, audit, report, true).await;
                }
            }
            if let Some((lock, c)) = held.as_mut()
                && let Err(e) = lock.renew(c).await
            {
                console.warn(&format!("deploy lock not renewed: {e:#}"));
            }
            console.info(&format!(
                "{percent}% on {version}; watching for {}",
                humanize(gate_cfg.window)
            ));
            let since = Utc::now();
            tokio::time::sleep(gate_cfg.window).await;
            let result = run_gate(
                specs,
                http,
                Some(AnalyticsTarget {
                    client,
                    script,
                    since,
                    new: version,
                    previous: previous.as_deref(),
                }),
                gate_cfg,
            )
            .await?;
            let failed = result.verdict == Verdict::Fail;
            let pause =
                *pause_on_inconclusive && result.verdict == Verdict::Inconclusive && percent < 100;
            let reason = fail_reason(&result);
            report.steps.push(Step {
                percent,
                gate: result,
            });
            if failed {
                report.reason = Some(match &previous {
                    Some(old) if env.config.deploy.auto_rollback => {
                        restore(client, script, old, message, force).await?;
                        report.outcome = Outcome::RolledBack;
                        format!(
                            "health gate at {percent}% failed: {reason}; rolled back to {old} (100%)"
                        )
                    }
                    Some(_) => format!(
                        "health gate at {percent}% failed: {reason}; deploy.auto_rollback is off, the split stays"
                    ),
                    None => {
                        format!("health gate failed: {reason}; no previous version to return to")
                    }
                });
                // The schema moved on before any traffic did: say so, the old code now
                // runs against it (as it already did for the rest of the split).
                let incompatible: Vec<String> = report
                    .migrations
                    .iter()
                    .filter(|m| m.incompatible)
                    .map(|m| format!("{}/{}", m.database, m.name))
                    .collect();
                if !incompatible.is_empty() && report.outcome == Outcome::RolledBack {
                    push_reason(
                        &mut report.reason,
                        format!(
                            "note: this release applied not-backward-compatible migration(s) {}, \
                             which stay applied; the previous version runs against them",
                            incompatible.join(", ")
                        ),
                    );
                }
                return finish(env, global, console, root, audit, report, true).await;
            }
            if pause {
                // The gate could not decide: hold the split for a human instead of moving on.
                report.outcome = Outcome::Paused;
                report.reason = Some(format!(
                    "health gate at {percent}% was inconclusive: {reason}; paused (--pause-on-inconclusive), \
                     {version} keeps {percent}% — continue with `sv-deploy resume --env {env} {id}`, \
                     or return with `sv-deploy rollback --env {env} {id}`",
                    env = env.name,
                    id = report.id
                ));
                return finish(env, global, console, root, audit, report, false).await;
            }
        }
    }
    if let Some(target) = &pages_target {
        console.info(&format!(
            "deploying {} to Pages project {}",
            target.output.display(),
            target.project
        ));
        match crate::pages::deploy(
            client,
            target,
            sv_cli::env_vars::process_env("GITHUB_SHA"),
            message,
            runner,
        )
        .await
        {
            Ok(result) => {
                audit.record(
                    "pages-deploy",
                    &format!("{}@{}", result.project, result.deployment_id),
                    sv_audit::Outcome::Succeeded,
                    None,
                )?;
                report.pages = Some(result);
            }
            Err(e) => {
                let worker = report.version_id.as_deref().map_or_else(
                    || "the Worker is unchanged".to_owned(),
                    |v| format!("the Worker serves {v} at 100%"),
                );
                report.reason = Some(format!("{worker}, but the Pages deploy failed: {e:#}"));
                return finish(env, global, console, root, audit, report, true).await;
            }
        }
    }
    report.outcome = Outcome::Succeeded;
    finish(env, global, console, root, audit, report, false).await
}

fn humanize(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn sv_cloudflare_client(
    args: &DeployArgs,
    runner: &sv_actions::Runner,
) -> anyhow::Result<sv_cloudflare::Client> {
    sv_cli::context::cloudflare(&args.cloudflare, runner)
}

/// All traffic back to `old`.
async fn restore(
    client: &sv_cloudflare::Client,
    script: &str,
    old: &str,
    message: &str,
    force: bool,
) -> anyhow::Result<()> {
    create_deployment(
        client,
        script,
        &NewDeployment::split(&[(old, 100.0)], Some(&format!("{message}: rollback"))),
        force,
    )
    .await
    .with_context(|| format!("rolling back to {old}: CHECK THE DEPLOYMENT OF {script} NOW"))?;
    Ok(())
}

/// A Workers deployment, made once: after a lost answer, the latest deployment is ours if it
/// has our message and exactly our split.
async fn create_deployment(
    client: &sv_cloudflare::Client,
    script: &str,
    deployment: &NewDeployment,
    force: bool,
) -> anyhow::Result<Deployment> {
    let workers = client.workers();
    crate::once::create_once(
        &format!("creating a deployment of {script}"),
        || workers.create_deployment(script, deployment, force),
        || async {
            let latest = current_deployment(client, script).await?;
            Ok(latest.filter(|d| {
                d.annotations.get("workers/message")
                    == deployment.annotations.get("workers/message")
                    && same_split(&d.versions, &deployment.versions)
            }))
        },
    )
    .await
}

fn same_split(
    a: &[sv_cloudflare::workers::DeploymentVersion],
    b: &[sv_cloudflare::workers::DeploymentVersion],
) -> bool {
    let key = |v: &[sv_cloudflare::workers::DeploymentVersion]| {
        let mut k: Vec<(String, u64)> = v
            .iter()
            .map(|x| (x.version_id.clone(), x.percentage.to_bits()))
            .collect();
        k.sort();
        k
    };
    key(a) == key(b)
}

/// The version this deploy uploaded, if the API has it: its `workers/tag` is the deploy's id
/// (or, when `--annotate` set the tag, its `workers/message` names the deploy id). Without
/// either mark a version cannot be told apart, and the lost upload is reported, not repeated.
async fn version_marked(
    client: &sv_cloudflare::Client,
    script: &str,
    (tag, message): &(Option<String>, Option<String>),
    id: &str,
) -> anyhow::Result<Option<sv_cloudflare::workers::WorkerVersion>> {
    use futures::StreamExt as _;
    let ours_by_tag = tag.as_deref() == Some(id);
    let ours_by_message = message.as_deref().is_some_and(|m| m.contains(id));
    if !ours_by_tag && !ours_by_message {
        anyhow::bail!("this deploy's version carries no mark of its own (workers/tag was set)");
    }
    // Newest first: ours, if it exists, is among the latest.
    let mut versions = Box::pin(client.workers().list_versions(script, false).take(100));
    while let Some(v) = versions.next().await {
        let v = v.with_context(|| format!("listing the versions of {script}"))?;
        let found = if ours_by_tag {
            v.annotations.get("workers/tag") == tag.as_ref()
        } else {
            v.annotations.get("workers/message") == message.as_ref()
        };
        if found {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// On a pull request (with `GITHUB_TOKEN`), the report as the sticky comment
/// `Marker("deploy", env)`, edited in place on every run. Failures are warnings.
async fn pr_comment(env: &Environment, report: &DeployReport, console: &Console) {
    let ctx = match sv_cli::context::github(console.runner()) {
        Ok(ctx) => ctx,
        Err(e) => {
            console.warn(&format!("no PR comment: {e:#}"));
            return;
        }
    };
    let (Some(pr), Some(_), Some(_)) = (ctx.pr_number, &ctx.token, &ctx.repository) else {
        return;
    };
    let result = async {
        let client = ctx.client()?;
        let marker = sv_github::Marker::new("deploy", &env.name)?;
        client
            .upsert_comment(pr, &marker, &sv_report::Render::markdown(report))
            .await
    }
    .await;
    if let Err(e) = result {
        console.warn(&format!(
            "PR comment not written (the deploy result stands): {e}"
        ));
    }
}

/// Records, outputs and prints the report; the exit status follows the outcome.
async fn finish(
    env: &Environment,
    global: &GlobalArgs,
    console: &Console,
    root: &Path,
    audit: &Audit,
    mut report: DeployReport,
    failed: bool,
) -> anyhow::Result<ExitStatus> {
    if failed && report.outcome == Outcome::Succeeded {
        report.outcome = Outcome::Failed;
    }
    let changed = !matches!(report.outcome, Outcome::DryRun | Outcome::NothingToDeploy);
    if changed {
        keep_record(
            env,
            root,
            audit,
            console,
            &DeploymentRecord {
                id: report.id.clone(),
                time: Utc::now(),
                environment: report.environment.clone(),
                kind: if report.resumed { "resume" } else { "deploy" }.into(),
                actor: audit.actor.0.clone(),
                commit: sv_cli::env_vars::process_env("GITHUB_SHA"),
                script: report.script.clone(),
                version_id: report.version_id.clone(),
                previous_version_id: report.previous_version_id.clone(),
                percent: report.final_percent(),
                outcome: report.outcome,
                reason: report.reason.clone(),
                run_url: audit.run_url.clone(),
                migrations: report.migrations.clone(),
                pages: report.pages.as_ref().map(|p| PagesRef {
                    project: p.project.clone(),
                    deployment_id: p.deployment_id.clone(),
                }),
                rollout: report.rollout.clone(),
                forced: report.forced,
            },
        )
        .await?;
        audit.record(
            "deploy",
            report.script.as_deref().unwrap_or(&report.environment),
            if report.outcome == Outcome::Succeeded {
                sv_audit::Outcome::Succeeded
            } else {
                sv_audit::Outcome::Failed
            },
            report.reason.clone(),
        )?;
    }
    if changed {
        crate::notify::send(env, &report, audit.run_url.as_deref(), root, console).await;
        pr_comment(env, &report, console).await;
    }
    let runner = console.runner();
    let outcome = serde_json::to_value(report.outcome)?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    runner.set_output("deployment-id", &report.id)?;
    runner.set_output("version-id", report.version_id.as_deref().unwrap_or(""))?;
    runner.set_output("url", report.url.as_deref().unwrap_or(""))?;
    runner.set_output("outcome", &outcome)?;
    runner.append_summary(&sv_report::Render::markdown(&report))?;
    if let Some(reason) = &report.reason
        && !matches!(
            report.outcome,
            Outcome::Succeeded | Outcome::NothingToDeploy
        )
    {
        runner.annotate(&sv_actions::Annotation::error(reason.clone()).title("sv-deploy"))?;
    }
    global.output().print(&report)?;
    Ok(match report.outcome {
        Outcome::Succeeded | Outcome::DryRun | Outcome::NothingToDeploy => ExitStatus::Success,
        _ => ExitStatus::Failure,
    })
}

/// `sv-deploy rollback`.
pub async fn rollback(global: &GlobalArgs, args: &RollbackArgs) -> anyhow::Result<ExitStatus> {
    let mut held = None;
    let result = rollback_inner(global, args, &mut held).await;
    release(global, held).await;
    result
}

async fn rollback_inner(
    global: &GlobalArgs,
    args: &RollbackArgs,
    held: &mut Held,
) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let console = Console::new(runner.clone(), global.quiet);
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let root = app_root(&loaded);
    let audit = Audit::new(&root, &env.name);
    guard(env, &audit, true, &console)?;
    let worker = bundle::worker(env)?;
    let script = worker.definition.name.clone();
    let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
    // An unknown release is bad input whatever the Worker's deployments hold; the release
    // may have been made on another machine (its records are kept in KV too).
    let undone = match &args.release {
        Some(release) => {
            let records = all_records(&client, env, &root, &console).await?;
            Some(undo_target(&records, &env.name, release)?)
        }
        None => None,
    };
    let list = client
        .workers()
        .list_deployments(&script)
        .await
        .with_context(|| format!("reading the deployments of {script}"))?;
    let current = list.first().and_then(serving);
    let target = match (&args.to, undone) {
        (Some(v), _) => v.clone(),
        (None, Some(v)) => v,
        (None, None) => list
            .iter()
            .filter_map(serving)
            .find(|v| Some(v) != current.as_ref())
            .ok_or_else(|| {
                input_error(anyhow::anyhow!(
                    "{script} has no earlier version to roll back to: pass --to VERSION"
                ))
            })?,
    };
    // An unknown version is an input error, not a failed job.
    let info = client
        .workers()
        .get_version(&script, &target)
        .await
        .map_err(|e| {
            if e.is_not_found() {
                input_error(anyhow::anyhow!("{script} has no version {target}"))
            } else {
                anyhow::Error::new(e).context("reading the target version")
            }
        })?;
    let id = format!(
        "{}-{}",
        Utc::now().format("%Y%m%d%H%M%S"),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    let mut record = DeploymentRecord {
        id: id.clone(),
        time: Utc::now(),
        environment: env.name.clone(),
        kind: "rollback".into(),
        actor: audit.actor.0.clone(),
        commit: sv_cli::env_vars::process_env("GITHUB_SHA"),
        script: Some(script.clone()),
        version_id: Some(target.clone()),
        previous_version_id: current.clone(),
        percent: 100,
        outcome: Outcome::DryRun,
        reason: None,
        run_url: audit.run_url.clone(),
        migrations: Vec::new(),
        pages: None,
        rollout: Vec::new(),
        forced: false,
    };
    let config_root = loaded.resolve_path(Path::new(""));
    if Some(&target) != current.as_ref() {
        record.reason = migration_guard(
            &client,
            env,
            &config_root,
            &script,
            &target,
            &info,
            args,
            &audit,
            &console,
        )
        .await?;
    }
    let pages_target = crate::pages::target(env, &config_root);
    let mut failed = false;
    if !args.dry_run {
        let _ = audit.cloud.set(client.clone());
        let lock = take_lock(
            &client,
            env,
            &root,
            &audit,
            "rollback",
            &id,
            args.lock_timeout,
            Duration::from_secs(900),
            &console,
        )
        .await?;
        *held = Some((lock, client.clone()));
    }
    if args.dry_run {
        audit.record("rollback", &script, sv_audit::Outcome::DryRun, None)?;
    } else {
        restore(
            &client,
            &script,
            &target,
            &format!("sv-deploy {id}"),
            args.force,
        )
        .await?;
        record.outcome = Outcome::Succeeded;
        audit.record(
            "rollback",
            &format!("{script}@{target}"),
            sv_audit::Outcome::Succeeded,
            record.reason.clone(),
        )?;
        if let Some(pages) = &pages_target {
            let release = release_of(&root, &env.name, &target, &info)?;
            match rollback_pages(&client, pages, release.as_ref()).await {
                Ok(PagesRollback::Done(r)) => {
                    audit.record(
                        "pages-rollback",
                        &format!("{}@{}", r.project, r.deployment_id),
                        sv_audit::Outcome::Succeeded,
                        None,
                    )?;
                    record.pages = Some(r);
                }
                Ok(PagesRollback::Left(why)) => {
                    console.warn(&why);
                    push_reason(&mut record.reason, why);
                }
                Err(e) => {
                    failed = true;
                    record.outcome = Outcome::Failed;
                    let why = format!(
                        "the Worker serves {target} at 100%, but the Pages rollback failed: {e:#}"
                    );
                    audit.record(
                        "pages-rollback",
                        &pages.project,
                        sv_audit::Outcome::Failed,
                        Some(why.clone()),
                    )?;
                    push_reason(&mut record.reason, why);
                }
            }
        }
        keep_record(env, &root, &audit, &console, &record).await?;
    }
    runner.set_output("deployment-id", &record.id)?;
    runner.set_output("version-id", &target)?;
    let report = HistoryReport {
        environment: env.name.clone(),
        records: vec![record],
        remote: None,
    };
    runner.append_summary(&sv_report::Render::markdown(&report))?;
    global.output().print(&report)?;
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// The version a release replaced (what `rollback RELEASE` returns to).
fn undo_target(records: &[DeploymentRecord], env: &str, release: &str) -> anyhow::Result<String> {
    let record = records
        .iter()
        .rev()
        .find(|r| r.id == release && r.kind != "rollback")
        .ok_or_else(|| {
            input_error(anyhow::anyhow!(
                "no release {release} in the history of `{env}` (`sv-deploy history --env {env}` lists them)"
            ))
        })?;
    record.previous_version_id.clone().ok_or_else(|| {
        input_error(anyhow::anyhow!(
            "release {release} replaced no earlier version: nothing to return to"
        ))
    })
}

/// `sv-deploy resume`.
pub async fn resume(global: &GlobalArgs, args: &ResumeArgs) -> anyhow::Result<ExitStatus> {
    let mut held = None;
    let result = resume_inner(global, args, &mut held).await;
    release(global, held).await;
    result
}

async fn resume_inner(
    global: &GlobalArgs,
    args: &ResumeArgs,
    held: &mut Held,
) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let console = Console::new(runner.clone(), global.quiet);
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let root = app_root(&loaded);
    let audit = Audit::new(&root, &env.name);
    guard(env, &audit, args.ignore_freeze, &console)?;
    let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
    let _ = audit.cloud.set(client.clone());
    // The pause may have happened on another machine: its records are kept in KV too.
    let records = all_records(&client, env, &root, &console).await?;
    let id = &args.id;
    let record = records.iter().rev().find(|r| &r.id == id).ok_or_else(|| {
        input_error(anyhow::anyhow!(
            "no release {id} in the history of `{}` (`sv-deploy history --env {}` lists them)",
            env.name,
            env.name
        ))
    })?;
    if record.outcome != Outcome::Paused {
        return Err(input_error(anyhow::anyhow!(
            "release {id} is not paused (its latest record: {} {}): nothing to resume",
            record.kind,
            serde_json::to_value(record.outcome)?
                .as_str()
                .unwrap_or_default()
        )));
    }
    let (Some(script), Some(version), Some(previous)) = (
        record.script.clone(),
        record.version_id.clone(),
        record.previous_version_id.clone(),
    ) else {
        return Err(input_error(anyhow::anyhow!(
            "release {id} has no paused split to resume"
        )));
    };
    let gate_cfg = GateConfig::from_config(env.config.deploy.gate.as_ref(), args.gate_window);
    let lock = take_lock(
        &client,
        env,
        &root,
        &audit,
        "resume",
        id,
        args.lock_timeout,
        (gate_cfg.window * 2 + Duration::from_secs(300)).max(Duration::from_secs(900)),
        &console,
    )
    .await?;
    *held = Some((lock, client.clone()));

    // Only the split the release paused at can be resumed: a human may have promoted or
    // returned it since.
    let paused_at = f64::from(record.percent);
    let current = current_deployment(&client, &script).await?;
    let still = current.as_ref().is_some_and(|d| {
        let share = |v: &str| {
            d.versions
                .iter()
                .find(|x| x.version_id == v)
                .map(|x| x.percentage)
        };
        d.versions.len() == 2
            && share(&version).is_some_and(|p| (p - paused_at).abs() < 0.01)
            && share(&previous).is_some_and(|p| (p - (100.0 - paused_at)).abs() < 0.01)
    });
    if !still {
        let now = current.map_or_else(
            || "no deployment".to_owned(),
            |d| {
                d.versions
                    .iter()
                    .map(|v| format!("{} {}%", v.version_id, v.percentage))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        );
        return Err(input_error(anyhow::anyhow!(
            "the split of {script} changed since release {id} paused at {}% (now: {now}): nothing to resume",
            record.percent
        )));
    }
    let rollout = if record.rollout.is_empty() {
        env.config.deploy.rollout.clone()
    } else {
        record.rollout.clone()
    };
    let steps: Vec<u32> = rollout
        .iter()
        .copied()
        .filter(|p| *p > record.percent)
        .collect();

    let worker = bundle::worker(env)?;
    let base = worker_base(
        &client,
        args.worker_url.as_ref(),
        &script,
        worker.definition.workers_dev,
    )
    .await?;
    let http = http_client(base.as_ref(), args.connect_to)?;
    let specs = match &base {
        Some(b) => gate::specs(&env.config.health.checks, b, &script, &version)?,
        None => {
            console.warn("no workers.dev URL and no --worker-url: the gate has no HTTP checks");
            Vec::new()
        }
    };
    let mut pages_target = if args.skip_pages {
        None
    } else {
        crate::pages::target(env, &loaded.resolve_path(Path::new("")))
    };
    if let Some(t) = pages_target.as_ref().filter(|t| !t.output.is_dir()) {
        console.warn(&format!(
            "Pages not deployed: {} is not built here (build it and resume here, or a later deploy ships it)",
            t.output.display()
        ));
        pages_target = None;
    }

    let mut report = DeployReport::new(id.clone(), env.name.clone());
    report.resumed = true;
    report.forced = record.forced;
    report.script = Some(script.clone());
    report.version_id = Some(version.clone());
    report.previous_version_id = Some(previous.clone());
    report.rollout = rollout;
    report.url = base.as_ref().map(ToString::to_string);
    report.pages_project = pages_target.as_ref().map(|t| t.project.clone());
    audit.record(
        "resume",
        &format!("{script}@{version}"),
        sv_audit::Outcome::Succeeded,
        Some(format!("from {}%", record.percent)),
    )?;
    console.info(&format!(
        "resuming release {id}: {version} at {}%, remaining steps {steps:?}",
        record.percent
    ));
    let release = Release {
        global,
        env,
        console: &console,
        root: &root,
        audit: &audit,
        runner: &runner,
        client: &client,
        message: format!("sv-deploy {id}"),
        gate_cfg: &gate_cfg,
        pause_on_inconclusive: args.pause_on_inconclusive,
        pages_target,
    };
    let worker = WorkerRollout {
        script,
        version,
        previous: Some(previous),
        force: record.forced,
        http,
        specs,
    };
    roll_out(&release, Some(&worker), &steps, held, report).await
}

fn push_reason(reason: &mut Option<String>, more: String) {
    *reason = Some(match reason.take() {
        Some(r) => format!("{r}; {more}"),
        None => more,
    });
}

/// Refuses a rollback to a version made before a not-backward-compatible migration was
/// applied (exit 2), unless `--allow-incompatible-migrations`, which is recorded: the
/// returned note goes into the rollback's record.
#[allow(clippy::too_many_arguments)]
async fn migration_guard(
    client: &sv_cloudflare::Client,
    env: &Environment,
    config_root: &Path,
    script: &str,
    target: &str,
    info: &sv_cloudflare::workers::WorkerVersion,
    args: &RollbackArgs,
    audit: &Audit,
    console: &Console,
) -> anyhow::Result<Option<String>> {
    let databases = crate::migrate::databases(env, config_root);
    if databases.is_empty() {
        return Ok(None);
    }
    let Some(made) = info
        .metadata
        .created_on
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    else {
        console.warn(&format!(
            "version {target} has no creation time: cannot tell which migrations are newer"
        ));
        return Ok(None);
    };
    let made = made.with_timezone(&Utc);
    let blocking = crate::migrate::applied_after(client, &databases, made).await?;
    if blocking.is_empty() {
        return Ok(None);
    }
    let names = blocking
        .iter()
        .map(|b| {
            format!(
                "`{}` of D1 database `{}` (applied {} UTC)",
                b.migration.name, b.migration.database, b.applied_at
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let made = made.format("%Y-%m-%d %H:%M:%S");
    if !args.allow_incompatible_migrations {
        let why = format!(
            "version {target} of {script} was made at {made} UTC, before the not-backward-compatible \
             migration(s) {names}; its code may not work against the migrated schema"
        );
        audit.record(
            "rollback",
            script,
            sv_audit::Outcome::Denied,
            Some(why.clone()),
        )?;
        return Err(input_error(anyhow::anyhow!(
            "refusing to roll back: {why}. Roll forward with a fix instead, or pass \
             --allow-incompatible-migrations to roll back anyway (recorded)"
        )));
    }
    let note = format!(
        "rolled back across not-backward-compatible migration(s) {names} (--allow-incompatible-migrations)"
    );
    console.warn(&note);
    audit.record(
        "migration-override",
        &format!("{script}@{target}"),
        if args.dry_run {
            sv_audit::Outcome::DryRun
        } else {
            sv_audit::Outcome::Succeeded
        },
        Some(note.clone()),
    )?;
    Ok(Some(note))
}

/// The release that deployed `version`: its local record (with its Pages deployment), else
/// its id from the version's `workers/tag` (sv-deploy tags each version with its release id).
fn release_of(
    root: &Path,
    env: &str,
    version: &str,
    info: &sv_cloudflare::workers::WorkerVersion,
) -> anyhow::Result<Option<(String, Option<PagesRef>)>> {
    let records = read_history(root, env)?;
    // A deploy, or the resume that finished it (and deployed its Pages).
    let of_version: Vec<&DeploymentRecord> = records
        .iter()
        .rev()
        .filter(|r| r.kind != "rollback" && r.version_id.as_deref() == Some(version))
        .collect();
    let local = of_version
        .iter()
        .find(|r| r.pages.is_some())
        .or_else(|| of_version.first());
    if let Some(r) = local {
        return Ok(Some((r.id.clone(), r.pages.clone())));
    }
    Ok(info
        .annotations
        .get("workers/tag")
        .map(|tag| (tag.clone(), None)))
}

enum PagesRollback {
    Done(PagesRef),
    /// Left as it is, and why.
    Left(String),
}

/// Pages back to the deployment the target release made, through Cloudflare's rollback
/// endpoint (production deployments only).
async fn rollback_pages(
    client: &sv_cloudflare::Client,
    target: &crate::pages::PagesTarget,
    release: Option<&(String, Option<PagesRef>)>,
) -> anyhow::Result<PagesRollback> {
    let Some((release, recorded)) = release else {
        return Ok(PagesRollback::Left(format!(
            "Pages project {} left as it is: the target version names no sv-deploy release",
            target.project
        )));
    };
    let deployment = match recorded {
        Some(r) if r.project == target.project => Some(
            client
                .pages()
                .get_deployment(&r.project, &r.deployment_id)
                .await
                .with_context(|| format!("reading Pages deployment {}", r.deployment_id))?,
        ),
        _ => {
            crate::pages::deployment_with_message(
                client,
                &target.project,
                &format!("sv-deploy {release}"),
            )
            .await?
        }
    };
    let Some(deployment) = deployment else {
        return Ok(PagesRollback::Left(format!(
            "Pages project {} left as it is: release {release} made no Pages deployment",
            target.project
        )));
    };
    if deployment.environment.as_deref() != Some("production") {
        return Ok(PagesRollback::Left(format!(
            "Pages project {} left as it is: release {release}'s deployment {} is a preview \
             deployment (branch `{}`), and Cloudflare rolls back to production deployments only",
            target.project, deployment.id, target.branch
        )));
    }
    let new = client
        .pages()
        .rollback_deployment(&target.project, &deployment.id)
        .await
        .with_context(|| {
            format!(
                "rolling Pages project {} back to deployment {}",
                target.project, deployment.id
            )
        })?;
    Ok(PagesRollback::Done(PagesRef {
        project: target.project.clone(),
        deployment_id: new.id,
    }))
}

/// `sv-deploy history`.
pub async fn history(global: &GlobalArgs, args: &HistoryArgs) -> anyhow::Result<ExitStatus> {
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let root = app_root(&loaded);
    let mut records = read_history(&root, &env.name)?;
    let remote = if args.remote {
        let runner = sv_cli::context::runner();
        let script = bundle::worker(env)?.definition.name.clone();
        let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
        let kept = crate::records::fetch(&client, env, args.limit).await?;
        records = crate::records::merge(records, kept);
        let mut list = client
            .workers()
            .list_deployments(&script)
            .await
            .with_context(|| format!("listing the deployments of {script}"))?;
        // Newest first, whatever order the API used.
        list.sort_by(|a, b| b.created_on.cmp(&a.created_on));
        list.truncate(args.limit);
        Some(list.into_iter().map(RemoteDeployment::from).collect())
    } else {
        None
    };
    let skip = records.len().saturating_sub(args.limit);
    records.drain(..skip);
    global.output().print(&HistoryReport {
        environment: env.name.clone(),
        records,
        remote,
    })?;
    Ok(ExitStatus::Success)
}

/// The local records merged with those kept in KV (oldest first); KV that cannot be read
/// is a warning, the local records stand.
async fn all_records(
    client: &sv_cloudflare::Client,
    env: &Environment,
    root: &Path,
    console: &Console,
) -> anyhow::Result<Vec<DeploymentRecord>> {
    let local = read_history(root, &env.name)?;
    match crate::records::fetch(client, env, usize::MAX).await {
        Ok(kept) => Ok(crate::records::merge(local, kept)),
        Err(e) => {
            console.warn(&format!(
                "release records kept on Cloudflare not read (using the local ones): {e:#}"
            ));
            Ok(local)
        }
    }
}

/// `sv-deploy status ID`: the records of one release (its deploy, and the resume that
/// finished it) from the local history and KV.
async fn release_status(
    global: &GlobalArgs,
    loaded: &LoadedConfig,
    env: &Environment,
    client: &sv_cloudflare::Client,
    release: &str,
) -> anyhow::Result<ExitStatus> {
    let root = app_root(loaded);
    let console = Console::new(sv_cli::context::runner(), global.quiet);
    let records: Vec<DeploymentRecord> = all_records(client, env, &root, &console)
        .await?
        .into_iter()
        .filter(|r| r.id == release)
        .collect();
    if records.is_empty() {
        return Err(input_error(anyhow::anyhow!(
            "no release {release} in the history of `{}` (local or kept on Cloudflare)",
            env.name
        )));
    }
    global.output().print(&HistoryReport {
        environment: env.name.clone(),
        records,
        remote: None,
    })?;
    Ok(ExitStatus::Success)
}

/// `sv-deploy status`.
pub async fn status(global: &GlobalArgs, args: &StatusArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let worker = bundle::worker(env)?;
    let script = worker.definition.name.clone();
    let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
    if let Some(release) = &args.release {
        return release_status(global, &loaded, env, &client, release).await;
    }
    let current = current_deployment(&client, &script).await?;
    let mut versions = Vec::new();
    if let Some(d) = &current {
        for v in &d.versions {
            let info = client
                .workers()
                .get_version(&script, &v.version_id)
                .await
                .ok();
            versions.push(ServingVersion {
                version_id: v.version_id.clone(),
                percentage: v.percentage,
                number: info.as_ref().and_then(|i| i.number),
                created_on: info.as_ref().and_then(|i| i.metadata.created_on.clone()),
                message: info.and_then(|i| i.annotations.get("workers/message").cloned()),
            });
        }
    }
    let mut checks = Vec::new();
    if current.is_some() {
        let base = worker_base(
            &client,
            args.worker_url.as_ref(),
            &script,
            worker.definition.workers_dev,
        )
        .await?;
        if let Some(b) = &base {
            let http = http_client(Some(b), args.connect_to)?;
            let mut specs = gate::specs(&env.config.health.checks, b, &script, "")?;
            // Not pinned: status shows what users get from the serving split.
            for s in &mut specs {
                if let sv_checks::CheckTarget::Http(h) = &mut s.target {
                    h.headers.remove("Cloudflare-Workers-Version-Overrides");
                }
            }
            checks = gate::run_http(&specs, &http).await?;
        }
    }
    let unhealthy = checks.iter().any(|c| !c.healthy);
    global.output().print(&StatusReport {
        environment: env.name.clone(),
        script,
        deployment_id: current.as_ref().and_then(|d| d.id.clone()),
        deployed_on: current.as_ref().and_then(|d| d.created_on.clone()),
        versions,
        checks,
    })?;
    Ok(if unhealthy {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_schedules() {
        assert!(validate_rollout(&[10, 50, 100]).is_ok());
        assert!(validate_rollout(&[100]).is_ok());
        assert!(validate_rollout(&[50, 10, 100]).is_err());
        assert!(validate_rollout(&[10, 50]).is_err());
        assert!(validate_rollout(&[0, 100]).is_err());
        assert!(validate_rollout(&[]).is_err());
    }
}
