//! Fault injection and the rate-limit mode, applied to `/client/v4` only.
//!
//! Per request, a test can ask for exactly the fault it wants with headers:
//! * `sv-emulator-fault: 429|500|502|503|reset|slow` (any 4xx/5xx status works),
//! * `sv-emulator-latency: 250ms` (added delay).
//!
//! Globally, `--latency`, `--fault-rate` with `--faults` and `--rate-limit` apply to every call.
//! A `reset` drops the TCP connection with RST (zero linger) instead of answering.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;
use crate::config::{Config, FaultConfig, FaultKind, parse_duration};
use crate::state::{AppState, lock};

pub const FAULT_HEADER: &str = "sv-emulator-fault";
pub const LATENCY_HEADER: &str = "sv-emulator-latency";

/// Cloudflare's global API limit.
const LIMIT_REQUESTS: f64 = 1200.0;
const LIMIT_WINDOW_SECS: f64 = 300.0;

pub struct FaultRuntime {
    cfg: std::sync::Mutex<FaultConfig>,
    limiter: Option<RateLimiter>,
}

struct RateLimiter {
    limit: u64,
    window: Duration,
    state: std::sync::Mutex<LimiterState>,
}

struct LimiterState {
    window_start: Instant,
    count: u64,
    blocked_until: Option<Instant>,
}

/// What the limiter says about one request.
enum Verdict {
    Allowed { remaining: u64, reset: Duration },
    Blocked { retry_after: Duration },
}

impl RateLimiter {
    fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        // The product is small and positive; rounding to a whole request count is intended.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let limit = (LIMIT_REQUESTS * scale).ceil().max(1.0) as u64;
        Self {
            limit,
            window: Duration::from_secs_f64(LIMIT_WINDOW_SECS * scale),
            state: std::sync::Mutex::new(LimiterState {
                window_start: Instant::now(),
                count: 0,
                blocked_until: None,
            }),
        }
    }

    fn check(&self) -> Verdict {
        let now = Instant::now();
        let mut st = lock(&self.state);
        if let Some(until) = st.blocked_until {
            if now < until {
                return Verdict::Blocked {
                    retry_after: until - now,
                };
            }
            st.blocked_until = None;
            st.window_start = now;
            st.count = 0;
        }
        if now.duration_since(st.window_start) >= self.window {
            st.window_start = now;
            st.count = 0;
        }
        st.count += 1;
        if st.count > self.limit {
            // Exceeding the limit blocks every call for a whole window.
            st.blocked_until = Some(now + self.window);
            return Verdict::Blocked {
                retry_after: self.window,
            };
        }
        Verdict::Allowed {
            remaining: self.limit - st.count,
            reset: self
                .window
                .saturating_sub(now.duration_since(st.window_start)),
        }
    }
}

impl FaultRuntime {
    pub fn new(cfg: &Config) -> Self {
        Self {
            cfg: std::sync::Mutex::new(cfg.faults.clone()),
            limiter: cfg.rate_limit_scale.map(RateLimiter::new),
        }
    }

    pub fn config(&self) -> FaultConfig {
        lock(&self.cfg).clone()
    }

    /// Replaces the random-fault settings at run time (admin `faults` route).
    pub fn set_config(&self, cfg: FaultConfig) {
        *lock(&self.cfg) = cfg;
    }
}

/// Handle on one accepted connection, so a `reset` fault can kill it.
#[derive(Debug, Clone, Default)]
pub struct ConnHandle {
    pub kill: Arc<AtomicBool>,
    /// The client's address (tail events report it as the client IP).
    pub remote: Option<std::net::SocketAddr>,
}

fn secs_ceil(d: Duration) -> u64 {
    let s = d.as_secs();
    if d.subsec_nanos() > 0 {
        s + 1
    } else {
        s.max(1)
    }
}

/// The error body for an injected status.
pub fn fault_error(status: u16, retry_after: Duration) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let err = match status {
        429 => ApiError::new(
            code,
            971,
            "Please wait and consider throttling your request speed",
        )
        .with_header(header::RETRY_AFTER, secs_ceil(retry_after).to_string()),
        502 => ApiError::new(code, 10013, "Bad gateway"),
        503 => ApiError::new(code, 10014, "Service temporarily unavailable"),
        s if s >= 500 => ApiError::new(code, 10000, "Internal server error"),
        _ => ApiError::new(code, 10000, "Injected fault"),
    };
    err.into_response()
}

fn reset_response(req_conn: Option<&ConnHandle>) -> Response {
    if let Some(conn) = req_conn {
        conn.kill.store(true, Ordering::SeqCst);
        // The write of this response fails and the connection is dropped with RST.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    // Not served through our listener: fail the body so the connection is aborted.
    let stream = futures::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected reset",
        ))
    });
    axum::body::Body::from_stream(stream).into_response()
}

/// Middleware: per-request faults, rate limit, global latency, random faults.
pub async fn apply(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let conn = req
        .extensions()
        .get::<ConnectInfo<ConnHandle>>()
        .map(|c| c.0.clone());
    let cfg = st.faults.config();

    let forced = req
        .headers()
        .get(FAULT_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(FaultKind::parse);
    let extra_latency = req
        .headers()
        .get(LATENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_duration);

    let mut limit_headers = None;
    if let Some(limiter) = &st.faults.limiter {
        match limiter.check() {
            Verdict::Blocked { retry_after } => {
                let mut resp = fault_error(429, retry_after);
                add_limit_headers(&mut resp, limiter, 0, retry_after);
                return resp;
            }
            Verdict::Allowed { remaining, reset } => limit_headers = Some((remaining, reset)),
        }
    }

    let delay = cfg.latency + extra_latency.unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let fault = forced.or_else(|| {
        if cfg.rate > 0.0 && !cfg.kinds.is_empty() && st.random_unit() < cfg.rate {
            // Index into a non-empty list; truncation of the product is the point.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = (st.random_unit() * cfg.kinds.len() as f64) as usize;
            cfg.kinds.get(i.min(cfg.kinds.len() - 1)).copied()
        } else {
            None
        }
    });

    let mut resp = match fault {
        Some(FaultKind::Status(s)) => fault_error(s, Duration::from_secs(1)),
        Some(FaultKind::Reset) => return reset_response(conn.as_ref()),
        Some(FaultKind::Slow) => {
            tokio::time::sleep(cfg.slow).await;
            next.run(req).await
        }
        None => next.run(req).await,
    };
    if let (Some(limiter), Some((remaining, reset))) = (&st.faults.limiter, limit_headers) {
        add_limit_headers(&mut resp, limiter, remaining, reset);
    }
    resp
}

fn add_limit_headers(resp: &mut Response, limiter: &RateLimiter, remaining: u64, reset: Duration) {
    let h = resp.headers_mut();
    if let Ok(v) =
        HeaderValue::from_str(&format!("\"default\";r={remaining};t={}", secs_ceil(reset)))
    {
        h.insert("ratelimit", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "\"default\";q={};w={}",
        limiter.limit,
        secs_ceil(limiter.window)
    )) {
        h.insert("ratelimit-policy", v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_after_limit_for_a_window() {
        // scale 0.01: 12 requests per 3 seconds.
        let l = RateLimiter::new(0.01);
        assert_eq!(l.limit, 12);
        for _ in 0..12 {
            assert!(matches!(l.check(), Verdict::Allowed { .. }));
        }
        assert!(matches!(l.check(), Verdict::Blocked { .. }));
        assert!(matches!(l.check(), Verdict::Blocked { .. }));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(secs_ceil(Duration::from_millis(1500)), 2);
        assert_eq!(secs_ceil(Duration::ZERO), 1);
    }
}
