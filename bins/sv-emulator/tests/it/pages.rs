use reqwest::Method;
use reqwest::multipart::Form;
use serde_json::json;

use crate::common::Ctx;

#[tokio::test]
async fn direct_upload_flow_and_deployments() {
    let c = Ctx::new().await;
    let projects = format!("{}/pages/projects", c.a());
    let p = c
        .post(
            &projects,
            json!({"name": "site", "production_branch": "main"}),
        )
        .await
        .result();
    assert_eq!(p["subdomain"], "site.pages.dev");
    c.post(
        &projects,
        json!({"name": "site", "production_branch": "main"}),
    )
    .await
    .assert_error(409, 8000002);
    c.get(&format!("{projects}/nope"))
        .await
        .assert_error(404, 8000007);
    let pp = format!("{projects}/site");

    let jwt = c.get(&format!("{pp}/upload-token")).await.result()["jwt"]
        .as_str()
        .unwrap()
        .to_string();
    let with_jwt = |path: &str, body: serde_json::Value| {
        c.http.post(c.url(path)).bearer_auth(&jwt).json(&body)
    };
    let hashes = json!({"hashes": ["aaaa", "bbbb"]});
    crate::common::validate_request(&Method::POST, "/pages/assets/check-missing", &hashes);
    let r = c
        .send(
            Method::POST,
            "/pages/assets/check-missing",
            with_jwt("/pages/assets/check-missing", hashes.clone()),
        )
        .await;
    assert_eq!(r.result(), json!(["aaaa", "bbbb"]));
    let upload = json!([{"key": "aaaa", "value": "PGgxPmhpPC9oMT4=", "base64": true, "metadata": {"contentType": "text/html"}}]);
    let r = c
        .send(
            Method::POST,
            "/pages/assets/upload",
            with_jwt("/pages/assets/upload", upload),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .send(
            Method::POST,
            "/pages/assets/check-missing",
            with_jwt("/pages/assets/check-missing", hashes.clone()),
        )
        .await;
    assert_eq!(r.result(), json!(["bbbb"]));
    assert_eq!(
        c.send(
            Method::POST,
            "/pages/assets/upsert-hashes",
            with_jwt("/pages/assets/upsert-hashes", hashes)
        )
        .await
        .status,
        200
    );
    // The API token is not an upload token.
    let r = c
        .send(
            Method::POST,
            "/pages/assets/check-missing",
            c.req(Method::POST, "/pages/assets/check-missing")
                .json(&json!({"hashes": []})),
        )
        .await;
    r.assert_error(401, 8000013);

    // Deploy with a manifest of uploaded hashes.
    let dpath = format!("{pp}/deployments");
    let deploy = |branch: &str| {
        Form::new()
            .text("manifest", r#"{"/index.html": "aaaa"}"#)
            .text("branch", branch.to_string())
            .text("commit_hash", "abc123")
            .text("commit_message", "deploy")
    };
    let prod = c
        .send(
            Method::POST,
            &dpath,
            c.req(Method::POST, &dpath).multipart(deploy("main")),
        )
        .await
        .result();
    assert_eq!(prod["environment"], "production");
    assert_eq!(prod["latest_stage"]["status"], "success");
    let prev = c
        .send(
            Method::POST,
            &dpath,
            c.req(Method::POST, &dpath).multipart(deploy("feature/x")),
        )
        .await
        .result();
    assert_eq!(prev["environment"], "preview");
    assert_eq!(prev["aliases"][0], "https://feature-x.site.pages.dev");
    let bad = Form::new().text("manifest", r#"{"/a.js": "never-uploaded"}"#);
    c.send(
        Method::POST,
        &dpath,
        c.req(Method::POST, &dpath).multipart(bad),
    )
    .await
    .assert_error(400, 8000016);

    let list = c.get(&format!("{dpath}?env=production")).await.json();
    assert_eq!(list["result_info"]["total_count"], 1);
    assert_eq!(list["result_info"]["total_pages"], 1);
    let one = c
        .get(&format!("{dpath}/{}", prod["id"].as_str().unwrap()))
        .await
        .result();
    assert_eq!(one["id"], prod["id"]);
    let logs = c
        .get(&format!(
            "{dpath}/{}/history/logs",
            prod["id"].as_str().unwrap()
        ))
        .await
        .result();
    assert!(logs["total"].as_u64().unwrap() >= 1);
    let rb = c
        .post(
            &format!("{dpath}/{}/rollback", prod["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(rb.result()["environment"], "production");
    let project = c.get(&pp).await.result();
    assert_eq!(project["canonical_deployment"]["id"], rb.result()["id"]);
    c.delete(&format!("{dpath}/{}", rb.result()["id"].as_str().unwrap()))
        .await
        .assert_error(400, 8000034);
    assert_eq!(
        c.delete(&format!("{dpath}/{}", prev["id"].as_str().unwrap()))
            .await
            .status,
        200
    );

    // Domains and project update/delete.
    let d = c
        .post(&format!("{pp}/domains"), json!({"name": "www.example.com"}))
        .await
        .result();
    assert_eq!(d["name"], "www.example.com");
    assert_eq!(d["status"], "active");
    // In the served zone: the zone is named.
    assert_eq!(d["zone_tag"], c.emu.zone_id.as_str());
    assert_eq!(d["validation_data"]["method"], "http");
    let elsewhere = c
        .post(
            &format!("{pp}/domains"),
            json!({"name": "Shop.Example.ORG"}),
        )
        .await
        .result();
    assert_eq!(elsewhere["name"], "shop.example.org");
    assert_eq!(elsewhere["zone_tag"], json!(null));
    // Adding it again, in any case: 400 + 8000018, as Cloudflare answers.
    c.post(&format!("{pp}/domains"), json!({"name": "WWW.example.com"}))
        .await
        .assert_error(400, 8000018);
    c.post(&format!("{pp}/domains"), json!({"name": "not a host"}))
        .await
        .assert_error(400, 8000000);
    let names = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(c.get(&format!("{pp}/domains")).await.result()),
        ["www.example.com", "shop.example.org"]
    );
    // The project lists its subdomain and custom domains.
    assert_eq!(
        c.get(&pp).await.result()["domains"],
        json!(["site.pages.dev", "www.example.com", "shop.example.org"])
    );
    assert_eq!(
        c.get(&format!("{pp}/domains/shop.example.org"))
            .await
            .result()["name"],
        "shop.example.org"
    );
    assert_eq!(
        c.delete(&format!("{pp}/domains/www.example.com"))
            .await
            .status,
        200
    );
    c.delete(&format!("{pp}/domains/www.example.com"))
        .await
        .assert_error(404, 8000021);
    c.get(&format!("{pp}/domains/www.example.com"))
        .await
        .assert_error(404, 8000021);
    assert_eq!(
        c.get(&pp).await.result()["domains"],
        json!(["site.pages.dev", "shop.example.org"])
    );
    let upd = c
        .patch(&pp, json!({"production_branch": "release"}))
        .await
        .result();
    assert_eq!(upd["production_branch"], "release");
    // A PATCH changes only what it names.
    assert_eq!(
        upd["domains"],
        json!(["site.pages.dev", "shop.example.org"])
    );
    assert_eq!(c.get(&pp).await.result()["production_branch"], "release");
    assert_eq!(c.delete(&pp).await.status, 200);
    c.get(&pp).await.assert_error(404, 8000007);
    c.emu.shutdown().await;
}
