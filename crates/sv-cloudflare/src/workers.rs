//! Workers: scripts, module uploads (deploy now, or as a version), versions, gradual
//! deployments, settings, secrets, routes, custom domains, cron schedules, workers.dev subdomain
//! and service metadata (ENDPOINTS.md §7–8, WRANGLER.md `deploy`/`versions`/`rollback`).

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use futures::Stream;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::Error;
use crate::client::{Client, Part, Request};
use crate::pagination::{Items, page_stream};
use crate::retry::Idempotency;

// ----- types --------------------------------------------------------------------------

/// A script from the list (`GET …/workers/scripts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerScript {
    /// Script name (the API calls it `id`).
    pub id: String,
    /// Content hash.
    #[serde(default)]
    pub etag: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created_on: Option<String>,
    /// Last change.
    #[serde(default)]
    pub modified_on: Option<String>,
    /// Event handlers (`fetch`, `scheduled`, …).
    #[serde(default)]
    pub handlers: Vec<String>,
    /// Compatibility date.
    #[serde(default)]
    pub compatibility_date: Option<String>,
    /// Whether it was uploaded as modules.
    #[serde(default)]
    pub has_modules: Option<bool>,
    /// `wrangler`, `dash`, `api`, …
    #[serde(default)]
    pub last_deployed_from: Option<String>,
    /// Other fields as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A binding in upload metadata or settings: `{type, name, …type-specific fields}`.
///
/// `Debug` hides the `text` of `secret_text` bindings.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// `kv_namespace`, `d1`, `r2_bucket`, `plain_text`, `secret_text`, `json`, `service`,
    /// `durable_object_namespace`, `queue`, `analytics_engine`, `version_metadata`, `inherit`, …
    #[serde(rename = "type")]
    pub binding_type: String,
    /// Name the Worker sees (`env.NAME`).
    pub name: String,
    /// Type-specific fields (`namespace_id`, `id`, `bucket_name`, `text`, `service`, …).
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fields = self.fields.clone();
        if self.binding_type.contains("secret") {
            for v in fields.values_mut() {
                *v = serde_json::Value::String("[redacted]".into());
            }
        }
        f.debug_struct("Binding")
            .field("type", &self.binding_type)
            .field("name", &self.name)
            .field("fields", &fields)
            .finish()
    }
}

impl Binding {
    fn with(binding_type: &str, name: &str, fields: &[(&str, serde_json::Value)]) -> Self {
        Self {
            binding_type: binding_type.into(),
            name: name.into(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        }
    }

    /// `{type: kv_namespace, name, namespace_id}`.
    pub fn kv_namespace(name: &str, namespace_id: &str) -> Self {
        Self::with(
            "kv_namespace",
            name,
            &[("namespace_id", namespace_id.into())],
        )
    }

    /// `{type: d1, name, id}`.
    pub fn d1(name: &str, database_id: &str) -> Self {
        Self::with("d1", name, &[("id", database_id.into())])
    }

    /// `{type: r2_bucket, name, bucket_name}`.
    pub fn r2_bucket(name: &str, bucket_name: &str) -> Self {
        Self::with("r2_bucket", name, &[("bucket_name", bucket_name.into())])
    }

    /// `{type: plain_text, name, text}`.
    pub fn plain_text(name: &str, text: &str) -> Self {
        Self::with("plain_text", name, &[("text", text.into())])
    }

    /// `{type: json, name, json}`.
    pub fn json(name: &str, json: serde_json::Value) -> Self {
        Self::with("json", name, &[("json", json)])
    }

    /// `{type: secret_text, name, text}`.
    pub fn secret_text(name: &str, text: &SecretString) -> Self {
        Self::with(
            "secret_text",
            name,
            &[("text", text.expose_secret().into())],
        )
    }

    /// `{type: service, name, service}`.
    pub fn service(name: &str, service: &str) -> Self {
        Self::with("service", name, &[("service", service.into())])
    }

    /// `{type: inherit, name}`: keep the previous version's binding of that name.
    pub fn inherit(name: &str) -> Self {
        Self::with("inherit", name, &[])
    }
}

/// The `metadata` part of a module upload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UploadMetadata {
    /// Part name of the entry module (ES modules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_module: Option<String>,
    /// Part name of a service-worker script (instead of `main_module`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_part: Option<String>,
    /// Compatibility date (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility_date: Option<String>,
    /// Compatibility flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compatibility_flags: Vec<String>,
    /// Bindings.
    #[serde(default)]
    pub bindings: Vec<Binding>,
    /// Binding types to carry over from the previous version (`secret_text`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_bindings: Vec<String>,
    /// `workers/message`, `workers/tag`, `workers/alias` (versions).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Anything else (`migrations`, `placement`, `limits`, `observability`, `tags`, `assets`…).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One module of an upload.
#[derive(Clone, PartialEq, Eq)]
pub struct Module {
    /// Part name = module path (`index.js`, `lib/util.js`).
    pub name: String,
    /// `application/javascript+module` (ESM), `application/javascript` (service worker),
    /// `text/plain`, `application/octet-stream`, `application/wasm`, `application/source-map`.
    pub content_type: String,
    /// The source.
    pub content: Bytes,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.content.len())
            .finish()
    }
}

impl Module {
    /// An ES module.
    pub fn esm(name: impl Into<String>, content: impl Into<Bytes>) -> Self {
        Self {
            name: name.into(),
            content_type: "application/javascript+module".into(),
            content: content.into(),
        }
    }
}

/// A module-format upload: metadata + modules.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerUpload {
    /// The `metadata` part.
    pub metadata: UploadMetadata,
    /// One part per module.
    pub modules: Vec<Module>,
}

impl WorkerUpload {
    fn parts(&self) -> Result<Vec<Part>, Error> {
        let main = self
            .metadata
            .main_module
            .as_deref()
            .or(self.metadata.body_part.as_deref())
            .ok_or_else(|| Error::invalid("Worker upload needs main_module or body_part"))?;
        if !self.modules.iter().any(|m| m.name == main) {
            return Err(Error::invalid(format!(
                "Worker upload names {main:?} as its entry point but has no module of that name"
            )));
        }
        let mut parts = Vec::with_capacity(self.modules.len() + 1);
        let mut metadata = Part::json("metadata", &self.metadata)?;
        metadata.filename = Some("blob".into());
        parts.push(metadata);
        for m in &self.modules {
            parts.push(Part::file(
                m.name.clone(),
                m.name.clone(),
                m.content_type.clone(),
                m.content.clone(),
            ));
        }
        Ok(parts)
    }
}

/// Result of `PUT …/scripts/{name}` (deploy immediately).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptUploadResult {
    /// Script name.
    #[serde(default)]
    pub id: Option<String>,
    /// Content hash.
    #[serde(default)]
    pub etag: Option<String>,
    /// The version now serving (wrangler prints it as "Current Version ID").
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// Start-up time.
    #[serde(default)]
    pub startup_time_ms: Option<u64>,
    /// Handlers.
    #[serde(default)]
    pub handlers: Vec<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A Worker version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerVersion {
    /// Version id.
    pub id: String,
    /// Sequence number.
    #[serde(default)]
    pub number: Option<u64>,
    /// Who/when/how.
    #[serde(default)]
    pub metadata: VersionMetadata,
    /// `workers/message`, `workers/tag`, `workers/triggered_by`, …
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Bindings, script and runtime settings (single-version GET and upload only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<serde_json::Value>,
    /// Start-up time (upload only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_time_ms: Option<u64>,
}

/// `metadata` of a version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawVersionMetadata")]
pub struct VersionMetadata {
    /// Creation time.
    #[serde(default)]
    pub created_on: Option<String>,
    /// Last change.
    #[serde(default)]
    pub modified_on: Option<String>,
    /// `wrangler`, `api`, `dash`, …
    #[serde(default)]
    pub source: Option<String>,
    /// Author id.
    #[serde(default)]
    pub author_id: Option<String>,
    /// Author e-mail.
    #[serde(default)]
    pub author_email: Option<String>,
    /// Whether a preview URL exists.
    #[serde(default)]
    pub has_preview: Option<bool>,
}

/// The wire form of [`VersionMetadata`]: the OpenAPI schema says `hasPreview`, wrangler reads
/// `has_preview`, and responses may carry both (a serde `alias` would reject that as a
/// duplicate field), so both are read and the camel-case one wins.
#[derive(Deserialize)]
struct RawVersionMetadata {
    #[serde(default)]
    created_on: Option<String>,
    #[serde(default)]
    modified_on: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    author_id: Option<String>,
    #[serde(default)]
    author_email: Option<String>,
    #[serde(default, rename = "hasPreview")]
    has_preview_camel: Option<bool>,
    #[serde(default)]
    has_preview: Option<bool>,
}

impl From<RawVersionMetadata> for VersionMetadata {
    fn from(raw: RawVersionMetadata) -> Self {
        Self {
            created_on: raw.created_on,
            modified_on: raw.modified_on,
            source: raw.source,
            author_id: raw.author_id,
            author_email: raw.author_email,
            has_preview: raw.has_preview_camel.or(raw.has_preview),
        }
    }
}

/// A deployment: which versions serve which share of traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Deployment id.
    #[serde(default)]
    pub id: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created_on: Option<String>,
    /// `wrangler`, `api`, …
    #[serde(default)]
    pub source: Option<String>,
    /// Always `percentage` today.
    #[serde(default)]
    pub strategy: Option<String>,
    /// Author.
    #[serde(default)]
    pub author_email: Option<String>,
    /// `workers/message`, `workers/triggered_by`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Versions and their shares (sum 100).
    #[serde(default)]
    pub versions: Vec<DeploymentVersion>,
}

/// One version of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentVersion {
    /// Version id.
    pub version_id: String,
    /// Share of traffic (0–100).
    pub percentage: f64,
}

#[derive(Deserialize)]
struct DeploymentList {
    #[serde(default)]
    deployments: Vec<Deployment>,
}

/// Body of [`WorkersApi::create_deployment`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDeployment {
    /// `percentage`.
    pub strategy: String,
    /// At most 2 versions, percentages summing to 100.
    pub versions: Vec<DeploymentVersion>,
    /// `{"workers/message": …}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl NewDeployment {
    /// A percentage split (e.g. `[(old, 90.0), (new, 10.0)]`) with an optional message.
    pub fn split(versions: &[(&str, f64)], message: Option<&str>) -> Self {
        let mut annotations = BTreeMap::new();
        if let Some(m) = message {
            annotations.insert("workers/message".to_owned(), m.to_owned());
        }
        Self {
            strategy: "percentage".into(),
            versions: versions
                .iter()
                .map(|(id, pct)| DeploymentVersion {
                    version_id: (*id).to_owned(),
                    percentage: *pct,
                })
                .collect(),
            annotations,
        }
    }

    fn validate(&self) -> Result<(), Error> {
        if self.versions.is_empty() || self.versions.len() > 2 {
            return Err(Error::invalid(format!(
                "a deployment needs 1 or 2 versions (got {})",
                self.versions.len()
            )));
        }
        let sum: f64 = self.versions.iter().map(|v| v.percentage).sum();
        if (sum - 100.0).abs() > 1e-6 {
            return Err(Error::invalid(format!(
                "deployment percentages must sum to 100 (got {sum})"
            )));
        }
        Ok(())
    }
}

/// A secret's name and type (values are never returned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// Secret name.
    pub name: String,
    /// `secret_text`, `secret_key`, …
    #[serde(rename = "type", default)]
    pub secret_type: String,
}

/// A zone route (`/zones/{z}/workers/routes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRoute {
    /// Route id.
    pub id: String,
    /// Pattern, e.g. `example.com/api/*`.
    pub pattern: String,
    /// Script name; absent for a "no Worker" route.
    #[serde(default)]
    pub script: Option<String>,
}

/// One entry of [`WorkersApi::put_script_routes`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptRoute {
    /// Pattern.
    pub pattern: String,
    /// Zone id (or give `zone_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
    /// Treat as a custom domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_domain: Option<bool>,
}

/// A Worker custom domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomDomain {
    /// Domain id.
    pub id: String,
    /// Hostname.
    pub hostname: String,
    /// Script.
    pub service: String,
    /// `production`.
    #[serde(default)]
    pub environment: Option<String>,
    /// Zone id.
    #[serde(default)]
    pub zone_id: Option<String>,
    /// Zone name.
    #[serde(default)]
    pub zone_name: Option<String>,
}

/// Body of [`WorkersApi::attach_domain`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachDomain {
    /// Hostname.
    pub hostname: String,
    /// Script.
    pub service: String,
    /// `production`.
    pub environment: String,
    /// Zone id.
    pub zone_id: String,
}

/// A cron trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Cron expression.
    pub cron: String,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_on: Option<String>,
    /// Last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_on: Option<String>,
}

#[derive(Deserialize)]
struct Schedules {
    #[serde(default)]
    schedules: Vec<Schedule>,
}

/// Script-level workers.dev settings (`…/scripts/{name}/subdomain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptSubdomain {
    /// Served on `<name>.<subdomain>.workers.dev`.
    pub enabled: bool,
    /// Preview URLs enabled.
    #[serde(default)]
    pub previews_enabled: bool,
}

/// `GET /workers/services/{name}` (undocumented; wrangler's "does this Worker exist" call).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Service name.
    #[serde(default)]
    pub id: Option<String>,
    /// The production environment.
    #[serde(default)]
    pub default_environment: Option<ServiceEnvironment>,
}

/// `default_environment` of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceEnvironment {
    /// `production`.
    #[serde(default)]
    pub environment: Option<String>,
    /// Script details (`tag`, `tags`, `last_deployed_from`, `migration_tag`).
    #[serde(default)]
    pub script: serde_json::Value,
}

/// Raw script content (`GET …/content/v2`): one JS file, or a multipart body of modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptContent {
    /// `content-type` of the answer (`multipart/form-data; boundary=…` for modules).
    pub content_type: Option<String>,
    /// `cf-entrypoint`: the main module's name, for module Workers.
    pub entrypoint: Option<String>,
    /// The body as received.
    pub body: Bytes,
}

// ----- API ----------------------------------------------------------------------------

/// Workers endpoints; see [`Client::workers`].
#[derive(Debug, Clone, Copy)]
pub struct WorkersApi<'a> {
    client: &'a Client,
}

impl Client {
    /// Workers scripts, versions, deployments and triggers.
    pub fn workers(&self) -> WorkersApi<'_> {
        WorkersApi { client: self }
    }
}

impl WorkersApi<'_> {
    fn script_url(&self, name: &str, rest: &[&str]) -> Result<Url, Error> {
        let mut segs = vec!["workers", "scripts", name];
        segs.extend_from_slice(rest);
        self.client.account_url(&segs)
    }

    /// `GET …/workers/scripts` (single page).
    pub async fn list_scripts(&self) -> Result<Vec<WorkerScript>, Error> {
        let url = self.client.account_url(&["workers", "scripts"])?;
        let list: Option<Vec<WorkerScript>> = self.client.call(Request::get(url)).await?;
        Ok(list.unwrap_or_default())
    }

    /// `PUT …/scripts/{name}` (multipart; deploys at once, creating the Worker if needed).
    /// Retried like any PUT: uploading the same content twice leaves the same Worker.
    pub async fn upload_script(
        &self,
        name: &str,
        upload: &WorkerUpload,
    ) -> Result<ScriptUploadResult, Error> {
        let url = self.script_url(name, &[])?;
        let req = Request::put(url)
            .query("excludeScript", "true")
            .query("bindings_inherit", "strict")
            .multipart(upload.parts()?);
        self.client.call(req).await
    }

    /// `POST …/scripts/{name}/versions` (multipart; no traffic until deployed). The Worker must
    /// exist (else 10007). Not retried after ambiguous failures (it would add a version).
    pub async fn upload_version(
        &self,
        name: &str,
        upload: &WorkerUpload,
    ) -> Result<WorkerVersion, Error> {
        let url = self.script_url(name, &["versions"])?;
        let req = Request::post(url)
            .query("bindings_inherit", "strict")
            .multipart(upload.parts()?)
            .idempotency(Idempotency::Unsafe);
        self.client.call(req).await
    }

    /// `GET …/scripts/{name}/content/v2`: the code as stored (not enveloped).
    pub async fn download_content(&self, name: &str) -> Result<ScriptContent, Error> {
        let url = self.script_url(name, &["content", "v2"])?;
        let resp = self.client.execute(Request::get(url)).await?;
        let header = |n: &str| {
            resp.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(ScriptContent {
            content_type: header("content-type"),
            entrypoint: header("cf-entrypoint"),
            body: resp.body,
        })
    }

    /// `DELETE …/scripts/{name}`; `force` deletes even when other Workers bind to it.
    pub async fn delete_script(&self, name: &str, force: bool) -> Result<(), Error> {
        let url = self.script_url(name, &[])?;
        let req = Request::delete(url).query_opt("force", force.then_some("true"));
        self.client.call_unit(req).await
    }

    /// `GET …/scripts/{name}/settings` (bindings, compatibility, limits, …) as JSON.
    pub async fn get_settings(&self, name: &str) -> Result<serde_json::Value, Error> {
        let url = self.script_url(name, &["settings"])?;
        self.client.call(Request::get(url)).await
    }

    /// `PATCH …/scripts/{name}/settings` with a multipart `settings` part. Changing bindings
    /// here creates a new version. Sets values, so it is retried.
    pub async fn patch_settings(
        &self,
        name: &str,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let url = self.script_url(name, &["settings"])?;
        let mut part = Part::json("settings", settings)?;
        part.filename = Some("blob".into());
        let req = Request::patch(url)
            .multipart(vec![part])
            .idempotency(Idempotency::Safe);
        self.client.call(req).await
    }

    /// `GET …/scripts/{name}/script-settings` (non-versioned: logpush, tail consumers,
    /// observability, tags).
    pub async fn get_script_settings(&self, name: &str) -> Result<serde_json::Value, Error> {
        let url = self.script_url(name, &["script-settings"])?;
        self.client.call(Request::get(url)).await
    }

    /// `PATCH …/scripts/{name}/script-settings` (JSON). Retried.
    pub async fn patch_script_settings(
        &self,
        name: &str,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let url = self.script_url(name, &["script-settings"])?;
        let req = Request::patch(url)
            .json(settings)?
            .idempotency(Idempotency::Safe);
        self.client.call(req).await
    }

    /// `GET …/scripts/{name}/secrets`: names and types only.
    pub async fn list_secrets(&self, name: &str) -> Result<Vec<SecretInfo>, Error> {
        let url = self.script_url(name, &["secrets"])?;
        let list: Option<Vec<SecretInfo>> = self.client.call(Request::get(url)).await?;
        Ok(list.unwrap_or_default())
    }

    /// `PUT …/scripts/{name}/secrets` `{name, text, type: secret_text}`. The text goes only into
    /// the request body, never into logs or errors. Deploys a new version.
    pub async fn put_secret(
        &self,
        script: &str,
        secret_name: &str,
        text: &SecretString,
    ) -> Result<SecretInfo, Error> {
        let url = self.script_url(script, &["secrets"])?;
        let body = serde_json::json!({
            "name": secret_name,
            "text": text.expose_secret(),
            "type": "secret_text",
        });
        self.client.call(Request::put(url).json(&body)?).await
    }

    /// `DELETE …/scripts/{name}/secrets/{secret}`.
    pub async fn delete_secret(&self, script: &str, secret_name: &str) -> Result<(), Error> {
        let url = self.script_url(script, &["secrets", secret_name])?;
        self.client.call_unit(Request::delete(url)).await
    }

    /// `GET …/scripts/{name}/versions` (`result.items`, newest first), all pages.
    pub fn list_versions(
        &self,
        name: &str,
        deployable_only: bool,
    ) -> impl Stream<Item = Result<WorkerVersion, Error>> + Send + 'static {
        let base = self.script_url(name, &["versions"]);
        page_stream::<WorkerVersion, Items<WorkerVersion>, _>(
            self.client.clone(),
            100,
            base,
            move |url| {
                Ok(Request::get(url).query_opt("deployable", deployable_only.then_some("true")))
            },
        )
    }

    /// `GET …/scripts/{name}/versions/{id}`.
    pub async fn get_version(&self, name: &str, version_id: &str) -> Result<WorkerVersion, Error> {
        let url = self.script_url(name, &["versions", version_id])?;
        self.client.call(Request::get(url)).await
    }

    /// `GET …/scripts/{name}/deployments` (`result.deployments`; the first is serving).
    pub async fn list_deployments(&self, name: &str) -> Result<Vec<Deployment>, Error> {
        let url = self.script_url(name, &["deployments"])?;
        let list: Option<DeploymentList> = self.client.call(Request::get(url)).await?;
        Ok(list.map(|l| l.deployments).unwrap_or_default())
    }

    /// `POST …/scripts/{name}/deployments`: route traffic to 1–2 versions. `force` overrides the
    /// "secrets changed" block (code 10220). Not retried after ambiguous failures.
    pub async fn create_deployment(
        &self,
        name: &str,
        deployment: &NewDeployment,
        force: bool,
    ) -> Result<Deployment, Error> {
        deployment.validate()?;
        let url = self.script_url(name, &["deployments"])?;
        let req = Request::post(url)
            .query_opt("force", force.then_some("true"))
            .json(deployment)?
            .idempotency(Idempotency::Unsafe);
        self.client.call(req).await
    }

    /// `GET /zones/{zone}/workers/routes`.
    pub async fn list_routes(&self, zone_id: &str) -> Result<Vec<WorkerRoute>, Error> {
        let url = self.client.url(&["zones", zone_id, "workers", "routes"])?;
        let list: Option<Vec<WorkerRoute>> = self.client.call(Request::get(url)).await?;
        Ok(list.unwrap_or_default())
    }

    /// `POST /zones/{zone}/workers/routes`.
    pub async fn create_route(
        &self,
        zone_id: &str,
        pattern: &str,
        script: Option<&str>,
    ) -> Result<WorkerRoute, Error> {
        let url = self.client.url(&["zones", zone_id, "workers", "routes"])?;
        let body = serde_json::json!({ "pattern": pattern, "script": script });
        self.client.call(Request::post(url).json(&body)?).await
    }

    /// `GET /zones/{zone}/workers/routes/{id}`.
    pub async fn get_route(&self, zone_id: &str, route_id: &str) -> Result<WorkerRoute, Error> {
        let url = self
            .client
            .url(&["zones", zone_id, "workers", "routes", route_id])?;
        self.client.call(Request::get(url)).await
    }

    /// `PUT /zones/{zone}/workers/routes/{id}`.
    pub async fn update_route(
        &self,
        zone_id: &str,
        route_id: &str,
        pattern: &str,
        script: Option<&str>,
    ) -> Result<WorkerRoute, Error> {
        let url = self
            .client
            .url(&["zones", zone_id, "workers", "routes", route_id])?;
        let body = serde_json::json!({ "pattern": pattern, "script": script });
        self.client.call(Request::put(url).json(&body)?).await
    }

    /// `DELETE /zones/{zone}/workers/routes/{id}`.
    pub async fn delete_route(&self, zone_id: &str, route_id: &str) -> Result<(), Error> {
        let url = self
            .client
            .url(&["zones", zone_id, "workers", "routes", route_id])?;
        self.client.call_unit(Request::delete(url)).await
    }

    /// `PUT …/scripts/{name}/routes`: replace all routes of a script in one call
    /// (undocumented, wrangler's path; it falls back to the zone API on code 10000).
    pub async fn put_script_routes(&self, name: &str, routes: &[ScriptRoute]) -> Result<(), Error> {
        let url = self.script_url(name, &["routes"])?;
        self.client
            .call_unit(Request::put(url).json(&routes)?)
            .await
    }

    /// `GET …/workers/domains`, optionally for one script.
    pub async fn list_domains(&self, service: Option<&str>) -> Result<Vec<CustomDomain>, Error> {
        let url = self.client.account_url(&["workers", "domains"])?;
        let req = Request::get(url).query_opt("service", service);
        let list: Option<Vec<CustomDomain>> = self.client.call(req).await?;
        Ok(list.unwrap_or_default())
    }

    /// `PUT …/workers/domains`: attach a hostname to a script.
    pub async fn attach_domain(&self, domain: &AttachDomain) -> Result<CustomDomain, Error> {
        let url = self.client.account_url(&["workers", "domains"])?;
        self.client.call(Request::put(url).json(domain)?).await
    }

    /// `DELETE …/workers/domains/{id}`.
    pub async fn delete_domain(&self, domain_id: &str) -> Result<(), Error> {
        let url = self
            .client
            .account_url(&["workers", "domains", domain_id])?;
        self.client.call_unit(Request::delete(url)).await
    }

    /// `GET …/scripts/{name}/schedules`.
    pub async fn get_schedules(&self, name: &str) -> Result<Vec<Schedule>, Error> {
        let url = self.script_url(name, &["schedules"])?;
        let s: Option<Schedules> = self.client.call(Request::get(url)).await?;
        Ok(s.map(|s| s.schedules).unwrap_or_default())
    }

    /// `PUT …/scripts/{name}/schedules`: replace the whole set (`[]` clears).
    pub async fn put_schedules(
        &self,
        name: &str,
        crons: &[String],
    ) -> Result<Vec<Schedule>, Error> {
        let url = self.script_url(name, &["schedules"])?;
        let body: Vec<serde_json::Value> = crons
            .iter()
            .map(|c| serde_json::json!({ "cron": c }))
            .collect();
        let s: Option<Schedules> = self.client.call(Request::put(url).json(&body)?).await?;
        Ok(s.map(|s| s.schedules).unwrap_or_default())
    }

    /// `GET …/workers/subdomain`: the account's workers.dev subdomain (`None` when not
    /// registered: code 10007). Reads `subdomain`, falling back to the schema's `name`.
    pub async fn account_subdomain(&self) -> Result<Option<String>, Error> {
        #[derive(Deserialize)]
        struct Sub {
            #[serde(default)]
            subdomain: Option<String>,
            #[serde(default)]
            name: Option<String>,
        }
        let url = self.client.account_url(&["workers", "subdomain"])?;
        match self.client.call::<Sub>(Request::get(url)).await {
            Ok(s) => Ok(s.subdomain.or(s.name)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET …/scripts/{name}/subdomain`: workers.dev enablement of one script.
    pub async fn script_subdomain(&self, name: &str) -> Result<ScriptSubdomain, Error> {
        let url = self.script_url(name, &["subdomain"])?;
        self.client.call(Request::get(url)).await
    }

    /// `POST …/scripts/{name}/subdomain` (sets values: retried).
    pub async fn set_script_subdomain(
        &self,
        name: &str,
        setting: ScriptSubdomain,
    ) -> Result<ScriptSubdomain, Error> {
        let url = self.script_url(name, &["subdomain"])?;
        let req = Request::post(url)
            .header("cloudflare-workers-script-api-date", "2025-08-01")?
            .json(&setting)?
            .idempotency(Idempotency::Safe);
        self.client.call(req).await
    }

    /// `GET …/workers/services/{name}`: `Ok(None)` when the Worker does not exist (10007/10090).
    pub async fn get_service(&self, name: &str) -> Result<Option<ServiceInfo>, Error> {
        let url = self.client.account_url(&["workers", "services", name])?;
        match self.client.call(Request::get(url)).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_metadata_with_both_preview_spellings() {
        let m: VersionMetadata =
            serde_json::from_str(r#"{"hasPreview": true, "has_preview": false}"#).unwrap();
        assert_eq!(m.has_preview, Some(true));
        let m: VersionMetadata = serde_json::from_str(r#"{"has_preview": false}"#).unwrap();
        assert_eq!(m.has_preview, Some(false));
    }

    #[test]
    fn secret_binding_debug_is_redacted() {
        let b = Binding::secret_text("API_KEY", &SecretString::from("hunter2"));
        let shown = format!("{b:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        // …but the wire form carries it.
        let wire = serde_json::to_string(&b).unwrap();
        assert!(wire.contains("hunter2"));
        assert!(wire.contains(r#""type":"secret_text""#));
    }

    #[test]
    fn deployment_validation() {
        assert!(
            NewDeployment::split(&[("a", 90.0), ("b", 10.0)], None)
                .validate()
                .is_ok()
        );
        assert!(
            NewDeployment::split(&[("a", 90.0), ("b", 20.0)], None)
                .validate()
                .is_err()
        );
        assert!(NewDeployment::split(&[], None).validate().is_err());
        assert!(
            NewDeployment::split(&[("a", 50.0), ("b", 25.0), ("c", 25.0)], None)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn upload_needs_its_entry_module() {
        let upload = WorkerUpload {
            metadata: UploadMetadata {
                main_module: Some("index.js".into()),
                ..UploadMetadata::default()
            },
            modules: vec![Module::esm("other.js", "export default {}")],
        };
        assert!(upload.parts().is_err());
    }
}
