//! The emulator's JSON deserializes into octocrab's own models, and octocrab's pagination works
//! through the `/github` prefix — the base-URL behaviour sv-github relies on.

use octocrab::models::issues::{Comment, Issue};
use octocrab::models::workflows::WorkflowListArtifact;
use sv_emu_github::NewArtifact;

use crate::common::{OWNER, REPO, start};

#[tokio::test]
async fn emulator_shapes_parse_as_octocrab_models_and_prefix_is_kept() {
    let ctx = start().await;
    let pr = ctx.state.create_pull(OWNER, REPO, "x", "alice");
    for i in 0..25 {
        ctx.state
            .add_comment_as(OWNER, REPO, pr, "alice", &format!("c{i}"));
    }
    ctx.gh
        .upsert_issue(
            &sv_github::Marker::new("a", "b").unwrap(),
            "t",
            "b",
            &["l"],
            &["bob"],
        )
        .await
        .unwrap();
    ctx.state
        .upload_artifact_files(OWNER, REPO, "art", Some(3), &[("f".into(), b"x".to_vec())])
        .unwrap();
    ctx.state.upload_artifact_zip(
        OWNER,
        REPO,
        NewArtifact {
            name: "other".into(),
            zip: vec![1],
            ..NewArtifact::default()
        },
    );

    for base in [
        format!("http://{}/github", ctx.addr),
        format!("http://{}/github/", ctx.addr),
    ] {
        let octo = octocrab::Octocrab::builder()
            .base_uri(base.as_str())
            .unwrap()
            .personal_token("t".to_owned())
            .build()
            .unwrap();
        let first = octo
            .issues(OWNER, REPO)
            .list_comments(pr)
            .per_page(10)
            .send()
            .await
            .unwrap();
        assert_eq!(first.items.len(), 10);
        let next = first.next.clone().unwrap();
        assert!(next.to_string().contains("/github/repos/"), "{next}");
        let all: Vec<Comment> = octo.all_pages(first).await.unwrap();
        assert_eq!(
            all.len(),
            25,
            "octocrab followed Link pages under the prefix"
        );
        assert_eq!(all[24].body.as_deref(), Some("c24"));

        let issues: Vec<Issue> = octo
            .get(
                format!("/repos/{OWNER}/{REPO}/issues?state=all"),
                None::<&()>,
            )
            .await
            .unwrap();
        assert_eq!(issues.len(), 2);
        let typed = issues.iter().find(|i| i.pull_request.is_none()).unwrap();
        assert_eq!(typed.labels[0].name, "l");
        assert_eq!(typed.assignees[0].login, "bob");

        #[derive(serde::Deserialize)]
        struct ArtifactList {
            total_count: u64,
            artifacts: Vec<WorkflowListArtifact>,
        }
        let list: ArtifactList = octo
            .get(
                format!("/repos/{OWNER}/{REPO}/actions/artifacts"),
                None::<&()>,
            )
            .await
            .unwrap();
        assert_eq!(list.total_count, 2);
        assert_eq!(list.artifacts[1].workflow_run.as_ref().unwrap().id.0, 3);
    }
    // sv-github itself with the prefix and no trailing slash (common.rs uses the slash form).
    let gh = crate::common::client(&format!("http://{}/github", ctx.addr), "t");
    assert_eq!(gh.list_issue_comments(pr).await.unwrap().len(), 25);
    assert_eq!(gh.list_artifacts("").await.unwrap().len(), 2);
    // Every request reached the emulator under the prefix.
    assert!(
        ctx.state
            .requests()
            .iter()
            .all(|r| r.path.starts_with("/github/"))
    );
}
