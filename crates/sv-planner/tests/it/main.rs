//! Planner scenarios: each builds desired/observed/state as data and checks the plan.
#![allow(clippy::unwrap_used)]

mod render;
mod scenarios;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sv_planner::{
    Address, Attrs, Desired, Facts, Kind, Observed, Plan, PlanInput, PlanOptions, State,
    StateResource,
};

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

pub fn attrs(v: Value) -> Attrs {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn desired(address: &str, name: &str, a: Value, deps: &[&str]) -> Desired {
    Desired {
        address: addr(address),
        name: name.into(),
        attributes: attrs(a),
        sensitive: BTreeSet::new(),
        depends_on: deps.iter().map(|d| addr(d)).collect(),
        prevent_destroy: false,
    }
}

pub fn observed(kind: Kind, id: &str, name: &str, a: Value) -> Observed {
    Observed {
        kind,
        id: id.into(),
        name: name.into(),
        attributes: attrs(a),
        facts: Facts::default(),
    }
}

pub fn managed(state: &mut State, address: &str, id: &str, name: &str, a: Value, deps: &[&str]) {
    let address = addr(address);
    state.resources.insert(
        address.clone(),
        StateResource {
            kind: address.kind,
            id: id.into(),
            name: name.into(),
            attributes: attrs(a),
            depends_on: deps.iter().map(|d| addr(d)).collect(),
            prevent_destroy: false,
            updated_at: now(),
        },
    );
}

pub fn empty_state() -> State {
    State::new("production", "lineage-1")
}

pub fn plan(
    desired: &[Desired],
    observed: &[Observed],
    state: &State,
    options: PlanOptions,
) -> Result<Plan, sv_planner::PlanError> {
    Plan::compute(&PlanInput {
        environment: "production",
        desired,
        observed,
        state,
        config_checksum: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        options,
        now: now(),
        tool_version: "0.1.0",
    })
}

pub fn app_desired() -> Vec<Desired> {
    vec![
        desired("kv.sessions", "sessions", json!({"name": "sessions"}), &[]),
        desired(
            "d1.main",
            "main",
            json!({"name": "main", "location": "weur"}),
            &[],
        ),
        desired(
            "r2.uploads",
            "uploads",
            json!({"name": "uploads", "cors": [{"origins": ["https://spacevision.app"], "methods": ["GET", "PUT"]}]}),
            &[],
        ),
        desired(
            "dns.api",
            "api.spacevision.app",
            json!({"type": "CNAME", "content": "spacevision-api.workers.dev", "proxied": true}),
            &[],
        ),
        desired(
            "route.api",
            "api.spacevision.app/*",
            json!({"script": "spacevision-api"}),
            &["dns.api", "kv.sessions", "d1.main", "r2.uploads"],
        ),
    ]
}
