//! The emulated Workers answering HTTP on the same listener: requests whose Host is
//! `SCRIPT.SUBDOMAIN.workers.dev`, a custom domain, or matches a zone route are answered by
//! the deployed versions of that script, split by their traffic percentages. Each request
//! produces a tail event and an analytics record.
//!
//! What a version answers is declared in its bindings (no JavaScript runs):
//! * a `plain_text` or `json` binding `SV_RESPONSE` holding
//!   `{"status": 200, "body": "ok", "headers": {...}, "latency_ms": 0, "cpu_ms": 1,
//!   "outcome": "ok"|"exception", "logs": ["..."], "paths": {"/health": {...}}}`
//!   (every field optional; `paths` entries override per request path), or
//! * the shorthands `SV_STATUS`, `SV_BODY`, `SV_LATENCY_MS` (plain text), or
//! * the version annotation `sv/response` with the same JSON.
//!
//! Without any, a version answers 200 `Hello from SCRIPT (version VERSION_ID)`. Every
//! response carries `x-sv-script` and `x-sv-version-id`. The header
//! `cloudflare-workers-version-overrides: SCRIPT="VERSION_ID"` pins a version, as on Cloudflare.
//! Static assets uploaded with the version are served first (no tail event for them, as
//! asset requests do not invoke the Worker).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::faults::ConnHandle;
use crate::model::{Model, Script, Version};
use crate::state::AppState;
use crate::store::Invocation;
use crate::worker_routes::route_matches;
use crate::workers::serving_version;

/// Where a request is routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Script name, and a version id prefix for preview URLs.
    Script {
        name: String,
        preview: Option<String>,
    },
    /// A workers.dev (or routed) host with nothing deployed.
    Nothing,
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    host.rsplit_once(':').map_or(host, |(h, p)| {
        if p.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    })
}

fn is_local(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[')
}

/// Resolves a Host + path to a script, if it is one of ours.
pub fn resolve(m: &Model, host: &str, path: &str) -> Option<Target> {
    let host = host.to_ascii_lowercase();
    if let Some(rest) = host.strip_suffix(".workers.dev") {
        let (label, sub) = rest.split_once('.')?;
        if m.subdomain.as_deref() != Some(sub) {
            return Some(Target::Nothing);
        }
        if let Some(s) = m.workers.get(label).filter(|s| s.subdomain_enabled) {
            return Some(Target::Script {
                name: s.name.clone(),
                preview: None,
            });
        }
        // Preview URLs: `<first 8 of version id>-<script>`.
        if let Some((prefix, name)) = label.split_once('-')
            && prefix.len() == 8
            && let Some(s) = m.workers.get(name).filter(|s| s.previews_enabled)
        {
            return Some(Target::Script {
                name: s.name.clone(),
                preview: Some(prefix.to_string()),
            });
        }
        return Some(Target::Nothing);
    }
    if let Some(d) = m.domains.values().find(|d| d.hostname == host) {
        return Some(Target::Script {
            name: d.service.clone(),
            preview: None,
        });
    }
    let mut best: Option<(&str, usize)> = None;
    for r in m.routes.values() {
        if route_matches(&r.pattern, &host, path)
            && best.is_none_or(|(_, len)| r.pattern.len() > len)
        {
            best = Some((r.script.as_deref().unwrap_or(""), r.pattern.len()));
        }
    }
    match best {
        // A route without a script disables Workers on that pattern.
        Some(("", _)) => None,
        Some((name, _)) => Some(Target::Script {
            name: name.to_string(),
            preview: None,
        }),
        None => None,
    }
}

/// What one version answers for one path.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseSpec {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub latency: Duration,
    pub cpu_ms: f64,
    pub exception: bool,
    pub logs: Vec<String>,
}

fn as_json(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => serde_json::from_str(s).ok(),
        Value::Object(_) => Some(v.clone()),
        _ => None,
    }
}

fn apply_spec(spec: &mut ResponseSpec, j: &Value) {
    if let Some(s) = j["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..600).contains(s))
    {
        spec.status = s;
    }
    if let Some(b) = j.get("body") {
        spec.body = b.as_str().map_or_else(|| b.to_string(), str::to_string);
    }
    if let Some(h) = j["headers"].as_object() {
        for (k, v) in h {
            spec.headers.push((
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            ));
        }
    }
    if let Some(ms) = j["latency_ms"].as_f64().filter(|m| *m >= 0.0) {
        spec.latency = Duration::from_secs_f64(ms / 1000.0);
    }
    if let Some(c) = j["cpu_ms"].as_f64().filter(|c| *c >= 0.0) {
        spec.cpu_ms = c;
    }
    if let Some(o) = j["outcome"].as_str() {
        spec.exception = o == "exception";
        if spec.exception && j.get("status").is_none() {
            spec.status = 500;
        }
    }
    if let Some(l) = j["logs"].as_array() {
        spec.logs = l
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect();
    }
}

/// The response `v` declares for `path`.
pub fn response_spec(script: &str, v: &Version, path: &str) -> ResponseSpec {
    let mut spec = ResponseSpec {
        status: 200,
        body: format!("Hello from {script} (version {})", v.id),
        headers: Vec::new(),
        latency: Duration::ZERO,
        cpu_ms: 1.0,
        exception: false,
        logs: Vec::new(),
    };
    let declared = v
        .vars
        .get("SV_RESPONSE")
        .and_then(as_json)
        .or_else(|| v.annotations.get("sv/response").and_then(as_json));
    if let Some(j) = &declared {
        apply_spec(&mut spec, j);
    }
    if let Some(s) = v.vars.get("SV_STATUS").and_then(|s| {
        s.as_str()
            .and_then(|s| s.parse::<u16>().ok())
            .or_else(|| s.as_u64().and_then(|n| u16::try_from(n).ok()))
    }) {
        spec.status = s;
    }
    if let Some(b) = v.vars.get("SV_BODY").and_then(Value::as_str) {
        spec.body = b.to_string();
    }
    if let Some(ms) = v.vars.get("SV_LATENCY_MS").and_then(|s| {
        s.as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .or_else(|| s.as_f64())
    }) {
        spec.latency = Duration::from_secs_f64(ms.max(0.0) / 1000.0);
    }
    if let Some(p) = declared.as_ref().and_then(|j| j["paths"].get(path)) {
        apply_spec(&mut spec, p);
    }
    spec
}

/// Picks the version for one request: override header, preview prefix, or the deployment's
/// percentage split (`roll` in `[0, 1)`).
pub fn pick_version<'s>(
    s: &'s Script,
    headers: &HeaderMap,
    preview: Option<&str>,
    roll: f64,
) -> Option<&'s Version> {
    if let Some(p) = preview {
        return s.versions.iter().find(|v| v.id.starts_with(p));
    }
    let dep = s.deployments.last()?;
    // Cloudflare applies an override only when the header is a valid Structured Fields
    // dictionary whose member for this Worker is a string naming a version of the current
    // deployment — a 0 % member included; otherwise the request follows the percentages
    // (docs: Workers › Versions & deployments › Version overrides).
    if let Some(id) = headers
        .get("cloudflare-workers-version-overrides")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_sf_dictionary)
        .and_then(|d| d.into_iter().find(|(k, _)| *k == s.name).map(|(_, v)| v))
        && dep.versions.iter().any(|dv| dv.version_id == id)
        && let Some(v) = s.versions.iter().find(|v| v.id == id)
    {
        return Some(v);
    }
    let mut acc = 0.0;
    let point = roll * 100.0;
    for dv in &dep.versions {
        acc += dv.percentage;
        if point < acc {
            return s.versions.iter().find(|v| v.id == dv.version_id);
        }
    }
    // Rounding left the roll past the sum: the largest share serves (never a 0 % member).
    dep.versions
        .iter()
        .max_by(|a, b| a.percentage.total_cmp(&b.percentage))
        .and_then(|dv| s.versions.iter().find(|v| v.id == dv.version_id))
        .or_else(|| serving_version(s))
}

/// Parses an RFC 8941 dictionary whose members are strings (`a="x", b="y"`); `None` when
/// the header is not such a dictionary (then no override applies at all). Parameters
/// (`;p=1`) after a member are accepted and ignored.
fn parse_sf_dictionary(raw: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = raw.trim().chars().peekable();
    loop {
        // key: lcalpha / "*" then lcalpha / DIGIT / "_" / "-" / "." / "*"
        let mut key = String::new();
        match chars.peek() {
            Some(c) if c.is_ascii_lowercase() || *c == '*' => {}
            _ => return None,
        }
        while let Some(&c) = chars.peek() {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.*".contains(c) {
                key.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if chars.next() != Some('=') || chars.next() != Some('"') {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => match chars.next()? {
                    c @ ('"' | '\\') => value.push(c),
                    _ => return None,
                },
                c if (' '..='~').contains(&c) => value.push(c),
                _ => return None,
            }
        }
        // Parameters are allowed after a member; skip them.
        while chars.peek() == Some(&';') {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                chars.next();
            }
        }
        out.push((key, value));
        while chars.peek() == Some(&' ') || chars.peek() == Some(&'\t') {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some(',') => {
                while chars.peek() == Some(&' ') || chars.peek() == Some(&'\t') {
                    chars.next();
                }
                chars.peek()?;
            }
            Some(_) => return None,
        }
    }
}

fn nothing_here() -> Response {
    let mut r = (StatusCode::NOT_FOUND, "There is nothing here yet. If you expect something here, deploy a Worker to this workers.dev route.").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Middleware on the whole router: answers Worker traffic, passes everything else on.
pub async fn dispatch(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| strip_port(h).to_ascii_lowercase());
    let Some(host) = host.filter(|h| !is_local(h)) else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    let target = st.read(|m| resolve(m, &host, &path));
    match target {
        None => next.run(req).await,
        Some(Target::Nothing) => nothing_here(),
        Some(Target::Script { name, preview }) => {
            invoke(&st, &name, preview.as_deref(), &host, req).await
        }
    }
}

async fn invoke(
    st: &AppState,
    name: &str,
    preview: Option<&str>,
    host: &str,
    req: Request,
) -> Response {
    let started = Instant::now();
    let roll = st.random_unit();
    let (script, version) = st.read(|m| {
        let s = m.workers.get(name);
        (
            s.map(|s| s.name.clone()),
            s.and_then(|s| pick_version(s, req.headers(), preview, roll).cloned()),
        )
    });
    let (Some(script), Some(version)) = (script, version) else {
        return nothing_here();
    };
    let path = req.uri().path().to_string();
    let url = format!(
        "https://{host}{}",
        req.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let method = req.method().to_string();
    let client_ip = req
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .and_then(|c| c.0.remote)
        .map_or_else(|| "127.0.0.1".to_string(), |a| a.ip().to_string());
    let mut req_headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        if k != header::AUTHORIZATION && k != header::COOKIE {
            req_headers.insert(k.to_string(), json!(v.to_str().unwrap_or("")));
        }
    }
    // Static assets are served before the Worker runs (unless `run_worker_first`).
    if let Some(assets) = &version.assets
        && assets["config"]["run_worker_first"] != true
        && let Some(manifest) = assets["manifest"].as_object()
        && let Some((file, hash)) = crate::worker_assets::lookup(manifest, &path)
        && let Ok(Some(bytes)) = st.asset_bytes(hash)
    {
        let mut resp = (StatusCode::OK, bytes).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::worker_assets::content_type_for(&file)),
        );
        if let Ok(v) = HeaderValue::from_str(&format!("\"{hash}\"")) {
            h.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&version.id) {
            h.insert("x-sv-version-id", v);
        }
        return resp;
    }
    let spec = response_spec(&script, &version, &path);
    if !spec.latency.is_zero() {
        tokio::time::sleep(spec.latency).await;
    }
    let now_ms = st.now_ms();
    let (status, body) = if spec.exception {
        (
            spec.status,
            if spec.body.starts_with("Hello from") {
                "Error 1101: Worker threw exception".to_string()
            } else {
                spec.body.clone()
            },
        )
    } else {
        (spec.status, spec.body.clone())
    };
    let outcome = if spec.exception { "exception" } else { "ok" };
    let logs: Vec<Value> = spec
        .logs
        .iter()
        .map(|l| json!({"level": "log", "message": [l], "timestamp": now_ms}))
        .collect();
    let exceptions: Vec<Value> = if spec.exception {
        vec![
            json!({"name": "Error", "message": body, "timestamp": now_ms, "stack": format!("Error: {body}\n    at fetch (worker.js)")}),
        ]
    } else {
        Vec::new()
    };
    let event = json!({
        "scriptName": script,
        "scriptVersion": {"id": version.id},
        "entrypoint": "default",
        "outcome": outcome,
        "eventTimestamp": now_ms,
        "event": {
            "request": {"url": url, "method": method, "headers": req_headers, "cf": {"colo": "SVE", "country": "XX", "clientIp": client_ip}},
            "response": {"status": status},
        },
        "logs": logs,
        "exceptions": exceptions,
        "diagnosticsChannelEvents": [],
        "executionModel": "stateless",
        "truncated": false,
    });
    st.tails.publish(&script, event);
    let wall_us = started.elapsed().as_secs_f64() * 1_000_000.0;
    let inv = Invocation {
        script_name: script.clone(),
        version_id: version.id.clone(),
        datetime_ms: now_ms,
        status: if spec.exception {
            "scriptThrewException".into()
        } else {
            "success".into()
        },
        http_status: status,
        cpu_time_us: spec.cpu_ms * 1000.0,
        wall_time_us: wall_us,
    };
    if let Err(e) = st.store.record_invocation(&inv) {
        tracing::warn!("recording an invocation failed: {e}");
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut resp = (code, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    for (k, v) in &spec.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(n, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&version.id) {
        h.insert("x-sv-version-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&script) {
        h.insert("x-sv-script", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Deployment, DeploymentVersion};
    use std::collections::BTreeMap;

    fn version(id: &str, vars: &[(&str, Value)]) -> Version {
        Version {
            id: id.into(),
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
            ..Version::default()
        }
    }

    #[test]
    fn specs() {
        let v = version(
            "v1",
            &[(
                "SV_RESPONSE",
                json!(
                    r#"{"status": 503, "body": "down", "paths": {"/health": {"status": 200, "body": "ok"}}}"#
                ),
            )],
        );
        let s = response_spec("w", &v, "/");
        assert_eq!((s.status, s.body.as_str()), (503, "down"));
        let s = response_spec("w", &v, "/health");
        assert_eq!((s.status, s.body.as_str()), (200, "ok"));
        let v = version(
            "v2",
            &[("SV_STATUS", json!("418")), ("SV_LATENCY_MS", json!("5"))],
        );
        let s = response_spec("w", &v, "/");
        assert_eq!(s.status, 418);
        assert_eq!(s.latency, Duration::from_millis(5));
    }

    #[test]
    fn split_follows_percentages() {
        let s = Script {
            name: "w".into(),
            versions: vec![version("a", &[]), version("b", &[])],
            deployments: vec![Deployment {
                id: "d".into(),
                created_on: String::new(),
                source: String::new(),
                strategy: "percentage".into(),
                author_email: String::new(),
                annotations: BTreeMap::new(),
                versions: vec![
                    DeploymentVersion {
                        version_id: "a".into(),
                        percentage: 90.0,
                    },
                    DeploymentVersion {
                        version_id: "b".into(),
                        percentage: 10.0,
                    },
                ],
            }],
            ..Script::default()
        };
        let h = HeaderMap::new();
        assert_eq!(pick_version(&s, &h, None, 0.5).unwrap().id, "a");
        assert_eq!(pick_version(&s, &h, None, 0.95).unwrap().id, "b");
        let mut h = HeaderMap::new();
        h.insert(
            "cloudflare-workers-version-overrides",
            HeaderValue::from_static("w=\"b\""),
        );
        assert_eq!(pick_version(&s, &h, None, 0.0).unwrap().id, "b");
        // Not a string (not a valid dictionary member): no override.
        h.insert(
            "cloudflare-workers-version-overrides",
            HeaderValue::from_static("w=b"),
        );
        assert_eq!(pick_version(&s, &h, None, 0.0).unwrap().id, "a");
        // Another Worker's member does not apply; several members are fine.
        h.insert(
            "cloudflare-workers-version-overrides",
            HeaderValue::from_static("other=\"b\", w=\"b\""),
        );
        assert_eq!(pick_version(&s, &h, None, 0.0).unwrap().id, "b");
    }

    #[test]
    fn overrides_need_a_version_of_the_current_deployment() {
        let s = Script {
            name: "w".into(),
            versions: vec![version("a", &[]), version("b", &[]), version("c", &[])],
            deployments: vec![Deployment {
                id: "d".into(),
                created_on: String::new(),
                source: String::new(),
                strategy: "percentage".into(),
                author_email: String::new(),
                annotations: BTreeMap::new(),
                versions: vec![
                    DeploymentVersion {
                        version_id: "a".into(),
                        percentage: 100.0,
                    },
                    DeploymentVersion {
                        version_id: "b".into(),
                        percentage: 0.0,
                    },
                ],
            }],
            ..Script::default()
        };
        let mut h = HeaderMap::new();
        // A 0 % member is reachable only through the override, never by the split.
        for roll in [0.0, 0.5, 0.999_999] {
            assert_eq!(pick_version(&s, &h, None, roll).unwrap().id, "a");
        }
        h.insert(
            "cloudflare-workers-version-overrides",
            HeaderValue::from_static("w=\"b\""),
        );
        assert_eq!(pick_version(&s, &h, None, 0.5).unwrap().id, "b");
        // An uploaded version outside the deployment: the override is ignored.
        h.insert(
            "cloudflare-workers-version-overrides",
            HeaderValue::from_static("w=\"c\""),
        );
        assert_eq!(pick_version(&s, &h, None, 0.5).unwrap().id, "a");
        assert_eq!(
            parse_sf_dictionary("w=\"c\";p=1, x=\"d\"").unwrap().len(),
            2
        );
        assert!(parse_sf_dictionary("W=\"c\"").is_none());
        assert!(parse_sf_dictionary("w=\"c\",").is_none());
    }

    #[test]
    fn hosts() {
        assert_eq!(strip_port("a.b:8080"), "a.b");
        assert!(is_local("127.0.0.1"));
        assert!(!is_local("w.sub.workers.dev"));
    }
}
