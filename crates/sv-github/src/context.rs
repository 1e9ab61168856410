//! Who and where we are: the repository and, inside GitHub Actions, the runner's context.

use std::fmt;

use secrecy::SecretString;
use url::Url;

use crate::Error;

/// GitHub's public API, used when `GITHUB_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// GitHub's web host, used when `GITHUB_SERVER_URL` is not set.
pub const DEFAULT_SERVER_URL: &str = "https://github.com";

/// `owner/name` of a repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoRef {
    /// User or organisation.
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl RepoRef {
    /// A repository reference from its two parts.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] unless both parts are non-empty ASCII letters, digits, `-`, `_`
    /// or `.` (what GitHub allows), which also makes them safe to put in a URL path unescaped.
    pub fn new(owner: &str, name: &str) -> Result<Self, Error> {
        for (what, part) in [("owner", owner), ("name", name)] {
            let ok = !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(Error::InvalidInput(format!(
                    "repository {what} {part:?} is not a valid GitHub name"
                )));
            }
        }
        Ok(RepoRef {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Parses `owner/name` (the form of `GITHUB_REPOSITORY`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when it is not `owner/name`.
    pub fn parse(full: &str) -> Result<Self, Error> {
        let (owner, name) = full.split_once('/').ok_or_else(|| {
            Error::InvalidInput(format!("repository {full:?} is not of the form owner/name"))
        })?;
        Self::new(owner, name)
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// What the GitHub Actions runner tells a step through its environment. Every field is
/// optional except the API URL (which has GitHub's default), so the same type serves local runs.
///
/// `Debug` never shows the token.
#[derive(Clone)]
pub struct GitHubContext {
    /// `GITHUB_API_URL`, default `https://api.github.com`.
    pub api_url: Url,
    /// `GITHUB_TOKEN`.
    pub token: Option<SecretString>,
    /// `GITHUB_REPOSITORY`.
    pub repository: Option<RepoRef>,
    /// `GITHUB_EVENT_NAME`, e.g. `pull_request`.
    pub event_name: Option<String>,
    /// The pull request number, from the event payload at `GITHUB_EVENT_PATH`
    /// (`pull_request`, `pull_request_target`, or an `issue_comment` on a pull request).
    pub pr_number: Option<u64>,
    /// `GITHUB_ACTOR`.
    pub actor: Option<String>,
    /// `GITHUB_SERVER_URL`, default `https://github.com`.
    pub server_url: Url,
    /// `GITHUB_RUN_ID`.
    pub run_id: Option<u64>,
    /// `{server}/{repository}/actions/runs/{run_id}` when all three are known.
    pub run_url: Option<String>,
    /// `GITHUB_REF`, e.g. `refs/pull/12/merge`.
    pub git_ref: Option<String>,
    /// `GITHUB_SHA`.
    pub sha: Option<String>,
}

impl fmt::Debug for GitHubContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubContext")
            .field("api_url", &self.api_url.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("repository", &self.repository)
            .field("event_name", &self.event_name)
            .field("pr_number", &self.pr_number)
            .field("actor", &self.actor)
            .field("server_url", &self.server_url.as_str())
            .field("run_id", &self.run_id)
            .field("run_url", &self.run_url)
            .field("git_ref", &self.git_ref)
            .field("sha", &self.sha)
            .finish()
    }
}

impl GitHubContext {
    /// Reads the context through `lookup` (pass `|k| std::env::var(k).ok()` in binaries, a map
    /// in tests). Empty values count as unset.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a URL or `GITHUB_REPOSITORY` is malformed, or when
    /// `GITHUB_EVENT_PATH` is set but the file cannot be read or is not JSON.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let api_url = parse_url(
            "GITHUB_API_URL",
            get("GITHUB_API_URL").as_deref(),
            DEFAULT_API_URL,
        )?;
        let server_url = parse_url(
            "GITHUB_SERVER_URL",
            get("GITHUB_SERVER_URL").as_deref(),
            DEFAULT_SERVER_URL,
        )?;
        let repository = get("GITHUB_REPOSITORY")
            .map(|r| RepoRef::parse(&r))
            .transpose()?;
        let run_id = get("GITHUB_RUN_ID").and_then(|r| r.trim().parse::<u64>().ok());
        let run_url = match (&repository, run_id) {
            (Some(repo), Some(run)) => Some(format!(
                "{}/{repo}/actions/runs/{run}",
                server_url.as_str().trim_end_matches('/')
            )),
            _ => None,
        };
        let event_name = get("GITHUB_EVENT_NAME");
        let pr_number = match get("GITHUB_EVENT_PATH") {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::InvalidInput(format!("cannot read GITHUB_EVENT_PATH {path}: {e}"))
                })?;
                let event: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    Error::InvalidInput(format!("GITHUB_EVENT_PATH {path} is not JSON: {e}"))
                })?;
                pr_number_from_event(event_name.as_deref(), &event)
            }
            None => None,
        };
        Ok(GitHubContext {
            api_url,
            token: get("GITHUB_TOKEN").map(SecretString::from),
            repository,
            event_name,
            pr_number,
            actor: get("GITHUB_ACTOR"),
            server_url,
            run_id,
            run_url,
            git_ref: get("GITHUB_REF"),
            sha: get("GITHUB_SHA"),
        })
    }

    /// A client for this context's repository.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `GITHUB_TOKEN` or `GITHUB_REPOSITORY` is missing, else as
    /// [`crate::GitHub::new`].
    pub fn client(&self) -> Result<crate::GitHub, Error> {
        let token = self
            .token
            .clone()
            .ok_or_else(|| Error::InvalidInput("GITHUB_TOKEN is not set".into()))?;
        let repo = self
            .repository
            .clone()
            .ok_or_else(|| Error::InvalidInput("GITHUB_REPOSITORY is not set".into()))?;
        crate::GitHub::new(self.api_url.clone(), token, repo)
    }
}

fn parse_url(var: &str, value: Option<&str>, default: &str) -> Result<Url, Error> {
    let raw = value.unwrap_or(default);
    let url = Url::parse(raw)
        .map_err(|e| Error::InvalidInput(format!("{var} {raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidInput(format!(
            "{var} {raw:?} must be an http(s) URL"
        )));
    }
    Ok(url)
}

/// The pull request number of an event payload: `pull_request.number` for `pull_request*`
/// events, `issue.number` for comments on a pull request; `None` otherwise.
fn pr_number_from_event(event_name: Option<&str>, event: &serde_json::Value) -> Option<u64> {
    if let Some(n) = event
        .pointer("/pull_request/number")
        .and_then(serde_json::Value::as_u64)
    {
        return Some(n);
    }
    let is_pr_comment = matches!(event_name, Some("issue_comment") | None)
        && event.pointer("/issue/pull_request").is_some();
    if is_pr_comment {
        return event
            .pointer("/issue/number")
            .and_then(serde_json::Value::as_u64);
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret as _;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn repo_ref_parsing() {
        let r = RepoRef::parse("acme/space-vision.app").unwrap();
        assert_eq!(
            (r.owner.as_str(), r.name.as_str()),
            ("acme", "space-vision.app")
        );
        assert_eq!(r.to_string(), "acme/space-vision.app");
        for bad in ["acme", "/x", "x/", "a/b/c", "a b/c", "a/..", "a/%2e"] {
            assert!(RepoRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_outside_actions() {
        let ctx = GitHubContext::from_env(lookup(&[])).unwrap();
        assert_eq!(ctx.api_url.as_str(), "https://api.github.com/");
        assert!(ctx.token.is_none());
        assert!(ctx.repository.is_none());
        assert!(ctx.run_url.is_none());
        assert!(ctx.client().is_err());
    }

    #[test]
    fn full_pull_request_context() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            r#"{"action":"synchronize","number":12,"pull_request":{"number":12}}"#,
        )
        .unwrap();
        let ctx = GitHubContext::from_env(lookup(&[
            ("GITHUB_API_URL", "http://127.0.0.1:8787/github"),
            ("GITHUB_TOKEN", "ghs_secret123"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_ACTOR", "alice"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_RUN_ID", "987"),
            ("GITHUB_REF", "refs/pull/12/merge"),
            ("GITHUB_SHA", "abc123"),
        ]))
        .unwrap();
        assert_eq!(ctx.api_url.as_str(), "http://127.0.0.1:8787/github");
        assert_eq!(ctx.token.as_ref().unwrap().expose_secret(), "ghs_secret123");
        assert_eq!(ctx.repository, Some(RepoRef::parse("acme/app").unwrap()));
        assert_eq!(ctx.pr_number, Some(12));
        assert_eq!(ctx.actor.as_deref(), Some("alice"));
        assert_eq!(
            ctx.run_url.as_deref(),
            Some("https://github.com/acme/app/actions/runs/987")
        );
        assert_eq!(ctx.git_ref.as_deref(), Some("refs/pull/12/merge"));
        assert_eq!(ctx.sha.as_deref(), Some("abc123"));
        let debug = format!("{ctx:?}");
        assert!(!debug.contains("ghs_secret123"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn pr_number_from_a_comment_on_a_pull_request_only() {
        let pr_comment: serde_json::Value =
            serde_json::from_str(r#"{"issue":{"number":5,"pull_request":{"url":"x"}}}"#).unwrap();
        assert_eq!(
            pr_number_from_event(Some("issue_comment"), &pr_comment),
            Some(5)
        );
        let issue_comment: serde_json::Value =
            serde_json::from_str(r#"{"issue":{"number":5}}"#).unwrap();
        assert_eq!(
            pr_number_from_event(Some("issue_comment"), &issue_comment),
            None
        );
        let push: serde_json::Value = serde_json::from_str(r#"{"ref":"refs/heads/main"}"#).unwrap();
        assert_eq!(pr_number_from_event(Some("push"), &push), None);
    }

    #[test]
    fn bad_values_are_named() {
        let e = GitHubContext::from_env(lookup(&[("GITHUB_API_URL", "ftp://x")])).unwrap_err();
        assert!(e.to_string().contains("GITHUB_API_URL"), "{e}");
        let e = GitHubContext::from_env(lookup(&[("GITHUB_REPOSITORY", "nope")])).unwrap_err();
        assert!(e.to_string().contains("owner/name"), "{e}");
        let e = GitHubContext::from_env(lookup(&[("GITHUB_EVENT_PATH", "/does/not/exist.json")]))
            .unwrap_err();
        assert!(e.to_string().contains("GITHUB_EVENT_PATH"), "{e}");
    }
}
