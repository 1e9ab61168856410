//! The manifest: the first member of every archive (`manifest.json`), listing every entry
//! with its size and sha256, per-resource counts, the tool, time and source environment.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::digest::Sha256;
use crate::error::{Error, Result};
use crate::path::{Conflict, PathSet, check_path};

/// Written in every manifest so that a foreign `manifest.json` is not mistaken for ours.
pub const FORMAT_NAME: &str = "sv-backup";
/// Bumped on any change an older reader would misread; readers refuse newer versions.
/// Version 1: see the crate documentation for the layout.
pub const FORMAT_VERSION: u32 = 1;
/// The first member of every archive.
pub const MANIFEST_PATH: &str = "manifest.json";
/// Readers refuse larger manifests (about a million entries) instead of allocating blindly.
pub const MAX_MANIFEST_BYTES: u64 = 512 * 1024 * 1024;

/// What the producer says about the backup as a whole; becomes the top of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestHeader {
    /// The producing tool, e.g. `sv-backup`.
    pub tool: String,
    pub tool_version: String,
    /// Passed in rather than read from the clock so output is reproducible in tests.
    pub created_at: DateTime<Utc>,
    /// The sv environment backed up (`production`, `staging` …).
    pub environment: String,
    /// Free-form facts about the source (account id, app name, git commit); never secrets.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub source: Map<String, Value>,
    /// Resources being backed up, listed even when they produce no entry (an empty KV
    /// namespace), so a restore can tell "empty" from "forgotten".
    #[serde(default)]
    pub resources: Vec<String>,
}

/// An entry as the producer describes it before its bytes are streamed (size and sha256
/// are measured by the writer).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// Relative archive path, e.g. `d1/main/dump.sql`; see [`crate::check_path`].
    pub path: String,
    /// Resource id, e.g. `d1.main`, `kv.sessions`, `r2.uploads`.
    pub resource: String,
    /// What the bytes are, e.g. `d1-sql-dump`, `kv-entries-jsonl`, `r2-object`.
    pub kind: String,
    /// Count of logical items inside (KV pairs, SQL rows), when the producer knows it.
    pub items: Option<u64>,
    /// Anything else a restore needs (R2 content-type and custom metadata …).
    pub extra: Map<String, Value>,
}

impl NewEntry {
    pub fn new(
        path: impl Into<String>,
        resource: impl Into<String>,
        kind: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            resource: resource.into(),
            kind: kind.into(),
            items: None,
            extra: Map::new(),
        }
    }

    pub fn with_items(mut self, items: u64) -> Self {
        self.items = Some(items);
        self
    }

    pub fn with_extra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }
}

/// One entry as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryMeta {
    pub path: String,
    pub resource: String,
    pub kind: String,
    pub size: u64,
    pub sha256: Sha256,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<u64>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// Counts for one resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSummary {
    pub entries: u64,
    /// Sum of entry sizes (uncompressed).
    pub bytes: u64,
    /// Sum of the entries' item counts; absent when no entry reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub entries: u64,
    pub bytes: u64,
}

/// The parsed, validated `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    pub format_version: u32,
    pub tool: String,
    pub tool_version: String,
    pub created_at: DateTime<Utc>,
    pub environment: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub source: Map<String, Value>,
    pub totals: Totals,
    pub resources: BTreeMap<String, ResourceSummary>,
    /// In archive order: the tar members after `manifest.json` are exactly these.
    pub entries: Vec<EntryMeta>,
}

/// Only the two fields every version keeps, read first so that a newer manifest is refused
/// with a clear message instead of a field error.
#[derive(Deserialize)]
struct Probe {
    format: Option<Value>,
    format_version: Option<Value>,
}

impl Manifest {
    pub(crate) fn build(header: &ManifestHeader, entries: Vec<EntryMeta>) -> Self {
        let resources = summarize(&header.resources, &entries);
        let totals = Totals {
            entries: entries.len() as u64,
            bytes: entries.iter().map(|e| e.size).sum(),
        };
        Self {
            format: FORMAT_NAME.to_owned(),
            format_version: FORMAT_VERSION,
            tool: header.tool.clone(),
            tool_version: header.tool_version.clone(),
            created_at: header.created_at,
            environment: header.environment.clone(),
            source: header.source.clone(),
            totals,
            resources,
            entries,
        }
    }

    /// Pretty JSON with a final newline: people read it after `tar xz`.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut out = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Pipeline(format!("cannot serialize the manifest: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }

    /// Parses and validates a manifest read from `archive`.
    pub fn parse(bytes: &[u8], archive: &Path) -> Result<Self> {
        let not_ours = |reason: String| Error::NotSvBackup {
            archive: archive.to_owned(),
            reason,
        };
        let invalid = |reason: String| Error::ManifestInvalid {
            archive: archive.to_owned(),
            reason,
        };
        let probe: Probe = serde_json::from_slice(bytes)
            .map_err(|e| not_ours(format!("manifest.json is not a JSON object ({e})")))?;
        match probe.format.as_ref().and_then(Value::as_str) {
            Some(FORMAT_NAME) => {}
            Some(other) => return Err(not_ours(format!("manifest.json is for format {other:?}"))),
            None => return Err(not_ours("manifest.json has no \"format\" field".to_owned())),
        }
        let version = probe
            .format_version
            .as_ref()
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid("\"format_version\" is missing or not a number".to_owned()))?;
        if version > u64::from(FORMAT_VERSION) {
            return Err(Error::UnsupportedVersion {
                archive: archive.to_owned(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if version == 0 {
            return Err(invalid("format_version 0 does not exist".to_owned()));
        }
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        manifest.validate(archive)?;
        Ok(manifest)
    }

    /// Everything a reader relies on before trusting an entry list: safe unique paths,
    /// non-empty ids, and counts that add up (a hand-edited manifest shows here).
    fn validate(&self, archive: &Path) -> Result<()> {
        let invalid = |reason: String| Error::ManifestInvalid {
            archive: archive.to_owned(),
            reason,
        };
        let mut paths = PathSet::default();
        let mut bytes: u64 = 0;
        for entry in &self.entries {
            check_path(&entry.path).map_err(|reason| Error::UnsafePath {
                archive: archive.to_owned(),
                path: entry.path.clone(),
                reason,
            })?;
            match paths.check(&entry.path) {
                Ok(()) => paths.insert(&entry.path),
                Err(Conflict::Duplicate) => {
                    return Err(invalid(format!("entry {:?} is listed twice", entry.path)));
                }
                Err(Conflict::With(other)) => {
                    return Err(invalid(format!(
                        "entry {:?} conflicts with {other:?}",
                        entry.path
                    )));
                }
            }
            if entry.resource.is_empty() || entry.kind.is_empty() {
                return Err(invalid(format!(
                    "entry {:?} has an empty resource or kind",
                    entry.path
                )));
            }
            bytes = bytes
                .checked_add(entry.size)
                .ok_or_else(|| invalid("entry sizes overflow".to_owned()))?;
        }
        let totals = Totals {
            entries: self.entries.len() as u64,
            bytes,
        };
        if totals != self.totals {
            return Err(invalid(format!(
                "totals say {} entries / {} bytes, entries add up to {} / {}",
                self.totals.entries, self.totals.bytes, totals.entries, totals.bytes
            )));
        }
        let declared: Vec<String> = self.resources.keys().cloned().collect();
        let computed = summarize(&declared, &self.entries);
        if computed != self.resources {
            return Err(invalid(
                "per-resource counts do not match the entries".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Per-resource counts; `declared` resources appear even without entries.
pub(crate) fn summarize(
    declared: &[String],
    entries: &[EntryMeta],
) -> BTreeMap<String, ResourceSummary> {
    let mut out: BTreeMap<String, ResourceSummary> = declared
        .iter()
        .map(|r| (r.clone(), ResourceSummary::default()))
        .collect();
    for entry in entries {
        let summary = out.entry(entry.resource.clone()).or_default();
        summary.add(entry.size, entry.items);
    }
    out
}

impl ResourceSummary {
    pub(crate) fn add(&mut self, size: u64, items: Option<u64>) {
        self.entries += 1;
        self.bytes = self.bytes.saturating_add(size);
        if let Some(items) = items {
            self.items = Some(self.items.unwrap_or(0).saturating_add(items));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> ManifestHeader {
        ManifestHeader {
            tool: "sv-backup".into(),
            tool_version: "0.1.0".into(),
            created_at: "2026-11-25T12:00:00Z".parse().unwrap(),
            environment: "production".into(),
            source: Map::new(),
            resources: vec!["kv.empty".into(), "d1.main".into()],
        }
    }

    fn entry(path: &str, resource: &str, size: u64, items: Option<u64>) -> EntryMeta {
        EntryMeta {
            path: path.into(),
            resource: resource.into(),
            kind: "test".into(),
            size,
            sha256: Sha256::of(path.as_bytes()),
            items,
            extra: Map::new(),
        }
    }

    #[test]
    fn build_then_parse_round_trips() {
        let m = Manifest::build(
            &header(),
            vec![
                entry("d1/main/dump.sql", "d1.main", 10, Some(3)),
                entry("d1/main/schema.sql", "d1.main", 5, None),
                entry("kv/s/entries.jsonl", "kv.s", 7, Some(2)),
            ],
        );
        assert_eq!(
            m.totals,
            Totals {
                entries: 3,
                bytes: 22
            }
        );
        assert_eq!(m.resources["kv.empty"], ResourceSummary::default());
        assert_eq!(
            m.resources["d1.main"],
            ResourceSummary {
                entries: 2,
                bytes: 15,
                items: Some(3)
            }
        );
        let back = Manifest::parse(&m.to_json().unwrap(), Path::new("x")).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn refuses_newer_versions_before_reading_fields() {
        let json = br#"{"format":"sv-backup","format_version":2,"whatever":"new"}"#;
        let err = Manifest::parse(json, Path::new("x")).unwrap_err();
        assert!(
            matches!(
                err,
                Error::UnsupportedVersion {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade sv"), "{err}");
    }

    #[test]
    fn refuses_foreign_json_and_bad_counts() {
        let err = Manifest::parse(br#"{"name":"pkg"}"#, Path::new("x")).unwrap_err();
        assert!(matches!(err, Error::NotSvBackup { .. }), "{err}");

        let mut m = Manifest::build(&header(), vec![entry("a", "r", 1, None)]);
        m.totals.bytes = 2;
        let err = Manifest::parse(&m.to_json().unwrap(), Path::new("x")).unwrap_err();
        assert!(matches!(err, Error::ManifestInvalid { .. }), "{err}");
    }

    #[test]
    fn refuses_unsafe_paths_in_the_manifest() {
        let m = Manifest::build(&header(), vec![entry("../evil", "r", 1, None)]);
        let err = Manifest::parse(&m.to_json().unwrap(), Path::new("x")).unwrap_err();
        assert!(
            matches!(err, Error::UnsafePath { ref path, .. } if path == "../evil"),
            "{err}"
        );
    }
}
