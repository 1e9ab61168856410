//! `(desired, observed, state) -> Plan`.
//!
//! Matching: a desired resource is found in the live account through the id recorded in
//! state. A resource sv does not manage yet is never adopted silently: if one with the
//! same name exists, the plan says so and how to import it. Deletes only ever concern
//! resources recorded in state (sv never deletes what it did not create or import).
//!
//! Comparison: only attributes the config states are compared, so defaults nobody wrote
//! down never cause perpetual diffs. Changing an immutable attribute plans a replacement
//! and says which attribute forces it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Address, Attrs, Desired, Facts, Kind, Observed};
use crate::state::State;

/// Saved-plan format version.
pub const PLAN_VERSION: u32 = 1;

/// What the planner needs, all of it data.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub environment: &'a str,
    pub desired: &'a [Desired],
    /// Every live resource of the kinds sv manages (from list calls).
    pub observed: &'a [Observed],
    pub state: &'a State,
    /// sha256 of the config files the plan was made from.
    pub config_checksum: &'a str,
    pub options: PlanOptions,
    /// Injected clock, so renderings are reproducible.
    pub now: DateTime<Utc>,
    pub tool_version: &'a str,
}

/// Planner switches.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Plan the destruction of everything in state (`sv-plan destroy`).
    pub destroy: bool,
    /// Restrict the plan to these addresses and what they depend on (`--target`).
    pub targets: Vec<Address>,
    /// The environment is `protect: true`: deleting or replacing a data store is refused.
    pub protect: bool,
    /// Explicit override of `protect` and `prevent_destroy` (`--allow-data-loss`).
    pub allow_data_loss: bool,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    #[error("dependency cycle: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<Address>),
    #[error("{address} depends on {missing}, which is not declared")]
    UnknownDependency { address: Address, missing: Address },
    #[error("--target {0} matches no resource in the config or state")]
    UnknownTarget(Address),
    #[error(
        "{address} would be {verb}, but {why}; remove the protection in sv.yaml first, or \
         pass --allow-data-loss if this is really intended"
    )]
    Protected {
        address: Address,
        verb: &'static str,
        why: &'static str,
    },
    #[error("{0} is declared twice")]
    Duplicate(Address),
}

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated in place",
            Action::Replace => "replaced",
            Action::Delete => "deleted",
            Action::NoOp => "unchanged",
        }
    }
}

/// One attribute's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub name: String,
    pub before: Value,
    pub after: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
}

/// One resource in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    /// The live id, when the resource exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttributeChange>,
    /// Full desired attributes (what create/update/replace will send; digests for secrets).
    #[serde(default, skip_serializing_if = "Attrs::is_empty")]
    pub attributes: Attrs,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sensitive: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub depends_on: BTreeSet<Address>,
    #[serde(default)]
    pub prevent_destroy: bool,
}

impl Change {
    /// The name (and DNS type) identifying the live resource this change creates.
    pub fn natural_key(&self) -> String {
        crate::model::natural_key(self.kind, &self.name, &self.attributes)
    }
}

/// Severity of a risk note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Notice,
    Warning,
    DataLoss,
}

/// A Cloudflare-specific consequence of the plan, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    pub level: RiskLevel,
    pub address: Address,
    pub message: String,
}

/// A managed resource that changed outside sv since the last apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub address: Address,
    /// `true` when the resource was deleted outside sv.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttributeChange>,
}

/// Counts per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub no_op: usize,
}

impl Summary {
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.replace + self.delete > 0
    }
}

/// A plan: data, saved to a file between `plan` and `apply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub tool_version: String,
    pub environment: String,
    pub created_at: DateTime<Utc>,
    pub config_checksum: String,
    pub state_lineage: String,
    pub state_serial: u64,
    /// Digest of the live resources the plan was computed against.
    pub live_fingerprint: String,
    pub destroy: bool,
    pub summary: Summary,
    /// Every resource considered, sorted by address (no-ops included).
    pub changes: Vec<Change>,
    /// Addresses of the non-no-op changes, in execution waves: each wave only depends on
    /// earlier ones, so its operations can run in parallel.
    pub waves: Vec<Vec<Address>>,
    pub risks: Vec<Risk>,
    pub drift: Vec<Drift>,
    /// Notes that are not risks (e.g. a same-named unmanaged resource exists).
    pub notes: Vec<String>,
}

/// Why a saved plan may no longer be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the saved plan is stale: {}; run `sv-plan plan` again and review the new plan", .reasons.join("; "))]
pub struct Staleness {
    pub reasons: Vec<String>,
}

impl Plan {
    /// Computes a plan.
    pub fn compute(input: &PlanInput<'_>) -> Result<Plan, PlanError> {
        let desired = index_desired(input.desired)?;
        validate_dependencies(&desired)?;
        let observed_by_id: BTreeMap<(Kind, &str), &Observed> = input
            .observed
            .iter()
            .map(|o| ((o.kind, o.id.as_str()), o))
            .collect();
        let observed_by_key: BTreeMap<(Kind, String), &Observed> = input
            .observed
            .iter()
            .map(|o| ((o.kind, o.natural_key()), o))
            .collect();

        let mut changes = BTreeMap::new();
        let mut drift = Vec::new();
        let mut notes = Vec::new();
        let mut facts: BTreeMap<Address, Facts> = BTreeMap::new();
        let mut fingerprint_items: BTreeMap<String, Value> = BTreeMap::new();

        // Resources in state: matched by id.
        for (address, managed) in &input.state.resources {
            let live = observed_by_id
                .get(&(managed.kind, managed.id.as_str()))
                .copied();
            fingerprint_items.insert(address.to_string(), fingerprint_of(live));
            match live {
                None => drift.push(Drift {
                    address: address.clone(),
                    deleted: true,
                    changes: Vec::new(),
                }),
                Some(live) => {
                    facts.insert(address.clone(), live.facts.clone());
                    // `diff` says live -> recorded; drift is recorded (was) -> live (now).
                    let changed: Vec<AttributeChange> = diff(
                        &managed.attributes,
                        &live.attributes,
                        &BTreeSet::new(),
                        managed.kind,
                    )
                    .into_iter()
                    .map(|a| AttributeChange {
                        before: a.after,
                        after: a.before,
                        ..a
                    })
                    .collect();
                    if !changed.is_empty() {
                        drift.push(Drift {
                            address: address.clone(),
                            deleted: false,
                            changes: changed,
                        });
                    }
                }
            }
            let wanted = desired.get(address).filter(|_| !input.options.destroy);
            let change = match (wanted, live) {
                (Some(want), Some(live)) => {
                    update_or_replace(want, Some(&live.id), &live.attributes)
                }
                (Some(want), None) => create(want),
                (None, Some(live)) => Change {
                    address: address.clone(),
                    kind: managed.kind,
                    name: live.name.clone(),
                    action: Action::Delete,
                    id: Some(live.id.clone()),
                    changes: Vec::new(),
                    attributes: Attrs::new(),
                    sensitive: BTreeSet::new(),
                    depends_on: managed.depends_on.clone(),
                    prevent_destroy: managed.prevent_destroy,
                },
                // Gone already and no longer wanted: only state forgets it.
                (None, None) => continue,
            };
            changes.insert(address.clone(), change);
        }

        // Desired resources sv does not manage yet.
        if !input.options.destroy {
            for (address, want) in &desired {
                if changes.contains_key(*address) || input.state.resources.contains_key(*address) {
                    continue;
                }
                let existing = observed_by_key.get(&(want.address.kind, want.natural_key()));
                fingerprint_items.insert(address.to_string(), fingerprint_of(existing.copied()));
                if let Some(existing) = existing {
                    notes.push(format!(
                        "{address}: a {} named `{}` already exists (id {}) but is not managed by sv; \
                         creating it will fail. Adopt it with `sv-plan import {address} {}`.",
                        want.address.kind.label(),
                        existing.name,
                        existing.id,
                        existing.id
                    ));
                }
                changes.insert((*address).clone(), create(want));
            }
        }

        let mut changes = restrict_to_targets(changes, &input.options.targets, input.state)?;
        check_protection(&changes, input)?;
        let risks = risks(&changes, &facts);
        for change in changes.values_mut() {
            if change.action == Action::Delete {
                change.changes.clear();
            }
        }
        let waves = waves(&changes, input.state)?;
        let changes: Vec<Change> = changes.into_values().collect();
        let mut summary = Summary::default();
        for c in &changes {
            match c.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.delete += 1,
                Action::NoOp => summary.no_op += 1,
            }
        }
        let fingerprint = crate::sha256(
            serde_json::to_string(&fingerprint_items)
                .unwrap_or_default()
                .as_bytes(),
        );
        Ok(Plan {
            format_version: PLAN_VERSION,
            tool_version: input.tool_version.to_owned(),
            environment: input.environment.to_owned(),
            created_at: input.now,
            config_checksum: input.config_checksum.to_owned(),
            state_lineage: input.state.lineage.clone(),
            state_serial: input.state.serial,
            live_fingerprint: fingerprint,
            destroy: input.options.destroy,
            summary,
            changes,
            waves,
            risks,
            drift,
            notes,
        })
    }

    /// Checks that applying this saved plan is still what was reviewed: same config, same
    /// state serial and lineage, same live resources.
    pub fn check_fresh(&self, current: &Plan) -> Result<(), Staleness> {
        let mut reasons = Vec::new();
        if self.environment != current.environment {
            reasons.push(format!(
                "it was made for environment `{}`, not `{}`",
                self.environment, current.environment
            ));
        }
        if self.config_checksum != current.config_checksum {
            reasons.push("sv.yaml or the wrangler config changed since it was made".to_owned());
        }
        if self.state_lineage != current.state_lineage {
            reasons.push("it was made against a different state file (lineage differs)".to_owned());
        } else if self.state_serial != current.state_serial {
            reasons.push(format!(
                "the state moved from serial {} to {} (another apply ran)",
                self.state_serial, current.state_serial
            ));
        }
        if self.live_fingerprint != current.live_fingerprint {
            reasons.push("live resources changed since it was made".to_owned());
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(Staleness { reasons })
        }
    }

    /// The change for `address`.
    pub fn change(&self, address: &Address) -> Option<&Change> {
        self.changes.iter().find(|c| &c.address == address)
    }

    /// The highest risk level in the plan.
    pub fn max_risk(&self) -> Option<RiskLevel> {
        self.risks.iter().map(|r| r.level).max()
    }
}

fn index_desired(desired: &[Desired]) -> Result<BTreeMap<&Address, &Desired>, PlanError> {
    let mut out = BTreeMap::new();
    for d in desired {
        if out.insert(&d.address, d).is_some() {
            return Err(PlanError::Duplicate(d.address.clone()));
        }
    }
    Ok(out)
}

fn validate_dependencies(desired: &BTreeMap<&Address, &Desired>) -> Result<(), PlanError> {
    for d in desired.values() {
        if let Some(missing) = d.depends_on.iter().find(|dep| !desired.contains_key(dep)) {
            return Err(PlanError::UnknownDependency {
                address: d.address.clone(),
                missing: missing.clone(),
            });
        }
    }
    Ok(())
}

fn fingerprint_of(live: Option<&Observed>) -> Value {
    live.map_or(
        Value::Null,
        |o| serde_json::json!({"id": o.id, "name": o.name, "attributes": o.attributes}),
    )
}

fn create(want: &Desired) -> Change {
    let changes = want
        .attributes
        .iter()
        .map(|(k, v)| AttributeChange {
            name: k.clone(),
            before: Value::Null,
            after: v.clone(),
            sensitive: want.sensitive.contains(k),
            forces_replacement: false,
        })
        .collect();
    Change {
        address: want.address.clone(),
        kind: want.address.kind,
        name: want.name.clone(),
        action: Action::Create,
        id: None,
        changes,
        attributes: want.attributes.clone(),
        sensitive: want.sensitive.clone(),
        depends_on: want.depends_on.clone(),
        prevent_destroy: want.prevent_destroy,
    }
}

fn update_or_replace(want: &Desired, id: Option<&String>, live: &Attrs) -> Change {
    let changes = diff(&want.attributes, live, &want.sensitive, want.address.kind);
    let action = if changes.is_empty() {
        Action::NoOp
    } else if changes.iter().any(|c| c.forces_replacement) {
        Action::Replace
    } else {
        Action::Update
    };
    Change {
        address: want.address.clone(),
        kind: want.address.kind,
        name: want.name.clone(),
        action,
        id: id.cloned(),
        changes,
        attributes: want.attributes.clone(),
        sensitive: want.sensitive.clone(),
        depends_on: want.depends_on.clone(),
        prevent_destroy: want.prevent_destroy,
    }
}

/// Attributes of `wanted` that differ in `live` (missing in `live` counts as null).
fn diff(
    wanted: &Attrs,
    live: &Attrs,
    sensitive: &BTreeSet<String>,
    kind: Kind,
) -> Vec<AttributeChange> {
    wanted
        .iter()
        .filter_map(|(name, after)| {
            let before = live.get(name).cloned().unwrap_or(Value::Null);
            (before != *after).then(|| AttributeChange {
                name: name.clone(),
                before,
                after: after.clone(),
                sensitive: sensitive.contains(name),
                forces_replacement: kind.immutable_attributes().contains(&name.as_str()),
            })
        })
        .collect()
}

/// Keeps only the targeted changes and everything they depend on.
fn restrict_to_targets(
    changes: BTreeMap<Address, Change>,
    targets: &[Address],
    state: &State,
) -> Result<BTreeMap<Address, Change>, PlanError> {
    if targets.is_empty() {
        return Ok(changes);
    }
    let mut keep = BTreeSet::new();
    let mut queue: Vec<Address> = Vec::new();
    for t in targets {
        if !changes.contains_key(t) && !state.resources.contains_key(t) {
            return Err(PlanError::UnknownTarget(t.clone()));
        }
        queue.push(t.clone());
    }
    while let Some(a) = queue.pop() {
        if keep.insert(a.clone())
            && let Some(c) = changes.get(&a)
        {
            queue.extend(c.depends_on.iter().cloned());
        }
    }
    Ok(changes
        .into_iter()
        .filter(|(a, _)| keep.contains(a))
        .collect())
}

fn check_protection(
    changes: &BTreeMap<Address, Change>,
    input: &PlanInput<'_>,
) -> Result<(), PlanError> {
    if input.options.allow_data_loss {
        return Ok(());
    }
    for c in changes.values() {
        let verb = match c.action {
            Action::Delete => "deleted",
            Action::Replace => "replaced",
            _ => continue,
        };
        if c.prevent_destroy {
            return Err(PlanError::Protected {
                address: c.address.clone(),
                verb,
                why: "it has lifecycle.prevent_destroy",
            });
        }
        if input.options.protect && c.kind.holds_data() {
            return Err(PlanError::Protected {
                address: c.address.clone(),
                verb,
                why: "the environment is protected (protect: true) and it holds data",
            });
        }
    }
    Ok(())
}

fn risks(changes: &BTreeMap<Address, Change>, facts: &BTreeMap<Address, Facts>) -> Vec<Risk> {
    let mut out = Vec::new();
    for c in changes.values() {
        let f = facts.get(&c.address).cloned().unwrap_or_default();
        let destructive = matches!(c.action, Action::Delete | Action::Replace);
        let verb = if c.action == Action::Replace {
            "Replacing"
        } else {
            "Deleting"
        };
        let mut push = |level, message: String| {
            out.push(Risk {
                level,
                address: c.address.clone(),
                message,
            });
        };
        if destructive {
            match c.kind {
                Kind::D1 => push(
                    RiskLevel::DataLoss,
                    format!(
                        "{verb} D1 database `{}` deletes every table and row in it.",
                        c.name
                    ),
                ),
                Kind::R2 => push(
                    RiskLevel::DataLoss,
                    match f.item_count {
                        Some(n) => {
                            format!("{verb} R2 bucket `{}` deletes its {n} object(s).", c.name)
                        }
                        None => {
                            format!("{verb} R2 bucket `{}` deletes every object in it.", c.name)
                        }
                    },
                ),
                Kind::Kv => push(
                    RiskLevel::DataLoss,
                    match f.item_count {
                        Some(n) => {
                            format!("{verb} KV namespace `{}` deletes its {n} key(s).", c.name)
                        }
                        None => {
                            format!("{verb} KV namespace `{}` deletes every key in it.", c.name)
                        }
                    },
                ),
                Kind::Pages => push(
                    RiskLevel::Warning,
                    format!(
                        "{verb} Pages project `{}` removes its deployments and its *.pages.dev site.",
                        c.name
                    ),
                ),
                Kind::Dns => push(
                    RiskLevel::Warning,
                    format!(
                        "{verb} DNS record `{}` makes the name stop resolving until it exists again.",
                        c.name
                    ),
                ),
                Kind::WorkerRoute | Kind::CustomDomain => push(
                    RiskLevel::Warning,
                    format!(
                        "{verb} `{}` stops traffic from reaching the Worker through it.",
                        c.name
                    ),
                ),
                Kind::Cron => push(
                    RiskLevel::Notice,
                    format!("Scheduled runs of `{}` stop.", c.name),
                ),
            }
            for script in &f.bound_by {
                push(
                    RiskLevel::Warning,
                    format!(
                        "Deployed Worker `{script}` binds this {}; it will fail at runtime until redeployed without the binding.",
                        c.kind.label()
                    ),
                );
            }
        }
        if c.kind == Kind::Dns
            && c.action == Action::Update
            && let Some(p) = c.changes.iter().find(|a| a.name == "proxied")
            && p.before == Value::Bool(true)
            && p.after == Value::Bool(false)
        {
            push(
                RiskLevel::Warning,
                format!(
                    "DNS record `{}` goes from proxied to DNS-only: the origin address becomes public.",
                    c.name
                ),
            );
        }
        if c.kind == Kind::Pages
            && c.action == Action::Update
            && let Some(d) = c.changes.iter().find(|a| a.name == "custom_domains")
        {
            let kept = d.after.as_array().cloned().unwrap_or_default();
            for host in d
                .before
                .as_array()
                .into_iter()
                .flatten()
                .filter(|h| !kept.contains(h))
                .filter_map(Value::as_str)
            {
                push(
                    RiskLevel::Warning,
                    format!(
                        "Removing custom domain `{host}` from Pages project `{}`: the site stops answering on that host.",
                        c.name
                    ),
                );
            }
        }
    }
    out.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then_with(|| a.address.cmp(&b.address))
    });
    out
}

/// Execution waves over the non-no-op changes. Creates and updates wait for what they
/// depend on; deletes wait for the deletion of what depends on them.
fn waves(
    changes: &BTreeMap<Address, Change>,
    state: &State,
) -> Result<Vec<Vec<Address>>, PlanError> {
    let active: BTreeSet<&Address> = changes
        .values()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| &c.address)
        .collect();
    // prerequisites[a] = actions that must finish before a.
    let mut prerequisites: BTreeMap<&Address, BTreeSet<&Address>> =
        active.iter().map(|a| (*a, BTreeSet::new())).collect();
    for c in changes.values().filter(|c| active.contains(&c.address)) {
        if c.action == Action::Delete {
            for (dependent, managed) in &state.resources {
                let dependent_deleted = changes
                    .get(dependent)
                    .is_some_and(|d| d.action == Action::Delete);
                if dependent_deleted
                    && managed.depends_on.contains(&c.address)
                    && let Some(p) = prerequisites.get_mut(&c.address)
                {
                    p.insert(dependent);
                }
            }
        } else {
            for dep in &c.depends_on {
                if active.contains(dep)
                    && changes.get(dep).is_some_and(|d| d.action != Action::Delete)
                    && let Some(p) = prerequisites.get_mut(&c.address)
                {
                    p.insert(dep);
                }
            }
        }
    }
    let mut done: BTreeSet<&Address> = BTreeSet::new();
    let mut out = Vec::new();
    while done.len() < prerequisites.len() {
        let wave: Vec<&Address> = prerequisites
            .iter()
            .filter(|(a, pre)| !done.contains(*a) && pre.iter().all(|p| done.contains(p)))
            .map(|(a, _)| *a)
            .collect();
        if wave.is_empty() {
            let stuck: Vec<&Address> = prerequisites
                .keys()
                .filter(|a| !done.contains(*a))
                .copied()
                .collect();
            return Err(PlanError::Cycle(find_cycle(&stuck, &prerequisites)));
        }
        done.extend(wave.iter().copied());
        out.push(wave.into_iter().cloned().collect());
    }
    Ok(out)
}

/// A concrete cycle among `stuck` nodes, for the error message.
fn find_cycle(
    stuck: &[&Address],
    prerequisites: &BTreeMap<&Address, BTreeSet<&Address>>,
) -> Vec<Address> {
    let stuck_set: BTreeSet<&Address> = stuck.iter().copied().collect();
    let Some(start) = stuck.first() else {
        return Vec::new();
    };
    let mut path: Vec<&Address> = vec![start];
    let mut current = *start;
    loop {
        let next = prerequisites
            .get(current)
            .and_then(|pre| pre.iter().find(|p| stuck_set.contains(*p)))
            .copied();
        let Some(next) = next else {
            return path.into_iter().cloned().collect();
        };
        if let Some(pos) = path.iter().position(|a| *a == next) {
            let mut cycle: Vec<Address> = path[pos..].iter().map(|a| (*a).clone()).collect();
            cycle.push(next.clone());
            return cycle;
        }
        path.push(next);
        current = next;
    }
}
