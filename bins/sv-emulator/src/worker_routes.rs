//! Worker triggers that are not versioned: zone routes (per zone and the per-script bulk
//! form wrangler uses) and custom domains (account API and wrangler's `domains/records`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, Json, Query, ok};
use crate::model::{CustomDomain, Model, WorkerRoute};
use crate::state::AppState;
use crate::workers::{script_not_found, valid_script_name};

type S = State<Arc<AppState>>;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let z = "/zones/{zone_id}/workers/routes";
    let a = "/accounts/{account_id}/workers";
    Router::new()
        .route(z, get(list_routes).post(create_route))
        .route(
            &format!("{z}/{{route_id}}"),
            get(get_route).put(update_route).delete(delete_route),
        )
        .route(
            &format!("{a}/scripts/{{script_name}}/routes"),
            get(list_script_routes).put(put_script_routes),
        )
        .route(
            &format!("{a}/domains"),
            get(list_domains).put(attach_domain),
        )
        .route(
            &format!("{a}/domains/{{domain_id}}"),
            get(get_domain).delete(detach_domain),
        )
        .route(
            &format!("{a}/scripts/{{script_name}}/domains/records"),
            put(put_domain_records),
        )
}

fn route_not_found() -> ApiError {
    ApiError::not_found(10020, "Route not found")
}

fn route_json(r: &WorkerRoute) -> Value {
    json!({"id": r.id, "pattern": r.pattern, "script": r.script.clone().unwrap_or_default()})
}

/// Host part of a route pattern (`*.example.com/api/*` → `*.example.com`).
fn pattern_host(pattern: &str) -> &str {
    let p = pattern
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    p.split('/').next().unwrap_or(p)
}

/// Whether a route pattern belongs to a zone: its host is the zone or a subdomain of it
/// (a leading `*` wildcard allowed).
fn pattern_in_zone(pattern: &str, zone: &str) -> bool {
    let host = pattern_host(pattern)
        .trim_start_matches('*')
        .trim_start_matches('.');
    let zone = zone.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    !pattern.is_empty() && (host == zone || host.ends_with(&format!(".{zone}")) || host.is_empty())
}

/// Matches `host/path` against a route pattern with `*` wildcards.
pub fn route_matches(pattern: &str, host: &str, path: &str) -> bool {
    let p = pattern
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_ascii_lowercase();
    let target = format!(
        "{}{}",
        host.to_ascii_lowercase(),
        if path.is_empty() { "/" } else { path }
    );
    let p = if p.contains('/') { p } else { format!("{p}/") };
    wildcard(&p, &target)
}

fn wildcard(p: &str, s: &str) -> bool {
    let (pb, sb) = (p.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < sb.len() {
        if pi < pb.len() && pb[pi] == sb[si] {
            pi += 1;
            si += 1;
        } else if pi < pb.len() && pb[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < pb.len() && pb[pi] == b'*' {
        pi += 1;
    }
    pi == pb.len()
}

fn zone_name(m: &Model, zone_id: &str) -> String {
    m.zones
        .iter()
        .find(|z| z.id == zone_id)
        .map(|z| z.name.clone())
        .unwrap_or_default()
}

impl AppState {
    pub fn create_route(
        &self,
        zone_id: &str,
        pattern: &str,
        script: Option<&str>,
    ) -> Result<WorkerRoute, ApiError> {
        let id = self.hex_id();
        self.mutate(|m| {
            let zone = zone_name(m, zone_id);
            if !pattern_in_zone(pattern, &zone) {
                return Err(ApiError::bad_request(
                    10022,
                    format!("Route pattern {pattern:?} does not belong to zone {zone}"),
                ));
            }
            if let Some(s) = script {
                if !valid_script_name(s) {
                    return Err(ApiError::bad_request(
                        10016,
                        format!("Invalid Worker name {s:?}"),
                    ));
                }
                if !m.workers.contains_key(s) {
                    return Err(script_not_found());
                }
            }
            if m.routes
                .values()
                .any(|r| r.zone_id == zone_id && r.pattern == pattern)
            {
                return Err(ApiError::conflict(
                    10020,
                    "A route with the same pattern already exists",
                ));
            }
            let r = WorkerRoute {
                id: id.clone(),
                zone_id: zone_id.to_string(),
                pattern: pattern.to_string(),
                script: script.map(str::to_string),
            };
            m.routes.insert(id, r.clone());
            Ok(r)
        })
    }
}

async fn list_routes(State(st): S, Path(zone_id): Path<String>) -> ApiResult {
    ok(st.read(|m| {
        m.routes
            .values()
            .filter(|r| r.zone_id == zone_id)
            .map(route_json)
            .collect::<Vec<_>>()
    }))
}

#[derive(Debug, Deserialize)]
struct RouteBody {
    pattern: String,
    script: Option<String>,
}

async fn create_route(
    State(st): S,
    Path(zone_id): Path<String>,
    Json(b): Json<RouteBody>,
) -> ApiResult {
    ok(route_json(&st.create_route(
        &zone_id,
        &b.pattern,
        b.script.as_deref().filter(|s| !s.is_empty()),
    )?))
}

async fn get_route(State(st): S, Path((zone_id, id)): Path<(String, String)>) -> ApiResult {
    st.read(|m| {
        m.routes
            .get(&id)
            .filter(|r| r.zone_id == zone_id)
            .map(route_json)
    })
    .map_or_else(|| Err(route_not_found()), ok)
}

async fn update_route(
    State(st): S,
    Path((zone_id, id)): Path<(String, String)>,
    Json(b): Json<RouteBody>,
) -> ApiResult {
    let out = st.mutate(|m| {
        let zone = zone_name(m, &zone_id);
        if !pattern_in_zone(&b.pattern, &zone) {
            return Err(ApiError::bad_request(
                10022,
                format!(
                    "Route pattern {:?} does not belong to zone {zone}",
                    b.pattern
                ),
            ));
        }
        if let Some(s) = b.script.as_deref().filter(|s| !s.is_empty())
            && !m.workers.contains_key(s)
        {
            return Err(script_not_found());
        }
        if m.routes
            .values()
            .any(|r| r.zone_id == zone_id && r.pattern == b.pattern && r.id != id)
        {
            return Err(ApiError::conflict(
                10020,
                "A route with the same pattern already exists",
            ));
        }
        let r = m
            .routes
            .get_mut(&id)
            .filter(|r| r.zone_id == zone_id)
            .ok_or_else(route_not_found)?;
        r.pattern.clone_from(&b.pattern);
        r.script = b.script.clone().filter(|s| !s.is_empty());
        Ok(route_json(r))
    })?;
    ok(out)
}

async fn delete_route(State(st): S, Path((zone_id, id)): Path<(String, String)>) -> ApiResult {
    st.mutate(|m| {
        if m.routes.get(&id).is_none_or(|r| r.zone_id != zone_id) {
            return Err(route_not_found());
        }
        m.routes.remove(&id);
        Ok(())
    })?;
    ok(json!({"id": id}))
}

async fn list_script_routes(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    ok(st.read(|m| {
        m.routes
            .values()
            .filter(|r| r.script.as_deref() == Some(name.as_str()))
            .map(|r| json!({"id": r.id, "pattern": r.pattern, "script": name, "zone_id": r.zone_id, "zone_name": zone_name(m, &r.zone_id)}))
            .collect::<Vec<_>>()
    }))
}

#[derive(Debug, Deserialize)]
struct ScriptRoute {
    pattern: String,
    zone_id: Option<String>,
    zone_name: Option<String>,
    #[serde(default)]
    custom_domain: bool,
}

/// Finds the zone of a pattern: explicit id, explicit name, or the longest zone suffix.
fn find_zone(m: &Model, r: &ScriptRoute) -> Result<String, ApiError> {
    if let Some(id) = &r.zone_id {
        return m
            .zones
            .iter()
            .find(|z| &z.id == id)
            .map(|z| z.id.clone())
            .ok_or_else(|| ApiError::bad_request(10022, format!("Unknown zone id {id}")));
    }
    let by_name = r.zone_name.clone();
    let host = pattern_host(&r.pattern)
        .trim_start_matches("*.")
        .to_ascii_lowercase();
    m.zones
        .iter()
        .filter(|z| {
            by_name.as_ref().map_or_else(
                || host == z.name || host.ends_with(&format!(".{}", z.name)),
                |n| n == &z.name,
            )
        })
        .max_by_key(|z| z.name.len())
        .map(|z| z.id.clone())
        .ok_or_else(|| {
            ApiError::bad_request(10022, format!("No zone found for route {:?}", r.pattern))
        })
}

/// `PUT …/scripts/{name}/routes`: replaces the script's routes.
async fn put_script_routes(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Json(items): Json<Vec<ScriptRoute>>,
) -> ApiResult {
    let ids: Vec<String> = items.iter().map(|_| st.hex_id()).collect();
    let out = st.mutate(|m| {
        if !m.workers.contains_key(&name) {
            return Err(script_not_found());
        }
        let mut planned = Vec::new();
        for (r, id) in items.iter().zip(&ids) {
            if r.custom_domain {
                continue;
            }
            let zone_id = find_zone(m, r)?;
            if let Some(other) = m.routes.values().find(|x| x.zone_id == zone_id && x.pattern == r.pattern && x.script.as_deref() != Some(name.as_str())) {
                return Err(ApiError::conflict(10020, format!("Route {:?} is already assigned to {}", r.pattern, other.script.clone().unwrap_or_default())));
            }
            planned.push(WorkerRoute { id: id.clone(), zone_id, pattern: r.pattern.clone(), script: Some(name.clone()) });
        }
        m.routes.retain(|_, r| r.script.as_deref() != Some(name.as_str()));
        for r in &planned {
            m.routes.insert(r.id.clone(), r.clone());
        }
        Ok(planned.iter().map(|r| json!({"id": r.id, "pattern": r.pattern, "script": name, "zone_id": r.zone_id, "zone_name": zone_name(m, &r.zone_id)})).collect::<Vec<_>>())
    })?;
    ok(out)
}

// ---- custom domains ----

fn domain_json(d: &CustomDomain) -> Value {
    json!({"id": d.id, "zone_id": d.zone_id, "zone_name": d.zone_name, "hostname": d.hostname, "service": d.service, "environment": d.environment, "cert_id": d.cert_id})
}

fn domain_not_found() -> ApiError {
    ApiError::not_found(100_114, "Domain not found")
}

#[derive(Debug, Deserialize, Default)]
struct DomainQuery {
    hostname: Option<String>,
    service: Option<String>,
    zone_id: Option<String>,
    zone_name: Option<String>,
    environment: Option<String>,
}

async fn list_domains(State(st): S, Query(q): Query<DomainQuery>) -> ApiResult {
    ok(st.read(|m| {
        m.domains
            .values()
            .filter(|d| {
                q.hostname.as_ref().is_none_or(|h| h == &d.hostname)
                    && q.service.as_ref().is_none_or(|s| s == &d.service)
                    && q.zone_id.as_ref().is_none_or(|z| z == &d.zone_id)
                    && q.zone_name.as_ref().is_none_or(|z| z == &d.zone_name)
                    && q.environment.as_ref().is_none_or(|e| e == &d.environment)
            })
            .map(domain_json)
            .collect::<Vec<_>>()
    }))
}

impl AppState {
    /// Attaches `hostname` to a Worker; re-attaching the same hostname moves it.
    pub fn attach_domain(
        &self,
        hostname: &str,
        service: &str,
        environment: &str,
        zone_id: Option<&str>,
        zone_name: Option<&str>,
    ) -> Result<CustomDomain, ApiError> {
        let id = self.hex_id();
        let cert = self.uuid();
        let hostname = hostname.trim_end_matches('.').to_ascii_lowercase();
        self.mutate(|m| {
            if !m.workers.contains_key(service) {
                return Err(script_not_found());
            }
            let zone = m
                .zones
                .iter()
                .filter(|z| {
                    zone_id.is_none_or(|id| id == z.id) && zone_name.is_none_or(|n| n == z.name)
                })
                .filter(|z| hostname == z.name || hostname.ends_with(&format!(".{}", z.name)))
                .max_by_key(|z| z.name.len())
                .cloned()
                .ok_or_else(|| {
                    ApiError::bad_request(
                        100_117,
                        format!("Hostname {hostname:?} is not in a zone of this account"),
                    )
                })?;
            let existing = m
                .domains
                .values()
                .find(|d| d.hostname == hostname)
                .map(|d| d.id.clone());
            let d = CustomDomain {
                id: existing.unwrap_or(id),
                zone_id: zone.id,
                zone_name: zone.name,
                hostname: hostname.clone(),
                service: service.to_string(),
                environment: environment.to_string(),
                cert_id: cert,
            };
            m.domains.insert(d.id.clone(), d.clone());
            Ok(d)
        })
    }
}

#[derive(Debug, Deserialize)]
struct AttachBody {
    hostname: String,
    service: String,
    environment: Option<String>,
    zone_id: Option<String>,
    zone_name: Option<String>,
}

async fn attach_domain(State(st): S, Json(b): Json<AttachBody>) -> ApiResult {
    let d = st.attach_domain(
        &b.hostname,
        &b.service,
        b.environment.as_deref().unwrap_or("production"),
        b.zone_id.as_deref(),
        b.zone_name.as_deref(),
    )?;
    ok(domain_json(&d))
}

async fn get_domain(State(st): S, Path((_a, id)): Path<(String, String)>) -> ApiResult {
    st.read(|m| m.domains.get(&id).map(domain_json))
        .map_or_else(|| Err(domain_not_found()), ok)
}

async fn detach_domain(State(st): S, Path((_a, id)): Path<(String, String)>) -> ApiResult {
    st.mutate(|m| {
        m.domains
            .remove(&id)
            .map(|_| ())
            .ok_or_else(domain_not_found)
    })?;
    ok(Value::Null)
}

#[derive(Debug, Deserialize)]
struct DomainRecords {
    #[serde(default)]
    origins: Vec<Origin>,
}

#[derive(Debug, Deserialize)]
struct Origin {
    hostname: String,
    zone_id: Option<String>,
    zone_name: Option<String>,
}

/// wrangler's `PUT …/scripts/{name}/domains/records`: attach every origin to the script.
async fn put_domain_records(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Json(b): Json<DomainRecords>,
) -> ApiResult {
    let mut out = Vec::new();
    for o in &b.origins {
        out.push(domain_json(&st.attach_domain(
            &o.hostname,
            &name,
            "production",
            o.zone_id.as_deref(),
            o.zone_name.as_deref(),
        )?));
    }
    ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(route_matches("example.com/*", "example.com", "/a/b"));
        assert!(route_matches(
            "*.example.com/api/*",
            "x.example.com",
            "/api/v1"
        ));
        assert!(!route_matches(
            "*.example.com/api/*",
            "x.example.com",
            "/web"
        ));
        assert!(route_matches("api.example.com", "api.example.com", "/"));
        assert!(!route_matches("api.example.com", "api.example.com", "/x"));
        assert!(pattern_in_zone("*.example.com/*", "example.com"));
        assert!(!pattern_in_zone("other.org/*", "example.com"));
    }
}
