use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use sv_emulator::{Emulator, FaultConfig, FaultKind};

use crate::common::Ctx;

#[tokio::test]
async fn per_request_fault_header_fails_exactly_that_call() {
    let c = Ctx::new().await;
    let path = "/user/tokens/verify";
    let with = |f: &str| {
        c.req(Method::GET, path)
            .header("sv-emulator-fault", f.to_string())
    };
    let r = c.send(Method::GET, path, with("503")).await;
    r.assert_error(503, 10014);
    let r = c.send(Method::GET, path, with("429")).await;
    r.assert_error(429, 971);
    assert_eq!(r.headers["retry-after"], "1");
    let r = c.send(Method::GET, path, with("500")).await;
    r.assert_error(500, 10000);
    // The next call, without the header, is fine.
    assert_eq!(c.get(path).await.status, 200);

    // reset: the connection is dropped, no HTTP response at all.
    let err = with("reset").send().await.unwrap_err();
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    assert_eq!(
        c.get(path).await.status,
        200,
        "the emulator keeps serving after a reset"
    );

    // latency header.
    let t = Instant::now();
    let rb = c
        .req(Method::GET, path)
        .header("sv-emulator-latency", "300ms");
    assert_eq!(c.send(Method::GET, path, rb).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    c.emu.shutdown().await;
}

#[tokio::test]
async fn global_fault_rate_and_admin_control() {
    let faults = FaultConfig {
        rate: 1.0,
        kinds: vec![FaultKind::Status(502)],
        ..FaultConfig::default()
    };
    let c = Ctx::with(Emulator::builder().in_memory().seed(1).faults(faults)).await;
    for _ in 0..5 {
        c.get("/accounts").await.assert_error(502, 10013);
    }
    // Admin routes are outside the faults.
    let cfg = c
        .admin(
            Method::PUT,
            "/faults",
            Some(json!({"rate": 0.0, "latency_ms": 0})),
        )
        .await;
    assert_eq!(cfg["rate"], 0.0);
    assert_eq!(c.get("/accounts").await.status, 200);
    // A slow fault for one request.
    c.admin(Method::PUT, "/faults", Some(json!({"slow_ms": 200})))
        .await;
    let t = Instant::now();
    let rb = c
        .req(Method::GET, "/accounts")
        .header("sv-emulator-fault", "slow");
    assert_eq!(c.send(Method::GET, "/accounts", rb).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(200));
    c.emu.shutdown().await;
}

#[tokio::test]
async fn rate_limit_mode_blocks_then_recovers() {
    // 1,200 / 5 min scaled by 0.005: 6 requests per 1.5 s.
    let c = Ctx::with(Emulator::builder().in_memory().rate_limit(0.005)).await;
    for i in 0..6 {
        let r = c.get("/accounts").await;
        assert_eq!(r.status, 200, "request {i}");
        assert!(r.headers.contains_key("ratelimit"));
        assert_eq!(r.headers["ratelimit-policy"], "\"default\";q=6;w=2");
    }
    let blocked = c.get("/accounts").await;
    blocked.assert_error(429, 971);
    let retry: u64 = blocked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    // Blocked for the whole window, then free again.
    c.get("/user").await.assert_error(429, 971);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(c.get("/accounts").await.status, 200);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn admin_reset_and_snapshot() {
    let c = Ctx::new().await;
    c.post(
        &format!("{}/storage/kv/namespaces", c.a()),
        json!({"title": "t"}),
    )
    .await
    .result();
    let snap = c.admin(Method::GET, "/snapshot", None).await;
    assert_eq!(snap["model"]["kv_namespaces"].as_object().unwrap().len(), 1);
    assert_eq!(
        snap["model"]["accounts"][0]["id"],
        c.emu.account_id.as_str()
    );
    c.admin(Method::POST, "/reset", None).await;
    let list = c
        .get(&format!("{}/storage/kv/namespaces", c.a()))
        .await
        .json();
    assert_eq!(list["result"], json!([]));
    assert_eq!(
        c.get("/zones").await.json()["result_info"]["total_count"],
        1,
        "seed is back"
    );
    assert_eq!(c.admin(Method::GET, "/health", None).await["ok"], true);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn extra_routers_mount_on_the_same_listener() {
    // reqwest is built without a default crypto provider (see TOOLING.md); each nextest
    // process needs one installed before its first client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let gh = axum::Router::new().route(
        "/repos/{owner}/{repo}",
        axum::routing::get(|| async { "github here" }),
    );
    let emu = Emulator::builder()
        .in_memory()
        .build()
        .unwrap()
        .nest("/github", gh);
    let running = emu.spawn("127.0.0.1:0").await.unwrap();
    let body = reqwest::get(format!("{}/github/repos/o/r", running.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "github here");
    running.shutdown().await;
}
