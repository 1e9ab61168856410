//! Workflow artifacts: list, download (and unzip safely), delete.

use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};

use crate::client::{PER_PAGE, Verb, decode};
use crate::error::redact_url;
use crate::{Error, GitHub};

/// A workflow artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// Artifact id.
    pub id: u64,
    /// Name given to `actions/upload-artifact`.
    pub name: String,
    /// Size of the zip.
    pub size_in_bytes: u64,
    /// Upload time.
    pub created_at: DateTime<Utc>,
    /// Past its retention: listed but no longer downloadable.
    pub expired: bool,
    /// The run that uploaded it, when GitHub says.
    pub workflow_run_id: Option<u64>,
}

#[derive(Deserialize)]
struct RawArtifact {
    id: u64,
    name: String,
    size_in_bytes: u64,
    created_at: DateTime<Utc>,
    expired: bool,
    #[serde(default)]
    workflow_run: Option<RawRun>,
}

#[derive(Deserialize)]
struct RawRun {
    id: Option<u64>,
}

#[derive(Deserialize)]
struct ArtifactPage {
    artifacts: Vec<RawArtifact>,
}

impl From<RawArtifact> for Artifact {
    fn from(raw: RawArtifact) -> Self {
        Artifact {
            id: raw.id,
            name: raw.name,
            size_in_bytes: raw.size_in_bytes,
            created_at: raw.created_at,
            expired: raw.expired,
            workflow_run_id: raw.workflow_run.and_then(|r| r.id),
        }
    }
}

/// Files written by [`GitHub::download_artifact`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownloadedArtifact {
    /// Paths of the extracted files, relative to the destination, in archive order.
    pub files: Vec<PathBuf>,
    /// Bytes of the zip as downloaded.
    pub zip_bytes: u64,
}

/// How many redirects a download may take (GitHub uses one).
const MAX_REDIRECTS: usize = 5;

impl GitHub {
    /// All artifacts of the repository whose name starts with `name_prefix` (all of them for
    /// an empty prefix), newest first, expired ones included (all pages).
    ///
    /// # Errors
    /// Transport/API errors.
    pub async fn list_artifacts(&self, name_prefix: &str) -> Result<Vec<Artifact>, Error> {
        let operation = "list workflow artifacts";
        let all = self
            .get_all_with(
                operation,
                &self.repo_path(&format!("/actions/artifacts?per_page={PER_PAGE}")),
                |body| decode::<ArtifactPage>(operation, body).map(|p| p.artifacts),
            )
            .await?;
        let mut artifacts: Vec<Artifact> = all
            .into_iter()
            .filter(|a| a.name.starts_with(name_prefix))
            .map(Artifact::from)
            .collect();
        artifacts.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(artifacts)
    }

    /// Deletes an artifact.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist, else transport/API errors.
    pub async fn delete_artifact(&self, id: u64) -> Result<(), Error> {
        self.call(
            &format!("delete artifact {id}"),
            Verb::Delete,
            &self.repo_path(&format!("/actions/artifacts/{id}")),
            None,
        )
        .await
        .map(drop)
    }

    /// Downloads artifact `id` and unzips it into `dest_dir` (created if missing).
    ///
    /// GitHub answers with a redirect to a pre-signed storage URL; that URL is fetched without
    /// the `Authorization` header (the token must not reach another host, and the storage
    /// refuses it anyway). Every entry is checked before anything is written: absolute paths,
    /// `..` components and symbolic links are refused ([`Error::UnsafeArchiveEntry`]).
    ///
    /// # Errors
    /// [`Error::NotFound`] (also for an expired artifact, HTTP 410), [`Error::Archive`],
    /// [`Error::UnsafeArchiveEntry`], [`Error::Io`], transport/API errors.
    pub async fn download_artifact(
        &self,
        id: u64,
        dest_dir: &Path,
    ) -> Result<DownloadedArtifact, Error> {
        let operation = format!("download artifact {id}");
        std::fs::create_dir_all(dest_dir).map_err(|source| Error::Io {
            path: dest_dir.to_owned(),
            source,
        })?;
        let mut attempt = 0;
        let mut file = loop {
            match self.fetch_zip(&operation, id, dest_dir).await {
                Err(e @ Error::Network { .. }) if attempt < self.retry.max_retries => {
                    tracing::debug!(error = %e, attempt, "retrying artifact download");
                    tokio::time::sleep(self.retry.base_delay.saturating_mul(1 << attempt.min(8)))
                        .await;
                    attempt += 1;
                }
                other => break other?,
            }
        };
        let zip_bytes = file.seek(SeekFrom::End(0)).map_err(|source| Error::Io {
            path: dest_dir.to_owned(),
            source,
        })?;
        file.seek(SeekFrom::Start(0)).map_err(|source| Error::Io {
            path: dest_dir.to_owned(),
            source,
        })?;
        let dest = dest_dir.to_owned();
        let files = tokio::task::spawn_blocking(move || extract(id, file, &dest))
            .await
            .map_err(|e| Error::Io {
                path: dest_dir.to_owned(),
                source: std::io::Error::other(e),
            })??;
        Ok(DownloadedArtifact { files, zip_bytes })
    }

    /// Streams the artifact's zip into an anonymous temporary file inside `dest_dir`.
    async fn fetch_zip(
        &self,
        operation: &str,
        id: u64,
        dest_dir: &Path,
    ) -> Result<std::fs::File, Error> {
        let api_url = format!(
            "{}{}",
            self.api_base.as_str().trim_end_matches('/'),
            self.repo_path(&format!("/actions/artifacts/{id}/zip"))
        );
        let first = self
            .http
            .get(&api_url)
            .bearer_auth(self.token.expose_secret())
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .send()
            .await
            .map_err(|e| transport(operation, &api_url, e))?;
        let mut response = first;
        let mut current = api_url;
        for _ in 0..MAX_REDIRECTS {
            if !response.status().is_redirection() {
                break;
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::Decode {
                    operation: operation.to_owned(),
                    detail: "redirect without a Location header".into(),
                })?;
            let next = url::Url::parse(&current)
                .and_then(|base| base.join(location))
                .map_err(|e| Error::Decode {
                    operation: operation.to_owned(),
                    detail: format!("bad redirect location: {e}"),
                })?;
            current = next.to_string();
            // A fresh request: no Authorization, no GitHub headers, to whatever host.
            response = self
                .http
                .get(next)
                .send()
                .await
                .map_err(|e| transport(operation, &current, e))?;
        }
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(200).collect());
            let operation = format!("{operation} ({})", redact_url(&current));
            return Err(match status {
                401 | 403 => Error::Authentication {
                    operation,
                    status,
                    message,
                },
                404 | 410 => Error::NotFound {
                    operation,
                    status,
                    message,
                },
                429 => Error::RateLimited {
                    operation,
                    message,
                    retry_after: None,
                },
                _ => Error::Api {
                    operation,
                    status,
                    message,
                    details: Vec::new(),
                },
            });
        }
        let mut file = tempfile::tempfile_in(dest_dir).map_err(|source| Error::Io {
            path: dest_dir.to_owned(),
            source,
        })?;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| transport(operation, &current, e))?;
            file.write_all(&chunk).map_err(|source| Error::Io {
                path: dest_dir.to_owned(),
                source,
            })?;
        }
        Ok(file)
    }
}

fn transport(operation: &str, url: &str, e: reqwest::Error) -> Error {
    // reqwest puts the URL in its messages; the storage URL's query is a credential.
    Error::Network {
        operation: format!("{operation} ({})", redact_url(url)),
        source: Box::new(e.without_url()),
    }
}

/// The relative path an entry may be written to, or `None` when it is unsafe.
fn safe_relative_path(name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains('\0') || name.starts_with(['/', '\\']) || name.contains(':')
    {
        return None;
    }
    let mut out = PathBuf::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return None,
            p => out.push(p),
        }
    }
    // Belt and braces: only plain components may remain.
    if out.as_os_str().is_empty() || !out.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(out)
}

/// Validates every entry, then extracts. Returns the files written, relative to `dest`.
fn extract(artifact: u64, file: std::fs::File, dest: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut archive =
        zip::ZipArchive::new(file).map_err(|source| Error::Archive { artifact, source })?;
    let mut plan = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|source| Error::Archive { artifact, source })?;
        let name = entry
            .name()
            .map_err(|source| Error::Archive { artifact, source })?
            .into_owned();
        let relative = safe_relative_path(&name)
            .filter(|_| entry.enclosed_name().is_some() && !entry.is_symlink())
            .ok_or_else(|| Error::UnsafeArchiveEntry {
                artifact,
                entry: name.clone(),
            })?;
        plan.push((index, relative, entry.is_dir()));
    }
    let mut written = Vec::new();
    for (index, relative, is_dir) in plan {
        let target = dest.join(&relative);
        if is_dir {
            std::fs::create_dir_all(&target).map_err(|source| Error::Io {
                path: target,
                source,
            })?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        let mut entry = archive
            .by_index(index)
            .map_err(|source| Error::Archive { artifact, source })?;
        let mut out = std::fs::File::create(&target).map_err(|source| Error::Io {
            path: target.clone(),
            source,
        })?;
        std::io::copy(&mut entry, &mut out).map_err(|source| Error::Io {
            path: target.clone(),
            source,
        })?;
        written.push(relative);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        assert_eq!(
            safe_relative_path("a/b.txt"),
            Some(PathBuf::from("a/b.txt"))
        );
        assert_eq!(safe_relative_path("./a//b"), Some(PathBuf::from("a/b")));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            "\\x",
            "..\\x",
            "C:/x",
            "a\0b",
            ".",
        ] {
            assert_eq!(safe_relative_path(bad), None, "{bad:?}");
        }
    }
}
