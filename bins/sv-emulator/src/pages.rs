//! Pages, as far as the sv tools use it: projects (CRUD), direct-upload deployments
//! (upload token, asset check-missing / upload / upsert-hashes, multipart deployment with a
//! manifest), deployment list / get / delete / retry / rollback / logs, and custom domains.
//! Deployments finish at once (`latest_stage` = deploy / success); nothing is served.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{
    ApiError, ApiResult, BigJson, Json, Query, content_type, invalid_content_type, ok, ok_info,
};
use crate::model::{PagesDeployment, PagesDomain, PagesProject};
use crate::pagination::{PageBounds, PageReq};
use crate::state::AppState;

type S = State<Arc<AppState>>;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let p = "/accounts/{account_id}/pages/projects";
    let pp = "/accounts/{account_id}/pages/projects/{project_name}";
    Router::new()
        .route(p, get(list_projects).post(create_project))
        .route(
            pp,
            get(get_project)
                .patch(update_project)
                .delete(delete_project),
        )
        .route(&format!("{pp}/upload-token"), get(upload_token))
        .route(
            &format!("{pp}/deployments"),
            get(list_deployments).post(create_deployment),
        )
        .route(
            &format!("{pp}/deployments/{{deployment_id}}"),
            get(get_deployment).delete(delete_deployment),
        )
        .route(
            &format!("{pp}/deployments/{{deployment_id}}/retry"),
            post(retry_deployment),
        )
        .route(
            &format!("{pp}/deployments/{{deployment_id}}/rollback"),
            post(rollback_deployment),
        )
        .route(
            &format!("{pp}/deployments/{{deployment_id}}/history/logs"),
            get(deployment_logs),
        )
        .route(&format!("{pp}/domains"), get(list_domains).post(add_domain))
        .route(
            &format!("{pp}/domains/{{domain_name}}"),
            get(get_domain).patch(get_domain).delete(delete_domain),
        )
        .route("/pages/assets/check-missing", post(check_missing))
        .route("/pages/assets/upload", post(upload_assets))
        .route("/pages/assets/upsert-hashes", post(upsert_hashes))
}

fn project_not_found() -> ApiError {
    ApiError::not_found(
        8_000_007,
        "Project not found. The specified project name does not match any of your existing projects.",
    )
}

fn deployment_not_found() -> ApiError {
    ApiError::not_found(
        8_000_009,
        "The deployment ID you have specified does not exist. Update the deployment ID and try again.",
    )
}

pub fn valid_project_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 58
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !n.starts_with('-')
        && !n.ends_with('-')
}

fn stage(name: &str, at: &str) -> Value {
    json!({"name": name, "started_on": at, "ended_on": at, "status": "success"})
}

const STAGES: [&str; 5] = ["queued", "initialize", "clone_repo", "build", "deploy"];

fn deployment_json(p: &PagesProject, d: &PagesDeployment) -> Value {
    json!({
        "id": d.id,
        "short_id": d.short_id,
        "project_id": p.id,
        "project_name": p.name,
        "environment": d.environment,
        "url": d.url,
        "created_on": d.created_on,
        "modified_on": d.modified_on,
        "aliases": if d.aliases.is_empty() { Value::Null } else { json!(d.aliases) },
        "latest_stage": stage("deploy", &d.modified_on),
        "stages": STAGES.iter().map(|s| stage(s, &d.created_on)).collect::<Vec<_>>(),
        "deployment_trigger": {"type": "ad_hoc", "metadata": {"branch": d.branch, "commit_hash": d.commit_hash, "commit_message": d.commit_message, "commit_dirty": d.commit_dirty}},
        "env_vars": {},
        "is_skipped": d.is_skipped,
        "build_config": p.build_config,
        "source": p.source.clone().unwrap_or(Value::Null),
        "uses_functions": false,
    })
}

fn project_json(p: &PagesProject) -> Value {
    let latest = p.deployments.last().map(|d| deployment_json(p, d));
    let canonical = p
        .deployments
        .iter()
        .rev()
        .find(|d| d.environment == "production")
        .map(|d| deployment_json(p, d));
    json!({
        "id": p.id,
        "name": p.name,
        "subdomain": p.subdomain,
        "domains": std::iter::once(p.subdomain.clone()).chain(p.domains.iter().map(|d| d.name.clone())).collect::<Vec<_>>(),
        "production_branch": p.production_branch,
        "created_on": p.created_on,
        "build_config": p.build_config,
        "deployment_configs": p.deployment_configs,
        "source": p.source.clone().unwrap_or(Value::Null),
        "latest_deployment": latest.unwrap_or(Value::Null),
        "canonical_deployment": canonical.unwrap_or(Value::Null),
    })
}

fn default_build_config() -> Value {
    json!({"build_caching": null, "build_command": null, "destination_dir": null, "root_dir": null, "web_analytics_tag": null, "web_analytics_token": null})
}

fn default_deployment_configs() -> Value {
    let env = json!({"compatibility_date": "2024-01-01", "compatibility_flags": [], "env_vars": {}, "kv_namespaces": {}, "d1_databases": {}, "r2_buckets": {}});
    json!({"preview": env, "production": env})
}

#[derive(Debug, Deserialize)]
struct CreateProject {
    name: String,
    production_branch: Option<String>,
    build_config: Option<Value>,
    deployment_configs: Option<Value>,
    source: Option<Value>,
}

#[derive(Debug, Deserialize, Default)]
struct PageQuery {
    page: Option<String>,
    per_page: Option<String>,
    env: Option<String>,
}

async fn list_projects(State(st): S, Query(q): Query<PageQuery>) -> ApiResult {
    let req = PageReq::parse(
        q.page.as_deref(),
        q.per_page.as_deref(),
        PageBounds {
            default: 10,
            min: 1,
            max: 100,
        },
    )?;
    let items: Vec<Value> = st.read(|m| m.pages.values().map(project_json).collect());
    let (page, info) = req.slice(&items);
    ok_info(page, info)
}

async fn create_project(State(st): S, Json(b): Json<CreateProject>) -> ApiResult {
    if !valid_project_name(&b.name) {
        return Err(ApiError::bad_request(
            8_000_001,
            format!(
                "Invalid project name {:?}: use up to 58 lower-case letters, digits and hyphens",
                b.name
            ),
        ));
    }
    let id = st.uuid();
    let now = st.now_rfc3339();
    let out = st.mutate(|m| {
        if m.pages.contains_key(&b.name) {
            return Err(ApiError::conflict(
                8_000_002,
                "A project with this name already exists. Choose a different project name.",
            ));
        }
        let p = PagesProject {
            id,
            name: b.name.clone(),
            subdomain: format!("{}.pages.dev", b.name),
            production_branch: b.production_branch.clone().unwrap_or_else(|| "main".into()),
            created_on: now,
            build_config: b.build_config.clone().unwrap_or_else(default_build_config),
            deployment_configs: b
                .deployment_configs
                .clone()
                .unwrap_or_else(default_deployment_configs),
            source: b.source.clone(),
            domains: Vec::new(),
            deployments: Vec::new(),
        };
        let out = project_json(&p);
        m.pages.insert(p.name.clone(), p);
        Ok(out)
    })?;
    ok(out)
}

async fn get_project(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    st.read(|m| m.pages.get(&name).map(project_json))
        .map_or_else(|| Err(project_not_found()), ok)
}

/// Deep-merges `patch` into `base` (null deletes), as the PATCH endpoint does.
fn merge(base: &mut Value, patch: &Value) {
    match (base.as_object_mut(), patch.as_object()) {
        (Some(b), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else {
                    merge(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *base = patch.clone(),
    }
}

async fn update_project(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Json(b): Json<Value>,
) -> ApiResult {
    let out = st.mutate(|m| {
        let p = m.pages.get_mut(&name).ok_or_else(project_not_found)?;
        if let Some(branch) = b["production_branch"].as_str() {
            p.production_branch = branch.to_string();
        }
        if let Some(bc) = b.get("build_config").filter(|v| v.is_object()) {
            merge(&mut p.build_config, bc);
        }
        if let Some(dc) = b.get("deployment_configs").filter(|v| v.is_object()) {
            merge(&mut p.deployment_configs, dc);
        }
        Ok(project_json(p))
    })?;
    ok(out)
}

async fn delete_project(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    st.mutate(|m| {
        m.pages
            .remove(&name)
            .map(|_| ())
            .ok_or_else(project_not_found)
    })?;
    ok(Value::Null)
}

// ---- direct upload ----

/// The claims of an upload JWT this emulator issued, from `Authorization: Bearer`.
fn upload_claims(headers: &HeaderMap) -> Result<Value, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(crate::jwt::verify)
        .filter(|c| c["projectId"].is_string())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                8_000_013,
                "Invalid or expired upload token",
            )
        })
}

async fn upload_token(State(st): S, Path((account, name)): Path<(String, String)>) -> ApiResult {
    let p = st
        .read(|m| m.pages.get(&name).cloned())
        .ok_or_else(project_not_found)?;
    let now = st.now_secs();
    ok(
        json!({"jwt": crate::jwt::sign(&json!({"accountId": account, "projectId": p.id, "projectName": p.name, "max_file_count_allowed": 20000, "iat": now, "exp": now + 300}))}),
    )
}

fn asset_key(hash: &str) -> String {
    format!("pages-asset:{hash}")
}

#[derive(Debug, Deserialize)]
struct Hashes {
    hashes: Vec<String>,
}

async fn check_missing(State(st): S, headers: HeaderMap, Json(b): Json<Hashes>) -> ApiResult {
    upload_claims(&headers)?;
    let mut missing = Vec::new();
    for h in b.hashes {
        if !st.store.blob_exists(&asset_key(&h))? {
            missing.push(h);
        }
    }
    ok(missing)
}

#[derive(Debug, Deserialize)]
struct AssetUpload {
    key: String,
    value: String,
    #[serde(default)]
    base64: bool,
}

/// Largest single Pages asset.
pub const MAX_ASSET_BYTES: usize = 25 * 1024 * 1024;

async fn upload_assets(
    State(st): S,
    headers: HeaderMap,
    BigJson(items): BigJson<Vec<AssetUpload>>,
) -> ApiResult {
    upload_claims(&headers)?;
    for a in &items {
        let data = if a.base64 {
            STANDARD.decode(a.value.as_bytes()).map_err(|e| {
                ApiError::bad_request(
                    8_000_014,
                    format!("Asset {} is not valid base64: {e}", a.key),
                )
            })?
        } else {
            a.value.clone().into_bytes()
        };
        if data.len() > MAX_ASSET_BYTES {
            return Err(ApiError::payload_too_large("Asset", MAX_ASSET_BYTES));
        }
        st.store.blob_put(&asset_key(&a.key), &data)?;
    }
    ok(json!({"successful_key_count": items.len(), "unsuccessful_keys": []}))
}

/// Assets never expire in the emulator, so there is nothing to refresh: the call only checks
/// the token and the body.
async fn upsert_hashes(headers: HeaderMap, Json(_b): Json<Hashes>) -> ApiResult {
    upload_claims(&headers)?;
    ok(Value::Null)
}

/// Fields of a deployment upload.
#[derive(Debug, Default)]
struct DeployForm {
    manifest: BTreeMap<String, String>,
    branch: Option<String>,
    commit_hash: Option<String>,
    commit_message: Option<String>,
    commit_dirty: bool,
}

async fn read_deploy_form(req: Request) -> Result<DeployForm, ApiError> {
    if content_type(req.headers()) != "multipart/form-data" {
        return Err(invalid_content_type("multipart/form-data"));
    }
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_request(8_000_000, format!("Invalid multipart body: {e}")))?;
    let mut f = DeployForm::default();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(8_000_000, format!("Invalid multipart body: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        let text = field.text().await.unwrap_or_default();
        match name.as_str() {
            "manifest" => {
                f.manifest = serde_json::from_str(&text).map_err(|e| {
                    ApiError::bad_request(
                        8_000_000,
                        format!("manifest is not a JSON object of path to hash: {e}"),
                    )
                })?
            }
            "branch" => f.branch = Some(text),
            "commit_hash" => f.commit_hash = Some(text),
            "commit_message" => f.commit_message = Some(text),
            "commit_dirty" => f.commit_dirty = text == "true",
            _ => {}
        }
    }
    Ok(f)
}

impl AppState {
    fn new_pages_deployment(&self, p: &PagesProject, form: &DeployForm) -> PagesDeployment {
        let id = self.uuid();
        let short = id[..8].to_string();
        let branch = form
            .branch
            .clone()
            .unwrap_or_else(|| p.production_branch.clone());
        let production = branch == p.production_branch;
        let now = self.now_rfc3339();
        let alias = branch
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>();
        PagesDeployment {
            id,
            url: format!("https://{short}.{}", p.subdomain),
            short_id: short,
            environment: if production {
                "production".into()
            } else {
                "preview".into()
            },
            aliases: if production {
                Vec::new()
            } else {
                vec![format!("https://{alias}.{}", p.subdomain)]
            },
            created_on: now.clone(),
            modified_on: now,
            branch,
            commit_hash: form.commit_hash.clone().unwrap_or_default(),
            commit_message: form.commit_message.clone().unwrap_or_default(),
            commit_dirty: form.commit_dirty,
            manifest: form.manifest.clone(),
            is_skipped: false,
        }
    }

    fn push_pages_deployment(&self, name: &str, d: PagesDeployment) -> Result<Value, ApiError> {
        self.mutate(|m| {
            let p = m.pages.get_mut(name).ok_or_else(project_not_found)?;
            p.deployments.push(d.clone());
            Ok(deployment_json(p, &d))
        })
    }
}

async fn create_deployment(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let p = st
        .read(|m| m.pages.get(&name).cloned())
        .ok_or_else(project_not_found)?;
    let form = read_deploy_form(req).await?;
    if form.manifest.len() > 20_000 {
        return Err(ApiError::bad_request(
            8_000_015,
            "A deployment can hold at most 20,000 files",
        ));
    }
    let mut missing = Vec::new();
    for hash in form.manifest.values() {
        if !st.store.blob_exists(&asset_key(hash))? {
            missing.push(hash.clone());
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::bad_request(
            8_000_016,
            format!(
                "The manifest names {} file(s) that were never uploaded",
                missing.len()
            ),
        ));
    }
    let d = st.new_pages_deployment(&p, &form);
    ok(st.push_pages_deployment(&name, d)?)
}

async fn list_deployments(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> ApiResult {
    let req = PageReq::parse(
        q.page.as_deref(),
        q.per_page.as_deref(),
        PageBounds {
            default: 25,
            min: 1,
            max: 100,
        },
    )?;
    let items: Vec<Value> = st
        .read(|m| {
            m.pages.get(&name).map(|p| {
                p.deployments
                    .iter()
                    .rev()
                    .filter(|d| q.env.as_deref().is_none_or(|e| e == d.environment))
                    .map(|d| deployment_json(p, d))
                    .collect()
            })
        })
        .ok_or_else(project_not_found)?;
    let (page, info) = req.slice(&items);
    ok_info(page, info)
}

async fn get_deployment(
    State(st): S,
    Path((_a, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    st.read(|m| {
        let p = m.pages.get(&name).ok_or_else(project_not_found)?;
        p.deployments
            .iter()
            .find(|d| d.id == id)
            .map(|d| deployment_json(p, d))
            .ok_or_else(deployment_not_found)
    })
    .and_then(ok)
}

#[derive(Debug, Deserialize, Default)]
struct ForceQuery {
    force: Option<String>,
}

async fn delete_deployment(
    State(st): S,
    Path((_a, name, id)): Path<(String, String, String)>,
    Query(q): Query<ForceQuery>,
) -> ApiResult {
    let force = q.force.as_deref() == Some("true");
    st.mutate(|m| {
        let p = m.pages.get_mut(&name).ok_or_else(project_not_found)?;
        let pos = p
            .deployments
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(deployment_not_found)?;
        let canonical = p
            .deployments
            .iter()
            .rposition(|d| d.environment == "production");
        if canonical == Some(pos) && !force {
            return Err(ApiError::bad_request(
                8_000_034,
                "You cannot delete the active production deployment. Use force=true.",
            ));
        }
        p.deployments.remove(pos);
        Ok(())
    })?;
    ok(Value::Null)
}

async fn retry_deployment(
    State(st): S,
    Path((_a, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    let (p, old) = st
        .read(|m| {
            m.pages.get(&name).map(|p| {
                (
                    p.clone(),
                    p.deployments.iter().find(|d| d.id == id).cloned(),
                )
            })
        })
        .ok_or_else(project_not_found)?;
    let old = old.ok_or_else(deployment_not_found)?;
    let form = DeployForm {
        manifest: old.manifest,
        branch: Some(old.branch),
        commit_hash: Some(old.commit_hash),
        commit_message: Some(old.commit_message),
        commit_dirty: old.commit_dirty,
    };
    let d = st.new_pages_deployment(&p, &form);
    ok(st.push_pages_deployment(&name, d)?)
}

async fn rollback_deployment(
    State(st): S,
    Path((_a, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    let (p, old) = st
        .read(|m| {
            m.pages.get(&name).map(|p| {
                (
                    p.clone(),
                    p.deployments.iter().find(|d| d.id == id).cloned(),
                )
            })
        })
        .ok_or_else(project_not_found)?;
    let old = old.ok_or_else(deployment_not_found)?;
    if old.environment != "production" {
        return Err(ApiError::bad_request(
            8_000_035,
            "Only production deployments can be rolled back to",
        ));
    }
    let form = DeployForm {
        manifest: old.manifest,
        branch: Some(p.production_branch.clone()),
        commit_hash: Some(old.commit_hash),
        commit_message: Some(old.commit_message),
        commit_dirty: old.commit_dirty,
    };
    let d = st.new_pages_deployment(&p, &form);
    ok(st.push_pages_deployment(&name, d)?)
}

async fn deployment_logs(
    State(st): S,
    Path((_a, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    let d = st
        .read(|m| {
            m.pages
                .get(&name)
                .map(|p| p.deployments.iter().find(|d| d.id == id).cloned())
        })
        .ok_or_else(project_not_found)?
        .ok_or_else(deployment_not_found)?;
    let lines = [
        "Initializing build environment...".to_string(),
        format!("Uploaded {} files", d.manifest.len()),
        "Success: Your site was deployed!".to_string(),
    ];
    ok(
        json!({"total": lines.len(), "includes_container_logs": false, "data": lines.iter().map(|l| json!({"ts": d.created_on, "line": l})).collect::<Vec<_>>()}),
    )
}

// ---- domains ----

/// A domain object as Cloudflare returns it. Domains are verified at once here (Cloudflare
/// takes minutes and starts at `pending`); `zone_tag` is the id of the served zone the
/// hostname is in, `null` for a hostname elsewhere.
fn domain_json(zones: &[crate::model::Zone], d: &PagesDomain) -> Value {
    let zone_tag = zones
        .iter()
        .find(|z| d.name == z.name || d.name.ends_with(&format!(".{}", z.name)))
        .map(|z| z.id.clone());
    json!({
        "id": d.id,
        "name": d.name,
        "status": d.status,
        "created_on": d.created_on,
        "certificate_authority": "google",
        "verification_data": {"status": d.status},
        "validation_data": {"status": d.status, "method": "http"},
        "zone_tag": zone_tag,
        "domain_id": d.id,
    })
}

/// What Cloudflare answers for a domain the project does not have (HTTP 404; the code is
/// the one API clients in the wild see, not from a Cloudflare document).
fn domain_not_found() -> ApiError {
    ApiError::not_found(8_000_021, "The domain could not be found.")
}

async fn list_domains(State(st): S, Path((_a, name)): Path<(String, String)>) -> ApiResult {
    let items: Vec<Value> = st
        .read(|m| {
            m.pages
                .get(&name)
                .map(|p| p.domains.iter().map(|d| domain_json(&m.zones, d)).collect())
        })
        .ok_or_else(project_not_found)?;
    let n = items.len();
    ok_info(
        items,
        json!({"page": 1, "per_page": n.max(1), "count": n, "total_count": n, "total_pages": 1}),
    )
}

#[derive(Debug, Deserialize)]
struct DomainBody {
    name: String,
}

/// A hostname a domain may be: labels of letters, digits and inner hyphens, at least two.
fn valid_hostname(h: &str) -> bool {
    h.len() <= 253
        && h.split('.').count() >= 2
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

async fn add_domain(
    State(st): S,
    Path((_a, name)): Path<(String, String)>,
    Json(b): Json<DomainBody>,
) -> ApiResult {
    let host = b.name.to_ascii_lowercase();
    if !valid_hostname(&host) {
        return Err(ApiError::bad_request(
            8_000_000,
            format!("{:?} is not a valid domain name", b.name),
        ));
    }
    let id = st.uuid();
    let now = st.now_rfc3339();
    let out = st.mutate(|m| {
        let p = m.pages.get_mut(&name).ok_or_else(project_not_found)?;
        if p.domains.iter().any(|d| d.name == host) {
            // Cloudflare answers 400 (not 409) with this code.
            return Err(ApiError::bad_request(
                8_000_018,
                "You have already added this custom domain.",
            ));
        }
        let d = PagesDomain {
            id,
            name: host.clone(),
            status: "active".into(),
            created_on: now,
        };
        p.domains.push(d.clone());
        Ok(domain_json(&m.zones, &d))
    })?;
    ok(out)
}

async fn get_domain(
    State(st): S,
    Path((_a, name, domain)): Path<(String, String, String)>,
) -> ApiResult {
    let domain = domain.to_ascii_lowercase();
    st.read(|m| {
        let p = m.pages.get(&name).ok_or_else(project_not_found)?;
        p.domains
            .iter()
            .find(|d| d.name == domain)
            .map(|d| domain_json(&m.zones, d))
            .ok_or_else(domain_not_found)
    })
    .and_then(ok)
}

async fn delete_domain(
    State(st): S,
    Path((_a, name, domain)): Path<(String, String, String)>,
) -> ApiResult {
    let domain = domain.to_ascii_lowercase();
    st.mutate(|m| {
        let p = m.pages.get_mut(&name).ok_or_else(project_not_found)?;
        let pos = p
            .domains
            .iter()
            .position(|d| d.name == domain)
            .ok_or_else(domain_not_found)?;
        p.domains.remove(pos);
        Ok(())
    })?;
    ok(Value::Null)
}
