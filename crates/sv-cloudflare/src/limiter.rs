//! Client-side request budget: at most `capacity` requests in any sliding `window`.
//!
//! Cloudflare allows 1,200 requests per 5 minutes per token and, once over it, blocks *every*
//! call for the next 5 minutes. A budget over the window (not a smooth rate) lets short bursts
//! through at full speed and only makes callers wait when the window is full. The limiter is a
//! sliding-window log: it remembers the grant time of the last `capacity` requests; a new request
//! waits until the oldest of them leaves the window.
//!
//! A `RateLimiter` is a handle: clones share one budget. [`RateLimiter::shared`] returns the
//! process-wide budget every [`crate::Client`] talking to `*.cloudflare.com` uses unless told
//! otherwise, so all tasks (and all clients) of one process draw from the same 1,200.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// Cloudflare's global API budget: 1,200 requests…
pub const CLOUDFLARE_BUDGET: usize = 1200;
/// …per 5 minutes.
pub const CLOUDFLARE_WINDOW: Duration = Duration::from_secs(300);

/// Shared sliding-window request budget; cheap to clone.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    capacity: usize,
    window: Duration,
    state: Mutex<State>,
}

struct State {
    grants: VecDeque<Instant>,
    /// Set after a 429 with `Retry-After`: nobody sends before this instant.
    blocked_until: Option<Instant>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            None => f.write_str("RateLimiter(unlimited)"),
            Some(i) => write!(f, "RateLimiter({} per {:?})", i.capacity, i.window),
        }
    }
}

impl RateLimiter {
    /// A new, independent budget of `capacity` requests per `window`. A capacity of 0 is
    /// treated as 1 (a limiter that never grants would hang every caller).
    pub fn new(capacity: usize, window: Duration) -> Self {
        Self {
            inner: Some(Arc::new(Inner {
                capacity: capacity.max(1),
                window,
                state: Mutex::new(State {
                    grants: VecDeque::with_capacity(capacity.max(1)),
                    blocked_until: None,
                }),
            })),
        }
    }

    /// A new, independent budget with Cloudflare's limits (1,200 per 300 s).
    pub fn cloudflare() -> Self {
        Self::new(CLOUDFLARE_BUDGET, CLOUDFLARE_WINDOW)
    }

    /// The process-wide Cloudflare budget (created on first use). Every client built without an
    /// explicit limiter uses this one.
    pub fn shared() -> Self {
        static SHARED: OnceLock<RateLimiter> = OnceLock::new();
        SHARED.get_or_init(Self::cloudflare).clone()
    }

    /// The default budget for an API root: [`Self::shared`] when the host is Cloudflare's
    /// (`cloudflare.com` or a subdomain), [`Self::unlimited`] otherwise. Cloudflare's limit is
    /// Cloudflare's; an emulator on `127.0.0.1` enforces (or injects) its own.
    pub fn for_base_url(base_url: &url::Url) -> Self {
        let host = base_url.host_str().unwrap_or_default().to_ascii_lowercase();
        if host == "cloudflare.com" || host.ends_with(".cloudflare.com") {
            Self::shared()
        } else {
            Self::unlimited()
        }
    }

    /// Whether this limiter never waits.
    pub fn is_unlimited(&self) -> bool {
        self.inner.is_none()
    }

    /// No limit at all (for tests and for non-Cloudflare URLs).
    pub fn unlimited() -> Self {
        Self { inner: None }
    }

    /// Waits until a request may be sent, then counts it against the budget.
    pub async fn acquire(&self) {
        let Some(inner) = &self.inner else {
            return;
        };
        loop {
            let wait = {
                let mut state = lock(&inner.state);
                let now = Instant::now();
                match state.blocked_until {
                    Some(until) if until > now => Some(until - now),
                    _ => {
                        state.blocked_until = None;
                        while state
                            .grants
                            .front()
                            .is_some_and(|&t| t + inner.window <= now)
                        {
                            state.grants.pop_front();
                        }
                        if state.grants.len() < inner.capacity {
                            state.grants.push_back(now);
                            None
                        } else {
                            // Full: the oldest grant leaves the window first.
                            state.grants.front().map(|&t| (t + inner.window) - now)
                        }
                    }
                }
            };
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d.max(Duration::from_millis(1))).await,
            }
        }
    }

    /// Holds every caller back for `duration` (used when the API answers 429 with
    /// `Retry-After`: retrying from other tasks before then would only extend the block).
    pub fn block_for(&self, duration: Duration) {
        let Some(inner) = &self.inner else {
            return;
        };
        let until = Instant::now() + duration;
        let mut state = lock(&inner.state);
        if state.blocked_until.is_none_or(|cur| cur < until) {
            state.blocked_until = Some(until);
        }
    }

    /// Requests granted within the current window (for progress output and tests).
    pub fn in_window(&self) -> usize {
        let Some(inner) = &self.inner else {
            return 0;
        };
        let state = lock(&inner.state);
        let now = Instant::now();
        state
            .grants
            .iter()
            .filter(|&&t| t + inner.window > now)
            .count()
    }
}

/// The lock is never held across an await and nothing inside can panic, but a poisoned lock
/// must not take the process down: its data is still a valid log.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_wait_for_window() {
        let limiter = RateLimiter::new(3, Duration::from_secs(10));
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "a burst within budget does not wait"
        );
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(10));
        assert_eq!(limiter.in_window(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_budget() {
        let a = RateLimiter::new(2, Duration::from_secs(5));
        let b = a.clone();
        a.acquire().await;
        b.acquire().await;
        let start = Instant::now();
        a.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn block_for_delays_everyone() {
        let limiter = RateLimiter::new(100, Duration::from_secs(1));
        limiter.block_for(Duration::from_secs(3));
        let start = Instant::now();
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[test]
    fn default_budget_depends_on_the_host() {
        let cf = url::Url::parse("https://api.cloudflare.com/client/v4").unwrap();
        let fed = url::Url::parse("https://api.fed.cloudflare.com/client/v4").unwrap();
        let local = url::Url::parse("http://127.0.0.1:8787/client/v4").unwrap();
        let lookalike = url::Url::parse("https://evilcloudflare.com/client/v4").unwrap();
        assert!(!RateLimiter::for_base_url(&cf).is_unlimited());
        assert!(!RateLimiter::for_base_url(&fed).is_unlimited());
        assert!(RateLimiter::for_base_url(&local).is_unlimited());
        assert!(RateLimiter::for_base_url(&lookalike).is_unlimited());
        // Both Cloudflare clients draw from the one process-wide budget.
        let (a, b) = (
            RateLimiter::for_base_url(&cf),
            RateLimiter::for_base_url(&fed),
        );
        match (&a.inner, &b.inner) {
            (Some(x), Some(y)) => assert!(Arc::ptr_eq(x, y)),
            _ => panic!("expected limited budgets"),
        }
    }

    #[tokio::test]
    async fn unlimited_never_waits() {
        let limiter = RateLimiter::unlimited();
        for _ in 0..10_000 {
            limiter.acquire().await;
        }
        assert_eq!(limiter.in_window(), 0);
    }
}
