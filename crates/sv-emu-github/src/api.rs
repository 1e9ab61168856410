//! The emulated GitHub REST endpoints.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::render::{self, Base};
use crate::state::{ACTIONS_BOT_LOGIN, GithubState, NewIssue, RecordedRequest, now};

const DOCS: &str = "https://docs.github.com/rest";
/// GitHub's limit on issue and comment bodies, in characters.
pub(crate) const BODY_LIMIT: usize = 65_536;

/// An error answered the way GitHub answers it: a status and a JSON body with `message` and
/// `documentation_url` (plus `errors` for 422).
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    pub fn not_found() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            body: json!({ "message": "Not Found", "documentation_url": DOCS, "status": "404" }),
        }
    }

    pub fn status(status: StatusCode, message: &str) -> Self {
        ApiError {
            status,
            body: json!({
                "message": message,
                "documentation_url": DOCS,
                "status": status.as_u16().to_string(),
            }),
        }
    }

    /// 422 "Validation Failed" with one entry in `errors`, as GitHub reports a bad field.
    pub fn invalid(resource: &str, field: &str, code: &str, message: Option<String>) -> Self {
        let mut error = json!({ "resource": resource, "field": field, "code": code });
        if let Some(message) = message {
            error["message"] = Value::String(message);
        }
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({
                "message": "Validation Failed",
                "errors": [error],
                "documentation_url": DOCS,
                "status": "422",
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

/// Computes [`Base`] from the `Host` header and the prefix the router is nested under, so every
/// URL the emulator hands out (JSON fields, `Link` headers, redirects) comes back to it.
pub(crate) async fn base_layer(
    OriginalUri(original): OriginalUri,
    mut req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| original.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned());
    let scheme = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http")
        .to_owned();
    let inner_path = req.uri().path().to_owned();
    let prefix = original
        .path()
        .strip_suffix(inner_path.as_str())
        .unwrap_or("")
        .to_owned();
    let full = original
        .path_and_query()
        .map_or_else(|| original.path().to_owned(), |p| p.as_str().to_owned());
    req.extensions_mut()
        .insert(Base(format!("{scheme}://{host}{prefix}")));
    req.extensions_mut().insert(FullPath(full));
    next.run(req).await
}

/// The request's path and query as the client sent it (prefix included).
#[derive(Debug, Clone)]
pub(crate) struct FullPath(pub String);

/// Authentication and request logging for the emulated API.
///
/// Without a configured token any `Bearer`/`token` credential is accepted and anonymous reads
/// are allowed (as for a public repository) while anonymous writes get 401 "Requires
/// authentication". With a token, anything else gets 401 "Bad credentials".
pub(crate) async fn auth_layer(
    State(state): State<GithubState>,
    req: Request,
    next: Next,
) -> Response {
    let full = req
        .extensions()
        .get::<FullPath>()
        .map(|p| p.0.clone())
        .unwrap_or_default();
    let presented = req.headers().get(header::AUTHORIZATION).map(credential);
    state.record(RecordedRequest {
        method: req.method().as_str().to_owned(),
        path: full,
        authorization: presented.is_some(),
    });
    match (state.required_token(), presented) {
        (Some(required), Some(Some(token))) if token == required => {}
        (Some(_), Some(_)) => {
            return ApiError::status(StatusCode::UNAUTHORIZED, "Bad credentials").into_response();
        }
        (None, Some(Some(_))) => {}
        (None, Some(None)) => {
            return ApiError::status(StatusCode::UNAUTHORIZED, "Bad credentials").into_response();
        }
        (_, None) => {
            let read = matches!(*req.method(), Method::GET | Method::HEAD);
            if !read || state.required_token().is_some() || req.uri().path() == "/user" {
                return ApiError::status(StatusCode::UNAUTHORIZED, "Requires authentication")
                    .into_response();
            }
        }
    }
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(
        "x-github-api-version-selected",
        HeaderValue::from_static("2022-11-28"),
    );
    headers.insert("x-ratelimit-limit", HeaderValue::from_static("5000"));
    headers.insert("x-ratelimit-remaining", HeaderValue::from_static("4999"));
    headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    response
}

/// The token of an `Authorization: Bearer X` / `token X` header; `None` for other schemes.
fn credential(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let (scheme, token) = text.split_once(' ')?;
    let token = token.trim();
    if (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        && !token.is_empty()
    {
        Some(token.to_owned())
    } else {
        None
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found()
}

// ---------------------------------------------------------------- pagination

/// GitHub's `per_page`/`page` paging: default 30 per page, at most 100, pages from 1, and a
/// `Link` header with `first`/`prev`/`next`/`last` (absent when everything fits one page).
pub(crate) fn paginate(
    items: Vec<Value>,
    query: &HashMap<String, String>,
    base: &Base,
    full: &FullPath,
) -> (Vec<Value>, Option<HeaderValue>) {
    let per_page = query
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(30)
        .min(100);
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    if last == 1 && page == 1 {
        return (slice, None);
    }
    let link_for = |p: usize| page_url(base, full, p);
    let mut links = Vec::new();
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", link_for(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", link_for(last)));
    }
    if page > 1 {
        links.push(format!(
            "<{}>; rel=\"prev\"",
            link_for((page - 1).min(last))
        ));
        links.push(format!("<{}>; rel=\"first\"", link_for(1)));
    }
    let header = HeaderValue::from_str(&links.join(", ")).ok();
    (slice, header)
}

fn page_url(base: &Base, full: &FullPath, page: usize) -> String {
    // `base` ends with the prefix, which `full` starts with: join scheme+host with full path.
    let origin_end = base.0.find("://").map_or(0, |i| i + 3);
    let origin = match base.0[origin_end..].find('/') {
        Some(slash) => &base.0[..origin_end + slash],
        None => base.0.as_str(),
    };
    let (path, query) = full.0.split_once('?').unwrap_or((full.0.as_str(), ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("page="))
        .map(str::to_owned)
        .collect();
    pairs.push(format!("page={page}"));
    format!("{origin}{path}?{}", pairs.join("&"))
}

fn list_response(
    items: Vec<Value>,
    query: &HashMap<String, String>,
    base: &Base,
    full: &FullPath,
) -> Response {
    let (page, link) = paginate(items, query, base, full);
    let mut response = Json(Value::Array(page)).into_response();
    if let Some(link) = link {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

// ---------------------------------------------------------------- bodies

/// Parses a JSON object body the way GitHub does: 400 "Problems parsing JSON" when it is not
/// JSON, 422 when it is JSON but not an object.
fn parse_body(bytes: &Bytes, resource: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
    if bytes.is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid(
            resource,
            "body",
            "invalid",
            Some("Invalid request.".into()),
        )),
        Err(_) => Err(ApiError::status(
            StatusCode::BAD_REQUEST,
            "Problems parsing JSON",
        )),
    }
}

fn string_field(
    map: &serde_json::Map<String, Value>,
    resource: &str,
    field: &str,
) -> Result<Option<String>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid(
            resource,
            field,
            "invalid",
            Some(format!("{field} is not a string.")),
        )),
    }
}

fn strings_field(
    map: &serde_json::Map<String, Value>,
    resource: &str,
    field: &str,
) -> Result<Option<Vec<String>>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                // GitHub also accepts label objects with a name.
                Value::Object(o) => o
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::invalid(resource, field, "invalid", None)),
                _ => Err(ApiError::invalid(resource, field, "invalid", None)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::invalid(
            resource,
            field,
            "invalid",
            Some(format!("{field} is not an array.")),
        )),
    }
}

fn check_body_length(resource: &str, body: &str) -> Result<(), ApiError> {
    if body.chars().count() > BODY_LIMIT {
        return Err(ApiError::invalid(
            resource,
            "body",
            "custom",
            Some(format!(
                "body is too long (maximum is {BODY_LIMIT} characters)"
            )),
        ));
    }
    Ok(())
}

fn number(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().map_err(|_| ApiError::not_found())
}

fn created(value: Value, location: &str) -> Response {
    let mut response = (StatusCode::CREATED, Json(value)).into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

// ---------------------------------------------------------------- user, repo

pub(crate) async fn get_user(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
) -> ApiResult {
    let data = state.lock();
    let mut v = render::user(&base, &data, ACTIONS_BOT_LOGIN);
    v["name"] = Value::Null;
    Ok(Json(v).into_response())
}

pub(crate) async fn get_repo(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo)): Path<(String, String)>,
) -> ApiResult {
    let mut data = state.lock();
    data.user_id(&owner);
    data.repo_mut(&owner, &repo);
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    Ok(Json(render::repository(&base, &data, r)).into_response())
}

// ---------------------------------------------------------------- comments

pub(crate) async fn list_comments(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    axum::Extension(full): axum::Extension<FullPath>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let n = number(&n)?;
    let data = state.lock();
    // Pull requests exist implicitly: an unknown number simply has no comments yet (GitHub
    // would answer 404; the emulator lets tests comment on "the PR" without creating it).
    let Some(r) = data.repo(&owner, &repo) else {
        return Ok(list_response(Vec::new(), &query, &base, &full));
    };
    let items: Vec<Value> = r
        .comments
        .values()
        .filter(|c| c.issue_number == n)
        .map(|c| render::comment(&base, &data, r, c))
        .collect();
    Ok(list_response(items, &query, &base, &full))
}

pub(crate) async fn create_comment(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let n = number(&n)?;
    let map = parse_body(&bytes, "IssueComment")?;
    let body = string_field(&map, "IssueComment", "body")?
        .ok_or_else(|| ApiError::invalid("IssueComment", "body", "missing_field", None))?;
    check_body_length("IssueComment", &body)?;
    let mut data = state.lock();
    let id = data.add_comment(&owner, &repo, n, ACTIONS_BOT_LOGIN, body);
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let c = r.comments.get(&id).ok_or_else(ApiError::not_found)?;
    let v = render::comment(&base, &data, r, c);
    let location = v["url"].as_str().unwrap_or_default().to_owned();
    Ok(created(v, &location))
}

pub(crate) async fn get_comment(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> ApiResult {
    let id = number(&id)?;
    let data = state.lock();
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let c = r.comments.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(Json(render::comment(&base, &data, r, c)).into_response())
}

pub(crate) async fn update_comment(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let id = number(&id)?;
    let map = parse_body(&bytes, "IssueComment")?;
    let body = string_field(&map, "IssueComment", "body")?
        .ok_or_else(|| ApiError::invalid("IssueComment", "body", "missing_field", None))?;
    check_body_length("IssueComment", &body)?;
    let mut data = state.lock();
    let r = data
        .repos
        .get_mut(&crate::state::repo_key(&owner, &repo))
        .ok_or_else(ApiError::not_found)?;
    let c = r.comments.get_mut(&id).ok_or_else(ApiError::not_found)?;
    c.body = body;
    c.updated_at = now();
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let c = r.comments.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(Json(render::comment(&base, &data, r, c)).into_response())
}

pub(crate) async fn delete_comment(
    State(state): State<GithubState>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> ApiResult {
    let id = number(&id)?;
    let mut data = state.lock();
    let r = data
        .repos
        .get_mut(&crate::state::repo_key(&owner, &repo))
        .ok_or_else(ApiError::not_found)?;
    r.comments.remove(&id).ok_or_else(ApiError::not_found)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------- issues

pub(crate) async fn list_issues(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    axum::Extension(full): axum::Extension<FullPath>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let wanted_state = query.get("state").map_or("open", String::as_str);
    if !matches!(wanted_state, "open" | "closed" | "all") {
        return Err(ApiError::invalid("Issue", "state", "invalid", None));
    }
    let wanted_labels: Vec<String> = query
        .get("labels")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let ascending = query.get("direction").is_some_and(|d| d == "asc");
    let data = state.lock();
    let Some(r) = data.repo(&owner, &repo) else {
        return Ok(list_response(Vec::new(), &query, &base, &full));
    };
    let mut issues: Vec<_> = r
        .issues
        .values()
        .filter(|i| wanted_state == "all" || i.state == wanted_state)
        .filter(|i| {
            wanted_labels
                .iter()
                .all(|w| i.labels.iter().any(|l| l.to_lowercase() == *w))
        })
        .filter(|i| {
            query
                .get("creator")
                .is_none_or(|c| c.eq_ignore_ascii_case(&i.user))
        })
        .collect();
    // GitHub's default order: newest first.
    issues.sort_by_key(|i| (i.created_at, i.number));
    if !ascending {
        issues.reverse();
    }
    let items = issues
        .into_iter()
        .map(|i| render::issue(&base, &data, r, i))
        .collect();
    Ok(list_response(items, &query, &base, &full))
}

pub(crate) async fn create_issue(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let map = parse_body(&bytes, "Issue")?;
    let title = string_field(&map, "Issue", "title")?
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("Issue", "title", "missing_field", None))?;
    let body = string_field(&map, "Issue", "body")?;
    if let Some(body) = &body {
        check_body_length("Issue", body)?;
    }
    let labels = strings_field(&map, "Issue", "labels")?.unwrap_or_default();
    let mut assignees = strings_field(&map, "Issue", "assignees")?.unwrap_or_default();
    if let Some(a) = string_field(&map, "Issue", "assignee")? {
        assignees.insert(0, a);
    }
    let mut data = state.lock();
    let number = data.create_issue(
        &owner,
        &repo,
        NewIssue {
            title,
            body,
            user: ACTIONS_BOT_LOGIN.into(),
            labels,
            assignees,
            is_pull: false,
        },
    );
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let i = r.issues.get(&number).ok_or_else(ApiError::not_found)?;
    let v = render::issue(&base, &data, r, i);
    let location = v["url"].as_str().unwrap_or_default().to_owned();
    Ok(created(v, &location))
}

pub(crate) async fn get_issue(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo, n)): Path<(String, String, String)>,
) -> ApiResult {
    let n = number(&n)?;
    let data = state.lock();
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let i = r.issues.get(&n).ok_or_else(ApiError::not_found)?;
    Ok(Json(render::issue(&base, &data, r, i)).into_response())
}

pub(crate) async fn update_issue(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let n = number(&n)?;
    let map = parse_body(&bytes, "Issue")?;
    let title = string_field(&map, "Issue", "title")?;
    if title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(ApiError::invalid("Issue", "title", "missing_field", None));
    }
    let body = string_field(&map, "Issue", "body")?;
    if let Some(body) = &body {
        check_body_length("Issue", body)?;
    }
    let new_state = string_field(&map, "Issue", "state")?;
    if new_state
        .as_deref()
        .is_some_and(|s| !matches!(s, "open" | "closed"))
    {
        return Err(ApiError::invalid("Issue", "state", "invalid", None));
    }
    let reason = string_field(&map, "Issue", "state_reason")?;
    if reason
        .as_deref()
        .is_some_and(|s| !matches!(s, "completed" | "not_planned" | "reopened"))
    {
        return Err(ApiError::invalid("Issue", "state_reason", "invalid", None));
    }
    let labels = strings_field(&map, "Issue", "labels")?;
    let assignees = strings_field(&map, "Issue", "assignees")?;
    let mut data = state.lock();
    for login in assignees.iter().flatten() {
        data.user_id(login);
    }
    let mut label_ids = Vec::new();
    for _ in labels.iter().flatten() {
        label_ids.push(data.alloc_id());
    }
    let r = data
        .repos
        .get_mut(&crate::state::repo_key(&owner, &repo))
        .ok_or_else(ApiError::not_found)?;
    if let Some(labels) = &labels {
        for (label, id) in labels.iter().zip(label_ids) {
            r.labels
                .entry(label.to_lowercase())
                .or_insert_with(|| crate::state::LabelRec {
                    id,
                    name: label.clone(),
                    color: "ededed".into(),
                });
        }
    }
    let i = r.issues.get_mut(&n).ok_or_else(ApiError::not_found)?;
    if let Some(title) = title {
        i.title = title;
    }
    if map.contains_key("body") {
        i.body = body;
    }
    if let Some(labels) = labels {
        i.labels.clear();
        for l in labels {
            if !i.labels.iter().any(|x| x.eq_ignore_ascii_case(&l)) {
                i.labels.push(l);
            }
        }
    }
    if let Some(assignees) = assignees {
        i.assignees = assignees;
    }
    match new_state.as_deref() {
        Some("closed") if i.state != "closed" => {
            i.state = "closed".into();
            i.state_reason = Some(reason.unwrap_or_else(|| "completed".into()));
            i.closed_at = Some(now());
            i.closed_by = Some(ACTIONS_BOT_LOGIN.into());
        }
        Some("open") if i.state != "open" => {
            i.state = "open".into();
            i.state_reason = Some("reopened".into());
            i.closed_at = None;
            i.closed_by = None;
        }
        _ => {}
    }
    i.updated_at = now();
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let i = r.issues.get(&n).ok_or_else(ApiError::not_found)?;
    Ok(Json(render::issue(&base, &data, r, i)).into_response())
}

// ---------------------------------------------------------------- artifacts

pub(crate) async fn list_artifacts(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    axum::Extension(full): axum::Extension<FullPath>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    artifacts_page(&state, &base, &full, &owner, &repo, &query, None)
}

pub(crate) async fn list_run_artifacts(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    axum::Extension(full): axum::Extension<FullPath>,
    Path((owner, repo, run)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let run = number(&run)?;
    artifacts_page(&state, &base, &full, &owner, &repo, &query, Some(run))
}

/// `{total_count, artifacts}`, newest first, optionally filtered by exact `name`.
fn artifacts_page(
    state: &GithubState,
    base: &Base,
    full: &FullPath,
    owner: &str,
    repo: &str,
    query: &HashMap<String, String>,
    run: Option<u64>,
) -> ApiResult {
    let data = state.lock();
    let mut items = Vec::new();
    if let Some(r) = data.repo(owner, repo) {
        let mut artifacts: Vec<_> = r
            .artifacts
            .values()
            .filter(|a| query.get("name").is_none_or(|n| *n == a.name))
            .filter(|a| run.is_none_or(|run| a.run_id == run))
            .collect();
        artifacts.sort_by_key(|a| (a.created_at, a.id));
        artifacts.reverse();
        items = artifacts
            .into_iter()
            .map(|a| render::artifact(base, r, a))
            .collect();
    }
    let total = items.len();
    let (page, link) = paginate(items, query, base, full);
    let mut response = Json(json!({ "total_count": total, "artifacts": page })).into_response();
    if let Some(link) = link {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

pub(crate) async fn get_artifact(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> ApiResult {
    let id = number(&id)?;
    let data = state.lock();
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let a = r.artifacts.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(Json(render::artifact(&base, r, a)).into_response())
}

pub(crate) async fn delete_artifact(
    State(state): State<GithubState>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> ApiResult {
    let id = number(&id)?;
    let mut data = state.lock();
    let r = data
        .repos
        .get_mut(&crate::state::repo_key(&owner, &repo))
        .ok_or_else(ApiError::not_found)?;
    r.artifacts.remove(&id).ok_or_else(ApiError::not_found)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// 302 to the blob URL, as GitHub redirects to its storage; 410 for an expired artifact.
pub(crate) async fn download_artifact(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo, id, format)): Path<(String, String, String, String)>,
) -> ApiResult {
    let id = number(&id)?;
    if format != "zip" {
        return Err(ApiError::not_found());
    }
    let data = state.lock();
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let a = r.artifacts.get(&id).ok_or_else(ApiError::not_found)?;
    if a.expired {
        return Err(ApiError::status(StatusCode::GONE, "Artifact has expired"));
    }
    let location = base.api(&format!(
        "/_blobs/{}/{}/{}.zip?sig={}",
        crate::state::repo_key(&owner, &repo),
        a.id,
        a.id,
        a.sig
    ));
    let mut response = StatusCode::FOUND.into_response();
    let value = HeaderValue::from_str(&location).map_err(|_| ApiError::not_found())?;
    response.headers_mut().insert(header::LOCATION, value);
    Ok(response)
}

/// The storage side of an artifact download. Like a pre-signed storage URL it needs no GitHub
/// credentials — only the `sig` from the redirect — and it refuses a request that carries an
/// `Authorization` header, so a client leaking its token across the redirect fails loudly.
pub(crate) async fn blob(
    State(state): State<GithubState>,
    axum::Extension(full): axum::Extension<FullPath>,
    Path((owner, repo, id, _file)): Path<(String, String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult {
    let authorization = headers.contains_key(header::AUTHORIZATION);
    state.record(RecordedRequest {
        method: "GET".into(),
        path: full.0,
        authorization,
    });
    if authorization {
        return Err(ApiError::status(
            StatusCode::BAD_REQUEST,
            "Authorization header not allowed on a signed storage URL",
        ));
    }
    let id = number(&id)?;
    let data = state.lock();
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let a = r.artifacts.get(&id).ok_or_else(ApiError::not_found)?;
    if query.get("sig") != Some(&a.sig) {
        return Err(ApiError::status(
            StatusCode::FORBIDDEN,
            "Signature did not match",
        ));
    }
    let mut response = a.zip.clone().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    Ok(response)
}

// ---------------------------------------------------------------- issue labels

/// `GET /repos/{o}/{r}/issues/{n}/labels`: the labels on an issue or pull request.
pub(crate) async fn list_issue_labels(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo, n)): Path<(String, String, String)>,
) -> ApiResult {
    let n = number(&n)?;
    let data = state.lock();
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let i = r.issues.get(&n).ok_or_else(ApiError::not_found)?;
    let labels: Vec<Value> = i
        .labels
        .iter()
        .map(|l| render::label(&base, r, l))
        .collect();
    Ok(Json(labels).into_response())
}

/// `POST /repos/{o}/{r}/issues/{n}/labels` `{"labels": [...]}`: adds labels (creating repository
/// labels that do not exist yet, as GitHub does) and answers every label now on the issue.
/// An unknown number becomes an implicit pull request, as for comments.
pub(crate) async fn add_issue_labels(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo, n)): Path<(String, String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let n = number(&n)?;
    let map = parse_body(&bytes, "Label")?;
    let labels = strings_field(&map, "Label", "labels")?
        .ok_or_else(|| ApiError::invalid("Label", "labels", "missing_field", None))?;
    if labels.iter().any(|l| l.trim().is_empty()) {
        return Err(ApiError::invalid("Label", "name", "missing_field", None));
    }
    let mut data = state.lock();
    data.ensure_issue(&owner, &repo, n);
    let ids: Vec<u64> = labels.iter().map(|_| data.alloc_id()).collect();
    let r = data.repo_mut(&owner, &repo);
    for (label, id) in labels.iter().zip(ids) {
        r.labels
            .entry(label.to_lowercase())
            .or_insert_with(|| crate::state::LabelRec {
                id,
                name: label.clone(),
                color: "ededed".into(),
            });
    }
    let i = r.issues.get_mut(&n).ok_or_else(ApiError::not_found)?;
    for l in labels {
        if !i.labels.iter().any(|x| x.eq_ignore_ascii_case(&l)) {
            i.labels.push(l);
        }
    }
    i.updated_at = now();
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let i = r.issues.get(&n).ok_or_else(ApiError::not_found)?;
    let out: Vec<Value> = i
        .labels
        .iter()
        .map(|l| render::label(&base, r, l))
        .collect();
    Ok(Json(out).into_response())
}

/// `DELETE /repos/{o}/{r}/issues/{n}/labels/{name}`: removes one label and answers the rest;
/// 404 "Label does not exist" when the issue does not carry it.
pub(crate) async fn remove_issue_label(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    Path((owner, repo, n, name)): Path<(String, String, String, String)>,
) -> ApiResult {
    let n = number(&n)?;
    let mut data = state.lock();
    let r = data.repo_mut(&owner, &repo);
    let i = r.issues.get_mut(&n).ok_or_else(ApiError::not_found)?;
    let before = i.labels.len();
    i.labels.retain(|l| !l.eq_ignore_ascii_case(&name));
    if i.labels.len() == before {
        return Err(ApiError::status(
            StatusCode::NOT_FOUND,
            "Label does not exist",
        ));
    }
    i.updated_at = now();
    let r = data.repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
    let i = r.issues.get(&n).ok_or_else(ApiError::not_found)?;
    let out: Vec<Value> = i
        .labels
        .iter()
        .map(|l| render::label(&base, r, l))
        .collect();
    Ok(Json(out).into_response())
}
