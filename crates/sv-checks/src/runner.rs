//! Running checks once: bounded concurrency, a timeout per attempt, retries of unhealthy
//! attempts with a small exponential backoff (seeded jitter), results ordered by name.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::header::{HeaderName, HeaderValue};

use crate::Error;
use crate::clock::Clock;
use crate::evaluate::{Evaluation, HttpObservation, apply_latency, apply_metric_thresholds};
use crate::probe::{Probe, Probes};
use crate::redact::redact_url;
use crate::spec::{CheckSpec, CheckTarget, HttpCheck};
use crate::status::{HealthStatus, Status};

/// How a run behaves, independent of the checks.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Checks in flight at once (at least 1).
    pub concurrency: usize,
    /// Wait before the first retry; doubled for each further retry, capped at 8×.
    pub retry_backoff: Duration,
    /// Body bytes kept for body and JSON conditions; the rest is not read.
    pub max_body_bytes: usize,
    /// Seeds the backoff jitter, so runs are reproducible in tests.
    pub seed: u64,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            retry_backoff: Duration::from_millis(500),
            max_body_bytes: 1024 * 1024,
            seed: 0x5eed,
        }
    }
}

/// Builds the HTTP client checks should use: TLS details on (for certificate expiry), no
/// client-wide timeout (each check has its own), redirects followed (up to 10).
pub fn http_client(user_agent: &str) -> Result<reqwest::Client, Error> {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(user_agent)
        .tls_info(true)
        .build()
        .map_err(Error::Client)
}

/// Installs rustls' ring provider once per process; reqwest panics building a client
/// without one. A second install fails harmlessly, so the error is ignored.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs every check once and returns one result per spec, ordered by name.
///
/// Fails before running anything when specs are inconsistent (duplicate names, a service
/// check with no probe, a bad method or header); a check that runs and fails is a result,
/// not an error.
pub async fn run_checks(
    specs: &[CheckSpec],
    probes: &Probes,
    client: &reqwest::Client,
    clock: &dyn Clock,
    options: &RunOptions,
) -> Result<Vec<HealthStatus>, Error> {
    validate(specs, probes)?;
    let mut results: Vec<HealthStatus> = futures::stream::iter(specs)
        .map(|spec| {
            let probe = probes.get(&spec.name).map(|p| &**p);
            run_one(spec, probe, client, clock, options)
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    results.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(results)
}

fn validate(specs: &[CheckSpec], probes: &Probes) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    for spec in specs {
        if !seen.insert(spec.name.as_str()) {
            return Err(Error::DuplicateCheck {
                name: spec.name.clone(),
            });
        }
        let invalid = |reason: String| Error::InvalidSpec {
            name: spec.name.clone(),
            reason,
        };
        if spec.timeout.is_zero() {
            return Err(invalid("timeout must be above zero".to_owned()));
        }
        match &spec.target {
            CheckTarget::Http(http) => {
                if !matches!(http.url.scheme(), "http" | "https") {
                    return Err(invalid(format!(
                        "URL {} is not http or https",
                        redact_url(&http.url)
                    )));
                }
                reqwest::Method::from_bytes(http.method.as_bytes())
                    .map_err(|_| invalid(format!("`{}` is not an HTTP method", http.method)))?;
                for (name, value) in &http.headers {
                    HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| invalid(format!("`{name}` is not a header name")))?;
                    // The value is not shown: it may be a credential.
                    HeaderValue::from_str(value)
                        .map_err(|_| invalid(format!("header `{name}` has an invalid value")))?;
                }
            }
            CheckTarget::Service(kind) => {
                if !probes.contains_key(&spec.name) {
                    return Err(Error::MissingProbe {
                        name: spec.name.clone(),
                        kind: (*kind).into(),
                    });
                }
            }
        }
    }
    Ok(())
}

async fn run_one(
    spec: &CheckSpec,
    probe: Option<&dyn Probe>,
    client: &reqwest::Client,
    clock: &dyn Clock,
    options: &RunOptions,
) -> HealthStatus {
    let started = clock.now();
    let mut rng = StdRng::seed_from_u64(options.seed ^ fnv1a(spec.name.as_bytes()));
    let mut attempt = 0;
    loop {
        attempt += 1;
        let t0 = Instant::now();
        let outcome = tokio::time::timeout(
            spec.timeout,
            attempt_once(spec, probe, client, clock, options),
        )
        .await;
        let elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let mut eval = match outcome {
            Ok(eval) => eval,
            Err(_) => {
                let mut e = Evaluation::healthy();
                e.worsen(
                    Status::Unhealthy,
                    format!("timed out after {}", human_duration(spec.timeout)),
                );
                e
            }
        };
        apply_metric_thresholds(&spec.metric_thresholds, &mut eval);
        if eval.status != Status::Unhealthy || attempt > spec.retries {
            return HealthStatus {
                name: spec.name.clone(),
                kind: spec.kind(),
                status: eval.status,
                last_check: started,
                response_time_ms: (elapsed_ms * 10.0).round() / 10.0,
                errors: eval.errors,
                metrics: eval.metrics,
                attempts: attempt,
                probed: None,
            };
        }
        tracing::debug!(check = %spec.name, attempt, errors = ?eval.errors, "retrying");
        tokio::time::sleep(backoff(options.retry_backoff, attempt, &mut rng)).await;
    }
}

/// `base × 2^(attempt-1)` capped at `8 × base`, plus up to 25% jitter.
fn backoff(base: Duration, attempt: u32, rng: &mut StdRng) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(3);
    let wait = base.saturating_mul(factor);
    let jitter_ms = u64::try_from(wait.as_millis() / 4).unwrap_or(0);
    wait + Duration::from_millis(if jitter_ms == 0 {
        0
    } else {
        rng.random_range(0..=jitter_ms)
    })
}

async fn attempt_once(
    spec: &CheckSpec,
    probe: Option<&dyn Probe>,
    client: &reqwest::Client,
    clock: &dyn Clock,
    options: &RunOptions,
) -> Evaluation {
    match (&spec.target, probe) {
        (CheckTarget::Http(http), _) => http_attempt(spec, http, client, clock, options).await,
        (CheckTarget::Service(_), Some(probe)) => {
            let t0 = Instant::now();
            let out = probe.run().await;
            let elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
            let mut eval = Evaluation {
                status: out.status,
                errors: out.errors,
                metrics: out.metrics,
            };
            if eval.status == Status::Unhealthy && eval.errors.is_empty() {
                eval.errors.push("probe reported unhealthy".to_owned());
            }
            apply_latency(&spec.latency, elapsed_ms, &mut eval);
            eval
        }
        (CheckTarget::Service(_), None) => {
            // `validate` rules this out; keep the engine total anyway.
            let mut e = Evaluation::healthy();
            e.worsen(Status::Unhealthy, "no probe registered for this check");
            e
        }
    }
}

async fn http_attempt(
    spec: &CheckSpec,
    check: &HttpCheck,
    client: &reqwest::Client,
    clock: &dyn Clock,
    options: &RunOptions,
) -> Evaluation {
    let fail = |reason: String| {
        let mut e = Evaluation::healthy();
        e.worsen(Status::Unhealthy, reason);
        e
    };
    let method = match reqwest::Method::from_bytes(check.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => return fail(format!("`{}` is not an HTTP method", check.method)),
    };
    // No reqwest timeout: the caller's `tokio::time::timeout` bounds the whole attempt
    // (request and body) and words the error the same way for HTTP and probes.
    let mut request = client.request(method, check.url.clone());
    for (name, value) in &check.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = &check.body {
        request = request.body(body.clone());
    }
    let t0 = Instant::now();
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => return fail(describe_error(e)),
    };
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let tls_days_left = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(crate::tls::certificate_not_after)
        .map(|not_after| (not_after - clock.now()).num_seconds() as f64 / 86_400.0);
    let mut body = Vec::new();
    let mut truncated = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = options.max_body_bytes.saturating_sub(body.len());
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return fail(format!("reading the body failed: {}", describe_error(e))),
        }
    }
    let elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
    crate::evaluate::evaluate_http(
        check,
        &spec.latency,
        &HttpObservation {
            status,
            body: &body,
            body_truncated: truncated,
            elapsed_ms,
            tls_days_left,
            headers: &headers,
        },
    )
}

/// A reqwest error in words, without the URL (it may carry credentials) but with its
/// causes, which say what actually went wrong (refused, DNS, certificate, …).
fn describe_error(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        // hyper's "client error (Connect)" repeats what `what` already says.
        if !text.starts_with("client error (") && !causes.contains(&text) {
            causes.push(text);
        }
        source = s.source();
    }
    if causes.is_empty() {
        format!("{what}: {e}")
    } else {
        format!("{what}: {}", causes.join(": "))
    }
}

/// `1.5s`, `10s`, `250ms`.
pub(crate) fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_with_bounded_jitter() {
        let mut rng = StdRng::seed_from_u64(1);
        let base = Duration::from_millis(100);
        for (attempt, lo) in [(1, 100), (2, 200), (3, 400), (4, 800), (9, 800)] {
            let d = backoff(base, attempt, &mut rng).as_millis();
            assert!(d >= lo && d <= lo + lo / 4, "attempt {attempt}: {d}");
        }
        assert_eq!(backoff(Duration::ZERO, 3, &mut rng), Duration::ZERO);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(human_duration(Duration::from_secs(10)), "10s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
    }
}
