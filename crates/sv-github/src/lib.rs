//! GitHub REST integration for sv: sticky pull-request comments, tool-managed issues, labels and
//! workflow artifacts, all found again by hidden markers; and Actions repository secrets
//! (sealed-box encrypted writes, see `GitHub::put_secret`).
//!
//! This crate owns talking to GitHub's REST API (through octocrab) and nothing else: it knows
//! no CLI flags, config files or plans, and takes the API base URL and token at construction so
//! tests and the emulator (`sv-emu-github`) plug in. The Actions runner protocol (step outputs,
//! job summary, annotations, masking) lives in `sv-actions`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sv_github::Error> {
//! use sv_github::{GitHubContext, Marker};
//! let ctx = GitHubContext::from_env(|k| std::env::var(k).ok())?;
//! let gh = ctx.client()?;
//! if let Some(pr) = ctx.pr_number {
//!     let marker = Marker::new("plan", "production")?;
//!     let outcome = gh.upsert_comment(pr, &marker, "## Plan\n\nNo changes.").await?;
//!     let _ = outcome.url;
//! }
//! # Ok(()) }
//! ```
//!
//! Base URL: octocrab keeps a path prefix in the base URL (GitHub Enterprise's `/api/v3`, the
//! emulator's `/github`), with or without a trailing slash, and leaves absolute `Link` URLs that
//! already start with the prefix alone.

mod artifacts;
mod body;
mod client;
mod comments;
mod context;
mod error;
mod issues;
mod labels;
mod marker;
mod secrets;

pub use artifacts::{Artifact, DownloadedArtifact};
pub use body::{COMMENT_BODY_LIMIT, fit_comment_body};
pub use client::{GitHub, RetryPolicy};
pub use comments::{CommentAction, CommentOutcome, IssueComment, User};
pub use context::{DEFAULT_API_URL, DEFAULT_SERVER_URL, GitHubContext, RepoRef};
pub use error::{Error, ErrorCategory};
pub use issues::{Issue, IssueAction, IssueOutcome, Label};
pub use marker::Marker;
/// Re-exported so callers can build the token without naming `secrecy` themselves.
pub use secrecy::SecretString;
pub use secrets::{SecretAction, SecretInfo, SecretsPublicKey, seal_secret, validate_secret_name};
