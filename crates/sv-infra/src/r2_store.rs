//! State in an R2 bucket (`state: { r2: { bucket, prefix } }` in sv.yaml), for teams and CI
//! where no disk is shared between runs.
//!
//! The state is the object `<prefix>/<environment>.json` (same JSON and checksum as the
//! local file, verified on every read); the lock is `<prefix>/<environment>.lock`, created
//! with a conditional write (`If-None-Match: *`), so of two runs racing for it exactly one
//! wins and the other is told who holds it. State writes are conditional too: each replaces
//! only the object this store last read or wrote (`If-Match: ETAG`), so a writer that did
//! not hold the lock cannot silently overwrite a newer state. See
//! [`sv_cloudflare::r2_conditional`] for which R2 surface these headers come from.
//!
//! [`StateStore`] is synchronous (the local backend is plain file I/O); this backend runs
//! its requests with [`tokio::task::block_in_place`], so it needs the multi-threaded runtime
//! every sv binary runs on (`sv_cli::main`), and says so instead of panicking elsewhere.

use std::path::PathBuf;
use std::sync::Mutex;

use bytes::Bytes;
use sv_cloudflare::Client;
use sv_cloudflare::r2_conditional::{WriteCondition, is_precondition_failed};
use sv_planner::{LockInfo, State};

use crate::{Error, StateStore};

/// What this store knows of the state object since it last touched it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// Not read yet: the next save is unconditional.
    Unknown,
    /// Read and not there: the next save creates it (`If-None-Match: *`).
    Absent,
    /// Read or written with this etag: the next save replaces exactly that (`If-Match`).
    Etag(String),
}

/// State of one environment in an R2 bucket.
pub struct R2Store {
    client: Client,
    bucket: String,
    state_key: String,
    lock_key: String,
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for R2Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("R2Store")
            .field("bucket", &self.bucket)
            .field("state_key", &self.state_key)
            .finish_non_exhaustive()
    }
}

/// The key of `environment`'s state (`ext` `json`) or lock (`lock`) object under `prefix`.
#[must_use]
pub fn object_key(prefix: &str, environment: &str, ext: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{environment}.{ext}")
    } else {
        format!("{prefix}/{environment}.{ext}")
    }
}

impl R2Store {
    /// The store of `environment` in `bucket` under `prefix` (`""` for the bucket's root;
    /// a trailing `/` is optional).
    #[must_use]
    pub fn new(client: &Client, bucket: &str, prefix: &str, environment: &str) -> Self {
        let key = |ext: &str| object_key(prefix, environment, ext);
        Self {
            client: client.clone(),
            bucket: bucket.to_owned(),
            state_key: key("json"),
            lock_key: key("lock"),
            seen: Mutex::new(Seen::Unknown),
        }
    }

    /// The state object's key.
    #[must_use]
    pub fn state_key(&self) -> &str {
        &self.state_key
    }

    /// The lock object's key.
    #[must_use]
    pub fn lock_key(&self) -> &str {
        &self.lock_key
    }

    fn url(&self, key: &str) -> String {
        format!("r2://{}/{key}", self.bucket)
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn backend(&self, what: &str, key: &str) -> impl FnOnce(sv_cloudflare::Error) -> Error {
        Error::cf(format!("cannot {what} {}", self.url(key)))
    }

    /// The object's text and etag, or `None` when it does not exist.
    async fn get(&self, key: &str) -> Result<Option<(String, String)>, sv_cloudflare::Error> {
        let download = match self.client.r2().get_object(&self.bucket, key, None).await {
            Ok(d) => d,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let etag = download
            .headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim_matches('"')
            .to_owned();
        let body = download.bytes().await?;
        Ok(Some((String::from_utf8_lossy(&body).into_owned(), etag)))
    }

    async fn put(
        &self,
        key: &str,
        text: String,
        condition: &WriteCondition,
    ) -> Result<String, sv_cloudflare::Error> {
        let put = self
            .client
            .r2()
            .put_object_if(
                &self.bucket,
                key,
                Bytes::from(text),
                "application/json",
                condition,
            )
            .await?;
        Ok(put.etag.unwrap_or_default().trim_matches('"').to_owned())
    }

    async fn save_async(&self, state: &State) -> Result<(), Error> {
        let text = state.to_json();
        let condition = match &*self.seen() {
            Seen::Unknown => WriteCondition::Always,
            Seen::Absent => WriteCondition::Absent,
            Seen::Etag(e) => WriteCondition::Matches(e.clone()),
        };
        match self.put(&self.state_key, text.clone(), &condition).await {
            Ok(etag) => {
                *self.seen() = Seen::Etag(etag);
                Ok(())
            }
            Err(e) if is_precondition_failed(&e) => {
                // A retried PUT whose first attempt landed sees its own write: that is success.
                let now = self
                    .get(&self.state_key)
                    .await
                    .map_err(self.backend("read state", &self.state_key))?;
                match now {
                    Some((current, etag)) if current == text => {
                        *self.seen() = Seen::Etag(etag);
                        Ok(())
                    }
                    _ => Err(Error::StateChanged {
                        location: self.url(&self.state_key),
                    }),
                }
            }
            Err(e) => Err(self.backend("write state", &self.state_key)(e)),
        }
    }

    async fn lock_async(&self, info: &LockInfo) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(info).unwrap_or_default();
        match self
            .put(&self.lock_key, text, &WriteCondition::Absent)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_precondition_failed(&e) => match self.lock_info_async().await? {
                // A retried PUT whose first attempt took the lock.
                Some(held) if held.id == info.id => Ok(()),
                Some(held) => Err(Error::Locked(Box::new(held))),
                // Released between our attempt and the read: try once more.
                None => match self
                    .put(
                        &self.lock_key,
                        serde_json::to_string_pretty(info).unwrap_or_default(),
                        &WriteCondition::Absent,
                    )
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(e) if is_precondition_failed(&e) => match self.lock_info_async().await? {
                        Some(held) if held.id != info.id => Err(Error::Locked(Box::new(held))),
                        _ => Ok(()),
                    },
                    Err(e) => Err(self.backend("write lock", &self.lock_key)(e)),
                },
            },
            Err(e) => Err(self.backend("write lock", &self.lock_key)(e)),
        }
    }

    async fn lock_object(&self) -> Result<Option<(LockInfo, String)>, Error> {
        let got = self
            .get(&self.lock_key)
            .await
            .map_err(self.backend("read lock", &self.lock_key))?;
        Ok(got.map(|(text, etag)| {
            let info = serde_json::from_str(&text).unwrap_or_else(|_| LockInfo {
                // An unreadable lock is still a lock; its id is what `unlock` takes.
                id: "unreadable".into(),
                owner: "unknown".into(),
                operation: "unknown".into(),
                reason: Some(format!(
                    "lock object {} is damaged",
                    self.url(&self.lock_key)
                )),
                created_at: chrono::Utc::now(),
                run_url: None,
            });
            (info, etag)
        }))
    }

    async fn lock_info_async(&self) -> Result<Option<LockInfo>, Error> {
        Ok(self.lock_object().await?.map(|(info, _)| info))
    }

    async fn unlock_async(&self, id: &str) -> Result<(), Error> {
        match self.lock_object().await? {
            Some((held, etag)) if held.id == id => {
                let deleted = self
                    .client
                    .r2()
                    .delete_object_if(&self.bucket, &self.lock_key, &etag)
                    .await;
                match deleted {
                    Ok(()) => Ok(()),
                    // Gone already (a retried delete): released either way.
                    Err(e) if e.is_not_found() => Ok(()),
                    Err(e) if is_precondition_failed(&e) => {
                        // Replaced under us: it is someone else's lock now.
                        Err(Error::NoSuchLock {
                            given: id.to_owned(),
                            held: self.lock_info_async().await?.map(Box::new),
                        })
                    }
                    Err(e) => Err(self.backend("remove lock", &self.lock_key)(e)),
                }
            }
            held => Err(Error::NoSuchLock {
                given: id.to_owned(),
                held: held.map(|(h, _)| Box::new(h)),
            }),
        }
    }

    async fn load_async(&self) -> Result<Option<State>, Error> {
        let got = self
            .get(&self.state_key)
            .await
            .map_err(self.backend("read state", &self.state_key))?;
        let Some((text, etag)) = got else {
            *self.seen() = Seen::Absent;
            return Ok(None);
        };
        let state = State::from_json(&text).map_err(|source| Error::State {
            path: PathBuf::from(self.url(&self.state_key)),
            source,
        })?;
        *self.seen() = Seen::Etag(etag);
        Ok(Some(state))
    }
}

/// Runs `fut` to completion from synchronous code inside the multi-threaded runtime.
fn block_on<F: std::future::Future<Output = Result<T, Error>>, T>(fut: F) -> Result<T, Error> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| Error::Runtime)?;
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return Err(Error::Runtime);
    }
    tokio::task::block_in_place(|| handle.block_on(fut))
}

impl StateStore for R2Store {
    fn load(&self) -> Result<Option<State>, Error> {
        block_on(self.load_async())
    }

    fn save(&self, state: &State) -> Result<(), Error> {
        block_on(self.save_async(state))
    }

    fn lock(&self, info: &LockInfo) -> Result<(), Error> {
        block_on(self.lock_async(info))
    }

    fn lock_info(&self) -> Result<Option<LockInfo>, Error> {
        block_on(self.lock_info_async())
    }

    fn unlock(&self, id: &str) -> Result<(), Error> {
        block_on(self.unlock_async(id))
    }

    fn describe(&self) -> String {
        self.url(&self.state_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::builder(
            "http://127.0.0.1:9/client/v4".parse().unwrap(),
            "t".to_owned().into(),
        )
        .account_id("a")
        .build()
        .unwrap()
    }

    #[test]
    fn keys_sit_under_the_prefix() {
        let s = R2Store::new(&client(), "team-state", "sv/", "production");
        assert_eq!(s.state_key(), "sv/production.json");
        assert_eq!(s.lock_key(), "sv/production.lock");
        assert_eq!(s.describe(), "r2://team-state/sv/production.json");
        let root = R2Store::new(&client(), "team-state", "", "staging");
        assert_eq!(root.state_key(), "staging.json");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_single_threaded_runtime_is_refused_with_a_message() {
        let s = R2Store::new(&client(), "b", "", "e");
        let err = s.load().unwrap_err();
        assert!(matches!(err, Error::Runtime), "{err}");
    }
}
