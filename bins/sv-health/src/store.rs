//! Where the history lives: a file (appended to), a KV value or an R2 object (rewritten
//! whole, keeping [`sv_checks::history::RETENTION`]). `--history` takes a path,
//! `kv://NAMESPACE/KEY` or `r2://BUCKET/KEY`; a namespace or bucket that is a resource of
//! `sv.yaml` (`resources.kv.<name>` / `resources.r2.<name>`) means the environment's one
//! (with its prefix), anything else is the Cloudflare name itself (a KV namespace by title).

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use sv_checks::History;
use sv_config::{Environment, ResourceAddress, ResourceKind};

/// A `--history` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryLocation {
    File(PathBuf),
    Kv { namespace: String, key: String },
    R2 { bucket: String, key: String },
}

impl FromStr for HistoryLocation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let remote = |rest: &str, what: &str| -> Result<(String, String), String> {
            match rest.split_once('/') {
                Some((container, key)) if !container.is_empty() && !key.is_empty() => {
                    Ok((container.to_owned(), key.to_owned()))
                }
                _ => Err(format!(
                    "expected {what}://{}/KEY",
                    if what == "kv" { "NAMESPACE" } else { "BUCKET" }
                )),
            }
        };
        if let Some(rest) = s.strip_prefix("kv://") {
            let (namespace, key) = remote(rest, "kv")?;
            return Ok(Self::Kv { namespace, key });
        }
        if let Some(rest) = s.strip_prefix("r2://") {
            let (bucket, key) = remote(rest, "r2")?;
            return Ok(Self::R2 { bucket, key });
        }
        if s.contains("://") {
            return Err("expected a file path, kv://NAMESPACE/KEY or r2://BUCKET/KEY".to_owned());
        }
        if s.is_empty() {
            return Err("empty path".to_owned());
        }
        Ok(Self::File(PathBuf::from(s)))
    }
}

impl fmt::Display for HistoryLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Kv { namespace, key } => write!(f, "kv://{namespace}/{key}"),
            Self::R2 { bucket, key } => write!(f, "r2://{bucket}/{key}"),
        }
    }
}

impl HistoryLocation {
    /// Whether reading or writing needs the Cloudflare API.
    pub fn is_remote(&self) -> bool {
        !matches!(self, Self::File(_))
    }
}

/// An opened history store.
pub struct HistoryStore {
    location: HistoryLocation,
    remote: Option<Remote>,
}

enum Remote {
    Kv {
        client: sv_cloudflare::Client,
        namespace_id: String,
        key: String,
    },
    R2 {
        client: sv_cloudflare::Client,
        bucket: String,
        key: String,
    },
}

impl HistoryStore {
    /// Resolves `location` for `env`; remote stores need `cloudflare`. A KV namespace that
    /// does not exist is an input error (exit 2); a missing key or object is an empty history.
    pub async fn open(
        location: HistoryLocation,
        env: &Environment,
        cloudflare: Option<&sv_cloudflare::Client>,
    ) -> anyhow::Result<Self> {
        let remote = match &location {
            HistoryLocation::File(_) => None,
            HistoryLocation::Kv { namespace, key } => {
                let client = cloudflare
                    .context("a kv:// history needs Cloudflare credentials")?
                    .clone();
                let title = cloudflare_name(env, ResourceKind::Kv, namespace);
                let namespace_id = namespace_id(&client, &title).await?;
                Some(Remote::Kv {
                    client,
                    namespace_id,
                    key: key.clone(),
                })
            }
            HistoryLocation::R2 { bucket, key } => Some(Remote::R2 {
                client: cloudflare
                    .context("an r2:// history needs Cloudflare credentials")?
                    .clone(),
                bucket: cloudflare_name(env, ResourceKind::R2, bucket),
                key: key.clone(),
            }),
        };
        Ok(Self { location, remote })
    }

    pub fn location(&self) -> &HistoryLocation {
        &self.location
    }

    /// Reads the history; nothing stored yet is an empty history.
    pub async fn load(&self) -> anyhow::Result<History> {
        let bytes = match (&self.location, &self.remote) {
            (HistoryLocation::File(path), _) => match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::new()),
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            },
            (
                _,
                Some(Remote::Kv {
                    client,
                    namespace_id,
                    key,
                }),
            ) => match client.kv().get_value(namespace_id, key).await {
                Ok(v) => v.bytes.to_vec(),
                Err(e) if e.is_not_found() => return Ok(History::new()),
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.location)),
            },
            (
                _,
                Some(Remote::R2 {
                    client,
                    bucket,
                    key,
                }),
            ) => {
                let read = match client.r2().get_object(bucket, key, None).await {
                    Ok(download) => download.bytes().await,
                    Err(e) => Err(e),
                };
                match read {
                    Ok(bytes) => bytes.to_vec(),
                    Err(e) if e.is_not_found() => return Ok(History::new()),
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot read {}", self.location));
                    }
                }
            }
            (_, None) => return Ok(History::new()),
        };
        History::from_bytes(&bytes)
            .with_context(|| format!("cannot read history {}", self.location))
    }

    /// Stores this run: a file gets `appended` (one block, `O_APPEND`); a KV value or R2
    /// object is rewritten whole from `history` (which holds this run), after dropping runs
    /// older than the retention. Runs are serialised by the caller (the workflow's
    /// concurrency group): two writers at once would keep the last one's view.
    pub async fn save(
        &self,
        history: &mut History,
        appended: &[u8],
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        match (&self.location, &self.remote) {
            (HistoryLocation::File(path), _) => append(path, appended)
                .with_context(|| format!("cannot append to {}", path.display())),
            (_, Some(remote)) => {
                history.compact(now, sv_checks::history::RETENTION);
                let bytes = history.to_bytes();
                match remote {
                    Remote::Kv {
                        client,
                        namespace_id,
                        key,
                    } => client
                        .kv()
                        .put_value(namespace_id, key, bytes, &Default::default())
                        .await
                        .map(|_| ()),
                    Remote::R2 {
                        client,
                        bucket,
                        key,
                    } => client
                        .r2()
                        .put_object(
                            bucket,
                            key,
                            sv_cloudflare::r2::ObjectBody::Bytes(bytes.into()),
                            &Default::default(),
                        )
                        .await
                        .map(|_| ()),
                }
                .with_context(|| format!("cannot write {}", self.location))
            }
            (_, None) => Ok(()),
        }
    }
}

/// The environment's Cloudflare name of an sv.yaml resource, or `name` itself.
fn cloudflare_name(env: &Environment, kind: ResourceKind, name: &str) -> String {
    env.resource(&ResourceAddress::new(kind, name))
        .map_or_else(|| name.to_owned(), |r| r.name.clone())
}

async fn namespace_id(client: &sv_cloudflare::Client, title: &str) -> anyhow::Result<String> {
    let mut namespaces = std::pin::pin!(client.kv().list_namespaces());
    while let Some(ns) = namespaces.next().await {
        let ns = ns.context("cannot list KV namespaces")?;
        if ns.title == title {
            return Ok(ns.id);
        }
    }
    Err(sv_cli::InputError::new(anyhow::anyhow!(
        "KV namespace {title:?} (for the history) does not exist"
    ))
    .into())
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        let kv: HistoryLocation = "kv://sessions/health/production".parse().unwrap();
        assert_eq!(
            kv,
            HistoryLocation::Kv {
                namespace: "sessions".into(),
                key: "health/production".into()
            }
        );
        assert_eq!(kv.to_string(), "kv://sessions/health/production");
        let r2: HistoryLocation = "r2://ops/health.history".parse().unwrap();
        assert!(r2.is_remote());
        assert_eq!(r2.to_string(), "r2://ops/health.history");
        let file: HistoryLocation = ".sv/health/x.history".parse().unwrap();
        assert_eq!(file, HistoryLocation::File(".sv/health/x.history".into()));
        assert!(!file.is_remote());
        for bad in ["kv://", "kv://ns", "kv://ns/", "r2:///key", "s3://b/k", ""] {
            assert!(bad.parse::<HistoryLocation>().is_err(), "{bad}");
        }
    }
}
