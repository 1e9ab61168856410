//! Retry rules: what is retried, how long to wait.
//!
//! # What is retried
//!
//! | failure | idempotent call | non-idempotent call |
//! | --- | --- | --- |
//! | HTTP 429 | yes | yes — the API rejected the call before doing anything |
//! | could not connect (refused, DNS, TLS) | yes | yes — nothing was sent |
//! | HTTP 5xx | yes | **no** — the work may have been done |
//! | timeout, connection reset after sending | yes | **no** — ambiguous |
//! | any other 4xx, `success:false` | no | no |
//!
//! A call is idempotent when repeating it leaves the same state: GET, HEAD, PUT and DELETE by
//! HTTP semantics, plus the POST/PATCH calls this crate marks [`Idempotency::Safe`] because they
//! only read or set values (KV `bulk/get` and `bulk/delete`, GraphQL queries, D1 export/import
//! *polls*, JSON-merge PATCHes of DNS records and script settings). POSTs that create something
//! (KV namespace, D1 database, Worker version, deployment, tail, Pages deployment…) and D1
//! `query`/`raw` (SQL may write) are [`Idempotency::Unsafe`]. Callers who know their SQL only
//! reads use [`crate::d1::D1Api::query_read_only`].
//!
//! Judgement calls: KV value PUT and R2 object PUT are retried like any PUT (writing the same
//! bytes twice leaves the same object), but only when the body can be replayed — a streaming
//! upload gets exactly one attempt. A retried DELETE whose first attempt did succeed answers
//! "not found"; callers that delete should accept [`crate::Error::is_not_found`].
//!
//! # How long to wait
//!
//! Exponential backoff with full jitter (`rand(0, min(max_delay, base · 2^(n-1)))`, after AWS's
//! "Exponential Backoff and Jitter"), except that a `Retry-After` on 429/503 (seconds or an HTTP
//! date) is honoured as given — and shared with all tasks through the limiter. A `Retry-After`
//! longer than [`RetryPolicy::max_retry_after`] ends the retries at once: waiting five minutes
//! inside one call is the caller's decision, not ours.

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// Whether a request may be repeated after an ambiguous failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Decide from the HTTP method (GET/HEAD/PUT/DELETE/OPTIONS are idempotent).
    ByMethod,
    /// Repeating is harmless whatever the method.
    Safe,
    /// Repeating could do the work twice: only unambiguous failures (429, connect) are retried.
    Unsafe,
}

impl Idempotency {
    pub(crate) fn allows_ambiguous_retry(self, method: &reqwest::Method) -> bool {
        match self {
            Self::Safe => true,
            Self::Unsafe => false,
            Self::ByMethod => matches!(
                *method,
                reqwest::Method::GET
                    | reqwest::Method::HEAD
                    | reqwest::Method::PUT
                    | reqwest::Method::DELETE
                    | reqwest::Method::OPTIONS
            ),
        }
    }
}

/// Retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first (1 = no retries).
    pub max_attempts: u32,
    /// Backoff base: the cap of the first retry's random delay.
    pub base_delay: Duration,
    /// Upper bound of any backoff delay.
    pub max_delay: Duration,
    /// Longest `Retry-After` we wait for inside a call; longer ones fail the call.
    pub max_retry_after: Duration,
    /// Seed for the jitter RNG (tests); `None` seeds from the OS.
    pub jitter_seed: Option<u64>,
}

impl Default for RetryPolicy {
    /// 6 attempts (a request fails only if six tries in a row do: about 1 in 15,000 at a 20 %
    /// fault rate), 500 ms base, 30 s cap, `Retry-After` honoured up to 60 s.
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            jitter_seed: None,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    pub(crate) fn rng(&self) -> StdRng {
        match self.jitter_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        }
    }

    /// Full-jitter delay before retry number `retry` (1-based).
    pub(crate) fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let cap = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        if cap_ms == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rng.random_range(0..=cap_ms))
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3). Dates in the past
/// mean "now".
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = raw.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs));
        }
        return None;
    }
    let when = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(
            parse_retry_after(&headers("3")),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse_retry_after(&headers("0.25")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        let future = (chrono::Utc::now() + chrono::Duration::seconds(120))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let d = parse_retry_after(&headers(&future)).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(parse_retry_after(&headers("soon")), None);
        assert_eq!(parse_retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_is_bounded_and_seeded() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            jitter_seed: Some(7),
            ..RetryPolicy::default()
        };
        let mut a = policy.rng();
        let mut b = policy.rng();
        for retry in 1..20 {
            let da = policy.backoff(retry, &mut a);
            let db = policy.backoff(retry, &mut b);
            assert_eq!(da, db, "same seed, same delays");
            let cap = Duration::from_millis(100 * (1 << (retry - 1).min(10))).min(policy.max_delay);
            assert!(da <= cap, "retry {retry}: {da:?} > {cap:?}");
        }
    }

    #[test]
    fn idempotency_by_method() {
        use reqwest::Method;
        assert!(Idempotency::ByMethod.allows_ambiguous_retry(&Method::PUT));
        assert!(Idempotency::ByMethod.allows_ambiguous_retry(&Method::DELETE));
        assert!(!Idempotency::ByMethod.allows_ambiguous_retry(&Method::POST));
        assert!(!Idempotency::ByMethod.allows_ambiguous_retry(&Method::PATCH));
        assert!(Idempotency::Safe.allows_ambiguous_retry(&Method::POST));
        assert!(!Idempotency::Unsafe.allows_ambiguous_retry(&Method::GET));
    }
}
