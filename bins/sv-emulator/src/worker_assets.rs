//! Workers static assets (what `wrangler deploy` does when `assets` is configured): the
//! upload session (`…/scripts/{name}/assets-upload-session`), the bucketed upload
//! (`…/workers/assets/upload`, authenticated with the session JWT) and the completion token
//! that the version upload's `metadata.assets.jwt` refers to. The emulated Worker serves the
//! uploaded files before running (unless `run_worker_first`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, BigJson, Query, content_type, invalid_content_type, ok};
use crate::state::{AppState, lock};

type S = State<Arc<AppState>>;

/// Files per upload bucket handed back by the session call.
const BUCKET_SIZE: usize = 50;
/// Largest single asset (Workers' limit).
pub const MAX_ASSET_BYTES: usize = 25 * 1024 * 1024;
/// Most files in one manifest (Workers paid plan).
pub const MAX_ASSET_FILES: usize = 100_000;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/accounts/{account_id}/workers/scripts/{script_name}/assets-upload-session",
            post(start_session),
        )
        .route("/accounts/{account_id}/workers/assets/upload", post(upload))
}

struct Session {
    manifest: BTreeMap<String, String>,
    remaining: BTreeSet<String>,
}

/// Upload sessions and finished manifests, in memory (they live for one deploy).
#[derive(Default)]
pub struct AssetSessions {
    sessions: Mutex<HashMap<String, Session>>,
    completions: Mutex<HashMap<String, BTreeMap<String, String>>>,
}

impl AssetSessions {
    /// Forgets every session and completion (admin reset).
    pub fn clear(&self) {
        lock(&self.sessions).clear();
        lock(&self.completions).clear();
    }
}

fn blob_key(hash: &str) -> String {
    format!("worker-asset:{hash}")
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        8_000_013,
        "Invalid or expired assets upload token",
    )
}

impl AppState {
    fn complete_assets(&self, manifest: BTreeMap<String, String>) -> String {
        let id = self.hex_id();
        lock(&self.assets.completions).insert(id.clone(), manifest);
        crate::jwt::sign(
            &json!({"kind": "assets-completion", "completion": id, "iat": self.now_secs()}),
        )
    }

    /// The assets of a version being uploaded: from `metadata.assets.jwt` (a completion
    /// token), or the previous version's with `keep_assets`.
    pub fn resolve_assets(
        &self,
        meta: &Value,
        prev: Option<&Value>,
    ) -> Result<Option<Value>, ApiError> {
        let config = meta["assets"]["config"].clone();
        if let Some(token) = meta["assets"]["jwt"].as_str() {
            let claims = crate::jwt::verify(token)
                .filter(|c| c["kind"] == "assets-completion")
                .ok_or_else(|| {
                    ApiError::bad_request(
                        10021,
                        "metadata.assets.jwt is not a valid assets completion token",
                    )
                })?;
            let id = claims["completion"].as_str().unwrap_or_default();
            let manifest = lock(&self.assets.completions)
                .get(id)
                .cloned()
                .ok_or_else(|| {
                    ApiError::bad_request(
                        10021,
                        "metadata.assets.jwt refers to an unknown or expired upload",
                    )
                })?;
            return Ok(Some(
                json!({"manifest": manifest, "config": if config.is_null() { json!({}) } else { config }}),
            ));
        }
        if meta["keep_assets"] == true {
            return Ok(prev.cloned());
        }
        Ok(None)
    }

    /// The bytes of an uploaded asset.
    pub fn asset_bytes(&self, hash: &str) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(self.store.blob_get(&blob_key(hash))?)
    }
}

#[derive(Debug, Deserialize)]
struct ManifestEntry {
    hash: String,
    size: u64,
}

#[derive(Debug, Deserialize)]
struct SessionBody {
    manifest: BTreeMap<String, ManifestEntry>,
}

async fn start_session(
    State(st): S,
    Path((_a, _name)): Path<(String, String)>,
    BigJson(b): BigJson<SessionBody>,
) -> ApiResult {
    if b.manifest.len() > MAX_ASSET_FILES {
        return Err(ApiError::bad_request(
            10021,
            format!("At most {MAX_ASSET_FILES} asset files per Worker"),
        ));
    }
    let mut manifest = BTreeMap::new();
    let mut missing = BTreeSet::new();
    for (path, e) in &b.manifest {
        if !path.starts_with('/') {
            return Err(ApiError::bad_request(
                10021,
                format!("Asset path {path:?} must start with /"),
            ));
        }
        if e.size > MAX_ASSET_BYTES as u64 {
            return Err(ApiError::bad_request(
                10021,
                format!("Asset {path} is larger than 25 MiB"),
            ));
        }
        if e.hash.is_empty() || e.hash.len() > 64 || !e.hash.bytes().all(|c| c.is_ascii_hexdigit())
        {
            return Err(ApiError::bad_request(
                10021,
                format!("Asset {path} has an invalid hash"),
            ));
        }
        manifest.insert(path.clone(), e.hash.clone());
        if !st.store.blob_exists(&blob_key(&e.hash))? {
            missing.insert(e.hash.clone());
        }
    }
    if missing.is_empty() {
        return ok(json!({"jwt": st.complete_assets(manifest), "buckets": []}));
    }
    let list: Vec<String> = missing.iter().cloned().collect();
    let buckets: Vec<Vec<String>> = list.chunks(BUCKET_SIZE).map(<[String]>::to_vec).collect();
    let id = st.hex_id();
    lock(&st.assets.sessions).insert(
        id.clone(),
        Session {
            manifest,
            remaining: missing,
        },
    );
    ok(
        json!({"jwt": crate::jwt::sign(&json!({"kind": "assets-session", "session": id, "iat": st.now_secs()})), "buckets": buckets}),
    )
}

#[derive(Debug, Deserialize, Default)]
struct UploadQuery {
    base64: Option<String>,
}

async fn upload(State(st): S, Query(q): Query<UploadQuery>, req: Request) -> ApiResult {
    let claims = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(crate::jwt::verify)
        .filter(|c| c["kind"] == "assets-session")
        .ok_or_else(unauthorized)?;
    let session = claims["session"].as_str().unwrap_or_default().to_string();
    if !lock(&st.assets.sessions).contains_key(&session) {
        return Err(unauthorized());
    }
    if content_type(req.headers()) != "multipart/form-data" {
        return Err(invalid_content_type("multipart/form-data"));
    }
    let b64 = q.base64.as_deref() == Some("true");
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_request(10021, format!("Invalid multipart body: {e}")))?;
    let mut stored = Vec::new();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(10021, format!("Invalid multipart body: {e}")))?
    {
        let hash = field.name().unwrap_or("").to_string();
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(10021, format!("Invalid multipart body: {e}")))?;
        let data = if b64 {
            STANDARD.decode(data.as_ref()).map_err(|e| {
                ApiError::bad_request(10021, format!("Asset {hash} is not valid base64: {e}"))
            })?
        } else {
            data.to_vec()
        };
        if data.len() > MAX_ASSET_BYTES {
            return Err(ApiError::payload_too_large("Asset", MAX_ASSET_BYTES));
        }
        st.store.blob_put(&blob_key(&hash), &data)?;
        stored.push(hash);
    }
    let done = {
        let mut sessions = lock(&st.assets.sessions);
        let Some(s) = sessions.get_mut(&session) else {
            return Err(unauthorized());
        };
        for h in &stored {
            s.remaining.remove(h);
        }
        if s.remaining.is_empty() {
            sessions.remove(&session).map(|s| s.manifest)
        } else {
            None
        }
    };
    match done {
        // The last bucket answers the completion token.
        Some(manifest) => ok(json!({"jwt": st.complete_assets(manifest)})),
        None => ok(json!({})),
    }
}

/// The content type to serve an asset with, from its extension.
pub fn content_type_for(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "application/javascript",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        "woff2" => "font/woff2",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// The manifest entry a request path maps to (`/` → `/index.html`, `/a` → `/a.html` or
/// `/a/index.html`), as Workers' default `html_handling` does.
pub fn lookup<'m>(
    manifest: &'m serde_json::Map<String, Value>,
    path: &str,
) -> Option<(String, &'m str)> {
    let candidates = [
        path.to_string(),
        format!(
            "{}index.html",
            if path.ends_with('/') {
                path.to_string()
            } else {
                format!("{path}/")
            }
        ),
        format!("{path}.html"),
    ];
    candidates
        .into_iter()
        .find_map(|c| manifest.get(&c).and_then(Value::as_str).map(|h| (c, h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_handling() {
        let m: serde_json::Map<String, Value> = serde_json::from_value(json!({"/index.html": "a", "/about.html": "b", "/docs/index.html": "c", "/app.js": "d"})).unwrap();
        assert_eq!(lookup(&m, "/").unwrap().1, "a");
        assert_eq!(lookup(&m, "/about").unwrap().1, "b");
        assert_eq!(lookup(&m, "/docs").unwrap().1, "c");
        assert_eq!(lookup(&m, "/app.js").unwrap().1, "d");
        assert!(lookup(&m, "/nope").is_none());
        assert_eq!(content_type_for("/x.css"), "text/css; charset=utf-8");
    }
}
