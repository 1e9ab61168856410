//! `sv-backup fetch`: bring an archive and its `.sha256` from a source (workflow artifact,
//! R2 bucket or directory) into a local directory and check the digest, so `verify`,
//! `plan` and `restore` work on a local file. The newest archive is the default, which is
//! what a restore drill or a 3 a.m. recovery wants.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use futures::StreamExt as _;
use serde::Serialize;
use sv_cli::{ExitStatus, GlobalArgs, InputError};
use sv_report::{Render, Styles};
use tokio::io::AsyncWriteExt as _;

use crate::args::FetchArgs;
use crate::sources::{ARCHIVE_SUFFIX, Locator, Store, Stored, parse_name, sidecar_path};

/// What `fetch` brought.
#[derive(Debug, Serialize)]
pub struct FetchReport {
    pub source: String,
    pub name: String,
    /// The local archive.
    pub archive: String,
    pub size: u64,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_time: Option<String>,
}

impl Render for FetchReport {
    fn human(&self, styles: &Styles) -> String {
        format!(
            "{} {} from {}\n  {} ({} bytes), sha256 {} matches its .sha256\n",
            styles.bold("Fetched"),
            self.name,
            self.source,
            self.archive,
            self.size,
            self.sha256
        )
    }

    fn markdown(&self) -> String {
        format!(
            "Fetched `{}` from {} ({} bytes, sha256 `{}` matches its `.sha256`)\n",
            self.name,
            sv_report::markdown_escape(&self.source),
            self.size,
            self.sha256
        )
    }
}

/// The archive to fetch: by name (with or without `.tar.gz.age`), else the newest by the
/// time in its name; `run_id` narrows artifacts to one workflow run.
pub fn choose<'a>(
    listed: &'a [Stored],
    name: Option<&str>,
    run_id: Option<u64>,
) -> Option<&'a Stored> {
    let in_run = |s: &&Stored| match (run_id, &s.location) {
        (None, _) => true,
        (Some(run), Locator::Artifact { run_id, .. }) => *run_id == Some(run),
        (Some(_), _) => false,
    };
    let candidates = listed.iter().filter(in_run);
    match name {
        Some(name) => {
            let stem = name.strip_suffix(ARCHIVE_SUFFIX).unwrap_or(name);
            candidates
                .filter(|s| {
                    let base = s.name.rsplit('/').next().unwrap_or(&s.name);
                    base.strip_suffix(ARCHIVE_SUFFIX).unwrap_or(base) == stem
                })
                .max_by(|a, b| a.name.cmp(&b.name))
        }
        None => candidates
            .filter_map(|s| parse_name(&s.name).map(|(_, t)| (t, s)))
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)))
            .map(|(_, s)| s),
    }
}

/// Runs `fetch`.
pub async fn run(global: &GlobalArgs, args: FetchArgs) -> anyhow::Result<ExitStatus> {
    let store = Store::open(&args.source)?;
    let listed = store.list().await?;
    let chosen = choose(&listed, args.name.as_deref(), args.run_id).ok_or_else(|| {
        InputError::new(anyhow::anyhow!(
            "no archive {}in {}{}",
            args.name
                .as_deref()
                .map(|n| format!("named {n:?} "))
                .unwrap_or_default(),
            store.source,
            args.run_id
                .map(|r| format!(" from run {r}"))
                .unwrap_or_default()
        ))
    })?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let archive = fetch_one(&store, chosen, &args.out).await?;
    let path = archive.clone();
    let digest = tokio::task::spawn_blocking(move || sv_archive::verify_sidecar(&path))
        .await?
        .map_err(|e| {
            // Leave nothing that looks like a good archive.
            let _ = std::fs::remove_file(&archive);
            let _ = std::fs::remove_file(sidecar_path(&archive));
            InputError::new(anyhow::anyhow!(
                "{} does not match its .sha256 (damaged in storage or transfer?): {e}",
                archive.display()
            ))
        })?;
    let size = std::fs::metadata(&archive)?.len();
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let report = FetchReport {
        source: store.source.to_string(),
        backup_time: parse_name(&name).map(|(_, t)| t.to_rfc3339()),
        name,
        archive: archive.display().to_string(),
        size,
        sha256: digest.to_string(),
    };
    let runner = sv_cli::context::runner();
    runner.set_output("archive", &report.archive)?;
    runner.set_output("name", &report.name)?;
    runner.set_output("sha256", &report.sha256)?;
    global.output().print(&report)?;
    Ok(ExitStatus::Success)
}

/// Writes the archive and its sidecar into `out`; returns the archive's path.
async fn fetch_one(store: &Store, stored: &Stored, out: &Path) -> anyhow::Result<PathBuf> {
    match &stored.location {
        Locator::File { path } => {
            let name = path.file_name().context("archive without a file name")?;
            let dest = out.join(name);
            if dest != *path {
                std::fs::copy(path, &dest)
                    .with_context(|| format!("copying {}", path.display()))?;
                let sidecar = sidecar_path(path);
                if sidecar.exists() {
                    std::fs::copy(&sidecar, sidecar_path(&dest))
                        .with_context(|| format!("copying {}", sidecar.display()))?;
                }
            }
            Ok(dest)
        }
        Locator::Artifact { id, .. } => {
            let gh = store.github().context("no GitHub client")?;
            let scratch = tempfile::tempdir_in(out).context("cannot create a temp dir")?;
            let downloaded = gh
                .download_artifact(*id, scratch.path())
                .await
                .with_context(|| format!("downloading artifact {} ({id})", stored.name))?;
            let archive = downloaded
                .files
                .iter()
                .find(|f| f.to_string_lossy().ends_with(ARCHIVE_SUFFIX))
                .ok_or_else(|| {
                    InputError::new(anyhow::anyhow!(
                        "artifact {} holds no *{ARCHIVE_SUFFIX} file",
                        stored.name
                    ))
                })?;
            let from = scratch.path().join(archive);
            let dest = out.join(from.file_name().context("archive without a file name")?);
            std::fs::rename(&from, &dest)?;
            let sidecar = sidecar_path(&from);
            if sidecar.exists() {
                std::fs::rename(&sidecar, sidecar_path(&dest))?;
            }
            Ok(dest)
        }
        Locator::Object {
            bucket,
            key,
            sidecar,
        } => {
            let client = store.cloudflare().context("no Cloudflare client")?;
            let r2 = client.r2();
            let base = key.rsplit('/').next().unwrap_or(key);
            let dest = out.join(base);
            let partial = out.join(format!("{base}.partial"));
            let download = r2
                .get_object(bucket, key, None)
                .await
                .with_context(|| format!("downloading r2://{bucket}/{key}"))?;
            let mut file = tokio::fs::File::create(&partial).await?;
            let mut body = download.body;
            while let Some(chunk) = body.next().await {
                file.write_all(&chunk?).await?;
            }
            file.sync_all().await?;
            drop(file);
            std::fs::rename(&partial, &dest)?;
            if let Some(sidecar) = sidecar {
                let bytes = r2.get_object(bucket, sidecar, None).await?.bytes().await?;
                std::fs::write(sidecar_path(&dest), bytes)?;
            }
            Ok(dest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(name: &str, run: Option<u64>) -> Stored {
        Stored {
            name: name.to_owned(),
            size: 1,
            modified: None,
            sha256: String::new(),
            location: Locator::Artifact { id: 1, run_id: run },
        }
    }

    #[test]
    fn choose_by_name_latest_and_run() {
        let listed = vec![
            stored("app-prod-20261124T031700Z.tar.gz.age", Some(7)),
            stored("app-prod-20261125T031700Z.tar.gz.age", Some(8)),
            stored("notes.tar.gz.age", Some(9)),
        ];
        let pick = |name, run| choose(&listed, name, run).map(|s| s.name.as_str());
        assert_eq!(
            pick(None, None),
            Some("app-prod-20261125T031700Z.tar.gz.age")
        );
        assert_eq!(
            pick(None, Some(7)),
            Some("app-prod-20261124T031700Z.tar.gz.age")
        );
        assert_eq!(
            pick(Some("app-prod-20261124T031700Z"), None),
            Some("app-prod-20261124T031700Z.tar.gz.age")
        );
        assert_eq!(
            pick(Some("notes.tar.gz.age"), None),
            Some("notes.tar.gz.age")
        );
        assert_eq!(pick(Some("missing"), None), None);
        assert_eq!(pick(None, Some(1)), None);
    }
}
