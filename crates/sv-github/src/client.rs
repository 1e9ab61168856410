//! The client: octocrab for transport (auth header, base URL with path prefix, timeouts),
//! our own status mapping, `Link` pagination and retries with backoff.

use std::fmt;
use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

use secrecy::SecretString;
use serde::de::DeserializeOwned;
use url::Url;

use crate::{Error, RepoRef};

/// Largest page GitHub serves.
pub(crate) const PER_PAGE: u32 = 100;

/// Retry behaviour for 429, 5xx, rate-limit 403s and transport errors: exponential backoff with
/// full jitter, honouring `Retry-After` (capped by `max_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Delay before the first retry (doubles each time).
    pub base_delay: Duration,
    /// Upper bound of any single wait, including one asked for by `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Self::default()
        }
    }

    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_delay);
        }
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        // Full jitter: uniform in [0, ceiling]. RandomState is randomly seeded per instance.
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(if nanos == 0 { 0 } else { random % (nanos + 1) })
    }
}

/// A GitHub REST client bound to one repository.
///
/// Cheap to clone. `Debug` shows the API base and repository, never the token.
#[derive(Clone)]
pub struct GitHub {
    pub(crate) octo: octocrab::Octocrab,
    /// For artifact downloads, where redirects must not be followed automatically.
    pub(crate) http: reqwest::Client,
    pub(crate) token: SecretString,
    pub(crate) api_base: Url,
    pub(crate) repo: RepoRef,
    pub(crate) retry: RetryPolicy,
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api_base", &self.api_base.as_str())
            .field("repo", &self.repo)
            .field("token", &"<redacted>")
            .field("retry", &self.retry)
            .finish()
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Verb {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

/// A successful answer.
pub(crate) struct Reply {
    pub body: String,
    /// The HTTP status (some endpoints say created/updated with 201/204 only).
    pub status: u16,
    /// The `rel="next"` URL of the `Link` header, if any.
    pub next: Option<String>,
}

impl GitHub {
    /// A client for `repo` at `api_base` (e.g. `https://api.github.com`, a GitHub Enterprise
    /// `https://ghe.example/api/v3`, or the emulator's `http://127.0.0.1:PORT/github`; a path
    /// prefix is kept, with or without a trailing slash).
    ///
    /// Must be called inside a Tokio runtime (octocrab spawns its request buffer at build time).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the URL is not http(s), when called outside a Tokio runtime,
    /// or when the HTTP clients cannot be built.
    pub fn new(api_base: Url, token: SecretString, repo: RepoRef) -> Result<GitHub, Error> {
        if !matches!(api_base.scheme(), "http" | "https") || api_base.host().is_none() {
            return Err(Error::InvalidInput(format!(
                "GitHub API URL {} must be an http(s) URL with a host",
                crate::error::redact_url(api_base.as_str())
            )));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::InvalidInput(
                "the GitHub client must be created inside a Tokio runtime".into(),
            ));
        }
        // reqwest and octocrab are built without a default crypto provider; install ring once.
        // An error only means a provider is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let octo = octocrab::Octocrab::builder()
            .base_uri(api_base.as_str())
            .map_err(|e| Error::InvalidInput(format!("GitHub API URL: {e}")))?
            .personal_token(token.clone())
            // Retries are ours (backoff, jitter, Retry-After), not octocrab's immediate ones.
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| Error::InvalidInput(format!("cannot build the GitHub client: {e}")))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sv-github/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| {
                Error::InvalidInput(format!("cannot build the HTTP client: {}", e.without_url()))
            })?;
        Ok(GitHub {
            octo,
            http,
            token,
            api_base,
            repo,
            retry: RetryPolicy::default(),
        })
    }

    /// The same client with another retry policy (tests use [`RetryPolicy::none`] or short
    /// delays).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The repository this client works on.
    pub fn repo(&self) -> &RepoRef {
        &self.repo
    }

    /// The API base URL.
    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// `/repos/{owner}/{name}{rest}`.
    pub(crate) fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.repo.owner, self.repo.name)
    }

    /// One request with retries. `route` is a path (joined to the base, prefix kept) or an
    /// absolute URL from a `Link` header.
    pub(crate) async fn call(
        &self,
        operation: &str,
        verb: Verb,
        route: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, Error> {
        let mut attempt = 0;
        loop {
            let outcome = self.call_once(operation, verb, route, body).await;
            let retry_after = match &outcome {
                Err(Error::RateLimited { retry_after, .. }) => Some(*retry_after),
                // Repeating a POST after a 5xx or a dropped connection could duplicate what it
                // created; only GET/PATCH/DELETE (idempotent) are retried then.
                Err(Error::Api { status, .. }) if *status >= 500 && !matches!(verb, Verb::Post) => {
                    Some(None)
                }
                Err(Error::Network { .. }) if !matches!(verb, Verb::Post) => Some(None),
                _ => None,
            };
            // A wait longer than we are willing to sleep (e.g. the hourly primary limit) is
            // reported at once instead of sleeping and failing again.
            let too_long = matches!(retry_after, Some(Some(after)) if after > self.retry.max_delay);
            match retry_after {
                Some(after) if attempt < self.retry.max_retries && !too_long => {
                    let wait = self.retry.delay(attempt, after);
                    tracing::debug!(
                        operation,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying GitHub request"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return outcome,
            }
        }
    }

    async fn call_once(
        &self,
        operation: &str,
        verb: Verb,
        route: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, Error> {
        let response = match verb {
            Verb::Get => self.octo._get(route).await,
            Verb::Post => self.octo._post(route, body).await,
            Verb::Patch => self.octo._patch(route, body).await,
            Verb::Put => self.octo._put(route, body).await,
            Verb::Delete => self.octo._delete(route, body).await,
        }
        .map_err(|e| network(operation, e))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let next = header("link").as_deref().and_then(next_link);
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
        let remaining = header("x-ratelimit-remaining");
        let reset = header("x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok());
        let text = self
            .octo
            .body_to_string(response)
            .await
            .map_err(|e| network(operation, e))?;
        if (200..300).contains(&status) {
            return Ok(Reply {
                body: text,
                status,
                next,
            });
        }
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let message = parsed
            .get("message")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| text.chars().take(200).collect(), str::to_owned);
        let operation = operation.to_owned();
        let rate_limited = status == 429
            || (status == 403
                && (remaining.as_deref() == Some("0")
                    || retry_after.is_some()
                    || message.to_lowercase().contains("rate limit")));
        if rate_limited {
            let wait = retry_after.map(Duration::from_secs).or_else(|| {
                let now = chrono::Utc::now().timestamp();
                reset
                    .filter(|r| *r > now)
                    .map(|r| Duration::from_secs((r - now) as u64))
            });
            return Err(Error::RateLimited {
                operation,
                message,
                retry_after: wait,
            });
        }
        Err(match status {
            401 | 403 => Error::Authentication {
                operation,
                status,
                message,
            },
            404 | 410 => Error::NotFound {
                operation,
                status,
                message,
            },
            _ => Error::Api {
                operation,
                status,
                message,
                details: validation_details(&parsed),
            },
        })
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        operation: &str,
        route: &str,
    ) -> Result<T, Error> {
        let reply = self.call(operation, Verb::Get, route, None).await?;
        decode(operation, &reply.body)
    }

    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        operation: &str,
        verb: Verb,
        route: &str,
        body: &serde_json::Value,
    ) -> Result<T, Error> {
        let reply = self.call(operation, verb, route, Some(body)).await?;
        decode(operation, &reply.body)
    }

    /// Every item of a paginated list whose pages are JSON arrays, following `Link: rel="next"`.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        operation: &str,
        first: &str,
    ) -> Result<Vec<T>, Error> {
        self.get_all_with(operation, first, |body| decode::<Vec<T>>(operation, body))
            .await
    }

    /// Every item of a paginated list, with `extract` turning one page body into items.
    pub(crate) async fn get_all_with<T>(
        &self,
        operation: &str,
        first: &str,
        extract: impl Fn(&str) -> Result<Vec<T>, Error>,
    ) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        let mut route = first.to_owned();
        // A server that keeps pointing at more pages must not make us loop forever.
        for _ in 0..10_000 {
            let reply = self.call(operation, Verb::Get, &route, None).await?;
            let page = extract(&reply.body)?;
            let empty = page.is_empty();
            items.extend(page);
            match reply.next {
                Some(next) if !empty => route = next,
                _ => return Ok(items),
            }
        }
        Err(Error::Decode {
            operation: operation.to_owned(),
            detail: "too many pages".into(),
        })
    }
}

pub(crate) fn decode<T: DeserializeOwned>(operation: &str, body: &str) -> Result<T, Error> {
    serde_json::from_str(body).map_err(|e| Error::Decode {
        operation: operation.to_owned(),
        detail: format!("invalid JSON: {e}"),
    })
}

fn network(operation: &str, e: octocrab::Error) -> Error {
    Error::Network {
        operation: operation.to_owned(),
        source: Box::new(e),
    }
}

/// The `rel="next"` target of a `Link` header.
pub(crate) fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            p.trim()
                .replace(' ', "")
                .eq_ignore_ascii_case("rel=\"next\"")
        });
        is_next.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// `resource.field: code (message)` for each entry of a 422's `errors`.
fn validation_details(body: &serde_json::Value) -> Vec<String> {
    let Some(errors) = body.get("errors").and_then(serde_json::Value::as_array) else {
        return Vec::new();
    };
    errors
        .iter()
        .map(|e| {
            let s = |k: &str| {
                e.get(k)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
            };
            let mut text = format!("{}.{}: {}", s("resource"), s("field"), s("code"));
            if !s("message").is_empty() {
                text.push_str(&format!(" ({})", s("message")));
            }
            if e.is_string() {
                text = e.as_str().unwrap_or_default().to_owned();
            }
            text
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let h = r#"<http://h/github/repos/o/r/issues?page=2>; rel="next", <http://h/github/repos/o/r/issues?page=4>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("http://h/github/repos/o/r/issues?page=2")
        );
        let h = r#"<http://h/x?page=1>; rel="prev", <http://h/x?page=1>; rel="first""#;
        assert_eq!(next_link(h), None);
    }

    #[test]
    fn backoff_is_bounded_and_honours_retry_after() {
        let p = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for attempt in 0..10 {
            assert!(p.delay(attempt, None) <= Duration::from_secs(1));
        }
        assert!(p.delay(0, None) <= Duration::from_millis(100));
        assert_eq!(
            p.delay(0, Some(Duration::from_millis(300))),
            Duration::from_millis(300)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(90))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn validation_details_render() {
        let body: serde_json::Value = serde_json::from_str(
            r#"{"message":"Validation Failed","errors":[{"resource":"Issue","field":"title","code":"missing_field"},{"resource":"IssueComment","field":"body","code":"custom","message":"body is too long"}]}"#,
        )
        .unwrap();
        assert_eq!(
            validation_details(&body),
            vec![
                "Issue.title: missing_field".to_owned(),
                "IssueComment.body: custom (body is too long)".to_owned()
            ]
        );
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        let e = GitHub::new(
            Url::parse("http://127.0.0.1:1/").unwrap(),
            SecretString::from("t"),
            RepoRef::parse("o/r").unwrap(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Tokio runtime"), "{e}");
    }

    #[tokio::test]
    async fn debug_hides_the_token() {
        let gh = GitHub::new(
            Url::parse("http://127.0.0.1:1/github").unwrap(),
            SecretString::from("ghp_verysecret"),
            RepoRef::parse("o/r").unwrap(),
        )
        .unwrap();
        let debug = format!("{gh:?}");
        assert!(!debug.contains("ghp_verysecret"), "{debug}");
        assert!(debug.contains("127.0.0.1:1/github"));
    }

    #[tokio::test]
    async fn rejects_non_http_base() {
        let e = GitHub::new(
            Url::parse("file:///tmp/x").unwrap(),
            SecretString::from("t"),
            RepoRef::parse("o/r").unwrap(),
        )
        .unwrap_err();
        assert_eq!(e.category(), crate::ErrorCategory::InvalidInput);
    }
}
