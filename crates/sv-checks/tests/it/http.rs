//! HTTP checks against a local axum server.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use sv_checks::{
    CheckSpec, Error, HttpCheck, LatencyThresholds, Probes, Status, StatusExpectation, run_checks,
};

use crate::*;

#[derive(Default)]
struct Counters {
    flaky: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[derive(Deserialize)]
struct Delay {
    ms: u64,
}

#[derive(Deserialize)]
struct Fails {
    times: usize,
}

async fn app() -> (SocketAddr, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let router = Router::new()
        .route(
            "/health",
            get(|| async {
                axum::Json(serde_json::json!({
                    "ok": true, "version": "1.4.2",
                    "deps": [{"name": "db", "latency_ms": 12}, {"name": "kv", "latency_ms": 80}]
                }))
            }),
        )
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move {
                (StatusCode::from_u16(code).unwrap(), "status body")
            }),
        )
        .route(
            "/slow",
            get(|Query(d): Query<Delay>| async move {
                tokio::time::sleep(Duration::from_millis(d.ms)).await;
                "slow but fine"
            }),
        )
        .route(
            "/flaky",
            get(
                |State(c): State<Arc<Counters>>, Query(f): Query<Fails>| async move {
                    let n = c.flaky.fetch_add(1, Ordering::SeqCst);
                    if n < f.times {
                        (StatusCode::SERVICE_UNAVAILABLE, "warming up")
                    } else {
                        (StatusCode::OK, "ok")
                    }
                },
            ),
        )
        .route(
            "/busy",
            get(|State(c): State<Arc<Counters>>| async move {
                let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                c.max_in_flight.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(40)).await;
                c.in_flight.fetch_sub(1, Ordering::SeqCst);
                "ok"
            }),
        )
        .route(
            "/echo",
            post(|headers: HeaderMap, body: String| async move {
                let token = headers
                    .get("x-health-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                if token == "t0ken" && body == "ping" {
                    (StatusCode::OK, "pong")
                } else {
                    (StatusCode::UNAUTHORIZED, "no")
                }
            }),
        )
        .route("/big", get(|| async { "x".repeat(10_000) + "needle" }))
        .with_state(counters.clone());
    (serve(router).await, counters)
}

fn spec(name: &str, addr: SocketAddr, path: &str) -> CheckSpec {
    let mut s = CheckSpec::http(
        name,
        HttpCheck::get(format!("http://{addr}{path}").parse().unwrap()),
    );
    s.retries = 0;
    s.timeout = Duration::from_secs(5);
    s
}

fn http_mut(s: &mut CheckSpec) -> &mut HttpCheck {
    match &mut s.target {
        sv_checks::CheckTarget::Http(h) => h,
        sv_checks::CheckTarget::Service(_) => unreachable!(),
    }
}

async fn run(specs: &[CheckSpec]) -> Vec<sv_checks::HealthStatus> {
    run_checks(specs, &Probes::new(), &client(), &*clock(), &options())
        .await
        .unwrap()
}

#[tokio::test]
async fn status_expectations_and_result_order() {
    let (addr, _) = app().await;
    let mut accepted_503 = spec("a-maintenance-page", addr, "/status/503");
    http_mut(&mut accepted_503).expect_status = StatusExpectation::exactly(503);
    let specs = [
        spec("c-ok", addr, "/status/200"),
        spec("b-down", addr, "/status/503"),
        accepted_503,
    ];
    let results = run(&specs).await;
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a-maintenance-page", "b-down", "c-ok"]);
    assert_eq!(results[0].status, Status::Healthy);
    assert_eq!(results[1].status, Status::Unhealthy);
    assert_eq!(results[1].errors, ["status 503, expected 2xx"]);
    assert_eq!(results[1].metrics["status_code"], 503.0);
    assert_eq!(results[2].status, Status::Healthy);
    assert!(results.iter().all(|r| r.last_check == now()));
    assert!(results.iter().all(|r| r.response_time_ms > 0.0));
}

#[tokio::test]
async fn json_and_body_conditions() {
    let (addr, _) = app().await;
    let mut good = spec("good", addr, "/health");
    let h = http_mut(&mut good);
    h.json = vec![
        "$.ok == true".parse().unwrap(),
        "$.deps[0].latency_ms < 50".parse().unwrap(),
        "$.version exists".parse().unwrap(),
    ];
    h.body_contains = vec!["\"db\"".into()];
    let mut bad = spec("bad", addr, "/health");
    let h = http_mut(&mut bad);
    h.json = vec![
        "$.deps[1].latency_ms < 50".parse().unwrap(),
        "$.version == \"2.0.0\"".parse().unwrap(),
    ];
    let results = run(&[good, bad]).await;
    assert_eq!(results[1].name, "good");
    assert_eq!(
        results[1].status,
        Status::Healthy,
        "{:?}",
        results[1].errors
    );
    assert_eq!(results[0].status, Status::Unhealthy);
    assert_eq!(
        results[0].errors,
        [
            "$.deps[1].latency_ms < 50: found 80",
            "$.version == \"2.0.0\": found \"1.4.2\""
        ]
    );
}

#[tokio::test]
async fn method_headers_and_body_are_sent() {
    let (addr, _) = app().await;
    let mut s = spec("echo", addr, "/echo");
    let h = http_mut(&mut s);
    h.method = "POST".into();
    h.headers = BTreeMap::from([("X-Health-Token".to_owned(), "t0ken".to_owned())]);
    h.body = Some("ping".into());
    h.body_contains = vec!["pong".into()];
    let results = run(&[s]).await;
    assert_eq!(
        results[0].status,
        Status::Healthy,
        "{:?}",
        results[0].errors
    );
}

#[tokio::test]
async fn latency_over_the_degraded_limit_degrades() {
    let (addr, _) = app().await;
    let mut slow = spec("slow", addr, "/slow?ms=150");
    slow.latency = LatencyThresholds {
        degraded_ms: Some(100.0),
        unhealthy_ms: Some(60_000.0),
    };
    let mut very_slow = spec("very-slow", addr, "/slow?ms=150");
    very_slow.latency = LatencyThresholds {
        degraded_ms: Some(50.0),
        unhealthy_ms: Some(100.0),
    };
    let results = run(&[slow, very_slow]).await;
    assert_eq!(results[0].status, Status::Degraded);
    assert!(results[0].response_time_ms >= 150.0);
    assert!(results[0].errors[0].contains("above degraded limit 100 ms"));
    assert_eq!(results[1].status, Status::Unhealthy);
    assert!(results[1].errors[0].contains("above unhealthy limit 100 ms"));
}

#[tokio::test]
async fn a_hanging_endpoint_times_out() {
    let (addr, _) = app().await;
    let mut s = spec("hang", addr, "/slow?ms=30000");
    s.timeout = Duration::from_millis(200);
    let results = run(&[s]).await;
    assert_eq!(results[0].status, Status::Unhealthy);
    assert_eq!(results[0].attempts, 1);
    assert!(
        results[0].errors[0].contains("timed out"),
        "{:?}",
        results[0].errors
    );
    assert!(results[0].response_time_ms >= 200.0);
}

#[tokio::test]
async fn retries_until_success() {
    let (addr, counters) = app().await;
    let mut s = spec("flaky", addr, "/flaky?times=2");
    s.retries = 2;
    let results = run(&[s]).await;
    assert_eq!(
        results[0].status,
        Status::Healthy,
        "{:?}",
        results[0].errors
    );
    assert_eq!(results[0].attempts, 3);
    assert_eq!(counters.flaky.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_run_out() {
    let (addr, counters) = app().await;
    let mut s = spec("flaky", addr, "/flaky?times=5");
    s.retries = 1;
    let results = run(&[s]).await;
    assert_eq!(results[0].status, Status::Unhealthy);
    assert_eq!(results[0].attempts, 2);
    assert_eq!(counters.flaky.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connection_refused_is_unhealthy() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut s = spec("gone", addr, "/health");
    s.retries = 1;
    let results = run(&[s]).await;
    assert_eq!(results[0].status, Status::Unhealthy);
    assert_eq!(results[0].attempts, 2);
    assert!(
        results[0].errors[0].starts_with("connection failed: tcp connect error"),
        "{:?}",
        results[0].errors
    );
    // The URL is not repeated in the error (it may carry credentials).
    assert!(!results[0].errors[0].contains("127.0.0.1"));
}

#[tokio::test]
async fn concurrency_is_bounded() {
    let (addr, counters) = app().await;
    let specs: Vec<CheckSpec> = (0..6)
        .map(|i| spec(&format!("busy-{i}"), addr, "/busy"))
        .collect();
    let mut opts = options();
    opts.concurrency = 2;
    let results = run_checks(&specs, &Probes::new(), &client(), &*clock(), &opts)
        .await
        .unwrap();
    assert_eq!(results.len(), 6);
    assert!(results.iter().all(|r| r.status == Status::Healthy));
    let max = counters.max_in_flight.load(Ordering::SeqCst);
    assert!((1..=2).contains(&max), "max in flight {max}");
}

#[tokio::test]
async fn big_bodies_are_cut_at_the_limit() {
    let (addr, _) = app().await;
    let mut s = spec("big", addr, "/big");
    http_mut(&mut s).body_contains = vec!["needle".into()];
    let mut opts = options();
    opts.max_body_bytes = 1000;
    let results = run_checks(&[s], &Probes::new(), &client(), &*clock(), &opts)
        .await
        .unwrap();
    assert_eq!(
        results[0].errors,
        [r#"body does not contain "needle" (body was truncated)"#]
    );
}

#[tokio::test]
async fn inconsistent_specs_are_errors_before_anything_runs() {
    let url = "http://127.0.0.1:9/x";
    let dup = [
        CheckSpec::http("a", HttpCheck::get(url.parse().unwrap())),
        CheckSpec::http("a", HttpCheck::get(url.parse().unwrap())),
    ];
    let err = run_checks(&dup, &Probes::new(), &client(), &*clock(), &options())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DuplicateCheck { .. }), "{err}");

    let mut bad_header = CheckSpec::http("h", HttpCheck::get(url.parse().unwrap()));
    http_mut(&mut bad_header)
        .headers
        .insert("Authorization".into(), "Bearer x\nsecret".into());
    let err = run_checks(
        &[bad_header],
        &Probes::new(),
        &client(),
        &*clock(),
        &options(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "check `h`: header `Authorization` has an invalid value"
    );

    let mut bad_method = CheckSpec::http("m", HttpCheck::get(url.parse().unwrap()));
    http_mut(&mut bad_method).method = "GE T".into();
    assert!(
        run_checks(
            &[bad_method],
            &Probes::new(),
            &client(),
            &*clock(),
            &options()
        )
        .await
        .is_err()
    );
    let ftp = CheckSpec::http("f", HttpCheck::get("ftp://example.com/".parse().unwrap()));
    assert!(
        run_checks(&[ftp], &Probes::new(), &client(), &*clock(), &options())
            .await
            .is_err()
    );
}
