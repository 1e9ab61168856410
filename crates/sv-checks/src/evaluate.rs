//! Judging what a check observed: pure functions from an observation and the expectations
//! to a status with reasons, so every condition is unit-tested without a network.

use std::collections::BTreeMap;

use crate::spec::{HttpCheck, LatencyThresholds, MetricThreshold};
use crate::status::Status;

/// What one HTTP attempt saw.
#[derive(Debug, Clone, Copy)]
pub struct HttpObservation<'a> {
    pub status: u16,
    pub body: &'a [u8],
    /// The body was cut at the read limit; conditions ran on the prefix.
    pub body_truncated: bool,
    pub elapsed_ms: f64,
    /// Days until the server certificate expires, when it could be read.
    pub tls_days_left: Option<f64>,
    /// Response headers, names lower-cased.
    pub headers: &'a [(String, String)],
}

/// A verdict with its reasons and the numbers behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub status: Status,
    pub errors: Vec<String>,
    pub metrics: BTreeMap<String, f64>,
}

impl Evaluation {
    pub fn healthy() -> Self {
        Self {
            status: Status::Healthy,
            errors: Vec::new(),
            metrics: BTreeMap::new(),
        }
    }

    /// Records a problem, keeping the worst status seen.
    pub fn worsen(&mut self, status: Status, reason: impl Into<String>) {
        self.status = self.status.max(status);
        self.errors.push(reason.into());
    }
}

/// Judges an HTTP response against a check's expectations and latency limits.
pub fn evaluate_http(
    check: &HttpCheck,
    latency: &LatencyThresholds,
    obs: &HttpObservation<'_>,
) -> Evaluation {
    let mut eval = Evaluation::healthy();
    eval.metrics
        .insert("status_code".to_owned(), f64::from(obs.status));
    if !check.expect_status.accepts(obs.status) {
        eval.worsen(
            Status::Unhealthy,
            format!("status {}, expected {}", obs.status, check.expect_status),
        );
    }
    for (name, want) in &check.expect_headers {
        let found: Vec<&str> = obs
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        if found.is_empty() {
            eval.worsen(Status::Unhealthy, format!("header {name} is missing"));
        } else if !found.contains(&want.trim()) {
            eval.worsen(
                Status::Unhealthy,
                format!("header {name} is {:?}, expected {want:?}", found.join(", ")),
            );
        }
    }
    if !check.body_contains.is_empty() || !check.json.is_empty() {
        let text = String::from_utf8_lossy(obs.body);
        let cut = if obs.body_truncated {
            " (body was truncated)"
        } else {
            ""
        };
        for needle in &check.body_contains {
            if !text.contains(needle.as_str()) {
                eval.worsen(
                    Status::Unhealthy,
                    format!("body does not contain {needle:?}{cut}"),
                );
            }
        }
        if !check.json.is_empty() {
            match serde_json::from_slice::<serde_json::Value>(obs.body) {
                Ok(value) => {
                    for cond in &check.json {
                        if let Err(reason) = cond.check(&value) {
                            eval.worsen(Status::Unhealthy, reason);
                        }
                    }
                }
                Err(e) => eval.worsen(Status::Unhealthy, format!("body is not JSON ({e}){cut}")),
            }
        }
    }
    apply_latency(latency, obs.elapsed_ms, &mut eval);
    if let Some(days) = obs.tls_days_left {
        eval.metrics
            .insert("tls_days_left".to_owned(), round1(days));
        if let Some(t) = &check.tls_expiry {
            if days < t.unhealthy_days {
                eval.worsen(
                    Status::Unhealthy,
                    format!(
                        "certificate expires in {:.1} days (unhealthy below {})",
                        days, t.unhealthy_days
                    ),
                );
            } else if days < t.degraded_days {
                eval.worsen(
                    Status::Degraded,
                    format!(
                        "certificate expires in {:.1} days (degraded below {})",
                        days, t.degraded_days
                    ),
                );
            }
        }
    }
    eval
}

/// Degrades or fails on response time.
pub fn apply_latency(limits: &LatencyThresholds, elapsed_ms: f64, eval: &mut Evaluation) {
    if let Some(limit) = limits.unhealthy_ms.filter(|l| elapsed_ms > *l) {
        eval.worsen(
            Status::Unhealthy,
            format!("response time {elapsed_ms:.0} ms above unhealthy limit {limit:.0} ms"),
        );
    } else if let Some(limit) = limits.degraded_ms.filter(|l| elapsed_ms > *l) {
        eval.worsen(
            Status::Degraded,
            format!("response time {elapsed_ms:.0} ms above degraded limit {limit:.0} ms"),
        );
    }
}

/// Degrades or fails on metrics a probe reported; missing metrics are skipped.
pub fn apply_metric_thresholds(thresholds: &[MetricThreshold], eval: &mut Evaluation) {
    for t in thresholds {
        let Some(value) = eval.metrics.get(&t.metric).copied() else {
            continue;
        };
        if let Some(limit) = t.unhealthy_above.filter(|l| value > *l) {
            eval.worsen(
                Status::Unhealthy,
                format!("{} {value} above unhealthy limit {limit}", t.metric),
            );
        } else if let Some(limit) = t.degraded_above.filter(|l| value > *l) {
            eval.worsen(
                Status::Degraded,
                format!("{} {value} above degraded limit {limit}", t.metric),
            );
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{StatusExpectation, TlsExpiryThresholds};

    fn check() -> HttpCheck {
        HttpCheck::get("https://api.example.com/health".parse().unwrap())
    }

    fn obs(status: u16, body: &str) -> HttpObservation<'_> {
        HttpObservation {
            status,
            body: body.as_bytes(),
            body_truncated: false,
            elapsed_ms: 100.0,
            tls_days_left: None,
            headers: &[],
        }
    }

    #[test]
    fn expected_headers_must_match() {
        let mut c = check();
        c.expect_headers
            .insert("Content-Type".into(), "application/json".into());
        let headers = [("content-type".to_owned(), "application/json".to_owned())];
        let mut o = obs(200, "");
        o.headers = &headers;
        assert_eq!(evaluate_http(&c, &none(), &o).status, Status::Healthy);
        let other = [("content-type".to_owned(), "text/html".to_owned())];
        o.headers = &other;
        let e = evaluate_http(&c, &none(), &o);
        assert_eq!(e.status, Status::Unhealthy);
        assert_eq!(
            e.errors,
            ["header Content-Type is \"text/html\", expected \"application/json\""]
        );
        o.headers = &[];
        assert_eq!(
            evaluate_http(&c, &none(), &o).errors,
            ["header Content-Type is missing"]
        );
    }

    fn none() -> LatencyThresholds {
        LatencyThresholds::default()
    }

    #[test]
    fn accepted_status_is_healthy_and_recorded() {
        let e = evaluate_http(&check(), &none(), &obs(204, ""));
        assert_eq!(e.status, Status::Healthy);
        assert!(e.errors.is_empty());
        assert_eq!(e.metrics["status_code"], 204.0);
    }

    #[test]
    fn unexpected_status_is_unhealthy() {
        let mut c = check();
        c.expect_status = "200,3xx".parse().unwrap();
        let e = evaluate_http(&c, &none(), &obs(503, ""));
        assert_eq!(e.status, Status::Unhealthy);
        assert_eq!(e.errors, ["status 503, expected 200,3xx"]);
        c.expect_status = StatusExpectation::exactly(503);
        assert_eq!(
            evaluate_http(&c, &none(), &obs(503, "")).status,
            Status::Healthy
        );
    }

    #[test]
    fn latency_thresholds_degrade_then_fail() {
        let limits = LatencyThresholds {
            degraded_ms: Some(500.0),
            unhealthy_ms: Some(2000.0),
        };
        let at = |ms: f64| {
            let mut o = obs(200, "");
            o.elapsed_ms = ms;
            evaluate_http(&check(), &limits, &o)
        };
        assert_eq!(at(500.0).status, Status::Healthy);
        let d = at(612.4);
        assert_eq!(d.status, Status::Degraded);
        assert_eq!(
            d.errors,
            ["response time 612 ms above degraded limit 500 ms"]
        );
        let u = at(2500.0);
        assert_eq!(u.status, Status::Unhealthy);
        assert_eq!(
            u.errors,
            ["response time 2500 ms above unhealthy limit 2000 ms"]
        );
    }

    #[test]
    fn body_contains_every_needle() {
        let mut c = check();
        c.body_contains = vec!["ok".into(), "db".into()];
        assert_eq!(
            evaluate_http(&c, &none(), &obs(200, "ok db")).status,
            Status::Healthy
        );
        let e = evaluate_http(&c, &none(), &obs(200, "ok"));
        assert_eq!(e.status, Status::Unhealthy);
        assert_eq!(e.errors, [r#"body does not contain "db""#]);
        let mut truncated = obs(200, "ok");
        truncated.body_truncated = true;
        assert_eq!(
            evaluate_http(&c, &none(), &truncated).errors,
            [r#"body does not contain "db" (body was truncated)"#]
        );
    }

    #[test]
    fn json_conditions_are_checked() {
        let mut c = check();
        c.json = vec![
            "$.ok == true".parse().unwrap(),
            "$.deps[0].latency_ms < 50".parse().unwrap(),
        ];
        let good = r#"{"ok":true,"deps":[{"latency_ms":12}]}"#;
        assert_eq!(
            evaluate_http(&c, &none(), &obs(200, good)).status,
            Status::Healthy
        );
        let bad = r#"{"ok":false,"deps":[{"latency_ms":80}]}"#;
        let e = evaluate_http(&c, &none(), &obs(200, bad));
        assert_eq!(e.status, Status::Unhealthy);
        assert_eq!(
            e.errors,
            [
                "$.ok == true: found false",
                "$.deps[0].latency_ms < 50: found 80"
            ]
        );
    }

    #[test]
    fn non_json_body_fails_json_conditions() {
        let mut c = check();
        c.json = vec!["$.ok exists".parse().unwrap()];
        let e = evaluate_http(&c, &none(), &obs(200, "<html>"));
        assert_eq!(e.status, Status::Unhealthy);
        assert!(
            e.errors[0].starts_with("body is not JSON ("),
            "{:?}",
            e.errors
        );
    }

    #[test]
    fn tls_expiry_thresholds() {
        let mut c = check();
        let at = |c: &HttpCheck, days: f64| {
            let mut o = obs(200, "");
            o.tls_days_left = Some(days);
            evaluate_http(c, &none(), &o)
        };
        // Without thresholds the days are only a metric.
        let e = at(&c, 1.04);
        assert_eq!(e.status, Status::Healthy);
        assert_eq!(e.metrics["tls_days_left"], 1.0);
        c.tls_expiry = Some(TlsExpiryThresholds::default());
        assert_eq!(at(&c, 30.0).status, Status::Healthy);
        let d = at(&c, 10.0);
        assert_eq!(d.status, Status::Degraded);
        assert_eq!(
            d.errors,
            ["certificate expires in 10.0 days (degraded below 14)"]
        );
        assert_eq!(at(&c, 2.5).status, Status::Unhealthy);
        assert_eq!(at(&c, -1.0).status, Status::Unhealthy);
    }

    #[test]
    fn worst_condition_wins_and_all_reasons_are_kept() {
        let mut c = check();
        c.body_contains = vec!["ok".into()];
        let limits = LatencyThresholds {
            degraded_ms: Some(50.0),
            unhealthy_ms: None,
        };
        let e = evaluate_http(&c, &limits, &obs(500, "nope"));
        assert_eq!(e.status, Status::Unhealthy);
        assert_eq!(e.errors.len(), 3, "{:?}", e.errors);
    }

    #[test]
    fn metric_thresholds() {
        let t = [MetricThreshold {
            metric: "error_rate".into(),
            degraded_above: Some(0.01),
            unhealthy_above: Some(0.05),
        }];
        let with = |v: Option<f64>| {
            let mut e = Evaluation::healthy();
            if let Some(v) = v {
                e.metrics.insert("error_rate".into(), v);
            }
            apply_metric_thresholds(&t, &mut e);
            e
        };
        assert_eq!(with(None).status, Status::Healthy);
        assert_eq!(with(Some(0.01)).status, Status::Healthy);
        assert_eq!(with(Some(0.02)).status, Status::Degraded);
        let u = with(Some(0.1));
        assert_eq!(u.status, Status::Unhealthy);
        assert_eq!(u.errors, ["error_rate 0.1 above unhealthy limit 0.05"]);
    }
}
