//! `sv-backup list`: the archives of a directory, of the workflow artifacts or of an R2
//! bucket (see [`crate::sources`]).

use serde::Serialize;
use sv_cli::{ExitStatus, GlobalArgs};
use sv_report::{Render, Styles};

use crate::args::ListArgs;
use crate::sources::{Locator, Source, Store, Stored, parse_name};

/// One archive.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub name: String,
    pub size: u64,
    /// Backup time from the name, when it is an sv-backup name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_time: Option<String>,
    pub modified: Option<String>,
    /// `ok`, `missing`, `mismatch: …`, `present`, `in artifact`, `expired`.
    pub sha256: String,
    pub location: Locator,
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
    pub source: String,
    pub archives: Vec<Listed>,
}

impl Render for ListReport {
    fn human(&self, styles: &Styles) -> String {
        if self.archives.is_empty() {
            return format!("No *.tar.gz.age archives in {}\n", self.source);
        }
        let mut out = format!("{} in {}\n", styles.bold("Backups"), self.source);
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
        let mut out = format!(
            "Backups in {}\n\n| Archive | Size | Modified | sha256 | Environment | Resources |\n|---|---:|---|---|---|---|\n",
            sv_report::markdown_escape(&self.source)
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

fn listed(stored: Stored) -> Listed {
    Listed {
        backup_time: parse_name(&stored.name).map(|(_, t)| t.to_rfc3339()),
        name: stored.name,
        size: stored.size,
        modified: stored.modified.map(|t| t.to_rfc3339()),
        sha256: stored.sha256,
        location: stored.location,
        environment: None,
        resources: Vec::new(),
        error: None,
    }
}

/// Runs `list`.
pub async fn run(global: &GlobalArgs, args: ListArgs) -> anyhow::Result<ExitStatus> {
    let store = Store::open(&args.source)?;
    let decryption = crate::keys::decryption(&args.key)?;
    let mut archives: Vec<Listed> = store.list().await?.into_iter().map(listed).collect();
    // Manifests can be read only where the archive is a local file.
    if let (Some(d), Source::Dir(_)) = (decryption, &store.source) {
        archives = tokio::task::spawn_blocking(move || {
            for a in &mut archives {
                let Locator::File { path } = &a.location else {
                    continue;
                };
                match sv_archive::open(path, &d) {
                    Ok(reader) => {
                        let m = reader.manifest();
                        a.environment = Some(m.environment.clone());
                        a.resources = m.resources.keys().cloned().collect();
                    }
                    Err(e) => a.error = Some(e.to_string()),
                }
            }
            archives
        })
        .await?;
    }
    let report = ListReport {
        source: store.source.to_string(),
        archives,
    };
    global.output().print(&report)?;
    Ok(ExitStatus::Success)
}
