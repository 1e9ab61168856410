//! Test and demo controls under `/_admin/…`, kept apart from the emulated API: they need no
//! credentials and do not appear in the request log.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::ApiError;
use crate::render::{self, Base};
use crate::state::{GithubState, NewArtifact, zip_files};

type AdminResult = Result<Response, ApiError>;

pub(crate) async fn reset(State(state): State<GithubState>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}

pub(crate) async fn get_state(State(state): State<GithubState>) -> Json<Value> {
    Json(state.snapshot())
}

pub(crate) async fn put_state(
    State(state): State<GithubState>,
    Json(value): Json<Value>,
) -> AdminResult {
    state
        .restore(value)
        .map_err(|e| ApiError::status(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn requests(State(state): State<GithubState>) -> Json<Value> {
    Json(serde_json::to_value(state.requests()).unwrap_or(Value::Null))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPull {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

pub(crate) async fn create_pull(
    State(state): State<GithubState>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> AdminResult {
    let new: NewPull = parse(&body)?;
    let number = state.create_pull(
        &owner,
        &repo,
        new.title.as_deref().unwrap_or("Emulated pull request"),
        new.user.as_deref().unwrap_or("octocat"),
    );
    Ok((StatusCode::CREATED, Json(json!({ "number": number }))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewComment {
    user: String,
    body: String,
}

pub(crate) async fn add_comment(
    State(state): State<GithubState>,
    Path((owner, repo, number)): Path<(String, String, u64)>,
    body: Bytes,
) -> AdminResult {
    let new: NewComment = parse(&body)?;
    let id = state.add_comment_as(&owner, &repo, number, &new.user, &new.body);
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewArtifactFiles {
    name: String,
    #[serde(default)]
    run_id: Option<u64>,
    #[serde(default)]
    head_branch: Option<String>,
    #[serde(default)]
    head_sha: Option<String>,
    #[serde(default)]
    expired: bool,
    /// Text files: path inside the archive → contents.
    #[serde(default)]
    files: BTreeMap<String, String>,
    /// Binary files: path inside the archive → base64 contents.
    #[serde(default)]
    files_base64: BTreeMap<String, String>,
}

pub(crate) async fn upload_files(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> AdminResult {
    let new: NewArtifactFiles = parse(&body)?;
    let mut files: Vec<(String, Vec<u8>)> = new
        .files
        .into_iter()
        .map(|(path, text)| (path, text.into_bytes()))
        .collect();
    for (path, b64) in new.files_base64 {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| {
                ApiError::status(StatusCode::UNPROCESSABLE_ENTITY, &format!("{path}: {e}"))
            })?;
        files.push((path, bytes));
    }
    let zip = zip_files(&files)
        .map_err(|e| ApiError::status(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()))?;
    let id = state.upload_artifact_zip(
        &owner,
        &repo,
        NewArtifact {
            name: new.name,
            run_id: new.run_id,
            head_branch: new.head_branch,
            head_sha: new.head_sha,
            expired: new.expired,
            zip,
        },
    );
    artifact_response(&state, &base, &owner, &repo, id)
}

pub(crate) async fn upload_zip(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> AdminResult {
    let name = query
        .get("name")
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| ApiError::invalid("Artifact", "name", "missing_field", None))?;
    let run_id = match query.get("run_id") {
        Some(raw) => Some(
            raw.parse::<u64>()
                .map_err(|_| ApiError::invalid("Artifact", "run_id", "invalid", None))?,
        ),
        None => None,
    };
    let id = state.upload_artifact_zip(
        &owner,
        &repo,
        NewArtifact {
            name,
            run_id,
            head_branch: query.get("head_branch").cloned(),
            head_sha: query.get("head_sha").cloned(),
            expired: query.get("expired").is_some_and(|e| e == "true"),
            zip: body.to_vec(),
        },
    );
    artifact_response(&state, &base, &owner, &repo, id)
}

fn artifact_response(
    state: &GithubState,
    base: &Base,
    owner: &str,
    repo: &str,
    id: u64,
) -> AdminResult {
    let data = state.lock();
    let r = data.repo(owner, repo).ok_or_else(ApiError::not_found)?;
    let a = r.artifacts.get(&id).ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::CREATED, Json(render::artifact(base, r, a))).into_response())
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("invalid admin request: {e}"),
        )
    })
}
