//! The health verdict as the sticky pull-request comment of an environment, carrying the
//! hidden marker `<!-- sv:health:<env> -->`: created on the first run, edited in place on
//! later ones, never duplicated (sv-github's `upsert_comment`, as sv-plan and sv-deploy do).

use serde::Serialize;
use sv_github::{CommentAction, GitHubContext, Marker};

/// Where the comment goes and whether the user asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub pr: u64,
    /// `--comment-pr N` (failures are reported as such) rather than the pull request of a
    /// `pull_request` run.
    pub explicit: bool,
}

/// What happened to the comment (part of `check`'s output).
#[derive(Debug, Clone, Serialize)]
pub struct PrComment {
    pub pr: u64,
    /// `created`, `updated` or `unchanged`; absent when it failed or was not posted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<CommentAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Why the comment was not written (the health verdict stands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PrComment {
    /// One line for the human and Markdown output.
    pub fn line(&self) -> String {
        match (&self.action, &self.url, &self.error) {
            (_, _, Some(e)) => format!("PR comment on #{} not written: {e}", self.pr),
            (Some(action), Some(url), None) => {
                let verb = match action {
                    CommentAction::Created => "created",
                    CommentAction::Updated => "updated",
                    _ => "unchanged",
                };
                format!("PR comment {verb} on #{}: {url}", self.pr)
            }
            _ => format!("PR comment on #{}: not posted", self.pr),
        }
    }
}

/// The marker of `env`'s health comment.
pub fn marker(env: &str) -> Result<Marker, sv_github::Error> {
    Marker::new("health", env)
}

/// The comment: the report's Markdown, then where it came from.
pub fn body(report_markdown: &str, sha: Option<&str>, run_url: Option<&str>) -> String {
    let mut body = report_markdown.trim_end().to_owned();
    let mut from = Vec::new();
    if let Some(sha) = sha {
        from.push(format!("commit {}", sha.get(..12).unwrap_or(sha)));
    }
    if let Some(url) = run_url {
        from.push(format!("[workflow run]({url})"));
    }
    body.push_str("\n\n<sub>Posted by sv-health");
    if !from.is_empty() {
        body.push_str(" · ");
        body.push_str(&from.join(" · "));
    }
    body.push_str(" · updated in place on every run.</sub>\n");
    body
}

/// Creates or updates the comment; a failure is returned in [`PrComment::error`].
pub async fn post(gh: &GitHubContext, env: &str, pr: u64, body: &str) -> PrComment {
    let result = async {
        let client = gh.client()?;
        client.upsert_comment(pr, &marker(env)?, body).await
    }
    .await;
    match result {
        Ok(outcome) => PrComment {
            pr,
            action: Some(outcome.action),
            url: Some(outcome.url),
            error: None,
        },
        Err(e) => PrComment {
            pr,
            action: None,
            url: None,
            error: Some(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_names_commit_and_run() {
        let b = body(
            "## Health\n",
            Some("0123456789abcdef0123"),
            Some("https://github.com/a/b/actions/runs/7"),
        );
        assert_eq!(
            b,
            "## Health\n\n<sub>Posted by sv-health · commit 0123456789ab · [workflow run](https://github.com/a/b/actions/runs/7) · updated in place on every run.</sub>\n"
        );
        assert!(
            body("x", None, None)
                .ends_with("<sub>Posted by sv-health · updated in place on every run.</sub>\n")
        );
        assert_eq!(
            marker("pr-12").unwrap().as_str(),
            "<!-- sv:health:pr-12 -->"
        );
    }
}
