//! Adopting live resources of a derived environment into its state by name.
//!
//! sv never adopts silently in declared environments (`sv-plan import` does it on request).
//! A derived environment's names carry a prefix that only it uses (`pr-7-`, `dev-alice-`),
//! so a live resource with exactly a desired name is that environment's own: made by an
//! earlier run whose state was not kept (a CI job starts from a fresh checkout, so
//! `.sv/state/pr-7.json` is gone on the next push). Recording those in state before
//! [`crate::converge`] makes re-running a preview converge instead of failing on "already
//! exists", and lets a fresh job destroy what an earlier job made.
//!
//! Attributes are recorded as the live account shows them (the same reads as `sv-plan
//! import`), so the following plan shows whatever still differs from sv.yaml.

use sv_planner::{Address, Attrs, Desired, Kind, LockInfo, Observed, State, StateResource};

use crate::{ConvergeRequest, Error};

/// `live` recorded as the managed resource `want`: its attributes as the live account shows
/// them, for the keys `want` has — R2 CORS and lifecycle rules and applied D1 migrations
/// read for it, and what the API never reports (a D1 location hint) taken as configured —
/// so the next plan shows exactly what still differs from sv.yaml. `sv-plan import` and
/// [`adopt_by_name`] both record resources this way.
///
/// # Errors
/// Reading the rules or migrations fails.
pub async fn adopted_resource(
    client: &sv_cloudflare::Client,
    live: &Observed,
    want: &Desired,
) -> Result<StateResource, Error> {
    let mut live_attrs = live.attributes.clone();
    if live.kind == Kind::R2 {
        // Rules are not in the bucket listing: read those the config manages.
        let rules = crate::inventory::bucket_rules(
            client,
            &live.name,
            live.attributes.get("jurisdiction").and_then(|j| j.as_str()),
            want.attributes.contains_key("cors"),
            want.attributes.contains_key("lifecycle_rules"),
        )
        .await?;
        live_attrs.extend(rules);
    }
    let mut attributes = Attrs::new();
    for (k, v) in &want.attributes {
        let value = match (k.as_str(), live_attrs.get(k)) {
            (_, Some(live)) => live.clone(),
            // A rule set the bucket does not have.
            ("cors" | "lifecycle_rules", None) => serde_json::Value::Null,
            ("migrations", None) => serde_json::json!(
                crate::inventory::applied_migrations(client, &live.id, &live.name).await?
            ),
            // Not reported by the API (a D1 location hint): assumed as configured.
            (_, None) => v.clone(),
        };
        attributes.insert(k.clone(), value);
    }
    Ok(StateResource {
        kind: live.kind,
        id: live.id.clone(),
        name: live.name.clone(),
        attributes,
        depends_on: want.depends_on.clone(),
        prevent_destroy: want.prevent_destroy,
        updated_at: chrono::Utc::now(),
    })
}

/// Records in `req.store` every desired resource of `req.env` that is missing from state
/// but exists live under its exact name. Returns the adopted addresses (empty: nothing
/// written, no lock taken).
///
/// Only for derived environments (developer, preview): callers must not use it on declared
/// ones, whose names are not reserved.
///
/// # Errors
/// State unreadable or locked, or the API fails.
pub async fn adopt_by_name(req: &ConvergeRequest<'_>) -> Result<Vec<Address>, Error> {
    let mut state = req
        .store
        .load()?
        .unwrap_or_else(|| State::new(&req.env.name, ""));
    let desired = crate::desired(req.env, req.root)?;
    let missing: Vec<Desired> = desired
        .into_iter()
        .filter(|d| !state.resources.contains_key(&d.address))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let reads = crate::inventory::Reads::in_use(&missing, &state);
    let inventory = crate::inventory(req.client, req.env.zone.as_deref(), &state, &reads).await?;
    let mut adopted = Vec::new();
    let mut records = Vec::new();
    for want in &missing {
        let key = want.natural_key();
        let Some(live) = inventory
            .observed
            .iter()
            .find(|o| o.kind == want.address.kind && o.natural_key() == key)
        else {
            continue;
        };
        adopted.push(want.address.clone());
        records.push((
            want.address.clone(),
            adopted_resource(req.client, live, want).await?,
        ));
    }
    if records.is_empty() {
        return Ok(adopted);
    }
    let lock = LockInfo {
        id: uuid::Uuid::new_v4().to_string(),
        owner: req.owner.clone(),
        operation: format!("{} (adopt)", req.operation),
        reason: None,
        created_at: chrono::Utc::now(),
        run_url: None,
    };
    req.store.lock(&lock)?;
    if state.lineage.is_empty() {
        state.lineage = uuid::Uuid::new_v4().to_string();
    }
    state.resources.extend(records);
    state.serial += 1;
    let saved = req.store.save(&state);
    let unlocked = req.store.unlock(&lock.id);
    saved?;
    unlocked?;
    Ok(adopted)
}
