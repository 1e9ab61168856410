//! The Cloudflare v4 envelope, error values and the request extractors that turn bad input
//! into Cloudflare-shaped errors instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// One entry of `errors[]` / `messages[]`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorItem {
    pub code: i64,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_chain: Vec<ErrorItem>,
}

/// A failed API call: HTTP status plus the `errors[]` Cloudflare would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub errors: Vec<ErrorItem>,
    /// Extra response headers (e.g. `retry-after` on 429).
    pub headers: Vec<(header::HeaderName, String)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![ErrorItem {
                code,
                message: message.into(),
                error_chain: Vec::new(),
            }],
            headers: Vec::new(),
        }
    }

    pub fn bad_request(code: i64, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: i64, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: i64, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// Adds an `error_chain` entry to the first error.
    pub fn with_chain(mut self, code: i64, message: impl Into<String>) -> Self {
        if let Some(first) = self.errors.first_mut() {
            first.error_chain.push(ErrorItem {
                code,
                message: message.into(),
                error_chain: Vec::new(),
            });
        }
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The body Cloudflare sends for malformed JSON.
    pub fn malformed_json(detail: impl std::fmt::Display) -> Self {
        Self::bad_request(6007, format!("Malformed JSON in request body: {detail}"))
    }

    pub fn payload_too_large(what: &str, limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            10011,
            format!("{what} exceeds the limit of {limit} bytes"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 10002, message)
    }

    pub fn code(&self) -> i64 {
        self.errors.first().map_or(0, |e| e.code)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "success": false,
            "errors": self.errors,
            "messages": [],
            "result": null,
        });
        let mut resp = json_response(self.status, &body);
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}

impl From<crate::Error> for ApiError {
    fn from(err: crate::Error) -> Self {
        Self::internal(err.to_string())
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// Serializes `body` with the JSON content type.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = (status, bytes).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("serialization failed: {err}"),
        )
            .into_response(),
    }
}

/// `{success: true, errors: [], messages: [], result}`.
pub fn ok<T: Serialize>(result: T) -> ApiResult {
    Ok(json_response(
        StatusCode::OK,
        &json!({"success": true, "errors": [], "messages": [], "result": result}),
    ))
}

/// Same with an HTTP status other than 200 (D1 export answers 202 while active).
pub fn ok_status<T: Serialize>(status: StatusCode, result: T) -> ApiResult {
    Ok(json_response(
        status,
        &json!({"success": true, "errors": [], "messages": [], "result": result}),
    ))
}

/// Success with a `result_info` block.
pub fn ok_info<T: Serialize>(result: T, info: Value) -> ApiResult {
    Ok(json_response(
        StatusCode::OK,
        &json!({"success": true, "errors": [], "messages": [], "result": result, "result_info": info}),
    ))
}

/// Query-string extractor that answers a Cloudflare error instead of axum's text.
#[derive(Debug, Clone, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_like(q).map(Query)
    }
}

fn serde_urlencoded_like<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    // Values arrive as strings; let the handler's types say what they accept by parsing
    // through a JSON object of strings with lenient number/bool conversion.
    let mut map = serde_json::Map::new();
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        map.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ApiError::bad_request(10001, format!("Invalid query parameters: {e}")))
}

/// Raw query parameters as an ordered list (for filters with operators like `name.contains`).
pub fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Reads the body up to `LIMIT` bytes; larger bodies get a 413 envelope.
#[derive(Debug, Clone)]
pub struct RawBody<const LIMIT: usize>(pub Bytes);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for RawBody<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        read_limited(req, LIMIT).await.map(RawBody)
    }
}

pub async fn read_limited(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(ApiError::payload_too_large("Request body", limit));
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| ApiError::payload_too_large("Request body", limit))
}

/// Default JSON body limit for control-plane calls.
pub const JSON_LIMIT: usize = 2 * 1024 * 1024;

/// JSON body extractor: content type must be JSON (or absent), body must parse; both
/// failures are Cloudflare envelopes.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        check_json_content_type(req.headers())?;
        let bytes = read_limited(req, JSON_LIMIT).await?;
        parse_json(&bytes).map(Json)
    }
}

/// Like [`Json`] but with a larger limit (KV bulk writes may carry 100 MB).
#[derive(Debug, Clone)]
pub struct BigJson<T>(pub T);

pub const BIG_JSON_LIMIT: usize = 100 * 1024 * 1024;

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for BigJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        check_json_content_type(req.headers())?;
        let bytes = read_limited(req, BIG_JSON_LIMIT).await?;
        parse_json(&bytes).map(BigJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(ApiError::malformed_json)?;
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(10026, format!("Invalid request body: {e}")))
}

/// A JSON content type, or none at all (curl and many clients omit it), is accepted;
/// anything else is Cloudflare's "invalid Content-Type" error.
pub fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
    if ct.starts_with("application/json") || ct.contains("+json") || ct.starts_with("text/plain") {
        Ok(())
    } else {
        Err(invalid_content_type("application/json"))
    }
}

pub fn invalid_content_type(valid: &str) -> ApiError {
    ApiError::bad_request(6003, "Invalid request headers").with_chain(
        6105,
        format!("Invalid Content-Type header, valid values are {valid}"),
    )
}

/// Content type of the request, lower-cased, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Raw (non-enveloped) response with a content type.
pub fn raw(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response {
    let mut resp = (status, body.into()).into_response();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_shape() {
        let err = ApiError::not_found(10013, "namespace not found").with_chain(1, "x");
        assert_eq!(err.code(), 10013);
        assert_eq!(err.errors[0].error_chain.len(), 1);
    }

    #[test]
    fn query_parses_strings() {
        #[derive(serde::Deserialize)]
        struct Q {
            page: Option<String>,
        }
        let q: Q = serde_urlencoded_like("page=2&x=y").unwrap();
        assert_eq!(q.page.as_deref(), Some("2"));
    }

    #[test]
    fn json_content_type_rules() {
        let mut h = HeaderMap::new();
        assert!(check_json_content_type(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        assert_eq!(check_json_content_type(&h).unwrap_err().code(), 6003);
    }
}
