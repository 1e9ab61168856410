use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use sv_emu_github::GithubState;
use sv_github::{Error, ErrorCategory, Marker, RetryPolicy};

use crate::common::{client, serve, start_with};

const TOKEN: &str = "ghp_SUPERSECRET_do_not_print";

/// Display, Debug and every source in the chain.
fn all_text(e: &Error) -> String {
    let mut text = format!("{e}\n{e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!("\n{s}\n{s:?}"));
        source = s.source();
    }
    text
}

#[tokio::test]
async fn bad_credentials_are_a_clear_authentication_error() {
    let ctx = start_with(GithubState::new().with_token("the-right-one"), TOKEN).await;
    let e = ctx
        .gh
        .upsert_comment(1, &Marker::new("plan", "prod").unwrap(), "x")
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Authentication);
    let text = e.to_string();
    assert!(text.contains("HTTP 401: Bad credentials"), "{text}");
    assert!(text.contains("GITHUB_TOKEN"), "{text}");
    assert!(!all_text(&e).contains(TOKEN));
    assert!(!format!("{:?}", ctx.gh).contains(TOKEN));

    let e = ctx
        .gh
        .download_artifact(1, tempfile::tempdir().unwrap().path())
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Authentication);
    assert!(!all_text(&e).contains(TOKEN));
}

#[tokio::test]
async fn not_found_and_network_errors_never_show_the_token() {
    let ctx = start_with(GithubState::new(), TOKEN).await;
    let e = ctx.gh.get_issue(404).await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::NotFound);
    assert!(e.to_string().contains("read issue #404"), "{e}");
    assert!(!all_text(&e).contains(TOKEN));

    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let gh = client(&format!("http://{closed}/api/v3"), TOKEN);
    let e = gh.list_artifacts("").await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Network);
    assert!(!all_text(&e).contains(TOKEN));
    let e = gh
        .download_artifact(1, tempfile::tempdir().unwrap().path())
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Network);
    assert!(!all_text(&e).contains(TOKEN));
}

/// The storage URL GitHub redirects to is pre-signed: its query must not appear in errors.
#[tokio::test]
async fn signed_storage_url_is_redacted_in_errors() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let app = axum::Router::new().route(
        "/repos/acme/spacevision/actions/artifacts/{id}/zip",
        any(move || async move {
            (
                StatusCode::FOUND,
                [(
                    "location",
                    format!("http://{closed}/blob.zip?sig=SIGNATURE_SECRET"),
                )],
            )
        }),
    );
    let addr = serve(app).await;
    let gh = client(&format!("http://{addr}"), TOKEN);
    let e = gh
        .download_artifact(3, tempfile::tempdir().unwrap().path())
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Network);
    let text = all_text(&e);
    assert!(!text.contains("SIGNATURE_SECRET"), "{text}");
    assert!(text.contains("/blob.zip"), "{text}");
}

/// Status, headers and body of one scripted answer.
type Scripted = (u16, Vec<(&'static str, &'static str)>, &'static str);

/// A server answering each request with the next scripted response.
async fn scripted(responses: Vec<Scripted>) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let responses = Arc::new(responses);
    let app = axum::Router::new().fallback(any(move || {
        let counter = counter.clone();
        let responses = responses.clone();
        async move {
            let i = counter
                .fetch_add(1, Ordering::SeqCst)
                .min(responses.len() - 1);
            let (status, headers, body) = &responses[i];
            let mut map = HeaderMap::new();
            for (k, v) in headers {
                map.insert(*k, v.parse().unwrap());
            }
            map.insert("content-type", "application/json".parse().unwrap());
            (StatusCode::from_u16(*status).unwrap(), map, *body).into_response()
        }
    }));
    let addr = serve(app).await;
    (format!("http://{addr}/api/v3/"), hits)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let (base, hits) = scripted(vec![
        (
            429,
            vec![("retry-after", "0")],
            r#"{"message":"slow down"}"#,
        ),
        (502, vec![], r#"{"message":"Bad Gateway"}"#),
        (200, vec![], "[]"),
    ])
    .await;
    let gh = client(&base, TOKEN).with_retry(fast_retries());
    assert!(gh.list_issue_comments(1).await.unwrap().is_empty());
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn rate_limit_exhaustion_is_reported() {
    let (base, hits) = scripted(vec![(
        403,
        vec![("x-ratelimit-remaining", "0"), ("retry-after", "0")],
        r#"{"message":"API rate limit exceeded for installation ID 1."}"#,
    )])
    .await;
    let gh = client(&base, TOKEN).with_retry(fast_retries());
    let e = gh.list_artifacts("").await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::RateLimited);
    assert!(e.to_string().contains("API rate limit exceeded"), "{e}");
    assert_eq!(hits.load(Ordering::SeqCst), 4, "first attempt + 3 retries");
}

#[tokio::test]
async fn long_rate_limit_waits_fail_fast() {
    let (base, hits) = scripted(vec![(
        429,
        vec![("retry-after", "3600")],
        r#"{"message":"You have exceeded a secondary rate limit."}"#,
    )])
    .await;
    let gh = client(&base, TOKEN).with_retry(fast_retries());
    let e = gh.list_issue_comments(1).await.unwrap_err();
    assert!(
        matches!(&e, Error::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 3600),
        "{e:?}"
    );
    assert!(e.to_string().contains("retry after 3600s"), "{e}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "no point sleeping 30s to fail again"
    );
}

#[tokio::test]
async fn posts_are_not_repeated_after_a_server_error() {
    let (base, hits) = scripted(vec![(500, vec![], r#"{"message":"boom"}"#)]).await;
    let gh = client(&base, TOKEN).with_retry(fast_retries());
    let e = gh.comment_on_issue(1, "x").await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Api);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn validation_errors_carry_details_and_garbage_is_a_decode_error() {
    let (base, _) = scripted(vec![(
        422,
        vec![],
        r#"{"message":"Validation Failed","errors":[{"resource":"Issue","field":"assignees","code":"invalid"}]}"#,
    )])
    .await;
    let gh = client(&base, TOKEN);
    let e = gh
        .upsert_issue(&Marker::new("a", "b").unwrap(), "t", "b", &[], &[])
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Api { status: 422, .. }), "{e:?}");
    assert!(e.to_string().contains("Issue.assignees: invalid"), "{e}");

    let (base, _) = scripted(vec![(200, vec![], "<html>proxy login</html>")]).await;
    let e = client(&base, TOKEN)
        .list_issue_comments(1)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
}
