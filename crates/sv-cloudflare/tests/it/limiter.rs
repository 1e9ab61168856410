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
