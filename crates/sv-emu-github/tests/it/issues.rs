use reqwest::StatusCode;
use serde_json::json;
use sv_emu_github::GithubState;

use crate::common::{json, link, links, start};

#[tokio::test]
async fn issue_create_filter_close_reopen() {
    let emu = start(GithubState::new()).await;
    let created = emu
        .post(
            "/repos/acme/app/issues",
            json!({"title": "Drift in production", "body": "details", "labels": ["sv-drift", "infra"], "assignees": ["alice"]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let issue = created.json::<serde_json::Value>().await.unwrap();
    assert_eq!(issue["number"], 1);
    assert_eq!(issue["state"], "open");
    assert_eq!(issue["state_reason"], serde_json::Value::Null);
    assert_eq!(issue["labels"][0]["name"], "sv-drift");
    assert!(issue["labels"][0]["id"].as_u64().is_some());
    assert_eq!(issue["labels"][0]["color"], "ededed");
    assert_eq!(issue["assignees"][0]["login"], "alice");
    assert_eq!(issue["assignee"]["login"], "alice");
    assert_eq!(issue["html_url"], emu.url("/acme/app/issues/1").as_str());
    assert!(issue.get("pull_request").is_none());

    emu.post(
        "/repos/acme/app/issues",
        json!({"title": "Other", "labels": ["infra"]}),
    )
    .await;

    let drift = json(
        emu.get("/repos/acme/app/issues?labels=sv-drift").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(drift.as_array().unwrap().len(), 1);
    let both = json(
        emu.get("/repos/acme/app/issues?labels=infra,SV-DRIFT")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(both.as_array().unwrap().len(), 1);
    let infra = json(
        emu.get("/repos/acme/app/issues?labels=infra").await,
        StatusCode::OK,
    )
    .await;
    // Newest first, as GitHub lists.
    assert_eq!(infra[0]["number"], 2);
    assert_eq!(infra[1]["number"], 1);

    let closed = json(
        emu.patch("/repos/acme/app/issues/1", json!({"state": "closed"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["state_reason"], "completed");
    assert!(closed["closed_at"].is_string());
    assert_eq!(closed["closed_by"]["login"], "github-actions[bot]");

    let open = json(
        emu.get("/repos/acme/app/issues?labels=sv-drift").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        open.as_array().unwrap().len(),
        0,
        "closed issues are not listed by default"
    );
    let closed_list = json(
        emu.get("/repos/acme/app/issues?labels=sv-drift&state=closed")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(closed_list.as_array().unwrap().len(), 1);
    let all = json(
        emu.get("/repos/acme/app/issues?state=all").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 2);

    let reopened = json(
        emu.patch(
            "/repos/acme/app/issues/1",
            json!({"state": "open", "title": "Drift again", "labels": ["sv-drift"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(reopened["state"], "open");
    assert_eq!(reopened["state_reason"], "reopened");
    assert_eq!(reopened["closed_at"], serde_json::Value::Null);
    assert_eq!(reopened["title"], "Drift again");
    assert_eq!(reopened["body"], "details", "body untouched when not sent");
    assert_eq!(reopened["labels"].as_array().unwrap().len(), 1);

    let one = json(emu.get("/repos/acme/app/issues/1").await, StatusCode::OK).await;
    assert_eq!(one, reopened);
}

#[tokio::test]
async fn issue_validation_errors() {
    let emu = start(GithubState::new()).await;
    let no_title = json(
        emu.post("/repos/o/r/issues", json!({"body": "x"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(no_title["errors"][0]["field"], "title");
    assert_eq!(no_title["errors"][0]["resource"], "Issue");
    let bad_labels = json(
        emu.post("/repos/o/r/issues", json!({"title": "t", "labels": "x"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad_labels["errors"][0]["field"], "labels");
    emu.post("/repos/o/r/issues", json!({"title": "t"})).await;
    let bad_state = json(
        emu.patch("/repos/o/r/issues/1", json!({"state": "merged"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad_state["errors"][0]["field"], "state");
    let bad_reason = json(
        emu.patch(
            "/repos/o/r/issues/1",
            json!({"state": "closed", "state_reason": "bored"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad_reason["errors"][0]["field"], "state_reason");
    let bad_filter = emu.get("/repos/o/r/issues?state=merged").await;
    assert_eq!(bad_filter.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let long = json(
        emu.post(
            "/repos/o/r/issues",
            json!({"title": "t", "body": "b".repeat(65_537)}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(long["errors"][0]["field"], "body");
}

#[tokio::test]
async fn issue_list_pages() {
    let emu = start(GithubState::new()).await;
    for i in 0..5 {
        emu.post("/repos/o/r/issues", json!({"title": format!("i{i}")}))
            .await;
    }
    let page = emu
        .get("/repos/o/r/issues?state=all&per_page=2&page=2")
        .await;
    let l = links(&page);
    assert_eq!(
        link(&l, "next"),
        Some(
            emu.url("/repos/o/r/issues?state=all&per_page=2&page=3")
                .as_str()
        )
    );
    assert_eq!(
        link(&l, "last"),
        Some(
            emu.url("/repos/o/r/issues?state=all&per_page=2&page=3")
                .as_str()
        )
    );
    assert_eq!(
        link(&l, "prev"),
        Some(
            emu.url("/repos/o/r/issues?state=all&per_page=2&page=1")
                .as_str()
        )
    );
    let body = json(page, StatusCode::OK).await;
    let numbers: Vec<u64> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![3, 2]);
}

#[tokio::test]
async fn user_and_repo() {
    let emu = start(GithubState::new()).await;
    let user = json(emu.get("/user").await, StatusCode::OK).await;
    assert_eq!(user["login"], "github-actions[bot]");
    assert_eq!(user["id"], 41_898_282);
    let repo = json(emu.get("/repos/Acme/App").await, StatusCode::OK).await;
    assert_eq!(repo["full_name"], "Acme/App");
    assert_eq!(repo["owner"]["login"], "Acme");
    assert!(repo["id"].as_u64().is_some());
}
