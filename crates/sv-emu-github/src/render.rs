//! JSON shapes as GitHub's REST API returns them (the fields clients read, including the ones
//! octocrab's models require), with URLs pointing back at the emulator.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::state::{ACTIONS_BOT_LOGIN, ArtifactRec, CommentRec, Data, IssueRec, Repo, node_id};

/// Where the emulator is reachable from the client's point of view: scheme, host and the path
/// prefix the router is nested under (e.g. `http://127.0.0.1:4010/github`). API URLs and the
/// "html" URLs both hang off it, the way GitHub Enterprise serves both from one host.
#[derive(Debug, Clone)]
pub(crate) struct Base(pub String);

impl Base {
    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    pub fn repo_api(&self, r: &Repo, rest: &str) -> String {
        format!("{}/repos/{}/{}{rest}", self.0, r.owner, r.name)
    }

    pub fn repo_html(&self, r: &Repo, rest: &str) -> String {
        format!("{}/{}/{}{rest}", self.0, r.owner, r.name)
    }
}

/// GitHub's timestamp format: seconds precision, `Z`.
pub(crate) fn ts(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn user(base: &Base, data: &Data, login: &str) -> Value {
    let id = data.users.get(login).copied().unwrap_or(0);
    let kind = if login == ACTIONS_BOT_LOGIN || login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    let url = base.api(&format!("/users/{login}"));
    json!({
        "login": login,
        "id": id,
        "node_id": node_id(kind, id),
        "avatar_url": base.api(&format!("/_avatars/u/{id}")),
        "gravatar_id": "",
        "url": url,
        "html_url": base.api(&format!("/{login}")),
        "followers_url": format!("{url}/followers"),
        "following_url": format!("{url}/following{{/other_user}}"),
        "gists_url": format!("{url}/gists{{/gist_id}}"),
        "starred_url": format!("{url}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{url}/subscriptions"),
        "organizations_url": format!("{url}/orgs"),
        "repos_url": format!("{url}/repos"),
        "events_url": format!("{url}/events{{/privacy}}"),
        "received_events_url": format!("{url}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

fn association(r: &Repo, login: &str) -> &'static str {
    if login.eq_ignore_ascii_case(&r.owner) {
        "OWNER"
    } else if login == ACTIONS_BOT_LOGIN {
        "NONE"
    } else {
        "CONTRIBUTOR"
    }
}

pub(crate) fn label(base: &Base, r: &Repo, name: &str) -> Value {
    let rec = r.labels.get(&name.to_lowercase());
    let (id, name, color) = match rec {
        Some(l) => (l.id, l.name.as_str(), l.color.as_str()),
        None => (0, name, "ededed"),
    };
    json!({
        "id": id,
        "node_id": node_id("Label", id),
        "url": base.repo_api(r, &format!("/labels/{name}")),
        "name": name,
        "color": color,
        "default": false,
        "description": null,
    })
}

pub(crate) fn comment(base: &Base, data: &Data, r: &Repo, c: &CommentRec) -> Value {
    let kind = if r.issues.get(&c.issue_number).is_some_and(|i| i.is_pull) {
        "pull"
    } else {
        "issues"
    };
    json!({
        "id": c.id,
        "node_id": node_id("IssueComment", c.id),
        "url": base.repo_api(r, &format!("/issues/comments/{}", c.id)),
        "html_url": base.repo_html(r, &format!("/{kind}/{}#issuecomment-{}", c.issue_number, c.id)),
        "issue_url": base.repo_api(r, &format!("/issues/{}", c.issue_number)),
        "body": c.body,
        "user": user(base, data, &c.user),
        "author_association": association(r, &c.user),
        "created_at": ts(&c.created_at),
        "updated_at": ts(&c.updated_at),
        "performed_via_github_app": null,
        "reactions": reactions(&base.repo_api(r, &format!("/issues/comments/{}/reactions", c.id))),
    })
}

fn reactions(url: &str) -> Value {
    json!({
        "url": url, "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
        "confused": 0, "heart": 0, "rocket": 0, "eyes": 0,
    })
}

pub(crate) fn issue(base: &Base, data: &Data, r: &Repo, i: &IssueRec) -> Value {
    let api = base.repo_api(r, &format!("/issues/{}", i.number));
    let kind = if i.is_pull { "pull" } else { "issues" };
    let assignees: Vec<Value> = i.assignees.iter().map(|a| user(base, data, a)).collect();
    let comments = r
        .comments
        .values()
        .filter(|c| c.issue_number == i.number)
        .count();
    let mut v = json!({
        "id": i.id,
        "node_id": node_id(if i.is_pull { "PullRequest" } else { "Issue" }, i.id),
        "url": api,
        "repository_url": base.repo_api(r, ""),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": base.repo_html(r, &format!("/{kind}/{}", i.number)),
        "number": i.number,
        "state": i.state,
        "state_reason": i.state_reason,
        "title": i.title,
        "body": i.body,
        "user": user(base, data, &i.user),
        "labels": i.labels.iter().map(|l| label(base, r, l)).collect::<Vec<_>>(),
        "assignee": assignees.first().cloned(),
        "assignees": assignees,
        "milestone": null,
        "locked": false,
        "active_lock_reason": null,
        "comments": comments,
        "closed_at": i.closed_at.as_ref().map(ts),
        "closed_by": i.closed_by.as_deref().map(|u| user(base, data, u)),
        "author_association": association(r, &i.user),
        "created_at": ts(&i.created_at),
        "updated_at": ts(&i.updated_at),
        "reactions": reactions(&format!("{api}/reactions")),
    });
    if i.is_pull {
        v["pull_request"] = json!({
            "url": base.repo_api(r, &format!("/pulls/{}", i.number)),
            "html_url": base.repo_html(r, &format!("/pull/{}", i.number)),
            "diff_url": base.repo_html(r, &format!("/pull/{}.diff", i.number)),
            "patch_url": base.repo_html(r, &format!("/pull/{}.patch", i.number)),
            "merged_at": null,
        });
    }
    v
}

/// GitHub keeps artifacts 90 days by default.
const RETENTION_DAYS: i64 = 90;

pub(crate) fn artifact(base: &Base, r: &Repo, a: &ArtifactRec) -> Value {
    let url = base.repo_api(r, &format!("/actions/artifacts/{}", a.id));
    json!({
        "id": a.id,
        "node_id": node_id("Artifact", a.id),
        "name": a.name,
        "size_in_bytes": a.zip.len(),
        "url": url,
        "archive_download_url": format!("{url}/zip"),
        "expired": a.expired,
        "created_at": ts(&a.created_at),
        "updated_at": ts(&a.created_at),
        "expires_at": ts(&(a.created_at + Duration::days(RETENTION_DAYS))),
        "workflow_run": {
            "id": a.run_id,
            "repository_id": r.id,
            "head_repository_id": r.id,
            "head_branch": a.head_branch,
            "head_sha": a.head_sha,
        },
    })
}

pub(crate) fn repository(base: &Base, data: &Data, r: &Repo) -> Value {
    json!({
        "id": r.id,
        "node_id": node_id("Repository", r.id),
        "name": r.name,
        "full_name": format!("{}/{}", r.owner, r.name),
        "private": false,
        "owner": user(base, data, &r.owner),
        "html_url": base.repo_html(r, ""),
        "description": null,
        "fork": false,
        "url": base.repo_api(r, ""),
        "default_branch": "main",
        "visibility": "public",
        "archived": false,
        "disabled": false,
        "has_issues": true,
        "permissions": { "admin": false, "maintain": false, "push": true, "triage": true, "pull": true },
    })
}
