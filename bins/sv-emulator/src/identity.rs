//! Identity and zones: token verify (user and account), user, memberships, accounts, zones.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::api::{ApiError, ApiResult, Json, Query, ok, ok_info};
use crate::model::{Account, ApiToken, Model, Zone};
use crate::pagination::{PageBounds, PageReq};
use crate::server::{Known, bearer};
use crate::state::AppState;

type S = State<Arc<AppState>>;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/user/tokens/verify", get(verify_token))
        .route("/user/tokens", get(list_tokens).post(create_token))
        .route("/user/tokens/permission_groups", get(permission_groups))
        .route(
            "/user/tokens/{token_id}",
            get(get_token).put(update_token).delete(delete_token),
        )
        .route("/user/tokens/{token_id}/value", put(roll_token))
        .route("/accounts/{account_id}/tokens/verify", get(verify_token))
        .route("/user", get(user))
        .route("/memberships", get(list_memberships))
        .route("/memberships/{membership_id}", get(get_membership))
        .route("/accounts", get(list_accounts))
        .route("/accounts/{account_id}", get(get_account))
        .route("/zones", get(list_zones))
        .route("/zones/{zone_id}", get(get_zone))
}

const BOUNDS_5_50: PageBounds = PageBounds {
    default: 20,
    min: 5,
    max: 50,
};

async fn verify_token(State(st): S, headers: HeaderMap) -> ApiResult {
    // A token minted through /user/tokens verifies as itself; any other accepted token as
    // the seeded user's token.
    let minted = bearer(&headers).and_then(|t| {
        let hash = token_hash(t);
        st.read(|m| m.tokens.values().find(|x| x.value_sha256 == hash).cloned())
    });
    match minted {
        Some(t) => {
            let mut v = json!({"id": t.id, "status": st.effective_status(&t)});
            if let Some(n) = &t.not_before {
                v["not_before"] = json!(n);
            }
            if let Some(e) = &t.expires_on {
                v["expires_on"] = json!(e);
            }
            ok(v)
        }
        None => {
            let id = st.read(|m| m.user.token_id.clone());
            ok(json!({"id": id, "status": "active"}))
        }
    }
}

// ---- API tokens ----

fn token_hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Permission groups the emulator knows: the ones the sv tools ask for or check, with the
/// ids Cloudflare publishes (a token policy naming another id is refused).
const PERMISSION_GROUPS: [(&str, &str, &str); 20] = [
    (
        "c8fed203ed3043cba015a93ad1616f1f",
        "Zone Read",
        "com.cloudflare.api.account.zone",
    ),
    (
        "4755a26eedb94da69e1066d98aa820be",
        "DNS Write",
        "com.cloudflare.api.account.zone",
    ),
    (
        "e086da7e2179491d91ee5f35b3ca210a",
        "Workers Scripts Write",
        "com.cloudflare.api.account",
    ),
    (
        "f7f0eda5697f475c90846e879bab8666",
        "Workers KV Storage Write",
        "com.cloudflare.api.account",
    ),
    (
        "09b2857d1c31407795e75e3fed8617a1",
        "D1 Write",
        "com.cloudflare.api.account",
    ),
    (
        "bf7481a1826f439697cb59a20b22293e",
        "Workers R2 Storage Write",
        "com.cloudflare.api.account",
    ),
    (
        "8d28297797f24fb8a0c332fe0866ec89",
        "Pages Write",
        "com.cloudflare.api.account",
    ),
    (
        "05880cd1bdc24d8bae0be2136972816b",
        "Workers Tail Read",
        "com.cloudflare.api.account",
    ),
    (
        "b89a480218d04ceb98b4fe57ca29dc1f",
        "Account Analytics Read",
        "com.cloudflare.api.account",
    ),
    (
        "28f4b596e7d643029c524985477ae49a",
        "Workers Routes Write",
        "com.cloudflare.api.account.zone",
    ),
    (
        "8acbe5bb0d54464ab867149d7f7cf8ac",
        "User Details Read",
        "com.cloudflare.api.user",
    ),
    (
        "3518d0f75557482e952c6762d3e64903",
        "Memberships Read",
        "com.cloudflare.api.user",
    ),
    (
        "0cc3a61731504c89b99ec1be78b77aa0",
        "API Tokens Read",
        "com.cloudflare.api.user",
    ),
    (
        "8b47d2786a534c08a1f94ee8f9f599ef",
        "Workers KV Storage Read",
        "com.cloudflare.api.account",
    ),
    (
        "192192df92ee43ac90f2aeeffce67e35",
        "D1 Read",
        "com.cloudflare.api.account",
    ),
    (
        "b4992e1108244f5d8bfbd5744320c2e1",
        "Workers R2 Storage Read",
        "com.cloudflare.api.account",
    ),
    (
        "e247aedd66bd41cc9193af0213416666",
        "Pages Read",
        "com.cloudflare.api.account",
    ),
    (
        "1a71c399035b4950a1bd1466bbe4f420",
        "Workers Scripts Read",
        "com.cloudflare.api.account",
    ),
    (
        "82e64a83756745bbbb1c9c2701bf816b",
        "DNS Read",
        "com.cloudflare.api.account.zone",
    ),
    (
        "2072033d694d415a936eaeb94e6405b8",
        "Workers Routes Read",
        "com.cloudflare.api.account.zone",
    ),
];

impl AppState {
    /// `active`, `disabled` or `expired` (expiry and `not_before` from the clock).
    pub fn effective_status(&self, t: &ApiToken) -> &'static str {
        let now = self.now();
        let parse = |s: &Option<String>| {
            s.as_deref()
                .and_then(|x| chrono::DateTime::parse_from_rfc3339(x).ok())
        };
        if t.status == "disabled" {
            "disabled"
        } else if parse(&t.expires_on).is_some_and(|e| e <= now) {
            "expired"
        } else if parse(&t.not_before).is_some_and(|n| n > now) {
            "disabled"
        } else {
            "active"
        }
    }

    /// How the auth check sees a presented token value.
    pub(crate) fn token_status(&self, value: &str) -> Known {
        let hash = token_hash(value);
        match self.read(|m| m.tokens.values().find(|t| t.value_sha256 == hash).cloned()) {
            None => Known::Unknown,
            Some(t) if self.effective_status(&t) == "active" => Known::Active,
            Some(_) => Known::Inactive,
        }
    }

    /// Records that `value` authenticated a request: `last_used_on` of the minted token it
    /// is, or of the seeded token otherwise. Written at most once per token per day (the
    /// API's granularity for this field is coarse too), so it costs nothing per request.
    pub(crate) fn record_token_use(&self, value: &str) {
        let hash = token_hash(value);
        let now = self.now();
        let today = now.format("%Y-%m-%d").to_string();
        let stamp = now.format("%Y-%m-%dT00:00:00Z").to_string();
        let stale = |x: &Option<String>| x.as_deref().is_none_or(|d| !d.starts_with(&today));
        let needed = self.read(
            |m| match m.tokens.values().find(|t| t.value_sha256 == hash) {
                Some(t) => stale(&t.last_used_on),
                None => stale(&m.user.token_last_used_on),
            },
        );
        if needed {
            // A failed save only loses the stamp; the request itself goes on.
            let _ = self.mutate(|m| {
                match m.tokens.values_mut().find(|t| t.value_sha256 == hash) {
                    Some(t) => t.last_used_on = Some(stamp),
                    None => m.user.token_last_used_on = Some(stamp),
                }
                Ok(())
            });
        }
    }

    /// A fresh token value: 40 characters from the (seedable) RNG.
    fn token_value(&self) -> String {
        let a = self.hex_id();
        let b = self.hex_id();
        format!("{}{}", &a, &b[..8])
    }
}

fn token_json(st: &AppState, t: &ApiToken) -> Value {
    let mut v = json!({
        "id": t.id,
        "name": t.name,
        "status": st.effective_status(t),
        "policies": t.policies,
        "issued_on": t.issued_on,
        "modified_on": t.modified_on,
    });
    for (k, x) in [
        ("not_before", &t.not_before),
        ("expires_on", &t.expires_on),
        ("last_used_on", &t.last_used_on),
    ] {
        if let Some(x) = x {
            v[k] = json!(x);
        }
    }
    if let Some(c) = &t.condition {
        v["condition"] = c.clone();
    }
    v
}

fn token_not_found() -> ApiError {
    ApiError::not_found(1004, "Token not found")
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    name: String,
    policies: Vec<Value>,
    status: Option<String>,
    not_before: Option<String>,
    expires_on: Option<String>,
    condition: Option<Value>,
}

fn validate_token_body(b: &TokenBody) -> Result<(), ApiError> {
    let invalid = |m: String| ApiError::bad_request(1001, m);
    if b.name.trim().is_empty() || b.name.len() > 120 {
        return Err(invalid("Token name must be 1 to 120 characters".into()));
    }
    if b.policies.is_empty() {
        return Err(invalid("A token needs at least one policy".into()));
    }
    for (i, p) in b.policies.iter().enumerate() {
        if !matches!(p["effect"].as_str(), Some("allow" | "deny")) {
            return Err(invalid(format!("Policy {i}: effect must be allow or deny")));
        }
        if !p["resources"].is_object() {
            return Err(invalid(format!("Policy {i}: resources must be an object")));
        }
        let groups = p["permission_groups"].as_array().filter(|g| !g.is_empty());
        let Some(groups) = groups else {
            return Err(invalid(format!("Policy {i}: permission_groups is empty")));
        };
        for g in groups {
            let id = g["id"].as_str().unwrap_or("");
            if !PERMISSION_GROUPS.iter().any(|(pid, _, _)| *pid == id) {
                return Err(invalid(format!(
                    "Policy {i}: unknown permission group {id:?}"
                )));
            }
        }
    }
    for (name, v) in [("not_before", &b.not_before), ("expires_on", &b.expires_on)] {
        if let Some(v) = v
            && chrono::DateTime::parse_from_rfc3339(v).is_err()
        {
            return Err(invalid(format!("{name} must be an RFC 3339 time")));
        }
    }
    if let Some(s) = &b.status
        && !["active", "disabled", "expired"].contains(&s.as_str())
    {
        return Err(invalid(format!("Invalid status {s:?}")));
    }
    Ok(())
}

/// Gives each policy an id, as the API does.
fn with_policy_ids(st: &AppState, policies: &[Value]) -> Value {
    Value::Array(
        policies
            .iter()
            .map(|p| {
                let mut p = p.clone();
                if p["id"].as_str().is_none_or(str::is_empty) {
                    p["id"] = json!(st.hex_id());
                }
                p
            })
            .collect(),
    )
}

async fn list_tokens(State(st): S, Query(q): Query<ListQuery>) -> ApiResult {
    let req = PageReq::parse(q.page.as_deref(), q.per_page.as_deref(), BOUNDS_5_50)?;
    let mut items: Vec<Value> = st.read(|m| {
        std::iter::once(seeded_token(m))
            .chain(m.tokens.values().cloned())
            .map(|t| token_json(&st, &t))
            .collect()
    });
    sort_dir(&mut items, q.direction.as_deref());
    let (page, info) = req.slice(&items);
    ok_info(page, info)
}

async fn create_token(State(st): S, Json(b): Json<TokenBody>) -> ApiResult {
    validate_token_body(&b)?;
    let value = st.token_value();
    let now = st.now_rfc3339();
    let t = ApiToken {
        id: st.hex_id(),
        name: b.name.clone(),
        status: b.status.clone().unwrap_or_else(|| "active".into()),
        policies: with_policy_ids(&st, &b.policies),
        condition: b.condition.clone(),
        not_before: b.not_before.clone(),
        expires_on: b.expires_on.clone(),
        issued_on: now.clone(),
        modified_on: now,
        value_sha256: token_hash(&value),
        last_used_on: None,
    };
    st.mutate(|m| {
        m.tokens.insert(t.id.clone(), t.clone());
        Ok(())
    })?;
    // The value is shown once, here, and never stored.
    let mut out = token_json(&st, &t);
    out["value"] = json!(value);
    ok(out)
}

async fn get_token(State(st): S, Path(id): Path<String>) -> ApiResult {
    st.read(|m| {
        m.tokens
            .get(&id)
            .cloned()
            .or_else(|| (id == m.user.token_id).then(|| seeded_token(m)))
    })
    .map_or_else(|| Err(token_not_found()), |t| ok(token_json(&st, &t)))
}

/// The seeded token (the one `--token` sets, or any unminted bearer when unset) as a token
/// object: active, never expiring, allowed every permission group the emulator knows on every
/// seeded account, its zones and the user — what an account owner's all-powerful token looks
/// like, so scope checks (`sv-onboard doctor`, `token check`) see real policies.
fn seeded_token(m: &Model) -> ApiToken {
    let groups = |scope: &str| -> Vec<Value> {
        PERMISSION_GROUPS
            .iter()
            .filter(|(_, _, s)| *s == scope)
            .map(|(id, name, _)| json!({"id": id, "name": name}))
            .collect()
    };
    let accounts: serde_json::Map<String, Value> = m
        .accounts
        .iter()
        .map(|a| (format!("com.cloudflare.api.account.{}", a.id), json!("*")))
        .collect();
    let zones: serde_json::Map<String, Value> = m
        .accounts
        .iter()
        .map(|a| {
            (
                format!("com.cloudflare.api.account.{}", a.id),
                json!({"com.cloudflare.api.account.zone.*": "*"}),
            )
        })
        .collect();
    let id = &m.user.token_id;
    ApiToken {
        id: id.clone(),
        name: "sv-emulator seeded token".into(),
        status: "active".into(),
        policies: json!([
            {"id": format!("{}01", &id[..id.len().min(30)]), "effect": "allow", "resources": accounts,
             "permission_groups": groups("com.cloudflare.api.account")},
            {"id": format!("{}02", &id[..id.len().min(30)]), "effect": "allow", "resources": zones,
             "permission_groups": groups("com.cloudflare.api.account.zone")},
            {"id": format!("{}03", &id[..id.len().min(30)]), "effect": "allow",
             "resources": {format!("com.cloudflare.api.user.{}", m.user.id): "*"},
             "permission_groups": groups("com.cloudflare.api.user")},
        ]),
        issued_on: m.user.token_issued_on.clone(),
        modified_on: m.user.token_issued_on.clone(),
        last_used_on: m.user.token_last_used_on.clone(),
        ..ApiToken::default()
    }
}

/// The seeded token's value is configuration (`--token`), not data: it cannot be rolled,
/// edited or deleted through the API.
fn seeded_refused(m: &Model, id: &str) -> Result<(), ApiError> {
    if id == m.user.token_id {
        return Err(ApiError::bad_request(
            1001,
            "sv-emulator: the seeded token is set by --token and cannot be rolled, edited or \
             deleted; mint a token (POST /user/tokens) to test that",
        ));
    }
    Ok(())
}

async fn update_token(State(st): S, Path(id): Path<String>, Json(b): Json<TokenBody>) -> ApiResult {
    validate_token_body(&b)?;
    let policies = with_policy_ids(&st, &b.policies);
    let now = st.now_rfc3339();
    let t = st.mutate(|m| {
        seeded_refused(m, &id)?;
        let t = m.tokens.get_mut(&id).ok_or_else(token_not_found)?;
        t.name.clone_from(&b.name);
        t.policies = policies;
        if let Some(s) = &b.status {
            t.status.clone_from(s);
        }
        t.not_before.clone_from(&b.not_before);
        t.expires_on.clone_from(&b.expires_on);
        t.condition.clone_from(&b.condition);
        t.modified_on = now;
        Ok(t.clone())
    })?;
    ok(token_json(&st, &t))
}

async fn delete_token(State(st): S, Path(id): Path<String>) -> ApiResult {
    st.mutate(|m| {
        seeded_refused(m, &id)?;
        m.tokens.remove(&id).map(|_| ()).ok_or_else(token_not_found)
    })?;
    ok(json!({"id": id}))
}

/// Rolls the token: a new value, the old one stops working.
async fn roll_token(State(st): S, Path(id): Path<String>) -> ApiResult {
    let value = st.token_value();
    let hash = token_hash(&value);
    let now = st.now_rfc3339();
    st.mutate(|m| {
        seeded_refused(m, &id)?;
        let t = m.tokens.get_mut(&id).ok_or_else(token_not_found)?;
        t.value_sha256 = hash;
        t.modified_on = now;
        Ok(())
    })?;
    ok(value)
}

async fn permission_groups() -> ApiResult {
    let items: Vec<Value> = PERMISSION_GROUPS
        .iter()
        .map(|(id, name, scope)| json!({"id": id, "name": name, "scopes": [scope]}))
        .collect();
    let n = items.len();
    ok_info(
        items,
        json!({"page": 1, "per_page": n, "count": n, "total_count": n}),
    )
}

async fn user(State(st): S) -> ApiResult {
    let u = st.read(|m| m.user.clone());
    ok(json!({
        "id": u.id,
        "email": u.email,
        "first_name": null,
        "last_name": null,
        "username": u.id,
        "telephone": null,
        "country": null,
        "zipcode": null,
        "two_factor_authentication_enabled": false,
        "two_factor_authentication_locked": false,
        "has_pro_zones": false,
        "has_business_zones": false,
        "has_enterprise_zones": false,
        "suspended": false,
        "betas": [],
        "organizations": [],
    }))
}

fn account_json(a: &Account) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "type": "standard",
        "created_on": a.created_on,
        "settings": {
            "enforce_twofactor": false,
            "api_access_enabled": null,
            "use_account_custom_ns_by_default": false,
            "default_nameservers": "cloudflare.standard",
            "abuse_contact_email": null,
        },
    })
}

fn rw(write: bool) -> Value {
    json!({"read": true, "write": write})
}

fn membership_json(a: &Account) -> Value {
    json!({
        "id": a.membership_id,
        "account": {"id": a.id, "name": a.name, "created_on": a.created_on},
        "status": "accepted",
        "api_access_enabled": true,
        "roles": ["Super Administrator - All Privileges"],
        "permissions": {
            "analytics": rw(true), "billing": rw(true), "cache_purge": rw(true),
            "dns": rw(true), "dns_records": rw(true), "lb": rw(true), "logs": rw(true),
            "organization": rw(true), "ssl": rw(true), "waf": rw(true),
            "zone_settings": rw(true), "zones": rw(true),
        },
    })
}

#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
    name: Option<String>,
    direction: Option<String>,
    #[serde(rename = "account.id")]
    account_id: Option<String>,
    #[serde(rename = "account.name")]
    account_name: Option<String>,
    status: Option<String>,
}

fn sort_dir<T>(items: &mut [T], direction: Option<&str>) {
    if direction == Some("desc") {
        items.reverse();
    }
}

async fn list_accounts(State(st): S, Query(q): Query<ListQuery>) -> ApiResult {
    let req = PageReq::parse(q.page.as_deref(), q.per_page.as_deref(), BOUNDS_5_50)?;
    let mut items: Vec<Value> = st.read(|m| {
        m.accounts
            .iter()
            .filter(|a| q.name.as_deref().is_none_or(|n| a.name.contains(n)))
            .map(account_json)
            .collect()
    });
    sort_dir(&mut items, q.direction.as_deref());
    let (page, info) = req.slice(&items);
    ok_info(page, info)
}

async fn get_account(State(st): S, Path(account_id): Path<String>) -> ApiResult {
    st.read(|m| {
        m.accounts
            .iter()
            .find(|a| a.id == account_id)
            .map(account_json)
    })
    .map_or_else(|| Err(account_not_found()), ok)
}

fn account_not_found() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        9109,
        "Unauthorized to access requested resource",
    )
}

async fn list_memberships(State(st): S, Query(q): Query<ListQuery>) -> ApiResult {
    let req = PageReq::parse(q.page.as_deref(), q.per_page.as_deref(), BOUNDS_5_50)?;
    let items: Vec<Value> = st.read(|m| {
        m.accounts
            .iter()
            .filter(|a| {
                q.account_name.as_deref().is_none_or(|n| a.name.contains(n))
                    && q.status.as_deref().is_none_or(|s| s == "accepted")
            })
            .map(membership_json)
            .collect()
    });
    let (page, info) = req.slice(&items);
    ok_info(page, info)
}

async fn get_membership(State(st): S, Path(id): Path<String>) -> ApiResult {
    st.read(|m| {
        m.accounts
            .iter()
            .find(|a| a.membership_id == id)
            .map(membership_json)
    })
    .map_or_else(
        || Err(ApiError::not_found(1003, "Membership not found")),
        ok,
    )
}

pub(crate) fn zone_json(m: &Model, z: &Zone) -> Value {
    let account_name = m
        .accounts
        .iter()
        .find(|a| a.id == z.account_id)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    json!({
        "id": z.id,
        "name": z.name,
        "status": "active",
        "paused": false,
        "type": "full",
        "development_mode": 0,
        "name_servers": z.name_servers,
        "original_name_servers": null,
        "original_registrar": null,
        "original_dnshost": null,
        "created_on": z.created_on,
        "modified_on": z.created_on,
        "activated_on": z.created_on,
        "meta": {
            "step": 4,
            "custom_certificate_quota": 0,
            "page_rule_quota": 3,
            "phishing_detected": false,
            "multiple_railguns_allowed": false,
        },
        "owner": {"id": m.user.id, "type": "user", "email": m.user.email},
        "account": {"id": z.account_id, "name": account_name},
        "permissions": ["#zone:read", "#zone:edit", "#dns_records:edit", "#worker:edit"],
        "plan": {
            "id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
            "name": "Free Website",
            "price": 0,
            "currency": "USD",
            "frequency": "",
            "is_subscribed": false,
            "can_subscribe": false,
            "legacy_id": "free",
            "legacy_discount": false,
            "externally_managed": false,
        },
    })
}

/// Zone `name` filters accept `op:value` (`starts_with`, `ends_with`, `contains`, `equal`,
/// `not_equal`) besides a plain exact name.
pub(crate) fn name_matches(filter: &str, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let (op, value) = match filter.split_once(':') {
        Some((op, v))
            if matches!(
                op,
                "starts_with" | "ends_with" | "contains" | "equal" | "not_equal"
            ) =>
        {
            (op, v.to_ascii_lowercase())
        }
        _ => ("equal", filter.to_ascii_lowercase()),
    };
    match op {
        "starts_with" => name.starts_with(&value),
        "ends_with" => name.ends_with(&value),
        "contains" => name.contains(&value),
        "not_equal" => name != value,
        _ => name == value,
    }
}

async fn list_zones(State(st): S, Query(q): Query<ListQuery>) -> ApiResult {
    let req = PageReq::parse(q.page.as_deref(), q.per_page.as_deref(), BOUNDS_5_50)?;
    let mut items: Vec<Value> = st.read(|m| {
        let account_name = |id: &str| {
            m.accounts
                .iter()
                .find(|a| a.id == id)
                .map(|a| a.name.clone())
                .unwrap_or_default()
        };
        m.zones
            .iter()
            .filter(|z| {
                q.name.as_deref().is_none_or(|n| name_matches(n, &z.name))
                    && q.account_id.as_deref().is_none_or(|a| a == z.account_id)
                    && q.account_name
                        .as_deref()
                        .is_none_or(|n| name_matches(n, &account_name(&z.account_id)))
                    && q.status.as_deref().is_none_or(|s| s == "active")
            })
            .map(|z| zone_json(m, z))
            .collect()
    });
    sort_dir(&mut items, q.direction.as_deref());
    let (page, info) = req.slice(&items);
    ok_info(page, info)
}

async fn get_zone(State(st): S, Path(zone_id): Path<String>) -> ApiResult {
    st.read(|m| {
        m.zones
            .iter()
            .find(|z| z.id == zone_id)
            .map(|z| zone_json(m, z))
    })
    .map_or_else(
        || Err(ApiError::not_found(1001, "Invalid zone identifier")),
        ok,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_name_operators() {
        assert!(name_matches("example.com", "Example.com"));
        assert!(name_matches("starts_with:exa", "example.com"));
        assert!(name_matches("contains:ample", "example.com"));
        assert!(!name_matches("ends_with:.org", "example.com"));
        assert!(name_matches("not_equal:a.com", "example.com"));
    }
}
