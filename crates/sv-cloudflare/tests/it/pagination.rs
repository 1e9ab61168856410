//! Page- and cursor-style lists.

use futures::TryStreamExt;
use serde_json::json;

use crate::support::{Reply, TestServer};

fn account(i: usize) -> serde_json::Value {
    json!({"id": format!("acc{i}"), "name": format!("Account {i}")})
}

#[tokio::test]
async fn page_style_follows_total_count_over_three_pages() {
    let server = TestServer::start(|seen, _| {
        let page: usize = seen.query_value("page").unwrap().parse().unwrap();
        let items: Vec<_> = (0..5).map(account).skip((page - 1) * 2).take(2).collect();
        let count = items.len();
        Reply::ok_info(
            json!(items),
            json!({"page": page, "per_page": 2, "count": count, "total_count": 5}),
        )
    })
    .await;
    let accounts: Vec<_> = server
        .client()
        .user()
        .accounts(None)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["acc0", "acc1", "acc2", "acc3", "acc4"]);
    let pages: Vec<_> = server
        .seen()
        .iter()
        .map(|s| s.query_value("page").unwrap())
        .collect();
    assert_eq!(pages, ["1", "2", "3"]);
    assert_eq!(
        server.seen()[0].query_value("per_page").as_deref(),
        Some("50")
    );
}

#[tokio::test]
async fn page_style_stops_on_an_empty_page() {
    // total_count overstates what exists; the empty third page ends the listing.
    let server = TestServer::start(|seen, _| {
        let page: usize = seen.query_value("page").unwrap().parse().unwrap();
        let items: Vec<_> = if page <= 2 {
            vec![account(page * 10), account(page * 10 + 1)]
        } else {
            vec![]
        };
        Reply::ok_info(
            json!(items),
            json!({"page": page, "per_page": 2, "count": items.len(), "total_count": 1000}),
        )
    })
    .await;
    let accounts: Vec<_> = server
        .client()
        .user()
        .accounts(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(accounts.len(), 4);
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn page_style_stops_when_the_server_ignores_page() {
    let server = TestServer::start(|_, _| {
        Reply::ok_info(
            json!([account(1), account(2)]),
            json!({"page": 1, "per_page": 2, "count": 2, "total_count": 10}),
        )
    })
    .await;
    let accounts: Vec<_> = server
        .client()
        .user()
        .accounts(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(
        server.count(),
        2,
        "page 2 was asked for, answered as page 1, and we stopped"
    );
}

#[tokio::test]
async fn worker_versions_use_result_items() {
    let server = TestServer::start(|seen, _| {
        let page: u64 = seen.query_value("page").unwrap().parse().unwrap();
        let items = if page == 1 {
            json!([{"id": "v2", "number": 2, "metadata": {"source": "wrangler", "hasPreview": false}}, {"id": "v1", "number": 1}])
        } else {
            json!([])
        };
        Reply::ok_info(json!({"items": items}), json!({"page": page, "per_page": 100, "count": 2}))
    })
    .await;
    let versions: Vec<_> = server
        .client()
        .workers()
        .list_versions("api", true)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].metadata.has_preview, Some(false));
    let first = &server.seen()[0];
    assert_eq!(
        first.api_path(),
        format!(
            "/accounts/{}/workers/scripts/api/versions",
            crate::support::ACCOUNT
        )
    );
    assert_eq!(first.query_value("deployable").as_deref(), Some("true"));
}

#[tokio::test]
async fn cursor_style_follows_the_cursor_until_empty() {
    let server = TestServer::start(|seen, _| {
        let (items, next) = match seen.query_value("cursor").as_deref() {
            None => (
                json!([{"name": "app:a"}, {"name": "app:b", "expiration": 1_900_000_000}]),
                "c1",
            ),
            Some("c1") => (json!([{"name": "app:c", "metadata": {"v": 1}}]), "c2"),
            Some("c2") => (json!([{"name": "app:d"}]), ""),
            Some(other) => panic!("unexpected cursor {other}"),
        };
        Reply::ok_info(items, json!({"count": 1, "cursor": next}))
    })
    .await;
    let keys: Vec<_> = server
        .client()
        .kv()
        .list_keys("ns1", Some("app:"))
        .try_collect()
        .await
        .unwrap();
    let names: Vec<_> = keys.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["app:a", "app:b", "app:c", "app:d"]);
    assert_eq!(keys[1].expiration, Some(1_900_000_000));
    assert_eq!(keys[2].metadata, Some(json!({"v": 1})));
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.query_value("prefix").as_deref(), Some("app:"));
    }
    assert_eq!(seen[1].query_value("cursor").as_deref(), Some("c1"));
}

#[tokio::test]
async fn cursor_that_does_not_advance_is_an_error_not_a_loop() {
    let server = TestServer::start(|_, _| {
        Reply::ok_info(
            json!({"buckets": [{"name": "b"}]}),
            json!({"cursor": "same"}),
        )
    })
    .await;
    let result: Result<Vec<_>, _> = server
        .client()
        .r2()
        .list_buckets(&Default::default())
        .try_collect()
        .await;
    let err = result.unwrap_err();
    assert!(err.to_string().contains("same cursor"), "{err}");
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn r2_buckets_use_todays_shape() {
    let server = TestServer::start(|seen, _| {
        let (buckets, cursor) = if seen.query_value("cursor").is_none() {
            (json!([{"name": "a", "location": "WEUR"}]), json!("n1"))
        } else {
            (json!([{"name": "b"}]), json!(null))
        };
        Reply::ok_info(
            json!({"buckets": buckets}),
            json!({"cursor": cursor, "per_page": 1}),
        )
    })
    .await;
    let buckets = sv_cloudflare::collect(server.client().r2().list_buckets(&Default::default()))
        .await
        .unwrap();
    let names: Vec<_> = buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(buckets[0].location.as_deref(), Some("WEUR"));
}

#[tokio::test]
async fn a_list_without_account_id_yields_a_configuration_error() {
    let server = TestServer::start(|_, _| Reply::ok(json!([]))).await;
    let client = sv_cloudflare::Client::builder(
        server.base_url(),
        sv_cloudflare::SecretString::from(crate::support::TOKEN),
    )
    .rate_limit(sv_cloudflare::RateLimiter::unlimited())
    .build()
    .unwrap();
    let err = client
        .kv()
        .list_namespaces()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.category(), sv_cloudflare::ErrorCategory::Configuration);
    assert!(err.to_string().contains("CLOUDFLARE_ACCOUNT_ID"), "{err}");
    assert_eq!(server.count(), 0);
}
