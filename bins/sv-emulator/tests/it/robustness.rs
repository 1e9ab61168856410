//! Bad input everywhere: every answer is a Cloudflare envelope (schema-checked by `send`),
//! never a 5xx or a dropped connection, and the emulator keeps serving.

use reqwest::Method;
use serde_json::json;

use crate::common::Ctx;
use crate::workers::upload;

#[tokio::test]
async fn garbage_bodies_get_envelopes_not_crashes() {
    let c = Ctx::new().await;
    let a = c.a();
    let ns = c
        .post(&format!("{a}/storage/kv/namespaces"), json!({"title": "g"}))
        .await
        .result()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let db = c
        .post(&format!("{a}/d1/database"), json!({"name": "g"}))
        .await
        .result()["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    c.post(&format!("{a}/r2/buckets"), json!({"name": "gbucket"}))
        .await
        .result();
    upload(&c, "gw", json!({"main_module": "index.js"}))
        .await
        .result();
    c.post(
        &format!("{a}/pages/projects"),
        json!({"name": "gp", "production_branch": "main"}),
    )
    .await
    .result();
    let z = c.z();
    let targets: Vec<(Method, String)> = vec![
        (Method::POST, format!("{a}/storage/kv/namespaces")),
        (Method::PUT, format!("{a}/storage/kv/namespaces/{ns}")),
        (Method::PUT, format!("{a}/storage/kv/namespaces/{ns}/bulk")),
        (
            Method::POST,
            format!("{a}/storage/kv/namespaces/{ns}/bulk/delete"),
        ),
        (
            Method::POST,
            format!("{a}/storage/kv/namespaces/{ns}/bulk/get"),
        ),
        (Method::POST, format!("{a}/d1/database")),
        (Method::POST, format!("{a}/d1/database/{db}/query")),
        (Method::POST, format!("{a}/d1/database/{db}/raw")),
        (Method::POST, format!("{a}/d1/database/{db}/export")),
        (Method::POST, format!("{a}/d1/database/{db}/import")),
        (Method::POST, format!("{a}/r2/buckets")),
        (Method::PUT, format!("{a}/r2/buckets/gbucket/cors")),
        (Method::PUT, format!("{a}/r2/buckets/gbucket/lifecycle")),
        (Method::POST, format!("{z}/dns_records")),
        (Method::POST, format!("{z}/dns_records/batch")),
        (Method::POST, format!("{z}/dns_records/import")),
        (Method::PUT, format!("{a}/workers/scripts/gw")),
        (Method::POST, format!("{a}/workers/scripts/gw/versions")),
        (Method::POST, format!("{a}/workers/scripts/gw/deployments")),
        (Method::PUT, format!("{a}/workers/scripts/gw/schedules")),
        (Method::PUT, format!("{a}/workers/scripts/gw/secrets")),
        (Method::PATCH, format!("{a}/workers/scripts/gw/settings")),
        (
            Method::PATCH,
            format!("{a}/workers/scripts/gw/script-settings"),
        ),
        (Method::POST, format!("{a}/workers/scripts/gw/tails")),
        (Method::PUT, format!("{a}/workers/domains")),
        (Method::POST, format!("{z}/workers/routes")),
        (Method::POST, format!("{a}/pages/projects")),
        (Method::POST, format!("{a}/pages/projects/gp/deployments")),
        (Method::POST, "/user/tokens".to_string()),
        (Method::POST, "/graphql".to_string()),
    ];
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"".to_vec()),
        ("application/json", b"{".to_vec()),
        ("application/json", b"null".to_vec()),
        ("application/json", b"[1, 2, 3]".to_vec()),
        (
            "application/json",
            b"{\"name\": {\"nested\": [true]}}".to_vec(),
        ),
        ("application/json", vec![0xff, 0xfe, 0x00]),
        ("application/json", deep.into_bytes()),
        ("application/xml", b"<x/>".to_vec()),
        (
            "multipart/form-data; boundary=zzz",
            b"--zzz\r\nnot a part".to_vec(),
        ),
    ];
    for (method, path) in &targets {
        for (ct, body) in &bodies {
            let rb = c
                .req(method.clone(), path)
                .header("content-type", *ct)
                .body(body.clone());
            let r = c.send(method.clone(), path, rb).await;
            assert!(
                r.status < 500,
                "{method} {path} with {ct} {:?}: {} {}",
                String::from_utf8_lossy(&body[..body.len().min(20)]),
                r.status,
                r.text()
            );
        }
    }
    assert_eq!(
        c.get("/user/tokens/verify").await.status,
        200,
        "still serving"
    );
    c.emu.shutdown().await;
}

#[tokio::test]
async fn concurrent_writers_keep_state_consistent() {
    let c = Ctx::new().await;
    let ns = c
        .post(
            &format!("{}/storage/kv/namespaces", c.a()),
            json!({"title": "conc"}),
        )
        .await
        .result()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let http = c.http.clone();
        let url = c.url(&format!("{}/storage/kv/namespaces/{ns}/values/k{i}", c.a()));
        let title_url = c.url(&format!("{}/storage/kv/namespaces", c.a()));
        tasks.push(tokio::spawn(async move {
            let r = http
                .put(url)
                .bearer_auth("t")
                .body(format!("v{i}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            // Racing creates of the same title: exactly one wins.
            http.post(title_url)
                .bearer_auth("t")
                .json(&json!({"title": "race"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap() == 200 {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    let keys = c
        .get(&format!("{}/storage/kv/namespaces/{ns}/keys", c.a()))
        .await
        .json();
    assert_eq!(keys["result_info"]["count"], 50);
    c.emu.shutdown().await;
}
