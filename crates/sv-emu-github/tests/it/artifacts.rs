use std::io::Read as _;

use reqwest::StatusCode;
use serde_json::json;
use sv_emu_github::{GithubState, NewArtifact};

use crate::common::{json, link, links, start};

fn unzip_one(bytes: &[u8], name: &str) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut file = archive.by_name(name).unwrap();
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    text
}

#[tokio::test]
async fn artifact_list_get_download_delete() {
    let emu = start(GithubState::new()).await;
    let uploaded = json(
        emu.http
            .post(emu.url("/_admin/repos/acme/app/artifacts"))
            .json(&json!({"name": "sv-backup-production-1", "run_id": 77, "files": {"manifest.json": "{}", "data/kv.jsonl": "line"}}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let id = uploaded["id"].as_u64().unwrap();
    assert_eq!(uploaded["workflow_run"]["id"], 77);
    emu.state
        .upload_artifact_files(
            "acme",
            "app",
            "other",
            None,
            &[("a.txt".into(), b"a".to_vec())],
        )
        .unwrap();

    let list = json(
        emu.get("/repos/acme/app/actions/artifacts").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["total_count"], 2);
    assert_eq!(list["artifacts"][0]["name"], "other", "newest first");
    let named = json(
        emu.get("/repos/acme/app/actions/artifacts?name=sv-backup-production-1")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(named["total_count"], 1);
    let a = &named["artifacts"][0];
    assert_eq!(a["id"], id);
    assert_eq!(a["expired"], false);
    assert!(a["size_in_bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        a["archive_download_url"],
        emu.url(&format!("/repos/acme/app/actions/artifacts/{id}/zip"))
            .as_str()
    );
    assert!(a["expires_at"].is_string());
    let by_run = json(
        emu.get("/repos/acme/app/actions/runs/77/artifacts").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_run["total_count"], 1);

    let one = json(
        emu.get(&format!("/repos/acme/app/actions/artifacts/{id}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(&one, a);

    // The zip endpoint redirects to a signed blob URL under the prefix.
    let redirect = emu
        .get(&format!("/repos/acme/app/actions/artifacts/{id}/zip"))
        .await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&emu.url("/_blobs/")), "{location}");
    assert!(location.contains("sig="));

    let blob = emu.http.get(&location).send().await.unwrap();
    assert_eq!(blob.status(), StatusCode::OK);
    assert_eq!(blob.headers()["content-type"], "application/zip");
    let bytes = blob.bytes().await.unwrap();
    assert_eq!(unzip_one(&bytes, "data/kv.jsonl"), "line");

    // The storage URL refuses GitHub credentials and a wrong signature.
    let with_auth = emu
        .http
        .get(&location)
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(with_auth.status(), StatusCode::BAD_REQUEST);
    let (unsigned, _) = location.split_once("?sig=").unwrap();
    let bad_sig = emu
        .http
        .get(format!("{unsigned}?sig=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_sig.status(), StatusCode::FORBIDDEN);
    let blob_log: Vec<_> = emu
        .state
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/_blobs/"))
        .collect();
    assert_eq!(blob_log.len(), 3);
    assert!(!blob_log[0].authorization);
    assert!(blob_log[1].authorization);

    assert_eq!(
        emu.get(&format!("/repos/acme/app/actions/artifacts/{id}/tar"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        emu.delete(&format!("/repos/acme/app/actions/artifacts/{id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        emu.get(&format!("/repos/acme/app/actions/artifacts/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        emu.get(&format!("/repos/acme/app/actions/artifacts/{id}/zip"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        emu.http.get(&location).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn expired_artifacts_answer_gone_and_raw_zip_upload() {
    let emu = start(GithubState::new()).await;
    let zip = sv_emu_github::zip_files(&[("x".into(), b"y".to_vec())]).unwrap();
    let uploaded = json(
        emu.http
            .post(emu.url("/_admin/repos/o/r/artifacts/zip?name=old&expired=true&run_id=5"))
            .body(zip)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(uploaded["expired"], true);
    let id = uploaded["id"].as_u64().unwrap();
    let gone = json(
        emu.get(&format!("/repos/o/r/actions/artifacts/{id}/zip"))
            .await,
        StatusCode::GONE,
    )
    .await;
    assert_eq!(gone["message"], "Artifact has expired");
    let no_name = emu
        .http
        .post(emu.url("/_admin/repos/o/r/artifacts/zip"))
        .body(vec![1u8])
        .send()
        .await
        .unwrap();
    assert_eq!(no_name.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn artifact_list_pages() {
    let emu = start(GithubState::new()).await;
    for i in 0..3 {
        emu.state.upload_artifact_zip(
            "o",
            "r",
            NewArtifact {
                name: format!("a{i}"),
                zip: vec![0; 4],
                ..NewArtifact::default()
            },
        );
    }
    let page = emu.get("/repos/o/r/actions/artifacts?per_page=2").await;
    let l = links(&page);
    assert_eq!(
        link(&l, "next"),
        Some(
            emu.url("/repos/o/r/actions/artifacts?per_page=2&page=2")
                .as_str()
        )
    );
    let body = json(page, StatusCode::OK).await;
    assert_eq!(body["total_count"], 3, "total_count counts all pages");
    assert_eq!(body["artifacts"].as_array().unwrap().len(), 2);
}
