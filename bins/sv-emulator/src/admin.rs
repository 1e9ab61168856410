//! The admin surface for tests, under `/__admin`, apart from the emulated API (no auth, no
//! faults, plain JSON instead of the v4 envelope):
//!
//! | route | does |
//! |---|---|
//! | `GET /__admin/health` | `{"ok": true}` |
//! | `POST /__admin/reset` | back to the seeded state (all resources, data, tails dropped) |
//! | `GET /__admin/snapshot` | the control-plane model plus KV/R2/D1 counts |
//! | `POST /__admin/clock` `{"advance_secs": N}` | moves the emulator clock forward (expiry) |
//! | `GET`/`PUT /__admin/faults` | reads / replaces the random-fault settings |
//! | `POST /__admin/tail-events` `{"script": S, "event": {...}}` | injects a trace event |
//! | `POST /__admin/scheduled` `{"script": S, "cron": "*/5 * * * *"}` | runs a cron trigger: tail event + analytics record |
//! | `POST /__admin/zones` `{"name": "other.org", "id"?: HEX32}` | adds a zone to the seeded account |
//! | `GET`/`PUT /__admin/request-validation` `{"enabled": bool}` | reads / switches the `--validate-requests` mode |
//! | `GET`/`DELETE /__admin/violations` | request-schema violations seen in that mode (`crate::validation::Report`) / clears them |

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, Json, json_response};
use crate::config::{FaultConfig, FaultKind};
use crate::state::AppState;

type S = State<Arc<AppState>>;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/health", get(|| async { axum::Json(json!({"ok": true})) }))
        .route("/reset", post(reset))
        .route("/snapshot", get(snapshot))
        .route("/clock", post(clock))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/tail-events", post(inject_tail_event))
        .route("/scheduled", post(run_scheduled))
        .route("/zones", post(add_zone))
        .route(
            "/request-validation",
            get(get_validation).put(put_validation),
        )
        .route("/violations", get(violations).delete(clear_violations))
}

#[derive(Debug, Deserialize)]
struct ValidationToggle {
    enabled: bool,
}

async fn get_validation(State(st): S) -> Response {
    axum::Json(json!({"enabled": st.validation.enabled()})).into_response()
}

async fn put_validation(State(st): S, body: Result<Json<ValidationToggle>, ApiError>) -> Response {
    match body {
        Ok(Json(t)) => {
            st.validation.set_enabled(t.enabled);
            axum::Json(json!({"enabled": st.validation.enabled()})).into_response()
        }
        Err(e) => admin_err(&e),
    }
}

async fn violations(State(st): S) -> Response {
    axum::Json(st.validation.report()).into_response()
}

async fn clear_violations(State(st): S) -> Response {
    st.validation.clear();
    axum::Json(json!({"ok": true})).into_response()
}

fn admin_err(e: &ApiError) -> Response {
    json_response(
        e.status,
        &json!({"error": e.errors.first().map(|x| x.message.clone())}),
    )
}

impl AppState {
    /// Drops every resource and returns to the seeded state.
    pub fn reset(&self) -> Result<(), crate::Error> {
        let d1: Vec<String> = self.read(|m| m.d1.keys().cloned().collect());
        self.d1.drop_all(&d1)?;
        self.store.clear()?;
        self.tails.clear();
        self.assets.clear();
        let seeded = self.seed_model();
        self.replace_model(seeded)
    }

    /// The control-plane model plus data counts, for assertions and debugging.
    pub fn snapshot(&self) -> Result<Value, crate::Error> {
        let model = self.read(|m| m.clone());
        let now = self.now_secs();
        let mut kv = serde_json::Map::new();
        for id in model.kv_namespaces.keys() {
            kv.insert(id.clone(), json!(self.store.kv_count(id, now)?));
        }
        let mut r2 = serde_json::Map::new();
        for key in model.r2.keys() {
            r2.insert(key.clone(), json!(self.store.r2_count(key)?));
        }
        Ok(json!({
            "model": model,
            "kv_key_counts": kv,
            "r2_object_counts": r2,
        }))
    }
}

async fn reset(State(st): S) -> Response {
    match st.reset() {
        Ok(()) => axum::Json(json!({"ok": true})).into_response(),
        Err(e) => admin_err(&ApiError::from(e)),
    }
}

async fn snapshot(State(st): S) -> Response {
    match st.snapshot() {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => admin_err(&ApiError::from(e)),
    }
}

#[derive(Debug, Deserialize)]
struct Clock {
    advance_secs: i64,
}

async fn clock(State(st): S, body: Result<Json<Clock>, ApiError>) -> Response {
    match body {
        Ok(Json(c)) => {
            st.advance_clock(c.advance_secs.saturating_mul(1000));
            axum::Json(json!({"now": st.now_secs()})).into_response()
        }
        Err(e) => admin_err(&e),
    }
}

fn faults_json(f: &FaultConfig) -> Value {
    json!({
        "latency_ms": f.latency.as_millis(),
        "rate": f.rate,
        "kinds": f.kinds.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "slow_ms": f.slow.as_millis(),
    })
}

async fn get_faults(State(st): S) -> Response {
    axum::Json(faults_json(&st.faults.config())).into_response()
}

#[derive(Debug, Deserialize)]
struct FaultsBody {
    latency_ms: Option<u64>,
    rate: Option<f64>,
    kinds: Option<Vec<String>>,
    slow_ms: Option<u64>,
}

async fn put_faults(State(st): S, body: Result<Json<FaultsBody>, ApiError>) -> Response {
    let b = match body {
        Ok(Json(b)) => b,
        Err(e) => return admin_err(&e),
    };
    let mut cfg = st.faults.config();
    if let Some(ms) = b.latency_ms {
        cfg.latency = Duration::from_millis(ms);
    }
    if let Some(r) = b.rate {
        if !(0.0..=1.0).contains(&r) {
            return admin_err(&ApiError::bad_request(1, "rate must be between 0 and 1"));
        }
        cfg.rate = r;
    }
    if let Some(kinds) = b.kinds {
        let mut parsed = Vec::new();
        for k in kinds {
            match FaultKind::parse(&k) {
                Some(f) => parsed.push(f),
                None => {
                    return admin_err(&ApiError::bad_request(1, format!("unknown fault {k:?}")));
                }
            }
        }
        cfg.kinds = parsed;
    }
    if let Some(ms) = b.slow_ms {
        cfg.slow = Duration::from_millis(ms);
    }
    st.faults.set_config(cfg.clone());
    axum::Json(faults_json(&cfg)).into_response()
}

#[derive(Debug, Deserialize)]
struct TailEvent {
    script: String,
    event: Value,
}

async fn inject_tail_event(State(st): S, body: Result<Json<TailEvent>, ApiError>) -> Response {
    match body {
        Ok(Json(t)) => {
            st.tails.publish(&t.script, t.event);
            axum::Json(json!({"ok": true})).into_response()
        }
        Err(e) => admin_err(&e),
    }
}

#[derive(Debug, Deserialize)]
struct Scheduled {
    script: String,
    cron: Option<String>,
}

/// Fires one cron trigger of a deployed Worker, as the scheduler would: a tail event with
/// `event {cron, scheduledTime}` and an invocation record for analytics.
async fn run_scheduled(State(st): S, body: Result<Json<Scheduled>, ApiError>) -> Response {
    let b = match body {
        Ok(Json(b)) => b,
        Err(e) => return admin_err(&e),
    };
    let found = st.read(|m| {
        m.workers.get(&b.script).map(|s| {
            (
                s.schedules
                    .iter()
                    .map(|c| c.cron.clone())
                    .collect::<Vec<_>>(),
                crate::workers::serving_version(s).map(|v| v.id.clone()),
            )
        })
    });
    let Some((crons, version)) = found else {
        return admin_err(&ApiError::not_found(
            10007,
            format!("no Worker named {:?}", b.script),
        ));
    };
    let cron = match b.cron {
        Some(c) if crons.contains(&c) => c,
        Some(c) => {
            return admin_err(&ApiError::bad_request(
                1,
                format!("{:?} has no cron trigger {c:?}", b.script),
            ));
        }
        None => match crons.first() {
            Some(c) => c.clone(),
            None => {
                return admin_err(&ApiError::bad_request(
                    1,
                    format!("{:?} has no cron triggers", b.script),
                ));
            }
        },
    };
    let now = st.now_ms();
    let version = version.unwrap_or_default();
    let event = json!({
        "scriptName": b.script,
        "scriptVersion": {"id": version},
        "outcome": "ok",
        "eventTimestamp": now,
        "event": {"cron": cron, "scheduledTime": now},
        "logs": [],
        "exceptions": [],
        "diagnosticsChannelEvents": [],
        "executionModel": "stateless",
        "truncated": false,
    });
    st.tails.publish(&b.script, event.clone());
    let inv = crate::store::Invocation {
        script_name: b.script.clone(),
        version_id: version,
        datetime_ms: now,
        status: "success".into(),
        http_status: 200,
        cpu_time_us: 1000.0,
        wall_time_us: 1000.0,
    };
    if let Err(e) = st.store.record_invocation(&inv) {
        return admin_err(&ApiError::from(e));
    }
    axum::Json(event).into_response()
}

#[derive(Debug, Deserialize)]
struct NewZone {
    name: String,
    id: Option<String>,
}

/// Adds a zone to the seeded account (the API has no zone creation the tools need).
async fn add_zone(State(st): S, body: Result<Json<NewZone>, ApiError>) -> Response {
    let b = match body {
        Ok(Json(b)) => b,
        Err(e) => return admin_err(&e),
    };
    let name = b.name.trim().trim_end_matches('.').to_ascii_lowercase();
    if !name.contains('.') || name.split('.').any(str::is_empty) {
        return admin_err(&ApiError::bad_request(
            1,
            format!("invalid zone name {:?}", b.name),
        ));
    }
    if let Some(id) = &b.id
        && !crate::config::is_hex32(id)
    {
        return admin_err(&ApiError::bad_request(
            1,
            "zone id must be 32 hex characters",
        ));
    }
    let id = b.id.unwrap_or_else(|| st.hex_id());
    let now = st.now_rfc3339();
    let account = st.cfg.account_id.clone();
    let created = st.mutate(|m| {
        if m.zones.iter().any(|z| z.name == name || z.id == id) {
            return Err(ApiError::conflict(1, format!("zone {name} already exists")));
        }
        let z = crate::model::Zone {
            id: id.clone(),
            name: name.clone(),
            account_id: m.accounts.first().map_or(account, |a| a.id.clone()),
            created_on: now,
            name_servers: vec![
                "ada.ns.cloudflare.com".into(),
                "bob.ns.cloudflare.com".into(),
            ],
        };
        m.zones.push(z.clone());
        Ok(crate::identity::zone_json(m, &z))
    });
    match created {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => admin_err(&e),
    }
}
