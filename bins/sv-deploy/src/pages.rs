//! Pages direct upload of the built web output: content-addressed assets (only the missing
//! ones are uploaded), then a deployment whose manifest maps each path to its asset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use sv_cloudflare::pages::{NewPagesDeployment, PagesAsset};
use sv_config::{Environment, ResourceKind, ResourceSpec};

/// What the environment deploys to Pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagesTarget {
    /// Project name in the account (prefixed for the environment).
    pub project: String,
    /// Built output directory.
    pub output: PathBuf,
    /// Branch of the deployment: the project's production branch for `production`, else
    /// the environment's name (a preview deployment).
    pub branch: String,
}

/// The result for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PagesResult {
    pub project: String,
    pub deployment_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub files: usize,
    pub uploaded: usize,
}

/// The first workspace with both `pages:` and `output:` in sv.yaml.
pub fn target(env: &Environment, root: &Path) -> Option<PagesTarget> {
    env.config.workspaces.values().find_map(|ws| {
        let key = ws.pages.as_ref()?;
        let output = ws.output.as_ref()?;
        let resource = env
            .resources_of(ResourceKind::Pages)
            .find(|r| r.address.name() == key)?;
        let ResourceSpec::Pages(project) = &resource.spec else {
            return None;
        };
        Some(PagesTarget {
            project: resource.name.clone(),
            output: root.join(output),
            branch: if env.name == "production" {
                project.production_branch.clone()
            } else {
                env.name.clone()
            },
        })
    })
}

/// Files Pages reads as configuration, sent as their own parts instead of assets.
const SPECIAL: [&str; 4] = ["_headers", "_redirects", "_routes.json", "_worker.js"];

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html",
        "js" | "mjs" => "application/javascript",
        "css" => "text/css",
        "json" | "webmanifest" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "txt" => "text/plain",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| {
        format!(
            "reading {} (build the web workspace first, or drop --skip-build)",
            dir.display()
        )
    })? {
        let path = entry?.path();
        if path.is_dir() {
            walk(base, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, path));
        }
    }
    Ok(())
}

/// Uploads `target.output` and creates the deployment.
///
/// # Errors
/// Unreadable output, API errors.
pub async fn deploy(
    client: &sv_cloudflare::Client,
    target: &PagesTarget,
    commit: Option<String>,
    message: &str,
    runner: &sv_actions::Runner,
) -> anyhow::Result<PagesResult> {
    let mut files = Vec::new();
    walk(&target.output, &target.output, &mut files)?;
    files.sort();
    let mut manifest = BTreeMap::new();
    let mut special = BTreeMap::new();
    let mut assets = Vec::new();
    for (name, path) in files {
        let content =
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if SPECIAL.contains(&name.as_str()) {
            special.insert(name, bytes::Bytes::from(content));
            continue;
        }
        // Content-addressed: the same bytes with the same extension share one asset.
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let mut hasher = Sha256::new();
        hasher.update(&content);
        hasher.update(ext.as_bytes());
        let hash = hex::encode(hasher.finalize())[..32].to_owned();
        manifest.insert(format!("/{name}"), hash.clone());
        assets.push(PagesAsset {
            hash,
            content_type: content_type(&path).to_owned(),
            content: bytes::Bytes::from(content),
        });
    }
    let pages = client.pages();
    let jwt = pages.upload_token(&target.project).await.with_context(|| {
        format!(
            "getting an upload token for Pages project {}",
            target.project
        )
    })?;
    runner
        .mask(jwt.expose_secret())
        .context("cannot write to stdout")?;
    let hashes: Vec<String> = assets.iter().map(|a| a.hash.clone()).collect();
    let missing = pages
        .check_missing_assets(&jwt, &hashes)
        .await
        .context("asking Pages which assets it lacks")?;
    let to_upload: Vec<PagesAsset> = assets
        .into_iter()
        .filter(|a| missing.contains(&a.hash))
        .collect();
    pages
        .upload_assets(&jwt, &to_upload)
        .await
        .context("uploading Pages assets")?;
    pages
        .upsert_asset_hashes(&jwt, &hashes)
        .await
        .context("marking Pages assets in use")?;
    let new = NewPagesDeployment {
        manifest: manifest.clone(),
        branch: Some(target.branch.clone()),
        commit_hash: commit,
        commit_message: Some(message.to_owned()),
        commit_dirty: None,
        files: special,
    };
    // The message names this deploy: after a lost answer, a deployment carrying it is ours.
    let deployment = crate::once::create_once(
        &format!("creating a deployment of Pages project {}", target.project),
        || pages.create_deployment(&target.project, &new),
        || deployment_with_message(client, &target.project, message),
    )
    .await?;
    Ok(PagesResult {
        project: target.project.clone(),
        deployment_id: deployment.id,
        url: deployment.url,
        files: manifest.len(),
        uploaded: to_upload.len(),
    })
}

/// A recent deployment of `project` whose commit message is `message`.
pub(crate) async fn deployment_with_message(
    client: &sv_cloudflare::Client,
    project: &str,
    message: &str,
) -> anyhow::Result<Option<sv_cloudflare::pages::PagesDeployment>> {
    use futures::StreamExt as _;
    let mut list = Box::pin(client.pages().list_deployments(project, None).take(25));
    while let Some(d) = list.next().await {
        let d = d.with_context(|| format!("listing the deployments of Pages project {project}"))?;
        let said = d
            .extra
            .get("deployment_trigger")
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("commit_message"))
            .and_then(serde_json::Value::as_str);
        if said == Some(message) {
            return Ok(Some(d));
        }
    }
    Ok(None)
}
