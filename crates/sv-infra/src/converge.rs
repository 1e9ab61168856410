//! One call that brings an environment's managed resources to what sv.yaml declares: plan
//! (desired against the live account and state) and, unless it is a dry run, carry the plan
//! out under the state lock.
//!
//! sv-plan shows plans to humans before applying them; tools that create whole derived
//! environments (a developer's `dev-NAME-` resources, a pull request's `pr-N-` preview,
//! a restore drill's scratch resources) use this instead, so there is exactly one way
//! resources are created, and re-running it on a converged environment changes nothing.

use std::path::Path;

use sv_cloudflare::Client;
use sv_config::Environment;
use sv_planner::{Action, LockInfo, Plan, PlanInput, PlanOptions, State};

use crate::{ApplyReport, Error, ExecContext, Inventory, StateStore};

/// What [`plan_environment`] and [`converge`] need.
pub struct ConvergeRequest<'a> {
    pub client: &'a Client,
    pub env: &'a Environment,
    /// Directory of sv.yaml (migrations and wrangler configs are relative to it).
    pub root: &'a Path,
    pub store: &'a dyn StateStore,
    /// `targets` restricts, `destroy` tears everything in state down.
    pub options: PlanOptions,
    /// Operations in flight at once inside a wave.
    pub concurrency: usize,
    /// Who holds the lock while applying (`user@host`, `github-actions[bot]`, …).
    pub owner: String,
    /// The operation named in the lock (`onboard.setup`, `preview.create`, …).
    pub operation: String,
    /// sha256 of the config, recorded in the plan (see `sv-plan`); may be empty.
    pub config_checksum: String,
}

/// A plan and everything it was computed from.
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub inventory: Inventory,
    /// State as loaded, plus what [`State::adopt_pending`] adopted.
    pub state: State,
    /// Resources created by an interrupted earlier run and adopted now.
    pub adopted: Vec<sv_planner::Address>,
}

/// The result of [`converge`].
#[derive(Debug)]
pub struct Converged {
    /// What was (to be) done; `plan.summary.has_changes()` is false when nothing was.
    pub plan: Plan,
    /// `None` when the plan had no changes.
    pub report: Option<ApplyReport>,
}

impl Converged {
    /// True when every planned operation succeeded (or there was nothing to do).
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.report.as_ref().is_none_or(|r| r.succeeded)
    }
}

/// Reads state and the live account and computes the plan for `req.env`.
///
/// # Errors
/// Unreadable state, the config mapping, the API, or a plan that cannot be made (cycle,
/// protected resource).
pub async fn plan_environment(req: &ConvergeRequest<'_>) -> Result<Planned, Error> {
    let mut state = req
        .store
        .load()?
        .unwrap_or_else(|| State::new(&req.env.name, ""));
    let desired = crate::desired(req.env, req.root)?;
    let reads = crate::inventory::Reads::in_use(&desired, &state);
    let inventory = crate::inventory(req.client, req.env.zone.as_deref(), &state, &reads).await?;
    let adopted = state.adopt_pending(&inventory.observed, &desired, chrono::Utc::now());
    let plan = compute(req, &desired, &inventory, &state, req.options.clone())?;
    Ok(Planned {
        plan,
        inventory,
        state,
        adopted,
    })
}

/// The plan of `desired` against what was read, with `options`.
fn compute(
    req: &ConvergeRequest<'_>,
    desired: &[sv_planner::Desired],
    inventory: &crate::Inventory,
    state: &State,
    options: PlanOptions,
) -> Result<Plan, Error> {
    Plan::compute(&PlanInput {
        environment: &req.env.name,
        desired,
        observed: &inventory.observed,
        state,
        config_checksum: &req.config_checksum,
        options,
        now: chrono::Utc::now(),
        tool_version: env!("CARGO_PKG_VERSION"),
    })
    .map_err(Error::Plan)
}

/// Plans and applies `req.env` under its state lock; a converged environment is left
/// untouched (no lock taken, no state written).
///
/// A failed operation does not make this an `Err`: the report says what was and was not
/// done, state holds every success, and calling again converges.
///
/// # Errors
/// As [`plan_environment`], the lock is held by someone else ([`Error::Locked`]), or state
/// cannot be written.
pub async fn converge(req: &ConvergeRequest<'_>) -> Result<Converged, Error> {
    let planned = plan_environment(req).await?;
    apply_planned(req, planned).await
}

/// Applies `planned` under the state lock, unless there is nothing to do.
async fn apply_planned(req: &ConvergeRequest<'_>, planned: Planned) -> Result<Converged, Error> {
    if !planned.plan.summary.has_changes() && planned.adopted.is_empty() {
        return Ok(Converged {
            plan: planned.plan,
            report: None,
        });
    }
    let lock = LockInfo {
        id: uuid::Uuid::new_v4().to_string(),
        owner: req.owner.clone(),
        operation: req.operation.clone(),
        reason: None,
        created_at: chrono::Utc::now(),
        run_url: None,
    };
    req.store.lock(&lock)?;
    let result = apply_locked(req, planned).await;
    // The lock is ours: releasing it can only fail on I/O, which the result already shows.
    let unlocked = req.store.unlock(&lock.id);
    let converged = result?;
    unlocked?;
    Ok(converged)
}

async fn apply_locked(req: &ConvergeRequest<'_>, planned: Planned) -> Result<Converged, Error> {
    let exec = ExecContext {
        client: req.client,
        zone_id: planned.inventory.zone_id.clone(),
        migration_dirs: crate::desired::migration_dirs(req.env, req.root),
        concurrency: req.concurrency.max(1),
    };
    let mut state = planned.state;
    if state.lineage.is_empty() {
        state.lineage = uuid::Uuid::new_v4().to_string();
    }
    if !planned.adopted.is_empty() {
        req.store.save(&state)?;
    }
    if !planned.plan.summary.has_changes() {
        return Ok(Converged {
            plan: planned.plan,
            report: None,
        });
    }
    let (report, _state) = crate::execute(&planned.plan, &exec, req.store, state).await?;
    Ok(Converged {
        plan: planned.plan,
        report: Some(report),
    })
}

/// The result of [`finish_deferred`].
#[derive(Debug)]
pub enum FinishedDeferred {
    /// The environment has no state yet (nothing was ever applied here): nothing was done;
    /// `sv-plan apply` creates everything.
    NoState,
    /// No route or custom domain of the Worker is waiting.
    Nothing,
    /// The waiting creations were carried out (see the report for each).
    Done(Box<Converged>),
}

/// After Worker `worker` is deployed: creates its routes and custom domains that sv.yaml
/// declares and that do not exist yet — what an apply deferred because the Worker did not
/// exist. Only those creations, under the state lock; anything else the environment's plan
/// holds is left for the reviewed `sv-plan apply`.
///
/// # Errors
/// As [`converge`].
pub async fn finish_deferred(
    req: &ConvergeRequest<'_>,
    worker: &str,
) -> Result<FinishedDeferred, Error> {
    if req.store.load()?.is_none() {
        return Ok(FinishedDeferred::NoState);
    }
    let planned = plan_environment(req).await?;
    let targets: Vec<_> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create && crate::execute::needs_worker(c) == Some(worker))
        .map(|c| c.address.clone())
        .collect();
    if targets.is_empty() {
        return Ok(FinishedDeferred::Nothing);
    }
    // The same reads, planned again for those targets only (sv.yaml is read again, the
    // account is not).
    let desired = crate::desired(req.env, req.root)?;
    let options = PlanOptions {
        targets,
        ..req.options.clone()
    };
    let plan = compute(req, &desired, &planned.inventory, &planned.state, options)?;
    apply_planned(req, Planned { plan, ..planned })
        .await
        .map(|c| FinishedDeferred::Done(Box::new(c)))
}
