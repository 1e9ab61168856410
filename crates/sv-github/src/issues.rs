//! Tool-managed issues (drift reports, health alerts), found again by their hidden marker.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{PER_PAGE, Verb};
use crate::comments::User;
use crate::{COMMENT_BODY_LIMIT, Error, GitHub, Marker, fit_comment_body};

/// The issue fields we read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// Issue number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Markdown body.
    #[serde(default)]
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Web link.
    pub html_url: String,
    /// Attached labels.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Assignees.
    #[serde(default)]
    pub assignees: Vec<User>,
    /// Present when the "issue" is a pull request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<serde_json::Value>,
}

/// A label (only the name matters to us).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Label name.
    pub name: String,
}

impl Issue {
    fn has_label(&self, name: &str) -> bool {
        self.labels
            .iter()
            .any(|l| l.name.eq_ignore_ascii_case(name))
    }

    fn is_open(&self) -> bool {
        self.state == "open"
    }
}

/// What [`GitHub::upsert_issue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IssueAction {
    /// No issue carried the marker; one was opened.
    Opened,
    /// The open issue was edited.
    Updated,
    /// A closed issue carrying the marker was reopened (and edited).
    Reopened,
    /// The open issue already said exactly this; nothing was written.
    Unchanged,
}

/// The result of [`GitHub::upsert_issue`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueOutcome {
    /// What happened.
    pub action: IssueAction,
    /// Issue number.
    pub number: u64,
    /// Web link.
    pub url: String,
}

impl GitHub {
    /// Issues (not pull requests) carrying `marker`, in the given state (`open`, `closed`,
    /// `all`), restricted to those with `label` when given. All pages.
    async fn issues_with_marker(
        &self,
        marker: &Marker,
        state: &str,
        label: Option<&str>,
    ) -> Result<Vec<Issue>, Error> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("state", state);
        if let Some(label) = label {
            query.append_pair("labels", label);
        }
        query.append_pair("per_page", &PER_PAGE.to_string());
        let issues: Vec<Issue> = self
            .get_all(
                &format!("list {state} issues"),
                &self.repo_path(&format!("/issues?{}", query.finish())),
            )
            .await?;
        Ok(issues
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .filter(|i| i.body.as_deref().is_some_and(|b| marker.is_in(b)))
            .collect())
    }

    /// Opens, updates or reopens the one issue carrying `marker`.
    ///
    /// The search covers open and closed issues with the first of `labels` (all issues when
    /// `labels` is empty). An open match wins over a closed one (the lowest number among open
    /// ones, the most recent among closed ones). Labels and assignees are added to the
    /// existing ones, never removed (people may have triaged the issue).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty title, else transport/API errors.
    pub async fn upsert_issue(
        &self,
        marker: &Marker,
        title: &str,
        body: &str,
        labels: &[&str],
        assignees: &[&str],
    ) -> Result<IssueOutcome, Error> {
        if title.trim().is_empty() {
            return Err(Error::InvalidInput("an issue needs a title".into()));
        }
        let desired = fit_comment_body(&marker.wrap(body), COMMENT_BODY_LIMIT);
        let candidates = self
            .issues_with_marker(marker, "all", labels.first().copied())
            .await?;
        let existing = candidates
            .iter()
            .filter(|i| i.is_open())
            .min_by_key(|i| i.number)
            .or_else(|| {
                candidates
                    .iter()
                    .filter(|i| !i.is_open())
                    .max_by_key(|i| i.number)
            });

        let Some(existing) = existing else {
            let created: Issue = self
                .send_json(
                    "open an issue",
                    Verb::Post,
                    &self.repo_path("/issues"),
                    &json!({ "title": title, "body": desired, "labels": labels, "assignees": assignees }),
                )
                .await?;
            return Ok(IssueOutcome {
                action: IssueAction::Opened,
                number: created.number,
                url: created.html_url,
            });
        };

        let missing_labels = labels.iter().any(|l| !existing.has_label(l));
        let missing_assignees = assignees.iter().any(|a| {
            !existing
                .assignees
                .iter()
                .any(|u| u.login.eq_ignore_ascii_case(a))
        });
        let same_text =
            existing.title == title && existing.body.as_deref() == Some(desired.as_str());
        if existing.is_open() && same_text && !missing_labels && !missing_assignees {
            return Ok(IssueOutcome {
                action: IssueAction::Unchanged,
                number: existing.number,
                url: existing.html_url.clone(),
            });
        }

        let mut patch = json!({ "title": title, "body": desired });
        if missing_labels {
            let mut all: Vec<String> = existing.labels.iter().map(|l| l.name.clone()).collect();
            all.extend(
                labels
                    .iter()
                    .filter(|l| !existing.has_label(l))
                    .map(|l| (*l).to_owned()),
            );
            patch["labels"] = json!(all);
        }
        if missing_assignees {
            let mut all: Vec<String> = existing.assignees.iter().map(|u| u.login.clone()).collect();
            all.extend(
                assignees
                    .iter()
                    .filter(|a| !all.iter().any(|x| x.eq_ignore_ascii_case(a)))
                    .map(|a| (*a).to_owned())
                    .collect::<Vec<_>>(),
            );
            patch["assignees"] = json!(all);
        }
        let action = if existing.is_open() {
            IssueAction::Updated
        } else {
            patch["state"] = json!("open");
            IssueAction::Reopened
        };
        let updated: Issue = self
            .send_json(
                &format!("update issue #{}", existing.number),
                Verb::Patch,
                &self.repo_path(&format!("/issues/{}", existing.number)),
                &patch,
            )
            .await?;
        Ok(IssueOutcome {
            action,
            number: updated.number,
            url: updated.html_url,
        })
    }

    /// Closes every open issue carrying `marker` (as completed), first adding `comment` to each
    /// when given. Returns the numbers closed (empty when none was open).
    ///
    /// # Errors
    /// Transport/API errors.
    pub async fn close_issue_by_marker(
        &self,
        marker: &Marker,
        comment: Option<&str>,
    ) -> Result<Vec<u64>, Error> {
        let open = self.issues_with_marker(marker, "open", None).await?;
        let mut closed = Vec::with_capacity(open.len());
        for issue in open {
            if let Some(comment) = comment {
                self.comment_on_issue(issue.number, comment).await?;
            }
            let _: Issue = self
                .send_json(
                    &format!("close issue #{}", issue.number),
                    Verb::Patch,
                    &self.repo_path(&format!("/issues/{}", issue.number)),
                    &json!({ "state": "closed", "state_reason": "completed" }),
                )
                .await?;
            closed.push(issue.number);
        }
        Ok(closed)
    }

    /// One issue (or pull request) by number.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist, else transport/API errors.
    pub async fn get_issue(&self, number: u64) -> Result<Issue, Error> {
        self.get_json(
            &format!("read issue #{number}"),
            &self.repo_path(&format!("/issues/{number}")),
        )
        .await
    }
}
