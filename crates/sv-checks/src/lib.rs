//! The health-check engine shared by `sv-health` and `sv-deploy`'s health gate.
//!
//! It owns, as data and pure functions wherever possible:
//! - what to check ([`CheckSpec`]: HTTP checks and Cloudflare service checks run through a
//!   [`Probe`] the binary implements) and how a response is judged ([`evaluate_http`]);
//! - running checks once ([`run_checks`]: bounded concurrency, timeouts, retries);
//! - results ([`HealthStatus`], the seed's HealthStatus) and the exit-code rule;
//! - the history store ([`History`]: compact, append-only, uptime, percentiles, run gaps)
//!   and the consecutive-failure thresholds judged against it ([`streak`]);
//! - the alert policy state machine ([`alert::evaluate`]) and `/ack` parsing;
//! - reports ([`HealthReport`], via `sv_report::Render`) and notification payloads and
//!   delivery ([`notify`]).
//!
//! - mapping `sv.yaml`'s `health` section onto all of the above ([`config`]).
//!
//! Not here: loading `sv.yaml` (sv-config does), Cloudflare and GitHub API calls (the
//! binaries' probes and issue handling), printing.

pub mod alert;
pub mod clock;
pub mod config;
pub mod evaluate;
pub mod history;
pub mod jsonpath;
pub mod notify;
pub mod probe;
pub mod redact;
pub mod report;
pub mod runner;
pub mod spec;
pub mod status;
pub mod streak;
pub mod tls;

pub use alert::{
    Ack, AlertAction, AlertInput, AlertOutcome, AlertPolicy, AlertState, IssueComment, Severity,
    WeeklyWindow, find_ack,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use evaluate::{Evaluation, HttpObservation, evaluate_http};
pub use history::{Gap, History, Intervals, Percentiles};
pub use jsonpath::{JsonCondition, JsonOp, JsonPath};
pub use probe::{Probe, ProbeOutcome, Probes, probe_fn};

pub use report::{HealthReport, ReportInput};
pub use runner::{RunOptions, http_client, install_crypto_provider, run_checks};
pub use spec::{
    CheckKind, CheckSpec, CheckTarget, HttpCheck, LatencyThresholds, MetricThreshold, ServiceKind,
    StatusExpectation, TlsExpiryThresholds,
};
pub use status::{HealthStatus, Status, exit_code, overall};

/// Errors of the engine. Check failures are results, not errors: these are mistakes in
/// what the engine was given, or I/O the engine itself does.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid JSON path `{path}`: {reason}")]
    JsonPath { path: String, reason: String },
    #[error("invalid expected status `{text}`: use 200, 2xx, 200-299 or a comma-separated list")]
    StatusExpectation { text: String },
    #[error("two checks are named `{name}`; check names must be unique")]
    DuplicateCheck { name: String },
    #[error("check `{name}` ({kind}) has no probe registered")]
    MissingProbe { name: String, kind: CheckKind },
    #[error("check `{name}`: {reason}")]
    InvalidSpec { name: String, reason: String },
    #[error("invalid maintenance window `{text}`: {reason}")]
    Window { text: String, reason: String },
    #[error("history line {line}: {reason}")]
    History { line: usize, reason: String },
    #[error("alert state is not valid")]
    AlertState(#[source] serde_json::Error),
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("cannot deliver to {channel} after {attempts} attempts: {reason}")]
    Delivery {
        channel: String,
        attempts: u32,
        reason: String,
    },
    #[error("cannot record an undelivered notification")]
    DeadLetter(#[from] sv_audit::Error),
}
