use reqwest::StatusCode;
use serde_json::json;
use sv_emu_github::GithubState;

use crate::common::{json, link, links, start, start_at};

#[tokio::test]
async fn comment_lifecycle_has_github_shapes() {
    let emu = start(GithubState::new()).await;
    let created = emu
        .post(
            "/repos/acme/app/issues/7/comments",
            json!({ "body": "hello" }),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let c = created.json::<serde_json::Value>().await.unwrap();
    let id = c["id"].as_u64().unwrap();
    assert_eq!(
        location,
        emu.url(&format!("/repos/acme/app/issues/comments/{id}"))
    );
    assert_eq!(c["url"], location.as_str());
    assert_eq!(c["body"], "hello");
    assert_eq!(c["user"]["login"], "github-actions[bot]");
    assert_eq!(c["user"]["type"], "Bot");
    assert_eq!(c["issue_url"], emu.url("/repos/acme/app/issues/7").as_str());
    assert!(
        c["html_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/acme/app/pull/7#issuecomment-{id}"))
    );
    assert!(c["node_id"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(c["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(c["created_at"], c["updated_at"]);

    // Number 7 became an implicit pull request.
    let pr = json(emu.get("/repos/acme/app/issues/7").await, StatusCode::OK).await;
    assert!(pr["pull_request"].is_object());
    assert_eq!(pr["comments"], 1);

    let one = json(
        emu.get(&format!("/repos/acme/app/issues/comments/{id}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one, c);

    let updated = json(
        emu.patch(
            &format!("/repos/acme/app/issues/comments/{id}"),
            json!({ "body": "edited" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["body"], "edited");
    assert_eq!(updated["id"], id);

    let list = json(
        emu.get("/repos/acme/app/issues/7/comments").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["body"], "edited");

    let deleted = emu
        .delete(&format!("/repos/acme/app/issues/comments/{id}"))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = json(
        emu.get(&format!("/repos/acme/app/issues/comments/{id}"))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(gone["message"], "Not Found");
    assert_eq!(
        emu.delete(&format!("/repos/acme/app/issues/comments/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn comments_from_other_users_and_admin_pull() {
    let emu = start(GithubState::new()).await;
    let pr = json(
        emu.http
            .post(emu.url("/_admin/repos/acme/app/pulls"))
            .json(&json!({"title": "Add thing"}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let n = pr["number"].as_u64().unwrap();
    assert_eq!(n, 1);
    let added = json(
        emu.http
            .post(emu.url(&format!("/_admin/repos/acme/app/issues/{n}/comments")))
            .json(&json!({"user": "alice", "body": "LGTM"}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert!(added["id"].as_u64().is_some());
    let list = json(
        emu.get(&format!("/repos/acme/app/issues/{n}/comments"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list[0]["user"]["login"], "alice");
    assert_eq!(list[0]["user"]["type"], "User");
    assert_eq!(list[0]["author_association"], "CONTRIBUTOR");
    let issue = json(
        emu.get(&format!("/repos/acme/app/issues/{n}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(issue["title"], "Add thing");
    // A new issue takes the next number after the pull request.
    let next = json(
        emu.post("/repos/acme/app/issues", json!({"title": "x"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(next["number"], 2);
}

#[tokio::test]
async fn pagination_follows_github_link_headers() {
    let emu = start(GithubState::new()).await;
    for i in 0..75 {
        emu.state
            .add_comment_as("acme", "app", 3, "bob", &format!("c{i}"));
    }
    // Default page size 30.
    let first = emu.get("/repos/acme/app/issues/3/comments").await;
    let l = links(&first);
    assert_eq!(
        link(&l, "next"),
        Some(emu.url("/repos/acme/app/issues/3/comments?page=2").as_str())
    );
    assert_eq!(
        link(&l, "last"),
        Some(emu.url("/repos/acme/app/issues/3/comments?page=3").as_str())
    );
    assert_eq!(link(&l, "prev"), None);
    let body = json(first, StatusCode::OK).await;
    assert_eq!(body.as_array().unwrap().len(), 30);
    assert_eq!(body[0]["body"], "c0");

    // Other query parameters survive in the links; last page has prev/first only.
    let last = emu
        .get("/repos/acme/app/issues/3/comments?per_page=20&page=4")
        .await;
    let l = links(&last);
    assert_eq!(link(&l, "next"), None);
    assert_eq!(
        link(&l, "prev"),
        Some(
            emu.url("/repos/acme/app/issues/3/comments?per_page=20&page=3")
                .as_str()
        )
    );
    assert_eq!(
        link(&l, "first"),
        Some(
            emu.url("/repos/acme/app/issues/3/comments?per_page=20&page=1")
                .as_str()
        )
    );
    let body = json(last, StatusCode::OK).await;
    assert_eq!(body.as_array().unwrap().len(), 15);
    assert_eq!(body[14]["body"], "c74");

    // per_page is capped at 100, and a single page has no Link header.
    let all = emu
        .get("/repos/acme/app/issues/3/comments?per_page=500")
        .await;
    assert!(all.headers().get("link").is_none());
    assert_eq!(
        json(all, StatusCode::OK).await.as_array().unwrap().len(),
        75
    );

    // Past the end: an empty page.
    let past = json(
        emu.get("/repos/acme/app/issues/3/comments?page=9").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(past.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn works_without_a_prefix() {
    let emu = start_at(GithubState::new(), "").await;
    let c = json(
        emu.post("/repos/o/r/issues/1/comments", json!({"body": "x"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(
        c["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/repos/o/r/", emu.base))
    );
}

#[tokio::test]
async fn bad_comment_bodies_are_rejected_like_github() {
    let emu = start(GithubState::new()).await;
    let missing = json(
        emu.post("/repos/o/r/issues/1/comments", json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(missing["message"], "Validation Failed");
    assert_eq!(missing["errors"][0]["field"], "body");
    assert_eq!(missing["errors"][0]["code"], "missing_field");

    let wrong_type = json(
        emu.post("/repos/o/r/issues/1/comments", json!({"body": 5}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(wrong_type["errors"][0]["code"], "invalid");

    let not_json = emu
        .http
        .post(emu.url("/repos/o/r/issues/1/comments"))
        .bearer_auth("x")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(not_json, StatusCode::BAD_REQUEST).await["message"],
        "Problems parsing JSON"
    );

    // GitHub's limit is 65,536 characters, counted as characters, not bytes.
    let at_limit = "é".repeat(65_536);
    assert_eq!(
        emu.post("/repos/o/r/issues/1/comments", json!({"body": at_limit}))
            .await
            .status(),
        StatusCode::CREATED
    );
    let too_long = json(
        emu.post(
            "/repos/o/r/issues/1/comments",
            json!({"body": "a".repeat(65_537)}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        too_long["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("maximum is 65536 characters")
    );
}

#[tokio::test]
async fn unknown_things_are_github_404s() {
    let emu = start(GithubState::new()).await;
    for path in [
        "/repos/o/r/issues/5",
        "/repos/o/r/issues/comments/123",
        "/repos/o/r/issues/abc",
        "/repos/o/r/actions/artifacts/42",
        "/no/such/route",
    ] {
        let body = json(emu.get(path).await, StatusCode::NOT_FOUND).await;
        assert_eq!(body["message"], "Not Found", "{path}");
        assert!(body["documentation_url"].is_string(), "{path}");
    }
    assert_eq!(
        emu.patch("/repos/o/r/issues/comments/9", json!({"body": "x"}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}
