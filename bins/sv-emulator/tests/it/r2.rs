use reqwest::Method;
use serde_json::json;

use crate::common::Ctx;

#[tokio::test]
async fn buckets_crud_cors_lifecycle() {
    let c = Ctx::new().await;
    let base = format!("{}/r2/buckets", c.a());
    for n in ["assets", "backups", "logs"] {
        let r = c
            .post(&base, json!({"name": n, "locationHint": "weur"}))
            .await;
        assert_eq!(r.result()["location"], "weur");
    }
    c.post(&base, json!({"name": "assets"}))
        .await
        .assert_error(409, 10073);
    c.json_invalid(Method::POST, &base, json!({"name": "Bad_Name"}))
        .await
        .assert_error(400, 10005);

    // Cursor pagination, today's {buckets: [...]} shape.
    let p1 = c.get(&format!("{base}?per_page=2")).await.json();
    assert_eq!(p1["result"]["buckets"].as_array().unwrap().len(), 2);
    let cursor = p1["result_info"]["cursor"].as_str().unwrap();
    assert!(!cursor.is_empty());
    let p2 = c
        .get(&format!("{base}?per_page=2&cursor={cursor}"))
        .await
        .json();
    assert_eq!(p2["result"]["buckets"][0]["name"], "logs");
    assert_eq!(p2["result_info"]["cursor"], "");
    let f = c.get(&format!("{base}?name_contains=ack")).await.json();
    assert_eq!(f["result"]["buckets"][0]["name"], "backups");

    // Jurisdiction buckets are separate.
    let eu = c
        .req(Method::POST, &base)
        .header("cf-r2-jurisdiction", "eu")
        .json(&json!({"name": "assets"}));
    let r = c.send(Method::POST, &base, eu).await;
    assert_eq!(r.result()["jurisdiction"], "eu");

    let b = format!("{base}/assets");
    c.get(&format!("{b}/cors")).await.assert_error(404, 10059);
    let rules = json!({"rules": [{"allowed": {"origins": ["https://example.com"], "methods": ["GET", "PUT"]}, "maxAgeSeconds": 3600}]});
    assert_eq!(c.put(&format!("{b}/cors"), rules.clone()).await.status, 200);
    assert_eq!(c.get(&format!("{b}/cors")).await.result(), rules);
    c.json_invalid(
        Method::PUT,
        &format!("{b}/cors"),
        json!({"rules": [{"allowed": {"origins": ["*"], "methods": ["PATCH"]}}]}),
    )
    .await
    .assert_error(400, 10063);
    assert_eq!(c.delete(&format!("{b}/cors")).await.status, 200);

    assert_eq!(
        c.get(&format!("{b}/lifecycle")).await.result(),
        json!({"rules": []})
    );
    let lc = json!({"rules": [{"id": "expire-tmp", "enabled": true, "conditions": {"prefix": "tmp/"}, "deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": 86400}}}]});
    assert_eq!(
        c.put(&format!("{b}/lifecycle"), lc.clone()).await.status,
        200
    );
    assert_eq!(c.get(&format!("{b}/lifecycle")).await.result(), lc);

    let patched = c
        .send(
            Method::PATCH,
            &b,
            c.req(Method::PATCH, &b)
                .header("cf-r2-storage-class", "InfrequentAccess"),
        )
        .await;
    assert_eq!(patched.result()["storage_class"], "InfrequentAccess");

    c.get(&format!("{base}/nope"))
        .await
        .assert_error(404, 10006);
    assert_eq!(c.delete(&format!("{base}/logs")).await.status, 200);
    c.get(&format!("{base}/logs"))
        .await
        .assert_error(404, 10006);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn objects_put_get_list_delete() {
    let c = Ctx::new().await;
    let base = format!("{}/r2/buckets", c.a());
    c.post(&base, json!({"name": "data"})).await.result();
    let o = format!("{base}/data/objects");

    // Keys with slashes go in the path verbatim, like wrangler sends them.
    let put = c
        .req(Method::PUT, &format!("{o}/dir/a.json"))
        .header("content-type", "application/json")
        .header("cache-control", "max-age=60")
        .header("x-amz-meta-owner", "alice")
        .body("{\"a\":1}");
    let r = c.send(Method::PUT, &format!("{o}/dir/a.json"), put).await;
    let res = r.result();
    assert_eq!(res["key"], "dir/a.json");
    assert_eq!(res["size"], "7");
    for k in ["dir/b.txt", "dir/sub/c.txt", "top.txt"] {
        c.raw(
            Method::PUT,
            &format!("{o}/{k}"),
            k.as_bytes().to_vec(),
            "text/plain",
        )
        .await
        .result();
    }

    let g = c.get(&format!("{o}/dir/a.json")).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.text(), "{\"a\":1}");
    assert_eq!(g.headers["content-type"], "application/json");
    assert_eq!(g.headers["cache-control"], "max-age=60");
    assert_eq!(g.headers["x-amz-meta-owner"], "alice");
    let etag = g.headers["etag"].to_str().unwrap().to_string();
    let cond = c
        .req(Method::GET, &format!("{o}/dir/a.json"))
        .header("if-none-match", etag);
    assert_eq!(
        c.send(Method::GET, &format!("{o}/dir/a.json"), cond)
            .await
            .status,
        304
    );

    let all = c.get(&o).await.json();
    let keys: Vec<&str> = all["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["dir/a.json", "dir/b.txt", "dir/sub/c.txt", "top.txt"]
    );
    assert_eq!(all["result"][0]["custom_metadata"]["owner"], "alice");

    let delim = c.get(&format!("{o}?prefix=dir/&delimiter=/")).await.json();
    assert_eq!(delim["result"].as_array().unwrap().len(), 2);
    assert_eq!(delim["result_info"]["delimited"], json!(["dir/sub/"]));

    // Paging by cursor visits every key once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let p = c
            .get(&format!("{o}?per_page=1&cursor={cursor}"))
            .await
            .json();
        for x in p["result"].as_array().unwrap() {
            seen.push(x["key"].as_str().unwrap().to_string());
        }
        cursor = p["result_info"]["cursor"].as_str().unwrap().to_string();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 4);

    // A bucket with objects cannot be deleted.
    c.delete(&format!("{base}/data"))
        .await
        .assert_error(409, 10008);
    assert_eq!(
        c.delete(&format!("{o}/dir/a.json")).await.result()["key"],
        "dir/a.json"
    );
    c.get(&format!("{o}/dir/a.json"))
        .await
        .assert_error(404, 10007);
    c.get(&format!("{base}/nope/objects/x"))
        .await
        .assert_error(404, 10006);
    c.emu.shutdown().await;
}
