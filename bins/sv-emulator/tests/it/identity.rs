use reqwest::Method;
use serde_json::json;
use sv_emulator::Emulator;

use crate::common::Ctx;

#[tokio::test]
async fn token_verify_user_accounts_memberships() {
    let c = Ctx::new().await;
    let v = c.get("/user/tokens/verify").await;
    assert_eq!(v.status, 200);
    assert_eq!(v.result()["status"], "active");
    let v = c.get(&format!("{}/tokens/verify", c.a())).await;
    assert_eq!(v.result()["status"], "active");

    let u = c.get("/user").await.result();
    assert_eq!(u["email"], "dev@example.com");

    let accts = c.get("/accounts").await.json();
    assert_eq!(accts["result"][0]["id"], c.emu.account_id.as_str());
    assert_eq!(accts["result_info"]["total_count"], 1);
    assert_eq!(accts["result_info"]["page"], 1);
    // Past the last page: an empty page, never an error.
    let empty = c.get("/accounts?page=2").await.json();
    assert_eq!(empty["result"], json!([]));

    let m = c.get("/memberships").await.json();
    assert_eq!(m["result"][0]["account"]["id"], c.emu.account_id.as_str());
    let mid = m["result"][0]["id"].as_str().unwrap().to_string();
    let one = c.get(&format!("/memberships/{mid}")).await;
    assert_eq!(one.result()["status"], "accepted");

    let a = c.get(&c.a()).await.result();
    assert_eq!(a["name"], "sv-emulator account");
    c.emu.shutdown().await;
}

#[tokio::test]
async fn zones_lookup_like_wrangler() {
    let c = Ctx::new().await;
    let zones = c
        .get(&format!(
            "/zones?name=api.example.com&account.id={}",
            c.emu.account_id
        ))
        .await
        .json();
    assert_eq!(zones["result"], json!([]), "subdomain is not a zone");
    let zones = c.get("/zones?name=example.com").await.json();
    assert_eq!(zones["result"][0]["id"], c.emu.zone_id.as_str());
    let zones = c.get("/zones?name=contains:xampl").await.json();
    assert_eq!(zones["result_info"]["count"], 1);
    let z = c.get(&c.z()).await.result();
    assert_eq!(z["name"], "example.com");
    c.emu.shutdown().await;
}

#[tokio::test]
async fn unknown_ids_and_routes() {
    let c = Ctx::new().await;
    c.get("/accounts/0123456789abcdef0123456789abcdef")
        .await
        .assert_error(403, 9109);
    c.get("/accounts/not-an-id/storage/kv/namespaces")
        .await
        .assert_error(400, 7003);
    c.get("/zones/0123456789abcdef0123456789abcdef")
        .await
        .assert_error(400, 7003);
    let r = c.req(Method::GET, "/no/such/route").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["errors"][0]["code"], 7000);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn auth_with_fixed_token() {
    let c = Ctx::with(Emulator::builder().in_memory().token("right")).await;
    // Ctx sends "test-token": wrong.
    c.get("/accounts").await.assert_error(403, 10000);
    c.get("/user/tokens/verify").await.assert_error(401, 1000);
    let ok = c
        .http
        .get(c.url("/user/tokens/verify"))
        .bearer_auth("right")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let missing = c.http.get(c.url("/accounts")).send().await.unwrap();
    assert_eq!(missing.status(), 400);
    let j: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(j["errors"][0]["code"], 9106);
    let malformed = c
        .http
        .get(c.url("/accounts"))
        .header("authorization", "Bearer Bearer right")
        .send()
        .await
        .unwrap();
    let j: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(j["errors"][0]["code"], 6003);
    assert_eq!(j["errors"][0]["error_chain"][0]["code"], 6111);
    c.emu.shutdown().await;
}
