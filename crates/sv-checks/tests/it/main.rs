//! Integration tests: checks against real local servers (HTTP via axum, TLS via
//! tokio-rustls), probes, the notifier, and snapshots of every rendered artifact.
#![allow(clippy::unwrap_used)]

mod config;
mod formats;
mod http;
mod notify;
mod probes;
mod render;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sv_checks::{ManualClock, RunOptions};

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn now() -> DateTime<Utc> {
    t("2026-11-25T12:00:00Z")
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now()))
}

/// Fast retries for tests.
pub fn options() -> RunOptions {
    RunOptions {
        retry_backoff: Duration::from_millis(5),
        ..RunOptions::default()
    }
}

pub fn client() -> reqwest::Client {
    sv_checks::http_client("sv-checks-tests").unwrap()
}

/// Serves `router` on 127.0.0.1:0 for the rest of the test.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}
