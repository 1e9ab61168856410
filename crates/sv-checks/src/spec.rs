//! What to check: the engine's own input types. The binaries map `sv.yaml` onto these, so
//! the engine does not depend on the config crate and stays testable with plain data.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::jsonpath::JsonCondition;

/// One declared check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSpec {
    /// Unique among the specs of one run; results are ordered by it.
    pub name: String,
    pub target: CheckTarget,
    /// Limit for one attempt (request and body, or one probe run).
    #[serde(with = "duration_ms")]
    pub timeout: Duration,
    /// Extra attempts after an unhealthy one (0 = try once).
    pub retries: u32,
    /// How often the check is meant to run; used for gap detection, not by `run_checks`.
    #[serde(with = "duration_ms")]
    pub interval: Duration,
    #[serde(default)]
    pub latency: LatencyThresholds,
    /// Thresholds on metrics a probe reports (e.g. a Worker's `error_rate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_thresholds: Vec<MetricThreshold>,
    /// Consecutive failing runs before the check is reported degraded (see
    /// [`crate::streak`]; applied by the caller that keeps a history).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub degraded_after: u32,
    /// Consecutive failing runs before the check is reported unhealthy (1: each run on
    /// its own).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub unhealthy_after: u32,
}

fn one() -> u32 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_one(v: &u32) -> bool {
    *v == 1
}

impl CheckSpec {
    /// An HTTP check with the defaults the product documents: timeout 10 s, 2 retries,
    /// interval 5 min, no latency thresholds.
    pub fn http(name: impl Into<String>, check: HttpCheck) -> Self {
        Self::new(name, CheckTarget::Http(Box::new(check)))
    }

    /// A Cloudflare service check run by a [`crate::Probe`] registered under the same name.
    pub fn service(name: impl Into<String>, kind: ServiceKind) -> Self {
        Self::new(name, CheckTarget::Service(kind))
    }

    fn new(name: impl Into<String>, target: CheckTarget) -> Self {
        Self {
            name: name.into(),
            target,
            timeout: Duration::from_secs(10),
            retries: 2,
            interval: Duration::from_secs(300),
            latency: LatencyThresholds::default(),
            metric_thresholds: Vec::new(),
            degraded_after: 1,
            unhealthy_after: 1,
        }
    }

    pub fn kind(&self) -> CheckKind {
        match &self.target {
            CheckTarget::Http(_) => CheckKind::Http,
            CheckTarget::Service(k) => CheckKind::from(*k),
        }
    }
}

/// What a check talks to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckTarget {
    Http(Box<HttpCheck>),
    /// Run by the binary's [`crate::Probe`] for this check name (Cloudflare API calls live
    /// in the binary, not in the engine).
    Service(ServiceKind),
}

/// The Cloudflare services the binaries probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// Deployed version and error rate.
    Worker,
    /// Write, read and delete a canary key.
    Kv,
    /// Run a query.
    D1,
    /// Put, get and delete a canary object.
    R2,
    /// State of the latest deployment.
    Pages,
}

/// The kind of a result, for reports and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Http,
    Worker,
    Kv,
    D1,
    R2,
    Pages,
}

impl From<ServiceKind> for CheckKind {
    fn from(k: ServiceKind) -> Self {
        match k {
            ServiceKind::Worker => Self::Worker,
            ServiceKind::Kv => Self::Kv,
            ServiceKind::D1 => Self::D1,
            ServiceKind::R2 => Self::R2,
            ServiceKind::Pages => Self::Pages,
        }
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Http => "http",
            Self::Worker => "worker",
            Self::Kv => "kv",
            Self::D1 => "d1",
            Self::R2 => "r2",
            Self::Pages => "pages",
        })
    }
}

/// Response time limits in milliseconds; above `degraded_ms` is degraded, above
/// `unhealthy_ms` unhealthy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyThresholds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_ms: Option<f64>,
}

/// A limit on a metric reported by a probe; a metric above a limit degrades or fails the
/// check. A missing metric is not an error (the probe decides what it can report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricThreshold {
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_above: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_above: Option<f64>,
}

/// An HTTP check. Header values may be credentials: `Debug` shows header names only.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpCheck {
    pub url: url::Url,
    #[serde(default = "default_method")]
    pub method: String,
    /// Serialised with values replaced by `<redacted>`: specs are built from config, and a
    /// value may be a credential that must not reach JSON output.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "crate::redact::serialize_header_names"
    )]
    pub headers: BTreeMap<String, String>,
    /// Request body, for POST-style health endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default)]
    pub expect_status: StatusExpectation,
    /// Every string must appear in the body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_contains: Vec<String>,
    /// Conditions on the body parsed as JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json: Vec<JsonCondition>,
    /// Response headers that must be present with exactly these values (names match in
    /// any case, values after trimming).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expect_headers: BTreeMap<String, String>,
    /// For https URLs: days left on the server certificate below which the check degrades
    /// or fails. `None` still reports the days as a metric when obtainable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_expiry: Option<TlsExpiryThresholds>,
}

impl HttpCheck {
    /// `GET url`, expecting 2xx.
    pub fn get(url: url::Url) -> Self {
        Self {
            url,
            method: default_method(),
            headers: BTreeMap::new(),
            body: None,
            expect_status: StatusExpectation::default(),
            body_contains: Vec::new(),
            json: Vec::new(),
            expect_headers: BTreeMap::new(),
            tls_expiry: None,
        }
    }
}

impl fmt::Debug for HttpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCheck")
            .field("url", &crate::redact::redact_url(&self.url))
            .field("method", &self.method)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &self.body.as_ref().map(|_| "<redacted>"))
            .field("expect_status", &self.expect_status)
            .field("body_contains", &self.body_contains)
            .field("json", &self.json)
            .field("expect_headers", &self.expect_headers)
            .field("tls_expiry", &self.tls_expiry)
            .finish()
    }
}

fn default_method() -> String {
    "GET".to_owned()
}

/// Days-to-expiry limits for the server certificate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TlsExpiryThresholds {
    pub degraded_days: f64,
    pub unhealthy_days: f64,
}

impl Default for TlsExpiryThresholds {
    fn default() -> Self {
        Self {
            degraded_days: 14.0,
            unhealthy_days: 3.0,
        }
    }
}

/// Accepted response statuses: a set of ranges written `200`, `2xx`, `200-299`, or a
/// comma-separated list of those (`200,204,3xx`). Defaults to `2xx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusExpectation {
    ranges: Vec<RangeInclusive<u16>>,
}

impl StatusExpectation {
    pub fn exactly(status: u16) -> Self {
        Self {
            ranges: vec![status..=status],
        }
    }

    pub fn range(lo: u16, hi: u16) -> Self {
        Self {
            ranges: vec![lo..=hi],
        }
    }

    pub fn accepts(&self, status: u16) -> bool {
        self.ranges.iter().any(|r| r.contains(&status))
    }
}

impl Default for StatusExpectation {
    fn default() -> Self {
        Self::range(200, 299)
    }
}

impl fmt::Display for StatusExpectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .ranges
            .iter()
            .map(|r| {
                let (lo, hi) = (*r.start(), *r.end());
                if lo == hi {
                    lo.to_string()
                } else if lo % 100 == 0 && hi == lo + 99 {
                    format!("{}xx", lo / 100)
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for StatusExpectation {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = || Error::StatusExpectation {
            text: text.to_owned(),
        };
        let code = |s: &str| -> Result<u16, Error> {
            let n: u16 = s.trim().parse().map_err(|_| bad())?;
            if (100..=599).contains(&n) {
                Ok(n)
            } else {
                Err(bad())
            }
        };
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(bad());
            }
            let lower = part.to_ascii_lowercase();
            if let Some(class) = lower.strip_suffix("xx") {
                let d: u16 = class.parse().map_err(|_| bad())?;
                if !(1..=5).contains(&d) {
                    return Err(bad());
                }
                ranges.push(d * 100..=d * 100 + 99);
            } else if let Some((lo, hi)) = part.split_once('-') {
                let (lo, hi) = (code(lo)?, code(hi)?);
                if lo > hi {
                    return Err(bad());
                }
                ranges.push(lo..=hi);
            } else {
                let n = code(part)?;
                ranges.push(n..=n);
            }
        }
        Ok(Self { ranges })
    }
}

impl Serialize for StatusExpectation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for StatusExpectation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(u16),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Code(n) => n.to_string().parse(),
            Raw::Text(t) => t.parse(),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// Durations as integer milliseconds in JSON.
pub(crate) mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_expectations_parse_and_print() {
        let e: StatusExpectation = "200,204,3xx,500-502".parse().unwrap();
        for ok in [200, 204, 301, 399, 500, 502] {
            assert!(e.accepts(ok), "{ok}");
        }
        for no in [201, 400, 503, 199] {
            assert!(!e.accepts(no), "{no}");
        }
        assert_eq!(e.to_string(), "200,204,3xx,500-502");
        assert_eq!(StatusExpectation::default().to_string(), "2xx");
        for bad in ["", "abc", "6xx", "299-200", "99", "200,,201"] {
            assert!(bad.parse::<StatusExpectation>().is_err(), "{bad}");
        }
    }

    #[test]
    fn status_expectation_deserialises_numbers_and_text() {
        let n: StatusExpectation = serde_json::from_str("204").unwrap();
        assert_eq!(n, StatusExpectation::exactly(204));
        let t: StatusExpectation = serde_json::from_str("\"2xx\"").unwrap();
        assert_eq!(t, StatusExpectation::default());
    }

    #[test]
    fn debug_hides_header_values_and_url_secrets() {
        let mut check = HttpCheck::get(
            "https://user:pw@example.com/health?token=abc"
                .parse()
                .unwrap(),
        );
        check
            .headers
            .insert("Authorization".into(), "Bearer s3cr3t".into());
        let dbg = format!("{check:?}");
        assert!(dbg.contains("Authorization"), "{dbg}");
        for secret in ["s3cr3t", "pw", "abc"] {
            assert!(!dbg.contains(secret), "{secret} leaked: {dbg}");
        }
    }

    #[test]
    fn spec_json_is_stable() {
        let mut spec = CheckSpec::http(
            "api",
            HttpCheck::get("https://api.example.com/health".parse().unwrap()),
        );
        spec.latency.degraded_ms = Some(500.0);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            json,
            r#"{"name":"api","target":{"http":{"url":"https://api.example.com/health","method":"GET","expect_status":"2xx"}},"timeout":10000,"retries":2,"interval":300000,"latency":{"degraded_ms":500.0}}"#
        );
        let back: CheckSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
    }
}
