use reqwest::StatusCode;
use serde_json::json;
use sv_emu_github::GithubState;

use crate::common::{json, start};

#[tokio::test]
async fn required_token_gets_bad_credentials_otherwise() {
    let emu = start(GithubState::new().with_token("s3cret")).await;
    let wrong = emu
        .http
        .get(emu.url("/repos/o/r/issues"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    let body = json(wrong, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["message"], "Bad credentials");
    assert!(body["documentation_url"].is_string());

    let anonymous = emu
        .http
        .get(emu.url("/repos/o/r/issues"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let bearer = emu
        .http
        .get(emu.url("/repos/o/r/issues"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let token = emu
        .http
        .get(emu.url("/repos/o/r/issues"))
        .header("authorization", "token s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);
    let basic = emu
        .http
        .get(emu.url("/repos/o/r/issues"))
        .basic_auth("x", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !format!("{:?}", emu.state).contains("s3cret"),
        "Debug must not show the token"
    );
}

#[tokio::test]
async fn any_token_accepted_but_writes_need_one() {
    let emu = start(GithubState::new()).await;
    let anonymous_read = emu
        .http
        .get(emu.url("/repos/o/r/issues"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_read.status(), StatusCode::OK);
    let anonymous_write = emu
        .http
        .post(emu.url("/repos/o/r/issues"))
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(anonymous_write, StatusCode::UNAUTHORIZED).await["message"],
        "Requires authentication"
    );
    assert_eq!(
        emu.http
            .get(emu.url("/user"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        emu.post("/repos/o/r/issues", json!({"title": "x"}))
            .await
            .status(),
        StatusCode::CREATED
    );

    let log = emu.state.requests();
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/github/repos/o/r/issues");
    assert!(!log[0].authorization);
    assert!(log[3].authorization);
}

#[tokio::test]
async fn admin_routes_need_no_token_and_are_not_logged() {
    let emu = start(GithubState::new().with_token("s3cret")).await;
    let r = emu
        .http
        .post(emu.url("/_admin/repos/o/r/pulls"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let log = json(
        emu.http
            .get(emu.url("/_admin/requests"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(log.as_array().unwrap().len(), 0);
    let bad = emu
        .http
        .post(emu.url("/_admin/repos/o/r/pulls"))
        .json(&json!({"bogus": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
