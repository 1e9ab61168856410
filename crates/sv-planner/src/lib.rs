//! The planner of `sv-plan`, pure by design: no I/O, no async, no CLI.
//!
//! - [`model`]: resource kinds, addresses, the desired and observed views of a resource.
//! - [`state`]: what sv manages (ids, last-applied attributes, serial, lineage), serialised
//!   with a checksum that is verified on every read; lock records.
//! - [`plan`]: `(desired, observed, state) -> Plan`: create / update / replace / delete /
//!   no-op per resource, attribute-level diffs, Cloudflare-aware risk notes, drift, and
//!   dependency waves; plus the freshness check that stops a stale saved plan.
//! - [`render`]: the plan as terraform-like text and as Markdown for PR comments.
//!
//! Reading the live account and executing a plan belong to the binary, which feeds this
//! crate data and carries out its decisions, one re-runnable operation at a time.

pub mod model;
pub mod plan;
pub mod render;
pub mod state;

pub use model::{Address, AddressError, Attrs, Desired, Facts, Kind, Observed};
pub use plan::{
    Action, AttributeChange, Change, Drift, Plan, PlanError, PlanInput, PlanOptions, Risk,
    RiskLevel, Staleness, Summary,
};
pub use state::{LockInfo, PendingCreate, State, StateError, StateResource};
pub use sv_report::{Render, Styles};

/// sha256 of `bytes` as `sha256:<hex>`, the one checksum format sv uses.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
