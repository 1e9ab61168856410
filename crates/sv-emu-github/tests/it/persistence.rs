use reqwest::StatusCode;
use serde_json::json;
use sv_emu_github::GithubState;

use crate::common::{json, start};

#[tokio::test]
async fn snapshot_restore_file_roundtrip_and_reset() {
    let state = GithubState::new();
    let emu = start(state.clone()).await;
    emu.post(
        "/repos/o/r/issues",
        json!({"title": "kept", "labels": ["l"]}),
    )
    .await;
    emu.post("/repos/o/r/issues/1/comments", json!({"body": "c"}))
        .await;
    state
        .upload_artifact_files("o", "r", "art", Some(9), &[("f".into(), b"bytes".to_vec())])
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("github.json");
    state.to_file(&path).unwrap();
    let snapshot = state.snapshot();

    state.reset();
    assert!(state.requests().is_empty());
    assert_eq!(
        emu.get("/repos/o/r/issues/1").await.status(),
        StatusCode::NOT_FOUND
    );

    let restored = GithubState::from_file(&path).unwrap();
    assert_eq!(restored.snapshot(), snapshot);
    let emu2 = start(restored).await;
    let issue = json(emu2.get("/repos/o/r/issues/1").await, StatusCode::OK).await;
    assert_eq!(issue["title"], "kept");
    assert_eq!(issue["comments"], 1);
    let arts = json(
        emu2.get("/repos/o/r/actions/artifacts").await,
        StatusCode::OK,
    )
    .await;
    let id = arts["artifacts"][0]["id"].as_u64().unwrap();
    let redirect = emu2
        .get(&format!("/repos/o/r/actions/artifacts/{id}/zip"))
        .await;
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    let blob = emu2.http.get(location).send().await.unwrap();
    assert_eq!(blob.status(), StatusCode::OK);

    // New ids continue after restored ones.
    let c = json(
        emu2.post("/repos/o/r/issues/1/comments", json!({"body": "d"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(c["id"].as_u64().unwrap() > id);

    // Restore through the admin API too.
    let put = emu
        .http
        .put(emu.url("/_admin/state"))
        .json(&snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        json(emu.get("/repos/o/r/issues/1").await, StatusCode::OK).await["title"],
        "kept"
    );
    let bad = emu
        .http
        .put(emu.url("/_admin/state"))
        .json(&json!({"x": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(state.restore(json!([])).is_err());
    assert!(GithubState::from_file(&dir.path().join("missing.json")).is_err());

    let reset = emu
        .http
        .post(emu.url("/_admin/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        emu.get("/repos/o/r/issues/1").await.status(),
        StatusCode::NOT_FOUND
    );
}
