//! `sv-backup verify`: reading an archive back and checking every checksum.

use std::collections::BTreeMap;

use serde::Serialize;
use sv_archive::ResourceSummary;
use sv_cli::{ExitStatus, GlobalArgs};
use sv_report::{Render, Styles};

use crate::args::VerifyArgs;

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
