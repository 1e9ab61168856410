use std::collections::BTreeMap;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::{Ctx, Resp};

const MODULE: &str = "export default { async fetch(request, env) { return new Response('hi'); } };";

pub fn form(metadata: &Value, modules: &[(&str, &str)]) -> Form {
    let mut f = Form::new().part(
        "metadata",
        Part::text(metadata.to_string())
            .file_name("blob")
            .mime_str("application/json")
            .unwrap(),
    );
    for (name, src) in modules {
        f = f.part(
            (*name).to_string(),
            Part::text((*src).to_string())
                .file_name((*name).to_string())
                .mime_str("application/javascript+module")
                .unwrap(),
        );
    }
    f
}

pub async fn upload(c: &Ctx, name: &str, metadata: Value) -> Resp {
    let path = format!(
        "{}/workers/scripts/{name}?excludeScript=true&bindings_inherit=strict",
        c.a()
    );
    let rb = c
        .req(Method::PUT, &path)
        .multipart(form(&metadata, &[("index.js", MODULE)]));
    c.send(Method::PUT, &path, rb).await
}

pub async fn upload_version(c: &Ctx, name: &str, metadata: Value) -> Resp {
    let path = format!(
        "{}/workers/scripts/{name}/versions?bindings_inherit=strict",
        c.a()
    );
    let rb = c
        .req(Method::POST, &path)
        .multipart(form(&metadata, &[("index.js", MODULE)]));
    c.send(Method::POST, &path, rb).await
}

/// A request to the emulated Worker through its Host header.
pub async fn hit(c: &Ctx, host: &str, path: &str, extra: &[(&str, &str)]) -> (u16, String, String) {
    let mut rb = c
        .http
        .get(format!("{}{path}", c.emu.base_url))
        .header("host", host);
    for (k, v) in extra {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let version = r
        .headers()
        .get("x-sv-version-id")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, version, r.text().await.unwrap())
}

fn meta(response: Value) -> Value {
    json!({
        "main_module": "index.js",
        "compatibility_date": "2025-01-01",
        "bindings": [{"type": "plain_text", "name": "SV_RESPONSE", "text": response.to_string()}],
    })
}

#[tokio::test]
async fn upload_settings_secrets_and_download() {
    let c = Ctx::new().await;
    let ns = c
        .post(
            &format!("{}/storage/kv/namespaces", c.a()),
            json!({"title": "cache"}),
        )
        .await
        .result()["id"]
        .clone();
    let md = json!({
        "main_module": "index.js",
        "compatibility_date": "2025-01-01",
        "compatibility_flags": ["nodejs_compat"],
        "bindings": [
            {"type": "plain_text", "name": "GREETING", "text": "hello"},
            {"type": "kv_namespace", "name": "CACHE", "namespace_id": ns},
            {"type": "secret_text", "name": "API_KEY", "text": "s3cr3t-value"},
        ],
        "tags": ["team:web"],
    });
    let r = upload(&c, "api-worker", md).await;
    let res = r.result();
    assert_eq!(res["id"], "api-worker");
    assert!(res["deployment_id"].as_str().unwrap().len() == 36);
    assert_eq!(res["handlers"], json!(["fetch"]));

    let list = c.get(&format!("{}/workers/scripts", c.a())).await.result();
    assert_eq!(list[0]["id"], "api-worker");
    let svc = c
        .get(&format!("{}/workers/services/api-worker", c.a()))
        .await
        .result();
    assert_eq!(
        svc["default_environment"]["script"]["last_deployed_from"],
        "wrangler"
    );
    c.get(&format!("{}/workers/services/nope", c.a()))
        .await
        .assert_error(404, 10007);

    let sc = format!("{}/workers/scripts/api-worker", c.a());
    let settings = c.get(&format!("{sc}/settings")).await;
    assert!(
        !settings.text().contains("s3cr3t-value"),
        "secret value leaked: {}",
        settings.text()
    );
    let settings = settings.result();
    let names: Vec<&str> = settings["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["GREETING", "CACHE", "API_KEY"]);
    assert_eq!(settings["compatibility_flags"], json!(["nodejs_compat"]));

    let secrets = c.get(&format!("{sc}/secrets")).await;
    assert!(!secrets.text().contains("s3cr3t"));
    assert_eq!(
        secrets.result(),
        json!([{"name": "API_KEY", "type": "secret_text"}])
    );
    let put = c
        .put(
            &format!("{sc}/secrets"),
            json!({"name": "TOKEN", "text": "another-secret", "type": "secret_text"}),
        )
        .await;
    assert!(!put.text().contains("another-secret"));
    assert_eq!(put.result()["name"], "TOKEN");
    assert_eq!(
        c.get(&format!("{sc}/secrets/TOKEN")).await.result()["type"],
        "secret_text"
    );
    assert_eq!(c.delete(&format!("{sc}/secrets/TOKEN")).await.status, 200);
    c.get(&format!("{sc}/secrets/TOKEN"))
        .await
        .assert_error(404, 10056);
    let bulk = c
        .patch(
            &format!("{sc}-bulk").replace("api-worker-bulk", "api-worker/secrets-bulk"),
            json!({"secrets": {"A": {"text": "x", "type": "secret_text"}, "API_KEY": null}}),
        )
        .await;
    assert_eq!(bulk.result(), json!([{"name": "A", "type": "secret_text"}]));
    // Nothing anywhere in the model keeps a secret value.
    let snap = c.admin(Method::GET, "/snapshot", None).await.to_string();
    assert!(!snap.contains("s3cr3t-value") && !snap.contains("another-secret"));

    let dl = c.get(&format!("{sc}/content/v2")).await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.text(), MODULE);
    assert_eq!(dl.headers["cf-entrypoint"], "index.js");

    // script-settings and settings PATCH.
    let ss = c
        .patch(
            &format!("{sc}/script-settings"),
            json!({"logpush": true, "observability": {"enabled": true}}),
        )
        .await
        .result();
    assert_eq!(ss["logpush"], true);
    let patch_path = format!("{sc}/settings");
    let f = Form::new().part(
        "settings",
        Part::text(json!({"compatibility_date": "2025-06-01"}).to_string())
            .mime_str("application/json")
            .unwrap(),
    );
    let r = c
        .send(
            Method::PATCH,
            &patch_path,
            c.req(Method::PATCH, &patch_path).multipart(f),
        )
        .await
        .result();
    assert_eq!(r["compatibility_date"], "2025-06-01");
    let names: Vec<&str> = r["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["GREETING", "CACHE", "A"],
        "bindings (and current secrets) carried into the new version"
    );
    // `{type, name}` alone keeps an existing binding (how wrangler's secret bulk PATCHes).
    let f = Form::new().part(
        "settings",
        Part::text(json!({"bindings": [{"type": "plain_text", "name": "GREETING"}, {"type": "secret_text", "name": "NEW", "text": "zzz"}]}).to_string())
            .mime_str("application/json")
            .unwrap(),
    );
    let r = c
        .send(
            Method::PATCH,
            &patch_path,
            c.req(Method::PATCH, &patch_path).multipart(f),
        )
        .await
        .result();
    let greeting = r["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "GREETING")
        .unwrap()
        .clone();
    assert_eq!(greeting["text"], "hello", "kept with its value");
    assert!(c.get(&format!("{sc}/secrets/NEW")).await.status == 200);
    let versions = c.get(&format!("{sc}/versions")).await.result();
    assert!(versions["items"].as_array().unwrap().len() >= 2);

    // Upload errors.
    upload(&c, "Bad_Name", meta(json!({})))
        .await
        .assert_error(400, 10016);
    upload(&c, "w2", json!({"main_module": "missing.js"}))
        .await
        .assert_error(400, 10021);
    upload(&c, "w2", json!({"main_module": "index.js", "bindings": [{"type": "kv_namespace", "name": "X", "namespace_id": "00000000000000000000000000000000"}]})).await.assert_error(400, 10021);
    let path = format!("{}/workers/scripts/w2", c.a());
    let bad = Form::new().part("metadata", Part::text("{not json"));
    c.send(Method::PUT, &path, c.req(Method::PUT, &path).multipart(bad))
        .await
        .assert_error(400, 10021);
    c.raw(Method::PUT, &path, b"{}".to_vec(), "application/json")
        .await
        .assert_error(400, 6003);

    assert_eq!(c.delete(&sc).await.status, 200);
    c.get(&format!("{sc}/settings"))
        .await
        .assert_error(404, 10007);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn gradual_rollout_health_gate_and_rollback() {
    let c = Ctx::new().await;
    let sc = format!("{}/workers/scripts/web", c.a());
    let v1 = upload(&c, "web", meta(json!({"status": 200, "body": "v1"})))
        .await
        .result()["deployment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let host = "web.sv-emulator.workers.dev";
    let (status, ver, body) = hit(&c, host, "/", &[]).await;
    assert_eq!(
        (status, ver.as_str(), body.as_str()),
        (200, v1.as_str(), "v1")
    );

    // Version 2 is uploaded without traffic; it fails its health path.
    let v2r = upload_version(&c, "web", {
        let mut m = meta(json!({"status": 200, "body": "v2", "paths": {"/health": {"status": 503, "body": "unhealthy"}}}));
        m["annotations"] = json!({"workers/message": "second", "workers/tag": "v2"});
        m
    })
    .await
    .result();
    let v2 = v2r["id"].as_str().unwrap().to_string();
    assert_eq!(v2r["annotations"]["workers/tag"], "v2");
    assert_eq!(
        hit(&c, host, "/", &[]).await.2,
        "v1",
        "an uploaded version takes no traffic"
    );

    // 50/50 split: both versions answer over enough requests.
    let dep = c
        .post(&format!("{sc}/deployments"), json!({"strategy": "percentage", "versions": [{"version_id": v1, "percentage": 50}, {"version_id": v2, "percentage": 50}], "annotations": {"workers/message": "canary"}}))
        .await
        .result();
    assert_eq!(dep["versions"].as_array().unwrap().len(), 2);
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..60 {
        *counts.entry(hit(&c, host, "/", &[]).await.2).or_default() += 1;
    }
    assert!(
        counts.get("v1").copied().unwrap_or(0) > 5 && counts.get("v2").copied().unwrap_or(0) > 5,
        "{counts:?}"
    );
    // Pinning a version with Cloudflare's override header (how a health gate probes it).
    let pin = format!("web=\"{v2}\"");
    let (status, ver, _) = hit(
        &c,
        host,
        "/health",
        &[("cloudflare-workers-version-overrides", &pin)],
    )
    .await;
    assert_eq!((status, ver.as_str()), (503, v2.as_str()));

    // Invalid splits.
    c.post(&format!("{sc}/deployments"), json!({"strategy": "percentage", "versions": [{"version_id": v1, "percentage": 60}, {"version_id": v2, "percentage": 30}]})).await.assert_error(400, 10214);
    c.post(&format!("{sc}/deployments"), json!({"strategy": "percentage", "versions": [{"version_id": "00000000-0000-4000-8000-000000000000", "percentage": 100}]})).await.assert_error(400, 10230);

    // Rollback: v1 at 100 %.
    let rb = c.post(&format!("{sc}/deployments"), json!({"strategy": "percentage", "versions": [{"version_id": v1, "percentage": 100}], "annotations": {"workers/message": "Rollback"}})).await.result();
    assert_eq!(rb["annotations"]["workers/triggered_by"], "rollback");
    for _ in 0..10 {
        assert_eq!(hit(&c, host, "/", &[]).await.2, "v1");
    }
    // v2 is no longer in the deployment: Cloudflare ignores an override naming it.
    let (_, ver, _) = hit(
        &c,
        host,
        "/",
        &[("cloudflare-workers-version-overrides", &pin)],
    )
    .await;
    assert_eq!(ver, v1);

    // 0 %: v2 joins the deployment without traffic; only the override reaches it.
    let staged = c.post(&format!("{sc}/deployments"), json!({"strategy": "percentage", "versions": [{"version_id": v1, "percentage": 100}, {"version_id": v2, "percentage": 0}]})).await.result();
    assert_eq!(staged["versions"][1]["percentage"], 0.0);
    for _ in 0..20 {
        assert_eq!(hit(&c, host, "/", &[]).await.2, "v1");
    }
    let (_, ver, _) = hit(
        &c,
        host,
        "/",
        &[("cloudflare-workers-version-overrides", &pin)],
    )
    .await;
    assert_eq!(ver, v2);
    let rb = c.post(&format!("{sc}/deployments"), json!({"strategy": "percentage", "versions": [{"version_id": v1, "percentage": 100}], "annotations": {"workers/message": "Rollback"}})).await.result();
    let deps = c.get(&format!("{sc}/deployments")).await.result();
    assert_eq!(deps["deployments"][0]["id"], rb["id"], "newest first");
    let one = c
        .get(&format!("{sc}/deployments/{}", dep["id"].as_str().unwrap()))
        .await
        .result();
    assert_eq!(one["id"], dep["id"]);
    c.delete(&format!("{sc}/deployments/{}", rb["id"].as_str().unwrap()))
        .await
        .assert_error(400, 10228);

    // A secret change blocks deploying older versions unless forced (code 10220).
    c.put(
        &format!("{sc}/secrets"),
        json!({"name": "K", "text": "v", "type": "secret_text"}),
    )
    .await
    .result();
    let body =
        json!({"strategy": "percentage", "versions": [{"version_id": v2, "percentage": 100}]});
    c.post(&format!("{sc}/deployments"), body.clone())
        .await
        .assert_error(400, 10220);
    assert_eq!(
        c.post(&format!("{sc}/deployments?force=true"), body)
            .await
            .status,
        200
    );
    assert_eq!(hit(&c, host, "/", &[]).await.2, "v2");

    let v = c.get(&format!("{sc}/versions/{v2}")).await.result();
    assert_eq!(v["id"], v2);
    c.get(&format!(
        "{sc}/versions/00000000-0000-4000-8000-000000000000"
    ))
    .await
    .assert_error(404, 10230);
    upload_version(&c, "ghost", meta(json!({})))
        .await
        .assert_error(404, 10007);
    c.emu.shutdown().await;
}

#[tokio::test]
async fn triggers_routes_domains_subdomains() {
    let c = Ctx::new().await;
    upload(&c, "edge", meta(json!({"body": "edge!"})))
        .await
        .result();
    let sc = format!("{}/workers/scripts/edge", c.a());

    // Cron triggers.
    let s = c
        .put(
            &format!("{sc}/schedules"),
            json!([{"cron": "*/30 * * * *"}, {"cron": "0 3 * * *"}]),
        )
        .await
        .result();
    assert_eq!(s["schedules"].as_array().unwrap().len(), 2);
    assert_eq!(
        c.get(&format!("{sc}/schedules")).await.result()["schedules"][0]["cron"],
        "*/30 * * * *"
    );
    c.put(&format!("{sc}/schedules"), json!([{"cron": "every day"}]))
        .await
        .assert_error(400, 10100);
    assert_eq!(
        c.put(&format!("{sc}/schedules"), json!([])).await.result()["schedules"],
        json!([])
    );

    // workers.dev per script and for the account.
    assert_eq!(
        c.get(&format!("{sc}/subdomain")).await.result()["enabled"],
        true
    );
    c.post(
        &format!("{sc}/subdomain"),
        json!({"enabled": false, "previews_enabled": false}),
    )
    .await
    .result();
    assert_eq!(
        hit(&c, "edge.sv-emulator.workers.dev", "/", &[]).await.0,
        404
    );
    c.post(
        &format!("{sc}/subdomain"),
        json!({"enabled": true, "previews_enabled": true}),
    )
    .await
    .result();
    assert_eq!(
        hit(&c, "edge.sv-emulator.workers.dev", "/", &[]).await.2,
        "edge!"
    );
    let sub = format!("{}/workers/subdomain", c.a());
    assert_eq!(c.get(&sub).await.result()["subdomain"], "sv-emulator");
    c.get(&format!("{}/workers/subdomains/sv-emulator", c.a()))
        .await
        .assert_error(409, 10031);
    c.get(&format!("{}/workers/subdomains/free-name", c.a()))
        .await
        .assert_error(404, 10032);
    assert_eq!(
        c.put(&sub, json!({"subdomain": "renamed"})).await.result()["subdomain"],
        "renamed"
    );
    assert_eq!(
        hit(&c, "edge.renamed.workers.dev", "/", &[]).await.2,
        "edge!"
    );

    // Zone routes.
    let routes = format!("{}/workers/routes", c.z());
    let r = c
        .post(
            &routes,
            json!({"pattern": "example.com/api/*", "script": "edge"}),
        )
        .await
        .result();
    c.post(
        &routes,
        json!({"pattern": "example.com/api/*", "script": "edge"}),
    )
    .await
    .assert_error(409, 10020);
    c.post(&routes, json!({"pattern": "other.org/*", "script": "edge"}))
        .await
        .assert_error(400, 10022);
    assert_eq!(hit(&c, "example.com", "/api/users", &[]).await.2, "edge!");
    let rid = r["id"].as_str().unwrap();
    let upd = c
        .put(
            &format!("{routes}/{rid}"),
            json!({"pattern": "example.com/v2/*", "script": "edge"}),
        )
        .await
        .result();
    assert_eq!(upd["pattern"], "example.com/v2/*");
    assert_eq!(c.get(&routes).await.result().as_array().unwrap().len(), 1);
    assert_eq!(c.delete(&format!("{routes}/{rid}")).await.status, 200);
    c.get(&format!("{routes}/{rid}"))
        .await
        .assert_error(404, 10020);

    // wrangler's bulk form.
    let bulk = c
        .put(
            &format!("{sc}/routes"),
            json!([{"pattern": "shop.example.com/*", "zone_name": "example.com"}]),
        )
        .await
        .result();
    assert_eq!(bulk[0]["zone_id"], c.emu.zone_id.as_str());
    assert_eq!(hit(&c, "shop.example.com", "/cart", &[]).await.2, "edge!");

    // Custom domains.
    let doms = format!("{}/workers/domains", c.a());
    let d = c.put(&doms, json!({"hostname": "app.example.com", "service": "edge", "environment": "production", "zone_id": c.emu.zone_id})).await.result();
    assert_eq!(hit(&c, "app.example.com", "/", &[]).await.2, "edge!");
    assert_eq!(
        c.get(&format!("{doms}?hostname=app.example.com"))
            .await
            .result()[0]["id"],
        d["id"]
    );
    let did = d["id"].as_str().unwrap();
    assert_eq!(
        c.get(&format!("{doms}/{did}")).await.result()["service"],
        "edge"
    );
    c.put(&doms, json!({"hostname": "app.other.org", "service": "edge", "environment": "production", "zone_id": c.emu.zone_id})).await.assert_error(400, 100117);
    let recs = c
        .put(
            &format!("{sc}/domains/records"),
            json!({"override_scope": true, "origins": [{"hostname": "api.example.com"}]}),
        )
        .await
        .result();
    assert_eq!(recs[0]["hostname"], "api.example.com");
    assert_eq!(c.delete(&format!("{doms}/{did}")).await.status, 200);
    assert_ne!(hit(&c, "app.example.com", "/", &[]).await.2, "edge!");
    c.emu.shutdown().await;
}

#[tokio::test]
async fn static_assets_upload_and_serving() {
    let c = Ctx::new().await;
    let a = c.a();
    let session = c
        .post(
            &format!("{a}/workers/scripts/site/assets-upload-session"),
            json!({"manifest": {"/index.html": {"hash": "0123456789abcdef0123456789abcdef", "size": 12}, "/app.css": {"hash": "fedcba9876543210fedcba9876543210", "size": 6}}}),
        )
        .await
        .result();
    assert_eq!(session["buckets"][0].as_array().unwrap().len(), 2);
    let jwt = session["jwt"].as_str().unwrap().to_string();
    let form = Form::new()
        .part(
            "0123456789abcdef0123456789abcdef",
            Part::text("PGgxPnNpdGU8L2gxPg==")
                .file_name("0123456789abcdef0123456789abcdef")
                .mime_str("text/html")
                .unwrap(),
        )
        .part(
            "fedcba9876543210fedcba9876543210",
            Part::text("Ym9keXt9")
                .file_name("fedcba9876543210fedcba9876543210")
                .mime_str("text/css")
                .unwrap(),
        );
    let path = format!("{a}/workers/assets/upload?base64=true");
    let done = c
        .send(
            Method::POST,
            &path,
            c.http.post(c.url(&path)).bearer_auth(&jwt).multipart(form),
        )
        .await
        .result();
    let completion = done["jwt"].as_str().unwrap().to_string();
    // The API token is not a session token.
    let r = c
        .send(
            Method::POST,
            &path,
            c.req(Method::POST, &path)
                .multipart(Form::new().text("x", "y")),
        )
        .await;
    r.assert_error(401, 8000013);

    let md = json!({"main_module": "index.js", "assets": {"jwt": completion, "config": {"html_handling": "auto-trailing-slash"}}, "bindings": [{"type": "assets", "name": "ASSETS"}, {"type": "plain_text", "name": "SV_BODY", "text": "from the worker"}]});
    upload(&c, "site", md).await.result();
    let host = "site.sv-emulator.workers.dev";
    assert_eq!(hit(&c, host, "/", &[]).await.2, "<h1>site</h1>");
    assert_eq!(hit(&c, host, "/app.css", &[]).await.2, "body{}");
    assert_eq!(hit(&c, host, "/api/x", &[]).await.2, "from the worker");

    // Everything already uploaded: the session answers the completion token at once.
    let again = c
        .post(&format!("{a}/workers/scripts/site/assets-upload-session"), json!({"manifest": {"/index.html": {"hash": "0123456789abcdef0123456789abcdef", "size": 12}}}))
        .await
        .result();
    assert_eq!(again["buckets"], json!([]));
    let bad = json!({"main_module": "index.js", "assets": {"jwt": "not.a.jwt"}});
    upload(&c, "site", bad).await.assert_error(400, 10021);
    c.emu.shutdown().await;
}
