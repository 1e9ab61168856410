//! Identity and zones: token verify (user and account), user, memberships, accounts, zones.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, Query, ok, ok_info};
use crate::model::{Account, Model, Zone};
use crate::pagination::{PageBounds, PageReq};
use crate::state::AppState;

type S = State<Arc<AppState>>;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/user/tokens/verify", get(verify_token))
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

async fn verify_token(State(st): S) -> ApiResult {
    let id = st.read(|m| m.user.token_id.clone());
    ok(json!({"id": id, "status": "active"}))
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
