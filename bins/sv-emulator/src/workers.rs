//! Workers scripts: multipart module upload (metadata + bindings), content download,
//! settings and script-settings, secrets (values never returned, never stored), versions,
//! percentage deployments with rollback rules, cron schedules, workers.dev enablement, the
//! account subdomain, the undocumented services endpoint and account settings.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, put};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::api::{
    self, ApiError, ApiResult, Json, Query, content_type, invalid_content_type, ok, ok_info, raw,
};
use crate::model::{
    Deployment, DeploymentVersion, Model, ModuleRef, Schedule, Script, SecretMeta, Version,
};
use crate::pagination::{PageBounds, PageReq};
use crate::state::AppState;

type S = State<Arc<AppState>>;

/// Largest upload accepted (Workers' paid-plan script size is 10 MB compressed).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// A gradual deployment may hold at most this many versions.
pub const MAX_DEPLOYMENT_VERSIONS: usize = 2;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let a = "/accounts/{account_id}/workers";
    let sc = "/accounts/{account_id}/workers/scripts/{script_name}";
    Router::new()
        .route(&format!("{a}/scripts"), get(list_scripts))
        .route(sc, get(download).put(upload).delete(delete_script))
        .route(&format!("{sc}/content"), put(put_content))
        .route(&format!("{sc}/content/v2"), get(download))
        .route(
            &format!("{sc}/settings"),
            get(get_settings).patch(patch_settings),
        )
        .route(
            &format!("{sc}/script-settings"),
            get(get_script_settings).patch(patch_script_settings),
        )
        .route(&format!("{sc}/secrets"), get(list_secrets).put(put_secret))
        .route(
            &format!("{sc}/secrets/{{secret_name}}"),
            get(get_secret).delete(delete_secret),
        )
        .route(&format!("{sc}/secrets-bulk"), patch(bulk_secrets))
        .route(
            &format!("{sc}/versions"),
            get(list_versions).post(upload_version),
        )
        .route(&format!("{sc}/versions/{{version_id}}"), get(get_version))
        .route(
            &format!("{sc}/deployments"),
            get(list_deployments).post(create_deployment),
        )
        .route(
            &format!("{sc}/deployments/{{deployment_id}}"),
            get(get_deployment).delete(delete_deployment),
        )
        .route(
            &format!("{sc}/schedules"),
            get(get_schedules).put(put_schedules),
        )
        .route(
            &format!("{sc}/subdomain"),
            get(get_script_subdomain)
                .post(post_script_subdomain)
                .delete(delete_script_subdomain),
        )
        .route(&format!("{a}/services/{{service_name}}"), get(get_service))
        .route(
            &format!("{a}/subdomain"),
            get(get_subdomain)
                .put(put_subdomain)
                .delete(delete_subdomain),
        )
        .route(&format!("{a}/subdomains/{{name}}"), get(probe_subdomain))
        .route(
            &format!("{a}/account-settings"),
            get(get_account_settings).put(put_account_settings),
        )
}

pub fn script_not_found() -> ApiError {
    ApiError::not_found(10007, "This Worker does not exist on your account.")
}

fn upload_error(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(10021, msg)
}

/// `^[a-z0-9_][a-z0-9-_]*$`, at most 63 characters (it must fit a workers.dev label).
pub fn valid_script_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 63
}

// ---------------------------------------------------------------------------------------
// Upload parsing

/// One uploaded part.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub content_type: String,
    pub data: Bytes,
}

/// A parsed script / version upload.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub metadata: Value,
    pub parts: Vec<Part>,
}

/// Reads a multipart upload (or a raw service-worker script).
pub async fn read_upload(req: Request, metadata_part: &str) -> Result<Upload, ApiError> {
    let ct = content_type(req.headers());
    if ct == "application/javascript" || ct == "text/javascript" {
        let body = api::read_limited(req, MAX_UPLOAD_BYTES).await?;
        return Ok(Upload {
            metadata: json!({"body_part": "script"}),
            parts: vec![Part {
                name: "script".into(),
                content_type: ct,
                data: body,
            }],
        });
    }
    if ct != "multipart/form-data" {
        return Err(invalid_content_type(
            "multipart/form-data, application/javascript",
        ));
    }
    if let Some(len) = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > MAX_UPLOAD_BYTES
    {
        return Err(ApiError::payload_too_large("Upload", MAX_UPLOAD_BYTES));
    }
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| upload_error(format!("Invalid multipart body: {e}")))?;
    let mut up = Upload {
        metadata: Value::Null,
        parts: Vec::new(),
    };
    let mut total = 0usize;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| upload_error(format!("Invalid multipart body: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        let file = field.file_name().map(str::to_string);
        let ct = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let data = field
            .bytes()
            .await
            .map_err(|e| upload_error(format!("Invalid multipart body: {e}")))?;
        total += data.len();
        if total > MAX_UPLOAD_BYTES {
            return Err(ApiError::payload_too_large("Upload", MAX_UPLOAD_BYTES));
        }
        if name == metadata_part {
            up.metadata = serde_json::from_slice(&data)
                .map_err(|e| upload_error(format!("Metadata part is not valid JSON: {e}")))?;
        } else {
            up.parts.push(Part {
                name: file
                    .filter(|f| !f.is_empty() && name.is_empty())
                    .unwrap_or(name),
                content_type: ct,
                data,
            });
        }
    }
    if up.metadata.is_null() {
        return Err(upload_error(format!("Missing the '{metadata_part}' part")));
    }
    Ok(up)
}

fn detect_handlers(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for h in [
        "fetch",
        "scheduled",
        "queue",
        "tail",
        "email",
        "trace",
        "alarm",
    ] {
        let patterns = [
            format!("{h}("),
            format!("{h} ("),
            format!("\"{h}\""),
            format!("'{h}'"),
            format!("{h}:"),
        ];
        if patterns.iter().any(|p| source.contains(p.as_str())) {
            out.push(h.to_string());
        }
    }
    if out.is_empty() {
        out.push("fetch".into());
    }
    out
}

/// Secrets found in an upload: (name, type). Their values are never kept.
type SecretChange = (String, String);

/// Bindings and values extracted from upload metadata.
struct BindingSet {
    /// As returned by the API (secret texts removed).
    bindings: Vec<Value>,
    vars: BTreeMap<String, Value>,
    secrets: Vec<SecretChange>,
}

impl AppState {
    /// Validates bindings against existing resources, resolves `inherit` and
    /// `keep_bindings` from the previous version.
    fn resolve_bindings(
        &self,
        meta: &Value,
        prev: Option<&Version>,
        script: Option<&Script>,
    ) -> Result<BindingSet, ApiError> {
        let mut set = BindingSet {
            bindings: Vec::new(),
            vars: BTreeMap::new(),
            secrets: Vec::new(),
        };
        let mut names = std::collections::BTreeSet::new();
        let (kv, d1, r2) = self.read(|m| {
            (
                m.kv_namespaces.keys().cloned().collect::<Vec<_>>(),
                m.d1.keys().cloned().collect::<Vec<_>>(),
                m.r2.values().map(|b| b.name.clone()).collect::<Vec<_>>(),
            )
        });
        for b in meta["bindings"].as_array().into_iter().flatten() {
            let name = b["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| upload_error("Every binding needs a name"))?
                .to_string();
            let kind = b["type"]
                .as_str()
                .ok_or_else(|| upload_error(format!("Binding {name} needs a type")))?;
            if !names.insert(name.clone()) {
                return Err(upload_error(format!(
                    "Binding name {name} is used more than once"
                )));
            }
            let field = |f: &str| {
                b[f].as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| upload_error(format!("Binding {name} ({kind}) needs {f}")))
            };
            // `{type, name}` alone names an existing binding to keep (wrangler's secret
            // commands PATCH settings that way); for types that carry data this is the only
            // reading that makes sense.
            let bare = b
                .as_object()
                .is_some_and(|o| o.keys().all(|k| k == "type" || k == "name"));
            if bare
                && let Some(existing) = prev.and_then(|p| {
                    p.bindings
                        .iter()
                        .find(|x| x["name"] == name.as_str() && x["type"] == kind)
                })
            {
                if let Some(v) = prev.and_then(|p| p.vars.get(&name)) {
                    set.vars.insert(name.clone(), v.clone());
                }
                set.bindings.push(existing.clone());
                continue;
            }
            if bare
                && (kind == "secret_text" || kind == "secret_key")
                && script.is_some_and(|s| s.secrets.contains_key(&name))
            {
                set.bindings.push(json!({"name": name, "type": kind}));
                continue;
            }
            match kind {
                "inherit" => {
                    let from = prev
                        .and_then(|p| p.bindings.iter().find(|x| x["name"] == name.as_str()))
                        .cloned()
                        .ok_or_else(|| ApiError::bad_request(10057, format!("Binding {name} cannot be inherited: the previous version has no binding of that name")))?;
                    if let Some(v) = prev.and_then(|p| p.vars.get(&name)) {
                        set.vars.insert(name.clone(), v.clone());
                    }
                    set.bindings.push(from);
                    continue;
                }
                "plain_text" => {
                    let text = b["text"].as_str().ok_or_else(|| {
                        upload_error(format!("Binding {name} (plain_text) needs text"))
                    })?;
                    set.vars.insert(name.clone(), json!(text));
                }
                "json" => {
                    set.vars.insert(name.clone(), b["json"].clone());
                }
                "secret_text" => {
                    // The value is checked for presence and then dropped: secrets are never
                    // stored, not even hashed.
                    if !b["text"].is_string() {
                        return Err(upload_error(format!(
                            "Binding {name} (secret_text) needs text"
                        )));
                    }
                    set.secrets.push((name.clone(), "secret_text".into()));
                    set.bindings
                        .push(json!({"name": name, "type": "secret_text"}));
                    continue;
                }
                "kv_namespace" => {
                    let id = field("namespace_id")?;
                    if !kv.contains(&id) {
                        return Err(upload_error(format!(
                            "KV namespace '{id}' is not valid. [code: 10041]"
                        )));
                    }
                }
                "d1" => {
                    let id = b["id"]
                        .as_str()
                        .or_else(|| b["database_id"].as_str())
                        .map(str::to_string)
                        .ok_or_else(|| upload_error(format!("Binding {name} (d1) needs id")))?;
                    if !d1.contains(&id) {
                        return Err(upload_error(format!("D1 database '{id}' does not exist")));
                    }
                }
                "r2_bucket" => {
                    let bucket = field("bucket_name")?;
                    if !r2.contains(&bucket) {
                        return Err(upload_error(format!("R2 bucket '{bucket}' does not exist")));
                    }
                }
                "service" => {
                    field("service")?;
                }
                "durable_object_namespace" => {
                    field("class_name")?;
                }
                "queue" => {
                    field("queue_name")?;
                }
                _ => {}
            }
            set.bindings.push(b.clone());
        }
        // keep_bindings: carry over previous bindings of these types unless redefined.
        let keep: Vec<&str> = meta["keep_bindings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let Some(p) = prev {
            for b in &p.bindings {
                let kind = b["type"].as_str().unwrap_or("");
                let name = b["name"].as_str().unwrap_or("").to_string();
                if keep.contains(&kind) && !names.contains(&name) {
                    names.insert(name.clone());
                    if let Some(v) = p.vars.get(&name) {
                        set.vars.insert(name.clone(), v.clone());
                    }
                    set.bindings.push(b.clone());
                }
            }
        }
        // Secrets set through the secrets API are bindings of every later version unless
        // the upload replaces them by name.
        if let Some(s) = script {
            let secret_kept = keep.is_empty()
                || keep
                    .iter()
                    .any(|k| *k == "secret_text" || *k == "secret_key");
            if secret_kept {
                for (name, meta) in &s.secrets {
                    if !names.contains(name) {
                        names.insert(name.clone());
                        set.bindings.push(json!({"name": name, "type": meta.kind}));
                    }
                }
            }
        }
        Ok(set)
    }

    /// Builds a version from an upload (not yet stored in the model).
    fn build_version(
        &self,
        script: Option<&Script>,
        up: &Upload,
        source: &str,
    ) -> Result<(Version, Vec<SecretChange>), ApiError> {
        let meta = &up.metadata;
        let main = meta["main_module"]
            .as_str()
            .or_else(|| meta["body_part"].as_str())
            .map(str::to_string);
        let has_modules = meta["main_module"].is_string();
        let main = match main {
            Some(m) => m,
            None if up.parts.len() == 1 => up.parts[0].name.clone(),
            None => {
                return Err(upload_error(
                    "Metadata must name main_module (ES modules) or body_part (service worker)",
                ));
            }
        };
        if !up.parts.iter().any(|p| p.name == main) {
            return Err(upload_error(format!(
                "No such module \"{main}\": the main module must be one of the uploaded parts"
            )));
        }
        let prev = script.and_then(|s| s.versions.last());
        let set = self.resolve_bindings(meta, prev, script)?;
        let assets = self.resolve_assets(
            meta,
            script
                .and_then(serving_version)
                .and_then(|v| v.assets.as_ref()),
        )?;
        let mut modules = Vec::new();
        let mut etag_hasher = Sha256::new();
        let mut main_source = String::new();
        for p in &up.parts {
            let hash = hex::encode(Sha256::digest(&p.data));
            self.store.blob_put(&hash, &p.data)?;
            etag_hasher.update(p.name.as_bytes());
            etag_hasher.update(hash.as_bytes());
            if p.name == main {
                main_source = String::from_utf8_lossy(&p.data).into_owned();
            }
            modules.push(ModuleRef {
                name: p.name.clone(),
                content_type: p.content_type.clone(),
                hash,
                size: p.data.len(),
            });
        }
        etag_hasher.update(meta.to_string().as_bytes());
        let mut annotations: BTreeMap<String, Value> = meta["annotations"]
            .as_object()
            .map(|o| o.clone().into_iter().collect())
            .unwrap_or_default();
        if let Some(msg) = annotations.get("workers/message").and_then(Value::as_str) {
            // Today's API truncates the message at 1000 bytes.
            let mut end = msg.len().min(1000);
            while !msg.is_char_boundary(end) {
                end -= 1;
            }
            let truncated = msg[..end].to_string();
            annotations.insert("workers/message".into(), json!(truncated));
        }
        if annotations
            .get("workers/tag")
            .and_then(Value::as_str)
            .is_some_and(|t| t.len() > 100)
        {
            return Err(upload_error("workers/tag must be at most 100 bytes"));
        }
        let usage_model = meta["usage_model"].as_str().map_or_else(
            || script.map_or_else(|| "bundled".to_string(), |s| s.usage_model.clone()),
            str::to_string,
        );
        let version = Version {
            id: self.uuid(),
            number: script.map_or(0, |s| s.versions.len() as u64) + 1,
            created_on: self.now_rfc3339(),
            source: source.to_string(),
            author_email: self.read(|m| m.user.email.clone()),
            annotations,
            bindings: set.bindings,
            vars: set.vars,
            main_module: main,
            modules,
            compatibility_date: meta["compatibility_date"].as_str().map(str::to_string),
            compatibility_flags: meta["compatibility_flags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect(),
            usage_model,
            limits: meta.get("limits").cloned().filter(|l| !l.is_null()),
            etag: hex::encode(etag_hasher.finalize()),
            handlers: detect_handlers(&main_source),
            has_modules,
            secrets_generation: script.map_or(0, |s| s.secrets_generation),
            assets,
        };
        Ok((version, set.secrets))
    }
}

fn apply_secrets(s: &mut Script, secrets: &[SecretChange]) {
    if secrets.is_empty() {
        return;
    }
    // Values are unknown to the emulator, so every write counts as a change (the live API
    // also makes a new version for every secret write).
    for (name, kind) in secrets {
        s.secrets
            .insert(name.clone(), SecretMeta { kind: kind.clone() });
    }
    s.secrets_generation += 1;
}

/// The version a deployment serves most traffic with (or the latest upload).
pub fn serving_version(s: &Script) -> Option<&Version> {
    let id = s
        .deployments
        .last()
        .and_then(|d| {
            d.versions
                .iter()
                .max_by(|a, b| a.percentage.total_cmp(&b.percentage))
        })
        .map(|v| v.version_id.clone())
        .or_else(|| s.latest_version.clone())?;
    s.versions.iter().find(|v| v.id == id)
}

/// A deployment value; built outside the model lock's callers pass what needs the model.
fn new_deployment(
    st: &AppState,
    email: &str,
    versions: Vec<DeploymentVersion>,
    source: &str,
    triggered_by: &str,
) -> Deployment {
    let mut annotations = BTreeMap::new();
    annotations.insert("workers/triggered_by".to_string(), json!(triggered_by));
    Deployment {
        id: st.uuid(),
        created_on: st.now_rfc3339(),
        source: source.to_string(),
        strategy: "percentage".into(),
        author_email: email.to_string(),
        annotations,
        versions,
    }
}

fn binding_json(b: &Value) -> Value {
    let mut b = b.clone();
    if (b["type"] == "secret_text" || b["type"] == "secret_key")
        && let Some(o) = b.as_object_mut()
    {
        o.remove("text");
    }
    b
}

pub fn version_json(s: &Script, v: &Version) -> Value {
    json!({
        "id": v.id,
        "number": v.number,
        "metadata": {
            "author_email": v.author_email,
            "author_id": "",
            "created_on": v.created_on,
            "modified_on": v.created_on,
            "source": v.source,
            "hasPreview": false,
            "has_preview": false,
        },
        "annotations": v.annotations,
        "resources": {
            "bindings": v.bindings.iter().map(binding_json).collect::<Vec<_>>(),
            "script": {
                "etag": v.etag,
                "handlers": v.handlers,
                "last_deployed_from": s.last_deployed_from,
            },
            "script_runtime": {
                "compatibility_date": v.compatibility_date,
                "compatibility_flags": v.compatibility_flags,
                "usage_model": v.usage_model,
                "limits": v.limits.clone().unwrap_or_else(|| json!({})),
            },
        },
        "startup_time_ms": 1,
    })
}

pub fn deployment_json(d: &Deployment) -> Value {
    json!({
        "id": d.id,
        "created_on": d.created_on,
        "source": d.source,
        "strategy": d.strategy,
        "author_email": d.author_email,
        "annotations": d.annotations,
        "versions": d.versions.iter().map(|v| json!({"version_id": v.version_id, "percentage": v.percentage})).collect::<Vec<_>>(),
    })
}

fn script_json(s: &Script) -> Value {
    let v = s
        .latest_version
        .as_ref()
        .and_then(|id| s.versions.iter().find(|v| &v.id == id));
    let mut out = json!({
        "id": s.name,
        "tag": s.tag,
        "tags": s.tags,
        "etag": v.map(|v| v.etag.clone()).unwrap_or_default(),
        "created_on": s.created_on,
        "modified_on": s.modified_on,
        "usage_model": s.usage_model,
        "logpush": s.logpush,
        "tail_consumers": s.tail_consumers.clone().unwrap_or_else(|| json!([])),
        "handlers": v.map(|v| v.handlers.clone()).unwrap_or_default(),
        "has_modules": v.is_some_and(|v| v.has_modules),
        "has_assets": v.is_some_and(|v| v.assets.is_some()),
        "compatibility_date": v.and_then(|v| v.compatibility_date.clone()),
        "compatibility_flags": v.map(|v| v.compatibility_flags.clone()).unwrap_or_default(),
        "last_deployed_from": s.last_deployed_from,
        "observability": s.observability.clone().unwrap_or_else(|| json!({"enabled": false})),
    });
    if let Some(p) = s.placement.as_ref().and_then(|p| p["mode"].as_str()) {
        out["placement_mode"] = json!(p);
    }
    if let Some(t) = &s.migration_tag {
        out["migration_tag"] = json!(t);
    }
    out
}

fn get_script<'m>(m: &'m Model, name: &str) -> Result<&'m Script, ApiError> {
    m.workers.get(name).ok_or_else(script_not_found)
}

fn get_script_mut<'m>(m: &'m mut Model, name: &str) -> Result<&'m mut Script, ApiError> {
    m.workers.get_mut(name).ok_or_else(script_not_found)
}

// ---------------------------------------------------------------------------------------
// Scripts

async fn list_scripts(State(st): S) -> ApiResult {
    ok(st.read(|m| m.workers.values().map(script_json).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, Default)]
struct UploadQuery {
    /// Legacy rollback. (`excludeScript` and `bindings_inherit=strict`, which wrangler sends,
    /// need nothing: results never echo the script and `inherit` is always strict.)
    rollback_to: Option<String>,
}

impl AppState {
    /// `PUT …/scripts/{name}`: creates the script or a new version of it and deploys that
    /// version at 100 %.
    pub fn upload_script(&self, name: &str, up: &Upload, source: &str) -> Result<Value, ApiError> {
        if !valid_script_name(name) {
            return Err(ApiError::bad_request(
                10016,
                format!(
                    "Invalid Worker name {name:?}: use lower-case letters, digits, '-' and '_' (at most 63)"
                ),
            ));
        }
        let existing = self.read(|m| m.workers.get(name).cloned());
        if existing.is_none()
            && self.read(|m| m.subdomain.is_none())
            && self.read(|m| m.workers.is_empty())
        {
            return Err(ApiError::bad_request(
                10063,
                "You need to register a workers.dev subdomain before publishing your first Worker",
            ));
        }
        let (version, secrets) = self.build_version(existing.as_ref(), up, source)?;
        let tag = self.hex_id();
        let now = self.now_rfc3339();
        let meta = up.metadata.clone();
        let email = self.read(|m| m.user.email.clone());
        self.mutate(|m| {
            let s = m.workers.entry(name.to_string()).or_insert_with(|| Script {
                name: name.to_string(),
                tag,
                created_on: now.clone(),
                usage_model: "bundled".into(),
                last_deployed_from: "wrangler".into(),
                subdomain_enabled: true,
                previews_enabled: false,
                ..Script::default()
            });
            apply_secrets(s, &secrets);
            let mut version = version;
            version.secrets_generation = s.secrets_generation;
            s.modified_on.clone_from(&now);
            s.usage_model.clone_from(&version.usage_model);
            if let Some(l) = meta["logpush"].as_bool() {
                s.logpush = l;
            }
            if let Some(t) = meta.get("tail_consumers").filter(|t| !t.is_null()) {
                s.tail_consumers = Some(t.clone());
            }
            if let Some(o) = meta.get("observability").filter(|o| !o.is_null()) {
                s.observability = Some(o.clone());
            }
            if let Some(p) = meta.get("placement").filter(|p| !p.is_null()) {
                s.placement = Some(p.clone());
            }
            if let Some(tags) = meta["tags"].as_array() {
                s.tags = tags
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect();
            }
            if let Some(tag) = meta["migrations"]["new_tag"].as_str() {
                s.migration_tag = Some(tag.to_string());
            }
            let vid = version.id.clone();
            s.latest_version = Some(vid.clone());
            s.versions.push(version);
            let dep = new_deployment(
                self,
                &email,
                vec![DeploymentVersion {
                    version_id: vid.clone(),
                    percentage: 100.0,
                }],
                "wrangler",
                "upload",
            );
            s.deployments.push(dep);
            let mut out = script_json(s);
            out["deployment_id"] = json!(vid);
            out["startup_time_ms"] = json!(1);
            Ok(out)
        })
    }
}

async fn upload(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> ApiResult {
    if let Some(dep) = q.rollback_to {
        // Legacy rollback: deploy the version of that deployment (or version id) at 100 %.
        let vid = st.read(|m| {
            let s = get_script(m, &name)?;
            s.deployments
                .iter()
                .find(|d| d.id == dep)
                .and_then(|d| d.versions.first().map(|v| v.version_id.clone()))
                .or_else(|| {
                    s.versions
                        .iter()
                        .find(|v| v.id == dep)
                        .map(|v| v.id.clone())
                })
                .ok_or_else(|| ApiError::not_found(10227, format!("Deployment {dep} not found")))
        })?;
        let d = st.deploy(
            &name,
            vec![DeploymentVersion {
                version_id: vid,
                percentage: 100.0,
            }],
            Some("Rollback"),
            true,
        )?;
        return ok(d);
    }
    let up = read_upload(req, "metadata").await?;
    ok(st.upload_script(&name, &up, "wrangler")?)
}

async fn put_content(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let mut up = read_upload(req, "metadata").await?;
    // Content-only: keep the serving version's bindings and settings.
    let prev = st.read(|m| get_script(m, &name).map(|s| serving_version(s).cloned()))?;
    if let Some(p) = prev {
        let meta = up
            .metadata
            .as_object_mut()
            .ok_or_else(|| upload_error("metadata must be an object"))?;
        meta.insert(
            "bindings".into(),
            json!(
                p.bindings
                    .iter()
                    .map(|b| json!({"name": b["name"], "type": "inherit"}))
                    .collect::<Vec<_>>()
            ),
        );
        meta.entry("compatibility_date")
            .or_insert(json!(p.compatibility_date));
        meta.entry("compatibility_flags")
            .or_insert(json!(p.compatibility_flags));
    }
    ok(st.upload_script(&name, &up, "api")?)
}

async fn download(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    let v = st
        .read(|m| get_script(m, &name).map(|s| serving_version(s).cloned()))?
        .ok_or_else(script_not_found)?;
    if v.modules.len() == 1 {
        let m = &v.modules[0];
        let data = st.store.blob_get(&m.hash)?.unwrap_or_default();
        let mut resp = raw(StatusCode::OK, &m.content_type, data);
        if let Ok(h) = HeaderValue::from_str(&v.main_module) {
            resp.headers_mut().insert("cf-entrypoint", h);
        }
        return Ok(resp);
    }
    // Several modules: a multipart body, one part per module; cf-entrypoint names the main one.
    let boundary = format!("sv-emulator-{}", &v.etag[..16]);
    let mut body = Vec::new();
    for m in &v.modules {
        let data = st.store.blob_get(&m.hash)?.unwrap_or_default();
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{0}\"; filename=\"{0}\"\r\nContent-Type: {1}\r\n\r\n", m.name, m.content_type).as_bytes());
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut resp = raw(
        StatusCode::OK,
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    );
    if let Ok(h) = HeaderValue::from_str(&v.main_module) {
        resp.headers_mut().insert("cf-entrypoint", h);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize, Default)]
struct ForceQuery {
    force: Option<String>,
}

async fn delete_script(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Query(q): Query<ForceQuery>,
) -> ApiResult {
    let force = q.force.as_deref() == Some("true");
    st.mutate(|m| {
        get_script(m, &name)?;
        if !force {
            let users: Vec<String> = m
                .workers
                .values()
                .filter(|s| s.name != name)
                .filter(|s| {
                    serving_version(s).is_some_and(|v| {
                        v.bindings
                            .iter()
                            .any(|b| b["type"] == "service" && b["service"] == name.as_str())
                    })
                })
                .map(|s| s.name.clone())
                .collect();
            if !users.is_empty() {
                return Err(ApiError::bad_request(
                    10064,
                    format!(
                        "Cannot delete this Worker: it is bound by {}. Use force=true.",
                        users.join(", ")
                    ),
                ));
            }
        }
        m.workers.remove(&name);
        m.routes
            .retain(|_, r| r.script.as_deref() != Some(name.as_str()));
        m.domains.retain(|_, d| d.service != name);
        Ok(())
    })?;
    for t in st.tails.for_script(&name) {
        st.close_tail(&t.id)?;
    }
    ok(Value::Null)
}

// ---------------------------------------------------------------------------------------
// Settings

fn settings_json(s: &Script) -> Value {
    let v = serving_version(s);
    json!({
        "bindings": v.map(|v| v.bindings.iter().map(binding_json).collect::<Vec<_>>()).unwrap_or_default(),
        "compatibility_date": v.and_then(|v| v.compatibility_date.clone()),
        "compatibility_flags": v.map(|v| v.compatibility_flags.clone()).unwrap_or_default(),
        "limits": v.and_then(|v| v.limits.clone()).unwrap_or_else(|| json!({})),
        "logpush": s.logpush,
        "placement": s.placement.clone().unwrap_or_else(|| json!({})),
        "tags": s.tags,
        "tail_consumers": s.tail_consumers.clone().unwrap_or_else(|| json!([])),
        "usage_model": s.usage_model,
        "observability": s.observability.clone().unwrap_or_else(|| json!({"enabled": false})),
    })
}

async fn get_settings(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    ok(st.read(|m| get_script(m, &name).map(settings_json))?)
}

async fn patch_settings(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let up = read_upload(req, "settings").await?;
    let settings = up.metadata;
    let script = st.read(|m| get_script(m, &name).cloned())?;
    // Versioned fields (bindings, compatibility, limits) make a new version; the rest are
    // script-level.
    let versioned = [
        "bindings",
        "compatibility_date",
        "compatibility_flags",
        "limits",
        "usage_model",
    ]
    .iter()
    .any(|k| settings.get(*k).is_some_and(|v| !v.is_null()));
    let new_version = if versioned {
        let prev = serving_version(&script)
            .cloned()
            .ok_or_else(script_not_found)?;
        let mut meta = json!({
            "main_module": prev.main_module,
            "compatibility_date": settings.get("compatibility_date").cloned().unwrap_or(json!(prev.compatibility_date)),
            "compatibility_flags": settings.get("compatibility_flags").cloned().unwrap_or(json!(prev.compatibility_flags)),
            "usage_model": settings.get("usage_model").cloned().unwrap_or(json!(prev.usage_model)),
            "limits": settings.get("limits").cloned().unwrap_or(json!(prev.limits)),
            "bindings": settings.get("bindings").cloned().unwrap_or_else(|| json!(prev.bindings.iter().map(|b| json!({"name": b["name"], "type": "inherit"})).collect::<Vec<_>>())),
        });
        if !prev.has_modules {
            meta["body_part"] = meta["main_module"].take();
        }
        let mut parts = Vec::new();
        for m in &prev.modules {
            parts.push(Part {
                name: m.name.clone(),
                content_type: m.content_type.clone(),
                data: Bytes::from(st.store.blob_get(&m.hash)?.unwrap_or_default()),
            });
        }
        let mut cur = script.clone();
        // Inherit resolves against the serving version.
        cur.versions.push(prev.clone());
        Some(st.build_version(
            Some(&cur),
            &Upload {
                metadata: meta,
                parts,
            },
            "api",
        )?)
    } else {
        None
    };
    let email = st.read(|m| m.user.email.clone());
    let out = st.mutate(|m| {
        let s = get_script_mut(m, &name)?;
        if let Some(l) = settings["logpush"].as_bool() {
            s.logpush = l;
        }
        for (k, slot) in [
            ("tail_consumers", &mut s.tail_consumers),
            ("observability", &mut s.observability),
            ("placement", &mut s.placement),
        ] {
            if let Some(v) = settings.get(k).filter(|v| !v.is_null()) {
                *slot = Some(v.clone());
            }
        }
        if let Some(tags) = settings["tags"].as_array() {
            s.tags = tags
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
        }
        if let Some(u) = settings["usage_model"].as_str() {
            s.usage_model = u.to_string();
        }
        if let Some((mut v, secrets)) = new_version.clone() {
            apply_secrets(s, &secrets);
            v.secrets_generation = s.secrets_generation;
            v.number = s.versions.len() as u64 + 1;
            let vid = v.id.clone();
            s.latest_version = Some(vid.clone());
            s.versions.push(v);
            let dep = new_deployment(
                &st,
                &email,
                vec![DeploymentVersion {
                    version_id: vid,
                    percentage: 100.0,
                }],
                "api",
                "settings",
            );
            s.deployments.push(dep);
        }
        s.modified_on = st.now_rfc3339();
        Ok(settings_json(s))
    })?;
    ok(out)
}

fn script_settings_json(s: &Script) -> Value {
    json!({
        "logpush": s.logpush,
        "tail_consumers": s.tail_consumers.clone().unwrap_or_else(|| json!([])),
        "observability": s.observability.clone().unwrap_or_else(|| json!({"enabled": false})),
        "tags": s.tags,
    })
}

async fn get_script_settings(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    ok(st.read(|m| get_script(m, &name).map(script_settings_json))?)
}

async fn patch_script_settings(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> ApiResult {
    if !body.is_object() {
        return Err(ApiError::bad_request(10026, "Body must be a JSON object"));
    }
    let out = st.mutate(|m| {
        let s = get_script_mut(m, &name)?;
        if let Some(l) = body["logpush"].as_bool() {
            s.logpush = l;
        }
        if let Some(t) = body.get("tail_consumers") {
            s.tail_consumers = (!t.is_null()).then(|| t.clone());
        }
        if let Some(o) = body.get("observability") {
            s.observability = (!o.is_null()).then(|| o.clone());
        }
        if let Some(tags) = body["tags"].as_array() {
            s.tags = tags
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
        }
        Ok(script_settings_json(s))
    })?;
    ok(out)
}

// ---------------------------------------------------------------------------------------
// Secrets

impl AppState {
    /// Sets (Some) or deletes (None) secrets; every change makes a new version of the serving
    /// one and deploys it at 100 %, like the live API.
    pub fn change_secrets(
        &self,
        name: &str,
        changes: &[(String, Option<(String, String)>)],
    ) -> Result<(), ApiError> {
        for (n, _) in changes {
            if n.is_empty() || n.len() > 255 {
                return Err(ApiError::bad_request(
                    10056,
                    format!("Invalid secret name {n:?}"),
                ));
            }
        }
        let new_id = self.uuid();
        let dep_id = self.uuid();
        let now = self.now_rfc3339();
        let email = self.read(|m| m.user.email.clone());
        self.mutate(|m| {
            let s = get_script_mut(m, name)?;
            // Validate before changing anything: a failed call leaves the secrets as they were.
            for (n, v) in changes {
                if v.is_none() && !s.secrets.contains_key(n) {
                    return Err(ApiError::not_found(10056, format!("Secret {n} not found")));
                }
            }
            let mut changed = false;
            for (n, v) in changes {
                match v {
                    Some((kind, _text)) => {
                        changed = true;
                        s.secrets
                            .insert(n.clone(), SecretMeta { kind: kind.clone() });
                    }
                    None => {
                        if s.secrets.remove(n).is_none() {
                            return Err(ApiError::not_found(
                                10056,
                                format!("Secret {n} not found"),
                            ));
                        }
                        changed = true;
                    }
                }
            }
            if !changed {
                return Ok(());
            }
            s.secrets_generation += 1;
            if let Some(base) = serving_version(s).cloned() {
                let mut v = base;
                v.id.clone_from(&new_id);
                v.number = s.versions.len() as u64 + 1;
                v.created_on.clone_from(&now);
                v.source = "api".into();
                v.annotations =
                    BTreeMap::from([("workers/triggered_by".to_string(), json!("secret"))]);
                v.bindings
                    .retain(|b| !(b["type"] == "secret_text" || b["type"] == "secret_key"));
                for (n, meta) in &s.secrets {
                    v.bindings.push(json!({"name": n, "type": meta.kind}));
                }
                v.secrets_generation = s.secrets_generation;
                s.latest_version = Some(v.id.clone());
                s.versions.push(v);
                let mut annotations = BTreeMap::new();
                annotations.insert("workers/triggered_by".to_string(), json!("secret"));
                s.deployments.push(Deployment {
                    id: dep_id.clone(),
                    created_on: now.clone(),
                    source: "api".into(),
                    strategy: "percentage".into(),
                    author_email: email.clone(),
                    annotations,
                    versions: vec![DeploymentVersion {
                        version_id: new_id.clone(),
                        percentage: 100.0,
                    }],
                });
            }
            s.modified_on.clone_from(&now);
            Ok(())
        })
    }
}

async fn list_secrets(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    ok(st.read(|m| {
        get_script(m, &name).map(|s| {
            s.secrets
                .iter()
                .map(|(n, meta)| json!({"name": n, "type": meta.kind}))
                .collect::<Vec<_>>()
        })
    })?)
}

#[derive(Debug, Deserialize)]
struct SecretBody {
    name: String,
    text: String,
    #[serde(rename = "type", default = "secret_text")]
    kind: String,
}

fn secret_text() -> String {
    "secret_text".into()
}

async fn put_secret(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Json(b): Json<SecretBody>,
) -> ApiResult {
    if b.kind != "secret_text" && b.kind != "secret_key" {
        return Err(ApiError::bad_request(
            10056,
            format!("Invalid secret type {:?}", b.kind),
        ));
    }
    st.change_secrets(&name, &[(b.name.clone(), Some((b.kind.clone(), b.text)))])?;
    ok(json!({"name": b.name, "type": b.kind}))
}

async fn get_secret(
    State(st): S,
    Path((_a, name, secret)): Path<(String, String, String)>,
) -> ApiResult {
    let meta = st.read(|m| get_script(m, &name).map(|s| s.secrets.get(&secret).cloned()))?;
    meta.map_or_else(
        || {
            Err(ApiError::not_found(
                10056,
                format!("Secret {secret} not found"),
            ))
        },
        |m| ok(json!({"name": secret, "type": m.kind})),
    )
}

async fn delete_secret(
    State(st): S,
    Path((_a, name, secret)): Path<(String, String, String)>,
) -> ApiResult {
    st.change_secrets(&name, &[(secret, None)])?;
    ok(Value::Null)
}

#[derive(Debug, Deserialize)]
struct BulkSecrets {
    secrets: BTreeMap<String, Option<BulkSecret>>,
}

#[derive(Debug, Deserialize)]
struct BulkSecret {
    text: String,
    #[serde(rename = "type", default = "secret_text")]
    kind: String,
}

async fn bulk_secrets(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Json(b): Json<BulkSecrets>,
) -> ApiResult {
    let changes: Vec<(String, Option<(String, String)>)> = b
        .secrets
        .into_iter()
        .map(|(n, v)| (n, v.map(|s| (s.kind, s.text))))
        .collect();
    st.change_secrets(&name, &changes)?;
    ok(st.read(|m| {
        get_script(m, &name).map(|s| {
            s.secrets
                .iter()
                .map(|(n, meta)| json!({"name": n, "type": meta.kind}))
                .collect::<Vec<_>>()
        })
    })?)
}

// ---------------------------------------------------------------------------------------
// Versions and deployments

async fn upload_version(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let up = read_upload(req, "metadata").await?;
    if !up.metadata["main_module"].is_string() {
        return Err(upload_error(
            "Versions must be ES modules: metadata needs main_module",
        ));
    }
    let script = st.read(|m| get_script(m, &name).cloned())?;
    let (version, secrets) = st.build_version(Some(&script), &up, "wrangler")?;
    let out = st.mutate(|m| {
        let s = get_script_mut(m, &name)?;
        apply_secrets(s, &secrets);
        let mut v = version;
        v.number = s.versions.len() as u64 + 1;
        v.secrets_generation = s.secrets_generation;
        s.latest_version = Some(v.id.clone());
        s.versions.push(v.clone());
        Ok(version_json(s, &v))
    })?;
    ok(out)
}

#[derive(Debug, Deserialize, Default)]
struct VersionsQuery {
    /// (`deployable=true` needs nothing: every version of a modules Worker is deployable.)
    page: Option<String>,
    per_page: Option<String>,
}

async fn list_versions(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Query(q): Query<VersionsQuery>,
) -> ApiResult {
    let req = PageReq::parse(
        q.page.as_deref(),
        q.per_page.as_deref(),
        PageBounds {
            default: 10,
            min: 1,
            max: 100,
        },
    )?;
    let items: Vec<Value> = st.read(|m| {
        get_script(m, &name).map(|s| {
            s.versions
                .iter()
                .rev()
                .map(|v| version_json(s, v))
                .collect()
        })
    })?;
    let (page, info) = req.slice(&items);
    ok_info(json!({"items": page}), info)
}

async fn get_version(
    State(st): S,
    Path((_a, name, vid)): Path<(String, String, String)>,
) -> ApiResult {
    st.read(|m| {
        let s = get_script(m, &name)?;
        s.versions
            .iter()
            .find(|v| v.id == vid)
            .map(|v| version_json(s, v))
            .ok_or_else(|| ApiError::not_found(10230, format!("Version {vid} not found")))
    })
    .and_then(ok)
}

#[derive(Debug, Deserialize)]
struct DeploymentBody {
    strategy: String,
    versions: Vec<DeploymentVersion>,
    #[serde(default)]
    annotations: BTreeMap<String, Value>,
}

impl AppState {
    /// Creates a percentage deployment after checking the split and the secrets rule.
    pub fn deploy(
        &self,
        name: &str,
        versions: Vec<DeploymentVersion>,
        message: Option<&str>,
        force: bool,
    ) -> Result<Value, ApiError> {
        if versions.is_empty() || versions.len() > MAX_DEPLOYMENT_VERSIONS {
            return Err(ApiError::bad_request(
                10215,
                format!("A deployment must have 1 to {MAX_DEPLOYMENT_VERSIONS} versions"),
            ));
        }
        let total: f64 = versions.iter().map(|v| v.percentage).sum();
        if (total - 100.0).abs() > 0.001
            || versions
                .iter()
                .any(|v| !(0.0..=100.0).contains(&v.percentage))
        {
            return Err(ApiError::bad_request(
                10214,
                format!(
                    "Version percentages must each be between 0 and 100 and add up to 100 (got {total})"
                ),
            ));
        }
        if versions.len() == 2 && versions[0].version_id == versions[1].version_id {
            return Err(ApiError::bad_request(
                10215,
                "A deployment cannot list the same version twice",
            ));
        }
        let triggered = if message.is_some_and(|m| m.to_ascii_lowercase().starts_with("rollback")) {
            "rollback"
        } else {
            "deployment"
        };
        let dep_id = self.uuid();
        let now = self.now_rfc3339();
        let email = self.read(|m| m.user.email.clone());
        self.mutate(|m| {
            let s = get_script_mut(m, name)?;
            for dv in &versions {
                let v = s.versions.iter().find(|v| v.id == dv.version_id).ok_or_else(|| ApiError::bad_request(10230, format!("Version {} not found", dv.version_id)))?;
                if !force && v.secrets_generation < s.secrets_generation {
                    return Err(ApiError::bad_request(10220, format!("Secrets changed since version {} was created; deploy with force=true to use it anyway", v.id)));
                }
            }
            let mut annotations = BTreeMap::new();
            annotations.insert("workers/triggered_by".to_string(), json!(triggered));
            if let Some(msg) = message {
                annotations.insert("workers/message".to_string(), json!(msg));
            }
            let d = Deployment { id: dep_id, created_on: now.clone(), source: "api".into(), strategy: "percentage".into(), author_email: email, annotations, versions };
            let out = deployment_json(&d);
            s.deployments.push(d);
            s.modified_on = now;
            Ok(out)
        })
    }
}

async fn create_deployment(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Query(q): Query<ForceQuery>,
    Json(b): Json<DeploymentBody>,
) -> ApiResult {
    if b.strategy != "percentage" {
        return Err(ApiError::bad_request(
            10213,
            format!("Unsupported strategy {:?}: use percentage", b.strategy),
        ));
    }
    let msg = b
        .annotations
        .get("workers/message")
        .and_then(Value::as_str)
        .map(str::to_string);
    ok(st.deploy(
        &name,
        b.versions,
        msg.as_deref(),
        q.force.as_deref() == Some("true"),
    )?)
}

async fn list_deployments(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    ok(st.read(|m| get_script(m, &name).map(|s| json!({"deployments": s.deployments.iter().rev().map(deployment_json).collect::<Vec<_>>()})))?)
}

fn deployment_not_found(id: &str) -> ApiError {
    ApiError::not_found(10227, format!("Deployment {id} not found"))
}

async fn get_deployment(
    State(st): S,
    Path((_a, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    st.read(|m| {
        get_script(m, &name).and_then(|s| {
            s.deployments
                .iter()
                .find(|d| d.id == id)
                .map(deployment_json)
                .ok_or_else(|| deployment_not_found(&id))
        })
    })
    .and_then(ok)
}

async fn delete_deployment(
    State(st): S,
    Path((_a, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    st.mutate(|m| {
        let s = get_script_mut(m, &name)?;
        let pos = s
            .deployments
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(|| deployment_not_found(&id))?;
        if pos + 1 == s.deployments.len() {
            return Err(ApiError::bad_request(
                10228,
                "Cannot delete the active deployment",
            ));
        }
        s.deployments.remove(pos);
        Ok(())
    })?;
    ok(Value::Null)
}

// ---------------------------------------------------------------------------------------
// Schedules, subdomains, services, account settings

fn valid_cron(expr: &str) -> bool {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || ",-*/?LW#".contains(c))
        })
}

fn schedules_json(s: &Script) -> Value {
    json!({"schedules": s.schedules.iter().map(|c| json!({"cron": c.cron, "created_on": c.created_on, "modified_on": c.modified_on})).collect::<Vec<_>>()})
}

async fn get_schedules(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    ok(st.read(|m| get_script(m, &name).map(schedules_json))?)
}

#[derive(Debug, Deserialize)]
struct CronItem {
    cron: String,
}

async fn put_schedules(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Json(items): Json<Vec<CronItem>>,
) -> ApiResult {
    for c in &items {
        if !valid_cron(&c.cron) {
            return Err(ApiError::bad_request(
                10100,
                format!("Invalid cron expression {:?}", c.cron),
            ));
        }
    }
    if items.len() > 5 {
        return Err(ApiError::bad_request(
            10101,
            "A Worker can have at most 5 cron triggers",
        ));
    }
    let now = st.now_rfc3339();
    let out = st.mutate(|m| {
        let s = get_script_mut(m, &name)?;
        let old = std::mem::take(&mut s.schedules);
        s.schedules = items
            .iter()
            .map(|c| {
                let created = old
                    .iter()
                    .find(|o| o.cron == c.cron)
                    .map_or_else(|| now.clone(), |o| o.created_on.clone());
                Schedule {
                    cron: c.cron.clone(),
                    created_on: created,
                    modified_on: now.clone(),
                }
            })
            .collect();
        Ok(schedules_json(s))
    })?;
    ok(out)
}

async fn get_script_subdomain(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    ok(st.read(|m| {
        get_script(m, &name).map(
            |s| json!({"enabled": s.subdomain_enabled, "previews_enabled": s.previews_enabled}),
        )
    })?)
}

#[derive(Debug, Deserialize)]
struct ScriptSubdomain {
    enabled: bool,
    previews_enabled: Option<bool>,
}

async fn post_script_subdomain(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Json(b): Json<ScriptSubdomain>,
) -> ApiResult {
    let out = st.mutate(|m| {
        if b.enabled && m.subdomain.is_none() {
            return Err(ApiError::bad_request(
                10063,
                "Register a workers.dev subdomain for the account first",
            ));
        }
        let s = get_script_mut(m, &name)?;
        s.subdomain_enabled = b.enabled;
        s.previews_enabled = b.previews_enabled.unwrap_or(b.enabled);
        Ok(json!({"enabled": s.subdomain_enabled, "previews_enabled": s.previews_enabled}))
    })?;
    ok(out)
}

async fn delete_script_subdomain(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
) -> ApiResult {
    st.mutate(|m| {
        let s = get_script_mut(m, &name)?;
        s.subdomain_enabled = false;
        s.previews_enabled = false;
        Ok(())
    })?;
    ok(Value::Null)
}

fn subdomain_not_found() -> ApiError {
    ApiError::not_found(
        10007,
        "No workers.dev subdomain is registered for this account",
    )
}

async fn get_subdomain(State(st): S) -> ApiResult {
    // Today's API answers {subdomain}; the 2024 schema says {name}.
    st.read(|m| m.subdomain.clone()).map_or_else(
        || Err(subdomain_not_found()),
        |s| ok(json!({"subdomain": s})),
    )
}

#[derive(Debug, Deserialize)]
struct SubdomainBody {
    subdomain: String,
}

fn valid_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

async fn put_subdomain(State(st): S, Json(b): Json<SubdomainBody>) -> ApiResult {
    if !valid_label(&b.subdomain) {
        return Err(ApiError::bad_request(
            10033,
            format!("Invalid subdomain {:?}", b.subdomain),
        ));
    }
    st.mutate(|m| {
        m.subdomain = Some(b.subdomain.clone());
        Ok(())
    })?;
    ok(json!({"subdomain": b.subdomain}))
}

async fn delete_subdomain(State(st): S) -> ApiResult {
    st.mutate(|m| {
        m.subdomain
            .take()
            .map(|_| ())
            .ok_or_else(subdomain_not_found)
    })?;
    ok(Value::Null)
}

async fn probe_subdomain(State(st): S, Path((_a, name)): Path<(String, String)>) -> Response {
    let ours = st.read(|m| m.subdomain.clone());
    if ours.as_deref() == Some(name.as_str()) {
        ApiError::conflict(10031, "Subdomain unavailable").into_response()
    } else {
        ApiError::not_found(10032, "Subdomain available").into_response()
    }
}

async fn get_service(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    let out = st.read(|m| {
        get_script(m, &name).map(|s| {
            let v = serving_version(s);
            json!({
                "id": s.name,
                "created_on": s.created_on,
                "modified_on": s.modified_on,
                "default_environment": {
                    "environment": "production",
                    "created_on": s.created_on,
                    "modified_on": s.modified_on,
                    "script": {
                        "id": s.name,
                        "tag": s.tag,
                        "tags": s.tags,
                        "etag": v.map(|v| v.etag.clone()).unwrap_or_default(),
                        "handlers": v.map(|v| v.handlers.clone()).unwrap_or_default(),
                        "last_deployed_from": s.last_deployed_from,
                        "migration_tag": s.migration_tag,
                        "usage_model": s.usage_model,
                        "created_on": s.created_on,
                        "modified_on": s.modified_on,
                    },
                },
                "environments": [{"environment": "production", "created_on": s.created_on, "modified_on": s.modified_on}],
            })
        })
    })?;
    ok(out)
}

async fn get_account_settings(State(st): S) -> ApiResult {
    ok(st.read(|m| json!({"default_usage_model": m.account_settings.default_usage_model, "green_compute": m.account_settings.green_compute})))
}

#[derive(Debug, Deserialize)]
struct AccountSettingsBody {
    default_usage_model: Option<String>,
    green_compute: Option<bool>,
}

async fn put_account_settings(State(st): S, Json(b): Json<AccountSettingsBody>) -> ApiResult {
    let out = st.mutate(|m| {
        if let Some(u) = b.default_usage_model {
            m.account_settings.default_usage_model = u;
        }
        if let Some(g) = b.green_compute {
            m.account_settings.green_compute = g;
        }
        Ok(json!({"default_usage_model": m.account_settings.default_usage_model, "green_compute": m.account_settings.green_compute}))
    })?;
    ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_crons() {
        assert!(valid_script_name("my-worker_1"));
        assert!(!valid_script_name("My"));
        assert!(!valid_script_name(&"a".repeat(64)));
        assert!(valid_cron("*/30 * * * *"));
        assert!(valid_cron("0 12 * * MON-FRI"));
        assert!(!valid_cron("* * *"));
    }

    #[test]
    fn handler_detection() {
        assert_eq!(
            detect_handlers("export default { async fetch(req) {} }"),
            vec!["fetch"]
        );
        assert_eq!(
            detect_handlers("export default { fetch() {}, scheduled() {} }"),
            vec!["fetch", "scheduled"]
        );
    }
}
