//! `sv-backup drill ARCHIVE`: prove a backup restores, without touching a real environment.
//!
//! 1. Pass one of the restore ([`crate::recovery::scan`]): decrypt, check every checksum.
//! 2. Create scratch copies of the archive's data stores (D1, KV, R2) in the environment
//!    `drill-<source>` ([`sv_config::LoadedConfig::drill_environment`]: every name prefixed
//!    `drill-<source>-`) with [`sv_infra::converge`], restricted to those resources, with its
//!    state in a temporary directory.
//! 3. Restore into them (the restore's pass two).
//! 4. Check what landed against the archive: every KV value's sha256 by key (expired
//!    entries are never written; a third read of the archive keeps 32 bytes per key), R2
//!    object count and every object's sha256 against the manifest, D1 row count (the dump's
//!    `INSERT` statements against `COUNT(*)` of the live tables).
//! 5. Delete the scratch resources (R2 buckets emptied first), unless `--keep-scratch`.
//!
//! DNS, Worker settings and sv state are not drilled: a derived environment shares its base's
//! zone, so restoring DNS there would write into a real zone.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use chrono::Utc;
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use sha2::Digest as _;
use sv_cli::{ExitStatus, GlobalArgs, InputError};
use sv_cloudflare::Client;
use sv_report::{Render, Styles};

use crate::args::DrillArgs;
use crate::recovery::{self, Kind, Scan, Target};

const TOOL: &str = "sv-backup";

/// One comparison of the restored data with the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub resource: String,
    /// The scratch resource.
    pub target: String,
    /// `keys`, `objects (sha256)`, `rows`.
    pub what: String,
    pub expected: u64,
    pub found: u64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What the drill did.
#[derive(Debug, Serialize)]
pub struct DrillReport {
    pub archive: String,
    pub source_environment: String,
    pub drill_environment: String,
    pub restored: Vec<crate::restore::Outcome>,
    pub checks: Vec<Check>,
    pub passed: bool,
    /// Why the drill stopped, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `deleted`, `kept (--keep-scratch)` or `failed: …`.
    pub scratch: String,
    /// The issue opened or closed, with `--issue`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
}

impl Render for DrillReport {
    fn human(&self, styles: &Styles) -> String {
        let verdict = if self.passed {
            styles.bold("Restore drill passed")
        } else {
            styles.bold("Restore drill FAILED")
        };
        let mut out = format!(
            "{verdict}: {} (backup of {}) restored into {}\n",
            self.archive, self.source_environment, self.drill_environment
        );
        for c in &self.checks {
            out.push_str(&format!(
                "  {} {} → {}: {} expected {}, found {}{}\n",
                if c.ok { "ok  " } else { "FAIL" },
                c.resource,
                c.target,
                c.what,
                c.expected,
                c.found,
                c.detail
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("  error: {e}\n"));
        }
        out.push_str(&format!("  scratch resources: {}\n", self.scratch));
        if let Some(i) = &self.issue {
            out.push_str(&format!("  issue: {i}\n"));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Restore drill {}\n\n`{}` (backup of `{}`) restored into scratch environment `{}`.\n\n| Resource | Scratch | Check | Expected | Found | |\n|---|---|---|---:|---:|---|\n",
            if self.passed { "passed" } else { "FAILED" },
            self.archive,
            self.source_environment,
            self.drill_environment
        );
        for c in &self.checks {
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} | {} | {}{} |\n",
                c.resource,
                c.target,
                c.what,
                c.expected,
                c.found,
                if c.ok { "ok" } else { "**mismatch**" },
                c.detail
                    .as_ref()
                    .map(|d| format!(": {}", sv_report::markdown_escape(d)))
                    .unwrap_or_default()
            ));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("\n**Error:** {}\n", sv_report::markdown_escape(e)));
        }
        out.push_str(&format!("\nScratch resources: {}\n", self.scratch));
        out
    }
}

/// Runs `drill`.
pub async fn run(global: &GlobalArgs, args: DrillArgs) -> anyhow::Result<ExitStatus> {
    let config = sv_cli::context::load_config(global)?;
    let decryption = crate::keys::required(&args.key)?;
    let file = std::fs::File::open(&args.archive).map_err(|e| {
        InputError::new(anyhow::anyhow!(
            "cannot open {}: {e}",
            args.archive.display()
        ))
    })?;
    let now = Utc::now();
    let (file, decryption, scan, kv_digests) = {
        let path = args.archive.clone();
        tokio::task::spawn_blocking(move || {
            let scan = recovery::scan(&file, &path, &decryption, now.timestamp())?;
            let digests = kv_digests(&file, &path, &decryption, now.timestamp())?;
            anyhow::Ok((file, decryption, scan, digests))
        })
        .await
        .context("the archive task panicked")??
    };
    let source = scan.manifest.environment.clone();
    let drill_env = config
        .drill_environment(&source)
        .map_err(sv_cli::context::config_error)?;
    let selected: Vec<String> = scan
        .manifest
        .resources
        .keys()
        .filter(|r| matches!(Kind::of(r), Kind::D1 | Kind::Kv | Kind::R2))
        .cloned()
        .collect();
    if selected.is_empty() {
        return Err(InputError::new(anyhow::anyhow!(
            "{} holds no D1, KV or R2 data to drill",
            args.archive.display()
        ))
        .into());
    }
    let runner = sv_cli::context::runner();
    let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
    let addresses = selected
        .iter()
        .map(|r| r.parse::<sv_planner::Address>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InputError::new(anyhow::anyhow!("{e}")))?;
    let state_dir = tempfile::tempdir().context("cannot create a temp dir")?;
    let store = sv_infra::LocalStore::new(state_dir.path(), &drill_env.name);
    let root = config.resolve_path(Path::new("."));
    let actor = sv_audit::Actor::from_env(|k| std::env::var(k).ok()).0;
    let request = |destroy: bool| sv_infra::ConvergeRequest {
        client: &client,
        env: &drill_env,
        root: &root,
        store: &store,
        options: sv_planner::PlanOptions {
            destroy,
            targets: if destroy {
                Vec::new()
            } else {
                addresses.clone()
            },
            protect: false,
            allow_data_loss: true,
        },
        concurrency: 4,
        owner: actor.clone(),
        operation: "backup.drill".into(),
        config_checksum: String::new(),
    };

    let mut report = DrillReport {
        archive: args.archive.display().to_string(),
        source_environment: source.clone(),
        drill_environment: drill_env.name.clone(),
        restored: Vec::new(),
        checks: Vec::new(),
        passed: false,
        error: None,
        scratch: String::new(),
        issue: None,
    };
    let outcome: anyhow::Result<()> = async {
        let created = sv_infra::converge(&request(false))
            .await
            .context("creating the scratch resources")?;
        if !created.succeeded() {
            anyhow::bail!(
                "creating the scratch resources failed: {}",
                failures(created.report.as_ref())
            );
        }
        let targets =
            recovery::resolve_targets(&client, &config, &drill_env, &source, &selected).await?;
        let (restored, result) = crate::restore::restore_targets(
            client.clone(),
            file,
            args.archive.clone(),
            decryption,
            Scan {
                manifest: scan.manifest.clone(),
                resources: scan.resources.clone(),
            },
            targets.clone(),
        )
        .await;
        report.restored = restored;
        result.context("restoring into the scratch resources")?;
        report.checks = check(&client, &scan, &kv_digests, &targets).await?;
        Ok(())
    }
    .await;
    if let Err(e) = &outcome {
        report.error = Some(format!("{e:#}"));
    }
    report.passed = outcome.is_ok() && report.checks.iter().all(|c| c.ok);
    report.scratch = if args.keep_scratch {
        "kept (--keep-scratch)".into()
    } else {
        match cleanup(&client, &drill_env, &request(true)).await {
            Ok(()) => "deleted".into(),
            Err(e) => format!("failed: {e:#}"),
        }
    };
    sv_audit::AuditLog::new(sv_audit::AuditLog::default_path(&root))
        .append(&sv_audit::AuditRecord {
            time: Utc::now(),
            actor,
            tool: TOOL.into(),
            environment: Some(drill_env.name.clone()),
            operation: "backup.drill".into(),
            target: report.archive.clone(),
            result: if report.passed {
                sv_audit::Outcome::Succeeded
            } else {
                sv_audit::Outcome::Failed
            },
            detail: report.error.clone(),
            run_url: sv_cli::env_vars::run_url(sv_cli::env_vars::process_env),
        })
        .context("writing the audit trail")?;
    if args.issue {
        report.issue = Some(issue(&runner, &report, &source).await?);
    }
    runner.set_output("passed", if report.passed { "true" } else { "false" })?;
    runner.append_summary(&report.markdown())?;
    global.output().print(&report)?;
    Ok(if report.passed {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Compares the scratch resources with what the manifest says was backed up.
async fn check(
    client: &Client,
    scan: &Scan,
    kv_digests: &KvDigests,
    targets: &[Target],
) -> anyhow::Result<Vec<Check>> {
    let mut checks = Vec::new();
    for t in targets {
        let scanned = scan.resources.get(&t.resource).cloned().unwrap_or_default();
        let id = t.id.clone().unwrap_or_default();
        let mut c = Check {
            resource: t.resource.clone(),
            target: t.name.clone(),
            what: String::new(),
            expected: 0,
            found: 0,
            ok: false,
            detail: None,
        };
        match t.kind {
            Kind::Kv => {
                let live: Vec<String> = client
                    .kv()
                    .list_keys(&id, None)
                    .map_ok(|k| k.name)
                    .try_collect()
                    .await?;
                c.what = "keys (value sha256)".into();
                let expected = kv_digests.get(&t.resource).cloned().unwrap_or_default();
                c.expected = scanned.items.saturating_sub(scanned.expired);
                let values = kv_values_sha256(client, &id, &live).await?;
                let (found, bad) = compare_kv(&expected, &values);
                c.found = found;
                c.ok = bad.is_empty() && c.found == c.expected;
                if !bad.is_empty() {
                    c.detail = Some(bad.join("; "));
                }
            }
            Kind::R2 => {
                c.what = "objects (sha256)".into();
                let entries: Vec<&sv_archive::EntryMeta> = scan
                    .manifest
                    .entries
                    .iter()
                    .filter(|e| e.resource == t.resource)
                    .collect();
                c.expected = entries.len() as u64;
                let mut bad = Vec::new();
                for e in entries {
                    let key = e
                        .extra
                        .get("key")
                        .and_then(|k| k.as_str())
                        .unwrap_or_default();
                    match object_sha256(client, &t.name, key).await {
                        Ok(Some(hex)) if hex == e.sha256.to_string() => c.found += 1,
                        Ok(Some(_)) => bad.push(format!("{key}: sha256 differs")),
                        Ok(None) => bad.push(format!("{key}: missing")),
                        Err(err) => bad.push(format!("{key}: {err:#}")),
                    }
                }
                c.ok = bad.is_empty();
                if !bad.is_empty() {
                    c.detail = Some(bad.join("; "));
                }
            }
            Kind::D1 => {
                c.what = "rows".into();
                let rows: BTreeMap<String, u64> = recovery::d1_live_rows(client, &id).await?;
                c.expected = scanned.items;
                c.found = rows.values().sum();
                c.ok = c.found == c.expected;
                if !c.ok {
                    c.detail = Some(
                        rows.iter()
                            .map(|(t, n)| format!("{t} {n}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    );
                }
            }
            _ => continue,
        }
        checks.push(c);
    }
    Ok(checks)
}

/// Live KV values against the archive's, both as sha256 by key: how many match, and what
/// does not (at most ten lines: a value that differs, a key not in the backup, keys
/// missing).
fn compare_kv(
    expected: &BTreeMap<String, [u8; 32]>,
    live: &BTreeMap<String, [u8; 32]>,
) -> (u64, Vec<String>) {
    let mut found = 0;
    let mut bad = Vec::new();
    for (key, digest) in live {
        match expected.get(key) {
            Some(want) if want == digest => found += 1,
            Some(_) => bad.push(format!("{key}: value differs")),
            None => bad.push(format!("{key}: not in the backup")),
        }
    }
    bad.truncate(9);
    let missing = expected.keys().filter(|k| !live.contains_key(*k)).count();
    if missing > 0 {
        bad.push(format!("{missing} keys missing"));
    }
    (found, bad)
}

/// sha256 of each live KV value, by key (keys deleted since the listing are left out).
/// One bulk read per 100 keys; a batch holding a binary value (refused by the bulk
/// endpoint) is read key by key.
async fn kv_values_sha256(
    client: &Client,
    namespace_id: &str,
    keys: &[String],
) -> anyhow::Result<BTreeMap<String, [u8; 32]>> {
    let kv = client.kv();
    let mut out = BTreeMap::new();
    for batch in keys.chunks(sv_cloudflare::kv::BULK_GET_MAX_KEYS) {
        match kv.bulk_get(namespace_id, batch, false).await {
            Ok(values) => {
                for (key, item) in values {
                    if let Some(item) = item {
                        out.insert(key, sha2::Sha256::digest(item.value.as_bytes()).into());
                    }
                }
            }
            Err(e) if e.status().is_some_and(|s| s.as_u16() == 400) => {
                for key in batch {
                    match kv.get_value(namespace_id, key).await {
                        Ok(v) => {
                            out.insert(key.clone(), sha2::Sha256::digest(&v.bytes).into());
                        }
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// sha256 of each KV value in the archive, by resource and key.
type KvDigests = BTreeMap<String, BTreeMap<String, [u8; 32]>>;

/// Reads the archive once more (checksums checked again) for the sha256 of every KV value
/// the restore writes (entries already expired are left out, as the restore skips them).
/// Holds 32 bytes per key, never values.
fn kv_digests(
    file: &std::fs::File,
    path: &Path,
    decryption: &sv_archive::Decryption,
    now: i64,
) -> anyhow::Result<KvDigests> {
    use base64::Engine as _;
    use std::io::BufRead as _;
    let handle = file
        .try_clone()
        .with_context(|| format!("cannot reopen {}", path.display()))?;
    let mut reader = sv_archive::ArchiveReader::open_file(handle, path, decryption)
        .map_err(recovery::classify)?;
    let mut out = KvDigests::new();
    while let Some(mut entry) = reader.next_entry().map_err(recovery::classify)? {
        let meta = entry.meta().clone();
        if meta.kind != "kv-entries-jsonl" {
            continue;
        }
        let digests = out.entry(meta.resource.clone()).or_default();
        let lines = std::io::BufReader::new(&mut entry);
        for line in lines.lines() {
            let line = line.map_err(|e| recovery::io_classify(e, path))?;
            if line.trim().is_empty() {
                continue;
            }
            let record: recovery::KvRecord = serde_json::from_str(&line).with_context(|| {
                format!(
                    "{}: a line of {} is not a KV record",
                    path.display(),
                    meta.path
                )
            })?;
            if record.expired(now) {
                continue;
            }
            let value = base64::engine::general_purpose::STANDARD
                .decode(record.value.as_bytes())
                .with_context(|| {
                    format!("{}: a value of {} is not base64", path.display(), meta.path)
                })?;
            digests.insert(record.key, sha2::Sha256::digest(&value).into());
        }
    }
    Ok(out)
}

/// The sha256 (hex) of an object's bytes, streamed; `None` when it does not exist.
async fn object_sha256(client: &Client, bucket: &str, key: &str) -> anyhow::Result<Option<String>> {
    let download = match client.r2().get_object(bucket, key, None).await {
        Ok(d) => d,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut hasher = sha2::Sha256::new();
    let mut body = download.body;
    while let Some(chunk) = body.next().await {
        hasher.update(&chunk?);
    }
    Ok(Some(hex::encode(hasher.finalize())))
}

/// Empties the scratch buckets (a bucket must be empty to go), then converges the drill
/// environment to nothing.
async fn cleanup(
    client: &Client,
    env: &sv_config::Environment,
    destroy: &sv_infra::ConvergeRequest<'_>,
) -> anyhow::Result<()> {
    for r in env.resources_of(sv_config::ResourceKind::R2) {
        let r2 = client.r2();
        let keys: Vec<String> = match r2
            .list_objects(&r.name, None, None)
            .map_ok(|o| o.key)
            .try_collect()
            .await
        {
            Ok(keys) => keys,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        for key in keys {
            r2.delete_object(&r.name, &key, None).await?;
        }
    }
    let destroyed = sv_infra::converge(destroy).await?;
    if !destroyed.succeeded() {
        anyhow::bail!(
            "deleting the scratch resources failed: {}",
            failures(destroyed.report.as_ref())
        );
    }
    Ok(())
}

/// The failed operations of an apply, one `name: error` each.
fn failures(report: Option<&sv_infra::ApplyReport>) -> String {
    report
        .map(|r| {
            r.results
                .iter()
                .filter_map(|o| match &o.outcome {
                    sv_infra::OpOutcome::Failed { error } => Some(format!("{}: {error}", o.name)),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// Opens (or updates) the drill issue of `source` on failure; closes it on success.
async fn issue(
    runner: &sv_actions::Runner,
    report: &DrillReport,
    source: &str,
) -> anyhow::Result<String> {
    let ctx = sv_cli::context::github(runner)?;
    let gh = ctx.client().map_err(|e| {
        InputError::new(anyhow::anyhow!(
            "--issue needs GITHUB_TOKEN and GITHUB_REPOSITORY: {e}"
        ))
    })?;
    let marker = sv_github::Marker::new("backup-drill", source)?;
    if report.passed {
        let closed = gh
            .close_issue_by_marker(&marker, Some("The restore drill passed again."))
            .await?;
        return Ok(if closed.is_empty() {
            "none open".into()
        } else {
            format!(
                "closed {}",
                closed
                    .iter()
                    .map(|n| format!("#{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    }
    let mut body = report.markdown();
    if let Some(url) = &ctx.run_url {
        body.push_str(&format!("\nRun: {url}\n"));
    }
    let outcome = gh
        .upsert_issue(
            &marker,
            &format!("Restore drill failed for {source}"),
            &body,
            &[],
            &[],
        )
        .await?;
    Ok(format!("{:?} {}", outcome.action, outcome.url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests(pairs: &[(&str, u8)]) -> BTreeMap<String, [u8; 32]> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), [*v; 32]))
            .collect()
    }

    #[test]
    fn compare_kv_finds_every_kind_of_difference() {
        let expected = digests(&[("a", 1), ("b", 2), ("c", 3)]);
        assert_eq!(compare_kv(&expected, &expected), (3, Vec::<String>::new()));
        let live = digests(&[("a", 1), ("b", 9), ("x", 4)]);
        assert_eq!(
            compare_kv(&expected, &live),
            (
                1,
                vec![
                    "b: value differs".to_owned(),
                    "x: not in the backup".to_owned(),
                    "1 keys missing".to_owned()
                ]
            )
        );
        let none = BTreeMap::new();
        assert_eq!(
            compare_kv(&expected, &none),
            (0, vec!["3 keys missing".to_owned()])
        );
    }
}
