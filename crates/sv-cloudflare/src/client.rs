//! The HTTP core: builder, request description, the attempt loop (limiter → breaker → send →
//! classify → retry), envelope decoding.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use crate::breaker::{BreakerConfig, CircuitBreaker, Outcome};
use crate::config::{ClientConfig, normalise_base_url};
use crate::envelope::{ErrorBody, RawEnvelope, ResultInfo};
use crate::error::{Error, TransportKind};
use crate::limiter::RateLimiter;
use crate::redact::{RedactedUrl, encode_segment};
use crate::retry::{Idempotency, RetryPolicy, parse_retry_after};

/// Default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest error-body excerpt kept in an [`Error::Api`].
const SNIPPET_LEN: usize = 300;

/// Installs ring as the process-wide rustls crypto provider. reqwest is built with
/// `rustls-no-provider`, so building a client without a provider panics; this is idempotent
/// and [`ClientBuilder::build`] calls it too. Returns `false` when another provider was already
/// installed (which is fine).
pub fn install_crypto_provider() -> bool {
    rustls::crypto::ring::default_provider()
        .install_default()
        .is_ok()
}

/// Cloudflare API client. Cheap to clone: clones share the HTTP connection pool, the rate
/// limiter and the circuit breaker.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    token: SecretString,
    account_id: Option<String>,
    timeout: Duration,
    retry: RetryPolicy,
    limiter: RateLimiter,
    breaker: CircuitBreaker,
    /// Never opens: pre-signed storage URLs are not the API the breaker protects.
    external_breaker: CircuitBreaker,
    rng: Mutex<StdRng>,
    /// HTTP requests sent (every attempt, retries included), for benchmarks and reports.
    sent: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &RedactedUrl::new(&self.inner.base_url))
            .field("token", &"[redacted]")
            .field("account_id", &self.inner.account_id)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .field("limiter", &self.inner.limiter)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]; see [`Client::builder`].
pub struct ClientBuilder {
    base_url: Url,
    token: SecretString,
    account_id: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    limiter: Option<RateLimiter>,
    breaker: BreakerConfig,
    user_agent: String,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &RedactedUrl::new(&self.base_url))
            .field("token", &"[redacted]")
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Account for account-scoped calls (`/accounts/{id}/…`).
    #[must_use]
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// Per-attempt timeout: the whole exchange for buffered calls, the time to response headers
    /// for streaming ones (whose bodies then get the same limit *between* chunks).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connect timeout (default 10 s, never more than the per-attempt timeout).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retry policy (default [`RetryPolicy::default`]).
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Request budget. Default: [`RateLimiter::for_base_url`] — the process-wide Cloudflare
    /// budget for `*.cloudflare.com`, none for other hosts (the emulator, test servers), so
    /// that long end-to-end test runs are not throttled to 1,200 calls per 5 minutes.
    #[must_use]
    pub fn rate_limit(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Circuit breaker settings (default [`BreakerConfig::default`]).
    #[must_use]
    pub fn circuit_breaker(mut self, config: BreakerConfig) -> Self {
        self.breaker = config;
        self
    }

    /// `User-Agent` header (default `sv-cloudflare/<version>`).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Builds the client (installing the rustls crypto provider if needed).
    pub fn build(self) -> Result<Client, Error> {
        install_crypto_provider();
        let base_url = normalise_base_url(self.base_url)?;
        if self.token.expose_secret().trim().is_empty() {
            return Err(Error::config(
                "the Cloudflare API token is empty; set CLOUDFLARE_API_TOKEN",
            ));
        }
        if let Some(id) = &self.account_id
            && (id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            return Err(Error::config(
                "the Cloudflare account id must be non-empty and contain only letters, digits, '_' and '-'",
            ));
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::config("retry.max_attempts must be at least 1"));
        }
        let http = reqwest::Client::builder()
            .user_agent(self.user_agent)
            .connect_timeout(self.connect_timeout.min(self.timeout))
            .read_timeout(self.timeout)
            .build()
            .map_err(|e| {
                Error::config(format!(
                    "could not build the HTTP client: {}",
                    e.without_url()
                ))
            })?;
        let rng = Mutex::new(self.retry.rng());
        let limiter = self
            .limiter
            .unwrap_or_else(|| RateLimiter::for_base_url(&base_url));
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                token: self.token,
                account_id: self.account_id,
                timeout: self.timeout,
                retry: self.retry,
                limiter,
                breaker: CircuitBreaker::new(self.breaker),
                external_breaker: CircuitBreaker::new(BreakerConfig {
                    failure_threshold: 0,
                    cooldown: Duration::ZERO,
                }),
                rng,
                sent: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }
}

impl Client {
    /// Starts a builder for the API at `base_url` (e.g. `https://api.cloudflare.com/client/v4`,
    /// or an emulator's `http://127.0.0.1:PORT/client/v4`).
    pub fn builder(base_url: Url, token: SecretString) -> ClientBuilder {
        ClientBuilder {
            base_url,
            token,
            account_id: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            limiter: None,
            breaker: BreakerConfig::default(),
            user_agent: concat!("sv-cloudflare/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// A builder pre-filled from a [`ClientConfig`] (typically [`ClientConfig::from_env`]).
    pub fn builder_from_config(config: &ClientConfig) -> ClientBuilder {
        let mut b = Self::builder(config.base_url.clone(), config.token.clone());
        b.account_id.clone_from(&config.account_id);
        b
    }

    /// The normalised API root.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The configured account, if any.
    pub fn account_id(&self) -> Option<&str> {
        self.inner.account_id.as_deref()
    }

    /// HTTP requests this client (and its clones) sent so far, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.inner.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The request budget this client draws from.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    pub(crate) fn require_account(&self) -> Result<&str, Error> {
        self.account_id().ok_or_else(|| {
            Error::config(
                "this call needs a Cloudflare account id: set CLOUDFLARE_ACCOUNT_ID \
                 (or account_id in the client builder)",
            )
        })
    }

    /// `base/seg1/seg2…`, each segment percent-encoded. Empty, `.` and `..` segments are
    /// refused: they would silently address another resource.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut path = self.inner.base_url.path().trim_end_matches('/').to_owned();
        for seg in segments {
            if seg.is_empty() || *seg == "." || *seg == ".." {
                return Err(Error::invalid(format!(
                    "empty or dot path segment {seg:?} in a Cloudflare API path"
                )));
            }
            path.push('/');
            path.push_str(&encode_segment(seg));
        }
        let mut url = self.inner.base_url.clone();
        url.set_path(&path);
        Ok(url)
    }

    /// `base/accounts/{account}/seg1/…`.
    pub(crate) fn account_url(&self, segments: &[&str]) -> Result<Url, Error> {
        let account = self.require_account()?;
        let mut all = Vec::with_capacity(segments.len() + 2);
        all.push("accounts");
        all.push(account);
        all.extend_from_slice(segments);
        self.url(&all)
    }

    // ----- execution ------------------------------------------------------------------

    /// Sends a request, retrying per policy; returns the buffered 2xx response.
    pub(crate) async fn execute(&self, req: Request) -> Result<Buffered, Error> {
        match self.run(req, false).await? {
            Done::Buffered(b) => Ok(b),
            Done::Streaming(_) => Err(Error::invalid(
                "internal: streaming answer to a buffered call",
            )),
        }
    }

    /// Sends a request, retrying per policy until response headers arrive; the 2xx body is left
    /// unread for the caller to stream.
    pub(crate) async fn execute_streaming(&self, req: Request) -> Result<reqwest::Response, Error> {
        match self.run(req, true).await? {
            Done::Streaming(r) => Ok(r),
            Done::Buffered(_) => Err(Error::invalid(
                "internal: buffered answer to a streaming call",
            )),
        }
    }

    /// Decodes the envelope's `result` as `T`, checking `success`.
    pub(crate) async fn call<T: DeserializeOwned>(&self, req: Request) -> Result<T, Error> {
        Ok(self.call_with_info(req).await?.0)
    }

    /// Like [`Self::call`], also returning `result_info`.
    pub(crate) async fn call_with_info<T: DeserializeOwned>(
        &self,
        req: Request,
    ) -> Result<(T, Option<ResultInfo>), Error> {
        let method = req.method.clone();
        let url = req.redacted_url();
        let resp = self.execute(req).await?;
        decode_envelope(&method, &url, &resp)
    }

    /// Sends a call whose `result` does not matter (null, `{}`), checking `success`.
    pub(crate) async fn call_unit(&self, req: Request) -> Result<(), Error> {
        let _: serde::de::IgnoredAny = self.call(req).await?;
        Ok(())
    }

    async fn run(&self, mut req: Request, streaming: bool) -> Result<Done, Error> {
        let span = tracing::debug_span!(
            "cloudflare.request",
            method = %req.method,
            url = %req.redacted_url(),
        );
        async move {
            let policy = &self.inner.retry;
            let mut attempt: u32 = 0;
            loop {
                attempt += 1;
                let breaker = if req.external {
                    &self.inner.external_breaker
                } else {
                    &self.inner.breaker
                };
                let permit = match breaker.acquire() {
                    Ok(p) => p,
                    Err(refused) => {
                        tracing::warn!(
                            method = %req.method,
                            url = %req.redacted_url(),
                            retry_in_ms = duration_ms(refused.retry_in),
                            "circuit breaker open: failing fast"
                        );
                        return Err(Error::CircuitOpen {
                            method: req.method.clone(),
                            url: req.redacted_url(),
                            failures: refused.failures,
                            retry_in: refused.retry_in,
                        });
                    }
                };
                if !req.external {
                    self.inner.limiter.acquire().await;
                }
                let Some(builder) = self.build_attempt(&mut req)? else {
                    // Streaming body already consumed by an earlier attempt.
                    return Err(Error::invalid(
                        "internal: a one-shot request body cannot be sent twice",
                    ));
                };
                let started = tokio::time::Instant::now();
                let result = self.attempt(builder, streaming).await;
                let elapsed_ms = duration_ms(started.elapsed());
                let can_retry = attempt < policy.max_attempts && req.body.replayable();
                let ambiguous_ok = req.idempotency.allows_ambiguous_retry(&req.method);

                let (retry_after, failure) = match result {
                    Ok(done) => {
                        permit.record(Outcome::Success);
                        tracing::debug!(attempt, status = done.status().as_u16(), elapsed_ms, "ok");
                        return Ok(done);
                    }
                    Err(AttemptError::Status {
                        status,
                        headers,
                        body,
                    }) => {
                        let retry_after = parse_retry_after(&headers);
                        let retryable = if status == StatusCode::TOO_MANY_REQUESTS {
                            permit.record(Outcome::Neutral);
                            if let Some(ra) = retry_after
                                && !req.external
                            {
                                self.inner.limiter.block_for(ra.min(policy.max_retry_after));
                            }
                            true
                        } else if status.is_server_error() {
                            permit.record(Outcome::Failure);
                            ambiguous_ok
                        } else {
                            permit.record(Outcome::Success);
                            false
                        };
                        tracing::debug!(
                            attempt,
                            status = status.as_u16(),
                            elapsed_ms,
                            "error status"
                        );
                        let err = api_error(&req, status, &body, attempt);
                        if !retryable || !can_retry {
                            return Err(err);
                        }
                        let honoured = if matches!(
                            status,
                            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                        ) {
                            retry_after
                        } else {
                            None
                        };
                        if let Some(ra) = honoured
                            && ra > policy.max_retry_after
                        {
                            tracing::warn!(
                                retry_after_s = ra.as_secs(),
                                "Retry-After longer than the policy allows; giving up"
                            );
                            return Err(err);
                        }
                        (honoured, format!("HTTP {}", status.as_u16()))
                    }
                    Err(AttemptError::Transport { kind, source }) => {
                        permit.record(Outcome::Failure);
                        tracing::debug!(attempt, %kind, elapsed_ms, "transport error");
                        let retryable = kind == TransportKind::Connect || ambiguous_ok;
                        if !retryable || !can_retry {
                            return Err(Error::Transport {
                                method: req.method.clone(),
                                url: req.redacted_url(),
                                kind,
                                attempts: attempt,
                                source,
                            });
                        }
                        (None, kind.to_string())
                    }
                };
                let delay = match retry_after {
                    Some(d) => d,
                    None => {
                        let mut rng = self
                            .inner
                            .rng
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        policy.backoff(attempt, &mut *rng)
                    }
                };
                // The span is debug-level; repeat what was called so the line stands alone.
                tracing::info!(
                    method = %req.method,
                    url = %req.redacted_url(),
                    attempt,
                    max_attempts = policy.max_attempts,
                    delay_ms = duration_ms(delay),
                    reason = %failure,
                    "retrying Cloudflare API call"
                );
                tokio::time::sleep(delay).await;
            }
        }
        .instrument(span)
        .await
    }

    fn build_attempt(&self, req: &mut Request) -> Result<Option<reqwest::RequestBuilder>, Error> {
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), req.url.clone())
            .headers(req.headers.clone());
        if req.auth {
            let token = req.bearer.as_ref().unwrap_or(&self.inner.token);
            let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
                .map_err(|_| {
                    Error::config(
                        "the Cloudflare API token contains characters not allowed in a header",
                    )
                })?;
            value.set_sensitive(true);
            rb = rb.header(AUTHORIZATION, value);
        }
        let rb = match &mut req.body {
            Body::Empty => rb,
            Body::Bytes { data, content_type } => {
                let rb = match content_type {
                    Some(ct) => rb.header(CONTENT_TYPE, ct.as_str()),
                    None => rb,
                };
                rb.body(data.clone())
            }
            Body::Multipart(parts) => rb.multipart(build_form(parts)?),
            Body::Stream(slot) => match slot.take() {
                Some((body, content_type)) => {
                    let rb = match content_type {
                        Some(ct) => rb.header(CONTENT_TYPE, ct.as_str()),
                        None => rb,
                    };
                    rb.body(body)
                }
                None => return Ok(None),
            },
        };
        Ok(Some(rb))
    }

    async fn attempt(
        &self,
        builder: reqwest::RequestBuilder,
        streaming: bool,
    ) -> Result<Done, AttemptError> {
        let timeout = self.inner.timeout;
        self.inner
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let fut = async {
            let resp = builder.send().await.map_err(AttemptError::from_reqwest)?;
            let status = resp.status();
            if !status.is_success() {
                let headers = resp.headers().clone();
                let body = resp.bytes().await.unwrap_or_default();
                return Err(AttemptError::Status {
                    status,
                    headers,
                    body,
                });
            }
            if streaming {
                return Ok(Done::Streaming(resp));
            }
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(AttemptError::from_reqwest)?;
            Ok(Done::Buffered(Buffered {
                status,
                headers,
                body,
            }))
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(AttemptError::Transport {
                kind: TransportKind::Timeout,
                source: None,
            }),
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

enum Done {
    Buffered(Buffered),
    Streaming(reqwest::Response),
}

impl Done {
    fn status(&self) -> StatusCode {
        match self {
            Self::Buffered(b) => b.status,
            Self::Streaming(r) => r.status(),
        }
    }
}

enum AttemptError {
    Status {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    Transport {
        kind: TransportKind,
        source: Option<reqwest::Error>,
    },
}

impl AttemptError {
    fn from_reqwest(e: reqwest::Error) -> Self {
        let kind = if e.is_connect() {
            TransportKind::Connect
        } else if e.is_timeout() {
            TransportKind::Timeout
        } else {
            TransportKind::Interrupted
        };
        Self::Transport {
            kind,
            // reqwest puts the URL in its messages; ours is already in the error, redacted.
            source: Some(e.without_url()),
        }
    }
}

/// A fully read 2xx response.
#[derive(Debug)]
pub(crate) struct Buffered {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

fn api_error(req: &Request, status: StatusCode, body: &Bytes, attempts: u32) -> Error {
    let (errors, body_snippet) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => (parsed.errors, None),
        Err(_) if body.is_empty() => (Vec::new(), None),
        Err(_) => (Vec::new(), Some(snippet(body))),
    };
    Error::Api {
        method: req.method.clone(),
        url: req.redacted_url(),
        status,
        errors,
        body_snippet,
        attempts,
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(SNIPPET_LEN).collect();
    if text.chars().count() > SNIPPET_LEN {
        out.push('…');
    }
    out
}

pub(crate) fn decode_envelope<T: DeserializeOwned>(
    method: &Method,
    url: &RedactedUrl,
    resp: &Buffered,
) -> Result<(T, Option<ResultInfo>), Error> {
    let decode_err = |detail: String, source: Option<serde_json::Error>| Error::Decode {
        method: method.clone(),
        url: url.clone(),
        status: resp.status,
        detail,
        source,
    };
    let env: RawEnvelope = if resp.body.iter().all(u8::is_ascii_whitespace) {
        // wrangler treats an empty 204/205 as success with no result; so do we for any 2xx.
        RawEnvelope::empty_success()
    } else {
        serde_json::from_slice(&resp.body).map_err(|e| {
            decode_err(
                format!("not a Cloudflare API envelope: {}", snippet(&resp.body)),
                Some(e),
            )
        })?
    };
    match env.success {
        Some(true) => {}
        Some(false) => {
            return Err(Error::Api {
                method: method.clone(),
                url: url.clone(),
                status: resp.status,
                errors: env.errors,
                body_snippet: None,
                attempts: 1,
            });
        }
        None => {
            return Err(decode_err(
                "the response has no `success` field (not a Cloudflare API envelope)".into(),
                None,
            ));
        }
    }
    let result = serde_json::from_value::<T>(env.result).map_err(|e| {
        decode_err(
            format!("`result` does not have the expected shape: {e}"),
            Some(e),
        )
    })?;
    Ok((result, env.result_info))
}

// ----- request description -----------------------------------------------------------

/// One API call, described so that it can be re-sent on retry.
pub(crate) struct Request {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Body,
    pub idempotency: Idempotency,
    /// Send the bearer token (false for pre-signed URLs).
    pub auth: bool,
    /// Redact every query value when logging (pre-signed URLs).
    pub presigned: bool,
    /// Not a Cloudflare API call (pre-signed storage URL): bypasses the API budget and the
    /// breaker, which guard the API only.
    pub external: bool,
    /// A bearer other than the API token (the Pages upload JWT).
    pub bearer: Option<SecretString>,
}

pub(crate) enum Body {
    Empty,
    Bytes {
        data: Bytes,
        content_type: Option<String>,
    },
    Multipart(Vec<Part>),
    /// One-shot streaming body: retried only if it was never taken.
    Stream(Option<(reqwest::Body, Option<String>)>),
}

impl Body {
    fn replayable(&self) -> bool {
        !matches!(self, Self::Stream(_))
    }
}

/// One multipart part, kept as bytes so the form can be rebuilt for each attempt.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

impl Part {
    pub(crate) fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            filename: None,
            content_type: None,
            data: Bytes::from(value.into()),
        }
    }

    pub(crate) fn json(name: impl Into<String>, value: &impl Serialize) -> Result<Self, Error> {
        let data = serde_json::to_vec(value)
            .map_err(|e| Error::invalid(format!("could not serialise a JSON part: {e}")))?;
        Ok(Self {
            name: name.into(),
            filename: None,
            content_type: Some("application/json".into()),
            data: Bytes::from(data),
        })
    }

    pub(crate) fn file(
        name: impl Into<String>,
        filename: impl Into<String>,
        content_type: impl Into<String>,
        data: Bytes,
    ) -> Self {
        Self {
            name: name.into(),
            filename: Some(filename.into()),
            content_type: Some(content_type.into()),
            data,
        }
    }
}

/// Builds the form. Names and filenames go out verbatim (`name="lib/util.js"`), as browsers and
/// wrangler's FormData send them: reqwest's default percent-encoding would turn `/` into an
/// RFC 2231 `name*=` parameter that multipart parsers (the API's included) do not read.
fn build_form(parts: &[Part]) -> Result<reqwest::multipart::Form, Error> {
    let mut form = reqwest::multipart::Form::new().percent_encode_noop();
    for p in parts {
        for value in std::iter::once(&p.name).chain(p.filename.as_ref()) {
            if value.contains(['"', '\r', '\n']) {
                return Err(Error::invalid(format!(
                    "multipart part name {value:?} contains a quote or line break"
                )));
            }
        }
        let len = u64::try_from(p.data.len()).unwrap_or(u64::MAX);
        let mut part =
            reqwest::multipart::Part::stream_with_length(reqwest::Body::from(p.data.clone()), len);
        if let Some(f) = &p.filename {
            part = part.file_name(f.clone());
        }
        if let Some(ct) = &p.content_type {
            part = part.mime_str(ct).map_err(|e| {
                Error::invalid(format!(
                    "invalid content type {ct:?} for part {:?}: {e}",
                    p.name
                ))
            })?;
        }
        form = form.part(p.name.clone(), part);
    }
    Ok(form)
}

impl Request {
    pub(crate) fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::Empty,
            idempotency: Idempotency::ByMethod,
            auth: true,
            presigned: false,
            external: false,
            bearer: None,
        }
    }

    pub(crate) fn get(url: Url) -> Self {
        Self::new(Method::GET, url)
    }

    pub(crate) fn post(url: Url) -> Self {
        Self::new(Method::POST, url)
    }

    pub(crate) fn put(url: Url) -> Self {
        Self::new(Method::PUT, url)
    }

    pub(crate) fn patch(url: Url) -> Self {
        Self::new(Method::PATCH, url)
    }

    pub(crate) fn delete(url: Url) -> Self {
        Self::new(Method::DELETE, url)
    }

    /// Appends one query pair.
    pub(crate) fn query(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.url
            .query_pairs_mut()
            .append_pair(key, &value.to_string());
        self
    }

    /// Appends a query pair when the value is present.
    pub(crate) fn query_opt<V: fmt::Display>(self, key: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Result<Self, Error> {
        let v = HeaderValue::from_str(value)
            .map_err(|_| Error::invalid(format!("invalid value for header {name}")))?;
        self.headers.insert(HeaderName::from_static(name), v);
        Ok(self)
    }

    /// A header whose name is only known at run time (custom metadata).
    pub(crate) fn dynamic_header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let n = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| Error::invalid(format!("invalid header name {name:?}")))?;
        let v = HeaderValue::from_str(value)
            .map_err(|_| Error::invalid(format!("invalid value for header {name}")))?;
        self.headers.insert(n, v);
        Ok(self)
    }

    pub(crate) fn header_opt(self, name: &'static str, value: Option<&str>) -> Result<Self, Error> {
        match value {
            Some(v) => self.header(name, v),
            None => Ok(self),
        }
    }

    pub(crate) fn json(mut self, value: &impl Serialize) -> Result<Self, Error> {
        let data = serde_json::to_vec(value)
            .map_err(|e| Error::invalid(format!("could not serialise the request body: {e}")))?;
        self.body = Body::Bytes {
            data: Bytes::from(data),
            content_type: Some("application/json".into()),
        };
        Ok(self)
    }

    pub(crate) fn bytes(mut self, data: Bytes, content_type: Option<&str>) -> Self {
        self.body = Body::Bytes {
            data,
            content_type: content_type.map(str::to_owned),
        };
        self
    }

    pub(crate) fn stream(mut self, body: reqwest::Body, content_type: Option<&str>) -> Self {
        self.body = Body::Stream(Some((body, content_type.map(str::to_owned))));
        self
    }

    pub(crate) fn multipart(mut self, parts: Vec<Part>) -> Self {
        self.body = Body::Multipart(parts);
        self
    }

    pub(crate) fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// A pre-signed URL from an API response: no token, query fully redacted in logs.
    pub(crate) fn presigned(mut self) -> Self {
        self.auth = false;
        self.presigned = true;
        self.external = true;
        self
    }

    /// Authenticate with `token` instead of the API token.
    pub(crate) fn bearer(mut self, token: SecretString) -> Self {
        self.bearer = Some(token);
        self
    }

    pub(crate) fn redacted_url(&self) -> RedactedUrl {
        if self.presigned {
            RedactedUrl::presigned(&self.url)
        } else {
            RedactedUrl::new(&self.url)
        }
    }
}
