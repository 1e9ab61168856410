//! R2: buckets (CRUD, storage class, CORS, lifecycle) and objects (put / get / list / delete
//! with HTTP and custom metadata). Bodies live in the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::api::{self, ApiError, ApiResult, Json, Query, ok, ok_info, raw};
use crate::model::R2Bucket;
use crate::pagination::{decode_cursor, encode_cursor, parse_limit};
use crate::state::AppState;
use crate::store::R2Meta;

type S = State<Arc<AppState>>;

/// Largest object accepted through the REST API (wrangler refuses bigger files too).
pub const MAX_OBJECT_BYTES: usize = 300 * 1024 * 1024;
const LOCATIONS: [&str; 6] = ["apac", "eeur", "enam", "weur", "wnam", "oc"];
const JURISDICTION_HEADER: &str = "cf-r2-jurisdiction";
const STORAGE_CLASS_HEADER: &str = "cf-r2-storage-class";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let b = "/accounts/{account_id}/r2/buckets";
    Router::new()
        .route(b, get(list_buckets).post(create_bucket))
        .route(
            &format!("{b}/{{bucket_name}}"),
            get(get_bucket).delete(delete_bucket).patch(patch_bucket),
        )
        .route(
            &format!("{b}/{{bucket_name}}/cors"),
            get(get_cors).put(put_cors).delete(delete_cors),
        )
        .route(
            &format!("{b}/{{bucket_name}}/lifecycle"),
            get(get_lifecycle).put(put_lifecycle),
        )
        .route(&format!("{b}/{{bucket_name}}/objects"), get(list_objects))
        .route(
            &format!("{b}/{{bucket_name}}/objects/{{*object_key}}"),
            get(get_object).put(put_object).delete(delete_object),
        )
}

fn bucket_not_found() -> ApiError {
    ApiError::not_found(10006, "The specified bucket does not exist.")
}

fn object_not_found() -> ApiError {
    ApiError::not_found(10007, "The specified key does not exist.")
}

/// Serialises object writes, so a conditional write's check and write happen as one step
/// (two `If-None-Match: *` PUTs racing for a lock: exactly one wins).
static OBJECT_WRITES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Error code of a failed precondition. The REST object API documents none; R2's S3 API
/// answers 412 `PreconditionFailed`, and this code is the emulator's choice.
pub const PRECONDITION_FAILED_CODE: i64 = 10031;

fn precondition_failed(which: &str) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        PRECONDITION_FAILED_CODE,
        format!("At least one of the pre-conditions you specified did not hold ({which})."),
    )
}

/// `If-Match` / `If-None-Match` on a write, as R2's S3 API (`PutObject`, `DeleteObject`)
/// and the Workers binding (`onlyIf: {etagMatches, etagDoesNotMatch}`) evaluate them:
/// `If-Match: *` or a list of etags needs the object to exist with one of them;
/// `If-None-Match: *` needs it absent (create-only), `If-None-Match: ETAG` needs its etag to
/// differ. Quoted and bare etags both match.
fn check_write_preconditions(headers: &HeaderMap, current: Option<&str>) -> Result<(), ApiError> {
    let matches = |list: &str| {
        list.split(',').map(str::trim).any(|t| {
            t == "*" || current.is_some_and(|e| t.trim_start_matches("W/").trim_matches('"') == e)
        })
    };
    if let Some(v) = headers.get(header::IF_MATCH) {
        let list = v.to_str().unwrap_or_default();
        if current.is_none() || !matches(list) {
            return Err(precondition_failed("If-Match"));
        }
    }
    if let Some(v) = headers.get(header::IF_NONE_MATCH) {
        let list = v.to_str().unwrap_or_default();
        if current.is_some() && matches(list) {
            return Err(precondition_failed("If-None-Match"));
        }
    }
    Ok(())
}

/// 3–63 characters, lower-case letters, digits and hyphens, alphanumeric at both ends.
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn jurisdiction(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers
        .get(JURISDICTION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        None | Some("" | "default") => Ok(None),
        Some(j @ ("eu" | "fedramp")) => Ok(Some(j.to_string())),
        Some(other) => Err(ApiError::bad_request(
            10040,
            format!("Invalid jurisdiction {other:?}"),
        )),
    }
}

fn storage_class(v: Option<&str>) -> Result<String, ApiError> {
    match v {
        None | Some("" | "Standard") => Ok("Standard".into()),
        Some("InfrequentAccess") => Ok("InfrequentAccess".into()),
        Some(other) => Err(ApiError::bad_request(
            10062,
            format!("Invalid storage class {other:?}"),
        )),
    }
}

fn bucket_json(b: &R2Bucket) -> Value {
    let mut v = json!({
        "name": b.name,
        "creation_date": b.creation_date,
        "location": b.location,
        "storage_class": b.storage_class,
    });
    if let Some(j) = &b.jurisdiction {
        v["jurisdiction"] = json!(j);
    }
    v
}

impl AppState {
    pub fn r2_bucket(&self, jurisdiction: Option<&str>, name: &str) -> Result<R2Bucket, ApiError> {
        self.read(|m| m.r2.get(&R2Bucket::key(jurisdiction, name)).cloned())
            .ok_or_else(bucket_not_found)
    }

    pub fn r2_create_bucket(
        &self,
        name: &str,
        jurisdiction: Option<&str>,
        location: Option<&str>,
        storage_class: &str,
    ) -> Result<R2Bucket, ApiError> {
        if !valid_bucket_name(name) {
            return Err(ApiError::bad_request(
                10005,
                format!(
                    "The specified bucket name {name:?} is not valid: use 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit"
                ),
            ));
        }
        let location = match location.map(str::to_ascii_lowercase) {
            None => "wnam".to_string(),
            Some(l) if LOCATIONS.contains(&l.as_str()) => l,
            Some(l) => {
                return Err(ApiError::bad_request(
                    10041,
                    format!("Invalid location hint {l:?}"),
                ));
            }
        };
        let bucket = R2Bucket {
            name: name.to_string(),
            creation_date: self.now_rfc3339(),
            location,
            storage_class: storage_class.to_string(),
            jurisdiction: jurisdiction.map(str::to_string),
            cors: None,
            lifecycle: None,
        };
        let key = R2Bucket::key(jurisdiction, name);
        self.mutate(|m| {
            if m.r2.contains_key(&key) {
                return Err(ApiError::conflict(
                    10073,
                    "The bucket you tried to create already exists, and you own it.",
                ));
            }
            m.r2.insert(key, bucket.clone());
            Ok(bucket)
        })
    }
}

#[derive(Debug, Deserialize, Default)]
struct ListBucketsQuery {
    name_contains: Option<String>,
    start_after: Option<String>,
    per_page: Option<String>,
    order: Option<String>,
    direction: Option<String>,
    cursor: Option<String>,
}

async fn list_buckets(
    State(st): S,
    headers: HeaderMap,
    Query(q): Query<ListBucketsQuery>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let per_page = parse_limit(q.per_page.as_deref(), 20, 1, 1000)?;
    if let Some(o) = q.order.as_deref().filter(|o| *o != "name") {
        return Err(ApiError::bad_request(
            10001,
            format!("Invalid order {o:?}: only name"),
        ));
    }
    let desc = q.direction.as_deref() == Some("desc");
    let mut names: Vec<R2Bucket> = st.read(|m| {
        m.r2.values()
            .filter(|b| b.jurisdiction == j)
            .filter(|b| {
                q.name_contains
                    .as_deref()
                    .is_none_or(|n| b.name.contains(n))
            })
            .cloned()
            .collect()
    });
    names.sort_by(|a, b| a.name.cmp(&b.name));
    if desc {
        names.reverse();
    }
    let after = decode_cursor(q.cursor.as_deref())?.or(q.start_after.clone());
    if let Some(after) = after {
        names.retain(|b| if desc { b.name < after } else { b.name > after });
    }
    let more = names.len() > per_page;
    names.truncate(per_page);
    let cursor = if more {
        names
            .last()
            .map(|b| encode_cursor(&b.name))
            .unwrap_or_default()
    } else {
        String::new()
    };
    // Today's API wraps the list: `{buckets: [...]}` (the 2024 schema says a bare array).
    ok_info(
        json!({"buckets": names.iter().map(bucket_json).collect::<Vec<_>>()}),
        json!({"cursor": cursor, "per_page": per_page}),
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBucket {
    name: String,
    location_hint: Option<String>,
    storage_class: Option<String>,
}

async fn create_bucket(State(st): S, headers: HeaderMap, Json(b): Json<CreateBucket>) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let class = storage_class(b.storage_class.as_deref())?;
    let bucket = st.r2_create_bucket(&b.name, j.as_deref(), b.location_hint.as_deref(), &class)?;
    ok(bucket_json(&bucket))
}

async fn get_bucket(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name)): Path<(String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    ok(bucket_json(&st.r2_bucket(j.as_deref(), &name)?))
}

async fn patch_bucket(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name)): Path<(String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let class = headers
        .get(STORAGE_CLASS_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::bad_request(10062, "The cf-r2-storage-class header is required")
        })?;
    let class = storage_class(Some(class))?;
    let key = R2Bucket::key(j.as_deref(), &name);
    let b = st.mutate(|m| {
        let b = m.r2.get_mut(&key).ok_or_else(bucket_not_found)?;
        b.storage_class = class;
        Ok(b.clone())
    })?;
    ok(bucket_json(&b))
}

async fn delete_bucket(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name)): Path<(String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let key = R2Bucket::key(j.as_deref(), &name);
    st.r2_bucket(j.as_deref(), &name)?;
    if st.store.r2_count(&key)? > 0 {
        return Err(ApiError::conflict(
            10008,
            "The bucket you tried to delete is not empty.",
        ));
    }
    st.mutate(|m| m.r2.remove(&key).map(|_| ()).ok_or_else(bucket_not_found))?;
    st.store.r2_drop_bucket(&key)?;
    ok(json!({}))
}

// ---- CORS and lifecycle ----

#[derive(Debug, Deserialize)]
struct Rules {
    #[serde(default)]
    rules: Vec<Value>,
}

fn validate_cors(rules: &[Value]) -> Result<(), ApiError> {
    for (i, r) in rules.iter().enumerate() {
        let allowed = &r["allowed"];
        let methods = allowed["methods"].as_array();
        let origins = allowed["origins"].as_array();
        if methods.is_none_or(Vec::is_empty) || origins.is_none_or(Vec::is_empty) {
            return Err(ApiError::bad_request(
                10063,
                format!("CORS rule {i} needs allowed.origins and allowed.methods"),
            ));
        }
        for m in methods.into_iter().flatten() {
            let ok = m
                .as_str()
                .is_some_and(|m| ["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&m));
            if !ok {
                return Err(ApiError::bad_request(
                    10063,
                    format!("CORS rule {i}: unsupported method {m}"),
                ));
            }
        }
    }
    Ok(())
}

async fn get_cors(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name)): Path<(String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let b = st.r2_bucket(j.as_deref(), &name)?;
    match b.cors {
        Some(rules) => ok(json!({"rules": rules})),
        None => Err(ApiError::not_found(
            10059,
            "The CORS configuration does not exist.",
        )),
    }
}

async fn put_cors(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name)): Path<(String, String)>,
    Json(body): Json<Rules>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    validate_cors(&body.rules)?;
    let key = R2Bucket::key(j.as_deref(), &name);
    st.mutate(|m| {
        let b = m.r2.get_mut(&key).ok_or_else(bucket_not_found)?;
        b.cors = Some(Value::Array(body.rules));
        Ok(())
    })?;
    ok(json!({}))
}

async fn delete_cors(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name)): Path<(String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let key = R2Bucket::key(j.as_deref(), &name);
    st.mutate(|m| {
        let b = m.r2.get_mut(&key).ok_or_else(bucket_not_found)?;
        b.cors = None;
        Ok(())
    })?;
    ok(json!({}))
}

async fn get_lifecycle(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name)): Path<(String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    let b = st.r2_bucket(j.as_deref(), &name)?;
    ok(json!({"rules": b.lifecycle.unwrap_or_else(|| json!([]))}))
}

async fn put_lifecycle(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name)): Path<(String, String)>,
    Json(body): Json<Rules>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    for (i, r) in body.rules.iter().enumerate() {
        if r["id"].as_str().is_none_or(str::is_empty) {
            return Err(ApiError::bad_request(
                10064,
                format!("Lifecycle rule {i} needs an id"),
            ));
        }
        if !r["enabled"].is_boolean() {
            return Err(ApiError::bad_request(
                10064,
                format!("Lifecycle rule {i} needs enabled: true|false"),
            ));
        }
    }
    let key = R2Bucket::key(j.as_deref(), &name);
    st.mutate(|m| {
        let b = m.r2.get_mut(&key).ok_or_else(bucket_not_found)?;
        b.lifecycle = Some(Value::Array(body.rules));
        Ok(())
    })?;
    ok(json!({}))
}

// ---- objects ----

#[derive(Debug, Deserialize, Default)]
struct ListObjectsQuery {
    prefix: Option<String>,
    delimiter: Option<String>,
    start_after: Option<String>,
    cursor: Option<String>,
    per_page: Option<String>,
}

fn object_json(m: &R2Meta) -> Value {
    json!({
        "key": m.key,
        "size": m.size,
        "etag": m.etag,
        "last_modified": m.uploaded,
        "http_metadata": m.http_metadata,
        "custom_metadata": m.custom_metadata,
        "storage_class": m.storage_class,
    })
}

async fn list_objects(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name)): Path<(String, String)>,
    Query(q): Query<ListObjectsQuery>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    st.r2_bucket(j.as_deref(), &name)?;
    let bucket = R2Bucket::key(j.as_deref(), &name);
    let per_page = parse_limit(q.per_page.as_deref(), 1000, 1, 1000)?;
    let prefix = q.prefix.unwrap_or_default();
    let delimiter = q.delimiter.filter(|d| !d.is_empty());
    let after = decode_cursor(q.cursor.as_deref())?
        .or(q.start_after)
        .unwrap_or_default();
    let mut objects = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut last = String::new();
    let mut truncated = false;
    let mut scan_after = after.clone();
    'scan: loop {
        let chunk = st.store.r2_list(&bucket, &prefix, &scan_after, 1000)?;
        if chunk.is_empty() {
            break;
        }
        for meta in chunk {
            scan_after.clone_from(&meta.key);
            // A cursor that ended on a common prefix skips everything under it.
            if let Some(d) = &delimiter
                && after.ends_with(d.as_str())
                && meta.key.starts_with(&after)
            {
                continue;
            }
            let grouped = delimiter.as_ref().and_then(|d| {
                meta.key[prefix.len()..]
                    .find(d.as_str())
                    .map(|i| meta.key[..prefix.len() + i + d.len()].to_string())
            });
            if objects.len() + prefixes.len() >= per_page {
                let already = grouped.as_ref().is_some_and(|g| prefixes.contains(g));
                if !already {
                    truncated = true;
                    break 'scan;
                }
            }
            match grouped {
                Some(g) => {
                    if !prefixes.contains(&g) {
                        last.clone_from(&g);
                        prefixes.push(g);
                    }
                }
                None => {
                    last.clone_from(&meta.key);
                    objects.push(object_json(&meta));
                }
            }
        }
    }
    let cursor = if truncated {
        encode_cursor(&last)
    } else {
        String::new()
    };
    ok_info(
        objects,
        json!({
            "cursor": cursor,
            "is_truncated": truncated,
            "per_page": per_page,
            "delimited": prefixes,
        }),
    )
}

/// HTTP metadata headers stored with an object and sent back on GET.
const HTTP_META: [(&str, &str); 6] = [
    ("content-type", "contentType"),
    ("content-language", "contentLanguage"),
    ("content-disposition", "contentDisposition"),
    ("content-encoding", "contentEncoding"),
    ("cache-control", "cacheControl"),
    ("expires", "cacheExpiry"),
];

const CUSTOM_META_PREFIX: &str = "x-amz-meta-";
const CUSTOM_META_JSON: &str = "cf-r2-custom-metadata";

fn custom_metadata(headers: &HeaderMap) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    if let Some(v) = headers.get(CUSTOM_META_JSON) {
        let parsed: BTreeMap<String, String> = v
            .to_str()
            .ok()
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    10001,
                    "cf-r2-custom-metadata must be a JSON object of strings",
                )
            })?;
        out.extend(parsed);
    }
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(CUSTOM_META_PREFIX)
            && let Ok(v) = value.to_str()
        {
            out.insert(key.to_string(), v.to_string());
        }
    }
    let size: usize = out.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > 2048 {
        return Err(ApiError::bad_request(
            10012,
            "Custom metadata exceeds 2048 bytes",
        ));
    }
    Ok(out)
}

async fn put_object(
    State(st): S,
    Path((_a, name, key)): Path<(String, String, String)>,
    req: Request,
) -> ApiResult {
    let headers = req.headers().clone();
    let j = jurisdiction(&headers)?;
    let bucket = st.r2_bucket(j.as_deref(), &name)?;
    if key.is_empty() || key.len() > 1024 {
        return Err(ApiError::bad_request(
            10020,
            "Object keys must be 1 to 1024 bytes",
        ));
    }
    let class = match headers
        .get(STORAGE_CLASS_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        Some(c) => storage_class(Some(c))?,
        None => bucket.storage_class.clone(),
    };
    let custom = custom_metadata(&headers)?;
    let body = api::read_limited(req, MAX_OBJECT_BYTES)
        .await
        .map_err(|_| ApiError::payload_too_large("Object", MAX_OBJECT_BYTES))?;
    let mut http = serde_json::Map::new();
    for (h, field) in HTTP_META {
        if let Some(v) = headers.get(h).and_then(|v| v.to_str().ok()) {
            http.insert(field.to_string(), json!(v));
        }
    }
    let etag = hex::encode(&Sha256::digest(&body)[..16]);
    let meta = R2Meta {
        key: key.clone(),
        size: body.len() as u64,
        etag: etag.clone(),
        uploaded: st.now_rfc3339(),
        version: st.hex_id(),
        storage_class: class,
        http_metadata: Value::Object(http),
        custom_metadata: json!(custom),
    };
    {
        let _writing = OBJECT_WRITES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket_key = R2Bucket::key(j.as_deref(), &name);
        if headers.contains_key(header::IF_MATCH) || headers.contains_key(header::IF_NONE_MATCH) {
            let current = st.store.r2_get(&bucket_key, &key)?.map(|(m, _)| m.etag);
            check_write_preconditions(&headers, current.as_deref())?;
        }
        st.store.r2_put(&bucket_key, &meta, &body)?;
    }
    ok(json!({
        "key": meta.key,
        "size": meta.size.to_string(),
        "etag": meta.etag,
        "uploaded": meta.uploaded,
        "version": meta.version,
        "storage_class": meta.storage_class,
        "http_metadata": meta.http_metadata,
        "custom_metadata": meta.custom_metadata,
    }))
}

async fn get_object(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name, key)): Path<(String, String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    st.r2_bucket(j.as_deref(), &name)?;
    let (meta, body) = st
        .store
        .r2_get(&R2Bucket::key(j.as_deref(), &name), &key)?
        .ok_or_else(object_not_found)?;
    let quoted = format!("\"{}\"", meta.etag);
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && (inm == quoted || inm == meta.etag || inm == "*")
    {
        return Ok(raw(
            StatusCode::NOT_MODIFIED,
            "application/octet-stream",
            Vec::new(),
        ));
    }
    let ct = meta.http_metadata["contentType"]
        .as_str()
        .unwrap_or("application/octet-stream")
        .to_string();
    let mut resp = raw(StatusCode::OK, &ct, body);
    let h = resp.headers_mut();
    let mut set = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    };
    set("etag", &quoted);
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&meta.uploaded) {
        set(
            "last-modified",
            &t.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        );
    }
    for (hname, field) in HTTP_META {
        if hname != "content-type"
            && let Some(v) = meta.http_metadata[field].as_str()
        {
            set(hname, v);
        }
    }
    if let Some(custom) = meta.custom_metadata.as_object() {
        for (k, v) in custom {
            if let Some(v) = v.as_str() {
                set(&format!("{CUSTOM_META_PREFIX}{k}"), v);
            }
        }
    }
    set("cf-r2-storage-class", &meta.storage_class);
    Ok(resp)
}

async fn delete_object(
    State(st): S,
    headers: HeaderMap,
    Path((_a, name, key)): Path<(String, String, String)>,
) -> ApiResult {
    let j = jurisdiction(&headers)?;
    st.r2_bucket(j.as_deref(), &name)?;
    let bucket_key = R2Bucket::key(j.as_deref(), &name);
    let _writing = OBJECT_WRITES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if headers.contains_key(header::IF_MATCH) || headers.contains_key(header::IF_NONE_MATCH) {
        let current = st.store.r2_get(&bucket_key, &key)?.map(|(m, _)| m.etag);
        check_write_preconditions(&headers, current.as_deref())?;
    }
    st.store.r2_delete(&bucket_key, &key)?;
    ok(json!({"key": key}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_preconditions() {
        let h = |name: header::HeaderName, v: &str| {
            let mut m = HeaderMap::new();
            m.insert(name, HeaderValue::from_str(v).unwrap());
            m
        };
        let create_only = h(header::IF_NONE_MATCH, "*");
        assert!(check_write_preconditions(&create_only, None).is_ok());
        let err = check_write_preconditions(&create_only, Some("abc")).unwrap_err();
        assert_eq!(err.code(), PRECONDITION_FAILED_CODE);
        let if_match = h(header::IF_MATCH, "\"abc\"");
        assert!(check_write_preconditions(&if_match, Some("abc")).is_ok());
        assert!(check_write_preconditions(&if_match, Some("def")).is_err());
        assert!(check_write_preconditions(&if_match, None).is_err());
        let any = h(header::IF_MATCH, "*");
        assert!(check_write_preconditions(&any, Some("x")).is_ok());
        assert!(check_write_preconditions(&any, None).is_err());
        let not_this = h(header::IF_NONE_MATCH, "abc");
        assert!(check_write_preconditions(&not_this, Some("def")).is_ok());
        assert!(check_write_preconditions(&not_this, Some("abc")).is_err());
        assert!(check_write_preconditions(&HeaderMap::new(), Some("abc")).is_ok());
    }

    #[test]
    fn bucket_names() {
        assert!(valid_bucket_name("my-bucket-1"));
        assert!(!valid_bucket_name("ab"));
        assert!(!valid_bucket_name("-ab"));
        assert!(!valid_bucket_name("ab-"));
        assert!(!valid_bucket_name("Upper"));
        assert!(!valid_bucket_name(&"a".repeat(64)));
    }
}
