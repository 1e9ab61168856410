use serde_json::json;
use sv_github::{IssueAction, Marker};

use crate::common::start;

#[tokio::test]
async fn issue_open_unchanged_update_close_reopen() {
    let ctx = start().await;
    let marker = Marker::new("drift", "production").unwrap();

    let opened = ctx
        .gh
        .upsert_issue(
            &marker,
            "Drift detected in production",
            "3 resources drifted",
            &["sv-drift", "infra"],
            &["alice"],
        )
        .await
        .unwrap();
    assert_eq!(opened.action, IssueAction::Opened);
    let issue = ctx.gh.get_issue(opened.number).await.unwrap();
    assert_eq!(issue.title, "Drift detected in production");
    assert_eq!(
        issue.body.as_deref(),
        Some("<!-- sv:drift:production -->\n3 resources drifted")
    );
    let labels: Vec<&str> = issue.labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(labels, vec!["sv-drift", "infra"]);
    assert_eq!(issue.assignees[0].login, "alice");
    assert!(opened.url.ends_with(&format!("/issues/{}", opened.number)));

    ctx.state.clear_requests();
    let same = ctx
        .gh
        .upsert_issue(
            &marker,
            "Drift detected in production",
            "3 resources drifted",
            &["sv-drift"],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(same.action, IssueAction::Unchanged);
    assert_eq!(same.number, opened.number);
    assert!(ctx.writes().is_empty(), "{:?}", ctx.writes());

    // Someone triaged it: their label stays when we update.
    ctx.gh
        .upsert_issue(
            &marker,
            "Drift detected in production",
            "3 resources drifted",
            &["sv-drift", "triaged"],
            &[],
        )
        .await
        .unwrap();
    let updated = ctx
        .gh
        .upsert_issue(
            &marker,
            "Drift detected in production",
            "4 resources drifted",
            &["sv-drift"],
            &["bob"],
        )
        .await
        .unwrap();
    assert_eq!(updated.action, IssueAction::Updated);
    let issue = ctx.gh.get_issue(updated.number).await.unwrap();
    assert_eq!(
        issue.body.as_deref(),
        Some("<!-- sv:drift:production -->\n4 resources drifted")
    );
    let labels: Vec<&str> = issue.labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(labels, vec!["sv-drift", "infra", "triaged"]);
    let assignees: Vec<&str> = issue.assignees.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(assignees, vec!["alice", "bob"]);

    let closed = ctx
        .gh
        .close_issue_by_marker(&marker, Some("Drift resolved by run 42."))
        .await
        .unwrap();
    assert_eq!(closed, vec![opened.number]);
    let issue = ctx.gh.get_issue(opened.number).await.unwrap();
    assert_eq!(issue.state, "closed");
    let comments = ctx.gh.list_issue_comments(opened.number).await.unwrap();
    assert_eq!(comments.last().unwrap().body, "Drift resolved by run 42.");
    assert!(
        ctx.gh
            .close_issue_by_marker(&marker, None)
            .await
            .unwrap()
            .is_empty(),
        "nothing left open"
    );

    let reopened = ctx
        .gh
        .upsert_issue(
            &marker,
            "Drift again",
            "1 resource drifted",
            &["sv-drift"],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(reopened.action, IssueAction::Reopened);
    assert_eq!(
        reopened.number, opened.number,
        "the closed issue is reused, not a new one"
    );
    let issue = ctx.gh.get_issue(opened.number).await.unwrap();
    assert_eq!(issue.state, "open");
    assert_eq!(issue.title, "Drift again");
}

#[tokio::test]
async fn finds_the_marked_issue_among_many_and_ignores_others() {
    let ctx = start().await;
    let marker = Marker::new("health", "production").unwrap();
    let first = ctx
        .gh
        .upsert_issue(&marker, "API unhealthy", "down", &["sv-health"], &[])
        .await
        .unwrap();
    // 120 newer issues with the same label (the marked one ends up on page 2, newest first),
    // one of them carrying a different environment's marker, and a PR mentioning the marker.
    for i in 0..120 {
        let body = if i == 7 {
            "<!-- sv:health:staging -->\nstaging".to_owned()
        } else {
            format!("noise {i}")
        };
        let _: serde_json::Value = reqwest_post(
            &ctx,
            json!({"title": format!("n{i}"), "body": body, "labels": ["sv-health"]}),
        )
        .await;
    }
    let pr = ctx
        .state
        .create_pull(crate::common::OWNER, crate::common::REPO, "pr", "alice");
    ctx.state.add_comment_as(
        crate::common::OWNER,
        crate::common::REPO,
        pr,
        "alice",
        marker.as_str(),
    );

    let again = ctx
        .gh
        .upsert_issue(&marker, "API unhealthy", "still down", &["sv-health"], &[])
        .await
        .unwrap();
    assert_eq!(again.action, IssueAction::Updated);
    assert_eq!(again.number, first.number);

    let staging = Marker::new("health", "staging").unwrap();
    let closed = ctx.gh.close_issue_by_marker(&staging, None).await.unwrap();
    assert_eq!(closed.len(), 1);
    assert_ne!(closed[0], first.number);

    assert!(
        ctx.gh
            .upsert_issue(&marker, "  ", "b", &[], &[])
            .await
            .is_err(),
        "empty title refused"
    );
}

/// Creates an issue the way a person would, straight through the API.
async fn reqwest_post(ctx: &crate::common::Ctx, body: serde_json::Value) -> serde_json::Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .post(format!(
            "http://{}/github/repos/{}/{}/issues",
            ctx.addr,
            crate::common::OWNER,
            crate::common::REPO
        ))
        .bearer_auth("person")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
