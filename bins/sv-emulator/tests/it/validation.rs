//! The `--validate-requests` mode: a request that breaks its operation's request schema is
//! answered with the distinctive 400 (code 99400) before any handler runs, logged and listed
//! by `/__admin/violations`; valid requests pass untouched; the admin toggle switches it.

use reqwest::Method;
use serde_json::json;
use sv_emulator::Emulator;
use sv_emulator::validation::{VIOLATION_CODE, VIOLATION_HEADER};

use crate::common::Ctx;
use crate::workers::form;

async fn validating() -> Ctx {
    Ctx::with(
        Emulator::builder()
            .in_memory()
            .seed(42)
            .validate_requests(true),
    )
    .await
}

#[tokio::test]
async fn bad_requests_are_caught_and_listed() {
    let c = validating().await;
    let ns = format!("{}/storage/kv/namespaces", c.a());

    // A valid body passes to the handler.
    let ok = c.post(&ns, json!({"title": "good"})).await;
    let id = ok.result()["id"].as_str().unwrap().to_string();

    // Wrong member name: `title` is required.
    let bad = c
        .json_invalid(Method::POST, &ns, json!({"name": "x"}))
        .await;
    bad.assert_error(400, VIOLATION_CODE);
    assert_eq!(bad.headers[VIOLATION_HEADER], "request-schema");
    let message = bad.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("POST /accounts/{account_id}/storage/kv/namespaces")
            && message.contains("title"),
        "{message}"
    );

    // No body at all where one with members is required.
    let empty = c
        .send(
            Method::POST,
            &ns,
            c.req(Method::POST, &ns).header("content-length", "0"),
        )
        .await;
    empty.assert_error(400, VIOLATION_CODE);

    // Query parameters: out of range, and undeclared.
    let keys = format!("{ns}/{id}/keys");
    c.get(&format!("{keys}?limit=5"))
        .await
        .assert_error(400, VIOLATION_CODE);
    c.get(&format!("{keys}?per_page=10"))
        .await
        .assert_error(400, VIOLATION_CODE);
    let fine = c.get(&format!("{keys}?limit=10&prefix=a")).await;
    assert_eq!(fine.status, 200);

    // Multipart: the `metadata` part of a script upload.
    let path = format!("{}/workers/scripts/w1", c.a());
    let rb = c.req(Method::PUT, &path).multipart(form(
        &json!({"main_module": 7}),
        &[("index.js", "export default {}")],
    ));
    c.send(Method::PUT, &path, rb)
        .await
        .assert_error(400, VIOLATION_CODE);
    let rb = c.req(Method::PUT, &path).multipart(form(
        &json!({"main_module": "index.js", "compatibility_date": "2024-09-01"}),
        &[("index.js", "export default {}")],
    ));
    assert_eq!(c.send(Method::PUT, &path, rb).await.status, 200);

    // Nothing was created by the refused requests.
    let list = c.get(&ns).await.result();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

    let report = c.admin(Method::GET, "/violations", None).await;
    assert_eq!(report["enabled"], true);
    assert_eq!(report["count"], 5, "{report}");
    let ops: Vec<&str> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "POST /accounts/{account_id}/storage/kv/namespaces",
            "POST /accounts/{account_id}/storage/kv/namespaces",
            "GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/keys",
            "GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/keys",
            "PUT /accounts/{account_id}/workers/scripts/{script_name}",
        ]
    );
    assert!(
        report["violations"][3]["errors"][0]
            .as_str()
            .unwrap()
            .contains("per_page"),
        "{report}"
    );
    c.admin(Method::DELETE, "/violations", None).await;
    assert_eq!(c.admin(Method::GET, "/violations", None).await["count"], 0);
}

#[tokio::test]
async fn the_admin_toggle_switches_the_mode() {
    let c = Ctx::new().await;
    let ns = format!("{}/storage/kv/namespaces", c.a());
    // Off (the library default): the handler answers with its own error.
    let r = c
        .json_invalid(Method::POST, &ns, json!({"name": "x"}))
        .await;
    assert_eq!(r.status, 400);
    assert_ne!(r.json()["errors"][0]["code"], VIOLATION_CODE);
    assert_eq!(c.admin(Method::GET, "/violations", None).await["count"], 0);

    let on = c
        .admin(
            Method::PUT,
            "/request-validation",
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(on["enabled"], true);
    c.json_invalid(Method::POST, &ns, json!({"name": "x"}))
        .await
        .assert_error(400, VIOLATION_CODE);
    assert_eq!(c.admin(Method::GET, "/violations", None).await["count"], 1);
}
