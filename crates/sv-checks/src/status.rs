//! Results: the seed's `HealthStatus` (status, lastCheck, responseTime, errors, metrics)
//! with the check's name and kind and how many attempts it took.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::spec::CheckKind;

/// Health of one check, ordered from best to worst so `max` gives the overall status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }

    /// The emoji badge used in Markdown (no network, renders everywhere GitHub does).
    pub fn emoji(self) -> &'static str {
        match self {
            Self::Healthy => "🟢",
            Self::Degraded => "🟡",
            Self::Unhealthy => "🔴",
        }
    }

    /// Whether this status counts as a failure, given whether degraded does.
    pub fn is_failure(self, degraded_is_failure: bool) -> bool {
        match self {
            Self::Healthy => false,
            Self::Degraded => degraded_is_failure,
            Self::Unhealthy => true,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one check in one run. Field order and names are the stable JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthStatus {
    pub name: String,
    pub kind: CheckKind,
    pub status: Status,
    /// When the check started (from the injected clock).
    pub last_check: DateTime<Utc>,
    /// Duration of the final attempt, including reading the body.
    pub response_time_ms: f64,
    /// Why the check is not healthy, one sentence each; empty when healthy.
    pub errors: Vec<String>,
    /// Numbers worth keeping: `status_code`, `tls_days_left`, a probe's `error_rate`, …
    pub metrics: BTreeMap<String, f64>,
    /// 1 when the first attempt decided the result.
    pub attempts: u32,
    /// What the probe itself found, when `degraded_after` / `unhealthy_after` made the
    /// reported `status` milder (a failure not yet repeated often enough; see
    /// [`crate::streak`]). The history stores this, not `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probed: Option<Status>,
}

impl HealthStatus {
    /// What the probe found: `probed` when thresholds changed the status, else `status`.
    pub fn found(&self) -> Status {
        self.probed.unwrap_or(self.status)
    }
}

/// The worst status among `results` (healthy when empty).
pub fn overall(results: &[HealthStatus]) -> Status {
    results
        .iter()
        .map(|r| r.status)
        .max()
        .unwrap_or(Status::Healthy)
}

/// `check`'s exit code contract: 0 when nothing failed, 1 when any check is unhealthy (or
/// degraded, when degraded counts as failure).
pub fn exit_code(results: &[HealthStatus], degraded_is_failure: bool) -> u8 {
    u8::from(
        results
            .iter()
            .any(|r| r.status.is_failure(degraded_is_failure)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: Status) -> HealthStatus {
        HealthStatus {
            name: "api".into(),
            kind: CheckKind::Http,
            status,
            last_check: DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            response_time_ms: 12.5,
            errors: vec![],
            metrics: BTreeMap::from([("status_code".to_owned(), 200.0)]),
            attempts: 1,
            probed: None,
        }
    }

    #[test]
    fn exit_code_follows_degraded_setting() {
        let d = [result(Status::Healthy), result(Status::Degraded)];
        assert_eq!(exit_code(&d, false), 0);
        assert_eq!(exit_code(&d, true), 1);
        assert_eq!(exit_code(&[result(Status::Unhealthy)], false), 1);
        assert_eq!(exit_code(&[], true), 0);
        assert_eq!(overall(&d), Status::Degraded);
    }

    #[test]
    fn json_shape_is_stable() {
        assert_eq!(
            serde_json::to_string(&result(Status::Healthy)).unwrap(),
            r#"{"name":"api","kind":"http","status":"healthy","last_check":"2026-11-25T12:00:00Z","response_time_ms":12.5,"errors":[],"metrics":{"status_code":200.0},"attempts":1}"#
        );
    }
}
