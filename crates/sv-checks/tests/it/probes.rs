//! Service checks through probes: same timeout, retry and threshold handling as HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sv_checks::{
    CheckKind, CheckSpec, Error, MetricThreshold, ProbeOutcome, Probes, ServiceKind, Status,
    probe_fn, run_checks,
};

use crate::*;

#[tokio::test]
async fn probes_run_with_thresholds_retries_and_timeouts() {
    let calls = Arc::new(AtomicUsize::new(0));
    let kv_calls = calls.clone();
    let mut probes = Probes::new();
    probes.insert(
        "sessions-kv".into(),
        probe_fn(move || {
            let n = kv_calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    ProbeOutcome::unhealthy("read back a different value")
                } else {
                    ProbeOutcome::healthy().with_metric("roundtrip_ms", 12.0)
                }
            }
        }),
    );
    probes.insert(
        "api-worker".into(),
        probe_fn(|| async { ProbeOutcome::healthy().with_metric("error_rate", 0.07) }),
    );
    probes.insert(
        "main-db".into(),
        probe_fn(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            ProbeOutcome::healthy()
        }),
    );
    let mut kv = CheckSpec::service("sessions-kv", ServiceKind::Kv);
    kv.retries = 1;
    let mut worker = CheckSpec::service("api-worker", ServiceKind::Worker);
    worker.retries = 0;
    worker.metric_thresholds = vec![MetricThreshold {
        metric: "error_rate".into(),
        degraded_above: Some(0.01),
        unhealthy_above: Some(0.05),
    }];
    let mut d1 = CheckSpec::service("main-db", ServiceKind::D1);
    d1.retries = 0;
    d1.timeout = Duration::from_millis(100);
    let results = run_checks(&[kv, worker, d1], &probes, &client(), &*clock(), &options())
        .await
        .unwrap();
    let by = |n: &str| results.iter().find(|r| r.name == n).unwrap();
    let kv = by("sessions-kv");
    assert_eq!(
        (kv.status, kv.attempts, kv.kind),
        (Status::Healthy, 2, CheckKind::Kv)
    );
    assert_eq!(kv.metrics["roundtrip_ms"], 12.0);
    let w = by("api-worker");
    assert_eq!(w.status, Status::Unhealthy);
    assert_eq!(w.errors, ["error_rate 0.07 above unhealthy limit 0.05"]);
    let d = by("main-db");
    assert_eq!(d.status, Status::Unhealthy);
    assert_eq!(d.errors, ["timed out after 100ms"]);
}

#[tokio::test]
async fn a_service_check_needs_its_probe() {
    let err = run_checks(
        &[CheckSpec::service("uploads-r2", ServiceKind::R2)],
        &Probes::new(),
        &client(),
        &*clock(),
        &options(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::MissingProbe { .. }));
    assert_eq!(
        err.to_string(),
        "check `uploads-r2` (r2) has no probe registered"
    );
}
