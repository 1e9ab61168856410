//! `sv-backup create`: every resource of the backup set streamed into one archive.
//!
//! The archive writer is synchronous; each entry is handed to it inside
//! `spawn_blocking`, with async bodies (R2 objects, the D1 dump) bridged by
//! `bridge::BlockingReader`, so large entries stream instead of sitting in memory. Generated
//! entries (KV JSONL, the SQL that rebuilds D1 virtual tables) stream the same way, produced
//! by a task as they are read: nothing is spooled to disk in plaintext.

use std::collections::BTreeMap;

use anyhow::Context as _;
use base64::Engine as _;
use chrono::Utc;
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use sv_archive::{ArchiveSummary, ArchiveWriter, Encryption, EntryMeta, ManifestHeader, NewEntry};
use sv_cli::{ExitStatus, GlobalArgs, InputError};
use sv_cloudflare::Client;
use sv_config::{BackupItem, Environment, LoadedConfig, ResourceKind};
use sv_report::{Render, Styles};

use crate::args::CreateArgs;

const TOOL: &str = "sv-backup";

/// One thing to back up, resolved against the environment.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `kv.sessions`, `d1.main`, `dns`, `state` …
    pub resource: String,
    /// The Cloudflare name (prefixed) or the file.
    pub target: String,
    /// `None` when it will be backed up; otherwise why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// What `create` did (or, with `--dry-run`, would do).
#[derive(Debug, Serialize)]
pub struct CreateReport {
    pub environment: String,
    pub dry_run: bool,
    pub items: Vec<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveFacts>,
    /// `r2://BUCKET/KEY` with `--upload-r2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploaded: Option<String>,
    /// Cloudflare API requests sent per resource (retries included).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub api_requests: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
pub struct ArchiveFacts {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub entries: u64,
    pub bytes: u64,
    pub resources: BTreeMap<String, sv_archive::ResourceSummary>,
}

impl From<&ArchiveSummary> for ArchiveFacts {
    fn from(s: &ArchiveSummary) -> Self {
        Self {
            path: s.path.display().to_string(),
            size: s.size,
            sha256: s.sha256.to_string(),
            entries: s.entries,
            bytes: s.bytes,
            resources: s.resources.clone(),
        }
    }
}

impl Render for CreateReport {
    fn human(&self, styles: &Styles) -> String {
        let mut out = String::new();
        let verb = if self.dry_run {
            "Would back up"
        } else {
            "Backed up"
        };
        out.push_str(&format!(
            "{} environment {}\n",
            styles.bold(verb),
            self.environment
        ));
        for item in &self.items {
            match &item.skipped {
                None => {
                    let counts = self
                        .archive
                        .as_ref()
                        .and_then(|a| a.resources.get(&item.resource))
                        .map(|r| {
                            format!(
                                ": {} entries, {} bytes{}",
                                r.entries,
                                r.bytes,
                                r.items.map(|i| format!(", {i} items")).unwrap_or_default()
                            )
                        })
                        .unwrap_or_default();
                    out.push_str(&format!("  {} ({}){counts}\n", item.resource, item.target));
                }
                Some(why) => out.push_str(&format!(
                    "  {} ({}): skipped, {why}\n",
                    item.resource, item.target
                )),
            }
        }
        if let Some(a) = &self.archive {
            out.push_str(&format!(
                "Archive {}\n  size {} bytes, {} entries, {} bytes before compression\n  sha256 {}\n",
                a.path, a.size, a.entries, a.bytes, a.sha256
            ));
        }
        if let Some(to) = &self.uploaded {
            out.push_str(&format!("Uploaded to {to}\n"));
        }
        if !self.api_requests.is_empty() {
            out.push_str(&format!(
                "API requests: {} ({})\n",
                self.api_requests.values().sum::<u64>(),
                self.api_requests
                    .iter()
                    .map(|(r, n)| format!("{r} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### {} `{}`\n\n| Resource | Target | Entries | Bytes | Items |\n|---|---|---:|---:|---:|\n",
            if self.dry_run {
                "Backup plan for"
            } else {
                "Backup of"
            },
            self.environment
        );
        for item in &self.items {
            let r = self
                .archive
                .as_ref()
                .and_then(|a| a.resources.get(&item.resource));
            let (e, b, i) = match (&item.skipped, r) {
                (Some(why), _) => (format!("skipped: {why}"), String::new(), String::new()),
                (None, Some(r)) => (
                    r.entries.to_string(),
                    r.bytes.to_string(),
                    r.items.map(|i| i.to_string()).unwrap_or_default(),
                ),
                (None, None) => (String::from("0"), String::from("0"), String::new()),
            };
            out.push_str(&format!(
                "| `{}` | {} | {e} | {b} | {i} |\n",
                item.resource,
                sv_report::markdown_escape(&item.target)
            ));
        }
        if let Some(a) = &self.archive {
            out.push_str(&format!(
                "\nArchive `{}`: {} bytes, sha256 `{}`\n",
                a.path, a.size, a.sha256
            ));
        }
        if let Some(to) = &self.uploaded {
            out.push_str(&format!("\nUploaded to `{to}`\n"));
        }
        out
    }
}

/// Resolves `backup.include` into items, in include order, without duplicates.
pub fn resolve(config: &LoadedConfig, env: &Environment) -> anyhow::Result<Vec<Item>> {
    let backup = env.config.backup.as_ref().ok_or_else(|| {
        InputError::new(anyhow::anyhow!(
            "sv.yaml has no `backup:` section: add `backup: {{ include: [...], recipients: [...] }}`"
        ))
    })?;
    let mut items: Vec<Item> = Vec::new();
    let mut push = |item: Item| {
        if !items.iter().any(|i| i.resource == item.resource) {
            items.push(item);
        }
    };
    for include in &backup.include {
        match include {
            BackupItem::State => push(Item {
                resource: "state".into(),
                target: state_path(config, env).display().to_string(),
                skipped: None,
            }),
            BackupItem::AllOf(kind) => {
                if *kind == ResourceKind::Dns {
                    push(dns_item(env));
                } else {
                    for r in env.resources_of(*kind) {
                        push(resource_item(&r.address.to_string(), &r.name, *kind));
                    }
                }
            }
            BackupItem::Resource(address) => {
                if address.kind() == ResourceKind::Dns {
                    push(dns_item(env));
                } else {
                    let name = env
                        .resource(address)
                        .map(|r| r.name.clone())
                        .unwrap_or_else(|| address.to_string());
                    push(resource_item(&address.to_string(), &name, address.kind()));
                }
            }
        }
    }
    Ok(items)
}

fn dns_item(env: &Environment) -> Item {
    Item {
        resource: "dns".into(),
        target: env.zone.clone().unwrap_or_default(),
        skipped: env
            .zone
            .is_none()
            .then(|| "the environment has no zone".to_owned()),
    }
}

fn resource_item(resource: &str, name: &str, kind: ResourceKind) -> Item {
    let skipped = match kind {
        ResourceKind::Kv | ResourceKind::D1 | ResourceKind::R2 | ResourceKind::Worker => None,
        _ => Some(format!("backing up {kind} is not implemented yet")),
    };
    Item {
        resource: resource.to_owned(),
        target: name.to_owned(),
        skipped,
    }
}

fn state_path(config: &LoadedConfig, env: &Environment) -> std::path::PathBuf {
    config.resolve_path(std::path::Path::new(&format!(
        ".sv/state/{}.json",
        env.name
    )))
}

fn encryption(args: &CreateArgs, env: &Environment) -> anyhow::Result<Encryption> {
    if let Some(var) = &args.passphrase_env {
        return crate::keys::passphrase_encryption(var);
    }
    let enc = if let Some(file) = &args.recipients_file {
        Encryption::recipients_file(file)
    } else if !args.recipients.is_empty() {
        Encryption::recipients(args.recipients.iter())
    } else {
        let configured = env
            .config
            .backup
            .as_ref()
            .map(|b| b.recipients.clone())
            .unwrap_or_default();
        Encryption::recipients(configured.iter())
    };
    enc.map_err(|e| InputError::new(e).into())
}

/// Runs `create`.
pub async fn run(global: &GlobalArgs, args: CreateArgs) -> anyhow::Result<ExitStatus> {
    let config = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&config, global)?;
    let items = resolve(&config, env)?;
    let encryption = encryption(&args, env)?;
    if args.dry_run {
        let report = CreateReport {
            environment: env.name.clone(),
            dry_run: true,
            items,
            archive: None,
            uploaded: None,
            api_requests: BTreeMap::new(),
        };
        global.output().print(&report)?;
        return Ok(ExitStatus::Success);
    }
    let runner = sv_cli::context::runner();
    let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
    let now = Utc::now();
    let header = ManifestHeader {
        tool: TOOL.into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created_at: now,
        environment: env.name.clone(),
        source: serde_json::Map::from_iter([(
            "project".to_owned(),
            serde_json::Value::from(config.config.project.clone()),
        )]),
        resources: items
            .iter()
            .filter(|i| i.skipped.is_none())
            .map(|i| i.resource.clone())
            .collect(),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let name = format!(
        "{}-{}-{}.tar.gz.age",
        config.config.project,
        env.name,
        now.format("%Y%m%dT%H%M%SZ")
    );
    let writer =
        ArchiveWriter::create(&args.out, &name, encryption, header).map_err(|e| match e {
            sv_archive::Error::Exists { .. } | sv_archive::Error::InvalidName { .. } => {
                anyhow::Error::from(InputError::new(e))
            }
            e => anyhow::Error::new(e),
        })?;
    let mut sink = Sink {
        writer: Some(writer),
    };
    let audit = sv_audit::AuditLog::new(sv_audit::AuditLog::default_path(
        &config.resolve_path(std::path::Path::new(".")),
    ));
    let mut api_requests = BTreeMap::new();
    let result = async {
        for item in items.iter().filter(|i| i.skipped.is_none()) {
            let before = client.requests_sent();
            backup_item(&client, &config, env, item, &mut sink)
                .await
                .with_context(|| format!("backing up {} ({})", item.resource, item.target))?;
            api_requests.insert(item.resource.clone(), client.requests_sent() - before);
        }
        sink.finish().await
    }
    .await;
    let outcome = if result.is_ok() {
        sv_audit::Outcome::Succeeded
    } else {
        sv_audit::Outcome::Failed
    };
    audit
        .append(&sv_audit::AuditRecord {
            time: Utc::now(),
            actor: actor(),
            tool: TOOL.into(),
            environment: Some(env.name.clone()),
            operation: "backup.create".into(),
            target: name.clone(),
            result: outcome,
            detail: result.as_ref().err().map(|e| format!("{e:#}")),
            run_url: None,
        })
        .context("writing the audit trail")?;
    let summary = result?;
    let uploaded = match &args.upload_r2 {
        Some(spec) => Some(crate::sources::upload_to_r2(&client, spec, &summary.path).await?),
        None => None,
    };
    runner.set_output("archive", &summary.path.display().to_string())?;
    runner.set_output("size", &summary.size.to_string())?;
    runner.set_output("sha256", &summary.sha256.to_string())?;
    // For actions/backup: the file name, and counts per resource as one JSON object.
    runner.set_output("name", &name)?;
    runner.set_output("entries", &summary.entries.to_string())?;
    runner.set_output("counts", &serde_json::to_string(&summary.resources)?)?;
    let report = CreateReport {
        environment: env.name.clone(),
        dry_run: false,
        items,
        archive: Some(ArchiveFacts::from(&summary)),
        uploaded,
        api_requests,
    };
    runner.append_summary(&report.markdown())?;
    global.output().print(&report)?;
    Ok(ExitStatus::Success)
}

fn actor() -> String {
    ["GITHUB_ACTOR", "USER"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// The writer, moved into blocking tasks one entry at a time.
struct Sink {
    writer: Option<ArchiveWriter>,
}

impl Sink {
    async fn add(
        &mut self,
        entry: NewEntry,
        size: Option<u64>,
        reader: impl std::io::Read + Send + 'static,
    ) -> anyhow::Result<EntryMeta> {
        let mut writer = self
            .writer
            .take()
            .context("the archive writer failed earlier")?;
        let (writer, result) = tokio::task::spawn_blocking(move || {
            let result = writer.add_stream(entry, size, reader);
            (writer, result)
        })
        .await
        .context("the archive task panicked")?;
        self.writer = Some(writer);
        Ok(result?)
    }

    async fn set_last_items(&mut self, items: u64) -> anyhow::Result<()> {
        self.writer
            .as_mut()
            .context("the archive writer failed earlier")?
            .set_last_items(items)?;
        Ok(())
    }

    async fn finish(&mut self) -> anyhow::Result<ArchiveSummary> {
        let writer = self
            .writer
            .take()
            .context("the archive writer failed earlier")?;
        let summary = tokio::task::spawn_blocking(move || writer.finish())
            .await
            .context("the archive task panicked")??;
        Ok(summary)
    }
}

async fn backup_item(
    client: &Client,
    config: &LoadedConfig,
    env: &Environment,
    item: &Item,
    sink: &mut Sink,
) -> anyhow::Result<()> {
    let (kind, name) = item
        .resource
        .split_once('.')
        .unwrap_or((item.resource.as_str(), ""));
    match kind {
        "state" => {
            let path = state_path(config, env);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let len = bytes.len() as u64;
                    sink.add(
                        NewEntry::new(format!("state/{}.json", env.name), "state", "sv-state"),
                        Some(len),
                        std::io::Cursor::new(bytes),
                    )
                    .await?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).context(format!("reading {}", path.display())),
            }
        }
        "kv" => backup_kv(client, name, &item.target, sink).await?,
        "d1" => backup_d1(client, name, &item.target, sink).await?,
        "r2" => backup_r2(client, name, &item.target, sink).await?,
        "dns" => backup_dns(client, &item.target, sink).await?,
        "worker" => backup_worker(client, name, &item.target, sink).await?,
        _ => {}
    }
    Ok(())
}

/// One line of `kv/<name>/entries.jsonl`.
#[derive(Debug, Serialize)]
struct KvLine<'a> {
    key: &'a str,
    /// base64 (standard, padded) of the value bytes.
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<i64>,
}

async fn backup_kv(
    client: &Client,
    name: &str,
    title: &str,
    sink: &mut Sink,
) -> anyhow::Result<()> {
    let kv = client.kv();
    let namespace = kv
        .list_namespaces()
        .try_filter(|ns| futures::future::ready(ns.title == title))
        .boxed()
        .try_next()
        .await?
        .with_context(|| format!("KV namespace {title:?} does not exist"))?;
    // The JSONL is generated by a task as keys are listed and values fetched, and streams
    // into the archive (size measured there): nothing is spooled, and memory holds one
    // batch of 100 values at most.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, String>>(4);
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let producer = {
        let client = client.clone();
        let namespace_id = namespace.id.clone();
        let count = count.clone();
        tokio::spawn(async move {
            let result = kv_lines(&client, &namespace_id, &tx, &count).await;
            if let Err(e) = result {
                let _ = tx.send(Err(format!("{e:#}"))).await;
            }
        })
    };
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed();
    let reader = crate::bridge::BlockingReader::spawn(stream);
    let added = sink
        .add(
            NewEntry::new(
                format!("kv/{name}/entries.jsonl"),
                format!("kv.{name}"),
                "kv-entries-jsonl",
            )
            .with_extra("title", title)
            .with_extra("namespace_id", namespace.id.clone()),
            None,
            reader,
        )
        .await;
    producer.await.context("the KV listing task panicked")?;
    added?;
    sink.set_last_items(count.load(std::sync::atomic::Ordering::SeqCst))
        .await?;
    Ok(())
}

/// Lists every key, fetches values 100 at a time, and sends the JSONL in chunks of about
/// 256 KiB.
async fn kv_lines(
    client: &Client,
    namespace_id: &str,
    tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes, String>>,
    count: &std::sync::atomic::AtomicU64,
) -> anyhow::Result<()> {
    let kv = client.kv();
    let mut keys = std::pin::pin!(kv.list_keys(namespace_id, None));
    let mut batch: Vec<sv_cloudflare::kv::KvKey> = Vec::new();
    let mut chunk: Vec<u8> = Vec::new();
    loop {
        let next = keys.next().await.transpose()?;
        let end = next.is_none();
        batch.extend(next);
        if batch.len() < sv_cloudflare::kv::BULK_GET_MAX_KEYS && !end {
            continue;
        }
        for (key, bytes, expiration) in fetch_values(&kv, namespace_id, &batch).await? {
            let line = KvLine {
                key: &key.name,
                value: base64::engine::general_purpose::STANDARD.encode(&bytes),
                metadata: key.metadata.as_ref(),
                expiration: key.expiration.or(expiration),
            };
            serde_json::to_writer(&mut chunk, &line)?;
            chunk.push(b'\n');
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if chunk.len() >= 256 * 1024 {
                let full = bytes::Bytes::from(std::mem::take(&mut chunk));
                if tx.send(Ok(full)).await.is_err() {
                    return Ok(());
                }
            }
        }
        batch.clear();
        if end {
            break;
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(Ok(bytes::Bytes::from(chunk))).await;
    }
    Ok(())
}

/// Values of up to 100 listed keys: one bulk get (text values) when it can, else one GET
/// per key — the bulk endpoint refuses (400) a batch holding a binary value, and reading
/// it as text would corrupt it. Keys deleted since they were listed are left out.
async fn fetch_values<'k>(
    kv: &sv_cloudflare::kv::KvApi<'_>,
    namespace_id: &str,
    batch: &'k [sv_cloudflare::kv::KvKey],
) -> anyhow::Result<Vec<(&'k sv_cloudflare::kv::KvKey, bytes::Bytes, Option<i64>)>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = batch.iter().map(|k| k.name.clone()).collect();
    match kv.bulk_get(namespace_id, &names, false).await {
        Ok(mut values) => Ok(batch
            .iter()
            .filter_map(|k| {
                let item = values.remove(&k.name).flatten()?;
                Some((k, bytes::Bytes::from(item.value.into_bytes()), None))
            })
            .collect()),
        Err(e) if e.status().is_some_and(|s| s.as_u16() == 400) => {
            let mut out = Vec::with_capacity(batch.len());
            for key in batch {
                match kv.get_value(namespace_id, &key.name).await {
                    Ok(v) => out.push((key, v.bytes, v.expiration)),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(out)
        }
        Err(e) => Err(e.into()),
    }
}

async fn backup_d1(
    client: &Client,
    name: &str,
    database: &str,
    sink: &mut Sink,
) -> anyhow::Result<()> {
    let d1 = client.d1();
    let db = d1
        .get(database)
        .await
        .with_context(|| format!("reading D1 database {database:?}"))?;
    // A database with virtual tables cannot go through the export API (D1 refuses it, and
    // their shadow tables would not import anyway): its base tables are dumped through the
    // query API, and each virtual table is kept as SQL that recreates and refills it after.
    let tables = crate::recovery::d1_tables(client, &db.uuid).await?;
    let virtuals: Vec<crate::recovery::D1Table> = tables
        .iter()
        .filter(|t| t.kind == "virtual")
        .cloned()
        .collect();
    let mut entry = NewEntry::new(
        format!("d1/{name}/dump.sql"),
        format!("d1.{name}"),
        "d1-sql-dump",
    )
    .with_extra("database", database)
    .with_extra("uuid", db.uuid.clone());
    if virtuals.is_empty() {
        let export = d1.export(&db.uuid, &Default::default()).await?;
        let stream = d1.download_export(&export).await?.boxed();
        let reader = crate::bridge::BlockingReader::spawn(stream);
        if let Some(bookmark) = &export.at_bookmark {
            entry = entry.with_extra("bookmark", bookmark.clone());
        }
        sink.add(entry, None, reader).await?;
        return Ok(());
    }
    // D1 refuses to export a database holding a virtual table (even with a table filter):
    // its base tables are read through the query API instead, and the Time Travel bookmark
    // of the moment is recorded as an export's would be.
    if let Ok(bookmark) = d1.time_travel_bookmark(&db.uuid, None).await {
        entry = entry.with_extra("bookmark", bookmark.bookmark);
    }
    let tables_for_dump = tables.clone();
    let rows = add_generated(
        client,
        &db.uuid,
        entry,
        sink,
        move |client, uuid, tx, count| async move {
            crate::vtables::base_dump_sql(&client, &uuid, &tables_for_dump, &tx, &count).await
        },
    )
    .await?;
    sink.set_last_items(rows).await?;
    let virtual_entry = NewEntry::new(
        format!("d1/{name}/virtual.sql"),
        format!("d1.{name}"),
        "d1-virtual-sql",
    )
    .with_extra(
        "tables",
        virtuals.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
    );
    let rows = add_generated(
        client,
        &db.uuid,
        virtual_entry,
        sink,
        move |client, uuid, tx, count| async move {
            crate::vtables::rebuild_sql(&client, &uuid, &virtuals, &tx, &count).await
        },
    )
    .await?;
    sink.set_last_items(rows).await?;
    Ok(())
}

/// Adds an entry whose SQL a task generates from D1 reads (see `vtables`), streamed into
/// the archive as it is produced. Returns the rows the task counted.
async fn add_generated<F, Fut>(
    client: &Client,
    uuid: &str,
    entry: NewEntry,
    sink: &mut Sink,
    produce: F,
) -> anyhow::Result<u64>
where
    F: FnOnce(
            Client,
            String,
            tokio::sync::mpsc::Sender<Result<bytes::Bytes, String>>,
            std::sync::Arc<std::sync::atomic::AtomicU64>,
        ) -> Fut
        + Send
        + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, String>>(4);
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let producer = {
        let (client, uuid, count) = (client.clone(), uuid.to_owned(), count.clone());
        tokio::spawn(async move {
            let errors = tx.clone();
            if let Err(e) = produce(client, uuid, tx, count).await {
                let _ = errors.send(Err(format!("{e:#}"))).await;
            }
        })
    };
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed();
    let reader = crate::bridge::BlockingReader::spawn(stream);
    let added = sink.add(entry, None, reader).await;
    producer.await.context("the D1 reading task panicked")?;
    added?;
    Ok(count.load(std::sync::atomic::Ordering::SeqCst))
}

async fn backup_r2(
    client: &Client,
    name: &str,
    bucket: &str,
    sink: &mut Sink,
) -> anyhow::Result<()> {
    let r2 = client.r2();
    let mut objects = std::pin::pin!(r2.list_objects(bucket, None, None));
    while let Some(object) = objects.next().await {
        let object = object?;
        let download = r2.get_object(bucket, &object.key, None).await?;
        let size = download.content_length.unwrap_or(object.size);
        let content_type = download
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let custom = download.custom_metadata();
        let mut entry = NewEntry::new(
            format!("r2/{name}/objects/{}", object.key),
            format!("r2.{name}"),
            "r2-object",
        )
        .with_extra("key", object.key.clone())
        .with_extra("custom_metadata", serde_json::to_value(&custom)?)
        .with_extra(
            "http_metadata",
            serde_json::to_value(&object.http_metadata)?,
        );
        if let Some(ct) = content_type {
            entry = entry.with_extra("content_type", ct);
        }
        if let Some(etag) = &object.etag {
            entry = entry.with_extra("etag", etag.clone());
        }
        let reader = crate::bridge::BlockingReader::spawn(download.body);
        sink.add(entry, Some(size), reader).await?;
    }
    Ok(())
}

async fn backup_dns(client: &Client, zone: &str, sink: &mut Sink) -> anyhow::Result<()> {
    let found = client
        .zones()
        .find_for_hostname(zone)
        .await?
        .with_context(|| format!("zone {zone:?} not found in the account"))?;
    let bind = client.dns().export_bind(&found.id).await?;
    let bytes = bind.into_bytes();
    let len = bytes.len() as u64;
    sink.add(
        NewEntry::new(format!("dns/{}.bind", found.name), "dns", "dns-bind")
            .with_extra("zone", found.name.clone())
            .with_extra("zone_id", found.id.clone()),
        Some(len),
        std::io::Cursor::new(bytes),
    )
    .await?;
    Ok(())
}

/// The Worker's code as stored, then `worker.json` (settings without secret values, cron
/// triggers, secret names). A Worker never deployed has no entries: the manifest still
/// lists the resource, so a restore can tell it was considered.
async fn backup_worker(
    client: &Client,
    name: &str,
    script: &str,
    sink: &mut Sink,
) -> anyhow::Result<()> {
    let workers = client.workers();
    let content = match workers.download_content(script).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let resource = format!("worker.{name}");
    let mut entry = NewEntry::new(
        format!("worker/{name}/content"),
        resource.clone(),
        "worker-content",
    )
    .with_extra("script", script)
    .with_extra(
        "content_type",
        content
            .content_type
            .clone()
            .unwrap_or_else(|| "application/javascript+module".into()),
    );
    if let Some(e) = &content.entrypoint {
        entry = entry.with_extra("entrypoint", e.clone());
    }
    let len = content.body.len() as u64;
    sink.add(entry, Some(len), std::io::Cursor::new(content.body))
        .await?;
    let mut settings = workers.get_settings(script).await?;
    crate::workers::strip_secrets(&mut settings);
    let doc = crate::workers::WorkerDoc {
        script: script.to_owned(),
        settings,
        schedules: workers
            .get_schedules(script)
            .await?
            .into_iter()
            .map(|s| s.cron)
            .collect(),
        secrets: workers
            .list_secrets(script)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&doc)?;
    bytes.push(b'\n');
    let len = bytes.len() as u64;
    sink.add(
        NewEntry::new(
            format!("worker/{name}/worker.json"),
            resource,
            "worker-settings",
        )
        .with_items(1)
        .with_extra("script", script),
        Some(len),
        std::io::Cursor::new(bytes),
    )
    .await?;
    Ok(())
}

/// Backs up exactly `items` of `env` into a new archive in `out` (named like `create`'s,
/// so `sv-backup list`, `verify` and `restore` take it), without printing anything: what
/// sv-plan calls before an apply deletes or replaces data stores. `items` are KV, D1 or R2
/// resources (`resource` = address, `target` = live name); others are skipped as `create`
/// skips them. The caller records its own audit entry.
///
/// # Errors
/// The archive exists or cannot be written, or a read from the API fails.
pub async fn create_archive(
    client: &Client,
    config: &LoadedConfig,
    env: &Environment,
    items: &[Item],
    out: &std::path::Path,
    encryption: Encryption,
) -> anyhow::Result<ArchiveSummary> {
    let now = Utc::now();
    let header = ManifestHeader {
        tool: TOOL.into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created_at: now,
        environment: env.name.clone(),
        source: serde_json::Map::from_iter([(
            "project".to_owned(),
            serde_json::Value::from(config.config.project.clone()),
        )]),
        resources: items
            .iter()
            .filter(|i| i.skipped.is_none())
            .map(|i| i.resource.clone())
            .collect(),
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let name = format!(
        "{}-{}-{}.tar.gz.age",
        config.config.project,
        env.name,
        now.format("%Y%m%dT%H%M%SZ")
    );
    let writer = ArchiveWriter::create(out, &name, encryption, header)?;
    let mut sink = Sink {
        writer: Some(writer),
    };
    for item in items.iter().filter(|i| i.skipped.is_none()) {
        backup_item(client, config, env, item, &mut sink)
            .await
            .with_context(|| format!("backing up {} ({})", item.resource, item.target))?;
    }
    sink.finish().await
}
