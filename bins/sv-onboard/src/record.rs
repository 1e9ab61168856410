//! The seed's `DevelopmentEnvironment`: one JSON file per developer, `.sv/dev/<name>.json`
//! beside sv.yaml. It says how far setup got (`initializing`, `ready`, `error`), which
//! resources are the developer's (with their ids), which seeds were applied, and a digest
//! of every env-file value sv wrote (for the three-way merge; never the values).
//! `gc` reads these records to tell whose resources are still wanted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `status` of the seed's model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DevStatus {
    Initializing,
    Ready,
    Error,
}

impl DevStatus {
    pub fn label(self) -> &'static str {
        match self {
            DevStatus::Initializing => "initializing",
            DevStatus::Ready => "ready",
            DevStatus::Error => "error",
        }
    }
}

/// One of the developer's Cloudflare resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevResource {
    /// sv.yaml address (`kv.sessions`).
    pub address: String,
    /// Cloudflare name (`dev-alice-sessions`).
    pub name: String,
    /// Cloudflare id.
    pub id: String,
}

/// A service the developer runs locally (`sv-onboard dev`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevService {
    pub workspace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_command: Option<String>,
}

/// A developer's environment record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevelopmentEnvironment {
    pub developer_id: String,
    /// `dev-<name>`.
    pub environment: String,
    pub prefix: String,
    pub status: DevStatus,
    pub resources: Vec<DevResource>,
    pub services: Vec<DevService>,
    /// Seeds applied (`d1.main`).
    #[serde(default)]
    pub seeded: BTreeSet<String>,
    /// Per file (relative to sv.yaml), the sha256 of each value sv wrote there.
    #[serde(default)]
    pub written: BTreeMap<String, BTreeMap<String, String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Why the last setup failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DevelopmentEnvironment {
    pub fn new(developer: &str, environment: &str, prefix: &str, now: DateTime<Utc>) -> Self {
        Self {
            developer_id: developer.to_owned(),
            environment: environment.to_owned(),
            prefix: prefix.to_owned(),
            status: DevStatus::Initializing,
            resources: Vec::new(),
            services: Vec::new(),
            seeded: BTreeSet::new(),
            written: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            error: None,
        }
    }
}

/// `.sv/dev` under the app root.
pub fn dir(root: &Path) -> PathBuf {
    root.join(".sv").join("dev")
}

/// The record file of `developer`.
pub fn path(root: &Path, developer: &str) -> PathBuf {
    dir(root).join(format!("{developer}.json"))
}

/// Reads a developer's record, `None` when there is none.
///
/// # Errors
/// Unreadable or not a record.
pub fn load(root: &Path, developer: &str) -> anyhow::Result<Option<DevelopmentEnvironment>> {
    let p = path(root, developer);
    match std::fs::read_to_string(&p) {
        Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
            anyhow::Error::new(e).context(format!("{} is not a developer record", p.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", p.display()))),
    }
}

/// Every record in `.sv/dev`, by developer (unreadable files are skipped: a record is a
/// convenience, never the only evidence of ownership — state is).
pub fn all(root: &Path) -> BTreeMap<String, DevelopmentEnvironment> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir(root)) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(dev) = name.strip_suffix(".json") else {
            continue;
        };
        if let Ok(Some(r)) = load(root, dev) {
            out.insert(dev.to_owned(), r);
        }
    }
    out
}

/// Serialised form written to disk.
pub fn to_bytes(record: &DevelopmentEnvironment) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(record).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}
