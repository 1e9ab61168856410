//! Service probes: the binary implements [`Probe`] for KV, D1, R2, Worker and Pages checks
//! with the Cloudflare client, and the engine runs them with the same timeout, retry and
//! threshold handling as HTTP checks.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::status::Status;

/// One run of a service probe. The engine measures its duration, applies the timeout,
/// retries unhealthy outcomes and applies latency and metric thresholds on top.
pub trait Probe: Send + Sync {
    fn run(&self) -> BoxFuture<'_, ProbeOutcome>;
}

/// Probes by check name.
pub type Probes = BTreeMap<String, Arc<dyn Probe>>;

/// What a probe found. Errors must be fit for a public report (no secrets, no tokens).
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    pub status: Status,
    pub errors: Vec<String>,
    /// e.g. `error_rate`, `requests`, `deployed_version_age_s`.
    pub metrics: BTreeMap<String, f64>,
}

impl ProbeOutcome {
    pub fn healthy() -> Self {
        Self {
            status: Status::Healthy,
            errors: Vec::new(),
            metrics: BTreeMap::new(),
        }
    }

    pub fn degraded(reason: impl Into<String>) -> Self {
        Self {
            status: Status::Degraded,
            errors: vec![reason.into()],
            metrics: BTreeMap::new(),
        }
    }

    pub fn unhealthy(reason: impl Into<String>) -> Self {
        Self {
            status: Status::Unhealthy,
            errors: vec![reason.into()],
            metrics: BTreeMap::new(),
        }
    }

    pub fn with_metric(mut self, name: impl Into<String>, value: f64) -> Self {
        self.metrics.insert(name.into(), value);
        self
    }
}

/// A probe made from an async closure, for tests and simple binaries.
pub struct FnProbe<F>(pub F);

impl<F, Fut> Probe for FnProbe<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = ProbeOutcome> + Send + 'static,
{
    fn run(&self) -> BoxFuture<'_, ProbeOutcome> {
        Box::pin((self.0)())
    }
}

/// Wraps an async closure as a shareable probe.
pub fn probe_fn<F, Fut>(f: F) -> Arc<dyn Probe>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ProbeOutcome> + Send + 'static,
{
    Arc::new(FnProbe(f))
}
