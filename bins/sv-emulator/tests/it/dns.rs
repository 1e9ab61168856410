use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Ctx;

async fn add(c: &Ctx, body: Value) -> Value {
    let r = c.post(&format!("{}/dns_records", c.z()), body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.result()
}

#[tokio::test]
async fn records_crud_filters_conflicts() {
    let c = Ctx::new().await;
    let base = format!("{}/dns_records", c.z());
    let www = add(&c, json!({"type": "A", "name": "www", "content": "192.0.2.1", "ttl": 1, "proxied": true, "comment": "web", "tags": ["env:prod"]})).await;
    assert_eq!(www["name"], "www.example.com");
    assert_eq!(www["proxiable"], true);
    add(
        &c,
        json!({"type": "A", "name": "www.example.com", "content": "192.0.2.2", "ttl": 300}),
    )
    .await;
    add(&c, json!({"type": "MX", "name": "@", "content": "mail.example.com", "priority": 10, "ttl": 3600})).await;
    add(
        &c,
        json!({"type": "TXT", "name": "@", "content": "v=spf1 -all", "ttl": 1}),
    )
    .await;

    // Conflicts and validation.
    c.post(
        &base,
        json!({"type": "A", "name": "www", "content": "192.0.2.1", "ttl": 1}),
    )
    .await
    .assert_error(400, 81057);
    c.post(
        &base,
        json!({"type": "CNAME", "name": "www", "content": "other.example.com", "ttl": 1}),
    )
    .await
    .assert_error(400, 81053);
    c.json_invalid(
        Method::POST,
        &base,
        json!({"type": "A", "name": "bad", "content": "not-an-ip", "ttl": 1}),
    )
    .await
    .assert_error(400, 9005);
    c.post(
        &base,
        json!({"type": "TXT", "name": "t", "content": "x", "ttl": 1, "proxied": true}),
    )
    .await
    .assert_error(400, 9004);
    c.json_invalid(
        Method::POST,
        &base,
        json!({"type": "A", "name": "x", "content": "192.0.2.9", "ttl": 5}),
    )
    .await
    .assert_error(400, 9021);

    // Filters.
    let a = c
        .get(&format!("{base}?type=A&name=www.example.com"))
        .await
        .json();
    assert_eq!(a["result_info"]["total_count"], 2);
    let p = c.get(&format!("{base}?proxied=true")).await.json();
    assert_eq!(p["result"].as_array().unwrap().len(), 1);
    let t = c.get(&format!("{base}?tag=env:prod")).await.json();
    assert_eq!(t["result"][0]["id"], www["id"]);
    let cm = c.get(&format!("{base}?comment.contains=we")).await.json();
    assert_eq!(cm["result_info"]["count"], 1);
    let any = c
        .get(&format!("{base}?type=MX&content=192.0.2.2&match=any"))
        .await
        .json();
    assert_eq!(any["result_info"]["count"], 2);
    let paged = c
        .get(&format!("{base}?per_page=3&page=2&order=name"))
        .await
        .json();
    assert_eq!(paged["result"].as_array().unwrap().len(), 1);
    assert_eq!(paged["result_info"]["total_pages"], 2);

    // Update paths.
    let id = www["id"].as_str().unwrap();
    let patched = c
        .patch(
            &format!("{base}/{id}"),
            json!({"type": "A", "name": "www", "content": "192.0.2.10"}),
        )
        .await
        .result();
    assert_eq!(patched["content"], "192.0.2.10");
    assert_eq!(patched["proxied"], true, "PATCH keeps other fields");
    let put = c
        .put(
            &format!("{base}/{id}"),
            json!({"type": "A", "name": "www", "content": "192.0.2.11", "ttl": 120}),
        )
        .await
        .result();
    assert_eq!(put["proxied"], false, "PUT replaces");
    assert_eq!(c.get(&format!("{base}/{id}")).await.result()["ttl"], 120);

    assert_eq!(c.delete(&format!("{base}/{id}")).await.result()["id"], id);
    c.get(&format!("{base}/{id}"))
        .await
        .assert_error(404, 81044);
    c.delete(&format!("{base}/{id}"))
        .await
        .assert_error(404, 81044);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn batch_is_all_or_nothing() {
    let c = Ctx::new().await;
    let base = format!("{}/dns_records", c.z());
    let a = add(
        &c,
        json!({"type": "A", "name": "a", "content": "192.0.2.1", "ttl": 1}),
    )
    .await;
    let bad = c
        .post(&format!("{base}/batch"), json!({
            "deletes": [{"id": a["id"]}],
            "posts": [{"type": "A", "name": "b", "content": "192.0.2.2", "ttl": 1}, {"type": "A", "name": "c", "content": "nope", "ttl": 1}],
        }))
        .await;
    bad.assert_error(400, 9005);
    assert_eq!(
        c.get(&format!("{base}/{}", a["id"].as_str().unwrap()))
            .await
            .status,
        200,
        "nothing applied"
    );
    let good = c
        .post(
            &format!("{base}/batch"),
            json!({
                "deletes": [{"id": a["id"]}],
                "posts": [{"type": "A", "name": "b", "content": "192.0.2.2", "ttl": 1}],
            }),
        )
        .await
        .result();
    assert_eq!(good["posts"][0]["name"], "b.example.com");
    assert_eq!(good["deletes"][0]["id"], a["id"]);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn bind_export_then_import_roundtrip() {
    let c = Ctx::new().await;
    let base = format!("{}/dns_records", c.z());
    add(
        &c,
        json!({"type": "A", "name": "www", "content": "192.0.2.1", "ttl": 1, "proxied": true}),
    )
    .await;
    add(
        &c,
        json!({"type": "CNAME", "name": "api", "content": "www.example.com", "ttl": 300}),
    )
    .await;
    add(&c, json!({"type": "MX", "name": "@", "content": "mail.example.com", "priority": 10, "ttl": 3600})).await;
    add(
        &c,
        json!({"type": "TXT", "name": "@", "content": "v=spf1 include:\"x\" -all", "ttl": 1}),
    )
    .await;
    add(&c, json!({"type": "SRV", "name": "_sip._tcp", "data": {"priority": 1, "weight": 5, "port": 5060, "target": "sip.example.com"}, "ttl": 1})).await;

    let export = c.get(&format!("{base}/export")).await;
    assert_eq!(export.status, 200);
    let zone = export.text();
    assert!(
        zone.contains("www.example.com.\t1\tIN\tA\t192.0.2.1 ; cf_tags=cf-proxied:true"),
        "{zone}"
    );
    assert!(zone.contains("IN\tMX\t10 mail.example.com."), "{zone}");

    // Wipe and import the exported file.
    let all = c.get(&base).await.json();
    for r in all["result"].as_array().unwrap() {
        c.delete(&format!("{base}/{}", r["id"].as_str().unwrap()))
            .await
            .result();
    }
    let form = reqwest::multipart::Form::new()
        .text("file", zone.clone())
        .text("proxied", "false");
    let path = format!("{base}/import");
    let r = c
        .send(
            Method::POST,
            &path,
            c.req(Method::POST, &path).multipart(form),
        )
        .await
        .result();
    assert_eq!(r["recs_added"], 5, "{r}");
    assert_eq!(r["total_records_parsed"], 6, "SOA counted, not added");
    let again = c.get(&format!("{base}/export")).await.text();
    let body = |z: &str| {
        z.lines()
            .filter(|l| !l.starts_with(";; Exported"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        body(&again),
        body(&zone),
        "export → import → export is stable"
    );

    // Importing the same file again adds nothing.
    let form = reqwest::multipart::Form::new().text("file", zone);
    let r = c
        .send(
            Method::POST,
            &path,
            c.req(Method::POST, &path).multipart(form),
        )
        .await
        .result();
    assert_eq!(r["recs_added"], 0);
    // Wrong content type is Cloudflare's header error.
    c.raw(Method::POST, &path, b"x".to_vec(), "text/plain")
        .await
        .assert_error(400, 6003);
    c.emu.shutdown().await;
}
