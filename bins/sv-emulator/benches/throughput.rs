//! Throughput benchmark: KV reads and D1 queries against an in-process emulator with many
//! concurrent clients. Run with `scripts/bench-emulator.sh` (or `cargo bench -p sv-emulator
//! --bench throughput -- [--clients N] [--seconds S] [--data DIR] [--check]`).
//!
//! `--check` exits non-zero unless KV reads reach 5,000/s and D1 queries 1,000/s with no
//! errors (the targets in docs/emulator.md).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

struct Args {
    clients: usize,
    seconds: u64,
    data: Option<String>,
    check: bool,
}

fn args() -> Args {
    let mut a = Args {
        clients: 100,
        seconds: 10,
        data: None,
        check: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--clients" => a.clients = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.clients),
            "--seconds" => a.seconds = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.seconds),
            "--data" => a.data = it.next(),
            "--check" => a.check = true,
            _ => {}
        }
    }
    a
}

struct Outcome {
    ok: u64,
    errors: u64,
    rate: f64,
}

async fn run<F, Fut>(clients: usize, dur: Duration, f: F) -> Outcome
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let f = Arc::new(f);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (ok, errors, f) = (ok.clone(), errors.clone(), f.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while start.elapsed() < dur {
                if f(c, i).await {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    Outcome {
        ok,
        errors: errors.load(Ordering::Relaxed),
        rate: ok as f64 / secs,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let a = args();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    let mut b = sv_emulator::Emulator::builder().seed(1);
    b = match &a.data {
        Some(d) if d == "tmp" => b.data_dir(tmp.path()),
        Some(d) => b.data_dir(d),
        None => b.in_memory(),
    };
    let emu = b.build().unwrap().spawn("127.0.0.1:0").await.unwrap();
    let api = emu.api_base_url.clone();
    let acct = emu.account_id.clone();
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(a.clients)
        .build()
        .unwrap();

    // Setup: 1,000 KV keys, a D1 table of 1,000 rows.
    let ns: serde_json::Value = http
        .post(format!("{api}/accounts/{acct}/storage/kv/namespaces"))
        .bearer_auth("t")
        .json(&json!({"title": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ns = ns["result"]["id"].as_str().unwrap().to_string();
    let pairs: Vec<_> = (0..1000)
        .map(|i| json!({"key": format!("key-{i}"), "value": format!("value-{i}")}))
        .collect();
    http.put(format!(
        "{api}/accounts/{acct}/storage/kv/namespaces/{ns}/bulk"
    ))
    .bearer_auth("t")
    .json(&pairs)
    .send()
    .await
    .unwrap()
    .error_for_status()
    .unwrap();
    let db: serde_json::Value = http
        .post(format!("{api}/accounts/{acct}/d1/database"))
        .bearer_auth("t")
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let db = db["result"]["uuid"].as_str().unwrap().to_string();
    let q = format!("{api}/accounts/{acct}/d1/database/{db}/query");
    let values: Vec<String> = (0..1000).map(|i| format!("({i}, 'row {i}')")).collect();
    http.post(&q).bearer_auth("t").json(&json!({"sql": format!("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES {};", values.join(","))})).send().await.unwrap().error_for_status().unwrap();

    let dur = Duration::from_secs(a.seconds);
    let kv_url = format!("{api}/accounts/{acct}/storage/kv/namespaces/{ns}/values");
    let h = http.clone();
    let kv = run(a.clients, dur, move |c, i| {
        let (h, url) = (
            h.clone(),
            format!("{kv_url}/key-{}", (c as u64 * 7919 + i) % 1000),
        );
        async move {
            match h.get(url).bearer_auth("t").send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await;
    let h = http.clone();
    let d1 = run(a.clients, dur, move |c, i| {
        let (h, q) = (h.clone(), q.clone());
        let id = (c as u64 * 7919 + i) % 1000;
        async move {
            match h
                .post(q)
                .bearer_auth("t")
                .json(&json!({"sql": "SELECT v FROM t WHERE id = ?", "params": [id]}))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => r
                    .json::<serde_json::Value>()
                    .await
                    .is_ok_and(|j| j["result"][0]["results"][0]["v"] == format!("row {id}")),
                _ => false,
            }
        }
    })
    .await;
    emu.shutdown().await;

    println!(
        "clients: {}, seconds per phase: {}, storage: {}",
        a.clients,
        a.seconds,
        a.data.as_deref().unwrap_or("in-memory")
    );
    println!(
        "KV reads:   {:>8.0}/s  ({} ok, {} errors)",
        kv.rate, kv.ok, kv.errors
    );
    println!(
        "D1 queries: {:>8.0}/s  ({} ok, {} errors)",
        d1.rate, d1.ok, d1.errors
    );
    if a.check && (kv.rate < 5000.0 || d1.rate < 1000.0 || kv.errors > 0 || d1.errors > 0) {
        println!("below target (KV >= 5000/s, D1 >= 1000/s, no errors)");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
