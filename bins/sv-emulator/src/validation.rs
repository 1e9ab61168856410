//! The `--validate-requests` mode: every request to `/client/v4` is checked against the
//! request schema of its operation ([`crate::schema`]) before a handler sees it — the JSON
//! body (for multipart bodies, the JSON parts such as `metadata` and `settings`) and the
//! query parameters. A violation is answered with a distinctive 400 envelope (code
//! [`VIOLATION_CODE`], header `sv-emulator-violation`), logged, and recorded for
//! `GET /__admin/violations`, so any test driving a client against the emulator in this
//! mode catches the client drifting from the API contract.
//!
//! Not checked (no schema to check against): raw bodies (KV values, R2 objects, Worker
//! scripts sent as plain JS), path parameters, headers, and operations neither schema file
//! describes (they are listed as `unchecked` by the admin route instead).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest as _, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::api::ApiError;
use crate::schema::{Outcome, schemas};
use crate::state::{AppState, lock};

/// The error code of a request-schema violation. Cloudflare uses no such code, so a client
/// (or a test) can tell a contract violation from a genuine API error.
pub const VIOLATION_CODE: i64 = 99_400;
/// Response header set on a violation answer.
pub const VIOLATION_HEADER: &str = "sv-emulator-violation";
/// How many violations the admin route keeps (the count keeps going).
const KEEP: usize = 200;

/// One request that broke its operation's request schema.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    pub method: String,
    /// The path as sent, relative to `/client/v4`, with its query string.
    pub path: String,
    /// `METHOD /template` of the operation.
    pub operation: String,
    /// What was wrong: `body …`, `part metadata …`, `query …` messages.
    pub errors: Vec<String>,
    pub at: String,
}

/// Whether the mode is on, and what it has seen.
#[derive(Debug, Default)]
pub struct Validation {
    enabled: AtomicBool,
    count: AtomicU64,
    log: Mutex<Vec<Violation>>,
    unchecked: Mutex<BTreeSet<String>>,
}

/// What `GET /__admin/violations` answers.
#[derive(Debug, Serialize)]
pub struct Report {
    pub enabled: bool,
    /// Violations since start (or the last clear), including ones no longer kept.
    pub count: u64,
    /// The last [`KEEP`] violations, oldest first.
    pub violations: Vec<Violation>,
    /// Operations requested in this mode that neither schema file describes.
    pub unchecked: Vec<String>,
}

impl Validation {
    pub fn new(enabled: bool) -> Self {
        let v = Self::default();
        v.set_enabled(enabled);
        v
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub fn report(&self) -> Report {
        Report {
            enabled: self.enabled(),
            count: self.count.load(Ordering::Relaxed),
            violations: lock(&self.log).clone(),
            unchecked: lock(&self.unchecked).iter().cloned().collect(),
        }
    }

    pub fn clear(&self) {
        self.count.store(0, Ordering::Relaxed);
        lock(&self.log).clear();
        lock(&self.unchecked).clear();
    }

    fn record(&self, v: Violation) {
        tracing::warn!(
            operation = %v.operation,
            path = %v.path,
            "request violates its schema: {}",
            v.errors.join("; ")
        );
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut log = lock(&self.log);
        if log.len() >= KEEP {
            log.remove(0);
        }
        log.push(v);
    }
}

/// The middleware (innermost on `/client/v4`: after faults, auth and the scope check).
pub async fn check(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if !st.validation.enabled() {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let shown = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let s = schemas();
    let Some(operation) = s.operation(&method, &path) else {
        lock(&st.validation.unchecked).insert(format!("{method} {path}"));
        return next.run(req).await;
    };
    let mut errors = Vec::new();
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    if let Outcome::Invalid(e) = s.check_query(&method, &path, &pairs) {
        errors.extend(e);
    }
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (parts, body) = req.into_parts();
    let req = if ct == "application/json" || ct == "multipart/form-data" {
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) => b,
            Err(e) => {
                return ApiError::bad_request(10001, format!("could not read the body: {e}"))
                    .into_response();
            }
        };
        if ct == "application/json" {
            // A body that is not JSON is the handler's to refuse (with Cloudflare's error).
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes)
                && let Outcome::Invalid(e) = s.check_request_json(&method, &path, Some(&v))
            {
                errors.extend(e.into_iter().map(|e| format!("body {e}")));
            }
        } else {
            errors.extend(check_multipart(&parts, bytes.clone(), &method, &path).await);
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        let empty = matches!(parts.method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS")
            || parts
                .headers
                .get(header::CONTENT_LENGTH)
                .is_some_and(|v| v == "0");
        if empty
            && ct.is_empty()
            && let Outcome::Invalid(e) = s.check_request_json(&method, &path, None)
        {
            errors.extend(e.into_iter().map(|e| format!("(no body) {e}")));
        }
        Request::from_parts(parts, body)
    };
    if errors.is_empty() {
        return next.run(req).await;
    }
    let message = format!(
        "sv-emulator request validation: {method} {shown} does not match the request schema of {operation}: {}",
        errors.join("; ")
    );
    st.validation.record(Violation {
        method,
        path: shown,
        operation,
        errors,
        at: st.now_rfc3339(),
    });
    let mut resp = ApiError::new(StatusCode::BAD_REQUEST, VIOLATION_CODE, message).into_response();
    resp.headers_mut()
        .insert(VIOLATION_HEADER, HeaderValue::from_static("request-schema"));
    resp
}

/// Checks every part of a multipart body that the operation's schema describes as JSON.
async fn check_multipart(
    parts: &axum::http::request::Parts,
    bytes: Bytes,
    method: &str,
    path: &str,
) -> Vec<String> {
    let s = schemas();
    let mut errors = Vec::new();
    let req = Request::from_parts(parts.clone(), Body::from(bytes));
    // A malformed multipart body is the handler's to refuse.
    let Ok(mut mp) = Multipart::from_request(req, &()).await else {
        return errors;
    };
    while let Ok(Some(field)) = mp.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        let Ok(data) = field.bytes().await else {
            break;
        };
        let Ok(value) = serde_json::from_slice::<Value>(&data) else {
            // Not JSON: a module, a file or a raw value, or a JSON part that does not
            // parse (the handler refuses that one).
            continue;
        };
        if let Outcome::Invalid(e) = s.check_request_part(method, path, &name, &value) {
            errors.extend(e.into_iter().map(|e| format!("part `{name}` {e}")));
        }
    }
    errors
}
