use sv_github::{CommentAction, Marker};

use crate::common::{OWNER, REPO, start};

fn marker() -> Marker {
    Marker::new("plan", "production").unwrap()
}

#[tokio::test]
async fn sticky_comment_create_update_unchanged() {
    let ctx = start().await;
    let pr = ctx.state.create_pull(OWNER, REPO, "Add R2 bucket", "alice");
    // 130 comments by people before ours: with 100 per page, ours lands on page 2.
    for i in 0..130 {
        ctx.state.add_comment_as(
            OWNER,
            REPO,
            pr,
            if i % 2 == 0 { "alice" } else { "bob" },
            &format!("review {i}"),
        );
    }
    ctx.state.add_comment_as(
        OWNER,
        REPO,
        pr,
        "carol",
        "<!-- sv:plan:staging -->\nstaging plan",
    );

    let created = ctx
        .gh
        .upsert_comment(pr, &marker(), "## Plan\n\n1 to add")
        .await
        .unwrap();
    assert_eq!(created.action, CommentAction::Created);
    assert!(
        created
            .url
            .contains(&format!("/pull/{pr}#issuecomment-{}", created.id)),
        "{}",
        created.url
    );
    let comments = ctx.state.comments(OWNER, REPO, pr);
    assert_eq!(comments.len(), 132);
    assert_eq!(
        comments[131],
        (
            "github-actions[bot]".to_owned(),
            "<!-- sv:plan:production -->\n## Plan\n\n1 to add".to_owned()
        )
    );

    ctx.state.clear_requests();
    let updated = ctx
        .gh
        .upsert_comment(pr, &marker(), "## Plan\n\n2 to add")
        .await
        .unwrap();
    assert_eq!(updated.action, CommentAction::Updated);
    assert_eq!(updated.id, created.id);
    // The marked comment sits on page 2: found only by following the Link header.
    assert!(
        ctx.state
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.contains("page=2"))
    );
    assert_eq!(
        ctx.writes(),
        vec![format!(
            "PATCH /github/repos/{OWNER}/{REPO}/issues/comments/{}",
            created.id
        )]
    );

    ctx.state.clear_requests();
    let same = ctx
        .gh
        .upsert_comment(pr, &marker(), "## Plan\n\n2 to add")
        .await
        .unwrap();
    assert_eq!(same.action, CommentAction::Unchanged);
    assert_eq!(same.id, created.id);
    assert!(
        ctx.writes().is_empty(),
        "no write for an identical body: {:?}",
        ctx.writes()
    );

    let comments = ctx.state.comments(OWNER, REPO, pr);
    assert_eq!(
        comments.len(),
        132,
        "one sticky comment, never one per push"
    );
    assert!(
        comments
            .iter()
            .filter(|(_, b)| b.starts_with("review "))
            .count()
            == 130
    );
    assert_eq!(
        comments[130].1, "<!-- sv:plan:staging -->\nstaging plan",
        "other markers untouched"
    );
}

#[tokio::test]
async fn duplicates_are_cleaned_and_the_oldest_kept() {
    let ctx = start().await;
    let pr = 17; // an implicit pull request
    ctx.state.add_comment_as(OWNER, REPO, pr, "alice", "LGTM");
    let oldest = ctx.state.add_comment_as(
        OWNER,
        REPO,
        pr,
        "github-actions[bot]",
        "<!-- sv:plan:production -->\nold v1",
    );
    ctx.state
        .add_comment_as(OWNER, REPO, pr, "bob", "please fix");
    let dup1 = ctx.state.add_comment_as(
        OWNER,
        REPO,
        pr,
        "github-actions[bot]",
        "<!-- sv:plan:production -->\nold v2",
    );
    let dup2 = ctx.state.add_comment_as(
        OWNER,
        REPO,
        pr,
        "github-actions[bot]",
        "<!-- sv:plan:production -->\nold v3",
    );

    let out = ctx.gh.upsert_comment(pr, &marker(), "fresh").await.unwrap();
    assert_eq!(out.action, CommentAction::Updated);
    assert_eq!(out.id, oldest);
    assert_eq!(out.removed_duplicates, vec![dup1, dup2]);
    let comments = ctx.state.comments(OWNER, REPO, pr);
    let bodies: Vec<&str> = comments.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(
        bodies,
        vec!["LGTM", "<!-- sv:plan:production -->\nfresh", "please fix"]
    );

    // Duplicates are cleaned even when the body is unchanged.
    let dup3 = ctx.state.add_comment_as(
        OWNER,
        REPO,
        pr,
        "github-actions[bot]",
        "<!-- sv:plan:production -->\nstray",
    );
    let out = ctx.gh.upsert_comment(pr, &marker(), "fresh").await.unwrap();
    assert_eq!(out.action, CommentAction::Unchanged);
    assert_eq!(out.removed_duplicates, vec![dup3]);
}

#[tokio::test]
async fn delete_by_marker_and_listing_for_ack() {
    let ctx = start().await;
    let pr = ctx.state.create_pull(OWNER, REPO, "x", "alice");
    ctx.gh.upsert_comment(pr, &marker(), "plan").await.unwrap();
    ctx.state
        .add_comment_as(OWNER, REPO, pr, "acme", "/ack drift");
    ctx.state.add_comment_as(
        OWNER,
        REPO,
        pr,
        "github-actions[bot]",
        "<!-- sv:plan:production -->\nleftover",
    );

    let listed = ctx.gh.list_issue_comments(pr).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[1].user.login, "acme");
    assert_eq!(listed[1].author_association.as_deref(), Some("OWNER"));
    assert_eq!(listed[1].body, "/ack drift");
    assert_eq!(listed[0].user.kind.as_deref(), Some("Bot"));
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at)
    );

    let deleted = ctx
        .gh
        .delete_comment_by_marker(pr, &marker())
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let left = ctx.state.comments(OWNER, REPO, pr);
    assert_eq!(left, vec![("acme".to_owned(), "/ack drift".to_owned())]);
    assert_eq!(
        ctx.gh
            .delete_comment_by_marker(pr, &marker())
            .await
            .unwrap(),
        0
    );

    let plain = ctx.gh.comment_on_issue(pr, "thanks").await.unwrap();
    assert_eq!(plain.body, "thanks");
}

/// A plan far over GitHub's limit: the stored comment is the truncated rendering, accepted by
/// the emulator (which enforces 65,536 characters like GitHub), with fence and details closed.
#[tokio::test]
async fn oversized_comment_is_truncated_and_accepted() {
    let ctx = start().await;
    let mut body = String::from(
        "## sv plan — production\n\n**Plan:** 2,400 to add, 0 to change, 0 to destroy.\n\n<details open>\n<summary>Changes (2,400)</summary>\n\n```diff\n",
    );
    for i in 0..2_400 {
        body.push_str(&format!("+ kv_namespace \"cache-{i:04}\" will be created (binding CACHE_{i:04}, préfixe «dev-é»)\n"));
    }
    body.push_str("```\n\n</details>\n");
    assert!(body.chars().count() > 65_536);

    let out = ctx.gh.upsert_comment(9, &marker(), &body).await.unwrap();
    assert_eq!(out.action, CommentAction::Created);
    let stored = ctx.state.comments(OWNER, REPO, 9).pop().unwrap().1;
    assert!(stored.chars().count() <= 65_536);
    assert!(stored.starts_with("<!-- sv:plan:production -->\n## sv plan"));
    let tail: String = stored
        .lines()
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("truncated_comment_tail", tail);
    insta::assert_snapshot!("truncated_comment_full", stored);

    // Re-running with the same oversized body is recognised as unchanged.
    let again = ctx.gh.upsert_comment(9, &marker(), &body).await.unwrap();
    assert_eq!(again.action, CommentAction::Unchanged);
}
