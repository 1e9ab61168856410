//! The client-side budget, observed from the server.

use std::time::Duration;

use serde_json::json;
use sv_cloudflare::RateLimiter;
use tokio::time::Instant;

use crate::support::{Reply, TestServer};

const CAPACITY: usize = 5;
const WINDOW: Duration = Duration::from_millis(300);
/// Scheduling noise between the limiter's grant and the server's clock (shared, busy machine).
const SLACK: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_requests_from_four_tasks_respect_five_per_window() {
    let server = TestServer::start(|_, _| {
        Reply::ok(json!({"id": "z1", "name": "example.com", "status": "active"}))
    })
    .await;
    let client = server
        .builder()
        .rate_limit(RateLimiter::new(CAPACITY, WINDOW))
        .build()
        .unwrap();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                c.zones().get("z1").await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();

    // 12 requests at 5 per window need at least two full windows of waiting.
    assert!(elapsed >= 2 * WINDOW, "finished in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");

    let mut times: Vec<Instant> = server.seen().iter().map(|s| s.at).collect();
    assert_eq!(times.len(), 12);
    times.sort();
    // Never more than CAPACITY inside any window: request i and i+CAPACITY are at least a
    // window apart (minus scheduling slack).
    for i in 0..times.len() - CAPACITY {
        let gap = times[i + CAPACITY] - times[i];
        assert!(
            gap >= WINDOW - SLACK,
            "requests {i} and {} only {gap:?} apart",
            i + CAPACITY
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_holds_back_every_task_sharing_the_budget() {
    let server = TestServer::start(|seen, i| {
        if i == 0 {
            assert_eq!(seen.api_path(), "/zones/first");
            Reply::err(429, 971, "rate limited").header("retry-after", "1")
        } else {
            Reply::ok(json!({"id": "z", "name": "example.com", "status": "active"}))
        }
    })
    .await;
    let client = server
        .builder()
        .rate_limit(RateLimiter::new(1_000, Duration::from_secs(60)))
        .build()
        .unwrap();
    let first = {
        let c = client.clone();
        tokio::spawn(async move { c.zones().get("first").await.unwrap() })
    };
    // Let the first call receive its 429 before the second task starts.
    while server.count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    client.zones().get("second").await.unwrap();
    first.await.unwrap();

    let seen = server.seen();
    let throttled_at = seen[0].at;
    let second = seen
        .iter()
        .find(|s| s.api_path() == "/zones/second")
        .unwrap();
    assert!(
        second.at - throttled_at >= Duration::from_millis(950),
        "another task called {:?} after the 429",
        second.at - throttled_at
    );
}
