//! Where archives are kept, for `list` and `prune`: a local directory, the repository's
//! workflow artifacts (through sv-github) or an R2 bucket (through sv-cloudflare).
//!
//! Each source lists archives as [`Stored`] and deletes one together with its `.sha256`
//! sidecar: in a directory or a bucket those are two files; a workflow artifact holds both
//! (actions/backup uploads them together), so deleting the artifact deletes both.
//!
//! Archive names carry their backup time, `PROJECT-ENV-YYYYMMDDTHHMMSSZ.tar.gz.age`
//! ([`parse_name`]); an artifact is named the same without the extension. Retention works
//! on that time, not on file or upload times, which copies and re-uploads change.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::TryStreamExt as _;
use serde::Serialize;
use sv_cli::InputError;

use crate::args::SourceArgs;

/// The extension of an archive.
pub const ARCHIVE_SUFFIX: &str = ".tar.gz.age";

/// The group (`PROJECT-ENV`) and backup time of an archive or artifact name, or `None` when
/// the name is not one sv-backup gives. A directory prefix is ignored.
pub fn parse_name(name: &str) -> Option<(&str, DateTime<Utc>)> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let stem = base.strip_suffix(ARCHIVE_SUFFIX).unwrap_or(base);
    let (group, stamp) = stem.rsplit_once('-')?;
    if group.is_empty() || stamp.len() != 16 {
        return None;
    }
    let time = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").ok()?;
    Some((group, time.and_utc()))
}

/// A place archives are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Dir(PathBuf),
    /// Workflow artifacts whose name starts with this prefix.
    GitHub(String),
    /// Objects of a bucket under `prefix` (empty, or ending in `/`).
    R2 {
        bucket: String,
        prefix: String,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Dir(dir) => write!(f, "{}", dir.display()),
            Source::GitHub(prefix) if prefix.is_empty() => f.write_str("workflow artifacts"),
            Source::GitHub(prefix) => write!(f, "workflow artifacts {prefix}*"),
            Source::R2 { bucket, prefix } => write!(f, "r2://{bucket}/{prefix}"),
        }
    }
}

/// Splits `BUCKET[/PREFIX]`; the prefix is a folder, so it gets a trailing `/`.
pub fn parse_r2(spec: &str) -> Result<(String, String), InputError> {
    let (bucket, prefix) = spec.split_once('/').unwrap_or((spec, ""));
    if bucket.is_empty() {
        return Err(InputError::new(anyhow::anyhow!(
            "--r2 {spec:?}: expected BUCKET or BUCKET/PREFIX"
        )));
    }
    let prefix = prefix.trim_matches('/');
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    Ok((bucket.to_owned(), prefix))
}

impl Source {
    /// The source the flags name; a directory (default `.`) when none does.
    pub fn from_args(args: &SourceArgs) -> Result<Self, InputError> {
        if let Some(prefix) = &args.github {
            return Ok(Source::GitHub(prefix.clone()));
        }
        if let Some(spec) = &args.r2 {
            let (bucket, prefix) = parse_r2(spec)?;
            return Ok(Source::R2 { bucket, prefix });
        }
        Ok(Source::Dir(
            args.dir.clone().unwrap_or_else(|| PathBuf::from(".")),
        ))
    }
}

/// Where one listed archive is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Locator {
    File {
        path: PathBuf,
    },
    Artifact {
        id: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        run_id: Option<u64>,
    },
    Object {
        bucket: String,
        key: String,
        /// The sidecar's key, when the bucket holds one.
        #[serde(skip_serializing_if = "Option::is_none")]
        sidecar: Option<String>,
    },
}

/// One archive in a source.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    /// File, object (without the source's prefix) or artifact name.
    pub name: String,
    /// Bytes of the archive (of the artifact's zip for an artifact).
    pub size: u64,
    /// Modification, upload or artifact creation time.
    pub modified: Option<DateTime<Utc>>,
    /// `ok`, `missing`, `mismatch: …` (directory); `present`/`missing` (bucket: the
    /// digest is not recomputed remotely); `in artifact`/`expired` (artifact).
    pub sha256: String,
    pub location: Locator,
}

/// A source with the client it needs.
pub struct Store {
    pub source: Source,
    github: Option<sv_github::GitHub>,
    cloudflare: Option<sv_cloudflare::Client>,
}

impl Store {
    /// Opens the source of the flags, with a GitHub (`GITHUB_TOKEN`, `GITHUB_REPOSITORY`,
    /// `GITHUB_API_URL`) or Cloudflare client as it needs.
    pub fn open(args: &SourceArgs) -> anyhow::Result<Self> {
        let source = Source::from_args(args)?;
        let runner = sv_cli::context::runner();
        let mut store = Store {
            source,
            github: None,
            cloudflare: None,
        };
        match &store.source {
            Source::Dir(_) => {}
            Source::GitHub(_) => {
                let ctx = sv_cli::context::github(&runner)?;
                store.github = Some(ctx.client().map_err(|e| {
                    InputError::new(anyhow::anyhow!(
                        "--github needs GITHUB_TOKEN and GITHUB_REPOSITORY: {e}"
                    ))
                })?);
            }
            Source::R2 { .. } => {
                store.cloudflare = Some(sv_cli::context::cloudflare(&args.cloudflare, &runner)?);
            }
        }
        Ok(store)
    }

    /// The GitHub client, for an artifact source.
    pub fn github(&self) -> Option<&sv_github::GitHub> {
        self.github.as_ref()
    }

    /// The Cloudflare client, for a bucket source.
    pub fn cloudflare(&self) -> Option<&sv_cloudflare::Client> {
        self.cloudflare.as_ref()
    }

    /// Every archive of the source, sorted by name.
    pub async fn list(&self) -> anyhow::Result<Vec<Stored>> {
        let mut out = match &self.source {
            Source::Dir(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || list_dir(&dir)).await??
            }
            Source::GitHub(prefix) => {
                let gh = self.github.as_ref().context("no GitHub client")?;
                gh.list_artifacts(prefix)
                    .await
                    .context("listing workflow artifacts")?
                    .into_iter()
                    .map(|a| Stored {
                        name: a.name,
                        size: a.size_in_bytes,
                        modified: Some(a.created_at),
                        sha256: if a.expired { "expired" } else { "in artifact" }.to_owned(),
                        location: Locator::Artifact {
                            id: a.id,
                            run_id: a.workflow_run_id,
                        },
                    })
                    .collect()
            }
            Source::R2 { bucket, prefix } => {
                let client = self.cloudflare.as_ref().context("no Cloudflare client")?;
                list_bucket(client, bucket, prefix).await?
            }
        };
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Deletes an archive and its sidecar (the archive first: a left-over sidecar is
    /// harmless, an archive without one would look unverifiable).
    pub async fn delete(&self, stored: &Stored) -> anyhow::Result<()> {
        match &stored.location {
            Locator::File { path } => {
                std::fs::remove_file(path)
                    .with_context(|| format!("deleting {}", path.display()))?;
                let sidecar = sidecar_path(path);
                match std::fs::remove_file(&sidecar) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e).with_context(|| format!("deleting {}", sidecar.display())),
                }
            }
            Locator::Artifact { id, .. } => {
                let gh = self.github.as_ref().context("no GitHub client")?;
                gh.delete_artifact(*id)
                    .await
                    .with_context(|| format!("deleting artifact {} ({id})", stored.name))
            }
            Locator::Object {
                bucket,
                key,
                sidecar,
            } => {
                let client = self.cloudflare.as_ref().context("no Cloudflare client")?;
                let r2 = client.r2();
                r2.delete_object(bucket, key, None)
                    .await
                    .with_context(|| format!("deleting r2://{bucket}/{key}"))?;
                if let Some(sidecar) = sidecar {
                    r2.delete_object(bucket, sidecar, None)
                        .await
                        .with_context(|| format!("deleting r2://{bucket}/{sidecar}"))?;
                }
                Ok(())
            }
        }
    }
}

/// `ARCHIVE.sha256` beside the archive.
pub fn sidecar_path(archive: &Path) -> PathBuf {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    archive.with_file_name(format!("{name}.sha256"))
}

/// Uploads a finished archive and its `.sha256` to `r2://BUCKET/PREFIX` (archive first: a
/// bucket never holds a sidecar for an archive that is not all there). The archive is
/// streamed from disk. Returns the archive's key.
pub async fn upload_to_r2(
    client: &sv_cloudflare::Client,
    spec: &str,
    archive: &Path,
) -> anyhow::Result<String> {
    let (bucket, prefix) = parse_r2(spec)?;
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("the archive has no file name")?;
    let key = format!("{prefix}{name}");
    let file = tokio::fs::File::open(archive)
        .await
        .with_context(|| format!("opening {}", archive.display()))?;
    let length = file.metadata().await?.len();
    let body =
        sv_cloudflare::r2::ObjectBody::from_stream(tokio_util::io::ReaderStream::new(file), length);
    let r2 = client.r2();
    r2.put_object(
        &bucket,
        &key,
        body,
        &sv_cloudflare::r2::PutObjectOptions {
            content_type: Some("application/octet-stream".into()),
            ..Default::default()
        },
    )
    .await
    .with_context(|| format!("uploading r2://{bucket}/{key}"))?;
    let sidecar = std::fs::read(sidecar_path(archive))
        .with_context(|| format!("reading {}", sidecar_path(archive).display()))?;
    r2.put_object(
        &bucket,
        &format!("{key}.sha256"),
        sv_cloudflare::r2::ObjectBody::from(sidecar),
        &sv_cloudflare::r2::PutObjectOptions {
            content_type: Some("text/plain".into()),
            ..Default::default()
        },
    )
    .await
    .with_context(|| format!("uploading r2://{bucket}/{key}.sha256"))?;
    Ok(format!("r2://{bucket}/{key}"))
}

fn list_dir(dir: &Path) -> anyhow::Result<Vec<Stored>> {
    let read = std::fs::read_dir(dir).map_err(|e| {
        InputError::new(anyhow::anyhow!(
            "cannot read directory {}: {e}",
            dir.display()
        ))
    })?;
    let mut out = Vec::new();
    for entry in read.filter_map(Result::ok) {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !path.is_file() || !name.ends_with(ARCHIVE_SUFFIX) {
            continue;
        }
        let meta = std::fs::metadata(&path)?;
        let sha256 = if !sidecar_path(&path).exists() {
            "missing".to_owned()
        } else {
            match sv_archive::verify_sidecar(&path) {
                Ok(_) => "ok".to_owned(),
                Err(e) => format!("mismatch: {e}"),
            }
        };
        out.push(Stored {
            name,
            size: meta.len(),
            modified: meta.modified().ok().map(DateTime::<Utc>::from),
            sha256,
            location: Locator::File { path },
        });
    }
    Ok(out)
}

async fn list_bucket(
    client: &sv_cloudflare::Client,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<Vec<Stored>> {
    let objects: Vec<sv_cloudflare::r2::R2Object> = client
        .r2()
        .list_objects(bucket, (!prefix.is_empty()).then_some(prefix), None)
        .try_collect()
        .await
        .with_context(|| format!("listing r2://{bucket}/{prefix}"))?;
    let keys: std::collections::BTreeSet<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    Ok(objects
        .iter()
        .filter(|o| o.key.ends_with(ARCHIVE_SUFFIX))
        .map(|o| {
            let sidecar = format!("{}.sha256", o.key);
            let has_sidecar = keys.contains(sidecar.as_str());
            Stored {
                name: o.key.strip_prefix(prefix).unwrap_or(&o.key).to_owned(),
                size: o.size,
                modified: o
                    .last_modified
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc)),
                sha256: if has_sidecar { "present" } else { "missing" }.to_owned(),
                location: Locator::Object {
                    bucket: bucket.to_owned(),
                    key: o.key.clone(),
                    sidecar: has_sidecar.then_some(sidecar),
                },
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let (group, time) = parse_name("spacevision-staging-20261125T013045Z.tar.gz.age").unwrap();
        assert_eq!(group, "spacevision-staging");
        assert_eq!(time.to_rfc3339(), "2026-11-25T01:30:45+00:00");
        // An artifact name (no extension) and a key under a folder parse the same.
        assert_eq!(
            parse_name("backups/spacevision-staging-20261125T013045Z")
                .unwrap()
                .0,
            "spacevision-staging"
        );
        for bad in [
            "notes.tar.gz.age",
            "-20261125T013045Z.tar.gz.age",
            "x-20261325T013045Z.tar.gz.age",
            "x-2026-11-25.tar.gz.age",
            "x-20261125T013045.tar.gz.age",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn r2_specs() {
        assert_eq!(parse_r2("b").unwrap(), ("b".into(), String::new()));
        assert_eq!(parse_r2("b/x/y/").unwrap(), ("b".into(), "x/y/".into()));
        assert!(parse_r2("/x").is_err());
    }
}
