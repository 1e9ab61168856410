//! The archive being written and the items going into it.
//!
//! The archive writer is synchronous; each entry is handed to it inside `spawn_blocking`,
//! with async bodies (R2 objects, the D1 dump) bridged by `bridge::BlockingReader`, so large
//! entries stream instead of sitting in memory. Generated entries (KV JSONL, the SQL that
//! rebuilds D1 virtual tables) stream the same way, produced by a task as they are read:
//! nothing is spooled to disk in plaintext.

use std::path::Path;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::Serialize;
use sv_archive::{ArchiveSummary, ArchiveWriter, Encryption, EntryMeta, ManifestHeader, NewEntry};
use sv_cloudflare::Client;
use sv_config::{Environment, LoadedConfig};

use crate::error::{Error, Result};

/// The manifest's `tool`: archives are sv-backup's format whoever writes them, so
/// `sv-backup list`, `verify` and `restore` take them.
pub const TOOL: &str = "sv-backup";

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

/// The manifest header of a backup of `items` (those not skipped) of `env`, taken `now`.
pub fn manifest_header(
    config: &LoadedConfig,
    env: &Environment,
    items: &[Item],
    now: DateTime<Utc>,
) -> ManifestHeader {
    ManifestHeader {
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
    }
}

/// `<project>-<environment>-<UTC time>.tar.gz.age`: the name `sv-backup list` and `prune`
/// read the time from.
pub fn archive_name(config: &LoadedConfig, env: &Environment, now: DateTime<Utc>) -> String {
    format!(
        "{}-{}-{}.tar.gz.age",
        config.config.project,
        env.name,
        now.format("%Y%m%dT%H%M%SZ")
    )
}

/// An archive being written: items are added one at a time (so a caller can measure or
/// report each), then [`Snapshot::finish`] writes the trailer. Dropped unfinished, the
/// partial file is removed (the archive writer's guarantee).
pub struct Snapshot {
    sink: Sink,
}

impl Snapshot {
    /// Creates `out` if needed and starts the archive `name` in it.
    ///
    /// # Errors
    /// [`Error::OutputDir`]; [`Error::Archive`] when the archive exists
    /// (`sv_archive::Error::Exists`), the name is invalid or the file cannot be created.
    pub fn create(
        out: &Path,
        name: &str,
        encryption: Encryption,
        header: ManifestHeader,
    ) -> Result<Self> {
        std::fs::create_dir_all(out).map_err(|source| Error::OutputDir {
            path: out.to_owned(),
            source,
        })?;
        let writer = ArchiveWriter::create(out, name, encryption, header).map_err(|source| {
            Error::Archive {
                name: name.to_owned(),
                source: Box::new(source),
            }
        })?;
        Ok(Self {
            sink: Sink {
                writer: Some(writer),
                name: name.to_owned(),
            },
        })
    }

    /// Reads `item` of `env` from the account (or the state file) into the archive. A
    /// skipped item, or a resource kind with nothing to read, adds nothing.
    ///
    /// # Errors
    /// [`Error::Item`] naming the item, with what failed as its source.
    pub async fn add(
        &mut self,
        client: &Client,
        config: &LoadedConfig,
        env: &Environment,
        item: &Item,
    ) -> Result<()> {
        if item.skipped.is_some() {
            return Ok(());
        }
        backup_item(client, config, env, item, &mut self.sink)
            .await
            .map_err(|e| Error::Item {
                resource: item.resource.clone(),
                target: item.target.clone(),
                source: Box::new(e),
            })
    }

    /// Writes the trailer and closes the archive.
    ///
    /// # Errors
    /// [`Error::Archive`] or [`Error::WriterGone`] after an earlier failure.
    pub async fn finish(mut self) -> Result<ArchiveSummary> {
        self.sink.finish().await
    }
}

/// Backs up exactly `items` of `env` into a new archive in `out` (named and headed like
/// `sv-backup create`'s, so `sv-backup list`, `verify` and `restore` take it), without
/// printing anything: what sv-plan calls before an apply deletes or replaces data stores.
/// Skipped items are left out. The caller records its own audit entry.
///
/// # Errors
/// The archive exists or cannot be written, or a read from the API fails.
pub async fn create_archive(
    client: &Client,
    config: &LoadedConfig,
    env: &Environment,
    items: &[Item],
    out: &Path,
    encryption: Encryption,
) -> Result<ArchiveSummary> {
    let now = Utc::now();
    let header = manifest_header(config, env, items, now);
    let name = archive_name(config, env, now);
    let mut snapshot = Snapshot::create(out, &name, encryption, header)?;
    for item in items {
        snapshot.add(client, config, env, item).await?;
    }
    snapshot.finish().await
}

/// The writer, moved into blocking tasks one entry at a time.
pub(crate) struct Sink {
    writer: Option<ArchiveWriter>,
    /// The archive's file name, for errors.
    name: String,
}

impl Sink {
    fn archive_error(&self, source: sv_archive::Error) -> Error {
        Error::Archive {
            name: self.name.clone(),
            source: Box::new(source),
        }
    }

    pub(crate) async fn add(
        &mut self,
        entry: NewEntry,
        size: Option<u64>,
        reader: impl std::io::Read + Send + 'static,
    ) -> Result<EntryMeta> {
        let mut writer = self.writer.take().ok_or(Error::WriterGone)?;
        let (writer, result) = tokio::task::spawn_blocking(move || {
            let result = writer.add_stream(entry, size, reader);
            (writer, result)
        })
        .await
        .map_err(|source| Error::Task {
            task: "the archive task",
            source,
        })?;
        self.writer = Some(writer);
        result.map_err(|e| self.archive_error(e))
    }

    pub(crate) fn set_last_items(&mut self, items: u64) -> Result<()> {
        let result = self
            .writer
            .as_mut()
            .ok_or(Error::WriterGone)?
            .set_last_items(items);
        result.map_err(|e| self.archive_error(e))
    }

    async fn finish(&mut self) -> Result<ArchiveSummary> {
        let writer = self.writer.take().ok_or(Error::WriterGone)?;
        tokio::task::spawn_blocking(move || writer.finish())
            .await
            .map_err(|source| Error::Task {
                task: "the archive task",
                source,
            })?
            .map_err(|e| self.archive_error(e))
    }
}

async fn backup_item(
    client: &Client,
    config: &LoadedConfig,
    env: &Environment,
    item: &Item,
    sink: &mut Sink,
) -> Result<()> {
    let (kind, name) = item
        .resource
        .split_once('.')
        .unwrap_or((item.resource.as_str(), ""));
    match kind {
        "state" => {
            // sv-plan's state where sv.yaml keeps it: the file as it is (even one whose
            // checksum no longer matches: the backup keeps what there is), or the R2 object
            // through the store (verified).
            let bytes = match sv_infra::store::location(config, &env.name) {
                sv_infra::store::StateLocation::File(path) => match std::fs::read(&path) {
                    Ok(bytes) => Some(bytes),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(source) => return Err(Error::State { path, source }),
                },
                location @ sv_infra::store::StateLocation::R2 { .. } => {
                    let failed = |source| Error::StateStore {
                        location: location.to_string(),
                        source: Box::new(source),
                    };
                    let store = sv_infra::store::configured(config, &env.name, Some(client))
                        .map_err(failed)?;
                    store
                        .load()
                        .map_err(failed)?
                        .map(|s| s.to_json().into_bytes())
                }
            };
            if let Some(bytes) = bytes {
                let len = bytes.len() as u64;
                sink.add(
                    NewEntry::new(format!("state/{}.json", env.name), "state", "sv-state"),
                    Some(len),
                    std::io::Cursor::new(bytes),
                )
                .await?;
            }
        }
        "kv" => crate::kv::backup_kv(client, name, &item.target, sink).await?,
        "d1" => crate::d1::backup_d1(client, name, &item.target, sink).await?,
        "r2" => backup_r2(client, name, &item.target, sink).await?,
        "dns" => backup_dns(client, &item.target, sink).await?,
        "worker" => crate::worker::backup_worker(client, name, &item.target, sink).await?,
        _ => {}
    }
    Ok(())
}

async fn backup_r2(client: &Client, name: &str, bucket: &str, sink: &mut Sink) -> Result<()> {
    let r2 = client.r2();
    let mut objects = std::pin::pin!(r2.list_objects(bucket, None, None));
    while let Some(object) = objects.next().await {
        let object = object.map_err(|source| Error::Api {
            operation: "listing the objects of R2 bucket",
            resource: format!("{bucket:?}"),
            source: Box::new(source),
        })?;
        let download = r2
            .get_object(bucket, &object.key, None)
            .await
            .map_err(|source| Error::Api {
                operation: "downloading from R2 bucket",
                resource: format!("{bucket:?} the object {:?}", object.key),
                source: Box::new(source),
            })?;
        let size = download.content_length.unwrap_or(object.size);
        let content_type = download
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let custom = download.custom_metadata();
        let json = |what, value: Result<serde_json::Value, serde_json::Error>| {
            value.map_err(|source| Error::Json { what, source })
        };
        let mut entry = NewEntry::new(
            format!("r2/{name}/objects/{}", object.key),
            format!("r2.{name}"),
            "r2-object",
        )
        .with_extra("key", object.key.clone())
        .with_extra(
            "custom_metadata",
            json(
                "an R2 object's custom metadata",
                serde_json::to_value(&custom),
            )?,
        )
        .with_extra(
            "http_metadata",
            json(
                "an R2 object's HTTP metadata",
                serde_json::to_value(&object.http_metadata),
            )?,
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

async fn backup_dns(client: &Client, zone: &str, sink: &mut Sink) -> Result<()> {
    let found = client
        .zones()
        .find_for_hostname(zone)
        .await
        .map_err(|source| Error::Api {
            operation: "finding the zone of",
            resource: format!("{zone:?}"),
            source: Box::new(source),
        })?
        .ok_or_else(|| Error::ZoneNotFound {
            zone: zone.to_owned(),
        })?;
    let bind = client
        .dns()
        .export_bind(&found.id)
        .await
        .map_err(|source| Error::Api {
            operation: "exporting the DNS records of zone",
            resource: format!("{:?}", found.name),
            source: Box::new(source),
        })?;
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
