//! Retries, Retry-After, transport failures, timeouts and the circuit breaker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use sv_cloudflare::{BreakerConfig, Error, ErrorCategory, TransportKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::support::{Reply, TestServer, builder_for, fast_retry};

fn zone(id: &str) -> serde_json::Value {
    json!({"id": id, "name": "example.com", "status": "active"})
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let server = TestServer::start(|_, i| {
        if i == 0 {
            Reply::err(
                429,
                971,
                "Please wait and consider throttling your request speed",
            )
            .header("retry-after", "1")
        } else {
            Reply::ok(zone("z1"))
        }
    })
    .await;
    let client = server.client();
    let started = Instant::now();
    let zone = client.zones().get("z1").await.unwrap();
    assert_eq!(zone.id, "z1");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(990), "waited only {gap:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn a_429_is_retried_even_for_non_idempotent_posts() {
    let server = TestServer::start(|_, i| {
        if i == 0 {
            Reply::err(429, 971, "slow down").header("retry-after", "0")
        } else {
            Reply::ok(json!({"id": "ns1", "title": "t"}))
        }
    })
    .await;
    let ns = server.client().kv().create_namespace("t").await.unwrap();
    assert_eq!(ns.id, "ns1");
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_5xx_then_success_is_retried_for_gets() {
    let server = TestServer::start(|_, i| match i {
        0 => Reply::err(503, 0, "unavailable"),
        1 => Reply::err(500, 0, "internal"),
        _ => Reply::ok(zone("z1")),
    })
    .await;
    let zone = server.client().zones().get("z1").await.unwrap();
    assert_eq!(zone.id, "z1");
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn a_5xx_is_not_retried_for_non_idempotent_posts() {
    let server = TestServer::start(|_, _| Reply::err(502, 0, "bad gateway")).await;
    let err = server
        .client()
        .d1()
        .query("db", "INSERT INTO t VALUES (1)", &[])
        .await
        .unwrap_err();
    assert_eq!(
        server.count(),
        1,
        "an INSERT must not be repeated after a 502"
    );
    assert_eq!(err.category(), ErrorCategory::Network);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
}

#[tokio::test]
async fn read_only_queries_are_retried_after_5xx() {
    let server = TestServer::start(|_, i| {
        if i == 0 {
            Reply::err(500, 0, "internal")
        } else {
            Reply::ok(json!([{"results": [{"n": 1}], "success": true, "meta": {"rows_read": 1}}]))
        }
    })
    .await;
    let res = server
        .client()
        .d1()
        .query_read_only("db", "SELECT 1 AS n", &[])
        .await
        .unwrap();
    assert_eq!(res[0].results[0]["n"], json!(1));
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_a_network_error() {
    let server = TestServer::start(|_, _| Reply::err(502, 0, "bad gateway")).await;
    let err = server.client().zones().get("z1").await.unwrap_err();
    assert_eq!(server.count(), 3);
    assert_eq!(err.category(), ErrorCategory::Network);
    match &err {
        Error::Api { attempts, .. } => assert_eq!(*attempts, 3),
        other => panic!("unexpected error {other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.contains("GET http://127.0.0.1:"), "{shown}");
    assert!(shown.contains("/client/v4/zones/z1"), "{shown}");
    assert!(shown.contains("HTTP 502"), "{shown}");
    assert!(shown.contains("after 3 attempts"), "{shown}");
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported_as_network() {
    // Bind and drop: nothing listens on that port any more.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let base = sv_cloudflare::Url::parse(&format!("http://{addr}/client/v4")).unwrap();
    let client = builder_for(base).build().unwrap();
    // Even a POST is retried: nothing was sent.
    let err = client.kv().create_namespace("x").await.unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Network);
    match &err {
        Error::Transport { kind, attempts, .. } => {
            assert_eq!(*kind, TransportKind::Connect);
            assert_eq!(*attempts, 3);
        }
        other => panic!("unexpected error {other:?}"),
    }
}

/// A raw server that drops the first `resets` connections after reading the request, then
/// answers a valid envelope.
async fn flaky_server(
    resets: usize,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let n = c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0_u8; 8192];
                let _ = sock.read(&mut buf).await;
                if n < resets {
                    drop(sock);
                    return;
                }
                let body = r#"{"success":true,"errors":[],"messages":[],"result":{"id":"z1","name":"example.com","status":"active"}}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn connection_reset_is_retried_for_gets() {
    let (addr, count) = flaky_server(2).await;
    let base = sv_cloudflare::Url::parse(&format!("http://{addr}/client/v4")).unwrap();
    let client = builder_for(base).build().unwrap();
    let zone = client.zones().get("z1").await.unwrap();
    assert_eq!(zone.id, "z1");
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn connection_reset_is_not_retried_for_posts() {
    let (addr, count) = flaky_server(5).await;
    let base = sv_cloudflare::Url::parse(&format!("http://{addr}/client/v4")).unwrap();
    let client = builder_for(base).build().unwrap();
    let err = client
        .workers()
        .create_deployment(
            "api",
            &sv_cloudflare::workers::NewDeployment::split(&[("v1", 100.0)], None),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Network);
    match &err {
        Error::Transport { kind, attempts, .. } => {
            assert_eq!(*kind, TransportKind::Interrupted);
            assert_eq!(*attempts, 1);
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn per_request_timeout_applies_to_each_attempt() {
    let server =
        TestServer::start(|_, _| Reply::ok(zone("z1")).delayed(Duration::from_millis(1500))).await;
    let client = server
        .builder()
        .timeout(Duration::from_millis(100))
        .retry(fast_retry(2))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.zones().get("z1").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    match &err {
        Error::Transport { kind, attempts, .. } => {
            assert_eq!(*kind, TransportKind::Timeout);
            assert_eq!(*attempts, 2);
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(err.category(), ErrorCategory::Network);
}

#[tokio::test]
async fn circuit_breaker_opens_fails_fast_and_half_opens() {
    let healthy = Arc::new(AtomicBool::new(false));
    let h = healthy.clone();
    let server = TestServer::start(move |_, _| {
        if h.load(Ordering::SeqCst) {
            Reply::ok(zone("z1"))
        } else {
            Reply::err(500, 0, "down")
        }
    })
    .await;
    let client = server
        .builder()
        .retry(fast_retry(1))
        .circuit_breaker(BreakerConfig {
            failure_threshold: 3,
            cooldown: Duration::from_millis(300),
        })
        .build()
        .unwrap();
    for _ in 0..3 {
        let err = client.zones().get("z1").await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    }
    // Open: a clone shares the breaker and fails without reaching the server.
    let other = client.clone();
    let started = Instant::now();
    let err = other.zones().get("z1").await.unwrap_err();
    assert!(err.is_circuit_open(), "{err:?}");
    assert_eq!(err.category(), ErrorCategory::Network);
    assert!(
        err.to_string()
            .contains("circuit breaker open after 3 consecutive failures"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(server.count(), 3);

    // After the cooldown one probe goes through; its success closes the breaker.
    tokio::time::sleep(Duration::from_millis(350)).await;
    healthy.store(true, Ordering::SeqCst);
    client.zones().get("z1").await.unwrap();
    client.zones().get("z1").await.unwrap();
    assert_eq!(server.count(), 5);
}

#[tokio::test]
async fn retry_after_beyond_the_policy_fails_at_once() {
    let server =
        TestServer::start(|_, _| Reply::err(429, 971, "rate limited").header("retry-after", "300"))
            .await;
    let started = Instant::now();
    let err = server.client().zones().get("z1").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.is_rate_limited());
    assert_eq!(err.category(), ErrorCategory::Network);
    assert_eq!(server.count(), 1);
}
