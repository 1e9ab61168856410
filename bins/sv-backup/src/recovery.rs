//! What a restore would do (`sv-backup plan`, `restore --dry-run`): the archive read once and
//! checked end to end, its resources matched against the target environment, and the
//! seed's RecoveryPlan — resources in dependency order, what would be overwritten or
//! created, an estimated time, risks, and the D1 Time Travel fast path.
//!
//! Nothing here writes anything. The scan keeps only what the plan needs (key names, object
//! keys, counts, the md5 of each D1 dump for the import's etag), never values.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use md5::Digest as _;
use serde::{Deserialize, Serialize};
use sv_archive::{Decryption, Manifest};
use sv_cli::InputError;
use sv_cloudflare::Client;
use sv_config::{Environment, LoadedConfig, ResourceAddress};
use sv_report::{Render, Styles};
use sv_snapshot::d1::{D1Table, d1_tables, quote_ident};
use sv_snapshot::worker::WorkerDoc;

/// KV rejects an expiration less than 60 s ahead: such entries count as expired.
pub const KV_MIN_TTL_SECS: i64 = 60;
/// D1 keeps Time Travel history for 30 days (paid plans).
pub const TIME_TRAVEL_DAYS: i64 = 30;
/// Largest DNS zone file read into memory (the API's own limit is far lower).
pub const MAX_BIND_BYTES: u64 = 16 * 1024 * 1024;
/// Largest state file read into memory.
pub const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// One line of `kv/<name>/entries.jsonl`, as `create` writes it.
#[derive(Debug, Deserialize)]
pub struct KvRecord {
    pub key: String,
    /// base64 of the value bytes.
    pub value: String,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub expiration: Option<i64>,
}

impl KvRecord {
    /// Expired already, or too soon for KV to accept.
    pub fn expired(&self, now: i64) -> bool {
        self.expiration
            .is_some_and(|e| e < now.saturating_add(KV_MIN_TTL_SECS))
    }
}

/// What pass one learned about one resource of the archive.
#[derive(Debug, Default, Clone)]
pub struct Scanned {
    pub entries: u64,
    pub bytes: u64,
    /// KV pairs, D1 `INSERT` statements, R2 objects, DNS records.
    pub items: u64,
    /// KV entries that expired (or expire within a minute): never written.
    pub expired: u64,
    /// KV key names (not values).
    pub kv_keys: BTreeSet<String>,
    /// R2 object keys.
    pub r2_keys: BTreeSet<String>,
    /// md5 (hex) of each D1 SQL entry, by archive path: the import's etag.
    pub md5: BTreeMap<String, String>,
    /// Worker secrets (names) and cron triggers.
    pub secrets: Vec<String>,
    pub schedules: Vec<String>,
}

/// The archive after pass one: every checksum matched.
#[derive(Debug)]
pub struct Scan {
    pub manifest: Manifest,
    pub resources: BTreeMap<String, Scanned>,
}

/// Errors of the archive layer that mean bad input (exit 2) rather than a failure.
pub fn classify(e: sv_archive::Error) -> anyhow::Error {
    use sv_archive::Error as E;
    match e {
        // A path that names no file is a mistyped argument, not a failed job.
        E::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            InputError::new(e).into()
        }
        E::Io { .. } | E::Pipeline(_) => anyhow::Error::new(e),
        e => InputError::new(e).into(),
    }
}

/// Pass one: decrypts and reads the whole archive, checking every checksum, the manifest
/// and every entry's content (KV lines parse, sizes hold) before anything is written.
/// Blocking; run it off the async runtime.
pub fn scan(file: &File, path: &Path, decryption: &Decryption, now: i64) -> anyhow::Result<Scan> {
    let handle = file
        .try_clone()
        .with_context(|| format!("cannot reopen {}", path.display()))?;
    let mut reader =
        sv_archive::ArchiveReader::open_file(handle, path, decryption).map_err(classify)?;
    let manifest = reader.manifest().clone();
    let mut resources: BTreeMap<String, Scanned> = manifest
        .resources
        .keys()
        .map(|k| (k.clone(), Scanned::default()))
        .collect();
    loop {
        let entry = reader.next_entry().map_err(classify)?;
        let Some(mut entry) = entry else { break };
        let meta = entry.meta().clone();
        let scanned = resources.entry(meta.resource.clone()).or_default();
        scanned.entries += 1;
        scanned.bytes += meta.size;
        let bad = |reason: String| {
            anyhow::Error::from(InputError::new(anyhow::anyhow!(
                "{}: entry {} does not hold what its kind {:?} says: {reason}",
                path.display(),
                meta.path,
                meta.kind
            )))
        };
        match meta.kind.as_str() {
            "kv-entries-jsonl" => {
                let mut lines = BufReader::new(&mut entry);
                let mut line = String::new();
                loop {
                    line.clear();
                    let n = lines
                        .read_line(&mut line)
                        .map_err(|e| io_classify(e, path))?;
                    if n == 0 {
                        break;
                    }
                    if line.trim().is_empty() {
                        continue;
                    }
                    let record: KvRecord = serde_json::from_str(&line)
                        .map_err(|e| bad(format!("a line is not a KV record ({e})")))?;
                    scanned.items += 1;
                    if record.expired(now) {
                        scanned.expired += 1;
                    }
                    scanned.kv_keys.insert(record.key);
                }
            }
            "d1-sql-dump" | "d1-virtual-sql" => {
                let mut md5 = md5::Md5::new();
                let mut lines = BufReader::with_capacity(256 * 1024, &mut entry);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    let n = lines
                        .read_until(b'\n', &mut line)
                        .map_err(|e| io_classify(e, path))?;
                    if n == 0 {
                        break;
                    }
                    md5.update(&line);
                    if line.starts_with(b"INSERT INTO") {
                        scanned.items += 1;
                    }
                }
                scanned
                    .md5
                    .insert(meta.path.clone(), format!("{:x}", md5.finalize()));
            }
            "r2-object" => {
                let key = meta
                    .extra
                    .get("key")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| bad("no `key` in its manifest record".into()))?;
                scanned.items += 1;
                scanned.r2_keys.insert(key.to_owned());
                drain(&mut entry, path)?;
            }
            "dns-bind" => {
                if meta.size > MAX_BIND_BYTES {
                    return Err(bad(format!("{} bytes is too large a zone file", meta.size)));
                }
                let mut text = String::new();
                entry
                    .read_to_string(&mut text)
                    .map_err(|e| io_classify(e, path))?;
                scanned.items += bind_records(&text);
            }
            "worker-content" => {
                if meta.size > crate::workers::MAX_CONTENT_BYTES {
                    return Err(bad(format!("{} bytes is too large a script", meta.size)));
                }
                drain(&mut entry, path)?;
            }
            "worker-settings" => {
                if meta.size > MAX_STATE_BYTES {
                    return Err(bad(format!("{} bytes is too large", meta.size)));
                }
                let mut bytes = Vec::new();
                entry
                    .read_to_end(&mut bytes)
                    .map_err(|e| io_classify(e, path))?;
                let doc: WorkerDoc = serde_json::from_slice(&bytes)
                    .map_err(|e| bad(format!("not a worker.json ({e})")))?;
                scanned.items += 1;
                scanned.secrets = doc.secrets;
                scanned.schedules = doc.schedules;
            }
            "sv-state" => {
                if meta.size > MAX_STATE_BYTES {
                    return Err(bad(format!(
                        "{} bytes is too large a state file",
                        meta.size
                    )));
                }
                drain(&mut entry, path)?;
            }
            _ => drain(&mut entry, path)?,
        }
    }
    Ok(Scan {
        manifest,
        resources,
    })
}

fn drain(entry: &mut sv_archive::ArchiveEntry<'_>, path: &Path) -> anyhow::Result<()> {
    std::io::copy(entry, &mut std::io::sink()).map_err(|e| io_classify(e, path))?;
    Ok(())
}

/// An I/O error from reading an entry carries the archive's own error (checksum, age…).
pub fn io_classify(e: std::io::Error, path: &Path) -> anyhow::Error {
    match sv_archive::Error::from_io(e) {
        Ok(archive_error) => classify(archive_error),
        Err(e) => anyhow::Error::new(e).context(format!("reading {}", path.display())),
    }
}

/// Record lines of a BIND file (not comments, directives or the SOA).
pub fn bind_records(text: &str) -> u64 {
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.is_empty()
                && !t.starts_with(';')
                && !t.starts_with('$')
                && l.split_whitespace().any(|w| w == "IN")
                && !l.split_whitespace().any(|w| w == "SOA")
        })
        .count() as u64
}

/// Rewrites the owner names and targets of a zone file from one zone to another (a backup
/// of `staging.example.com` restored into `drill.example.com`).
pub fn rewrite_zone(text: &str, from: &str, to: &str) -> String {
    let from = from.trim_end_matches('.');
    let to = to.trim_end_matches('.');
    if from.eq_ignore_ascii_case(to) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let mut token = String::new();
        let flush = |token: &mut String, out: &mut String| {
            out.push_str(&rename(token, from, to));
            token.clear();
        };
        for c in line.chars() {
            if c.is_whitespace() {
                flush(&mut token, &mut out);
                out.push(c);
            } else {
                token.push(c);
            }
        }
        flush(&mut token, &mut out);
    }
    out
}

fn rename(token: &str, from: &str, to: &str) -> String {
    let (name, dot) = match token.strip_suffix('.') {
        Some(n) => (n, "."),
        None => (token, ""),
    };
    let lower = name.to_ascii_lowercase();
    let from_lower = from.to_ascii_lowercase();
    if lower == from_lower {
        return format!("{to}{dot}");
    }
    if lower.ends_with(&format!(".{from_lower}")) {
        let head = &name[..name.len() - from.len()];
        return format!("{head}{to}{dot}");
    }
    token.to_owned()
}

/// The kind of a resource id in the manifest (`kv.sessions` → Kv).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    D1,
    Kv,
    R2,
    Worker,
    Dns,
    State,
    Other,
}

impl Kind {
    pub fn of(resource: &str) -> Self {
        match resource.split_once('.').map_or(resource, |(k, _)| k) {
            "d1" => Self::D1,
            "kv" => Self::Kv,
            "r2" => Self::R2,
            "dns" => Self::Dns,
            "worker" => Self::Worker,
            "state" => Self::State,
            _ => Self::Other,
        }
    }

    /// Restore order: data stores first, then Workers (their bindings point at the data
    /// stores), DNS, and sv's state last, once the resources it describes are back.
    fn rank(self) -> u8 {
        match self {
            Self::D1 => 0,
            Self::Kv => 1,
            Self::R2 => 2,
            Self::Worker => 3,
            Self::Dns => 4,
            Self::Other => 5,
            Self::State => 6,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::D1 => "D1 database",
            Self::Kv => "KV namespace",
            Self::R2 => "R2 bucket",
            Self::Dns => "zone",
            Self::Worker => "Worker",
            Self::State => "state file",
            Self::Other => "resource",
        }
    }
}

/// Where a resource of the archive goes in the target environment.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// `kv.sessions`, `dns`, `state` …
    pub resource: String,
    pub kind: Kind,
    /// Cloudflare name (prefixed for the target environment), zone, or state file path.
    pub name: String,
    /// Namespace id, D1 uuid, zone id, once found live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Why it is not restored, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
}

/// The resources `--only` selects (all without it). `KIND:NAME`, `KIND.NAME` or a bare
/// kind (`kv`: every namespace) are accepted.
pub fn select(manifest: &Manifest, only: &[String]) -> anyhow::Result<Vec<String>> {
    let all: Vec<String> = manifest.resources.keys().cloned().collect();
    if only.is_empty() {
        return Ok(all);
    }
    let mut chosen = BTreeSet::new();
    for wanted in only {
        let wanted = wanted.replacen(':', ".", 1);
        let matches: Vec<&String> = all
            .iter()
            .filter(|r| **r == wanted || r.split_once('.').is_some_and(|(k, _)| k == wanted))
            .collect();
        if matches.is_empty() {
            return Err(InputError::new(anyhow::anyhow!(
                "--only {wanted}: the archive holds no such resource; it holds {}",
                all.join(", ")
            ))
            .into());
        }
        chosen.extend(matches.into_iter().cloned());
    }
    Ok(all.into_iter().filter(|r| chosen.contains(r)).collect())
}

/// Resolves each selected resource against the target environment and finds it live. A
/// resource the target lacks (in sv.yaml or in the account) is an error naming it and the
/// fix, before anything is written.
pub async fn resolve_targets(
    client: &Client,
    config: &LoadedConfig,
    target: &Environment,
    source_env: &str,
    selected: &[String],
) -> anyhow::Result<Vec<Target>> {
    let mut targets = Vec::new();
    let mut missing = Vec::new();
    let fix = format!("run `sv-plan apply --env {}` first", target.name);
    for resource in selected {
        let kind = Kind::of(resource);
        let mut t = Target {
            resource: resource.clone(),
            kind,
            name: String::new(),
            id: None,
            skip: None,
        };
        match kind {
            Kind::State => {
                t.name = sv_infra::store::location(config, &target.name).to_string();
                if target.name != source_env {
                    t.skip = Some(format!(
                        "the state describes {source_env}'s resources, not {}'s",
                        target.name
                    ));
                }
            }
            Kind::Dns => match &target.zone {
                None => missing.push(format!(
                    "dns: environment {} has no `zone` in sv.yaml",
                    target.name
                )),
                Some(zone) => {
                    t.name = zone.clone();
                    match client.zones().find_for_hostname(zone).await? {
                        Some(z) if z.name.eq_ignore_ascii_case(zone) => t.id = Some(z.id),
                        _ => missing.push(format!(
                            "dns: zone {zone:?} is not in the Cloudflare account; add it first"
                        )),
                    }
                }
            },
            Kind::D1 | Kind::Kv | Kind::R2 => {
                let address: ResourceAddress = resource
                    .parse()
                    .map_err(|e: String| InputError::new(anyhow::anyhow!(e)))?;
                let Some(declared) = target.resource(&address) else {
                    missing.push(format!(
                        "{resource}: not declared in environment {} of sv.yaml",
                        target.name
                    ));
                    continue;
                };
                t.name = declared.name.clone();
                let found = find_live(client, kind, &t.name).await?;
                match found {
                    Some(id) => t.id = Some(id),
                    None => missing.push(format!(
                        "{resource}: {} {:?} does not exist in environment {}; {fix}",
                        kind.label(),
                        t.name,
                        target.name
                    )),
                }
            }
            Kind::Worker => {
                // Uploading creates the Worker: it need not exist.
                let address: ResourceAddress = resource
                    .parse()
                    .map_err(|e: String| InputError::new(anyhow::anyhow!(e)))?;
                match target.resource(&address) {
                    Some(declared) => t.name = declared.name.clone(),
                    None => missing.push(format!(
                        "{resource}: not declared in environment {} of sv.yaml",
                        target.name
                    )),
                }
            }
            Kind::Other => {
                t.name = resource.clone();
                t.skip = Some("restoring this kind is not implemented".into());
            }
        }
        targets.push(t);
    }
    if !missing.is_empty() {
        return Err(InputError::new(anyhow::anyhow!(
            "the target environment {} is missing what the backup restores (nothing was written):\n  {}",
            target.name,
            missing.join("\n  ")
        ))
        .into());
    }
    targets.sort_by_key(|t| t.kind.rank());
    Ok(targets)
}

pub async fn find_live(client: &Client, kind: Kind, name: &str) -> anyhow::Result<Option<String>> {
    Ok(match kind {
        Kind::Kv => client
            .kv()
            .list_namespaces()
            .try_filter(|ns| futures::future::ready(ns.title == name))
            .boxed()
            .try_next()
            .await?
            .map(|ns| ns.id),
        Kind::D1 => match client.d1().get(name).await {
            Ok(db) => Some(db.uuid),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        Kind::R2 => match client.r2().get_bucket(name, None).await {
            Ok(b) => Some(b.name),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        _ => None,
    })
}

/// What a step does to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Emptied, then loaded (D1: SQL cannot merge into existing tables).
    Replace,
    /// Backup items written over live ones with the same key; others kept.
    Merge,
    /// Records added; those already present are left as they are (BIND import).
    Import,
    Skip,
}

/// One resource of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanStep {
    pub resource: String,
    pub kind: Kind,
    pub target: String,
    pub action: Action,
    pub entries: u64,
    pub bytes: u64,
    /// KV pairs, SQL rows, objects or records in the backup.
    pub items: u64,
    /// KV entries already expired: skipped.
    pub expired: u64,
    /// Items live in the target now (keys, rows, objects, records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_items: Option<u64>,
    /// Live items the restore overwrites (same key) or drops (D1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overwrites: Option<u64>,
    /// Items the restore creates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creates: Option<u64>,
    /// Live items not in the backup, left as they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<u64>,
    pub estimated_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// D1's in-place point-in-time restore, when the backup is recent enough.
#[derive(Debug, Clone, Serialize)]
pub struct FastPath {
    pub resource: String,
    pub database: String,
    pub bookmark: String,
    /// Whether Time Travel can still reach the bookmark.
    pub available: bool,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// The seed's RecoveryPlan.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryPlan {
    pub archive: String,
    pub source_environment: String,
    pub target_environment: String,
    pub backup_created_at: String,
    pub backup_tool_version: String,
    pub steps: Vec<PlanStep>,
    pub estimated_seconds: u64,
    pub risks: Vec<String>,
    pub fast_paths: Vec<FastPath>,
}

/// Rough throughput of each kind, for the estimate only.
fn estimate(kind: Kind, scanned: &Scanned) -> f64 {
    let mb = scanned.bytes as f64 / 1_000_000.0;
    match kind {
        // Upload, then the import runs the statements.
        Kind::D1 => 2.0 + mb / 5.0 + scanned.items as f64 / 20_000.0,
        // One bulk write per 10,000 pairs.
        Kind::Kv => 0.5 + (scanned.items as f64 / 10_000.0).ceil() * 1.0 + mb / 20.0,
        Kind::R2 => scanned.items as f64 * 0.1 + mb / 20.0,
        Kind::Dns => 1.0,
        Kind::Worker => 3.0,
        Kind::State | Kind::Other => 0.0,
    }
}

/// Builds the plan: counts from the scan, compared with what is live in the target.
pub async fn build(
    client: &Client,
    archive: &Path,
    scan: &Scan,
    target_env: &Environment,
    targets: &[Target],
    now: DateTime<Utc>,
) -> anyhow::Result<RecoveryPlan> {
    let m = &scan.manifest;
    let empty = Scanned::default();
    let mut steps = Vec::new();
    let mut risks = Vec::new();
    let mut fast_paths = Vec::new();
    for t in targets {
        let s = scan.resources.get(&t.resource).unwrap_or(&empty);
        let mut step = PlanStep {
            resource: t.resource.clone(),
            kind: t.kind,
            target: t.name.clone(),
            action: Action::Skip,
            entries: s.entries,
            bytes: s.bytes,
            items: s.items,
            expired: s.expired,
            live_items: None,
            overwrites: None,
            creates: None,
            kept: None,
            estimated_seconds: estimate(t.kind, s),
            note: t.skip.clone(),
        };
        if t.skip.is_some() {
            step.estimated_seconds = 0.0;
            steps.push(step);
            continue;
        }
        let id = t.id.as_deref().unwrap_or_default();
        match t.kind {
            Kind::Kv => {
                step.action = Action::Merge;
                let live: BTreeSet<String> = client
                    .kv()
                    .list_keys(id, None)
                    .map_ok(|k| k.name)
                    .try_collect()
                    .await?;
                let overlap = s.kv_keys.iter().filter(|k| live.contains(*k)).count() as u64;
                step.live_items = Some(live.len() as u64);
                step.overwrites = Some(overlap);
                step.creates = Some(
                    (s.kv_keys.len() as u64)
                        .saturating_sub(overlap)
                        .saturating_sub(s.expired),
                );
                step.kept = Some(live.len() as u64 - overlap);
                if overlap > 0 {
                    risks.push(format!(
                        "{}: {overlap} live keys of {} are overwritten with the backup's values",
                        t.resource, t.name
                    ));
                }
                if s.expired > 0 {
                    step.note = Some(format!(
                        "{} entries expired since the backup (or expire within a minute): skipped",
                        s.expired
                    ));
                }
            }
            Kind::R2 => {
                step.action = Action::Merge;
                let live: BTreeSet<String> = client
                    .r2()
                    .list_objects(&t.name, None, None)
                    .map_ok(|o| o.key)
                    .try_collect()
                    .await?;
                let overlap = s.r2_keys.iter().filter(|k| live.contains(*k)).count() as u64;
                step.live_items = Some(live.len() as u64);
                step.overwrites = Some(overlap);
                step.creates = Some(s.r2_keys.len() as u64 - overlap);
                step.kept = Some(live.len() as u64 - overlap);
                if overlap > 0 {
                    risks.push(format!(
                        "{}: {overlap} live objects of {} are overwritten",
                        t.resource, t.name
                    ));
                }
            }
            Kind::D1 => {
                step.action = Action::Replace;
                let rows = d1_live_rows(client, id).await?;
                let total: u64 = rows.values().sum();
                step.live_items = Some(total);
                step.overwrites = Some(total);
                step.creates = Some(s.items);
                if !rows.is_empty() {
                    risks.push(format!(
                        "{}: every table of {} ({} tables, {total} rows now) is dropped before the import; \
                         if the import fails the database is left empty (the report gives the Time Travel bookmark to undo)",
                        t.resource,
                        t.name,
                        rows.len()
                    ));
                }
                if let Some(fp) = fast_path(client, t, m, target_env, now).await {
                    fast_paths.push(fp);
                }
            }
            Kind::Dns => {
                step.action = Action::Import;
                let live = client
                    .dns()
                    .list(id, &Default::default())
                    .try_fold(0u64, |n, _| futures::future::ready(Ok(n + 1)))
                    .await?;
                step.live_items = Some(live);
                step.note = Some(
                    "records already present are left as they are; live records not in the backup are kept"
                        .into(),
                );
                if target_env.name != m.environment {
                    step.note = Some(format!(
                        "names under {} are rewritten to {}; records already present are kept",
                        m.environment_zone().unwrap_or("the source zone"),
                        t.name
                    ));
                }
            }
            Kind::Worker if s.entries == 0 => {
                step.note = Some("the Worker was not deployed when the backup was taken".into());
            }
            Kind::Worker => {
                step.action = Action::Replace;
                let live_secrets: BTreeSet<String> =
                    match client.workers().list_secrets(&t.name).await {
                        Ok(list) => {
                            step.live_items = Some(1);
                            list.into_iter().map(|s| s.name).collect()
                        }
                        Err(e) if e.is_not_found() => {
                            step.live_items = Some(0);
                            BTreeSet::new()
                        }
                        Err(e) => return Err(e.into()),
                    };
                step.overwrites = step.live_items;
                step.creates = Some(1 - step.live_items.unwrap_or(0));
                if step.live_items == Some(1) {
                    risks.push(format!(
                        "{}: the backed-up code and settings of {} are deployed at once, replacing the version serving now",
                        t.resource, t.name
                    ));
                }
                let missing: Vec<&String> = s
                    .secrets
                    .iter()
                    .filter(|n| !live_secrets.contains(*n))
                    .collect();
                if !missing.is_empty() {
                    risks.push(format!(
                        "{}: secrets are never backed up and {} lacks {}: set them again with `wrangler secret put`",
                        t.resource,
                        t.name,
                        missing
                            .iter()
                            .map(|n| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            Kind::State => {
                step.action = Action::Replace;
                // A state in R2 is not looked at before the restore: it is replaced anyway.
                let exists = t.name.starts_with("r2://") || Path::new(&t.name).exists();
                step.live_items = (!t.name.starts_with("r2://")).then_some(u64::from(exists));
                if exists {
                    risks.push(format!(
                        "state: {} is replaced by the backup's copy (sv-plan then plans from it)",
                        t.name
                    ));
                }
            }
            Kind::Other => {}
        }
        steps.push(step);
    }
    if target_env.name != m.environment {
        risks.insert(
            0,
            format!(
                "restoring {}'s data into a different environment, {}",
                m.environment, target_env.name
            ),
        );
    }
    if target_env.protect {
        risks.insert(0, format!("{} is a protected environment", target_env.name));
    }
    let estimated_seconds = steps
        .iter()
        .map(|s| s.estimated_seconds)
        .sum::<f64>()
        .ceil() as u64;
    Ok(RecoveryPlan {
        archive: archive.display().to_string(),
        source_environment: m.environment.clone(),
        target_environment: target_env.name.clone(),
        backup_created_at: m.created_at.to_rfc3339(),
        backup_tool_version: m.tool_version.clone(),
        steps,
        estimated_seconds,
        risks,
        fast_paths,
    })
}

trait ManifestExt {
    fn environment_zone(&self) -> Option<&str>;
}

impl ManifestExt for Manifest {
    fn environment_zone(&self) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.kind == "dns-bind")
            .and_then(|e| e.extra.get("zone"))
            .and_then(serde_json::Value::as_str)
    }
}

/// Row counts of the live tables (not virtual or shadow tables).
pub async fn d1_live_rows(client: &Client, uuid: &str) -> anyhow::Result<BTreeMap<String, u64>> {
    let tables = d1_tables(client, uuid).await?;
    let plain: Vec<&D1Table> = tables.iter().filter(|t| t.kind == "table").collect();
    if plain.is_empty() {
        return Ok(BTreeMap::new());
    }
    let sql = plain
        .iter()
        .map(|t| {
            format!(
                "SELECT '{}' AS t, COUNT(*) AS n FROM {}",
                t.name.replace('\'', "''"),
                quote_ident(&t.name)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let results = client.d1().query_read_only(uuid, &sql, &[]).await?;
    let mut out = BTreeMap::new();
    for row in results.iter().flat_map(|r| r.results.iter()) {
        if let (Some(t), Some(n)) = (
            row.get("t").and_then(serde_json::Value::as_str),
            row.get("n").and_then(serde_json::Value::as_u64),
        ) {
            out.insert(t.to_owned(), n);
        }
    }
    Ok(out)
}

async fn fast_path(
    client: &Client,
    t: &Target,
    m: &Manifest,
    target_env: &Environment,
    now: DateTime<Utc>,
) -> Option<FastPath> {
    let entry = m
        .entries
        .iter()
        .find(|e| e.resource == t.resource && e.kind == "d1-sql-dump")?;
    let bookmark = entry.extra.get("bookmark")?.as_str()?.to_owned();
    let source_uuid = entry.extra.get("uuid").and_then(serde_json::Value::as_str);
    let age = now - m.created_at;
    let mut fp = FastPath {
        resource: t.resource.clone(),
        database: t.name.clone(),
        bookmark: bookmark.clone(),
        available: false,
        reason: String::new(),
        command: None,
    };
    if target_env.name != m.environment || source_uuid != t.id.as_deref() {
        fp.reason =
            "Time Travel restores a database in place: the target is another database".into();
        return Some(fp);
    }
    if age > chrono::Duration::days(TIME_TRAVEL_DAYS) {
        fp.reason = format!(
            "the backup is {} days old; Time Travel reaches back {TIME_TRAVEL_DAYS} days at most",
            age.num_days()
        );
        return Some(fp);
    }
    // Ask whether the database still has history that old.
    // A second after the backup started: its export ran after that, and the API's history
    // may start with a database created in the same second.
    let at = (m.created_at + chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match client
        .d1()
        .time_travel_bookmark(t.id.as_deref().unwrap_or_default(), Some(&at))
        .await
    {
        Ok(_) => {
            fp.available = true;
            fp.reason = format!(
                "the backup is {} old, within D1's {TIME_TRAVEL_DAYS}-day Time Travel window: an in-place \
                 point-in-time restore is faster and also rewinds what the export cannot hold",
                human_age(age)
            );
            fp.command = Some(format!(
                "wrangler d1 time-travel restore {} --bookmark={bookmark}",
                t.name
            ));
        }
        Err(e) => {
            fp.reason = format!("Time Travel cannot reach the backup's time: {e}");
        }
    }
    Some(fp)
}

fn human_age(age: chrono::Duration) -> String {
    if age.num_days() >= 1 {
        format!("{} days", age.num_days())
    } else if age.num_hours() >= 1 {
        format!("{} hours", age.num_hours())
    } else {
        format!("{} minutes", age.num_minutes().max(1))
    }
}

fn step_line(s: &PlanStep) -> String {
    let what = match s.kind {
        Kind::Kv => "keys",
        Kind::D1 => "rows",
        Kind::R2 => "objects",
        Kind::Dns => "records",
        Kind::Worker | Kind::State | Kind::Other => "entries",
    };
    match s.action {
        Action::Skip => format!(
            "skip: {}",
            s.note.as_deref().unwrap_or("nothing to restore")
        ),
        Action::Replace if s.kind == Kind::Worker => format!(
            "upload the backed-up code and settings as a new deployment{}",
            if s.live_items == Some(0) {
                " (creates the Worker)"
            } else {
                ""
            }
        ),
        Action::Replace if s.kind == Kind::State => format!(
            "replace the file ({} bytes){}",
            s.bytes,
            if s.live_items == Some(0) {
                ", none there now"
            } else {
                ""
            }
        ),
        Action::Replace => format!(
            "replace: drop every table ({} {what} now), import {} {what} ({} bytes of SQL)",
            s.live_items.unwrap_or(0),
            s.items,
            s.bytes
        ),
        Action::Merge => {
            let mut line = format!(
                "write {} {what}, {} bytes: {} overwrite, {} new; {} live {what} not in the backup are kept",
                s.items - s.expired,
                s.bytes,
                s.overwrites.unwrap_or(0),
                s.creates.unwrap_or(0),
                s.kept.unwrap_or(0)
            );
            if s.expired > 0 {
                line.push_str(&format!("; {} expired, skipped", s.expired));
            }
            line
        }
        Action::Import => format!(
            "import {} {what} ({} live now); {}",
            s.items,
            s.live_items.unwrap_or(0),
            s.note.as_deref().unwrap_or_default()
        ),
    }
}

impl Render for RecoveryPlan {
    fn human(&self, styles: &Styles) -> String {
        let mut out = format!(
            "{} {}\n  backup of {} taken {} by sv-backup {}, into {}\n",
            styles.bold("Recovery plan for"),
            self.archive,
            self.source_environment,
            self.backup_created_at,
            self.backup_tool_version,
            self.target_environment
        );
        for (i, s) in self.steps.iter().enumerate() {
            out.push_str(&format!(
                "  {}. {} → {}: {}\n",
                i + 1,
                s.resource,
                s.target,
                step_line(s)
            ));
        }
        out.push_str(&format!("Estimated time: ~{} s\n", self.estimated_seconds));
        if !self.risks.is_empty() {
            out.push_str(&format!("{}\n", styles.bold("Risks:")));
            for r in &self.risks {
                out.push_str(&format!("  - {r}\n"));
            }
        }
        for fp in &self.fast_paths {
            if fp.available {
                out.push_str(&format!(
                    "{} {}: {}\n    {}\n",
                    styles.bold("Fast path:"),
                    fp.resource,
                    fp.reason,
                    fp.command.as_deref().unwrap_or_default()
                ));
            } else {
                out.push_str(&format!(
                    "No Time Travel fast path for {}: {}\n",
                    fp.resource, fp.reason
                ));
            }
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Recovery plan: `{}` → `{}`\n\nBackup of `{}` taken {} by sv-backup {}; estimated time ~{} s.\n\n\
             | # | Resource | Target | Action | Backup items | Bytes | Live now | Overwrite | New | Kept | Expired |\n\
             |---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n",
            self.source_environment,
            self.target_environment,
            self.source_environment,
            self.backup_created_at,
            self.backup_tool_version,
            self.estimated_seconds
        );
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        for (i, s) in self.steps.iter().enumerate() {
            let action = match s.action {
                Action::Replace => "replace".to_owned(),
                Action::Merge => "merge".to_owned(),
                Action::Import => "import".to_owned(),
                Action::Skip => format!(
                    "skip: {}",
                    sv_report::markdown_escape(s.note.as_deref().unwrap_or_default())
                ),
            };
            out.push_str(&format!(
                "| {} | `{}` | {} | {action} | {} | {} | {} | {} | {} | {} | {} |\n",
                i + 1,
                s.resource,
                sv_report::markdown_escape(&s.target),
                s.items,
                s.bytes,
                opt(s.live_items),
                opt(s.overwrites),
                opt(s.creates),
                opt(s.kept),
                s.expired
            ));
        }
        if !self.risks.is_empty() {
            out.push_str("\n**Risks**\n\n");
            for r in &self.risks {
                out.push_str(&format!("- {}\n", sv_report::markdown_escape(r)));
            }
        }
        for fp in &self.fast_paths {
            if fp.available {
                out.push_str(&format!(
                    "\n**Fast path** for `{}`: {}\n\n```sh\n{}\n```\n",
                    fp.resource,
                    sv_report::markdown_escape(&fp.reason),
                    fp.command.as_deref().unwrap_or_default()
                ));
            } else {
                out.push_str(&format!(
                    "\nNo Time Travel fast path for `{}`: {}\n",
                    fp.resource,
                    sv_report::markdown_escape(&fp.reason)
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn zone_rewrite_renames_owners_and_targets_only_under_the_zone() {
        let text = "$ORIGIN staging.example.com.\napi.staging.example.com.\t1\tIN\tCNAME\tweb.staging.example.com. ; cf_tags=cf-proxied:true\nx.staging.example.com.\t1\tIN\tCNAME\tother.example.com.\n";
        let out = rewrite_zone(text, "staging.example.com", "drill.example.com");
        assert_eq!(
            out,
            "$ORIGIN drill.example.com.\napi.drill.example.com.\t1\tIN\tCNAME\tweb.drill.example.com. ; cf_tags=cf-proxied:true\nx.drill.example.com.\t1\tIN\tCNAME\tother.example.com.\n"
        );
        assert_eq!(rewrite_zone(text, "a.b", "a.b"), text);
    }

    #[test]
    fn bind_record_count_skips_comments_directives_and_soa() {
        let text = ";; c\n$ORIGIN z.\nz\t3600\tIN\tSOA\tns. dns. 1 2 3 4 5\n\n;; A Records\na.z.\t1\tIN\tA\t192.0.2.1\nb.z.\t1\tIN\tTXT\t\"x\"\n";
        assert_eq!(bind_records(text), 2);
    }

    #[test]
    fn kv_records_expiring_within_a_minute_count_as_expired() {
        let r = |e| KvRecord {
            key: "k".into(),
            value: String::new(),
            metadata: None,
            expiration: e,
        };
        assert!(r(Some(1000)).expired(1000));
        assert!(r(Some(1059)).expired(1000));
        assert!(!r(Some(1060)).expired(1000));
        assert!(!r(None).expired(1000));
    }
}
