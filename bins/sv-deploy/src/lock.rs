//! One deploy (or rollback) per environment at a time, across machines: a lock record in
//! the environment's first KV namespace (sv.yaml names in alphabetical order; SpaceVision:
//! `cache`), key [`KEY`], holding who took it, when, for which release and run, an owner
//! token and an expiry.
//!
//! KV has no conditional write, so taking the lock is write-then-verify (Fischer's
//! algorithm): read; if free (absent or expired), write our record, wait [`SETTLE`], read
//! again; we hold it only if our token is still there — a concurrent taker's write landing
//! within the settle time overwrites ours and we go back to waiting. KV is eventually
//! consistent between Cloudflare locations (up to 60 s), so two runners in different
//! locations starting within that delay could both believe they hold it: the shipped
//! workflow's `concurrency:` group stays the first guard.
//!
//! A stale lock (its run crashed) expires: the record carries `expires_at` and KV drops it
//! after its TTL; a holder renews it while it works. An environment without a KV namespace
//! falls back to a lock file on this machine (sv-infra's [`sv_infra::LocalStore`] lock).

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use sv_cloudflare::kv::KvPutOptions;
use sv_config::{Environment, ResourceKind};
use sv_infra::StateStore as _;

/// The key of the lock record.
pub const KEY: &str = "sv-deploy-lock";

/// How long a write-then-verify waits before reading back.
pub const SETTLE: Duration = Duration::from_millis(1500);

/// How often a waiting deploy looks again.
const POLL: Duration = Duration::from_secs(2);

/// The lock record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Owner token (random per run): only its owner releases or renews the lock.
    pub token: String,
    /// Who (GitHub actor or local user).
    pub actor: String,
    /// Which machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `deploy` or `rollback`.
    pub operation: String,
    /// The release id.
    pub release: String,
    /// The GitHub Actions run, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    pub since: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of release {} by {}",
            self.operation, self.release, self.actor
        )?;
        if let Some(h) = &self.host {
            write!(f, " on {h}")?;
        }
        write!(
            f,
            " since {} (expires {})",
            self.since.format("%Y-%m-%d %H:%M:%S UTC"),
            self.expires_at.format("%H:%M:%S UTC")
        )?;
        if let Some(u) = &self.run_url {
            write!(f, ", run {u}")?;
        }
        Ok(())
    }
}

/// Where the lock lives.
#[derive(Debug, Clone)]
enum Place {
    Kv { namespace_id: String, title: String },
    Local(sv_infra::LocalStore),
}

/// A held lock; [`DeployLock::release`] it when done (a run that dies leaves it to expire).
#[derive(Debug)]
pub struct DeployLock {
    place: Place,
    holder: Holder,
    ttl: Duration,
}

/// What to take the lock for.
pub struct Request<'a> {
    pub env: &'a Environment,
    pub root: &'a std::path::Path,
    pub actor: &'a str,
    pub operation: &'a str,
    pub release: &'a str,
    pub run_url: Option<String>,
    /// How long to wait for another holder.
    pub timeout: Duration,
    /// How long the lock lives without renewal.
    pub ttl: Duration,
}

/// KV's TTL in seconds (at least its minimum of 60).
fn ttl_secs(ttl: Duration) -> u64 {
    ttl.as_secs().max(60)
}

/// The environment's first KV namespace (sv.yaml names in alphabetical order) as
/// `(id, title)`, where sv-deploy keeps its lock and records; `None` when it declares none.
///
/// # Errors
/// The namespace is missing from the account (exit 2), or API errors.
pub async fn kv_home(
    client: &sv_cloudflare::Client,
    env: &Environment,
) -> anyhow::Result<Option<(String, String)>> {
    let Some(ns) = env.resources_of(ResourceKind::Kv).next() else {
        return Ok(None);
    };
    let title = ns.name.clone();
    let found = Box::pin(
        client
            .kv()
            .list_namespaces()
            .try_filter(|n| std::future::ready(n.title == title)),
    )
    .try_next()
    .await
    .context("listing KV namespaces")?;
    let found = found.ok_or_else(|| {
        sv_cli::input_error(anyhow::anyhow!(
            "KV namespace `{title}` (where sv-deploy keeps its lock and records) does not exist in the account: run `sv-plan apply` for this environment first"
        ))
    })?;
    Ok(Some((found.id, title)))
}

async fn place(
    client: &sv_cloudflare::Client,
    env: &Environment,
    root: &std::path::Path,
) -> anyhow::Result<Place> {
    Ok(match kv_home(client, env).await? {
        Some((namespace_id, title)) => Place::Kv {
            namespace_id,
            title,
        },
        None => Place::Local(sv_infra::LocalStore::new(
            &root.join(".sv").join("deploy-lock"),
            &env.name,
        )),
    })
}

async fn read(client: &sv_cloudflare::Client, place: &Place) -> anyhow::Result<Option<Holder>> {
    match place {
        Place::Kv {
            namespace_id,
            title,
        } => match client.kv().get_value(namespace_id, KEY).await {
            // An unreadable record is still a lock, until it expires.
            Ok(v) => Ok(Some(serde_json::from_slice(&v.bytes).unwrap_or_else(
                |_| {
                    Holder {
                        token: String::new(),
                        actor: "unknown".into(),
                        host: None,
                        operation: "unknown".into(),
                        release: "unknown".into(),
                        run_url: None,
                        since: Utc::now(),
                        expires_at: v
                            .expiration
                            .and_then(|e| DateTime::from_timestamp(e, 0))
                            .unwrap_or_else(Utc::now),
                    }
                },
            ))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e).with_context(|| {
                format!("reading the deploy lock `{KEY}` in KV namespace {title}")
            }),
        },
        Place::Local(store) => Ok(store.lock_info()?.map(|l| {
            serde_json::from_str(l.reason.as_deref().unwrap_or("")).unwrap_or(Holder {
                token: l.id.clone(),
                actor: l.owner.clone(),
                host: None,
                operation: l.operation.clone(),
                release: "unknown".into(),
                run_url: l.run_url.clone(),
                since: l.created_at,
                expires_at: DateTime::<Utc>::MAX_UTC,
            })
        })),
    }
}

async fn write(
    client: &sv_cloudflare::Client,
    place: &Place,
    holder: &Holder,
    ttl: Duration,
) -> anyhow::Result<()> {
    let Place::Kv {
        namespace_id,
        title,
    } = place
    else {
        return Ok(());
    };
    client
        .kv()
        .put_value(
            namespace_id,
            KEY,
            serde_json::to_vec(holder)?,
            &KvPutOptions {
                expiration_ttl: Some(ttl_secs(ttl)),
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("writing the deploy lock `{KEY}` in KV namespace {title}"))
}

/// Takes the environment's deploy lock, waiting up to `timeout` for another holder.
///
/// # Errors
/// Still held by someone else after the timeout (naming them), or API errors.
pub async fn acquire(
    client: &sv_cloudflare::Client,
    req: &Request<'_>,
    mut waiting: impl FnMut(&Holder),
) -> anyhow::Result<DeployLock> {
    let place = place(client, req.env, req.root).await?;
    let now = Utc::now();
    let mut holder = Holder {
        token: uuid::Uuid::new_v4().simple().to_string(),
        actor: req.actor.to_owned(),
        host: sv_cli::env_vars::process_env("HOSTNAME")
            .or_else(|| sv_cli::env_vars::process_env("RUNNER_NAME")),
        operation: req.operation.to_owned(),
        release: req.release.to_owned(),
        run_url: req.run_url.clone(),
        since: now,
        expires_at: now,
    };
    let deadline = tokio::time::Instant::now() + req.timeout;
    let mut told = false;
    loop {
        let held = read(client, &place).await?;
        let busy = held
            .as_ref()
            .filter(|h| h.token != holder.token && h.expires_at > Utc::now());
        if let Some(other) = busy {
            if tokio::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "environment `{}` is locked by another {} (waited {}s, --lock-timeout): {other}; \
                     if that run is gone, the lock expires at {}",
                    req.env.name,
                    other.operation,
                    req.timeout.as_secs(),
                    other.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            if !told {
                waiting(other);
                told = true;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            tokio::time::sleep(POLL.min(left).max(Duration::from_millis(100))).await;
            continue;
        }
        if let (Place::Local(store), Some(stale)) = (&place, &held)
            && stale.token != holder.token
        {
            // Expired (the run that took it is gone): break it.
            match store.unlock(&stale.token) {
                Ok(()) | Err(sv_infra::Error::NoSuchLock { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        holder.since = Utc::now();
        holder.expires_at = holder.since
            + chrono::Duration::from_std(req.ttl).unwrap_or(chrono::Duration::minutes(15));
        if let Place::Local(store) = &place {
            let info = sv_planner_lock(&holder);
            match store.lock(&info) {
                Ok(()) => {}
                Err(sv_infra::Error::Locked(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        } else {
            write(client, &place, &holder, req.ttl).await?;
            tokio::time::sleep(SETTLE).await;
            let now_held = match read(client, &place).await {
                Ok(h) => h,
                Err(e) => {
                    // Do not leave a lock nobody holds: remove ours (best effort; it
                    // expires anyway).
                    let _ = release_if_ours(client, &place, &holder.token).await;
                    return Err(e);
                }
            };
            if now_held.as_ref().map(|h| &h.token) != Some(&holder.token) {
                // A concurrent taker's write landed after ours: theirs.
                continue;
            }
        }
        return Ok(DeployLock {
            place,
            holder,
            ttl: req.ttl,
        });
    }
}

fn sv_planner_lock(holder: &Holder) -> sv_planner::LockInfo {
    sv_planner::LockInfo {
        id: holder.token.clone(),
        owner: holder.actor.clone(),
        operation: format!("sv-deploy {}", holder.operation),
        reason: serde_json::to_string(holder).ok(),
        created_at: holder.since,
        run_url: holder.run_url.clone(),
    }
}

impl DeployLock {
    /// Who holds it (us).
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// Where it lives, for messages.
    pub fn describe(&self) -> String {
        match &self.place {
            Place::Kv { title, .. } => format!("KV namespace {title}, key {KEY}"),
            Place::Local(store) => format!("lock file beside {}", store.describe()),
        }
    }

    /// Pushes the expiry out again (a long rollout outlives one TTL).
    ///
    /// # Errors
    /// Someone else holds it now (ours expired), or API errors.
    pub async fn renew(&mut self, client: &sv_cloudflare::Client) -> anyhow::Result<()> {
        if matches!(self.place, Place::Local(_)) {
            return Ok(());
        }
        let held = read(client, &self.place).await?;
        if let Some(h) = held.filter(|h| h.token != self.holder.token) {
            anyhow::bail!("the deploy lock expired and was taken over: {h}");
        }
        self.holder.expires_at = Utc::now()
            + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::minutes(15));
        write(client, &self.place, &self.holder, self.ttl).await
    }

    /// Releases it if it is still ours.
    ///
    /// # Errors
    /// API errors.
    pub async fn release(self, client: &sv_cloudflare::Client) -> anyhow::Result<()> {
        release_if_ours(client, &self.place, &self.holder.token).await
    }
}

/// Deletes the lock record when `token` owns it.
async fn release_if_ours(
    client: &sv_cloudflare::Client,
    place: &Place,
    token: &str,
) -> anyhow::Result<()> {
    match place {
        Place::Local(store) => match store.unlock(token) {
            Ok(()) | Err(sv_infra::Error::NoSuchLock { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        },
        Place::Kv {
            namespace_id,
            title,
        } => {
            let held = read(client, place).await?;
            if held.is_some_and(|h| h.token == token) {
                client
                    .kv()
                    .delete_value(namespace_id, KEY)
                    .await
                    .with_context(|| {
                        format!("releasing the deploy lock `{KEY}` in KV namespace {title}")
                    })?;
            }
            Ok(())
        }
    }
}
