//! Circuit breaker: stop calling an API that keeps failing.
//!
//! Closed → (N consecutive failed attempts) → Open → (cooldown) → HalfOpen: exactly one probe
//! request goes through; its success closes the breaker, its failure reopens it for another
//! cooldown. While open (or while the probe is in flight) calls fail fast with
//! [`crate::Error::CircuitOpen`].
//!
//! What counts: a failure is an attempt that got no HTTP answer (connection, timeout) or a 5xx.
//! Any other answer — 2xx, 4xx — proves the API is up and resets the count. A 429 is neither:
//! it is throttling, handled by `Retry-After` and the limiter.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open the breaker. 0 disables the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before letting a probe through.
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    /// 10 consecutive failures (more than two full retry cycles), 30 s cooldown.
    fn default() -> Self {
        Self {
            failure_threshold: 10,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// Shared breaker state; clones observe and update the same circuit.
#[derive(Clone)]
pub(crate) struct CircuitBreaker {
    config: BreakerConfig,
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    consecutive_failures: u32,
    phase: Phase,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { probe_in_flight: bool },
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refused {
    pub failures: u32,
    pub retry_in: Duration,
}

/// Permission to send one attempt. Report the outcome with [`Permit::record`]; dropping a probe
/// permit without recording (the caller was cancelled) frees the probe slot again.
pub(crate) struct Permit {
    breaker: CircuitBreaker,
    probe: bool,
    recorded: bool,
}

/// Attempt outcome as the breaker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
    Neutral,
}

impl CircuitBreaker {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: Arc::new(Mutex::new(State {
                consecutive_failures: 0,
                phase: Phase::Closed,
            })),
        }
    }

    pub(crate) fn acquire(&self) -> Result<Permit, Refused> {
        if self.config.failure_threshold == 0 {
            return Ok(self.permit(false));
        }
        let mut st = lock(&self.state);
        let now = Instant::now();
        match st.phase {
            Phase::Closed => Ok(self.permit(false)),
            Phase::Open { until } if now < until => Err(Refused {
                failures: st.consecutive_failures,
                retry_in: until - now,
            }),
            Phase::Open { .. }
            | Phase::HalfOpen {
                probe_in_flight: false,
            } => {
                st.phase = Phase::HalfOpen {
                    probe_in_flight: true,
                };
                tracing::info!("circuit breaker half-open: sending one probe request");
                Ok(self.permit(true))
            }
            Phase::HalfOpen {
                probe_in_flight: true,
            } => Err(Refused {
                failures: st.consecutive_failures,
                retry_in: Duration::ZERO,
            }),
        }
    }

    fn permit(&self, probe: bool) -> Permit {
        Permit {
            breaker: self.clone(),
            probe,
            recorded: false,
        }
    }

    fn record(&self, probe: bool, outcome: Outcome) {
        if self.config.failure_threshold == 0 {
            return;
        }
        let mut st = lock(&self.state);
        match outcome {
            Outcome::Success => {
                if !matches!(st.phase, Phase::Closed) {
                    tracing::info!("circuit breaker closed: the Cloudflare API answered again");
                }
                st.consecutive_failures = 0;
                st.phase = Phase::Closed;
            }
            Outcome::Failure => {
                st.consecutive_failures = st.consecutive_failures.saturating_add(1);
                let reopen = probe || st.consecutive_failures >= self.config.failure_threshold;
                if reopen && !matches!(st.phase, Phase::Open { .. }) {
                    tracing::warn!(
                        failures = st.consecutive_failures,
                        cooldown_ms =
                            u64::try_from(self.config.cooldown.as_millis()).unwrap_or(u64::MAX),
                        "circuit breaker open: the Cloudflare API keeps failing"
                    );
                    st.phase = Phase::Open {
                        until: Instant::now() + self.config.cooldown,
                    };
                } else if probe {
                    st.phase = Phase::Open {
                        until: Instant::now() + self.config.cooldown,
                    };
                }
            }
            Outcome::Neutral => {
                if probe {
                    // Throttled probe: the API is alive; let the next caller probe again.
                    st.phase = Phase::HalfOpen {
                        probe_in_flight: false,
                    };
                }
            }
        }
    }

    fn release_probe(&self) {
        let mut st = lock(&self.state);
        if let Phase::HalfOpen {
            probe_in_flight: true,
        } = st.phase
        {
            st.phase = Phase::HalfOpen {
                probe_in_flight: false,
            };
        }
    }
}

impl Permit {
    pub(crate) fn record(mut self, outcome: Outcome) {
        self.recorded = true;
        self.breaker.record(self.probe, outcome);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            self.breaker.release_probe();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            cooldown: Duration::from_secs(10),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_threshold_and_half_opens_after_cooldown() {
        let b = breaker();
        for _ in 0..3 {
            b.acquire().unwrap().record(Outcome::Failure);
        }
        let refused = b.acquire().err().unwrap();
        assert_eq!(refused.failures, 3);
        assert!(refused.retry_in > Duration::from_secs(9));

        tokio::time::advance(Duration::from_secs(10)).await;
        let probe = b.acquire().unwrap();
        // Only one probe at a time.
        assert!(b.acquire().is_err());
        probe.record(Outcome::Success);
        assert!(b.acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn failed_probe_reopens() {
        let b = breaker();
        for _ in 0..3 {
            b.acquire().unwrap().record(Outcome::Failure);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        b.acquire().unwrap().record(Outcome::Failure);
        assert!(b.acquire().is_err());
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(b.acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn success_resets_and_dropped_probe_frees_slot() {
        let b = breaker();
        b.acquire().unwrap().record(Outcome::Failure);
        b.acquire().unwrap().record(Outcome::Failure);
        b.acquire().unwrap().record(Outcome::Success);
        b.acquire().unwrap().record(Outcome::Failure);
        b.acquire().unwrap().record(Outcome::Failure);
        assert!(b.acquire().is_ok(), "success in between reset the count");

        b.acquire().unwrap().record(Outcome::Failure);
        assert!(b.acquire().is_err());
        tokio::time::advance(Duration::from_secs(10)).await;
        drop(b.acquire().unwrap());
        assert!(
            b.acquire().is_ok(),
            "a cancelled probe must not wedge the breaker"
        );
    }

    #[test]
    fn threshold_zero_disables() {
        let b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 0,
            cooldown: Duration::from_secs(1),
        });
        for _ in 0..100 {
            b.acquire().unwrap().record(Outcome::Failure);
        }
        assert!(b.acquire().is_ok());
    }
}
