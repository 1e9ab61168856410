//! Request shapes of typed endpoints, checked by the server.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use serde_json::json;
use sv_cloudflare::ErrorCategory;
use sv_cloudflare::d1::{ExportOptions, ImportOptions};
use sv_cloudflare::kv::{KvBulkPair, KvPutOptions};
use sv_cloudflare::r2::{ObjectBody, PutObjectOptions};
use sv_cloudflare::workers::{Binding, Module, NewDeployment, UploadMetadata, WorkerUpload};

use crate::support::{ACCOUNT, Reply, TestServer};

fn module_upload() -> WorkerUpload {
    let mut annotations = BTreeMap::new();
    annotations.insert("workers/message".to_owned(), "canary".to_owned());
    WorkerUpload {
        metadata: UploadMetadata {
            main_module: Some("index.js".into()),
            compatibility_date: Some("2026-11-01".into()),
            compatibility_flags: vec!["nodejs_compat".into()],
            bindings: vec![
                Binding::kv_namespace("CACHE", "ns-1"),
                Binding::d1("DB", "db-uuid"),
                Binding::r2_bucket("ASSETS", "assets-bucket"),
                Binding::plain_text("MODE", "production"),
            ],
            annotations,
            ..UploadMetadata::default()
        },
        modules: vec![
            Module::esm(
                "index.js",
                "import { h } from './lib/util.js'; export default { fetch: h };",
            ),
            Module::esm("lib/util.js", "export const h = () => new Response('ok');"),
        ],
    }
}

async fn assert_module_parts(seen: &crate::support::Seen) {
    assert!(
        seen.header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary="),
        "{:?}",
        seen.header("content-type")
    );
    let parts = seen.multipart().await;
    let names: Vec<_> = parts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["metadata", "index.js", "lib/util.js"]);

    let (_, _, ct, data) = &parts[0];
    assert_eq!(ct.as_deref(), Some("application/json"));
    let meta: serde_json::Value = serde_json::from_slice(data).unwrap();
    assert_eq!(meta["main_module"], "index.js");
    assert_eq!(meta["compatibility_date"], "2026-11-01");
    assert_eq!(meta["compatibility_flags"], json!(["nodejs_compat"]));
    assert_eq!(meta["annotations"]["workers/message"], "canary");
    assert_eq!(
        meta["bindings"],
        json!([
            {"type": "kv_namespace", "name": "CACHE", "namespace_id": "ns-1"},
            {"type": "d1", "name": "DB", "id": "db-uuid"},
            {"type": "r2_bucket", "name": "ASSETS", "bucket_name": "assets-bucket"},
            {"type": "plain_text", "name": "MODE", "text": "production"},
        ])
    );
    assert!(meta.get("body_part").is_none());

    for (name, file, ct, data) in &parts[1..] {
        assert_eq!(file.as_deref(), Some(name.as_str()));
        assert_eq!(ct.as_deref(), Some("application/javascript+module"));
        assert!(!data.is_empty());
    }
}

#[tokio::test]
async fn module_worker_version_upload_is_multipart_with_metadata() {
    let server = TestServer::start(|_, _| {
        Reply::ok(json!({
            "id": "ver-1", "number": 3,
            "metadata": {"source": "api", "hasPreview": false},
            "annotations": {"workers/message": "canary"},
            "resources": {"script": {"etag": "abc"}},
            "startup_time_ms": 7
        }))
    })
    .await;
    let version = server
        .client()
        .workers()
        .upload_version("api", &module_upload())
        .await
        .unwrap();
    assert_eq!(version.id, "ver-1");
    assert_eq!(version.startup_time_ms, Some(7));
    let seen = &server.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.api_path(),
        format!("/accounts/{ACCOUNT}/workers/scripts/api/versions")
    );
    assert_eq!(
        seen.query_value("bindings_inherit").as_deref(),
        Some("strict")
    );
    assert_module_parts(seen).await;
}

#[tokio::test]
async fn module_worker_script_upload_puts_the_same_parts() {
    let server = TestServer::start(|_, _| {
        Reply::ok(
            json!({"id": "api", "etag": "e1", "deployment_id": "dep-1", "startup_time_ms": 5}),
        )
    })
    .await;
    let result = server
        .client()
        .workers()
        .upload_script("api", &module_upload())
        .await
        .unwrap();
    assert_eq!(result.deployment_id.as_deref(), Some("dep-1"));
    let seen = &server.seen()[0];
    assert_eq!(seen.method, "PUT");
    assert_eq!(
        seen.api_path(),
        format!("/accounts/{ACCOUNT}/workers/scripts/api")
    );
    assert_eq!(seen.query_value("excludeScript").as_deref(), Some("true"));
    assert_module_parts(seen).await;
}

#[tokio::test]
async fn gradual_deployment_body_and_list_shape() {
    let server = TestServer::start(|seen, _| {
        if seen.method == "POST" {
            Reply::ok(json!({"id": "d2", "strategy": "percentage", "versions": seen.json()["versions"].clone()}))
        } else {
            Reply::ok(json!({"deployments": [
                {"id": "d1", "strategy": "percentage", "versions": [{"version_id": "v1", "percentage": 100.0}],
                 "annotations": {"workers/triggered_by": "upload"}}
            ]}))
        }
    })
    .await;
    let client = server.client();
    let current = client.workers().list_deployments("api").await.unwrap();
    assert_eq!(current[0].versions[0].version_id, "v1");
    let deployment = NewDeployment::split(&[("v1", 90.0), ("v2", 10.0)], Some("canary 10%"));
    let created = client
        .workers()
        .create_deployment("api", &deployment, true)
        .await
        .unwrap();
    assert_eq!(created.versions.len(), 2);
    let post = &server.seen()[1];
    assert_eq!(post.query_value("force").as_deref(), Some("true"));
    assert_eq!(
        post.json(),
        json!({"strategy": "percentage",
               "versions": [{"version_id": "v1", "percentage": 90.0}, {"version_id": "v2", "percentage": 10.0}],
               "annotations": {"workers/message": "canary 10%"}})
    );
}

#[tokio::test]
async fn kv_values_raw_and_with_metadata() {
    let server = TestServer::start(|seen, _| {
        if seen.method == "GET" {
            Reply::raw(200, "application/octet-stream", "hello").header("expiration", "1900000000")
        } else {
            Reply::ok(json!(null))
        }
    })
    .await;
    let kv = server.client();
    let kv = kv.kv();
    kv.put_value(
        "ns1",
        "a/b c",
        Bytes::from_static(b"\x00\x01raw"),
        &KvPutOptions::default(),
    )
    .await
    .unwrap();
    kv.put_value(
        "ns1",
        "k2",
        "text",
        &KvPutOptions {
            expiration_ttl: Some(120),
            metadata: Some(json!({"owner": "sv"})),
            ..KvPutOptions::default()
        },
    )
    .await
    .unwrap();
    let value = kv.get_value("ns1", "a/b c").await.unwrap();
    assert_eq!(value.bytes, Bytes::from_static(b"hello"));
    assert_eq!(value.expiration, Some(1_900_000_000));

    let seen = server.seen();
    let base = format!("/accounts/{ACCOUNT}/storage/kv/namespaces/ns1/values");
    assert_eq!(
        seen[0].api_path(),
        format!("{base}/a%2Fb%20c"),
        "keys are percent-encoded"
    );
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(seen[0].body, Bytes::from_static(b"\x00\x01raw"));

    assert_eq!(seen[1].api_path(), format!("{base}/k2"));
    assert_eq!(
        seen[1].query_value("expiration_ttl").as_deref(),
        Some("120")
    );
    let parts = seen[1].multipart().await;
    assert_eq!(parts[0].0, "value");
    assert_eq!(parts[0].3, Bytes::from_static(b"text"));
    assert_eq!(parts[1].0, "metadata");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&parts[1].3).unwrap(),
        json!({"owner": "sv"})
    );
}

#[tokio::test]
async fn kv_bulk_calls_are_chunked() {
    let server = TestServer::start(|seen, _| {
        let path = seen.api_path();
        if path.ends_with("/bulk/get") {
            let keys = seen.json()["keys"].as_array().unwrap().clone();
            let values: serde_json::Map<String, serde_json::Value> = keys
                .iter()
                .map(|k| {
                    let k = k.as_str().unwrap().to_owned();
                    let v = if k == "missing" { json!(null) } else { json!(format!("v-{k}")) };
                    (k, v)
                })
                .collect();
            Reply::ok(json!({"values": values}))
        } else if path.ends_with("/bulk/delete") {
            Reply::ok(json!({"successful_key_count": seen.json().as_array().unwrap().len(), "unsuccessful_keys": []}))
        } else {
            Reply::ok(json!(null))
        }
    })
    .await;
    let client = server.client();
    let pairs: Vec<KvBulkPair> = (0..2_500)
        .map(|i| KvBulkPair {
            key: format!("k{i}"),
            value: "dmFsdWU=".into(),
            expiration: None,
            expiration_ttl: None,
            metadata: None,
            base64: true,
        })
        .collect();
    let outcome = client
        .kv()
        .bulk_write_chunked("ns1", &pairs, 1_000)
        .await
        .unwrap();
    assert_eq!(outcome.requests, 3);
    assert_eq!(outcome.successful_key_count, 2_500);

    let keys: Vec<String> = (0..250)
        .map(|i| format!("k{i}"))
        .chain(["missing".into()])
        .collect();
    let deleted = client.kv().bulk_delete("ns1", &keys).await.unwrap();
    assert_eq!(deleted.successful_key_count, 251);

    let values = client.kv().bulk_get("ns1", &keys, false).await.unwrap();
    assert_eq!(values.len(), 251);
    assert_eq!(values["k7"].as_ref().unwrap().value, "v-k7");
    assert!(values["missing"].is_none());

    let seen = server.seen();
    let sizes: Vec<usize> = seen[..3]
        .iter()
        .map(|s| s.json().as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [1_000, 1_000, 500]);
    assert_eq!(seen[0].method, "PUT");
    assert_eq!(seen[0].json()[0]["base64"], true);
    assert_eq!(seen[3].method, "POST");
    assert!(seen[3].api_path().ends_with("/bulk/delete"));
    let get_sizes: Vec<usize> = seen[4..]
        .iter()
        .map(|s| s.json()["keys"].as_array().unwrap().len())
        .collect();
    assert_eq!(get_sizes, [100, 100, 51]);
    assert_eq!(seen[4].json()["type"], "text");
}

#[tokio::test]
async fn r2_objects_keep_slashes_and_send_metadata_headers() {
    let server = TestServer::start(|seen, _| match seen.method.as_str() {
        "PUT" => Reply::ok(json!({"key": "dir/sub file.txt", "size": "5", "etag": "e", "uploaded": "2026-11-25T00:00:00Z"})),
        "GET" => Reply::raw(200, "text/plain", "hello").header("x-amz-meta-owner", "sv"),
        _ => Reply::ok(json!({"key": "dir/sub file.txt"})),
    })
    .await;
    let client = server.client();
    let mut custom = BTreeMap::new();
    custom.insert("owner".to_owned(), "sv".to_owned());
    let put = client
        .r2()
        .put_object(
            "assets",
            "dir/sub file.txt",
            ObjectBody::from(b"hello".to_vec()),
            &PutObjectOptions {
                content_type: Some("text/plain".into()),
                cache_control: Some("max-age=60".into()),
                custom_metadata: custom,
                ..PutObjectOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(put.size, 5);

    let chunks = futures::stream::iter(vec![
        Ok::<_, std::io::Error>(Bytes::from_static(b"hel")),
        Ok(Bytes::from_static(b"lo")),
    ]);
    client
        .r2()
        .put_object(
            "assets",
            "streamed.bin",
            ObjectBody::from_stream(chunks, 5),
            &PutObjectOptions::default(),
        )
        .await
        .unwrap();

    let download = client
        .r2()
        .get_object("assets", "dir/sub file.txt", None)
        .await
        .unwrap();
    assert_eq!(
        download.custom_metadata().get("owner").map(String::as_str),
        Some("sv")
    );
    assert_eq!(
        download.bytes().await.unwrap(),
        Bytes::from_static(b"hello")
    );
    client
        .r2()
        .delete_object("assets", "dir/sub file.txt", None)
        .await
        .unwrap();

    let seen = server.seen();
    let path = format!("/accounts/{ACCOUNT}/r2/buckets/assets/objects/dir/sub%20file.txt");
    assert_eq!(seen[0].api_path(), path);
    assert_eq!(seen[0].header("content-type"), Some("text/plain"));
    assert_eq!(seen[0].header("cache-control"), Some("max-age=60"));
    assert_eq!(seen[0].header("x-amz-meta-owner"), Some("sv"));
    assert_eq!(seen[0].body, Bytes::from_static(b"hello"));
    assert_eq!(
        seen[1].body,
        Bytes::from_static(b"hello"),
        "streamed body arrives whole"
    );
    assert_eq!(seen[2].method, "GET");
    assert_eq!(seen[3].method, "DELETE");
    assert_eq!(seen[3].api_path(), path);
}

#[tokio::test]
async fn d1_export_polls_then_downloads_without_the_token() {
    let server = TestServer::start(|seen, i| {
        if seen.path.starts_with("/signed/") {
            return Reply::raw(200, "application/sql", "CREATE TABLE t(x);\nINSERT INTO t VALUES(1);\n");
        }
        let host = seen.header("host").unwrap().to_owned();
        match i {
            0 | 1 => Reply::json(
                202,
                json!({"success": true, "errors": [], "messages": [], "result": {
                    "success": true, "type": "export", "at_bookmark": format!("bm{i}"),
                    "status": "active", "messages": ["Uploaded part 1"]}}),
            ),
            _ => Reply::ok(json!({
                "success": true, "type": "export", "at_bookmark": "bm2", "status": "complete",
                "result": {"filename": "db.sql", "signed_url": format!("http://{host}/signed/db.sql?X-Amz-Signature=s3cr3t")}
            })),
        }
    })
    .await;
    let client = server.client();
    let options = ExportOptions {
        tables: vec!["t".into()],
        poll_interval: Duration::from_millis(10),
        ..ExportOptions::default()
    };
    let export = client.d1().export("db-uuid", &options).await.unwrap();
    assert_eq!(export.filename, "db.sql");
    assert_eq!(export.messages, ["Uploaded part 1", "Uploaded part 1"]);
    let body: Vec<Bytes> = client
        .d1()
        .download_export(&export)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        String::from_utf8(body.concat())
            .unwrap()
            .starts_with("CREATE TABLE t")
    );

    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    assert_eq!(
        seen[0].json(),
        json!({"output_format": "polling", "dump_options": {"tables": ["t"]}})
    );
    assert_eq!(seen[1].json()["current_bookmark"], "bm0");
    assert_eq!(seen[2].json()["current_bookmark"], "bm1");
    assert!(seen[0].header("authorization").is_some());
    assert_eq!(
        seen[3].header("authorization"),
        None,
        "signed URLs get no token"
    );
    assert!(
        sv_cloudflare::RedactedUrl::presigned(&export.signed_url)
            .to_string()
            .ends_with("/signed/db.sql?X-Amz-Signature=***")
    );
}

#[tokio::test]
async fn d1_import_uploads_checks_etag_and_polls() {
    const SQL: &str = "INSERT INTO t VALUES (1);";
    // md5 of SQL, as the upload target must echo it.
    let etag = {
        use md5::{Digest, Md5};
        format!("{:x}", Md5::digest(SQL.as_bytes()))
    };
    let etag_for_server = etag.clone();
    let server = TestServer::start(move |seen, _| {
        if seen.path.starts_with("/upload/") {
            return Reply::raw(200, "text/plain", "").header("etag", format!("\"{etag_for_server}\""));
        }
        let body = seen.json();
        let host = seen.header("host").unwrap().to_owned();
        let result = match body["action"].as_str().unwrap() {
            "init" => json!({"upload_url": format!("http://{host}/upload/x?sig=1"), "filename": "f.sql"}),
            "ingest" => json!({"status": "active", "at_bookmark": "b1"}),
            _ => json!({"status": "complete", "result": {"final_bookmark": "b2", "num_queries": 1, "meta": {"rows_written": 1}}}),
        };
        Reply::ok(result)
    })
    .await;
    let options = ImportOptions {
        poll_interval: Duration::from_millis(10),
        ..ImportOptions::default()
    };
    let result = server
        .client()
        .d1()
        .import("db-uuid", Bytes::from_static(SQL.as_bytes()), &options)
        .await
        .unwrap();
    assert_eq!(result.final_bookmark.as_deref(), Some("b2"));
    assert_eq!(result.num_queries, Some(1));
    let seen = server.seen();
    let actions: Vec<String> = seen
        .iter()
        .map(|s| {
            if s.path.starts_with("/upload/") {
                "upload".to_owned()
            } else {
                s.json()["action"].as_str().unwrap().to_owned()
            }
        })
        .collect();
    assert_eq!(actions, ["init", "upload", "ingest", "poll"]);
    assert_eq!(seen[0].json()["etag"], etag);
    assert_eq!(seen[1].body, Bytes::from_static(SQL.as_bytes()));
    assert_eq!(seen[1].header("authorization"), None);
    assert_eq!(seen[2].json()["filename"], "f.sql");
    assert_eq!(seen[3].json()["current_bookmark"], "b1");
}

#[tokio::test]
async fn d1_import_with_a_wrong_etag_is_a_state_error() {
    let server = TestServer::start(|seen, _| {
        if seen.path.starts_with("/upload/") {
            return Reply::raw(200, "text/plain", "").header("etag", "\"0000\"");
        }
        let host = seen.header("host").unwrap().to_owned();
        Reply::ok(json!({"upload_url": format!("http://{host}/upload/x"), "filename": "f.sql"}))
    })
    .await;
    let err = server
        .client()
        .d1()
        .import(
            "db-uuid",
            Bytes::from_static(b"SELECT 1;"),
            &ImportOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.category(), ErrorCategory::State);
    assert_eq!(server.count(), 2, "no ingest after a bad upload");
}

#[tokio::test]
async fn dns_bind_export_and_import() {
    let server = TestServer::start(|seen, _| {
        if seen.method == "GET" {
            Reply::raw(200, "text/plain", "example.com. 3600 IN A 192.0.2.1\n")
        } else {
            Reply::ok(json!({"recs_added": 1, "total_records_parsed": 1}))
        }
    })
    .await;
    let client = server.client();
    let zone_file = client.dns().export_bind("zone1").await.unwrap();
    assert!(zone_file.contains("192.0.2.1"));
    let imported = client
        .dns()
        .import_bind("zone1", zone_file, true)
        .await
        .unwrap();
    assert_eq!(imported.recs_added, 1);
    let seen = server.seen();
    assert_eq!(seen[0].api_path(), "/zones/zone1/dns_records/export");
    let parts = seen[1].multipart().await;
    assert_eq!(parts[0].0, "file");
    assert!(parts[0].3.starts_with(b"example.com."));
    assert_eq!(parts[1].0, "proxied");
    assert_eq!(parts[1].3, Bytes::from_static(b"true"));
}

#[tokio::test]
async fn graphql_invocations_helper() {
    let server = TestServer::start(|_, _| {
        Reply::json(
            200,
            json!({"data": {"viewer": {"accounts": [{"workersInvocationsAdaptive": [
            {"dimensions": {"scriptName": "api", "scriptVersion": "v2"},
             "sum": {"requests": 100, "errors": 2, "subrequests": 5},
             "quantiles": {"cpuTimeP50": 1.5, "cpuTimeP99": 9.0}}
        ]}]}}, "errors": null}),
        )
    })
    .await;
    let groups = server
        .client()
        .graphql()
        .worker_invocations(&sv_cloudflare::graphql::InvocationQuery {
            script_name: Some("api".into()),
            since: "2026-11-25T00:00:00Z".into(),
            until: "2026-11-25T01:00:00Z".into(),
            by_version: true,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(groups[0].sum.errors, 2);
    assert_eq!(groups[0].dimensions.script_version.as_deref(), Some("v2"));
    assert!((groups[0].quantiles.cpu_time_p99 - 9.0).abs() < f64::EPSILON);
    let seen = &server.seen()[0];
    assert_eq!(seen.api_path(), "/graphql");
    let body = seen.json();
    assert_eq!(body["variables"]["accountTag"], ACCOUNT);
    assert_eq!(body["variables"]["scriptName"], "api");
    assert!(
        body["query"]
            .as_str()
            .unwrap()
            .contains("workersInvocationsAdaptive")
    );
}

#[tokio::test]
async fn token_verification_falls_back_to_the_account_endpoint() {
    let server = TestServer::start(|seen, _| {
        if seen.api_path() == "/user/tokens/verify" {
            Reply::err(401, 1000, "Invalid API Token")
        } else {
            Reply::ok(json!({"id": "tok1", "status": "active"}))
        }
    })
    .await;
    let (owner, status) = server.client().user().verify_any().await.unwrap();
    assert_eq!(owner, sv_cloudflare::user::TokenOwner::Account);
    assert!(status.is_active());
    assert_eq!(
        server.seen()[1].api_path(),
        format!("/accounts/{ACCOUNT}/tokens/verify")
    );
}

#[tokio::test]
async fn zone_lookup_walks_up_the_hostname() {
    let server = TestServer::start(|seen, _| {
        let name = seen.query_value("name").unwrap();
        if name == "example.com" {
            Reply::ok_info(
                json!([{"id": "z1", "name": "example.com", "status": "active"}]),
                json!({"page": 1, "per_page": 50, "count": 1, "total_count": 1}),
            )
        } else {
            Reply::ok_info(
                json!([]),
                json!({"page": 1, "per_page": 50, "count": 0, "total_count": 0}),
            )
        }
    })
    .await;
    let zone = server
        .client()
        .zones()
        .find_for_hostname("api.eu.example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(zone.id, "z1");
    let names: Vec<_> = server
        .seen()
        .iter()
        .map(|s| s.query_value("name").unwrap())
        .collect();
    assert_eq!(
        names,
        ["api.eu.example.com", "eu.example.com", "example.com"]
    );
    assert_eq!(
        server.seen()[0].query_value("account.id").as_deref(),
        Some(ACCOUNT)
    );
}

#[tokio::test]
async fn pages_asset_calls_use_the_upload_jwt() {
    let server = TestServer::start(|seen, _| {
        if seen.api_path().ends_with("/upload-token") {
            Reply::ok(json!({"jwt": "upload.jwt.value"}))
        } else if seen.api_path() == "/pages/assets/check-missing" {
            Reply::ok(json!(["h2"]))
        } else {
            Reply::ok(json!(null))
        }
    })
    .await;
    let client = server.client();
    let jwt = client.pages().upload_token("site").await.unwrap();
    assert!(!format!("{jwt:?}").contains("upload.jwt.value"));
    let missing = client
        .pages()
        .check_missing_assets(&jwt, &["h1".into(), "h2".into()])
        .await
        .unwrap();
    assert_eq!(missing, ["h2"]);
    let asset = sv_cloudflare::pages::PagesAsset {
        hash: "h2".into(),
        content_type: "text/html".into(),
        content: Bytes::from_static(b"<h1>hi</h1>"),
    };
    let requests = client.pages().upload_assets(&jwt, &[asset]).await.unwrap();
    assert_eq!(requests, 1);
    client
        .pages()
        .upsert_asset_hashes(&jwt, &["h1".into(), "h2".into()])
        .await
        .unwrap();

    let seen = server.seen();
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {}", crate::support::TOKEN).as_str())
    );
    for s in &seen[1..] {
        assert_eq!(
            s.header("authorization"),
            Some("Bearer upload.jwt.value"),
            "{}",
            s.path
        );
    }
    assert_eq!(
        seen[2].json(),
        json!([{"key": "h2", "value": "PGgxPmhpPC9oMT4=", "metadata": {"contentType": "text/html"}, "base64": true}])
    );
    assert_eq!(seen[3].api_path(), "/pages/assets/upsert-hashes");
}

#[tokio::test]
async fn pages_project_update_and_domains() {
    use sv_cloudflare::pages::UpdateProject;
    let server = TestServer::start(|seen, _| match (seen.method.as_str(), seen.api_path()) {
        ("PATCH", _) => Reply::ok(
            json!({"name": "site", "production_branch": "release", "domains": ["site.pages.dev"]}),
        ),
        ("GET", _) => Reply::ok_info(
            json!([{"id": "d1", "name": "www.example.com", "status": "active", "zone_tag": "z1", "validation_data": {"method": "http"}}]),
            json!({"page": 1, "per_page": 100, "count": 1, "total_count": 1}),
        ),
        ("POST", _) if seen.json()["name"] == "dup.example.com" => Reply::err(
            400,
            8_000_018,
            "You have already added this custom domain.",
        ),
        ("POST", _) => Reply::ok(json!({"id": "d2", "name": seen.json()["name"], "status": "pending"})),
        _ => Reply::err(404, 8_000_021, "The domain could not be found."),
    })
    .await;
    let client = server.client();
    let pages = client.pages();
    let project = pages
        .update_project(
            "site",
            &UpdateProject {
                production_branch: Some("release".into()),
                ..UpdateProject::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(project.production_branch.as_deref(), Some("release"));
    let domains = pages.list_domains("site").await.unwrap();
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0].name, "www.example.com");
    assert_eq!(domains[0].zone_tag.as_deref(), Some("z1"));
    assert_eq!(domains[0].extra["validation_data"]["method"], "http");
    let added = pages.add_domain("site", "app.example.com").await.unwrap();
    assert_eq!(added.status.as_deref(), Some("pending"));
    let dup = pages
        .add_domain("site", "dup.example.com")
        .await
        .unwrap_err();
    assert!(dup.is_conflict(), "{dup}");
    assert!(dup.has_code(sv_cloudflare::pages::DOMAIN_ALREADY_ADDED));
    let missing = pages
        .delete_domain("site", "gone.example.com")
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");

    let seen = server.seen();
    let path = format!("/accounts/{ACCOUNT}/pages/projects/site");
    assert_eq!(seen[0].api_path(), path);
    // Only what changes is sent.
    assert_eq!(seen[0].json(), json!({"production_branch": "release"}));
    assert_eq!(seen[1].api_path(), format!("{path}/domains"));
    assert_eq!(seen[1].query, None);
    assert_eq!(seen[2].json(), json!({"name": "app.example.com"}));
    assert_eq!(seen[4].method.as_str(), "DELETE");
    assert_eq!(
        seen[4].api_path(),
        format!("{path}/domains/gone.example.com")
    );
}
