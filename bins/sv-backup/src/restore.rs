//! `sv-backup plan` and `sv-backup restore`.
//!
//! A restore reads the archive twice through one open file handle: pass one
//! ([`recovery::scan`]) decrypts everything and checks every checksum, the manifest and each
//! entry's content before the first write; pass two decrypts again and streams each entry
//! into its API call (KV bulk writes in bounded batches, D1 imports and R2 PUTs). An upload
//! that fails on a network error, a 429 or a 5xx is sent again, so its body must be
//! replayable: an entry up to [`HOLD_IN_MEMORY`] is held in memory, a larger one is copied
//! into an [`sv_archive::Spool`] (an unnamed temporary file encrypted with a key that only
//! this process holds: plaintext never touches the disk) and streamed from there on each
//! attempt. Nothing is uploaded before the entry has been read to its end and its checksum
//! checked again. A D1 import whose answer was lost may or may not have run, so it is not
//! resent alone: the database is emptied again (`DROP … IF EXISTS`) and every SQL entry of
//! it imported again, which ends in the same state whether the lost one ran or not. The
//! manifest read in pass two must equal pass one's.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader, IsTerminal as _, Read, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;
use sv_archive::{ArchiveReader, Decryption, EntryMeta};
use sv_cli::{ExitStatus, GlobalArgs, InputError};
use sv_cloudflare::Client;
use sv_cloudflare::r2::{ObjectBody, PutObjectOptions};
use sv_report::{Render, Styles};
use sv_snapshot::d1::{d1_tables, quote_ident};
use sv_snapshot::worker::WorkerDoc;

use crate::args::{PlanArgs, RestoreArgs};
use crate::recovery::{self, Kind, KvRecord, RecoveryPlan, Scan, Target};

const TOOL: &str = "sv-backup";
/// Pairs per KV bulk write, and the value bytes (base64) held for one batch at most.
const KV_BATCH_PAIRS: usize = 10_000;
const KV_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Bytes per chunk streamed into an upload, and chunks in flight.
const CHUNK: usize = 256 * 1024;
const DEPTH: usize = 4;
/// Entries up to this size are held in memory to be resent; larger ones are spooled.
pub const HOLD_IN_MEMORY: u64 = 16 * 1024 * 1024;
/// Attempts at one upload (or one D1 replay) before the restore gives up. Each attempt is
/// itself retried by the client where it can resend the body, so this covers longer outages
/// and the attempts the client must not repeat (a D1 ingest, a streamed spool).
const ATTEMPTS: u32 = 4;

/// Everything checked and resolved before the first write.
struct Prepared {
    file: File,
    decryption: Decryption,
    scan: Scan,
    targets: Vec<Target>,
    plan: RecoveryPlan,
    client: Client,
    config: sv_config::LoadedConfig,
    target_env: String,
}

async fn prepare(global: &GlobalArgs, args: &PlanArgs) -> anyhow::Result<Prepared> {
    let decryption = crate::keys::required(&args.key)?;
    let config = sv_cli::context::load_config(global)?;
    let file = File::open(&args.archive).map_err(|e| {
        InputError::new(anyhow::anyhow!(
            "cannot open {}: {e}",
            args.archive.display()
        ))
    })?;
    let now = Utc::now();
    let (file, decryption, scan) = {
        let path = args.archive.clone();
        tokio::task::spawn_blocking(move || {
            let scan = recovery::scan(&file, &path, &decryption, now.timestamp());
            scan.map(|s| (file, decryption, s))
        })
        .await
        .context("the archive task panicked")??
    };
    let source = scan.manifest.environment.clone();
    let target_name = args.target_env.clone().unwrap_or_else(|| source.clone());
    if let Some(env) = &global.environment
        && *env != target_name
    {
        return Err(InputError::new(anyhow::anyhow!(
            "--env {env} but the restore goes into {target_name} (the backup is of {source}); \
             use --target-env {env} to restore into {env}"
        ))
        .into());
    }
    let target_env = config
        .environment(&target_name)
        .map_err(sv_cli::context::config_error)?;
    let selected = recovery::select(&scan.manifest, &args.only)?;
    let runner = sv_cli::context::runner();
    let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
    let targets =
        recovery::resolve_targets(&client, &config, target_env, &source, &selected).await?;
    let plan = recovery::build(&client, &args.archive, &scan, target_env, &targets, now).await?;
    Ok(Prepared {
        file,
        decryption,
        scan,
        targets,
        plan,
        client,
        target_env: target_name,
        config,
    })
}

/// Runs `plan`.
pub async fn plan(global: &GlobalArgs, args: PlanArgs) -> anyhow::Result<ExitStatus> {
    let prepared = prepare(global, &args).await?;
    sv_cli::context::runner().append_summary(&prepared.plan.markdown())?;
    global.output().print(&prepared.plan)?;
    Ok(ExitStatus::Success)
}

/// What happened to one resource.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub resource: String,
    pub target: String,
    /// KV pairs, SQL statements, objects, DNS records written.
    pub restored: u64,
    /// Archive bytes streamed into the target.
    pub bytes: u64,
    /// Expired KV entries, DNS records already present.
    pub skipped: u64,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Time Travel bookmark of a D1 database just before the restore: restoring it undoes
    /// the restore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo_bookmark: Option<String>,
}

/// What `restore` did, or with `--dry-run` would do.
#[derive(Debug, Serialize)]
pub struct RestoreReport {
    pub dry_run: bool,
    pub plan: RecoveryPlan,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<Outcome>,
}

impl Render for RestoreReport {
    fn human(&self, styles: &Styles) -> String {
        if self.dry_run {
            return format!(
                "{}\n{}",
                self.plan.human(styles),
                "Dry run: nothing was written."
            );
        }
        let mut out = format!(
            "{} {} into {}\n",
            styles.bold("Restored"),
            self.plan.archive,
            self.plan.target_environment
        );
        for o in &self.restored {
            out.push_str(&format!(
                "  {} → {}: {} restored, {} bytes, {} skipped, {:.1} s{}\n",
                o.resource,
                o.target,
                o.restored,
                o.bytes,
                o.skipped,
                o.seconds,
                o.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ));
        }
        for o in &self.restored {
            if let Some(b) = &o.undo_bookmark {
                out.push_str(&format!(
                    "Undo {}: wrangler d1 time-travel restore {} --bookmark={b}\n",
                    o.resource, o.target
                ));
            }
        }
        out
    }

    fn markdown(&self) -> String {
        if self.dry_run {
            return format!(
                "{}\n_Dry run: nothing was written._\n",
                self.plan.markdown()
            );
        }
        let mut out = format!(
            "### Restored `{}` into `{}`\n\n| Resource | Target | Restored | Bytes | Skipped | Time | Note |\n|---|---|---:|---:|---:|---:|---|\n",
            self.plan.source_environment, self.plan.target_environment
        );
        for o in &self.restored {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {:.1} s | {} |\n",
                o.resource,
                sv_report::markdown_escape(&o.target),
                o.restored,
                o.bytes,
                o.skipped,
                o.seconds,
                sv_report::markdown_escape(o.note.as_deref().unwrap_or_default())
            ));
        }
        for o in &self.restored {
            if let Some(b) = &o.undo_bookmark {
                out.push_str(&format!(
                    "\nUndo `{}`: `wrangler d1 time-travel restore {} --bookmark={b}`\n",
                    o.resource, o.target
                ));
            }
        }
        out
    }
}

/// Runs `restore`.
pub async fn run(global: &GlobalArgs, args: RestoreArgs) -> anyhow::Result<ExitStatus> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !args.dry_run && !args.yes && !interactive {
        return Err(InputError::new(anyhow::anyhow!(
            "refusing to restore without --yes: nobody can confirm (stdin is not a terminal); \
             see what it would do with `sv-backup plan` or `restore --dry-run`"
        ))
        .into());
    }
    let prepared = prepare(global, &args.plan).await?;
    let runner = sv_cli::context::runner();
    if args.dry_run {
        let report = RestoreReport {
            dry_run: true,
            plan: prepared.plan,
            restored: Vec::new(),
        };
        runner.append_summary(&report.markdown())?;
        global.output().print(&report)?;
        return Ok(ExitStatus::Success);
    }
    let actor = actor();
    let target_env = prepared
        .config
        .environment(&prepared.target_env)
        .map_err(sv_cli::context::config_error)?;
    target_env
        .authorize(&actor, sv_config::Operation::Restore)
        .map_err(sv_cli::context::config_error)?;
    if !args.yes {
        global.output().print(&prepared.plan)?;
        confirm(&prepared.target_env)?;
    }
    let audit = sv_audit::AuditLog::new(sv_audit::AuditLog::default_path(
        &prepared.config.resolve_path(Path::new(".")),
    ));
    let archive_name = args
        .plan
        .archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let handle = tokio::runtime::Handle::current();
    let Prepared {
        file,
        decryption,
        scan,
        targets,
        plan,
        client,
        target_env: target_name,
        config: config_for_map,
    } = prepared;
    let path = args.plan.archive.clone();
    let target = prepared_env(&config_for_map, &target_name)?;
    let binding_map = binding_map(&client, &config_for_map, &scan.manifest, target).await;
    let job = Restore {
        binding_map,
        worker_content: None,
        handle,
        client,
        now: Utc::now().timestamp(),
        scan,
        targets,
        outcomes: BTreeMap::new(),
        state: None,
        state_at: Some(sv_infra::store::location(&config_for_map, &target_name)),
        d1_held: Vec::new(),
    };
    let result = tokio::task::spawn_blocking(move || {
        let mut job = job;
        let result = job.run(&file, &path, &decryption);
        (job.finished(), result)
    })
    .await
    .context("the restore task panicked")?;
    let (outcomes, result) = result;
    let done: Vec<String> = outcomes
        .iter()
        .map(|o| format!("{} ({} restored)", o.resource, o.restored))
        .collect();
    audit
        .append(&sv_audit::AuditRecord {
            time: Utc::now(),
            actor,
            tool: TOOL.into(),
            environment: Some(target_name.clone()),
            operation: "backup.restore".into(),
            target: archive_name,
            result: if result.is_ok() {
                sv_audit::Outcome::Succeeded
            } else {
                sv_audit::Outcome::Failed
            },
            detail: Some(match &result {
                Ok(()) => format!("restored {}", done.join(", ")),
                Err(e) => format!("{e:#}; done before the failure: {}", done.join(", ")),
            }),
            run_url: sv_cli::env_vars::run_url(sv_cli::env_vars::process_env),
        })
        .context("writing the audit trail")?;
    result?;
    let report = RestoreReport {
        dry_run: false,
        plan,
        restored: outcomes,
    };
    runner.set_output("restored", &report.restored.len().to_string())?;
    runner.append_summary(&report.markdown())?;
    global.output().print(&report)?;
    Ok(ExitStatus::Success)
}

fn prepared_env<'c>(
    config: &'c sv_config::LoadedConfig,
    name: &str,
) -> anyhow::Result<&'c sv_config::Environment> {
    config
        .environment(name)
        .map_err(sv_cli::context::config_error)
}

/// Where Worker bindings must point in the target: each data store's id (or bucket name)
/// where it was backed up → its id in the target environment. Best effort: a resource the
/// target lacks keeps its binding as it was.
async fn binding_map(
    client: &Client,
    config: &sv_config::LoadedConfig,
    manifest: &sv_archive::Manifest,
    target: &sv_config::Environment,
) -> crate::workers::BindingMap {
    let source = config.environment(&manifest.environment).ok();
    let mut map = crate::workers::BindingMap::new();
    for resource in manifest.resources.keys() {
        let Ok(address) = resource.parse::<sv_config::ResourceAddress>() else {
            continue;
        };
        let Some(declared) = target.resource(&address) else {
            continue;
        };
        let kind = Kind::of(resource);
        let entry_extra = |entry_kind: &str, key: &str| {
            manifest
                .entries
                .iter()
                .find(|e| e.resource == *resource && e.kind == entry_kind)
                .and_then(|e| e.extra.get(key))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let (binding, from) = match kind {
            Kind::Kv => (
                "kv_namespace",
                entry_extra("kv-entries-jsonl", "namespace_id"),
            ),
            Kind::D1 => ("d1", entry_extra("d1-sql-dump", "uuid")),
            Kind::R2 => (
                "r2_bucket",
                source
                    .and_then(|s| s.resource(&address))
                    .map(|r| r.name.clone()),
            ),
            _ => continue,
        };
        let Some(from) = from else { continue };
        let to = recovery::find_live(client, kind, &declared.name)
            .await
            .ok()
            .flatten();
        if let Some(to) = to {
            map.insert((binding.to_owned(), from), to);
        }
    }
    map
}

/// Asks on the terminal for the target environment's name.
fn confirm(env: &str) -> anyhow::Result<()> {
    let mut err = std::io::stderr();
    write!(
        err,
        "This overwrites data in environment {env} as planned above.\nType {env} to restore: "
    )?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != env {
        return Err(InputError::new(anyhow::anyhow!("not confirmed: nothing was written")).into());
    }
    Ok(())
}

fn actor() -> String {
    ["GITHUB_ACTOR", "USER"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// Pass two for a caller that resolved the targets itself (the restore drill): streams the
/// archive into `targets` and says what happened to each, also when it failed part way.
pub(crate) async fn restore_targets(
    client: Client,
    file: File,
    path: PathBuf,
    decryption: Decryption,
    scan: Scan,
    targets: Vec<Target>,
) -> (Vec<Outcome>, anyhow::Result<()>) {
    // The drill restores data stores only: no Worker, so no bindings to re-point.
    let job = Restore {
        binding_map: crate::workers::BindingMap::new(),
        worker_content: None,
        handle: tokio::runtime::Handle::current(),
        client,
        now: Utc::now().timestamp(),
        scan,
        targets,
        outcomes: BTreeMap::new(),
        state: None,
        state_at: None,
        d1_held: Vec::new(),
    };
    match tokio::task::spawn_blocking(move || {
        let mut job = job;
        let result = job.run(&file, &path, &decryption);
        (job.finished(), result)
    })
    .await
    {
        Ok(done) => done,
        Err(e) => (
            Vec::new(),
            Err(anyhow::anyhow!("the restore task panicked: {e}")),
        ),
    }
}

/// Pass two, on a blocking thread; API calls go through the runtime's handle.
struct Restore {
    handle: tokio::runtime::Handle,
    client: Client,
    now: i64,
    scan: Scan,
    targets: Vec<Target>,
    outcomes: BTreeMap<String, Outcome>,
    /// sv-plan's state from the archive, written last, to `state_at`.
    state: Option<Vec<u8>>,
    /// Where the target environment's state is (sv.yaml's `state:`); `None` for the restore
    /// drill, which restores data stores only.
    state_at: Option<sv_infra::store::StateLocation>,
    /// A Worker's code, uploaded once its `worker.json` (the next entry) is read.
    worker_content: Option<(EntryMeta, Bytes)>,
    binding_map: crate::workers::BindingMap,
    /// The SQL entries of the D1 database being restored, kept to import them again.
    d1_held: Vec<(String, Held)>,
}

/// An entry's bytes, kept so that an upload of them can be sent again.
enum Held {
    Memory(Bytes),
    Spool(std::sync::Arc<sv_archive::Spool>),
}

impl Held {
    /// Reads the entry to its end (which checks its checksum) before anything is uploaded.
    fn read(
        entry: &mut sv_archive::ArchiveEntry<'_>,
        size: u64,
        path: &Path,
    ) -> anyhow::Result<Self> {
        if size <= HOLD_IN_MEMORY {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| recovery::io_classify(e, path))?;
            return Ok(Self::Memory(Bytes::from(bytes)));
        }
        let dir = std::env::temp_dir();
        let spool = sv_archive::Spool::copy_from(&dir, entry).map_err(|e| {
            recovery::io_classify(e, path).context(format!(
                "copying an entry into an encrypted temporary file in {}",
                dir.display()
            ))
        })?;
        Ok(Self::Spool(std::sync::Arc::new(spool)))
    }

    /// A body for one attempt: the bytes again, or the spool decrypted from its start by a
    /// blocking task a few chunks ahead of the upload.
    fn body(&self, handle: &tokio::runtime::Handle) -> anyhow::Result<ObjectBody> {
        let spool = match self {
            Self::Memory(b) => return Ok(ObjectBody::Bytes(b.clone())),
            Self::Spool(s) => s.clone(),
        };
        let mut reader = spool.reader()?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(DEPTH);
        handle.spawn_blocking(move || {
            let mut buf = vec![0u8; CHUNK];
            loop {
                let item = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => Ok(Bytes::copy_from_slice(&buf[..n])),
                    Err(e) => Err(e),
                };
                let failed = item.is_err();
                if tx.blocking_send(item).is_err() || failed {
                    break;
                }
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(ObjectBody::from_stream(stream, spool.len()))
    }
}

/// Failures worth another attempt: the API could not be reached, was overloaded or broke
/// down (429, 5xx, resets, timeouts). A refusal (4xx) or an SQL error would only repeat.
fn retryable(e: &sv_cloudflare::Error) -> bool {
    e.category() == sv_cloudflare::ErrorCategory::Network
}

/// Pause before attempt `n + 1`: 1 s, 2 s, 4 s.
fn backoff(n: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1 << n.saturating_sub(1).min(4))
}

impl Restore {
    fn finished(self) -> Vec<Outcome> {
        let mut out: Vec<Outcome> = Vec::new();
        for t in &self.targets {
            if let Some(o) = self.outcomes.get(&t.resource) {
                out.push(o.clone());
            }
        }
        out
    }

    fn run(&mut self, file: &File, path: &Path, decryption: &Decryption) -> anyhow::Result<()> {
        let handle = file
            .try_clone()
            .with_context(|| format!("cannot reopen {}", path.display()))?;
        let mut reader =
            ArchiveReader::open_file(handle, path, decryption).map_err(recovery::classify)?;
        if *reader.manifest() != self.scan.manifest {
            return Err(InputError::new(anyhow::anyhow!(
                "{} changed while it was being restored (its manifest differs from the first read)",
                path.display()
            ))
            .into());
        }
        for t in &self.targets {
            let note = t.skip.clone();
            self.outcomes.insert(
                t.resource.clone(),
                Outcome {
                    resource: t.resource.clone(),
                    target: t.name.clone(),
                    restored: 0,
                    bytes: 0,
                    skipped: 0,
                    seconds: 0.0,
                    note,
                    undo_bookmark: None,
                },
            );
        }
        let mut begun: std::collections::BTreeSet<String> = Default::default();
        loop {
            let entry = reader.next_entry().map_err(recovery::classify)?;
            let Some(mut entry) = entry else { break };
            let meta = entry.meta().clone();
            let Some(target) = self
                .targets
                .iter()
                .find(|t| t.resource == meta.resource && t.skip.is_none())
                .cloned()
            else {
                continue;
            };
            let started = Instant::now();
            if begun.insert(target.resource.clone()) {
                self.begin(&target)
                    .with_context(|| format!("preparing {} ({})", target.resource, target.name))?;
            }
            self.entry(&target, &meta, &mut entry, path)
                .with_context(|| {
                    format!(
                        "restoring {} ({}) from {}",
                        target.resource, target.name, meta.path
                    )
                })?;
            if let Some(o) = self.outcomes.get_mut(&target.resource) {
                o.bytes += meta.size;
                o.seconds += started.elapsed().as_secs_f64();
            }
        }
        if let Some(bytes) = self.state.take() {
            let started = Instant::now();
            match &self.state_at {
                Some(sv_infra::store::StateLocation::R2 {
                    bucket,
                    key,
                    lock_key,
                }) => self.put_state_object(bucket, key, lock_key, bytes)?,
                Some(sv_infra::store::StateLocation::File(path)) => write_atomically(path, &bytes)?,
                None => anyhow::bail!("this restore does not write sv-plan's state"),
            }
            if let Some(o) = self.outcomes.get_mut("state") {
                o.restored = 1;
                o.seconds += started.elapsed().as_secs_f64();
            }
        }
        Ok(())
    }

    /// Replaces sv-plan's state object in R2 (whatever is there: a restore replaces), unless
    /// a run holds its lock: overwriting state under a running apply would lose its writes.
    fn put_state_object(
        &self,
        bucket: &str,
        key: &str,
        lock_key: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<()> {
        let r2 = self.client.r2();
        match self.handle.block_on(r2.get_object(bucket, lock_key, None)) {
            Ok(_) => anyhow::bail!(
                "the state r2://{bucket}/{key} is locked (r2://{bucket}/{lock_key}) by a running \
                 sv-plan: restore the state when it is done, or `sv-plan state unlock ID` if that \
                 run is gone"
            ),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e).context("checking the state's lock"),
        }
        self.handle
            .block_on(r2.put_object_if(
                bucket,
                key,
                bytes::Bytes::from(bytes),
                "application/json",
                &sv_cloudflare::r2_conditional::WriteCondition::Always,
            ))
            .with_context(|| format!("writing the state r2://{bucket}/{key}"))?;
        Ok(())
    }

    fn outcome(&mut self, resource: &str) -> &mut Outcome {
        self.outcomes
            .entry(resource.to_owned())
            .or_insert_with(|| Outcome {
                resource: resource.to_owned(),
                target: String::new(),
                restored: 0,
                bytes: 0,
                skipped: 0,
                seconds: 0.0,
                note: None,
                undo_bookmark: None,
            })
    }

    /// Before the first entry of a resource: D1 databases are emptied (SQL cannot load
    /// into existing tables), after noting the bookmark that undoes it.
    fn begin(&mut self, target: &Target) -> anyhow::Result<()> {
        if target.kind != Kind::D1 {
            return Ok(());
        }
        let uuid = target.id.clone().unwrap_or_default();
        let client = self.client.clone();
        let bookmark = self.handle.block_on(async {
            client
                .d1()
                .time_travel_bookmark(&uuid, None)
                .await
                .ok()
                .map(|b| b.bookmark)
        });
        self.outcome(&target.resource).undo_bookmark = bookmark;
        self.d1_held.clear();
        self.empty_d1(&uuid)
    }

    /// Drops every table, view and virtual table of a database. Repeatable (`IF EXISTS`), so
    /// the client retries it after a lost answer.
    fn empty_d1(&self, uuid: &str) -> anyhow::Result<()> {
        let tables = self.handle.block_on(d1_tables(&self.client, uuid))?;
        let mut sql = String::from("PRAGMA defer_foreign_keys = on;\n");
        // Virtual tables first: dropping one drops its shadow tables.
        for kind in ["virtual", "view", "table"] {
            for t in tables.iter().filter(|t| t.kind == kind) {
                let what = if kind == "view" { "VIEW" } else { "TABLE" };
                sql.push_str(&format!(
                    "DROP {what} IF EXISTS {};\n",
                    quote_ident(&t.name)
                ));
            }
        }
        if tables.is_empty() {
            return Ok(());
        }
        self.handle
            .block_on(self.client.d1().query_repeatable(uuid, &sql, &[]))
            .context("emptying the database before the import")?;
        Ok(())
    }

    /// One D1 import of held SQL (init → upload → ingest → poll).
    fn d1_import(
        &self,
        uuid: &str,
        etag: &str,
        held: &Held,
    ) -> anyhow::Result<Result<sv_cloudflare::d1::ImportResult, sv_cloudflare::Error>> {
        let body = held.body(&self.handle)?;
        Ok(self.handle.block_on(self.client.d1().import_body(
            uuid,
            etag,
            body,
            &Default::default(),
        )))
    }

    /// Imports the entry just added to `d1_held`. After a failure worth retrying, the
    /// database is emptied and every held entry imported again, in order: the lost attempt
    /// may have run, and SQL that creates tables cannot run twice.
    fn d1_entry(&mut self, uuid: &str) -> anyhow::Result<u64> {
        let (etag, held) = self.d1_held.last().context("no SQL held")?;
        let mut failure = match self.d1_import(uuid, etag, held)? {
            Ok(r) => return Ok(r.num_queries.unwrap_or(0)),
            Err(e) => e,
        };
        for attempt in 1..ATTEMPTS {
            if !retryable(&failure) {
                break;
            }
            std::thread::sleep(backoff(attempt));
            self.empty_d1(uuid)?;
            let mut last = None;
            let mut failed = None;
            for (etag, held) in &self.d1_held {
                match self.d1_import(uuid, etag, held)? {
                    Ok(r) => last = r.num_queries,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                None => return Ok(last.unwrap_or(0)),
                Some(e) => failure = e,
            }
        }
        Err(failure.into())
    }

    /// A call whose repetition is harmless, attempted again after failures worth retrying.
    fn again<T, F, Fut>(&self, mut call: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, sv_cloudflare::Error>>,
    {
        let mut attempt = 1;
        loop {
            match self.handle.block_on(call()) {
                Ok(v) => return Ok(v),
                Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Uploads held bytes, attempting again after failures worth retrying.
    fn upload<T, F, Fut>(&self, held: &Held, mut upload: F) -> anyhow::Result<T>
    where
        F: FnMut(ObjectBody) -> Fut,
        Fut: std::future::Future<Output = Result<T, sv_cloudflare::Error>>,
    {
        let mut attempt = 1;
        loop {
            let body = held.body(&self.handle)?;
            match self.handle.block_on(upload(body)) {
                Ok(v) => return Ok(v),
                Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn entry(
        &mut self,
        target: &Target,
        meta: &EntryMeta,
        entry: &mut sv_archive::ArchiveEntry<'_>,
        path: &Path,
    ) -> anyhow::Result<()> {
        let id = target.id.clone().unwrap_or_default();
        match meta.kind.as_str() {
            "kv-entries-jsonl" => self.kv(target, &id, entry, path),
            "d1-sql-dump" | "d1-virtual-sql" => {
                let etag = self
                    .scan
                    .resources
                    .get(&target.resource)
                    .and_then(|s| s.md5.get(&meta.path))
                    .cloned()
                    .context("the first pass did not measure this dump")?;
                let held = Held::read(entry, meta.size, path)?;
                self.d1_held.push((etag, held));
                let queries = self.d1_entry(&id)?;
                self.outcome(&target.resource).restored += queries;
                Ok(())
            }
            "r2-object" => {
                let key = extra_str(meta, "key")
                    .context("no `key` in the manifest record")?
                    .to_owned();
                let options = r2_options(meta);
                let bucket = target.name.clone();
                let held = Held::read(entry, meta.size, path)?;
                let r2 = self.client.r2();
                self.upload(&held, |body| r2.put_object(&bucket, &key, body, &options))?;
                self.outcome(&target.resource).restored += 1;
                Ok(())
            }
            "dns-bind" => {
                let mut text = String::new();
                entry
                    .read_to_string(&mut text)
                    .map_err(|e| recovery::io_classify(e, path))?;
                if let Some(from) = extra_str(meta, "zone") {
                    text = recovery::rewrite_zone(&text, from, &target.name);
                }
                // Records already present are skipped, so importing again after a lost
                // answer adds nothing twice (what the lost attempt added counts as skipped).
                let dns = self.client.dns();
                let result = self.again(|| dns.import_bind(&id, text.clone(), false))?;
                let o = self.outcome(&target.resource);
                o.restored += result.recs_added;
                o.skipped += result
                    .total_records_parsed
                    .saturating_sub(result.recs_added);
                if o.skipped > 0 {
                    o.note = Some("records already present were left as they are".into());
                }
                Ok(())
            }
            "worker-content" => {
                let mut bytes = Vec::new();
                entry
                    .read_to_end(&mut bytes)
                    .map_err(|e| recovery::io_classify(e, path))?;
                self.worker_content = Some((meta.clone(), Bytes::from(bytes)));
                Ok(())
            }
            "worker-settings" => {
                let mut bytes = Vec::new();
                entry
                    .read_to_end(&mut bytes)
                    .map_err(|e| recovery::io_classify(e, path))?;
                let doc: WorkerDoc = serde_json::from_slice(&bytes)?;
                let (content_meta, body) = self
                    .worker_content
                    .take()
                    .filter(|(m, _)| m.resource == meta.resource)
                    .context("worker.json without the Worker's code before it")?;
                self.worker(target, &doc, &content_meta, body)
            }
            "sv-state" => {
                let mut bytes = Vec::new();
                entry
                    .read_to_end(&mut bytes)
                    .map_err(|e| recovery::io_classify(e, path))?;
                self.state = Some(bytes);
                Ok(())
            }
            other => {
                let o = self.outcome(&target.resource);
                o.skipped += 1;
                o.note = Some(format!("entries of kind {other:?} are not restored"));
                Ok(())
            }
        }
    }

    /// Uploads a Worker's code and settings, then its cron triggers.
    fn worker(
        &mut self,
        target: &Target,
        doc: &WorkerDoc,
        content: &EntryMeta,
        body: Bytes,
    ) -> anyhow::Result<()> {
        let content_type =
            extra_str(content, "content_type").unwrap_or("application/javascript+module");
        let entrypoint = extra_str(content, "entrypoint");
        let (modules, service_worker) = crate::workers::modules(content_type, entrypoint, body)?;
        let workers = self.client.workers();
        let live_secrets: std::collections::BTreeSet<String> =
            match self.handle.block_on(workers.list_secrets(&target.name)) {
                Ok(list) => list.into_iter().map(|s| s.name).collect(),
                Err(e) if e.is_not_found() => Default::default(),
                Err(e) => return Err(e.into()),
            };
        let prepared = crate::workers::upload(
            doc,
            modules,
            service_worker,
            entrypoint,
            &self.binding_map,
            &live_secrets,
        );
        self.handle
            .block_on(workers.upload_script(&target.name, &prepared.upload))
            .context("uploading the Worker")?;
        self.handle
            .block_on(workers.put_schedules(&target.name, &doc.schedules))
            .context("restoring the cron triggers")?;
        let o = self.outcome(&target.resource);
        o.restored += 1;
        if !prepared.missing_secrets.is_empty() {
            o.note = Some(format!(
                "secrets to set again (`wrangler secret put`): {}",
                prepared.missing_secrets.join(", ")
            ));
        }
        Ok(())
    }

    /// KV: lines parsed as they stream, written by bulk writes of bounded size; expired
    /// entries skipped and counted.
    fn kv(
        &mut self,
        target: &Target,
        namespace_id: &str,
        entry: &mut sv_archive::ArchiveEntry<'_>,
        path: &Path,
    ) -> anyhow::Result<()> {
        let mut lines = BufReader::with_capacity(256 * 1024, entry);
        let mut line = String::new();
        let mut batch: Vec<sv_cloudflare::kv::KvBulkPair> = Vec::new();
        let mut batch_bytes = 0usize;
        let mut written = 0u64;
        let mut expired = 0u64;
        loop {
            line.clear();
            let n = lines
                .read_line(&mut line)
                .map_err(|e| recovery::io_classify(e, path))?;
            if n > 0 && !line.trim().is_empty() {
                let record: KvRecord =
                    serde_json::from_str(&line).context("a line is not a KV record")?;
                if record.expired(self.now) {
                    expired += 1;
                } else {
                    batch_bytes += record.value.len() + record.key.len();
                    batch.push(sv_cloudflare::kv::KvBulkPair {
                        key: record.key,
                        value: record.value,
                        expiration: record.expiration,
                        expiration_ttl: None,
                        metadata: record.metadata,
                        base64: true,
                    });
                }
            }
            let end = n == 0;
            if !batch.is_empty()
                && (end || batch.len() >= KV_BATCH_PAIRS || batch_bytes >= KV_BATCH_BYTES)
            {
                let outcome = self
                    .handle
                    .block_on(self.client.kv().bulk_write(namespace_id, &batch))?;
                if !outcome.unsuccessful_keys.is_empty() {
                    anyhow::bail!(
                        "the API did not write {} keys, e.g. {:?}",
                        outcome.unsuccessful_keys.len(),
                        outcome.unsuccessful_keys.first()
                    );
                }
                written += batch.len() as u64;
                batch.clear();
                batch_bytes = 0;
            }
            if end {
                break;
            }
        }
        let o = self.outcome(&target.resource);
        o.restored += written;
        o.skipped += expired;
        if expired > 0 {
            o.note = Some(format!("{expired} expired entries skipped"));
        }
        Ok(())
    }
}

fn extra_str<'m>(meta: &'m EntryMeta, key: &str) -> Option<&'m str> {
    meta.extra.get(key).and_then(serde_json::Value::as_str)
}

/// R2 PUT headers from the manifest record: content type, HTTP metadata, custom metadata.
fn r2_options(meta: &EntryMeta) -> PutObjectOptions {
    let http = meta
        .extra
        .get("http_metadata")
        .and_then(serde_json::Value::as_object);
    let h = |name: &str| {
        http.and_then(|m| m.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let custom_metadata = meta
        .extra
        .get("custom_metadata")
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    PutObjectOptions {
        content_type: extra_str(meta, "content_type")
            .map(str::to_owned)
            .or_else(|| h("contentType")),
        cache_control: h("cacheControl"),
        content_disposition: h("contentDisposition"),
        content_encoding: h("contentEncoding"),
        content_language: h("contentLanguage"),
        expires: h("cacheExpiry"),
        custom_metadata,
        storage_class: None,
        jurisdiction: None,
    }
}

/// Replaces `path` with `bytes`: a temp file beside it, fsynced, renamed over it.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
