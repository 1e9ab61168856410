//! Accountability for every change sv makes (the seed's security section):
//!
//! - [`AuditLog`]: one JSON line per mutating operation (time, actor, tool, environment,
//!   operation, target, result, run URL), appended beside the state and uploaded with each
//!   run's artifacts. Records hold names and outcomes only, never secret values.
//! - [`authorize`]: who may run critical operations (apply, destroy, production deploy,
//!   restore) in an environment, from the `allowed_actors` list in `sv.yaml`.
//! - [`DeadLetterQueue`]: notification deliveries that still failed after retries, kept in
//!   a file so that the next run retries them instead of losing them.
//!
//! The crate is synchronous and small on purpose: each append is a single `write` of one
//! line on a file opened with `O_APPEND`, so concurrent writers never interleave lines.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot write audit trail {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}:{line}: not a valid record")]
    Corrupt {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Denied(#[from] Denied),
}

/// Who is acting: `GITHUB_ACTOR` in Actions, the local user otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor(pub String);

impl Actor {
    /// Resolves the actor from the environment (through `lookup`, so tests need no
    /// process-global state): `GITHUB_ACTOR`, then `USER`, then `USERNAME`.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        ["GITHUB_ACTOR", "USER", "USERNAME"]
            .iter()
            .find_map(|k| lookup(k).filter(|v| !v.trim().is_empty()))
            .map_or_else(|| Actor("unknown".to_owned()), Actor)
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How an audited operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    Denied,
    DryRun,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub time: DateTime<Utc>,
    pub actor: String,
    pub tool: String,
    pub environment: Option<String>,
    pub operation: String,
    pub target: String,
    pub result: Outcome,
    /// A short human reason for failures and denials; never a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
}

/// The append-only audit trail file (JSON Lines).
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The default location, beside the local state: `<app root>/.sv/audit.jsonl`.
    pub fn default_path(app_root: &Path) -> PathBuf {
        app_root.join(".sv").join("audit.jsonl")
    }

    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line.
    pub fn append(&self, record: &AuditRecord) -> Result<(), Error> {
        append_json_line(&self.path, record).map_err(|source| Error::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Reads every record (for `history`-style reports and tests).
    pub fn read_all(&self) -> Result<Vec<AuditRecord>, Error> {
        read_json_lines(&self.path)
    }
}

/// The operations that `allowed_actors` guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticalOperation {
    Apply,
    Destroy,
    Deploy,
    Restore,
}

impl std::fmt::Display for CriticalOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Apply => "apply",
            Self::Destroy => "destroy",
            Self::Deploy => "deploy",
            Self::Restore => "restore",
        })
    }
}

/// A refusal, worded for the person who was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{actor} may not {operation} in environment `{environment}`: only {allowed} may \
     (environments.{environment}.allowed_actors in sv.yaml)"
)]
pub struct Denied {
    pub actor: String,
    pub operation: CriticalOperation,
    pub environment: String,
    pub allowed: String,
}

/// Checks `actor` against the environment's `allowed_actors`. `None` means the environment
/// sets no restriction. Matching is case-insensitive, as GitHub logins are.
pub fn authorize(
    actor: &Actor,
    operation: CriticalOperation,
    environment: &str,
    allowed_actors: Option<&[String]>,
) -> Result<(), Denied> {
    let Some(allowed) = allowed_actors else {
        return Ok(());
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&actor.0)) {
        return Ok(());
    }
    Err(Denied {
        actor: actor.0.clone(),
        operation,
        environment: environment.to_owned(),
        allowed: if allowed.is_empty() {
            "no one".to_owned()
        } else {
            allowed.join(", ")
        },
    })
}

/// Undelivered messages, one JSON line each, retried by the next run.
#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    path: PathBuf,
}

impl DeadLetterQueue {
    pub fn default_path(app_root: &Path) -> PathBuf {
        app_root.join(".sv").join("dead-letter.jsonl")
    }

    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn push<T: Serialize>(&self, item: &T) -> Result<(), Error> {
        append_json_line(&self.path, item).map_err(|source| Error::Write {
            path: self.path.clone(),
            source,
        })
    }

    /// Takes every queued item out, leaving the file empty. The caller pushes back what
    /// fails again. The file is renamed first, so items pushed concurrently are not lost.
    pub fn take_all<T: DeserializeOwned>(&self) -> Result<Vec<T>, Error> {
        if !self.path.exists() {
            return Ok(Vec::new());
        }
        let taken = self.path.with_extension("jsonl.taking");
        fs::rename(&self.path, &taken).map_err(|source| Error::Read {
            path: self.path.clone(),
            source,
        })?;
        let items = read_json_lines(&taken)?;
        fs::remove_file(&taken).map_err(|source| Error::Write {
            path: taken.clone(),
            source,
        })?;
        Ok(items)
    }
}

fn append_json_line<T: Serialize>(path: &Path, item: &T) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(item).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(&line)
}

fn read_json_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, Error> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line).map_err(|source| Error::Corrupt {
                path: path.to_owned(),
                line: i + 1,
                source,
            })?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(op: &str) -> AuditRecord {
        AuditRecord {
            time: DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            actor: "alice".into(),
            tool: "sv-plan".into(),
            environment: Some("production".into()),
            operation: op.into(),
            target: "kv.sessions".into(),
            result: Outcome::Succeeded,
            detail: None,
            run_url: Some("https://github.com/o/r/actions/runs/1".into()),
        }
    }

    #[test]
    fn audit_lines_round_trip_and_append() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(AuditLog::default_path(dir.path()));
        log.append(&record("create")).unwrap();
        log.append(&record("delete")).unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.starts_with(r#"{"time":"2026-11-25T10:00:00Z","actor":"alice""#));
        let all = log.read_all().unwrap();
        assert_eq!(all, vec![record("create"), record("delete")]);
    }

    #[test]
    fn corrupt_line_is_reported_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("a.jsonl"));
        log.append(&record("create")).unwrap();
        std::fs::write(
            log.path(),
            std::fs::read_to_string(log.path()).unwrap() + "{oops\n",
        )
        .unwrap();
        let err = log.read_all().unwrap_err().to_string();
        assert!(err.ends_with("a.jsonl:2: not a valid record"), "{err}");
    }

    #[test]
    fn authorize_follows_allowed_actors() {
        let alice = Actor("Alice".into());
        let list = vec!["alice".to_owned(), "release-bot".to_owned()];
        assert!(authorize(&alice, CriticalOperation::Apply, "production", None).is_ok());
        assert!(authorize(&alice, CriticalOperation::Apply, "production", Some(&list)).is_ok());
        let mallory = Actor("mallory".into());
        let denied = authorize(
            &mallory,
            CriticalOperation::Restore,
            "production",
            Some(&list),
        )
        .unwrap_err();
        assert_eq!(
            denied.to_string(),
            "mallory may not restore in environment `production`: only alice, release-bot may \
             (environments.production.allowed_actors in sv.yaml)"
        );
        let nobody = authorize(&alice, CriticalOperation::Destroy, "prod", Some(&[])).unwrap_err();
        assert!(nobody.to_string().contains("only no one may"));
    }

    #[test]
    fn actor_prefers_github_then_local_user() {
        let a = Actor::from_env(|k| match k {
            "GITHUB_ACTOR" => Some("octocat".into()),
            "USER" => Some("root".into()),
            _ => None,
        });
        assert_eq!(a.0, "octocat");
        let b = Actor::from_env(|k| (k == "USER").then(|| "dev".into()));
        assert_eq!(b.0, "dev");
        assert_eq!(Actor::from_env(|_| None).0, "unknown");
    }

    #[test]
    fn dead_letters_are_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let q = DeadLetterQueue::new(DeadLetterQueue::default_path(dir.path()));
        assert!(q.take_all::<serde_json::Value>().unwrap().is_empty());
        q.push(&serde_json::json!({"channel": "slack", "n": 1}))
            .unwrap();
        q.push(&serde_json::json!({"channel": "discord", "n": 2}))
            .unwrap();
        let items: Vec<serde_json::Value> = q.take_all().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1]["channel"], "discord");
        assert!(q.take_all::<serde_json::Value>().unwrap().is_empty());
    }
}
