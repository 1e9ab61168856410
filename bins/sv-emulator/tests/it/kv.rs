use reqwest::Method;
use serde_json::{Value, json};

use crate::common::Ctx;

async fn ns(c: &Ctx, title: &str) -> String {
    let r = c
        .post(
            &format!("{}/storage/kv/namespaces", c.a()),
            json!({"title": title}),
        )
        .await;
    assert_eq!(r.status, 200);
    r.result()["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn namespaces_crud_and_errors() {
    let c = Ctx::new().await;
    let base = format!("{}/storage/kv/namespaces", c.a());
    let id = ns(&c, "alpha").await;
    ns(&c, "beta").await;
    c.post(&base, json!({"title": "alpha"}))
        .await
        .assert_error(400, 10014);
    c.post(&base, json!({"title": ""}))
        .await
        .assert_error(400, 10019);

    let list = c
        .get(&format!("{base}?order=title&direction=desc&per_page=5"))
        .await
        .json();
    assert_eq!(list["result"][0]["title"], "beta");
    assert_eq!(list["result_info"]["total_count"], 2);
    // wrangler's page loop: a page past the end is empty.
    let past = c.get(&format!("{base}?page=3&per_page=5")).await.json();
    assert_eq!(past["result"], json!([]));

    let renamed = c
        .put(&format!("{base}/{id}"), json!({"title": "gamma"}))
        .await
        .result();
    assert_eq!(renamed["title"], "gamma");
    c.put(&format!("{base}/{id}"), json!({"title": "beta"}))
        .await
        .assert_error(400, 10014);
    assert_eq!(
        c.get(&format!("{base}/{id}")).await.result()["title"],
        "gamma"
    );

    assert_eq!(c.delete(&format!("{base}/{id}")).await.status, 200);
    c.get(&format!("{base}/{id}"))
        .await
        .assert_error(404, 10013);
    c.delete(&format!("{base}/{id}"))
        .await
        .assert_error(404, 10013);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn values_metadata_expiration() {
    let c = Ctx::new().await;
    let id = ns(&c, "vals").await;
    let base = format!("{}/storage/kv/namespaces/{id}", c.a());
    // Raw body, key with characters that need encoding.
    let r = c
        .raw(
            Method::PUT,
            &format!("{base}/values/a%2Fb%20c"),
            b"\x00\x01binary".to_vec(),
            "application/octet-stream",
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["result"].is_null());
    let v = c.get(&format!("{base}/values/a%2Fb%20c")).await;
    assert_eq!(v.status, 200);
    assert_eq!(v.body, b"\x00\x01binary");

    // Multipart with metadata and a TTL (how wrangler sends --metadata).
    let form = reqwest::multipart::Form::new()
        .text("value", "hello")
        .text("metadata", r#"{"owner":"me"}"#);
    let path = format!("{base}/values/greeting?expiration_ttl=120");
    let r = c
        .send(
            Method::PUT,
            &path,
            c.req(Method::PUT, &path).multipart(form),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = c.get(&format!("{base}/values/greeting")).await;
    assert_eq!(v.text(), "hello");
    let exp: i64 = v.headers["expiration"].to_str().unwrap().parse().unwrap();
    let meta = c.get(&format!("{base}/metadata/greeting")).await.result();
    assert_eq!(meta, json!({"owner": "me"}));
    assert!(
        c.get(&format!("{base}/metadata/a%2Fb%20c"))
            .await
            .result()
            .is_null()
    );

    // Limits.
    c.raw(
        Method::PUT,
        &format!("{base}/values/k?expiration_ttl=10"),
        b"v".to_vec(),
        "text/plain",
    )
    .await
    .assert_error(400, 10034);
    c.raw(
        Method::PUT,
        &format!("{base}/values/k?expiration=1000"),
        b"v".to_vec(),
        "text/plain",
    )
    .await
    .assert_error(400, 10033);
    let long = "k".repeat(513);
    c.raw(
        Method::PUT,
        &format!("{base}/values/{long}"),
        b"v".to_vec(),
        "text/plain",
    )
    .await
    .assert_error(414, 10020);
    let big = vec![b'x'; 25 * 1024 * 1024 + 1];
    c.raw(
        Method::PUT,
        &format!("{base}/values/big"),
        big,
        "application/octet-stream",
    )
    .await
    .assert_error(413, 10011);
    c.get(&format!("{base}/values/missing"))
        .await
        .assert_error(404, 10009);

    // Listing shows expiration and metadata.
    let keys = c.get(&format!("{base}/keys")).await.json();
    let greeting = keys["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "greeting")
        .unwrap();
    assert_eq!(greeting["expiration"], exp);
    assert_eq!(greeting["metadata"]["owner"], "me");

    // Expiry: after the clock passes it the key is gone.
    c.admin(Method::POST, "/clock", Some(json!({"advance_secs": 121})))
        .await;
    c.get(&format!("{base}/values/greeting"))
        .await
        .assert_error(404, 10009);

    assert_eq!(
        c.delete(&format!("{base}/values/a%2Fb%20c")).await.status,
        200
    );
    c.get(&format!("{base}/values/a%2Fb%20c"))
        .await
        .assert_error(404, 10009);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn keys_prefix_and_cursor() {
    let c = Ctx::new().await;
    let id = ns(&c, "keys").await;
    let base = format!("{}/storage/kv/namespaces/{id}", c.a());
    let items: Vec<Value> = (0..25)
        .map(|i| json!({"key": format!("user:{i:03}"), "value": format!("v{i}")}))
        .chain(std::iter::once(json!({"key": "other", "value": "x"})))
        .collect();
    let r = c.put(&format!("{base}/bulk"), Value::Array(items)).await;
    assert_eq!(r.result()["successful_key_count"], 26);

    let mut names = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = c
            .get(&format!(
                "{base}/keys?prefix=user:&limit=10&cursor={cursor}"
            ))
            .await
            .json();
        for k in page["result"].as_array().unwrap() {
            names.push(k["name"].as_str().unwrap().to_string());
        }
        cursor = page["result_info"]["cursor"].as_str().unwrap().to_string();
        assert!(page["result_info"]["count"].as_u64().unwrap() <= 10);
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(names.len(), 25);
    assert_eq!(names[0], "user:000");
    assert!(names.iter().all(|n| n.starts_with("user:")));
    c.emu.shutdown().await;
}

#[tokio::test]
async fn bulk_write_get_delete() {
    let c = Ctx::new().await;
    let id = ns(&c, "bulk").await;
    let base = format!("{}/storage/kv/namespaces/{id}", c.a());
    let r = c
        .put(
            &format!("{base}/bulk"),
            json!([
                {"key": "a", "value": "aGVsbG8=", "base64": true, "metadata": {"m": 1}},
                {"key": "b", "value": "{\"n\": 2}", "expiration_ttl": 600},
            ]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(c.get(&format!("{base}/values/a")).await.text(), "hello");

    let got = c
        .post(
            &format!("{base}/bulk/get"),
            json!({"keys": ["a", "b", "zz"], "withMetadata": true}),
        )
        .await
        .result();
    assert_eq!(got["values"]["a"]["value"], "hello");
    assert_eq!(got["values"]["a"]["metadata"]["m"], 1);
    assert!(got["values"]["b"]["expiration"].is_number());
    assert!(got["values"]["zz"].is_null());
    let got = c
        .post(
            &format!("{base}/bulk/get"),
            json!({"keys": ["b"], "type": "json"}),
        )
        .await
        .result();
    assert_eq!(got["values"]["b"]["n"], 2);
    let too_many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    c.json_invalid(
        Method::POST,
        &format!("{base}/bulk/get"),
        json!({"keys": too_many}),
    )
    .await
    .assert_error(400, 10026);

    // Oversized bulk write.
    let many: Vec<Value> = (0..10_001)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    c.put(&format!("{base}/bulk"), Value::Array(many))
        .await
        .assert_error(413, 10026);
    // Invalid item fails the whole batch.
    c.put(
        &format!("{base}/bulk"),
        json!([{"key": "ok", "value": "1"}, {"key": "", "value": "2"}]),
    )
    .await
    .assert_error(400, 10020);
    c.get(&format!("{base}/values/ok"))
        .await
        .assert_error(404, 10009);

    let r = c.post(&format!("{base}/bulk/delete"), json!(["a"])).await;
    assert_eq!(r.status, 200);
    c.get(&format!("{base}/values/a"))
        .await
        .assert_error(404, 10009);
    // Deprecated form: DELETE …/bulk with the same body.
    let r = c
        .json(Method::DELETE, &format!("{base}/bulk"), json!(["b"]))
        .await;
    assert_eq!(r.status, 200);
    c.get(&format!("{base}/values/b"))
        .await
        .assert_error(404, 10009);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn malformed_input_never_crashes() {
    let c = Ctx::new().await;
    let base = format!("{}/storage/kv/namespaces", c.a());
    let r = c
        .raw(
            Method::POST,
            &base,
            b"{not json".to_vec(),
            "application/json",
        )
        .await;
    r.assert_error(400, 6007);
    let r = c
        .raw(
            Method::POST,
            &base,
            b"title=x".to_vec(),
            "application/x-www-form-urlencoded",
        )
        .await;
    r.assert_error(400, 6003);
    let r = c
        .raw(
            Method::POST,
            &base,
            b"{\"title\": 5}".to_vec(),
            "application/json",
        )
        .await;
    r.assert_error(400, 10026);
    // Still serving.
    assert_eq!(c.get(&base).await.status, 200);
    c.emu.shutdown().await;
}
