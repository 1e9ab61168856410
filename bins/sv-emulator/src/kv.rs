//! Workers KV: namespaces (CRUD), keys (prefix + cursor listing), values with metadata and
//! expiration, bulk write / delete / get. Values live in the store; namespaces in the model.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::routing::{get, post, put};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{self, ApiError, ApiResult, BigJson, Json, Query, content_type, ok, ok_info, raw};
use crate::model::KvNamespace;
use crate::pagination::{PageBounds, PageReq, decode_cursor, encode_cursor, parse_limit};
use crate::state::AppState;

type S = State<Arc<AppState>>;

pub const MAX_KEY_BYTES: usize = 512;
pub const MAX_VALUE_BYTES: usize = 25 * 1024 * 1024;
pub const MAX_METADATA_BYTES: usize = 1024;
pub const MAX_BULK: usize = 10_000;
pub const MAX_BULK_GET: usize = 100;
pub const MIN_TTL_SECS: i64 = 60;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let ns = "/accounts/{account_id}/storage/kv/namespaces";
    Router::new()
        .route(ns, get(list_namespaces).post(create_namespace))
        .route(
            &format!("{ns}/{{namespace_id}}"),
            get(get_namespace)
                .put(rename_namespace)
                .delete(delete_namespace),
        )
        .route(&format!("{ns}/{{namespace_id}}/keys"), get(list_keys))
        .route(
            &format!("{ns}/{{namespace_id}}/values/{{*key_name}}"),
            get(get_value).put(put_value).delete(delete_value),
        )
        .route(
            &format!("{ns}/{{namespace_id}}/metadata/{{*key_name}}"),
            get(get_metadata),
        )
        .route(
            &format!("{ns}/{{namespace_id}}/bulk"),
            put(bulk_write).delete(bulk_delete),
        )
        .route(
            &format!("{ns}/{{namespace_id}}/bulk/delete"),
            post(bulk_delete),
        )
        .route(&format!("{ns}/{{namespace_id}}/bulk/get"), post(bulk_get))
}

fn ns_json(n: &KvNamespace) -> Value {
    json!({"id": n.id, "title": n.title, "supports_url_encoding": true})
}

fn ns_not_found() -> ApiError {
    ApiError::not_found(10013, "get namespace: 'namespace not found'")
}

fn key_not_found() -> ApiError {
    ApiError::not_found(10009, "get: 'key not found'")
}

impl AppState {
    pub fn kv_create_namespace(&self, title: &str) -> Result<KvNamespace, ApiError> {
        validate_title(title)?;
        let id = self.hex_id();
        self.mutate(|m| {
            if m.kv_namespaces.values().any(|n| n.title == title) {
                return Err(ApiError::bad_request(
                    10014,
                    "create namespace: 'a namespace with this account ID and title already exists'",
                ));
            }
            let seq = m
                .kv_namespaces
                .values()
                .map(|n| n.created_seq)
                .max()
                .unwrap_or(0)
                + 1;
            let ns = KvNamespace {
                id: id.clone(),
                title: title.to_string(),
                created_seq: seq,
            };
            m.kv_namespaces.insert(id, ns.clone());
            Ok(ns)
        })
    }

    pub fn kv_namespace(&self, id: &str) -> Result<KvNamespace, ApiError> {
        self.read(|m| m.kv_namespaces.get(id).cloned())
            .ok_or_else(ns_not_found)
    }

    /// Writes one value after checking every KV limit.
    pub fn kv_put(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        metadata: Option<Value>,
        expiration: Option<i64>,
        expiration_ttl: Option<i64>,
    ) -> Result<(), ApiError> {
        self.kv_namespace(ns)?;
        validate_key(key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(ApiError::payload_too_large("Value", MAX_VALUE_BYTES));
        }
        validate_metadata(metadata.as_ref())?;
        let exp = self.kv_expiration(expiration, expiration_ttl)?;
        self.store.kv_put(ns, key, value, metadata.as_ref(), exp)?;
        Ok(())
    }

    /// Resolves `expiration` / `expiration_ttl` (the TTL wins) and enforces the 60 s minimum.
    pub fn kv_expiration(
        &self,
        expiration: Option<i64>,
        expiration_ttl: Option<i64>,
    ) -> Result<Option<i64>, ApiError> {
        let now = self.now_secs();
        if let Some(ttl) = expiration_ttl {
            if ttl < MIN_TTL_SECS {
                return Err(ApiError::bad_request(
                    10034,
                    format!(
                        "Invalid expiration_ttl of {ttl}. Expiration TTL must be at least {MIN_TTL_SECS}."
                    ),
                ));
            }
            return Ok(Some(now + ttl));
        }
        if let Some(exp) = expiration {
            if exp < now + MIN_TTL_SECS {
                return Err(ApiError::bad_request(
                    10033,
                    format!(
                        "Invalid expiration of {exp}. Expiration times must be at least {MIN_TTL_SECS} seconds in the future."
                    ),
                ));
            }
            return Ok(Some(exp));
        }
        Ok(None)
    }
}

fn validate_title(title: &str) -> Result<(), ApiError> {
    if title.trim().is_empty() {
        return Err(ApiError::bad_request(10019, "namespace title is required"));
    }
    if title.len() > 512 {
        return Err(ApiError::bad_request(
            10019,
            "namespace title must be at most 512 characters",
        ));
    }
    Ok(())
}

pub fn validate_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key == "." || key == ".." {
        return Err(ApiError::bad_request(
            10020,
            format!("Invalid key name {key:?}: keys cannot be empty, \".\" or \"..\""),
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ApiError::new(
            StatusCode::URI_TOO_LONG,
            10020,
            format!(
                "Key name of {} bytes exceeds the limit of {MAX_KEY_BYTES} bytes",
                key.len()
            ),
        ));
    }
    Ok(())
}

fn validate_metadata(meta: Option<&Value>) -> Result<(), ApiError> {
    if let Some(m) = meta {
        let len = m.to_string().len();
        if len > MAX_METADATA_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                10023,
                format!("Metadata of {len} bytes exceeds the limit of {MAX_METADATA_BYTES} bytes"),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct TitleBody {
    title: String,
}

#[derive(Debug, Deserialize, Default)]
struct NsListQuery {
    page: Option<String>,
    per_page: Option<String>,
    order: Option<String>,
    direction: Option<String>,
}

async fn list_namespaces(State(st): S, Query(q): Query<NsListQuery>) -> ApiResult {
    let req = PageReq::parse(
        q.page.as_deref(),
        q.per_page.as_deref(),
        PageBounds {
            default: 20,
            min: 5,
            max: 1000,
        },
    )?;
    let mut items: Vec<KvNamespace> = st.read(|m| m.kv_namespaces.values().cloned().collect());
    match q.order.as_deref() {
        Some("title") => items.sort_by(|a, b| a.title.cmp(&b.title)),
        Some("id") => items.sort_by(|a, b| a.id.cmp(&b.id)),
        None => items.sort_by_key(|n| n.created_seq),
        Some(o) => {
            return Err(ApiError::bad_request(
                10001,
                format!("Invalid order {o:?}: use id or title"),
            ));
        }
    }
    if q.direction.as_deref() == Some("desc") {
        items.reverse();
    }
    let (page, info) = req.slice(&items);
    ok_info(page.iter().map(ns_json).collect::<Vec<_>>(), info)
}

async fn create_namespace(State(st): S, Json(body): Json<TitleBody>) -> ApiResult {
    ok(ns_json(&st.kv_create_namespace(&body.title)?))
}

async fn get_namespace(State(st): S, Path((_a, ns)): Path<(String, String)>) -> ApiResult {
    ok(ns_json(&st.kv_namespace(&ns)?))
}

async fn rename_namespace(
    State(st): S,
    Path((_a, ns)): Path<(String, String)>,
    Json(body): Json<TitleBody>,
) -> ApiResult {
    validate_title(&body.title)?;
    let renamed = st.mutate(|m| {
        if !m.kv_namespaces.contains_key(&ns) {
            return Err(ns_not_found());
        }
        if m.kv_namespaces
            .values()
            .any(|n| n.title == body.title && n.id != ns)
        {
            return Err(ApiError::bad_request(
                10014,
                "rename namespace: 'a namespace with this account ID and title already exists'",
            ));
        }
        let n = m.kv_namespaces.get_mut(&ns).ok_or_else(ns_not_found)?;
        n.title.clone_from(&body.title);
        Ok(n.clone())
    })?;
    // Today's API returns the namespace; the 2024 schema allowed null.
    ok(ns_json(&renamed))
}

async fn delete_namespace(State(st): S, Path((_a, ns)): Path<(String, String)>) -> ApiResult {
    st.mutate(|m| {
        m.kv_namespaces
            .remove(&ns)
            .map(|_| ())
            .ok_or_else(ns_not_found)
    })?;
    st.store.kv_drop_namespace(&ns)?;
    ok(Value::Null)
}

#[derive(Debug, Deserialize, Default)]
struct KeysQuery {
    prefix: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn list_keys(
    State(st): S,
    Path((_a, ns)): Path<(String, String)>,
    Query(q): Query<KeysQuery>,
) -> ApiResult {
    st.kv_namespace(&ns)?;
    let limit = parse_limit(q.limit.as_deref(), 1000, 10, 1000)?;
    let after = decode_cursor(q.cursor.as_deref())?;
    let prefix = q.prefix.unwrap_or_default();
    let mut keys = st
        .store
        .kv_list(&ns, &prefix, after.as_deref(), limit, st.now_secs())?;
    let more = keys.len() > limit;
    keys.truncate(limit);
    let cursor = if more {
        keys.last()
            .map(|k| encode_cursor(&k.name))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let result: Vec<Value> = keys
        .iter()
        .map(|k| {
            let mut o = json!({"name": k.name});
            if let Some(e) = k.expiration {
                o["expiration"] = json!(e);
            }
            if let Some(m) = &k.metadata {
                o["metadata"] = m.clone();
            }
            o
        })
        .collect();
    ok_info(&result, json!({"count": result.len(), "cursor": cursor}))
}

async fn get_value(State(st): S, Path((_a, ns, key)): Path<(String, String, String)>) -> ApiResult {
    st.kv_namespace(&ns)?;
    let entry = st
        .store
        .kv_get(&ns, &key, st.now_secs())?
        .ok_or_else(key_not_found)?;
    let mut resp = raw(StatusCode::OK, "application/octet-stream", entry.value);
    if let Some(e) = entry.expiration
        && let Ok(v) = HeaderValue::from_str(&e.to_string())
    {
        resp.headers_mut().insert("expiration", v);
    }
    Ok(resp)
}

async fn get_metadata(
    State(st): S,
    Path((_a, ns, key)): Path<(String, String, String)>,
) -> ApiResult {
    st.kv_namespace(&ns)?;
    let entry = st
        .store
        .kv_get(&ns, &key, st.now_secs())?
        .ok_or_else(key_not_found)?;
    ok(entry.metadata)
}

#[derive(Debug, Deserialize, Default)]
struct PutQuery {
    expiration: Option<String>,
    expiration_ttl: Option<String>,
}

fn parse_i64(v: Option<&str>, name: &str) -> Result<Option<i64>, ApiError> {
    match v {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            // Whole seconds; clients send integers.
            .map(|n| {
                #[allow(clippy::cast_possible_truncation)]
                Some(n as i64)
            })
            .ok_or_else(|| ApiError::bad_request(10001, format!("Invalid {name}: {s:?}"))),
    }
}

async fn put_value(
    State(st): S,
    Path((_a, ns, key)): Path<(String, String, String)>,
    Query(q): Query<PutQuery>,
    req: Request,
) -> ApiResult {
    let expiration = parse_i64(q.expiration.as_deref(), "expiration")?;
    let ttl = parse_i64(q.expiration_ttl.as_deref(), "expiration_ttl")?;
    let ct = content_type(req.headers());
    let (value, metadata) = if ct == "multipart/form-data" {
        read_multipart_value(req).await?
    } else {
        let bytes = api::read_limited(req, MAX_VALUE_BYTES)
            .await
            .map_err(|_| ApiError::payload_too_large("Value", MAX_VALUE_BYTES))?;
        (bytes.to_vec(), None)
    };
    st.kv_put(&ns, &key, &value, metadata, expiration, ttl)?;
    ok(Value::Null)
}

async fn read_multipart_value(req: Request) -> Result<(Vec<u8>, Option<Value>), ApiError> {
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_request(10001, format!("Invalid multipart body: {e}")))?;
    let mut value = None;
    let mut metadata = None;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(10001, format!("Invalid multipart body: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(10001, format!("Invalid multipart body: {e}")))?;
        match name.as_str() {
            "value" => {
                if data.len() > MAX_VALUE_BYTES {
                    return Err(ApiError::payload_too_large("Value", MAX_VALUE_BYTES));
                }
                value = Some(data.to_vec());
            }
            "metadata" => {
                let m: Value = serde_json::from_slice(&data).map_err(|e| {
                    ApiError::bad_request(10022, format!("Metadata is not valid JSON: {e}"))
                })?;
                if !m.is_null() {
                    metadata = Some(m);
                }
            }
            _ => {}
        }
    }
    let value = value.ok_or_else(|| {
        ApiError::bad_request(10001, "multipart body must contain a 'value' part")
    })?;
    Ok((value, metadata))
}

async fn delete_value(
    State(st): S,
    Path((_a, ns, key)): Path<(String, String, String)>,
) -> ApiResult {
    st.kv_namespace(&ns)?;
    st.store.kv_delete(&ns, &[key])?;
    ok(Value::Null)
}

#[derive(Debug, Deserialize)]
struct BulkItem {
    key: String,
    value: String,
    expiration: Option<f64>,
    expiration_ttl: Option<f64>,
    metadata: Option<Value>,
    #[serde(default)]
    base64: bool,
}

// Whole seconds; clients send integers.
#[allow(clippy::cast_possible_truncation)]
fn secs(v: Option<f64>) -> Option<i64> {
    v.map(|n| n as i64)
}

async fn bulk_write(
    State(st): S,
    Path((_a, ns)): Path<(String, String)>,
    BigJson(items): BigJson<Vec<BulkItem>>,
) -> ApiResult {
    st.kv_namespace(&ns)?;
    if items.len() > MAX_BULK {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            10026,
            format!(
                "Bulk write of {} pairs exceeds the limit of {MAX_BULK}",
                items.len()
            ),
        ));
    }
    // Validate everything first: a bulk write is all or nothing.
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        validate_key(&item.key)?;
        let value = if item.base64 {
            base64::engine::general_purpose::STANDARD
                .decode(item.value.as_bytes())
                .map_err(|e| {
                    ApiError::bad_request(
                        10021,
                        format!("Value of key {:?} is not valid base64: {e}", item.key),
                    )
                })?
        } else {
            item.value.into_bytes()
        };
        if value.len() > MAX_VALUE_BYTES {
            return Err(ApiError::payload_too_large("Value", MAX_VALUE_BYTES));
        }
        validate_metadata(item.metadata.as_ref())?;
        let exp = st.kv_expiration(secs(item.expiration), secs(item.expiration_ttl))?;
        rows.push((item.key, value, item.metadata.filter(|m| !m.is_null()), exp));
    }
    let n = rows.len();
    st.store.kv_put_many(&ns, &rows)?;
    ok(json!({"successful_key_count": n, "unsuccessful_keys": []}))
}

async fn bulk_delete(
    State(st): S,
    Path((_a, ns)): Path<(String, String)>,
    BigJson(keys): BigJson<Vec<String>>,
) -> ApiResult {
    st.kv_namespace(&ns)?;
    if keys.len() > MAX_BULK {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            10026,
            format!(
                "Bulk delete of {} keys exceeds the limit of {MAX_BULK}",
                keys.len()
            ),
        ));
    }
    let n = keys.len();
    st.store.kv_delete(&ns, &keys)?;
    ok(json!({"successful_key_count": n, "unsuccessful_keys": []}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkGet {
    keys: Vec<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    with_metadata: bool,
}

async fn bulk_get(
    State(st): S,
    Path((_a, ns)): Path<(String, String)>,
    Json(body): Json<BulkGet>,
) -> ApiResult {
    st.kv_namespace(&ns)?;
    if body.keys.len() > MAX_BULK_GET {
        return Err(ApiError::bad_request(
            10026,
            format!(
                "Bulk get of {} keys exceeds the limit of {MAX_BULK_GET}",
                body.keys.len()
            ),
        ));
    }
    let as_json = match body.kind.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                10001,
                format!("Invalid type {other:?}: use text or json"),
            ));
        }
    };
    let now = st.now_secs();
    let mut values = BTreeMap::new();
    for key in &body.keys {
        let entry = st.store.kv_get(&ns, key, now)?;
        let v = match entry {
            None => Value::Null,
            Some(e) => {
                let value = if as_json {
                    serde_json::from_slice(&e.value).map_err(|_| {
                        ApiError::bad_request(
                            10001,
                            format!("The value of key {key:?} is not valid JSON"),
                        )
                    })?
                } else {
                    Value::String(String::from_utf8(e.value).map_err(|_| {
                        ApiError::bad_request(
                            10001,
                            format!("The value of key {key:?} is not text; read it alone"),
                        )
                    })?)
                };
                if body.with_metadata {
                    let mut o = json!({"value": value, "metadata": e.metadata});
                    if let Some(x) = e.expiration {
                        o["expiration"] = json!(x);
                    }
                    o
                } else {
                    value
                }
            }
        };
        values.insert(key.clone(), v);
    }
    ok(json!({"values": values}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn state() -> Arc<AppState> {
        AppState::open(Config {
            seed: Some(1),
            ..Config::default()
        })
        .unwrap()
    }

    #[test]
    fn namespace_titles_are_unique() {
        let st = state();
        st.kv_create_namespace("a").unwrap();
        assert_eq!(st.kv_create_namespace("a").unwrap_err().code(), 10014);
        assert_eq!(st.kv_create_namespace(" ").unwrap_err().code(), 10019);
    }

    #[test]
    fn limits() {
        let st = state();
        let ns = st.kv_create_namespace("n").unwrap().id;
        let long = "k".repeat(513);
        assert_eq!(
            st.kv_put(&ns, &long, b"v", None, None, None)
                .unwrap_err()
                .code(),
            10020
        );
        assert_eq!(
            st.kv_put(&ns, "..", b"v", None, None, None)
                .unwrap_err()
                .code(),
            10020
        );
        let big_meta = json!({"x": "y".repeat(1100)});
        assert_eq!(
            st.kv_put(&ns, "k", b"v", Some(big_meta), None, None)
                .unwrap_err()
                .code(),
            10023
        );
        assert_eq!(
            st.kv_put(&ns, "k", b"v", None, None, Some(59))
                .unwrap_err()
                .code(),
            10034
        );
        let soon = st.now_secs() + 10;
        assert_eq!(
            st.kv_put(&ns, "k", b"v", None, Some(soon), None)
                .unwrap_err()
                .code(),
            10033
        );
        st.kv_put(&ns, "k", b"v", None, Some(soon), Some(60))
            .unwrap();
        let e = st.store.kv_get(&ns, "k", st.now_secs()).unwrap().unwrap();
        let exp = e.expiration.unwrap();
        assert!(
            (st.now_secs() + 58..=st.now_secs() + 61).contains(&exp),
            "expiration_ttl wins"
        );
    }
}
