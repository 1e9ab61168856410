//! Carrying out a plan: one attempt, safe to repeat.
//!
//! Waves run in order; inside a wave, operations run in parallel (bounded). Each success is
//! written to state as soon as it completes (serial + 1 per operation; operations that
//! complete together share one write), so whatever happens next, a re-run plans only what
//! is left. The first failure lets the running wave finish and stops before the next
//! one; the report says, per operation, what was done, what failed and what never started.
//!
//! Worker scripts are sv-deploy's, so on an environment's first apply the Worker its routes
//! and custom domains point at may not exist yet (Cloudflare refuses those then). Such an
//! operation is *deferred*, not failed: it is left out of state, the apply still succeeds,
//! and sv-deploy creates it right after the Worker's first upload
//! ([`crate::converge::finish_deferred`]), so a new environment needs one apply and one
//! deploy, in the order the workflows run them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use sv_cloudflare::Client;
use sv_cloudflare::d1::{CreateDatabase, ReadReplication};
use sv_cloudflare::dns::DnsRecordInput;
use sv_cloudflare::pages::{CreateProject, UpdateProject};
use sv_cloudflare::r2::{
    CorsAllowed, CorsConfig, CorsRule, CreateBucket, LifecycleConfig, LifecycleRule,
};
use sv_cloudflare::workers::AttachDomain;
use sv_planner::{Action, Address, Attrs, Change, Kind, PendingCreate, Plan, State, StateResource};

use crate::store::StateStore;
use crate::{Error, migrations};
use sv_cloudflare::ErrorCategory;

/// What carrying out a plan needs besides the plan.
#[derive(Debug, Clone)]
pub struct ExecContext<'a> {
    pub client: &'a Client,
    /// The environment's zone id (DNS records, routes, custom domains).
    pub zone_id: Option<String>,
    /// Migrations directory of each D1 database that has one.
    pub migration_dirs: BTreeMap<Address, PathBuf>,
    /// Operations in flight at once inside a wave.
    pub concurrency: usize,
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum OpOutcome {
    Done {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    Failed {
        error: String,
    },
    /// A wave before it failed, so it was not attempted.
    NotStarted,
    /// Points at a Worker script that is not deployed yet (a route or custom domain of a
    /// new environment): left for sv-deploy to create after the Worker's first upload.
    Deferred {
        worker: String,
    },
}

/// One operation of the plan and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpResult {
    pub address: Address,
    pub action: Action,
    pub name: String,
    pub wave: usize,
    pub outcome: OpOutcome,
}

/// The result of [`execute`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub environment: String,
    pub results: Vec<OpResult>,
    /// The state serial after the apply.
    pub state_serial: u64,
    pub succeeded: bool,
}

/// How many operations ended which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    pub done: usize,
    pub failed: usize,
    pub not_started: usize,
    pub deferred: usize,
}

impl ApplyReport {
    /// Counts of done, failed, not started and deferred operations.
    #[must_use]
    pub fn counts(&self) -> OpCounts {
        let mut c = OpCounts::default();
        for r in &self.results {
            match r.outcome {
                OpOutcome::Done { .. } => c.done += 1,
                OpOutcome::Failed { .. } => c.failed += 1,
                OpOutcome::NotStarted => c.not_started += 1,
                OpOutcome::Deferred { .. } => c.deferred += 1,
            }
        }
        c
    }

    /// The Workers that deferred operations wait for.
    #[must_use]
    pub fn waiting_for(&self) -> BTreeSet<&str> {
        self.results
            .iter()
            .filter_map(|r| match &r.outcome {
                OpOutcome::Deferred { worker } => Some(worker.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// The Worker script a change needs to exist when it is carried out: the script of a route
/// or the service of a custom domain being created, replaced or updated.
#[must_use]
pub fn needs_worker(c: &Change) -> Option<&str> {
    if !matches!(c.action, Action::Create | Action::Replace | Action::Update) {
        return None;
    }
    let attr = match c.kind {
        Kind::WorkerRoute => "script",
        Kind::CustomDomain => "service",
        _ => return None,
    };
    str_attr(&c.attributes, attr).filter(|s| !s.is_empty())
}

/// Notes for a plan's readers: each route or custom domain apply will defer because its
/// Worker is not deployed yet (one list call, only when the plan creates or changes any).
pub async fn deferral_notes(plan: &Plan, client: &Client) -> Vec<String> {
    let undeployed = undeployed_workers(plan, client).await;
    plan.changes
        .iter()
        .filter_map(|c| {
            let worker = needs_worker(c).filter(|w| undeployed.contains(*w))?;
            Some(format!(
                "{}: Worker `{worker}` is not deployed yet, so apply defers this; \
                 `sv-deploy deploy` creates it after the Worker's first upload",
                c.address
            ))
        })
        .collect()
}

/// The Workers `plan` needs that are not deployed (one list call, only when it needs any).
async fn undeployed_workers(plan: &Plan, client: &Client) -> BTreeSet<String> {
    let needed: BTreeSet<&str> = plan.changes.iter().filter_map(needs_worker).collect();
    if needed.is_empty() {
        return BTreeSet::new();
    }
    // If the list fails, nothing is deferred: the operations run and the API says what it
    // refuses, as it would without this check.
    let Ok(scripts) = client.workers().list_scripts().await else {
        return BTreeSet::new();
    };
    let deployed: BTreeSet<String> = scripts.into_iter().map(|s| s.id).collect();
    needed
        .into_iter()
        .filter(|w| !deployed.contains(*w))
        .map(str::to_owned)
        .collect()
}

/// Carries out `plan`, recording each success in `state` through `store`.
///
/// The returned report is complete even when operations fail; `Err` only for a state that
/// cannot be written (then the report cannot be trusted to match state).
///
/// # Errors
/// Writing state fails.
pub async fn execute(
    plan: &Plan,
    ctx: &ExecContext<'_>,
    store: &dyn StateStore,
    state: State,
) -> Result<(ApplyReport, State), Error> {
    let state = Mutex::new(state);
    let mut results = Vec::new();
    let mut failed = false;
    let undeployed = undeployed_workers(plan, ctx.client).await;
    // Deferred operations, and (by their `depends_on`) whatever needs them.
    let mut deferred: BTreeMap<&Address, String> = BTreeMap::new();
    for (index, wave) in plan.waves.iter().enumerate() {
        let mut changes: Vec<&Change> = wave.iter().filter_map(|a| plan.change(a)).collect();
        if failed {
            results.extend(changes.iter().map(|c| OpResult {
                address: c.address.clone(),
                action: c.action,
                name: c.name.clone(),
                wave: index + 1,
                outcome: OpOutcome::NotStarted,
            }));
            continue;
        }
        changes.retain(|c| {
            let waits_for = needs_worker(c)
                .filter(|w| undeployed.contains(*w))
                .map(str::to_owned)
                .or_else(|| c.depends_on.iter().find_map(|d| deferred.get(d).cloned()));
            let Some(worker) = waits_for else {
                return true;
            };
            deferred.insert(&c.address, worker.clone());
            results.push(OpResult {
                address: c.address.clone(),
                action: c.action,
                name: c.name.clone(),
                wave: index + 1,
                outcome: OpOutcome::Deferred { worker },
            });
            false
        });
        note_pending_creates(&changes, &state, store)?;
        let outcomes: Vec<(&Change, Result<Option<String>, Error>)> =
            futures::stream::iter(changes.into_iter().map(|c| async move {
                let r = apply_one(c, ctx).await;
                (c, r)
            }))
            .buffer_unordered(ctx.concurrency.max(1))
            // Everything that finished since the last write is recorded in one write, so
            // state never lags behind by more than the operations that completed together,
            // and a wide wave does not rewrite the file once per operation.
            .ready_chunks(ctx.concurrency.max(1))
            .map(|chunk| record_all(chunk, &state, store))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>, Error>>()?
            .into_iter()
            .flatten()
            .collect();
        for (c, r) in outcomes {
            let outcome = match r {
                Ok(id) => OpOutcome::Done { id },
                Err(e @ (Error::Io { .. } | Error::State { .. })) => return Err(e),
                Err(e) => {
                    failed = true;
                    OpOutcome::Failed {
                        error: error_chain(&e),
                    }
                }
            };
            results.push(OpResult {
                address: c.address.clone(),
                action: c.action,
                name: c.name.clone(),
                wave: index + 1,
                outcome,
            });
        }
    }
    results.sort_by(|a, b| (a.wave, &a.address).cmp(&(b.wave, &b.address)));
    let state = state
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((
        ApplyReport {
            environment: plan.environment.clone(),
            results,
            state_serial: state.serial,
            succeeded: !failed,
        },
        state,
    ))
}

fn error_chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}

/// Writes the wave's creations into [`State::pending`] before any is sent, in one write, so
/// an apply killed mid-wave leaves a record the next run adopts the created resources from
/// (see `State::adopt_pending`) instead of creating them twice.
fn note_pending_creates(
    changes: &[&Change],
    state: &Mutex<State>,
    store: &dyn StateStore,
) -> Result<(), Error> {
    let creates: Vec<&&Change> = changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .collect();
    if creates.is_empty() {
        return Ok(());
    }
    let mut s = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let now = chrono::Utc::now();
    for c in creates {
        s.pending.insert(
            c.address.clone(),
            PendingCreate {
                kind: c.kind,
                key: c.natural_key(),
                started_at: now,
            },
        );
    }
    s.serial += 1;
    store.save(&s)
}

/// Records the successes of `chunk` in state and writes it once. `Err` only when the write
/// fails; a missing id fails that operation alone.
#[allow(clippy::type_complexity)]
fn record_all<'c>(
    chunk: Vec<(&'c Change, Result<Option<String>, Error>)>,
    state: &Mutex<State>,
    store: &dyn StateStore,
) -> Result<Vec<(&'c Change, Result<Option<String>, Error>)>, Error> {
    let mut s = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = Vec::with_capacity(chunk.len());
    let mut changed = false;
    for (c, r) in chunk {
        let r = match r {
            Ok(id) => record(c, id.clone(), &mut s).map(|()| id),
            // It exists: record it, so a re-run finishes it rather than creating it again.
            Err(Error::Incomplete { id, source }) => {
                let recorded = record(c, Some(id.clone()), &mut s);
                changed |= recorded.is_ok();
                Err(Error::Incomplete { id, source })
            }
            Err(e) => {
                // The API answered no: nothing was created, so nothing is to be adopted
                // later (a same-named resource there belongs to someone else). Unknown
                // outcomes (5xx, timeouts) stay pending.
                if refused(&e) && s.pending.remove(&c.address).is_some() {
                    s.serial += 1;
                    changed = true;
                }
                Err(e)
            }
        };
        changed |= r.is_ok();
        out.push((c, r));
    }
    if changed {
        store.save(&s)?;
    }
    Ok(out)
}

/// An error the API answered with a 4xx: the request was refused, not lost.
fn refused(e: &Error) -> bool {
    match e {
        Error::Cloudflare { source, .. } => source.status().is_some_and(|s| s.is_client_error()),
        _ => false,
    }
}

fn record(c: &Change, id: Option<String>, s: &mut State) -> Result<(), Error> {
    s.pending.remove(&c.address);
    if c.action == Action::Delete {
        s.resources.remove(&c.address);
    } else {
        let id = id
            .or_else(|| c.id.clone())
            .ok_or_else(|| Error::MissingId {
                address: c.address.clone(),
            })?;
        s.resources.insert(
            c.address.clone(),
            StateResource {
                kind: c.kind,
                id,
                name: c.name.clone(),
                attributes: c.attributes.clone(),
                depends_on: c.depends_on.clone(),
                prevent_destroy: c.prevent_destroy,
                updated_at: chrono::Utc::now(),
            },
        );
    }
    s.serial += 1;
    Ok(())
}

fn str_attr<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

fn changed(c: &Change, key: &str) -> bool {
    c.changes.iter().any(|a| a.name == key)
}

/// One operation; returns the new id for creates and replaces.
async fn apply_one(c: &Change, ctx: &ExecContext<'_>) -> Result<Option<String>, Error> {
    match c.action {
        Action::NoOp => Ok(c.id.clone()),
        Action::Create => create(c, ctx).await.map(Some),
        Action::Update => update(c, ctx).await.map(|()| c.id.clone()),
        Action::Delete => delete(c, ctx).await.map(|()| None),
        Action::Replace => {
            delete(c, ctx).await?;
            create(c, ctx).await.map(Some)
        }
    }
}

fn id_of(c: &Change) -> Result<&str, Error> {
    c.id.as_deref().ok_or_else(|| Error::MissingId {
        address: c.address.clone(),
    })
}

fn zone<'a>(c: &Change, ctx: &'a ExecContext<'_>) -> Result<&'a str, Error> {
    ctx.zone_id
        .as_deref()
        .ok_or_else(|| Error::NoZone(c.address.clone()))
}

async fn create(c: &Change, ctx: &ExecContext<'_>) -> Result<String, Error> {
    let what = format!("creating {} `{}`", c.kind.label(), c.name);
    // The client does not retry a non-idempotent POST whose answer was lost: it may have
    // landed. Look before trying again, so the resource is created exactly once.
    let mut attempt = 1;
    let id = loop {
        match post_create(c, ctx).await {
            Ok(id) => break id,
            Err(PostError::Api(e))
                if e.category() == ErrorCategory::Network && attempt < CREATE_ATTEMPTS =>
            {
                let zone_id = ctx.zone_id.as_deref();
                if let Some(id) =
                    crate::inventory::find_live(ctx.client, zone_id, c.kind, &c.natural_key())
                        .await?
                {
                    break id;
                }
                tokio::time::sleep(std::time::Duration::from_millis(250 * attempt)).await;
                attempt += 1;
            }
            Err(PostError::Api(e)) => return Err(Error::cf(what)(e)),
            Err(PostError::Other(e)) => return Err(e),
        }
    };
    let configured = match c.kind {
        Kind::D1 => apply_migrations(c, &id, ctx).await,
        Kind::R2 => put_bucket_rules(c, true, ctx).await,
        Kind::Pages => set_pages_domains(c, &[], ctx).await,
        _ => Ok(()),
    };
    match configured {
        Ok(()) => Ok(id),
        Err(source) => Err(Error::Incomplete {
            id,
            source: Box::new(source),
        }),
    }
}

/// Tries of one creation whose outcome is unknown (see [`create`]).
const CREATE_ATTEMPTS: u64 = 5;

/// Why a create request failed: the API (maybe retryable), or before any request was sent.
enum PostError {
    Api(sv_cloudflare::Error),
    Other(Error),
}

/// The one request that makes the resource; returns its id.
async fn post_create(c: &Change, ctx: &ExecContext<'_>) -> Result<String, PostError> {
    let a = &c.attributes;
    let client = ctx.client;
    let zone = || zone(c, ctx).map_err(PostError::Other);
    match c.kind {
        Kind::Kv => Ok(client
            .kv()
            .create_namespace(&c.name)
            .await
            .map_err(PostError::Api)?
            .id),
        Kind::D1 => Ok(client
            .d1()
            .create(&CreateDatabase {
                name: c.name.clone(),
                primary_location_hint: str_attr(a, "location").map(str::to_owned),
                jurisdiction: str_attr(a, "jurisdiction").map(str::to_owned),
                read_replication: a
                    .get("read_replication")
                    .and_then(Value::as_bool)
                    .map(|on| ReadReplication {
                        mode: if on { "auto" } else { "disabled" }.into(),
                    }),
            })
            .await
            .map_err(PostError::Api)?
            .uuid),
        Kind::R2 => {
            client
                .r2()
                .create_bucket(&CreateBucket {
                    name: c.name.clone(),
                    location_hint: str_attr(a, "location").map(str::to_owned),
                    storage_class: str_attr(a, "storage_class").map(str::to_owned),
                    jurisdiction: str_attr(a, "jurisdiction").map(str::to_owned),
                })
                .await
                .map_err(PostError::Api)?;
            Ok(c.name.clone())
        }
        Kind::Dns => Ok(client
            .dns()
            .create(zone()?, &dns_input(a, &c.name))
            .await
            .map_err(PostError::Api)?
            .id),
        Kind::Pages => {
            client
                .pages()
                .create_project(&CreateProject {
                    name: c.name.clone(),
                    production_branch: str_attr(a, "production_branch")
                        .unwrap_or("main")
                        .to_owned(),
                    extra: serde_json::Map::new(),
                })
                .await
                .map_err(PostError::Api)?;
            Ok(c.name.clone())
        }
        Kind::WorkerRoute => Ok(client
            .workers()
            .create_route(
                zone()?,
                str_attr(a, "pattern").unwrap_or(&c.name),
                str_attr(a, "script"),
            )
            .await
            .map_err(PostError::Api)?
            .id),
        Kind::CustomDomain => Ok(client
            .workers()
            .attach_domain(&AttachDomain {
                hostname: str_attr(a, "hostname").unwrap_or(&c.name).to_owned(),
                service: str_attr(a, "service").unwrap_or_default().to_owned(),
                environment: "production".into(),
                zone_id: zone()?.to_owned(),
            })
            .await
            .map_err(PostError::Api)?
            .id),
        Kind::Cron => Err(PostError::Other(Error::Unsupported {
            address: c.address.clone(),
            what: "managing cron triggers (wrangler owns them; sv-deploy deploys them)".into(),
        })),
    }
}

async fn update(c: &Change, ctx: &ExecContext<'_>) -> Result<(), Error> {
    let a = &c.attributes;
    let what = format!("updating {} `{}`", c.kind.label(), c.name);
    let client = ctx.client;
    let id = id_of(c)?;
    match c.kind {
        Kind::Kv => client
            .kv()
            .rename_namespace(id, &c.name)
            .await
            .map_err(Error::cf(what)),
        Kind::D1 => {
            if changed(c, "read_replication") {
                let on = a
                    .get("read_replication")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                client
                    .d1()
                    .set_read_replication(id, if on { "auto" } else { "disabled" })
                    .await
                    .map_err(Error::cf(what))?;
            }
            if changed(c, "migrations") {
                apply_migrations(c, id, ctx).await?;
            }
            Ok(())
        }
        Kind::R2 => {
            if changed(c, "storage_class")
                && let Some(class) = str_attr(a, "storage_class")
            {
                client
                    .r2()
                    .set_bucket_storage_class(&c.name, str_attr(a, "jurisdiction"), class)
                    .await
                    .map_err(Error::cf(what))?;
            }
            put_bucket_rules(c, false, ctx).await
        }
        Kind::Dns => client
            .dns()
            .update(zone(c, ctx)?, id, &dns_input(a, &c.name))
            .await
            .map(|_| ())
            .map_err(Error::cf(what)),
        Kind::WorkerRoute => client
            .workers()
            .update_route(
                zone(c, ctx)?,
                id,
                str_attr(a, "pattern").unwrap_or(&c.name),
                str_attr(a, "script"),
            )
            .await
            .map(|_| ())
            .map_err(Error::cf(what)),
        Kind::CustomDomain => create(c, ctx).await.map(|_| ()),
        Kind::Pages => update_pages(c, ctx).await,
        Kind::Cron => Err(Error::Unsupported {
            address: c.address.clone(),
            what: format!(
                "updating a {} in place (changed: {})",
                c.kind.label(),
                c.changes
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

async fn delete(c: &Change, ctx: &ExecContext<'_>) -> Result<(), Error> {
    let what = format!("deleting {} `{}`", c.kind.label(), c.name);
    let client = ctx.client;
    let id = id_of(c)?;
    let result = match c.kind {
        Kind::Kv => client.kv().delete_namespace(id).await,
        Kind::D1 => client.d1().delete(id).await,
        // The bucket as it is live: a replace may be changing the jurisdiction.
        Kind::R2 => client.r2().delete_bucket(id, live_jurisdiction(c)).await,
        Kind::Dns => client.dns().delete(zone(c, ctx)?, id).await,
        Kind::Pages => client.pages().delete_project(id).await,
        Kind::WorkerRoute => client.workers().delete_route(zone(c, ctx)?, id).await,
        Kind::CustomDomain => client.workers().delete_domain(id).await,
        Kind::Cron => {
            return Err(Error::Unsupported {
                address: c.address.clone(),
                what: "managing cron triggers".into(),
            });
        }
    };
    match result {
        // Already gone: the goal of a delete is reached (a re-run after a crash).
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map_err(Error::cf(what)),
    }
}

fn live_jurisdiction(c: &Change) -> Option<&str> {
    match c.changes.iter().find(|x| x.name == "jurisdiction") {
        Some(x) => x.before.as_str(),
        None => str_attr(&c.attributes, "jurisdiction"),
    }
}

fn dns_input(a: &Attrs, name: &str) -> DnsRecordInput {
    DnsRecordInput {
        record_type: str_attr(a, "type").unwrap_or_default().to_owned(),
        name: str_attr(a, "name").unwrap_or(name).to_owned(),
        content: str_attr(a, "content").unwrap_or_default().to_owned(),
        ttl: a
            .get("ttl")
            .and_then(Value::as_u64)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(1),
        proxied: a.get("proxied").and_then(Value::as_bool),
        comment: str_attr(a, "comment").map(str::to_owned),
        tags: a
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        priority: a
            .get("priority")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok()),
        data: None,
    }
}

/// Writes CORS and lifecycle rules: after a create, those the config states; on update,
/// those that changed.
async fn put_bucket_rules(c: &Change, created: bool, ctx: &ExecContext<'_>) -> Result<(), Error> {
    let a = &c.attributes;
    let j = str_attr(a, "jurisdiction");
    let r2 = ctx.client.r2();
    if let Some(rules) = a.get("cors").and_then(Value::as_array)
        && (created || changed(c, "cors"))
    {
        let config = CorsConfig {
            rules: rules.iter().map(cors_to_api).collect(),
        };
        r2.put_cors(&c.name, j, &config)
            .await
            .map_err(Error::cf(format!("setting CORS of R2 bucket `{}`", c.name)))?;
    }
    if let Some(rules) = a.get("lifecycle_rules").and_then(Value::as_array)
        && (created || changed(c, "lifecycle_rules"))
    {
        let config = LifecycleConfig {
            rules: rules
                .iter()
                .enumerate()
                .map(|(i, r)| lifecycle_to_api(i, r))
                .collect(),
        };
        r2.put_lifecycle(&c.name, j, &config)
            .await
            .map_err(Error::cf(format!(
                "setting lifecycle rules of R2 bucket `{}`",
                c.name
            )))?;
    }
    Ok(())
}

/// An update of a Pages project: the production branch PATCHed when it changed, custom
/// domains added and removed by difference with what the plan saw live.
async fn update_pages(c: &Change, ctx: &ExecContext<'_>) -> Result<(), Error> {
    if changed(c, "production_branch")
        && let Some(branch) = str_attr(&c.attributes, "production_branch")
    {
        let update = UpdateProject {
            production_branch: Some(branch.to_owned()),
            ..UpdateProject::default()
        };
        ctx.client
            .pages()
            .update_project(&c.name, &update)
            .await
            .map_err(Error::cf(format!(
                "setting the production branch of Pages project `{}`",
                c.name
            )))?;
    }
    if let Some(x) = c.changes.iter().find(|x| x.name == "custom_domains") {
        set_pages_domains(c, &strings_of(&x.before), ctx).await?;
    }
    Ok(())
}

/// Makes the custom domains of Pages project `c` those of its attributes, given the ones it
/// has (`live`): adds the missing, removes the extra. A domain already added (a re-run) or
/// already gone counts as done.
async fn set_pages_domains(
    c: &Change,
    live: &[String],
    ctx: &ExecContext<'_>,
) -> Result<(), Error> {
    let wanted = c
        .attributes
        .get("custom_domains")
        .map(strings_of)
        .unwrap_or_default();
    let pages = ctx.client.pages();
    for name in live.iter().filter(|d| !wanted.contains(d)) {
        match pages.delete_domain(&c.name, name).await {
            Err(e) if !e.is_not_found() => {
                return Err(Error::cf(format!(
                    "removing custom domain `{name}` from Pages project `{}`",
                    c.name
                ))(e));
            }
            _ => {}
        }
    }
    let mut present: Option<Vec<String>> = None;
    for name in wanted.iter().filter(|d| !live.contains(d)) {
        let what = || {
            format!(
                "adding custom domain `{name}` to Pages project `{}`",
                c.name
            )
        };
        match pages.add_domain(&c.name, name).await {
            Ok(_) => {}
            // "Already added" (a re-run, or a retry of a request that landed) is done; any
            // other conflict (the host is taken elsewhere) is not: the list decides.
            Err(e) if e.is_conflict() => {
                if present.is_none() {
                    let list = pages
                        .list_domains(&c.name)
                        .await
                        .map_err(Error::cf(what()))?;
                    present = Some(list.into_iter().map(|d| d.name).collect());
                }
                if !present.iter().flatten().any(|d| d == name) {
                    return Err(Error::cf(what())(e));
                }
            }
            Err(e) => return Err(Error::cf(what())(e)),
        }
    }
    Ok(())
}

/// The strings of a JSON array (nothing for anything else).
fn strings_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn cors_to_api(r: &Value) -> CorsRule {
    CorsRule {
        id: None,
        allowed: CorsAllowed {
            origins: strings(r, "origins"),
            methods: strings(r, "methods"),
            headers: strings(r, "headers"),
        },
        expose_headers: strings(r, "expose_headers"),
        max_age_seconds: r.get("max_age_seconds").and_then(Value::as_u64),
        extra: serde_json::Map::new(),
    }
}

fn age(days: u64) -> Value {
    json!({ "condition": { "type": "Age", "maxAge": days * 86_400 } })
}

fn lifecycle_to_api(index: usize, r: &Value) -> LifecycleRule {
    let prefix = r.get("prefix").and_then(Value::as_str).unwrap_or_default();
    let mut transitions = serde_json::Map::new();
    if let Some(d) = r.get("expire_days").and_then(Value::as_u64) {
        transitions.insert("deleteObjectsTransition".into(), age(d));
    }
    if let Some(d) = r.get("abort_multipart_days").and_then(Value::as_u64) {
        transitions.insert("abortMultipartUploadsTransition".into(), age(d));
    }
    if let Some(d) = r.get("infrequent_access_days").and_then(Value::as_u64) {
        let mut t = age(d);
        t["storageClass"] = json!("InfrequentAccess");
        transitions.insert("storageClassTransitions".into(), json!([t]));
    }
    LifecycleRule {
        id: format!("sv-{}", index + 1),
        enabled: true,
        conditions: json!({ "prefix": prefix }),
        transitions,
    }
}

/// Applies the migrations the database has not recorded yet, in file-name order. Each runs
/// as one query together with its row in `d1_migrations` (as wrangler does), which D1
/// executes all or nothing — so after an ambiguous failure (5xx, reset, timeout) the table
/// says whether it ran, and it is retried only if it did not: exactly once either way.
async fn apply_migrations(c: &Change, uuid: &str, ctx: &ExecContext<'_>) -> Result<(), Error> {
    let Some(wanted) = c.attributes.get("migrations").and_then(Value::as_array) else {
        return Ok(());
    };
    let Some(dir) = ctx.migration_dirs.get(&c.address) else {
        return Err(Error::Unsupported {
            address: c.address.clone(),
            what: "applying migrations without a migrations directory".into(),
        });
    };
    let wanted: Vec<String> = wanted
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    apply_pending_migrations(ctx.client, uuid, &c.name, dir, &wanted).await?;
    Ok(())
}

/// Applies those of `wanted` (file names in `dir`, in this order) that the D1 database
/// `uuid` (named `name`, for messages) has not recorded in `d1_migrations`, creating the
/// table when missing, and returns the names it applied. The one migration runner: sv-plan
/// apply and sv-deploy's releases both go through it.
///
/// Each migration runs as one query together with its row in `d1_migrations` (as wrangler
/// does), which D1 executes all or nothing, so after an ambiguous failure the table says
/// whether it ran; it is retried only if it did not.
///
/// # Errors
/// A migration file cannot be read, or D1 refuses a query.
pub async fn apply_pending_migrations(
    client: &sv_cloudflare::Client,
    uuid: &str,
    name: &str,
    dir: &std::path::Path,
    wanted: &[String],
) -> Result<Vec<String>, Error> {
    let d1 = client.d1();
    let what = |m: &str| format!("applying migration `{m}` to D1 database `{name}`");
    // `CREATE TABLE IF NOT EXISTS`: repeatable, so retried after a 5xx or a reset.
    d1.query_repeatable(uuid, migrations::CREATE_TABLE, &[])
        .await
        .map_err(Error::cf(what("d1_migrations table")))?;
    let applied = crate::inventory::applied_migrations(client, uuid, name).await?;
    let mut done = Vec::new();
    for migration in wanted {
        if applied.iter().any(|a| a == migration) {
            continue;
        }
        let sql = migrations::read(dir, migration)?;
        let batch = format!(
            "{sql}\n;\nINSERT INTO d1_migrations (name) VALUES ('{}');",
            migration.replace('\'', "''")
        );
        let mut attempt = 1;
        loop {
            match d1.query(uuid, &batch, &[]).await {
                Ok(_) => break,
                Err(e)
                    if e.category() == ErrorCategory::Network && attempt < MIGRATION_ATTEMPTS =>
                {
                    let recorded = crate::inventory::applied_migrations(client, uuid, name).await?;
                    if recorded.iter().any(|a| a == migration) {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(250 * attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(Error::cf(what(migration))(e)),
            }
        }
        done.push(migration.clone());
    }
    Ok(done)
}

/// Tries of one migration when the outcome of each is unknown (the client itself does not
/// retry a non-idempotent query after a 5xx).
const MIGRATION_ATTEMPTS: u64 = 5;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{cors_shape, lifecycle_shape};

    /// What apply writes must read back as what the config said, or every plan after an
    /// apply would show a change.
    #[test]
    fn bucket_rules_round_trip_through_the_api_shapes() {
        let rule = lifecycle_shape("tmp/", Some(7), Some(1), Some(30));
        let api = lifecycle_to_api(0, &rule);
        assert_eq!(api.id, "sv-1");
        assert_eq!(crate::inventory::lifecycle_from_api(&api), rule);

        let cors = cors_shape(
            &["https://a.example".into()],
            &["GET".into(), "PUT".into()],
            &["content-type".into()],
            &[],
            Some(3600),
        );
        let api = cors_to_api(&cors);
        let back = cors_shape(
            &api.allowed.origins,
            &api.allowed.methods,
            &api.allowed.headers,
            &api.expose_headers,
            api.max_age_seconds,
        );
        assert_eq!(back, cors);
    }

    #[test]
    fn dns_input_defaults_ttl_to_automatic() {
        let attrs = Attrs::from([
            ("type".to_owned(), json!("A")),
            ("name".to_owned(), json!("example.com")),
            ("content".to_owned(), json!("192.0.2.1")),
        ]);
        let input = dns_input(&attrs, "example.com");
        assert_eq!(input.ttl, 1);
        assert_eq!(input.proxied, None);
    }
}
