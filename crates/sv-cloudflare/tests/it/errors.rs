//! Cloudflare answers mapped onto the error categories.

use serde_json::json;
use sv_cloudflare::{Error, ErrorCategory, RetryPolicy};

use crate::support::{Reply, TestServer};

use ErrorCategory::{Authentication as Auth, Network, Resource};

/// (HTTP status, Cloudflare code, category, is_not_found, is_conflict)
const TABLE: &[(u16, i64, ErrorCategory, bool, bool)] = &[
    (401, 10000, Auth, false, false),
    (403, 10000, Auth, false, false),
    (401, 1000, Auth, false, false),
    (403, 9106, Auth, false, false),
    (403, 9109, Auth, false, false),
    (400, 6003, Auth, false, false),
    (403, 10003, Auth, false, false),
    (404, 10007, Resource, true, false),
    (404, 10090, Resource, true, false),
    (404, 10013, Resource, true, false),
    (404, 10009, Resource, true, false),
    (404, 7404, Resource, true, false),
    (404, 10006, Resource, true, false),
    (404, 81044, Resource, true, false),
    (404, 8000007, Resource, true, false),
    (400, 7003, Resource, true, false),
    (400, 10014, Resource, false, true),
    (400, 7502, Resource, false, true),
    (409, 10073, Resource, false, true),
    (409, 10004, Resource, false, true),
    (409, 10008, Resource, false, true),
    (400, 81057, Resource, false, true),
    (400, 81053, Resource, false, true),
    (400, 10021, Resource, false, false),
    (400, 10063, Resource, false, false),
    (400, 10220, Resource, false, false),
    (400, 7500, Resource, false, false),
    (400, 7406, Resource, false, false),
    // R2's 10009 (too many buckets, 400) is not KV's 10009 (key not found, 404).
    (400, 10009, Resource, false, false),
    (429, 971, Network, false, false),
    (500, 0, Network, false, false),
    (502, 0, Network, false, false),
    (503, 8000000, Network, false, false),
];

#[tokio::test]
async fn status_and_code_table() {
    let server = TestServer::start(|seen, _| {
        // Path: /client/v4/zones/<status>-<code>
        let case = seen.api_path().trim_start_matches("/zones/");
        let (status, code) = case.split_once('-').unwrap();
        Reply::err(
            status.parse().unwrap(),
            code.parse().unwrap(),
            "scripted failure",
        )
    })
    .await;
    let client = server.builder().retry(RetryPolicy::none()).build().unwrap();
    for &(status, code, category, not_found, conflict) in TABLE {
        let err = client
            .zones()
            .get(&format!("{status}-{code}"))
            .await
            .unwrap_err();
        let case = format!("HTTP {status} code {code}: {err}");
        assert_eq!(err.category(), category, "{case}");
        assert_eq!(err.is_not_found(), not_found, "{case}");
        assert_eq!(err.is_conflict(), conflict, "{case}");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status), "{case}");
        if code != 0 {
            assert!(err.has_code(code), "{case}");
            assert_eq!(err.api_errors()[0].code, code, "{case}");
            assert!(
                err.to_string()
                    .contains(&format!("[{code}] scripted failure")),
                "{case}"
            );
        }
        assert_eq!(err.is_rate_limited(), status == 429, "{case}");
    }
}

#[tokio::test]
async fn success_false_with_http_200_is_an_error_and_not_retried() {
    let server = TestServer::start(|_, _| {
        Reply::json(
            200,
            json!({"success": false, "errors": [{"code": 10014, "message": "a namespace with this account ID and title already exists"}], "messages": [], "result": null}),
        )
    })
    .await;
    let err = server
        .client()
        .kv()
        .create_namespace("dup")
        .await
        .unwrap_err();
    assert_eq!(server.count(), 1);
    assert_eq!(err.category(), ErrorCategory::Resource);
    assert!(err.is_conflict());
    assert_eq!(err.status().map(|s| s.as_u16()), Some(200));
    assert!(err.to_string().contains("[10014]"), "{err}");
}

#[tokio::test]
async fn error_chain_codes_count() {
    let server = TestServer::start(|_, _| {
        Reply::json(
            400,
            json!({"success": false, "errors": [{"code": 6003, "message": "Invalid request headers", "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}]}], "messages": [], "result": null}),
        )
    })
    .await;
    let err = server.client().user().get_user().await.unwrap_err();
    assert_eq!(err.codes(), vec![6003, 6111]);
    assert_eq!(err.category(), ErrorCategory::Authentication);
    assert!(err.to_string().contains("caused by [6111]"), "{err}");
}

#[tokio::test]
async fn non_json_error_bodies_keep_a_snippet() {
    let server =
        TestServer::start(|_, _| Reply::raw(404, "text/html", "<html>no route here</html>")).await;
    let err = server.client().zones().get("z").await.unwrap_err();
    assert!(err.is_not_found());
    match err {
        Error::Api {
            body_snippet,
            errors,
            ..
        } => {
            assert!(errors.is_empty());
            assert_eq!(body_snippet.as_deref(), Some("<html>no route here</html>"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_non_envelope_2xx_is_a_decode_error() {
    let server = TestServer::start(|_, _| Reply::json(200, json!({"id": "z1"}))).await;
    let err = server.client().zones().get("z1").await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!(err.category(), ErrorCategory::Network);
}

#[tokio::test]
async fn invalid_input_is_a_configuration_error_before_any_request() {
    let server = TestServer::start(|_, _| Reply::ok(json!(null))).await;
    let client = server.client();
    let err = client.kv().get_value("ns", "").await.unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Configuration);
    let err = client.zones().get("..").await.unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Configuration);
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn graphql_errors_arrive_with_http_200() {
    let server = TestServer::start(|_, _| {
        Reply::json(
            200,
            json!({"data": null, "errors": [{"message": "not authorized for that account", "path": ["viewer"], "extensions": {"code": "authz"}}]}),
        )
    })
    .await;
    let err = server
        .client()
        .graphql()
        .query::<serde_json::Value>("{ viewer { __typename } }", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::GraphQl { .. }), "{err:?}");
    assert_eq!(err.category(), ErrorCategory::Authentication);
    assert!(err.to_string().contains("not authorized"), "{err}");
}
