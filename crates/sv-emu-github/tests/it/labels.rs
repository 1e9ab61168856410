use reqwest::StatusCode;
use serde_json::json;
use sv_emu_github::GithubState;

use crate::common::{json, start};

fn names(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn labels_are_added_listed_and_removed_on_a_pull_request() {
    let emu = start(GithubState::new()).await;
    // An unknown number is an implicit pull request, as for comments.
    let added = json(
        emu.post(
            "/repos/acme/app/issues/7/labels",
            json!({"labels": ["sv:risky", "sv:changes"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&added), ["sv:risky", "sv:changes"]);
    assert!(added[0]["id"].as_u64().unwrap() > 0);
    // Adding again (any case) does not duplicate.
    let again = json(
        emu.post(
            "/repos/acme/app/issues/7/labels",
            json!({"labels": ["SV:RISKY"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&again), ["sv:risky", "sv:changes"]);
    let listed = json(
        emu.get("/repos/acme/app/issues/7/labels").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&listed), ["sv:risky", "sv:changes"]);
    let pr = json(emu.get("/repos/acme/app/issues/7").await, StatusCode::OK).await;
    assert_eq!(pr["labels"][0]["name"], "sv:risky");

    let rest = json(
        emu.delete("/repos/acme/app/issues/7/labels/sv:risky").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&rest), ["sv:changes"]);
    let missing = emu.delete("/repos/acme/app/issues/7/labels/sv:risky").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body = missing.json::<serde_json::Value>().await.unwrap();
    assert_eq!(body["message"], "Label does not exist");

    let bad = emu
        .post("/repos/acme/app/issues/7/labels", json!({"labels": "x"}))
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
