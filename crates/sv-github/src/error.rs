//! The crate's one error type. Messages name the operation and what GitHub said; they never
//! carry the token, and URLs in them are stripped of query strings (artifact storage URLs are
//! pre-signed, so their query is a credential too).

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong, coarsely, so callers can choose an exit code or a hint without matching
/// every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCategory {
    /// The token is missing, wrong, expired or lacks a permission (401, 403).
    Authentication,
    /// The repository, issue, comment or artifact does not exist (404, 410).
    NotFound,
    /// GitHub's primary or secondary rate limit (429, or 403 with rate-limit headers).
    RateLimited,
    /// The request never got an HTTP answer (DNS, connect, TLS, timeout, reset).
    Network,
    /// The caller's input is unusable (bad repository name, marker, URL, missing variable).
    InvalidInput,
    /// Any other refusal or unexpected answer from GitHub (422, 5xx, undecodable body).
    Api,
    /// The downloaded artifact is not a safe, valid zip archive.
    Archive,
    /// Local file system failure while writing a download.
    Io,
}

/// Errors of the GitHub integration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401, or 403 without rate-limit signs.
    #[error(
        "GitHub refused the credentials while trying to {operation} (HTTP {status}: {message}); \
         check GITHUB_TOKEN and the workflow's `permissions:`"
    )]
    Authentication {
        /// What we were doing.
        operation: String,
        /// HTTP status.
        status: u16,
        /// GitHub's `message`.
        message: String,
    },
    /// 404 or 410.
    #[error("not found while trying to {operation} (HTTP {status}: {message})")]
    NotFound {
        /// What we were doing.
        operation: String,
        /// HTTP status.
        status: u16,
        /// GitHub's `message`.
        message: String,
    },
    /// Rate limited, after the retries ran out.
    #[error("GitHub rate limit reached while trying to {operation}: {message}{}", retry_hint(*retry_after))]
    RateLimited {
        /// What we were doing.
        operation: String,
        /// GitHub's `message`.
        message: String,
        /// How long GitHub asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// No HTTP answer.
    #[error("network error while trying to {operation}")]
    Network {
        /// What we were doing (with a redacted URL where useful).
        operation: String,
        /// The transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Unusable input from the caller or the environment.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Another refusal (422 validation, 5xx after retries, …).
    #[error(
        "GitHub refused to {operation} (HTTP {status}: {message}{})",
        details_suffix(details)
    )]
    Api {
        /// What we were doing.
        operation: String,
        /// HTTP status.
        status: u16,
        /// GitHub's `message`.
        message: String,
        /// GitHub's `errors` entries, rendered, for 422s.
        details: Vec<String>,
    },
    /// A 2xx answer we could not understand.
    #[error("unexpected answer from GitHub while trying to {operation}: {detail}")]
    Decode {
        /// What we were doing.
        operation: String,
        /// What was wrong with it.
        detail: String,
    },
    /// An archive entry that would be written outside the destination (zip-slip), or a
    /// symbolic link.
    #[error(
        "artifact {artifact}: refusing unsafe archive entry {entry:?} (it would escape the destination directory)"
    )]
    UnsafeArchiveEntry {
        /// Artifact id.
        artifact: u64,
        /// The entry's name as stored in the zip.
        entry: String,
    },
    /// The download is not a valid zip.
    #[error("artifact {artifact}: invalid zip archive")]
    Archive {
        /// Artifact id.
        artifact: u64,
        /// The zip error.
        #[source]
        source: zip::result::ZipError,
    },
    /// Writing the download failed.
    #[error("cannot write {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn retry_hint(after: Option<Duration>) -> String {
    after.map_or_else(String::new, |d| format!(" (retry after {}s)", d.as_secs()))
}

fn details_suffix(details: &[String]) -> String {
    if details.is_empty() {
        String::new()
    } else {
        format!("; {}", details.join("; "))
    }
}

impl Error {
    /// The coarse category of this error.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Error::Authentication { .. } => ErrorCategory::Authentication,
            Error::NotFound { .. } => ErrorCategory::NotFound,
            Error::RateLimited { .. } => ErrorCategory::RateLimited,
            Error::Network { .. } => ErrorCategory::Network,
            Error::InvalidInput(_) => ErrorCategory::InvalidInput,
            Error::Api { .. } | Error::Decode { .. } => ErrorCategory::Api,
            Error::UnsafeArchiveEntry { .. } | Error::Archive { .. } => ErrorCategory::Archive,
            Error::Io { .. } => ErrorCategory::Io,
        }
    }
}

/// `scheme://host[:port]/path` without query or fragment, for messages.
pub(crate) fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => raw.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_drops_query_and_userinfo() {
        assert_eq!(
            redact_url("https://user:pw@blob.example/a/b.zip?sig=SECRET&se=1#x"),
            "https://blob.example/a/b.zip"
        );
        assert_eq!(redact_url("not a url?sig=SECRET"), "not a url");
    }

    #[test]
    fn messages_are_actionable() {
        let e = Error::Authentication {
            operation: "list comments on #4".into(),
            status: 401,
            message: "Bad credentials".into(),
        };
        assert_eq!(
            e.to_string(),
            "GitHub refused the credentials while trying to list comments on #4 (HTTP 401: Bad \
             credentials); check GITHUB_TOKEN and the workflow's `permissions:`"
        );
        assert_eq!(e.category(), ErrorCategory::Authentication);
        let e = Error::RateLimited {
            operation: "x".into(),
            message: "API rate limit exceeded".into(),
            retry_after: Some(Duration::from_secs(30)),
        };
        assert!(e.to_string().ends_with("(retry after 30s)"));
        let e = Error::Api {
            operation: "create an issue".into(),
            status: 422,
            message: "Validation Failed".into(),
            details: vec!["Issue.title: missing_field".into()],
        };
        assert_eq!(
            e.to_string(),
            "GitHub refused to create an issue (HTTP 422: Validation Failed; Issue.title: missing_field)"
        );
    }
}
