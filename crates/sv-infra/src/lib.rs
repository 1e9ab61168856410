//! `sv-infra` owns the Cloudflare-facing half of declarative infrastructure: what sv-plan
//! (and later sv-onboard) needs between the pure planner (`sv-planner`) and the API client
//! (`sv-cloudflare`).
//!
//! - [`desired`]: an environment of `sv.yaml` mapped onto the planner's model, one
//!   [`sv_planner::Desired`] per managed resource, addresses identical to the config's.
//! - [`inventory`]: the live account read with list calls in parallel, normalised to the
//!   same attribute shapes `desired` produces, so plan → apply → plan is a no-op.
//! - [`execute`]: a plan carried out wave by wave (bounded parallelism inside a wave),
//!   each success recorded in state as soon as it completes (those completing together in
//!   one write) so an interrupted apply converges on re-run.
//! - [`store`]: where state lives (a local file) and its lock; [`r2_store`]: the same in an
//!   R2 bucket, locked by conditional writes.
//! - [`scope`]: whether the API token may make the changes a plan holds (before an apply).
//! - [`converge`]: plan + apply of a whole environment in one call (derived environments:
//!   developer, preview, drill).
//! - [`generate`]: the reverse of `desired`: an existing account as an sv.yaml `resources:`
//!   section plus the `sv-plan import` commands adopting it.
//! - [`adopt`]: a derived environment's live resources recorded in its state by their
//!   reserved names (its state may not have survived: CI jobs start fresh).
//!
//! Worker scripts (`worker.*` addresses) are deployed by sv-deploy, not managed here: they
//! are dropped from `depends_on` (routes and custom domains still need the script to exist
//! when they are created; the API says so if it does not).
//!
//! No printing, no clap: callers render the returned data.

pub mod adopt;
pub mod converge;
pub mod desired;
pub mod execute;
pub mod generate;
pub mod inventory;
pub mod migrations;
pub mod r2_store;
pub mod scope;
pub mod store;

pub use adopt::adopt_by_name;
pub use converge::{
    ConvergeRequest, Converged, FinishedDeferred, converge, finish_deferred, plan_environment,
};
pub use desired::desired;
pub use execute::{
    ApplyReport, ExecContext, OpCounts, OpOutcome, OpResult, apply_pending_migrations,
    deferral_notes, execute,
};
pub use inventory::{Inventory, inventory};
pub use r2_store::R2Store;
pub use store::{LocalStore, StateStore};

use std::path::PathBuf;

use sv_planner::{Address, LockInfo, StateError};

/// Everything that can go wrong talking to Cloudflare or the state store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{what}: {source}")]
    Cloudflare {
        what: String,
        #[source]
        source: Box<sv_cloudflare::Error>,
    },
    #[error("cannot {what} `{}`: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file `{}` is unusable: {source}", path.display())]
    State {
        path: PathBuf,
        #[source]
        source: StateError,
    },
    #[error("the state is locked: {0}; if that run is gone, `sv-plan state unlock {id}`", id = .0.id)]
    Locked(Box<LockInfo>),
    #[error("no lock with id `{given}` is held{}", held.as_ref().map(|h| format!(" (held: {h})")).unwrap_or_default())]
    NoSuchLock {
        given: String,
        held: Option<Box<LockInfo>>,
    },
    #[error("zone `{0}` is not in this Cloudflare account (or the token cannot read it)")]
    ZoneNotFound(String),
    #[error("{0} needs a zone: set `zone:` on the environment in sv.yaml")]
    NoZone(Address),
    #[error("{address}: {what} is not supported yet")]
    Unsupported { address: Address, what: String },
    /// The resource exists (its id is in state) but a step after its creation failed
    /// (migrations, CORS, lifecycle); the next plan shows what is left.
    #[error("created (id {id}) but not finished: {source}")]
    Incomplete {
        id: String,
        #[source]
        source: Box<Error>,
    },
    #[error("no plan can be made: {0}")]
    Plan(#[source] sv_planner::PlanError),
    #[error("{address}: the plan has no id for it (re-run `sv-plan plan`)")]
    MissingId { address: Address },
    /// A conditional state write found a state this run did not read: another writer
    /// (one that did not hold the lock) replaced it.
    #[error(
        "state {location} was changed by another run since this one read it; nothing was \
         overwritten: plan again"
    )]
    StateChanged { location: String },
    #[error(
        "state is in R2 bucket `{bucket}`: reading it needs the Cloudflare API (set \
         CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID)"
    )]
    StateNeedsApi { bucket: String },
    /// The R2 state backend was used outside a multi-threaded tokio runtime.
    #[error("the R2 state backend needs a multi-threaded tokio runtime (as every sv binary runs)")]
    Runtime,
}

impl Error {
    pub(crate) fn cf(what: impl Into<String>) -> impl FnOnce(sv_cloudflare::Error) -> Error {
        let what = what.into();
        move |source| Error::Cloudflare {
            what,
            source: Box::new(source),
        }
    }
}
