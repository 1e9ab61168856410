//! The crate's error type and the mapping of Cloudflare answers onto the seed's error categories.
//!
//! Classification is status-first, code-second: HTTP 401/403 are authentication failures whatever
//! the code, 429 and 5xx are network trouble, 404 and 409 are resource errors (not found /
//! conflict). Error codes refine that: a handful of codes mean "bad credentials" even under a
//! 400 (6003, malformed `Authorization` header), and product codes mark not-found and conflict
//! answers that arrive with a 400 or a 200 + `success:false`. Codes are product-scoped (R2's
//! 10009 "too many buckets" is KV's 10009 "key not found"), so ambiguous ones are only trusted
//! together with their status. Sources: `shared/cloudflare-api/ENDPOINTS.md` §14.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::redact::RedactedUrl;

/// The six error categories of the design (seed document, "Error Categories"). Binaries map
/// them to exit codes and hints; this crate produces the first four and [`State`] (see
/// [`Error::category`]), never [`Backup`].
///
/// [`State`]: ErrorCategory::State
/// [`Backup`]: ErrorCategory::Backup
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCategory {
    /// Invalid or missing configuration (no token, bad base URL, invalid arguments).
    Configuration,
    /// The API refused the credentials or their permissions.
    Authentication,
    /// A resource could not be read, created or changed (not found, conflicts, validation).
    Resource,
    /// The API could not be reached or kept failing (connection, timeout, 5xx, 429, breaker).
    Network,
    /// What the API reports contradicts what we just did (e.g. an upload's checksum).
    State,
    /// Backup creation or restoration failures (produced by the backup tool, not here).
    Backup,
}

impl ErrorCategory {
    /// Lower-case name, as used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Configuration => "configuration",
            Self::Authentication => "authentication",
            Self::Resource => "resource",
            Self::Network => "network",
            Self::State => "state",
            Self::Backup => "backup",
        }
    }
}

impl fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of an envelope's `errors[]` or `messages[]`.
///
/// Wrangler tolerates plain strings in `messages[]`; so does this type (the string becomes the
/// message, with code 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiMessage {
    /// Cloudflare error code (0 when the API sent none).
    pub code: i64,
    /// Human-readable text.
    pub message: String,
    /// Link to Cloudflare's documentation, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documentation_url: Option<String>,
    /// Nested causes (`error_chain`), e.g. 6111 under 6003.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_chain: Vec<ApiMessage>,
}

impl<'de> Deserialize<'de> for ApiMessage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Full {
            #[serde(default, deserialize_with = "code_lenient")]
            code: i64,
            #[serde(default)]
            message: String,
            #[serde(default)]
            documentation_url: Option<String>,
            #[serde(default)]
            error_chain: Vec<ApiMessage>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Full(Full),
            Text(String),
        }
        Ok(match Either::deserialize(deserializer)? {
            Either::Full(f) => Self {
                code: f.code,
                message: f.message,
                documentation_url: f.documentation_url,
                error_chain: f.error_chain,
            },
            Either::Text(message) => Self {
                code: 0,
                message,
                documentation_url: None,
                error_chain: Vec::new(),
            },
        })
    }
}

/// Some third-party servers send codes as strings; accept both.
fn code_lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Int(i64),
        Text(String),
        Null(()),
    }
    Ok(match Code::deserialize(d)? {
        Code::Int(i) => i,
        Code::Text(s) => s.trim().parse().unwrap_or(0),
        Code::Null(()) => 0,
    })
}

impl fmt::Display for ApiMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code != 0 {
            write!(f, "[{}] ", self.code)?;
        }
        f.write_str(&self.message)?;
        for inner in &self.error_chain {
            write!(f, " (caused by {inner})")?;
        }
        Ok(())
    }
}

/// How a request failed below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The connection could not be established (refused, DNS, TLS handshake): the request was
    /// never sent.
    Connect,
    /// No complete answer within the per-request timeout.
    Timeout,
    /// The connection broke after the request may have been sent (reset, closed, bad body).
    Interrupted,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "could not connect",
            Self::Timeout => "timed out",
            Self::Interrupted => "connection interrupted",
        })
    }
}

/// Codes that mean bad or insufficient credentials whatever the HTTP status.
const AUTH_CODES: &[i64] = &[1000, 6003, 6111, 9106, 9109, 10000];
/// Codes that mean "does not exist" (ENDPOINTS.md §14); trusted with any 4xx status or a 200
/// carrying `success:false`.
const NOT_FOUND_CODES: &[i64] = &[7000, 7003, 7404, 10006, 10007, 10013, 10090, 81044, 8000007];
/// Codes that mean "already exists / conflicts with existing state".
/// 10004 (R2 "bucket already exists, and you own it") is from our issue, not ENDPOINTS.md;
/// 8000018 (Pages: "You have already added this custom domain.", sent with HTTP 400) is what
/// API clients in the wild handle, not ENDPOINTS.md.
const CONFLICT_CODES: &[i64] = &[7502, 8000018, 10004, 10008, 10014, 10073, 81053, 81057];
/// Cloudflare's rate-limit code (sent with HTTP 429).
const RATE_LIMITED_CODE: i64 = 971;

/// Errors from the Cloudflare client. Every variant that concerns a request carries the method
/// and the redacted URL; none carries the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Missing or invalid client configuration (token, account id, base URL).
    #[error("Cloudflare client configuration: {message}")]
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The caller asked for something the API cannot accept (checked before any request).
    #[error("invalid Cloudflare request: {message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },

    /// The API answered with an error (non-2xx status, or `success:false`).
    #[error("{method} {url}: HTTP {status}{}{}", fmt_errors(errors), fmt_attempts(*attempts))]
    Api {
        /// Request method.
        method: Method,
        /// Redacted request URL.
        url: RedactedUrl,
        /// HTTP status (200 when the envelope said `success:false`).
        status: StatusCode,
        /// The envelope's `errors[]` (empty when the body was not an envelope).
        errors: Vec<ApiMessage>,
        /// The start of a non-JSON error body, when there was one.
        body_snippet: Option<String>,
        /// How many attempts were made (more than 1 after retries).
        attempts: u32,
    },

    /// The request did not get an HTTP answer.
    #[error("{method} {url}: {kind}{}", fmt_attempts(*attempts))]
    Transport {
        /// Request method.
        method: Method,
        /// Redacted request URL.
        url: RedactedUrl,
        /// What went wrong.
        kind: TransportKind,
        /// How many attempts were made.
        attempts: u32,
        /// The underlying error (its URL stripped), absent for our own timeouts.
        #[source]
        source: Option<reqwest::Error>,
    },

    /// The circuit breaker is open: the API kept failing, so calls fail fast for a while.
    #[error(
        "{method} {url}: circuit breaker open after {failures} consecutive failures; \
         not calling the Cloudflare API for another {:.1}s",
        retry_in.as_secs_f64()
    )]
    CircuitOpen {
        /// Request method.
        method: Method,
        /// Redacted request URL.
        url: RedactedUrl,
        /// Consecutive failures that opened the breaker.
        failures: u32,
        /// Time left before a probe request is allowed.
        retry_in: Duration,
    },

    /// The API answered 2xx but the body was not what the endpoint documents.
    #[error("{method} {url}: unexpected response (HTTP {status}): {detail}")]
    Decode {
        /// Request method.
        method: Method,
        /// Redacted request URL.
        url: RedactedUrl,
        /// HTTP status.
        status: StatusCode,
        /// What did not match.
        detail: String,
        /// JSON error, when the body was JSON of the wrong shape.
        #[source]
        source: Option<serde_json::Error>,
    },

    /// A GraphQL query came back with `errors` (GraphQL answers 200 even then).
    #[error("GraphQL query failed: {}", fmt_graphql(errors))]
    GraphQl {
        /// The `errors[]` of the response.
        errors: Vec<crate::graphql::GraphQlError>,
    },

    /// A multi-step operation (D1 export/import) ended in a failed or inconsistent state.
    #[error("{operation}: {message}")]
    Operation {
        /// What was being done, e.g. "D1 export of database 0123…".
        operation: String,
        /// What the API said, or what contradicted expectations.
        message: String,
        /// Resource for failures the API reports, State for inconsistencies we detect.
        category: ErrorCategory,
    },
}

fn fmt_errors(errors: &[ApiMessage]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!(": {}", parts.join("; "))
}

fn fmt_attempts(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

fn fmt_graphql(errors: &[crate::graphql::GraphQlError]) -> String {
    let parts: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    parts.join("; ")
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config {
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
        }
    }

    /// Which of the design's categories this error belongs to.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Config { .. } | Self::InvalidRequest { .. } => ErrorCategory::Configuration,
            Self::Api { status, errors, .. } => classify(*status, errors),
            Self::Transport { .. } | Self::CircuitOpen { .. } | Self::Decode { .. } => {
                ErrorCategory::Network
            }
            Self::GraphQl { errors } => {
                if errors
                    .iter()
                    .any(crate::graphql::GraphQlError::is_authorization)
                {
                    ErrorCategory::Authentication
                } else {
                    ErrorCategory::Resource
                }
            }
            Self::Operation { category, .. } => *category,
        }
    }

    /// HTTP status of an API error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The envelope's `errors[]` (empty for errors that did not come from an envelope).
    pub fn api_errors(&self) -> &[ApiMessage] {
        match self {
            Self::Api { errors, .. } => errors,
            _ => &[],
        }
    }

    /// Every Cloudflare error code in the answer, including `error_chain` entries.
    pub fn codes(&self) -> Vec<i64> {
        fn walk(out: &mut Vec<i64>, msgs: &[ApiMessage]) {
            for m in msgs {
                out.push(m.code);
                walk(out, &m.error_chain);
            }
        }
        let mut out = Vec::new();
        walk(&mut out, self.api_errors());
        out
    }

    /// Whether the answer carried this Cloudflare error code (e.g. 10220 "secrets changed").
    pub fn has_code(&self, code: i64) -> bool {
        self.codes().contains(&code)
    }

    /// The resource does not exist (HTTP 404 or a not-found code).
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Api { status, errors, .. } => is_not_found(*status, errors),
            _ => false,
        }
    }

    /// The resource already exists or conflicts with existing state (HTTP 409 or a conflict code
    /// such as 10014 KV title taken, 7502 D1 name taken, 10073 R2 bucket name taken).
    pub fn is_conflict(&self) -> bool {
        match self {
            Self::Api { status, errors, .. } => is_conflict(*status, errors),
            _ => false,
        }
    }

    /// The API rate-limited us (HTTP 429 / code 971) and retries did not get through.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            Self::Api { status, errors, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS
                    || errors.iter().any(|e| e.code == RATE_LIMITED_CODE)
            }
            _ => false,
        }
    }

    /// The circuit breaker refused the call without contacting the API.
    pub fn is_circuit_open(&self) -> bool {
        matches!(self, Self::CircuitOpen { .. })
    }
}

fn codes_of(errors: &[ApiMessage]) -> impl Iterator<Item = i64> + '_ {
    errors
        .iter()
        .flat_map(|e| std::iter::once(e.code).chain(e.error_chain.iter().map(|c| c.code)))
}

fn is_not_found(status: StatusCode, errors: &[ApiMessage]) -> bool {
    if status == StatusCode::NOT_FOUND {
        return true;
    }
    (status.is_client_error() || status.is_success())
        && status != StatusCode::CONFLICT
        && codes_of(errors).any(|c| NOT_FOUND_CODES.contains(&c))
}

fn is_conflict(status: StatusCode, errors: &[ApiMessage]) -> bool {
    if status == StatusCode::CONFLICT {
        return true;
    }
    (status.is_client_error() || status.is_success())
        && status != StatusCode::NOT_FOUND
        && codes_of(errors).any(|c| CONFLICT_CODES.contains(&c))
}

/// Maps an API answer (status + errors) to a category. Public so the emulator and binaries can
/// share the table in their own tests.
pub fn classify(status: StatusCode, errors: &[ApiMessage]) -> ErrorCategory {
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return ErrorCategory::Authentication;
    }
    if status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || codes_of(errors).any(|c| c == RATE_LIMITED_CODE)
    {
        return ErrorCategory::Network;
    }
    if codes_of(errors).any(|c| AUTH_CODES.contains(&c)) {
        return ErrorCategory::Authentication;
    }
    ErrorCategory::Resource
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(code: i64) -> ApiMessage {
        ApiMessage {
            code,
            message: format!("code {code}"),
            documentation_url: None,
            error_chain: Vec::new(),
        }
    }

    #[test]
    fn messages_accept_plain_strings_and_string_codes() {
        let v: Vec<ApiMessage> = serde_json::from_str(
            r#"["hello", {"code": "10007", "message": "nope"}, {"message": "x"}]"#,
        )
        .unwrap();
        assert_eq!(v[0].message, "hello");
        assert_eq!(v[0].code, 0);
        assert_eq!(v[1].code, 10007);
        assert_eq!(v[2].code, 0);
    }

    #[test]
    fn display_includes_chain() {
        let mut m = msg(6003);
        m.error_chain.push(msg(6111));
        assert_eq!(
            m.to_string(),
            "[6003] code 6003 (caused by [6111] code 6111)"
        );
    }

    #[test]
    fn ambiguous_code_needs_matching_status() {
        // R2's 10009 (too many buckets, 400) must not read as KV's 10009 (key not found, 404).
        assert!(!is_not_found(StatusCode::BAD_REQUEST, &[msg(10009)]));
        assert!(is_not_found(StatusCode::NOT_FOUND, &[msg(10009)]));
        // A conflict code under 404 stays a not-found.
        assert!(!is_conflict(StatusCode::NOT_FOUND, &[msg(10014)]));
        // Pages answers a domain added twice with 400 + 8000018.
        assert!(is_conflict(StatusCode::BAD_REQUEST, &[msg(8000018)]));
    }
}
