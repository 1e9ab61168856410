//! Tail sessions: the `…/tails` API and the `trace-v1` WebSocket that streams one JSON
//! event per emulated Worker invocation (or per event injected through the admin surface).

use std::collections::BTreeMap;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::state::lock;

/// One active tail (persisted with `--data`, so a restart keeps it until it expires).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Tail {
    pub id: String,
    pub script: String,
    pub filters: Vec<Value>,
    pub expires_at: String,
    pub expires_at_ms: i64,
}

/// Fan-out of trace events to tail WebSockets.
pub struct TailHub {
    tx: broadcast::Sender<(String, Value)>,
    tails: std::sync::Mutex<BTreeMap<String, Tail>>,
}

impl Default for TailHub {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self {
            tx,
            tails: std::sync::Mutex::new(BTreeMap::new()),
        }
    }
}

impl TailHub {
    /// Sends `event` to every tail on `script` (dropped when nobody listens).
    pub fn publish(&self, script: &str, event: Value) {
        let _ = self.tx.send((script.to_string(), event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<(String, Value)> {
        self.tx.subscribe()
    }

    pub fn insert(&self, tail: Tail) {
        lock(&self.tails).insert(tail.id.clone(), tail);
    }

    pub fn get(&self, id: &str) -> Option<Tail> {
        lock(&self.tails).get(id).cloned()
    }

    pub fn remove(&self, id: &str) -> Option<Tail> {
        lock(&self.tails).remove(id)
    }

    pub fn for_script(&self, script: &str) -> Vec<Tail> {
        lock(&self.tails)
            .values()
            .filter(|t| t.script == script)
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        lock(&self.tails).clear();
    }
}

impl crate::state::AppState {
    /// Starts a tail: in the hub (live events) and in the store (restarts).
    pub fn open_tail(&self, tail: &Tail) -> Result<(), crate::Error> {
        self.store.tail_put(tail)?;
        self.tails.insert(tail.clone());
        Ok(())
    }

    /// Ends a tail.
    pub fn close_tail(&self, id: &str) -> Result<(), crate::Error> {
        self.store.tail_delete(id)?;
        self.tails.remove(id);
        Ok(())
    }

    /// Loads the stored tails that have not expired (at start-up).
    pub fn load_tails(&self) -> Result<(), crate::Error> {
        let now = self.now_ms();
        for tail in self.store.tails()? {
            if tail.expires_at_ms > now {
                self.tails.insert(tail);
            } else {
                self.store.tail_delete(&tail.id)?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// API and WebSocket

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::json;

use crate::api::{ApiError, ApiResult, ok, parse_json};
use crate::state::AppState;
use crate::workers::script_not_found;

type S = State<Arc<AppState>>;

/// Tails live this long, like Cloudflare's (about six hours).
const TAIL_TTL_MS: i64 = 6 * 3600 * 1000;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let t = "/accounts/{account_id}/workers/scripts/{script_name}/tails";
    Router::new()
        .route(t, get(get_tail).post(create_tail))
        .route(&format!("{t}/{{id}}"), delete(delete_tail))
}

/// The WebSocket endpoint that tail `url`s point at (no API token: the id is the secret).
pub(crate) fn ws_routes() -> Router<Arc<AppState>> {
    Router::new().route("/{id}", get(tail_socket))
}

fn tail_json(t: &Tail, host: &str) -> Value {
    json!({"id": t.id, "url": format!("ws://{host}/__tail/{}", t.id), "expires_at": t.expires_at})
}

fn host_of(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string()
}

fn tail_not_found() -> ApiError {
    ApiError::not_found(10050, "Tail not found")
}

async fn create_tail(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult {
    if !st.read(|m| m.workers.contains_key(&name)) {
        return Err(script_not_found());
    }
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        parse_json(&body)?
    };
    let filters = body["filters"].as_array().cloned().unwrap_or_default();
    for f in &filters {
        validate_filter(f)?;
    }
    let expires_ms = st.now_ms() + TAIL_TTL_MS;
    let tail = Tail {
        id: st.hex_id(),
        script: name,
        filters,
        expires_at: chrono::DateTime::from_timestamp_millis(expires_ms)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string(),
        expires_at_ms: expires_ms,
    };
    st.open_tail(&tail)?;
    ok(tail_json(&tail, &host_of(&headers)))
}

fn validate_filter(f: &Value) -> Result<(), ApiError> {
    let known = [
        "sampling_rate",
        "outcome",
        "method",
        "header",
        "client_ip",
        "query",
        "scriptVersion",
    ];
    let obj = f
        .as_object()
        .ok_or_else(|| ApiError::bad_request(10051, "Each tail filter must be an object"))?;
    if obj.keys().any(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            10051,
            format!("Unknown tail filter {f}"),
        ));
    }
    if let Some(r) = obj.get("sampling_rate")
        && !r.as_f64().is_some_and(|r| (0.0..=1.0).contains(&r))
    {
        return Err(ApiError::bad_request(
            10051,
            "sampling_rate must be between 0 and 1",
        ));
    }
    Ok(())
}

async fn get_tail(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    if !st.read(|m| m.workers.contains_key(&name)) {
        return Err(script_not_found());
    }
    let now = st.now_ms();
    let newest = st
        .tails
        .for_script(&name)
        .into_iter()
        .filter(|t| t.expires_at_ms > now)
        .max_by_key(|t| t.expires_at_ms);
    // The schema's result is one tail object (no member required); a script without an
    // active tail answers an empty result `{}` rather than an error (see docs/emulator.md).
    newest.map_or_else(|| ok(json!({})), |t| ok(tail_json(&t, &host_of(&headers))))
}

async fn delete_tail(
    State(st): S,
    Path((_a, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    match st.tails.get(&id) {
        Some(t) if t.script == name => {
            st.close_tail(&id)?;
            ok(Value::Null)
        }
        _ => Err(tail_not_found()),
    }
}

/// Whether `event` passes every filter of a tail (filters combine with AND).
pub fn passes(filters: &[Value], event: &Value, roll: f64) -> bool {
    filters.iter().all(|f| {
        if let Some(r) = f["sampling_rate"].as_f64() {
            return roll < r;
        }
        if let Some(list) = f["outcome"].as_array() {
            return list.iter().any(|o| o == &event["outcome"]);
        }
        if let Some(list) = f["method"].as_array() {
            let m = event["event"]["request"]["method"].as_str().unwrap_or("");
            return list
                .iter()
                .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(m)));
        }
        if let Some(h) = f.get("header") {
            let key = h["key"].as_str().unwrap_or("").to_ascii_lowercase();
            let got = &event["event"]["request"]["headers"][&key];
            return match h["query"].as_str() {
                Some(q) => got.as_str().is_some_and(|v| v.contains(q)),
                None => !got.is_null(),
            };
        }
        if let Some(list) = f["client_ip"].as_array() {
            let ip = &event["event"]["request"]["cf"]["clientIp"];
            return list.iter().any(|x| x == ip || x == "self");
        }
        if let Some(q) = f["query"].as_str() {
            let hay = format!("{}{}", event["logs"], event["exceptions"]);
            return hay.contains(q);
        }
        if let Some(v) = f["scriptVersion"].as_str() {
            return event["scriptVersion"]["id"] == v;
        }
        true
    })
}

async fn tail_socket(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let Some(tail) = st.tails.get(&id).filter(|t| t.expires_at_ms > st.now_ms()) else {
        return (StatusCode::NOT_FOUND, "tail not found or expired").into_response();
    };
    let offered = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.split(',').any(|x| x.trim() == "trace-v1"));
    if !offered {
        return (
            StatusCode::BAD_REQUEST,
            "tail sockets speak the trace-v1 protocol only",
        )
            .into_response();
    }
    let rx = st.tails.subscribe();
    // wrangler sends its `{"debug": …}` frame unmasked (`mask: false`); Cloudflare accepts
    // that, so the emulator does too.
    ws.protocols(["trace-v1"])
        .accept_unmasked_frames(true)
        .on_upgrade(move |socket| stream(st, tail, socket, rx))
}

async fn stream(
    st: Arc<AppState>,
    tail: Tail,
    mut socket: WebSocket,
    mut rx: broadcast::Receiver<(String, Value)>,
) {
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                // `{"debug": false}` and pings need no answer beyond axum's automatic pongs.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            ev = rx.recv() => match ev {
                Ok((script, event)) => {
                    if st.tails.get(&tail.id).is_none() {
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                    if script == tail.script && passes(&tail.filters, &event, st.random_unit())
                        && socket.send(Message::Text(event.to_string().into())).await.is_err()
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let ev = json!({"outcome": "exception", "scriptVersion": {"id": "v1"}, "event": {"request": {"method": "POST", "headers": {"x-a": "b1"}, "cf": {"clientIp": "1.2.3.4"}}}, "logs": [{"message": ["needle"]}], "exceptions": []});
        assert!(passes(
            &[
                json!({"outcome": ["exception"]}),
                json!({"method": ["post"]})
            ],
            &ev,
            0.5
        ));
        assert!(!passes(&[json!({"outcome": ["ok"]})], &ev, 0.5));
        assert!(passes(
            &[json!({"header": {"key": "X-A", "query": "b"}})],
            &ev,
            0.5
        ));
        assert!(passes(&[json!({"query": "needle"})], &ev, 0.5));
        assert!(!passes(&[json!({"sampling_rate": 0.1})], &ev, 0.5));
        assert!(passes(
            &[
                json!({"scriptVersion": "v1"}),
                json!({"client_ip": ["1.2.3.4"]})
            ],
            &ev,
            0.5
        ));
    }
}
