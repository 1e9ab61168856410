//! `sv-backup verify` and `sv-backup list`: reading archives back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sv_archive::{Decryption, ResourceSummary};
use sv_cli::{ExitStatus, GlobalArgs, InputError};
use sv_report::{Render, Styles};

use crate::args::{ListArgs, VerifyArgs};

/// What `verify` found.
#[derive(Debug, Serialize)]
pub struct VerifyOutcome {
    pub archive: String,
    pub environment: String,
    pub created_at: String,
    pub tool_version: String,
    pub entries: u64,
    pub bytes: u64,
    pub resources: BTreeMap<String, ResourceSummary>,
}

impl Render for VerifyOutcome {
    fn human(&self, styles: &Styles) -> String {
        let mut out = format!(
            "{} {}: environment {}, created {} by sv-backup {}\n  {} entries, {} bytes; every checksum matches\n",
            styles.bold("Verified"),
            self.archive,
            self.environment,
            self.created_at,
            self.tool_version,
            self.entries,
            self.bytes
        );
        for (resource, s) in &self.resources {
            out.push_str(&format!(
                "  {resource}: {} entries, {} bytes{}\n",
                s.entries,
                s.bytes,
                s.items.map(|i| format!(", {i} items")).unwrap_or_default()
            ));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Verified `{}`\n\nEnvironment `{}`, created {}; every checksum matches.\n\n| Resource | Entries | Bytes | Items |\n|---|---:|---:|---:|\n",
            self.archive, self.environment, self.created_at
        );
        for (resource, s) in &self.resources {
            out.push_str(&format!(
                "| `{resource}` | {} | {} | {} |\n",
                s.entries,
                s.bytes,
                s.items.map(|i| i.to_string()).unwrap_or_default()
            ));
        }
        out
    }
}

/// Runs `verify`.
pub async fn run(global: &GlobalArgs, args: VerifyArgs) -> anyhow::Result<ExitStatus> {
    let decryption = crate::keys::required(&args.key)?;
    let path = args.archive.clone();
    let report = tokio::task::spawn_blocking(move || {
        let reader = sv_archive::open(&path, &decryption)?;
        reader.verify()
    })
    .await?
    .map_err(crate::recovery::classify)?;
    let outcome = VerifyOutcome {
        archive: args.archive.display().to_string(),
        environment: report.environment,
        created_at: report.created_at.to_rfc3339(),
        tool_version: report.tool_version,
        entries: report.entries,
        bytes: report.bytes,
        resources: report.resources,
    };
    sv_cli::context::runner().append_summary(&outcome.markdown())?;
    global.output().print(&outcome)?;
    Ok(ExitStatus::Success)
}

/// One archive in a directory.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub name: String,
    pub size: u64,
    pub modified: Option<String>,
    /// `ok`, `missing`, or `mismatch: …`.
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `list` found.
#[derive(Debug, Serialize)]
pub struct ListReport {
    pub dir: String,
    pub archives: Vec<Listed>,
}

impl Render for ListReport {
    fn human(&self, styles: &Styles) -> String {
        if self.archives.is_empty() {
            return format!("No *.tar.gz.age archives in {}\n", self.dir);
        }
        let mut out = format!("{} in {}\n", styles.bold("Backups"), self.dir);
        for a in &self.archives {
            out.push_str(&format!(
                "  {}  {} bytes  {}  sha256 {}",
                a.name,
                a.size,
                a.modified.as_deref().unwrap_or("-"),
                a.sha256
            ));
            if let Some(env) = &a.environment {
                out.push_str(&format!("  env {env}: {}", a.resources.join(", ")));
            }
            if let Some(e) = &a.error {
                out.push_str(&format!("  ({e})"));
            }
            out.push('\n');
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::from(
            "| Archive | Size | Modified | sha256 | Environment | Resources |\n|---|---:|---|---|---|---|\n",
        );
        for a in &self.archives {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                a.name,
                a.size,
                a.modified.as_deref().unwrap_or("-"),
                sv_report::markdown_escape(&a.sha256),
                a.environment.as_deref().unwrap_or("-"),
                a.resources.join(", ")
            ));
        }
        out
    }
}

/// Runs `list`.
pub async fn list(global: &GlobalArgs, args: ListArgs) -> anyhow::Result<ExitStatus> {
    let decryption = crate::keys::decryption(&args.key)?;
    let dir = args.dir.clone();
    let archives = tokio::task::spawn_blocking(move || scan(&dir, decryption.as_ref())).await??;
    let report = ListReport {
        dir: args.dir.display().to_string(),
        archives,
    };
    global.output().print(&report)?;
    Ok(ExitStatus::Success)
}

fn scan(dir: &Path, decryption: Option<&Decryption>) -> anyhow::Result<Vec<Listed>> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        InputError::new(anyhow::anyhow!(
            "cannot read directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".tar.gz.age"))
        })
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(&path)?;
        let modified = meta
            .modified()
            .ok()
            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339());
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sidecar = path.with_file_name(format!("{name}.sha256"));
        let sha256 = if !sidecar.exists() {
            "missing".to_owned()
        } else {
            match sv_archive::verify_sidecar(&path) {
                Ok(_) => "ok".to_owned(),
                Err(e) => format!("mismatch: {e}"),
            }
        };
        let mut listed = Listed {
            name,
            size: meta.len(),
            modified,
            sha256,
            environment: None,
            resources: Vec::new(),
            error: None,
        };
        if let Some(d) = decryption {
            match sv_archive::open(&path, d) {
                Ok(reader) => {
                    let m = reader.manifest();
                    listed.environment = Some(m.environment.clone());
                    listed.resources = m.resources.keys().cloned().collect();
                }
                Err(e) => listed.error = Some(e.to_string()),
            }
        }
        out.push(listed);
    }
    Ok(out)
}
