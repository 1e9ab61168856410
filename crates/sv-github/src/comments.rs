//! Sticky comments on issues and pull requests, found again by their hidden marker.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{PER_PAGE, Verb};
use crate::{COMMENT_BODY_LIMIT, Error, GitHub, Marker, fit_comment_body};

/// An issue or pull-request comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueComment {
    /// Comment id.
    pub id: u64,
    /// Markdown body.
    #[serde(default)]
    pub body: String,
    /// Author.
    pub user: User,
    /// `OWNER`, `MEMBER`, `COLLABORATOR`, `CONTRIBUTOR`, `NONE`, … — what `/ack` checks use to
    /// decide whether the author may acknowledge.
    #[serde(default)]
    pub author_association: Option<String>,
    /// Web link.
    pub html_url: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last edit time.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The few user fields we read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Login, e.g. `github-actions[bot]`.
    pub login: String,
    /// User id.
    pub id: u64,
    /// `User`, `Bot` or `Organization`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// What [`GitHub::upsert_comment`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CommentAction {
    /// No comment carried the marker; one was created.
    Created,
    /// The marked comment was edited in place.
    Updated,
    /// The marked comment already had this body; nothing was written.
    Unchanged,
}

/// The result of [`GitHub::upsert_comment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentOutcome {
    /// What happened.
    pub action: CommentAction,
    /// The sticky comment's id.
    pub id: u64,
    /// Its web link (for step outputs and notifications).
    pub url: String,
    /// Ids of older duplicates carrying the same marker that were deleted.
    pub removed_duplicates: Vec<u64>,
}

impl GitHub {
    /// Every comment on issue or pull request `number`, oldest first (all pages).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the issue does not exist, else transport/API errors.
    pub async fn list_issue_comments(&self, number: u64) -> Result<Vec<IssueComment>, Error> {
        let mut comments: Vec<IssueComment> = self
            .get_all(
                &format!("list comments on #{number}"),
                &self.repo_path(&format!("/issues/{number}/comments?per_page={PER_PAGE}")),
            )
            .await?;
        comments.sort_by_key(|c| (c.created_at, c.id));
        Ok(comments)
    }

    /// Adds a plain (non-sticky) comment. Bodies over GitHub's limit are shortened with
    /// [`fit_comment_body`].
    ///
    /// # Errors
    /// Transport/API errors.
    pub async fn comment_on_issue(&self, number: u64, body: &str) -> Result<IssueComment, Error> {
        let body = fit_comment_body(body, COMMENT_BODY_LIMIT);
        self.send_json(
            &format!("comment on #{number}"),
            Verb::Post,
            &self.repo_path(&format!("/issues/{number}/comments")),
            &json!({ "body": body }),
        )
        .await
    }

    /// Creates or updates the one comment on `number` that carries `marker`.
    ///
    /// The marker is put on the body's first line and the body is fitted to GitHub's
    /// 65,536-character limit. Among comments carrying the marker (by anyone), the oldest is
    /// kept and edited, later duplicates (left by older versions or races) are deleted. When the
    /// kept comment already has the exact body, nothing is written.
    ///
    /// # Errors
    /// Transport/API errors; [`Error::Authentication`] when the token may not comment.
    pub async fn upsert_comment(
        &self,
        number: u64,
        marker: &Marker,
        body: &str,
    ) -> Result<CommentOutcome, Error> {
        let desired = fit_comment_body(&marker.wrap(body), COMMENT_BODY_LIMIT);
        let mut marked: Vec<IssueComment> = self
            .list_issue_comments(number)
            .await?
            .into_iter()
            .filter(|c| marker.is_in(&c.body))
            .collect();
        if marked.is_empty() {
            let created = self.comment_on_issue(number, &desired).await?;
            return Ok(CommentOutcome {
                action: CommentAction::Created,
                id: created.id,
                url: created.html_url,
                removed_duplicates: Vec::new(),
            });
        }
        let keep = marked.remove(0);
        let mut removed = Vec::with_capacity(marked.len());
        for duplicate in marked {
            self.delete_comment(duplicate.id).await?;
            removed.push(duplicate.id);
        }
        if keep.body == desired {
            return Ok(CommentOutcome {
                action: CommentAction::Unchanged,
                id: keep.id,
                url: keep.html_url,
                removed_duplicates: removed,
            });
        }
        let updated: IssueComment = self
            .send_json(
                &format!("update comment {} on #{number}", keep.id),
                Verb::Patch,
                &self.repo_path(&format!("/issues/comments/{}", keep.id)),
                &json!({ "body": desired }),
            )
            .await?;
        Ok(CommentOutcome {
            action: CommentAction::Updated,
            id: updated.id,
            url: updated.html_url,
            removed_duplicates: removed,
        })
    }

    /// Deletes every comment on `number` that carries `marker`; returns how many.
    ///
    /// # Errors
    /// Transport/API errors.
    pub async fn delete_comment_by_marker(
        &self,
        number: u64,
        marker: &Marker,
    ) -> Result<usize, Error> {
        let marked: Vec<u64> = self
            .list_issue_comments(number)
            .await?
            .into_iter()
            .filter(|c| marker.is_in(&c.body))
            .map(|c| c.id)
            .collect();
        for id in &marked {
            self.delete_comment(*id).await?;
        }
        Ok(marked.len())
    }

    /// Deletes one comment by id.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist, else transport/API errors.
    pub async fn delete_comment(&self, id: u64) -> Result<(), Error> {
        self.call(
            &format!("delete comment {id}"),
            Verb::Delete,
            &self.repo_path(&format!("/issues/comments/{id}")),
            None,
        )
        .await
        .map(drop)
    }
}
