//! Where state lives. Today: a local file per environment (`<dir>/<env>.json`) with a lock
//! file beside it (`<env>.lock`), written whole then hard-linked into place (which fails
//! when one exists, like `O_EXCL`), so two applies on one machine or one shared disk cannot
//! both hold it. Writes go to a temporary file renamed over the old
//! one, so a crash never leaves half a state.
//!
//! The R2 backend (`state.r2` in sv.yaml) is [`crate::r2_store::R2Store`].

use std::path::{Path, PathBuf};

use sv_planner::{LockInfo, State};

use crate::Error;

/// Where sv.yaml's `state:` keeps `environment`'s state, known without opening it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// A local file.
    File(PathBuf),
    /// An object in an R2 bucket, and the key of its lock object.
    R2 {
        bucket: String,
        key: String,
        lock_key: String,
    },
}

impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::File(path) => write!(f, "{}", path.display()),
            StateLocation::R2 { bucket, key, .. } => write!(f, "r2://{bucket}/{key}"),
        }
    }
}

/// Where `environment`'s state is (what [`configured`] opens).
#[must_use]
pub fn location(config: &sv_config::LoadedConfig, environment: &str) -> StateLocation {
    match &config.config.state {
        sv_config::StateBackend::Local(dir) => {
            StateLocation::File(config.resolve_path(dir).join(format!("{environment}.json")))
        }
        sv_config::StateBackend::R2(r2) => StateLocation::R2 {
            bucket: r2.bucket.clone(),
            key: crate::r2_store::object_key(&r2.prefix, environment, "json"),
            lock_key: crate::r2_store::object_key(&r2.prefix, environment, "lock"),
        },
    }
}

/// The store sv.yaml's `state:` names for `environment`: a directory relative to sv.yaml
/// (the default `.sv/state`), or an R2 bucket, which needs `client`. Every tool that reads
/// or writes an environment's state opens it here, so they all agree on where it is.
///
/// # Errors
/// State is in R2 and there is no client ([`Error::StateNeedsApi`]).
pub fn configured(
    config: &sv_config::LoadedConfig,
    environment: &str,
    client: Option<&sv_cloudflare::Client>,
) -> Result<Box<dyn StateStore>, Error> {
    Ok(match &config.config.state {
        sv_config::StateBackend::Local(dir) => {
            Box::new(LocalStore::new(&config.resolve_path(dir), environment))
        }
        sv_config::StateBackend::R2(r2) => {
            let client = client.ok_or_else(|| Error::StateNeedsApi {
                bucket: r2.bucket.clone(),
            })?;
            Box::new(crate::R2Store::new(
                client,
                &r2.bucket,
                &r2.prefix,
                environment,
            ))
        }
    })
}

/// A state backend for one environment.
pub trait StateStore: Send + Sync {
    /// The state, or `None` when nothing was ever applied.
    ///
    /// # Errors
    /// Unreadable or corrupt (checksum mismatch) state.
    fn load(&self) -> Result<Option<State>, Error>;
    /// Replaces the state.
    ///
    /// # Errors
    /// The write fails.
    fn save(&self, state: &State) -> Result<(), Error>;
    /// Takes the lock, or says who holds it ([`Error::Locked`]).
    ///
    /// # Errors
    /// Held by someone else, or the write fails.
    fn lock(&self, info: &LockInfo) -> Result<(), Error>;
    /// The current lock holder.
    ///
    /// # Errors
    /// The lock file is unreadable.
    fn lock_info(&self) -> Result<Option<LockInfo>, Error>;
    /// Releases the lock with this id (also used by `state unlock ID` to break a stale one).
    ///
    /// # Errors
    /// No lock with that id ([`Error::NoSuchLock`]).
    fn unlock(&self, id: &str) -> Result<(), Error>;
    /// Where it is, for messages.
    fn describe(&self) -> String;
}

/// State in a local directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    state: PathBuf,
    lock: PathBuf,
}

impl LocalStore {
    /// The store of `environment` in `dir`.
    #[must_use]
    pub fn new(dir: &Path, environment: &str) -> Self {
        Self {
            state: dir.join(format!("{environment}.json")),
            lock: dir.join(format!("{environment}.lock")),
        }
    }

    /// The state file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.state
    }

    fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_owned();
        move |source| Error::Io { what, path, source }
    }

    fn ensure_dir(&self) -> Result<(), Error> {
        if let Some(dir) = self.state.parent() {
            std::fs::create_dir_all(dir).map_err(Self::io("create state directory", dir))?;
        }
        Ok(())
    }
}

impl StateStore for LocalStore {
    fn load(&self) -> Result<Option<State>, Error> {
        let text = match std::fs::read_to_string(&self.state) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::io("read state", &self.state)(e)),
        };
        State::from_json(&text)
            .map(Some)
            .map_err(|source| Error::State {
                path: self.state.clone(),
                source,
            })
    }

    fn save(&self, state: &State) -> Result<(), Error> {
        self.ensure_dir()?;
        let tmp = self
            .state
            .with_extension(format!("json.tmp-{}", std::process::id()));
        std::fs::write(&tmp, state.to_json()).map_err(Self::io("write state", &tmp))?;
        std::fs::rename(&tmp, &self.state).map_err(Self::io("replace state", &self.state))
    }

    fn lock(&self, info: &LockInfo) -> Result<(), Error> {
        self.ensure_dir()?;
        let text = serde_json::to_string_pretty(info).unwrap_or_default();
        // The lock appears whole or not at all: written beside it first, then hard-linked
        // into place (which, like O_EXCL, fails when a lock exists). A run killed between
        // creating and writing the lock would otherwise leave an empty lock nobody could
        // name to `state unlock`.
        let staged = self.lock.with_extension(format!("lock.{}", info.id));
        std::fs::write(&staged, text.as_bytes()).map_err(Self::io("write lock", &staged))?;
        let linked = std::fs::hard_link(&staged, &self.lock);
        let _ = std::fs::remove_file(&staged);
        match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match self.lock_info()? {
                    Some(held) => Err(Error::Locked(Box::new(held))),
                    // Released between our attempt and the read: try once more.
                    None => self.lock(info),
                }
            }
            Err(e) => Err(Self::io("create lock", &self.lock)(e)),
        }
    }

    fn lock_info(&self) -> Result<Option<LockInfo>, Error> {
        match std::fs::read_to_string(&self.lock) {
            Ok(t) => Ok(serde_json::from_str(&t).ok().or_else(|| {
                // An unreadable lock (crash mid-write) is still a lock.
                Some(LockInfo {
                    id: "unreadable".into(),
                    owner: "unknown".into(),
                    operation: "unknown".into(),
                    reason: Some(format!("lock file {} is damaged", self.lock.display())),
                    created_at: chrono::Utc::now(),
                    run_url: None,
                })
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io("read lock", &self.lock)(e)),
        }
    }

    fn unlock(&self, id: &str) -> Result<(), Error> {
        match self.lock_info()? {
            Some(held) if held.id == id => {
                std::fs::remove_file(&self.lock).map_err(Self::io("remove lock", &self.lock))
            }
            held => Err(Error::NoSuchLock {
                given: id.to_owned(),
                held: held.map(Box::new),
            }),
        }
    }

    fn describe(&self) -> String {
        self.state.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> LockInfo {
        LockInfo {
            id: id.into(),
            owner: "alice".into(),
            operation: "apply".into(),
            reason: None,
            created_at: chrono::Utc::now(),
            run_url: None,
        }
    }

    #[test]
    fn lock_is_exclusive_and_unlock_needs_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "staging");
        store.lock(&info("one")).unwrap();
        match store.lock(&info("two")) {
            Err(Error::Locked(held)) => assert_eq!(held.id, "one"),
            other => panic!("expected Locked, got {other:?}"),
        }
        assert!(matches!(store.unlock("two"), Err(Error::NoSuchLock { .. })));
        store.unlock("one").unwrap();
        store.lock(&info("two")).unwrap();
    }

    #[test]
    fn state_round_trips_and_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(&dir.path().join("nested"), "staging");
        assert!(store.load().unwrap().is_none());
        let mut s = State::new("staging", "lineage");
        s.serial = 4;
        store.save(&s).unwrap();
        assert_eq!(store.load().unwrap().unwrap(), s);
        std::fs::write(
            store.path(),
            s.to_json().replace("\"serial\": 4", "\"serial\": 5"),
        )
        .unwrap();
        assert!(matches!(store.load(), Err(Error::State { .. })));
    }
}
