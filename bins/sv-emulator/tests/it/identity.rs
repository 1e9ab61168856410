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
    // A second zone through the admin surface; wrangler-style lookups find it.
    let added = c
        .admin(Method::POST, "/zones", Some(json!({"name": "other.org"})))
        .await;
    let zones = c.get("/zones?name=other.org").await.json();
    assert_eq!(zones["result"][0]["id"], added["id"]);
    assert_eq!(
        c.get("/zones").await.json()["result_info"]["total_count"],
        2
    );
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

#[tokio::test]
async fn minted_tokens_authenticate_roll_and_expire() {
    let c = Ctx::with(Emulator::builder().in_memory().seed(4).token("root-token")).await;
    let mut c = c;
    c.token = "root-token".into();
    let groups = c.get("/user/tokens/permission_groups").await.json();
    let workers = groups["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "Workers Scripts Write")
        .unwrap()["id"]
        .clone();
    let body = json!({
        "name": "dev-alice",
        "policies": [{"effect": "allow", "resources": {format!("com.cloudflare.api.account.{}", c.emu.account_id): "*"}, "permission_groups": [{"id": workers}]}],
    });
    let created = c.post("/user/tokens", body.clone()).await.result();
    let value = created["value"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(value.len(), 40);
    // The value is never shown again, nor stored.
    assert!(
        c.get(&format!("/user/tokens/{id}"))
            .await
            .result()
            .get("value")
            .is_none()
    );
    assert!(
        !c.admin(Method::GET, "/snapshot", None)
            .await
            .to_string()
            .contains(&value)
    );

    // The minted token works although --token is set, and verifies as itself.
    let as_minted = |v: &str| {
        c.http
            .get(c.url("/user/tokens/verify"))
            .bearer_auth(v.to_string())
    };
    let r: serde_json::Value = as_minted(&value)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["result"]["id"], id.as_str());

    // Disabled: refused.
    let mut upd = body.clone();
    upd["status"] = json!("disabled");
    assert_eq!(
        c.put(&format!("/user/tokens/{id}"), upd).await.result()["status"],
        "disabled"
    );
    assert_eq!(as_minted(&value).send().await.unwrap().status(), 401);
    let mut upd = body.clone();
    upd["status"] = json!("active");
    upd["expires_on"] = json!("2000-01-01T00:00:00Z");
    assert_eq!(
        c.put(&format!("/user/tokens/{id}"), upd).await.result()["status"],
        "expired"
    );
    let mut upd = body.clone();
    upd["status"] = json!("active");
    assert_eq!(
        c.put(&format!("/user/tokens/{id}"), upd).await.result()["status"],
        "active"
    );

    // Roll: new value works, old one does not.
    let rolled = c
        .put(&format!("/user/tokens/{id}/value"), json!({}))
        .await
        .result();
    let rolled = rolled.as_str().unwrap();
    assert_eq!(as_minted(rolled).send().await.unwrap().status(), 200);
    assert_eq!(as_minted(&value).send().await.unwrap().status(), 401);

    // Errors.
    let mut bad = body.clone();
    bad["policies"][0]["permission_groups"][0]["id"] = json!("00000000000000000000000000000000");
    c.post("/user/tokens", bad).await.assert_error(400, 1001);
    // The seeded token and the minted one.
    assert_eq!(
        c.get("/user/tokens").await.json()["result_info"]["total_count"],
        2
    );
    // The minted token's use was recorded (date granularity).
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let used = c.get(&format!("/user/tokens/{id}")).await.result();
    assert!(
        used["last_used_on"].as_str().unwrap().starts_with(&today),
        "{used}"
    );
    assert_eq!(
        c.delete(&format!("/user/tokens/{id}")).await.result()["id"],
        id.as_str()
    );
    c.get(&format!("/user/tokens/{id}"))
        .await
        .assert_error(404, 1004);
    assert_eq!(as_minted(rolled).send().await.unwrap().status(), 401);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn the_seeded_token_is_a_real_token_object() {
    let c = Ctx::with(Emulator::builder().in_memory().seed(5).token("root-token")).await;
    let mut c = c;
    c.token = "root-token".into();
    let id = c.get("/user/tokens/verify").await.result()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = c.get(&format!("/user/tokens/{id}")).await.result();
    assert_eq!(t["id"], id.as_str());
    assert_eq!(t["status"], "active");
    assert!(t.get("value").is_none());
    // Every permission group the emulator knows, on the seeded account (and its zones, and
    // the user).
    let account_key = format!("com.cloudflare.api.account.{}", c.emu.account_id);
    let policies = t["policies"].as_array().unwrap();
    assert_eq!(policies[0]["effect"], "allow");
    assert_eq!(policies[0]["resources"][&account_key], "*");
    let names: Vec<&str> = policies
        .iter()
        .flat_map(|p| p["permission_groups"].as_array().unwrap())
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for g in [
        "D1 Write",
        "Workers KV Storage Write",
        "Workers R2 Storage Write",
        "DNS Write",
    ] {
        assert!(names.contains(&g), "{names:?}");
    }
    let all = c.get("/user/tokens/permission_groups").await.json();
    assert_eq!(names.len(), all["result"].as_array().unwrap().len());
    // Its use is recorded.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        t["last_used_on"].as_str().unwrap().starts_with(&today),
        "{t}"
    );
    // Listed; its value is configuration, so it cannot be rolled, edited or deleted.
    let list = c.get("/user/tokens").await.json();
    assert_eq!(list["result"][0]["id"], id.as_str());
    c.put(&format!("/user/tokens/{id}/value"), json!({}))
        .await
        .assert_error(400, 1001);
    c.delete(&format!("/user/tokens/{id}"))
        .await
        .assert_error(400, 1001);
    c.emu.shutdown().await;
}
