//! A stateful emulator of the GitHub REST endpoints sv calls — issue and pull-request comments,
//! issues, workflow artifacts — as an axum [`Router`], so tests and the demo run with no account
//! and no network.
//!
//! This crate owns the emulated API and its data; serving it (port, persistence file, the
//! Cloudflare half) is the `sv-emulator` binary's job. Mount it under a prefix:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let state = sv_emu_github::GithubState::new();
//! let app = axum::Router::new().nest("/github", sv_emu_github::router(state.clone()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! // octocrab / sv-github base URL: http://127.0.0.1:PORT/github (a trailing slash is fine)
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! What is emulated (paths relative to the prefix):
//! - `GET /user`, `GET /repos/{o}/{r}` (minimal; repositories exist implicitly)
//! - `GET|POST /repos/{o}/{r}/issues/{n}/comments`, `GET|PATCH|DELETE /repos/{o}/{r}/issues/comments/{id}`
//! - `GET|POST /repos/{o}/{r}/issues` (`state`, `labels`, `creator`, `direction`), `GET|PATCH /repos/{o}/{r}/issues/{n}`
//! - `GET|POST /repos/{o}/{r}/issues/{n}/labels` (POST `{labels: [...]}` adds, creating unknown
//!   repository labels; answers all labels on the issue), `DELETE …/labels/{name}` (404
//!   "Label does not exist" when the issue does not carry it)
//! - `GET /repos/{o}/{r}/actions/artifacts` (`name`), `GET /repos/{o}/{r}/actions/runs/{run}/artifacts`,
//!   `GET|DELETE /repos/{o}/{r}/actions/artifacts/{id}`, `GET /repos/{o}/{r}/actions/artifacts/{id}/zip`
//!   (302 to `/_blobs/…?sig=…`, which needs no credentials and refuses an `Authorization` header)
//! - Actions secrets: `GET /repos/{o}/{r}/actions/secrets` (`{total_count, secrets: [{name,
//!   created_at, updated_at}]}`, never values), `GET …/actions/secrets/public-key`
//!   (`{key_id, key}`, X25519, base64), `GET|PUT|DELETE …/actions/secrets/{name}` (PUT
//!   `{encrypted_value, key_id}` — a libsodium sealed box — answers 201 created / 204 updated;
//!   a value that does not open with the repository key, or a stale `key_id`, is a 422)
//!
//! Lists page like GitHub (`per_page` default 30, max 100, `Link` with first/prev/next/last).
//! Pull requests are issues flagged as such; commenting on an unknown number creates one, and
//! listing the comments of an unknown number answers `[]` (GitHub would say 404).
//! Every authenticated request acts as `github-actions[bot]`.
//!
//! Test controls live under `/_admin/…` (see [`router`]).

mod admin;
mod api;
mod render;
mod secrets;
mod state;

use std::path::PathBuf;

use axum::Router;
use axum::routing::{get, post, put};

pub use secrets::SecretsPermission;
pub use state::{
    ACTIONS_BOT_ID, ACTIONS_BOT_LOGIN, GithubState, NewArtifact, RecordedRequest, zip_files,
};

/// Errors of the emulator's own operations (persistence, archive building); API errors are
/// HTTP responses, not values of this type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the state file failed.
    #[error("cannot access GitHub emulator state file {}", path.display())]
    Io {
        /// The state file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON is not a snapshot of this emulator's state.
    #[error("invalid GitHub emulator snapshot")]
    Snapshot(#[source] serde_json::Error),
    /// Building an artifact archive failed.
    #[error("cannot build artifact zip: {0}")]
    Zip(String),
}

/// The emulator's routes, relative to wherever the caller nests them.
///
/// Besides the API listed in the crate docs, these admin routes exist (no credentials needed):
/// - `POST /_admin/reset`, `GET /_admin/state`, `PUT /_admin/state`, `GET /_admin/requests`
/// - `POST /_admin/repos/{o}/{r}/pulls` `{"title"?, "user"?}` → `{"number"}`
/// - `POST /_admin/repos/{o}/{r}/issues/{n}/comments` `{"user", "body"}` → `{"id"}`
/// - `POST /_admin/repos/{o}/{r}/artifacts` `{"name", "run_id"?, "head_branch"?, "head_sha"?,
///   "expired"?, "files": {path: text}, "files_base64": {path: base64}}` → the artifact
/// - `POST /_admin/repos/{o}/{r}/artifacts/zip?name=&run_id=&expired=` with raw zip bytes
///   (used to plant hostile archives) → the artifact
/// - `PUT /_admin/permissions/secrets` `{"permission": "none"|"read"|"write"}`: what the token
///   may do with Actions secrets (403 "Resource not accessible by integration" otherwise)
/// - `GET /_admin/repos/{o}/{r}/secrets/{name}` → `{"name", "value"}`: the secret opened with
///   the emulator's private key
pub fn router(state: GithubState) -> Router {
    let repo = "/repos/{owner}/{repo}";
    let api = Router::new()
        .route("/user", get(api::get_user))
        .route(repo, get(api::get_repo))
        .route(
            &format!("{repo}/issues"),
            get(api::list_issues).post(api::create_issue),
        )
        .route(
            &format!("{repo}/issues/{{number}}"),
            get(api::get_issue).patch(api::update_issue),
        )
        .route(
            &format!("{repo}/issues/{{number}}/comments"),
            get(api::list_comments).post(api::create_comment),
        )
        .route(
            &format!("{repo}/issues/{{number}}/labels"),
            get(api::list_issue_labels).post(api::add_issue_labels),
        )
        .route(
            &format!("{repo}/issues/{{number}}/labels/{{name}}"),
            axum::routing::delete(api::remove_issue_label),
        )
        .route(
            &format!("{repo}/issues/comments/{{id}}"),
            get(api::get_comment)
                .patch(api::update_comment)
                .delete(api::delete_comment),
        )
        .route(
            &format!("{repo}/actions/artifacts"),
            get(api::list_artifacts),
        )
        .route(
            &format!("{repo}/actions/runs/{{run}}/artifacts"),
            get(api::list_run_artifacts),
        )
        .route(
            &format!("{repo}/actions/artifacts/{{id}}"),
            get(api::get_artifact).delete(api::delete_artifact),
        )
        .route(
            &format!("{repo}/actions/artifacts/{{id}}/{{format}}"),
            get(api::download_artifact),
        )
        .route(&format!("{repo}/actions/secrets"), get(secrets::list))
        .route(
            &format!("{repo}/actions/secrets/public-key"),
            get(secrets::public_key),
        )
        .route(
            &format!("{repo}/actions/secrets/{{name}}"),
            get(secrets::get_one)
                .put(secrets::put)
                .delete(secrets::delete),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::auth_layer,
        ));

    let admin = Router::new()
        .route("/reset", post(admin::reset))
        .route("/state", get(admin::get_state).put(admin::put_state))
        .route("/requests", get(admin::requests))
        .route(&format!("{repo}/pulls"), post(admin::create_pull))
        .route(
            &format!("{repo}/issues/{{number}}/comments"),
            post(admin::add_comment),
        )
        .route(&format!("{repo}/artifacts"), post(admin::upload_files))
        .route(&format!("{repo}/artifacts/zip"), post(admin::upload_zip))
        .route("/permissions/secrets", put(secrets::admin_set_permission))
        .route(
            &format!("{repo}/secrets/{{name}}"),
            get(secrets::admin_open),
        );

    Router::new()
        .merge(api)
        .route("/_blobs/{owner}/{repo}/{id}/{file}", get(api::blob))
        .nest("/_admin", admin)
        .fallback(api::not_found)
        // GitHub answers an unsupported method on a known path with a JSON 404, not a 405.
        .method_not_allowed_fallback(api::not_found)
        .layer(axum::middleware::from_fn(api::base_layer))
        .with_state(state)
}
