//! Cloudflare Pages, kept minimal: projects (list/get/create/update/delete), their custom
//! domains (list/add/delete), deployments (list/get/create), the direct-upload token and the
//! asset-store calls of the direct-upload flow (ENDPOINTS.md §11). Computing asset hashes (BLAKE3 over base64 + extension, as wrangler
//! does) is the caller's job.

use std::collections::BTreeMap;

use base64::Engine;
use bytes::Bytes;
use futures::Stream;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::Error;
use crate::client::{Client, Part, Request};
use crate::pagination::{Bare, page_stream};
use crate::retry::Idempotency;

/// A Pages project; main fields typed, the rest kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagesProject {
    /// Project name (handle and natural key).
    pub name: String,
    /// Project id.
    #[serde(default)]
    pub id: Option<String>,
    /// `<name>.pages.dev`.
    #[serde(default)]
    pub subdomain: Option<String>,
    /// Production branch.
    #[serde(default)]
    pub production_branch: Option<String>,
    /// Custom domains.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Creation time.
    #[serde(default)]
    pub created_on: Option<String>,
    /// Everything else (`build_config`, `deployment_configs`, `latest_deployment`, `source`…).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Body of [`PagesApi::create_project`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateProject {
    /// Name.
    pub name: String,
    /// Production branch.
    pub production_branch: String,
    /// `build_config`, `deployment_configs`, `source`, … as the API expects them.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Body of [`PagesApi::update_project`] (schema `pages_project-patch`): only the fields set
/// are sent, so a PATCH changes nothing it does not name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateProject {
    /// New production branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_branch: Option<String>,
    /// `build_config`, `deployment_configs`, … as the API expects them (deep-merged by the
    /// API; `null` deletes a key).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A custom domain of a Pages project; main fields typed, the rest kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagesDomain {
    /// The hostname (what the project answers on; the handle of the domain calls).
    pub name: String,
    /// Domain id.
    #[serde(default)]
    pub id: Option<String>,
    /// `initializing`, `pending`, `active`, `deactivated`, `blocked`, `error`.
    #[serde(default)]
    pub status: Option<String>,
    /// Id of the zone the hostname is in, when it is in one of the account's zones.
    #[serde(default)]
    pub zone_tag: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created_on: Option<String>,
    /// `validation_data`, `verification_data`, `certificate_authority`, …
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Code of the answer to adding a domain the project already has ("You have already added
/// this custom domain."); [`Error::is_conflict`] covers it.
pub const DOMAIN_ALREADY_ADDED: i64 = 8_000_018;

/// A deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagesDeployment {
    /// Deployment id.
    pub id: String,
    /// Short id.
    #[serde(default)]
    pub short_id: Option<String>,
    /// Deployment URL.
    #[serde(default)]
    pub url: Option<String>,
    /// `production` / `preview`.
    #[serde(default)]
    pub environment: Option<String>,
    /// Alias URLs.
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
    /// Current stage `{name, status}`.
    #[serde(default)]
    pub latest_stage: Option<Stage>,
    /// Creation time.
    #[serde(default)]
    pub created_on: Option<String>,
    /// `deployment_trigger`, `stages`, … as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl PagesDeployment {
    /// Whether the deploy stage finished (successfully or not): stop polling.
    pub fn is_finished(&self) -> bool {
        self.latest_stage.as_ref().is_some_and(|s| {
            s.name == "deploy" && matches!(s.status.as_str(), "success" | "failure")
                || s.status == "failure"
        })
    }
}

/// `{name, status}` of a deployment stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// `queued`, `initialize`, `clone_repo`, `build`, `deploy`.
    pub name: String,
    /// `idle`, `active`, `success`, `failure`, `canceled`.
    #[serde(default)]
    pub status: String,
}

/// Multipart body of a direct-upload deployment. Assets must already be in the asset store
/// (their hashes listed in `manifest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewPagesDeployment {
    /// `/path/file.html` → asset hash.
    pub manifest: BTreeMap<String, String>,
    /// Branch (decides production vs preview).
    pub branch: Option<String>,
    /// Commit hash.
    pub commit_hash: Option<String>,
    /// Commit message.
    pub commit_message: Option<String>,
    /// Uncommitted changes.
    pub commit_dirty: Option<bool>,
    /// Special files sent as parts: `_headers`, `_redirects`, `_routes.json`, `_worker.js`, …
    pub files: BTreeMap<String, Bytes>,
}

/// One file for the asset store.
#[derive(Clone, PartialEq, Eq)]
pub struct PagesAsset {
    /// The file's hash (its key in the store).
    pub hash: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes.
    pub content: Bytes,
}

impl std::fmt::Debug for PagesAsset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagesAsset")
            .field("hash", &self.hash)
            .field("content_type", &self.content_type)
            .field("bytes", &self.content.len())
            .finish()
    }
}

/// Files per asset upload request.
pub const ASSET_UPLOAD_MAX_FILES: usize = 2_000;
/// Base64 bytes per asset upload request (40 MiB).
pub const ASSET_UPLOAD_MAX_BYTES: usize = 40 * 1024 * 1024;

/// Pages endpoints; see [`Client::pages`].
#[derive(Debug, Clone, Copy)]
pub struct PagesApi<'a> {
    client: &'a Client,
}

impl Client {
    /// Cloudflare Pages.
    pub fn pages(&self) -> PagesApi<'_> {
        PagesApi { client: self }
    }
}

impl PagesApi<'_> {
    fn url(&self, rest: &[&str]) -> Result<Url, Error> {
        let mut segs = vec!["pages", "projects"];
        segs.extend_from_slice(rest);
        self.client.account_url(&segs)
    }

    /// `GET …/pages/projects`, all pages.
    pub fn list_projects(
        &self,
    ) -> impl Stream<Item = Result<PagesProject, Error>> + Send + 'static {
        let base = self.url(&[]);
        page_stream::<PagesProject, Bare<PagesProject>, _>(self.client.clone(), 10, base, |url| {
            Ok(Request::get(url))
        })
    }

    /// `GET …/pages/projects/{name}` (missing → 8000007, [`Error::is_not_found`]).
    pub async fn get_project(&self, name: &str) -> Result<PagesProject, Error> {
        let url = self.url(&[name])?;
        self.client.call(Request::get(url)).await
    }

    /// `POST …/pages/projects`.
    pub async fn create_project(&self, project: &CreateProject) -> Result<PagesProject, Error> {
        let url = self.url(&[])?;
        self.client.call(Request::post(url).json(project)?).await
    }

    /// `PATCH …/pages/projects/{name}` with only what changes. Setting values is repeatable,
    /// so it is retried after ambiguous failures.
    pub async fn update_project(
        &self,
        name: &str,
        update: &UpdateProject,
    ) -> Result<PagesProject, Error> {
        let url = self.url(&[name])?;
        let req = Request::patch(url)
            .json(update)?
            .idempotency(Idempotency::Safe);
        self.client.call(req).await
    }

    /// `DELETE …/pages/projects/{name}`.
    pub async fn delete_project(&self, name: &str) -> Result<(), Error> {
        let url = self.url(&[name])?;
        self.client.call_unit(Request::delete(url)).await
    }

    /// `GET …/projects/{name}/domains`: the project's custom domains (the `*.pages.dev`
    /// subdomain is not one). One request: a project has few.
    pub async fn list_domains(&self, project: &str) -> Result<Vec<PagesDomain>, Error> {
        let url = self.url(&[project, "domains"])?;
        let list: Option<Vec<PagesDomain>> = self.client.call(Request::get(url)).await?;
        Ok(list.unwrap_or_default())
    }

    /// `POST …/projects/{name}/domains` `{name}` (schema `pages_domains-post`). Retried after
    /// ambiguous failures: a repeat of a request that landed is answered with
    /// [`DOMAIN_ALREADY_ADDED`] ([`Error::is_conflict`]), which callers take as done.
    pub async fn add_domain(&self, project: &str, name: &str) -> Result<PagesDomain, Error> {
        let url = self.url(&[project, "domains"])?;
        let req = Request::post(url)
            .json(&serde_json::json!({ "name": name }))?
            .idempotency(Idempotency::Safe);
        self.client.call(req).await
    }

    /// `DELETE …/projects/{name}/domains/{domain}` (missing → HTTP 404,
    /// [`Error::is_not_found`]).
    pub async fn delete_domain(&self, project: &str, name: &str) -> Result<(), Error> {
        let url = self.url(&[project, "domains", name])?;
        self.client.call_unit(Request::delete(url)).await
    }

    /// `GET …/projects/{name}/deployments`, all pages; `env` is `production` or `preview`.
    pub fn list_deployments(
        &self,
        project: &str,
        env: Option<&str>,
    ) -> impl Stream<Item = Result<PagesDeployment, Error>> + Send + 'static {
        let base = self.url(&[project, "deployments"]);
        let env = env.map(str::to_owned);
        page_stream::<PagesDeployment, Bare<PagesDeployment>, _>(
            self.client.clone(),
            25,
            base,
            move |url| Ok(Request::get(url).query_opt("env", env.as_deref())),
        )
    }

    /// `GET …/projects/{name}/deployments/{id}`.
    pub async fn get_deployment(&self, project: &str, id: &str) -> Result<PagesDeployment, Error> {
        let url = self.url(&[project, "deployments", id])?;
        self.client.call(Request::get(url)).await
    }

    /// `POST …/projects/{name}/deployments` (multipart: `manifest`, commit fields, special
    /// files). Not retried after ambiguous failures.
    pub async fn create_deployment(
        &self,
        project: &str,
        deployment: &NewPagesDeployment,
    ) -> Result<PagesDeployment, Error> {
        let url = self.url(&[project, "deployments"])?;
        let manifest = serde_json::to_string(&deployment.manifest)
            .map_err(|e| Error::invalid(format!("Pages manifest: {e}")))?;
        let mut parts = vec![Part::text("manifest", manifest)];
        let text_fields = [
            ("branch", deployment.branch.clone()),
            ("commit_hash", deployment.commit_hash.clone()),
            ("commit_message", deployment.commit_message.clone()),
            (
                "commit_dirty",
                deployment.commit_dirty.map(|d| d.to_string()),
            ),
        ];
        for (name, value) in text_fields {
            if let Some(v) = value {
                parts.push(Part::text(name, v));
            }
        }
        for (name, data) in &deployment.files {
            parts.push(Part::file(
                name.clone(),
                name.clone(),
                "application/octet-stream",
                data.clone(),
            ));
        }
        let req = Request::post(url)
            .multipart(parts)
            .idempotency(Idempotency::Unsafe);
        self.client.call(req).await
    }

    /// `POST …/projects/{name}/deployments/{id}/rollback`: a new production deployment with
    /// the content of that earlier production deployment (Cloudflare refuses preview
    /// deployments, code 8000035). Not retried after ambiguous failures.
    pub async fn rollback_deployment(
        &self,
        project: &str,
        id: &str,
    ) -> Result<PagesDeployment, Error> {
        let url = self.url(&[project, "deployments", id, "rollback"])?;
        self.client
            .call(Request::post(url).idempotency(Idempotency::Unsafe))
            .await
    }

    /// `POST /pages/assets/check-missing` (authenticated with the upload JWT): which of these
    /// hashes the store lacks. A read: retried.
    pub async fn check_missing_assets(
        &self,
        jwt: &SecretString,
        hashes: &[String],
    ) -> Result<Vec<String>, Error> {
        let url = self.client.url(&["pages", "assets", "check-missing"])?;
        let req = Request::post(url)
            .json(&serde_json::json!({ "hashes": hashes }))?
            .bearer(jwt.clone())
            .idempotency(Idempotency::Safe);
        let missing: Option<Vec<String>> = self.client.call(req).await?;
        Ok(missing.unwrap_or_default())
    }

    /// `POST /pages/assets/upload` in batches of at most 2,000 files and 40 MiB of base64.
    /// Content-addressed, so repeating a batch is harmless: retried. Returns the request count.
    pub async fn upload_assets(
        &self,
        jwt: &SecretString,
        assets: &[PagesAsset],
    ) -> Result<usize, Error> {
        let url = self.client.url(&["pages", "assets", "upload"])?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut batches: Vec<Vec<serde_json::Value>> = Vec::new();
        let mut current = Vec::new();
        let mut bytes = 0;
        for asset in assets {
            let value = b64.encode(&asset.content);
            if value.len() > ASSET_UPLOAD_MAX_BYTES {
                return Err(Error::invalid(format!(
                    "Pages asset {} is larger than one upload request may be",
                    asset.hash
                )));
            }
            if !current.is_empty()
                && (current.len() >= ASSET_UPLOAD_MAX_FILES
                    || bytes + value.len() > ASSET_UPLOAD_MAX_BYTES)
            {
                batches.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += value.len();
            current.push(serde_json::json!({
                "key": asset.hash,
                "value": value,
                "metadata": { "contentType": asset.content_type },
                "base64": true,
            }));
        }
        if !current.is_empty() {
            batches.push(current);
        }
        for batch in &batches {
            let req = Request::post(url.clone())
                .json(batch)?
                .bearer(jwt.clone())
                .idempotency(Idempotency::Safe);
            self.client.call_unit(req).await?;
        }
        Ok(batches.len())
    }

    /// `POST /pages/assets/upsert-hashes`: mark all of the deployment's hashes as in use.
    pub async fn upsert_asset_hashes(
        &self,
        jwt: &SecretString,
        hashes: &[String],
    ) -> Result<(), Error> {
        let url = self.client.url(&["pages", "assets", "upsert-hashes"])?;
        let req = Request::post(url)
            .json(&serde_json::json!({ "hashes": hashes }))?
            .bearer(jwt.clone())
            .idempotency(Idempotency::Safe);
        self.client.call_unit(req).await
    }

    /// `GET …/projects/{name}/upload-token`: the JWT that authenticates asset uploads. It is a
    /// credential, so it comes back as a secret.
    pub async fn upload_token(&self, project: &str) -> Result<SecretString, Error> {
        #[derive(Deserialize)]
        struct Jwt {
            jwt: String,
        }
        let url = self.url(&[project, "upload-token"])?;
        let jwt: Jwt = self.client.call(Request::get(url)).await?;
        Ok(SecretString::from(jwt.jwt))
    }
}
