//! The seed's `OnboardingStep` model: each step has an id, a name, a description, whether
//! it is required, and three parts — a validator (may this step run, is it needed?), an
//! executor, and a rollback. Here the rollback is data: every executor records what it made
//! in a [`Journal`] (files it created or changed, resources it created), and a failed run
//! undoes the journal in reverse. So a rollback can only ever touch what *this run* made.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sv_planner::Address;

/// What a step is (the seed's `OnboardingStep` without its closures).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StepInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It changed something.
    Done,
    /// Nothing to do: already as wanted.
    Unchanged,
    /// Not run (`--no-seed`, nothing configured, dry run).
    Skipped,
    /// It failed; the run was rolled back.
    Failed,
    /// It had succeeded, then a later step failed and its work was undone.
    RolledBack,
    /// A dry run: this is what it would do.
    WouldRun,
}

impl StepStatus {
    pub fn symbol(self) -> &'static str {
        match self {
            StepStatus::Done => "✓",
            StepStatus::Unchanged => "=",
            StepStatus::Skipped => "-",
            StepStatus::Failed => "✗",
            StepStatus::RolledBack => "↺",
            StepStatus::WouldRun => "~",
        }
    }
}

/// One step's result, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub id: &'static str,
    pub name: &'static str,
    pub required: bool,
    pub status: StepStatus,
    /// What it did or found, one line each.
    pub details: Vec<String>,
}

impl StepReport {
    pub fn new(info: StepInfo, status: StepStatus, details: Vec<String>) -> Self {
        Self {
            id: info.id,
            name: info.name,
            required: info.required,
            status,
            details,
        }
    }
}

/// One thing a run made, and how to take it back.
#[derive(Debug, Clone)]
pub enum Undo {
    /// A file this run created: remove it.
    RemoveFile(PathBuf),
    /// A file this run changed: put the old bytes back.
    RestoreFile { path: PathBuf, previous: Vec<u8> },
    /// Resources this run created (planner addresses in the developer's environment):
    /// destroy exactly these.
    Resources(Vec<Address>),
}

/// Everything a run made, in order.
#[derive(Debug, Default)]
pub struct Journal {
    entries: Vec<(&'static str, Undo)>,
}

impl Journal {
    pub fn push(&mut self, step: &'static str, undo: Undo) {
        self.entries.push((step, undo));
    }

    /// Writes `bytes` to `path`, recording how to undo it. A file whose content is already
    /// `bytes` is not touched (and nothing is recorded).
    ///
    /// # Errors
    /// The directory or file cannot be written.
    pub fn write_file(
        &mut self,
        step: &'static str,
        path: &Path,
        bytes: &[u8],
    ) -> anyhow::Result<bool> {
        let previous = match std::fs::read(path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
                );
            }
        };
        if previous.as_deref() == Some(bytes) {
            return Ok(false);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::Error::new(e).context(format!("cannot create {}", dir.display()))
            })?;
        }
        write_atomic(path, bytes)?;
        self.push(
            step,
            match previous {
                Some(previous) => Undo::RestoreFile {
                    path: path.to_owned(),
                    previous,
                },
                None => Undo::RemoveFile(path.to_owned()),
            },
        );
        Ok(true)
    }

    /// The entries, newest first (the order to undo them in).
    pub fn drain_reverse(&mut self) -> Vec<(&'static str, Undo)> {
        let mut out = std::mem::take(&mut self.entries);
        out.reverse();
        out
    }

    /// The steps that made something.
    pub fn steps(&self) -> Vec<&'static str> {
        let mut s: Vec<&'static str> = self.entries.iter().map(|(s, _)| *s).collect();
        s.dedup();
        s
    }
}

/// Writes through a temporary file renamed into place, so a crash never leaves half a file.
///
/// # Errors
/// The write or rename fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.sv-tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)
        .map_err(|e| anyhow::Error::new(e).context(format!("cannot write {}", tmp.display())))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow::Error::new(e).context(format!("cannot replace {}", path.display())))
}

/// Undoes file entries (resource entries are the caller's: they need the API).
///
/// # Errors
/// A file cannot be restored or removed.
pub fn undo_file(undo: &Undo) -> anyhow::Result<Option<String>> {
    match undo {
        Undo::RemoveFile(path) => match std::fs::remove_file(path) {
            Ok(()) => Ok(Some(format!("removed {}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("cannot remove {}", path.display())))
            }
        },
        Undo::RestoreFile { path, previous } => {
            write_atomic(path, previous)?;
            Ok(Some(format!("restored {}", path.display())))
        }
        Undo::Resources(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_undoes_only_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("kept");
        let changed = dir.path().join("changed");
        let created = dir.path().join("sub/created");
        std::fs::write(&kept, "same").unwrap();
        std::fs::write(&changed, "before").unwrap();
        let mut j = Journal::default();
        assert!(!j.write_file("s", &kept, b"same").unwrap());
        assert!(j.write_file("s", &changed, b"after").unwrap());
        assert!(j.write_file("t", &created, b"new").unwrap());
        assert_eq!(j.steps(), ["s", "t"]);
        for (_, u) in j.drain_reverse() {
            undo_file(&u).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&kept).unwrap(), "same");
        assert_eq!(std::fs::read_to_string(&changed).unwrap(), "before");
        assert!(!created.exists());
    }
}
