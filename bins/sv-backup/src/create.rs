//! `sv-backup create`: every resource of the backup set streamed into one archive.
//!
//! This module resolves `backup.include`, picks the encryption, audits and reports; reading
//! the resources into the archive is sv-snapshot's ([`sv_snapshot::Snapshot`]), shared with
//! sv-plan's backup before an apply destroys data stores.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::Utc;
use serde::Serialize;
use sv_archive::{ArchiveSummary, Encryption};
use sv_cli::{ExitStatus, GlobalArgs, InputError};
use sv_config::{BackupItem, Environment, LoadedConfig, ResourceKind};
use sv_report::{Render, Styles};
use sv_snapshot::{Item, Snapshot};

use crate::args::CreateArgs;

/// The audit trail's `tool`.
const TOOL: &str = "sv-backup";

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
                target: sv_infra::store::location(config, &env.name).to_string(),
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
    let header = sv_snapshot::manifest_header(&config, env, &items, now);
    let name = sv_snapshot::archive_name(&config, env, now);
    let mut snapshot =
        Snapshot::create(&args.out, &name, encryption, header).map_err(|e| {
            // An existing archive or an invalid name is the caller's to fix (exit 2).
            let input = matches!(&e, sv_snapshot::Error::Archive { source, .. }
                if matches!(**source, sv_archive::Error::Exists { .. } | sv_archive::Error::InvalidName { .. }));
            if input {
                anyhow::Error::from(InputError::new(e))
            } else {
                anyhow::Error::new(e)
            }
        })?;
    let audit = sv_audit::AuditLog::new(sv_audit::AuditLog::default_path(
        &config.resolve_path(std::path::Path::new(".")),
    ));
    let mut api_requests = BTreeMap::new();
    let result: anyhow::Result<ArchiveSummary> = async {
        for item in items.iter().filter(|i| i.skipped.is_none()) {
            let before = client.requests_sent();
            snapshot.add(&client, &config, env, item).await?;
            api_requests.insert(item.resource.clone(), client.requests_sent() - before);
        }
        Ok(snapshot.finish().await?)
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
