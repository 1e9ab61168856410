//! GitHub Actions repository secrets: the repository's X25519 public key, list (names and
//! dates, never values), get, create-or-update with a libsodium sealed box, delete.
//!
//! Each repository gets a key pair on first use; the emulator keeps the private key, so it
//! checks that a PUT value really opens (a real client bug — wrong key, not sealed — is a 422
//! here, where GitHub would store garbage that fails later in a workflow), and tests can read
//! the plain value back with [`GithubState::open_secret`] or the admin route. The token's
//! "Secrets" permission is emulated by [`GithubState::set_secrets_permission`]: `none` → 403
//! on everything, `read` → 403 on writes, `write` (default) → all allowed; GitHub's 403 body is
//! "Resource not accessible by integration" for an Actions token and the same shape for a PAT.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{ApiError, FullPath, paginate};
use crate::render::{Base, ts};
use crate::state::{GithubState, now};

type ApiResult = Result<Response, ApiError>;

/// A repository's secrets and the key pair values are sealed to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RepoSecrets {
    /// Created on the first public-key request or write.
    #[serde(default)]
    pub key: Option<KeyPair>,
    /// By upper-case name (GitHub stores secret names upper case).
    #[serde(default)]
    pub items: BTreeMap<String, SecretRec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyPair {
    pub key_id: String,
    /// The X25519 private key, base64 (emulator data, never served by the API).
    pub private: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SecretRec {
    pub encrypted_value: String,
    pub key_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the token may do with secrets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretsPermission {
    /// No access: every secrets endpoint answers 403.
    None,
    /// List, get and read the public key; writes answer 403.
    Read,
    /// Everything (the default).
    #[default]
    Write,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl KeyPair {
    fn generate(id: u64) -> KeyPair {
        let secret = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        KeyPair {
            // GitHub's key ids are long decimal strings.
            key_id: format!("3380204578043523{id}"),
            private: b64().encode(secret.to_bytes()),
        }
    }

    fn secret(&self) -> Option<crypto_box::SecretKey> {
        let raw = b64().decode(&self.private).ok()?;
        let bytes: [u8; 32] = raw.as_slice().try_into().ok()?;
        Some(crypto_box::SecretKey::from(bytes))
    }

    fn public_b64(&self) -> String {
        self.secret()
            .map(|s| b64().encode(s.public_key().as_bytes()))
            .unwrap_or_default()
    }

    /// Opens a base64 sealed box; `None` when it does not open with this key.
    fn open(&self, encrypted_b64: &str) -> Option<String> {
        let sealed = b64().decode(encrypted_b64).ok()?;
        let plain = self.secret()?.unseal(&sealed).ok()?;
        String::from_utf8(plain).ok()
    }
}

fn forbidden() -> ApiError {
    ApiError::status(
        StatusCode::FORBIDDEN,
        "Resource not accessible by integration",
    )
}

fn check(state: &GithubState, write: bool) -> Result<(), ApiError> {
    match state.lock().secrets_permission {
        SecretsPermission::Write => Ok(()),
        SecretsPermission::Read if !write => Ok(()),
        _ => Err(forbidden()),
    }
}

impl GithubState {
    /// Sets what the token may do with Actions secrets (see the module docs).
    pub fn set_secrets_permission(&self, permission: SecretsPermission) {
        self.lock().secrets_permission = permission;
    }

    /// The plain value of a repository secret, opened with the emulator's private key; `None`
    /// when there is no such secret.
    pub fn open_secret(&self, owner: &str, repo: &str, name: &str) -> Option<String> {
        let data = self.lock();
        let r = data.repo(owner, repo)?;
        let rec = r.secrets.items.get(&name.to_ascii_uppercase())?;
        r.secrets.key.as_ref()?.open(&rec.encrypted_value)
    }

    fn key_pair(&self, owner: &str, repo: &str) -> KeyPair {
        let mut data = self.lock();
        if let Some(key) = data.repo(owner, repo).and_then(|r| r.secrets.key.clone()) {
            return key;
        }
        let key = KeyPair::generate(data.alloc_id());
        data.repo_mut(owner, repo).secrets.key = Some(key.clone());
        key
    }
}

fn secret_json(name: &str, rec: &SecretRec) -> Value {
    json!({
        "name": name,
        "created_at": ts(&rec.created_at),
        "updated_at": ts(&rec.updated_at),
    })
}

pub(crate) async fn public_key(
    State(state): State<GithubState>,
    Path((owner, repo)): Path<(String, String)>,
) -> ApiResult {
    check(&state, false)?;
    let key = state.key_pair(&owner, &repo);
    Ok(Json(json!({ "key_id": key.key_id, "key": key.public_b64() })).into_response())
}

pub(crate) async fn list(
    State(state): State<GithubState>,
    axum::Extension(base): axum::Extension<Base>,
    axum::Extension(full): axum::Extension<FullPath>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    check(&state, false)?;
    let items: Vec<Value> = state
        .lock()
        .repo(&owner, &repo)
        .map(|r| {
            r.secrets
                .items
                .iter()
                .map(|(n, rec)| secret_json(n, rec))
                .collect()
        })
        .unwrap_or_default();
    let total = items.len();
    let (page, link) = paginate(items, &query, &base, &full);
    let mut response = Json(json!({ "total_count": total, "secrets": page })).into_response();
    if let Some(link) = link {
        response
            .headers_mut()
            .insert(axum::http::header::LINK, link);
    }
    Ok(response)
}

pub(crate) async fn get_one(
    State(state): State<GithubState>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> ApiResult {
    check(&state, false)?;
    let name = name.to_ascii_uppercase();
    let data = state.lock();
    let rec = data
        .repo(&owner, &repo)
        .and_then(|r| r.secrets.items.get(&name))
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(secret_json(&name, rec)).into_response())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !name.to_ascii_uppercase().starts_with("GITHUB_")
}

/// `PUT …/actions/secrets/{name}` `{encrypted_value, key_id}`: 201 when created, 204 when
/// updated.
pub(crate) async fn put(
    State(state): State<GithubState>,
    Path((owner, repo, name)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    check(&state, true)?;
    let map = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(ApiError::invalid("Secret", "body", "invalid", None)),
        Err(_) => {
            return Err(ApiError::status(
                StatusCode::BAD_REQUEST,
                "Problems parsing JSON",
            ));
        }
    };
    if !valid_name(&name) {
        return Err(ApiError::invalid(
            "Secret",
            "name",
            "invalid",
            Some(
                "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or \
                 underscores (_), must not start with a number or GITHUB_."
                    .into(),
            ),
        ));
    }
    let field = |f: &str| map.get(f).and_then(Value::as_str).map(str::to_owned);
    let (Some(encrypted_value), Some(key_id)) = (field("encrypted_value"), field("key_id")) else {
        return Err(ApiError::invalid(
            "Secret",
            "encrypted_value",
            "missing_field",
            Some("encrypted_value and key_id are required".into()),
        ));
    };
    let key = state.key_pair(&owner, &repo);
    if key_id != key.key_id {
        return Err(ApiError::invalid(
            "Secret",
            "key_id",
            "invalid",
            Some("key_id does not match the repository's current public key".into()),
        ));
    }
    if key.open(&encrypted_value).is_none() {
        return Err(ApiError::invalid(
            "Secret",
            "encrypted_value",
            "invalid",
            Some("encrypted_value is not a sealed box for the repository's public key".into()),
        ));
    }
    let name = name.to_ascii_uppercase();
    let at = now();
    let mut data = state.lock();
    let items = &mut data.repo_mut(&owner, &repo).secrets.items;
    let created = match items.get_mut(&name) {
        Some(rec) => {
            rec.encrypted_value = encrypted_value;
            rec.key_id = key_id;
            rec.updated_at = at;
            false
        }
        None => {
            items.insert(
                name,
                SecretRec {
                    encrypted_value,
                    key_id,
                    created_at: at,
                    updated_at: at,
                },
            );
            true
        }
    };
    Ok(if created {
        (StatusCode::CREATED, Json(json!({}))).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

pub(crate) async fn delete(
    State(state): State<GithubState>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> ApiResult {
    check(&state, true)?;
    let mut data = state.lock();
    let removed = data
        .repo_mut(&owner, &repo)
        .secrets
        .items
        .remove(&name.to_ascii_uppercase());
    match removed {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(ApiError::not_found()),
    }
}

// ---------------------------------------------------------------- admin

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PermissionBody {
    permission: SecretsPermission,
}

/// `PUT /_admin/permissions/secrets` `{"permission": "none"|"read"|"write"}`.
pub(crate) async fn admin_set_permission(
    State(state): State<GithubState>,
    Json(body): Json<PermissionBody>,
) -> StatusCode {
    state.set_secrets_permission(body.permission);
    StatusCode::NO_CONTENT
}

/// `GET /_admin/repos/{o}/{r}/secrets/{name}` → `{"name", "value"}`: the opened value.
pub(crate) async fn admin_open(
    State(state): State<GithubState>,
    Path((owner, repo, name)): Path<(String, String, String)>,
) -> ApiResult {
    let value = state
        .open_secret(&owner, &repo, &name)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(json!({ "name": name.to_ascii_uppercase(), "value": value })).into_response())
}
