//! The emulator's data: repositories with their issues (pull requests are issues with a flag, as
//! on GitHub, sharing one number sequence), comments and workflow artifacts.
//!
//! Everything is plain serde data behind one mutex so the whole state can be snapshotted to JSON
//! and restored by the emulator binary.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use chrono::{DateTime, SubsecRound as _, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The login every authenticated API request acts as. It is what `GITHUB_TOKEN` is inside
/// GitHub Actions, so comments written by the tools look like the real thing.
pub const ACTIONS_BOT_LOGIN: &str = "github-actions[bot]";
/// GitHub's user id of `github-actions[bot]`.
pub const ACTIONS_BOT_ID: u64 = 41_898_282;

/// First id handed out for comments, issues, labels, artifacts and users. Large enough to look
/// like GitHub ids and to never collide with issue numbers in tests.
const FIRST_ID: u64 = 1_000_001;

/// Shared, cheaply cloneable state of the emulator.
///
/// The required token (if any) is configuration, not data: it is neither snapshotted nor
/// cleared by [`GithubState::reset`].
#[derive(Clone, Default)]
pub struct GithubState {
    inner: Arc<Mutex<Data>>,
    log: Arc<Mutex<Vec<RecordedRequest>>>,
    required_token: Option<Arc<str>>,
}

impl std::fmt::Debug for GithubState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubState")
            .field(
                "required_token",
                &self.required_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// One API request as the emulator saw it, for tests that assert on traffic (for example that
/// an unchanged sticky comment causes no write, or that the artifact blob download carried no
/// `Authorization` header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// HTTP method, upper case.
    pub method: String,
    /// Path and query as received, including any prefix the router was nested under.
    pub path: String,
    /// Whether an `Authorization` header was present.
    pub authorization: bool,
}

/// The persisted data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Data {
    pub next_id: u64,
    /// Users by login; ids are allocated on first sight.
    pub users: BTreeMap<String, u64>,
    /// Repositories by `owner/name` in lower case (GitHub names are case-insensitive).
    pub repos: BTreeMap<String, Repo>,
    /// What the token may do with Actions secrets (a test control).
    #[serde(default)]
    pub secrets_permission: crate::secrets::SecretsPermission,
}

impl Default for Data {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert(ACTIONS_BOT_LOGIN.to_owned(), ACTIONS_BOT_ID);
        Data {
            next_id: FIRST_ID,
            users,
            repos: BTreeMap::new(),
            secrets_permission: crate::secrets::SecretsPermission::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub next_number: u64,
    pub issues: BTreeMap<u64, IssueRec>,
    pub comments: BTreeMap<u64, CommentRec>,
    pub labels: BTreeMap<String, LabelRec>,
    pub artifacts: BTreeMap<u64, ArtifactRec>,
    /// Actions secrets and their key pair.
    #[serde(default)]
    pub secrets: crate::secrets::RepoSecrets,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IssueRec {
    pub id: u64,
    pub number: u64,
    pub is_pull: bool,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub state: String,
    pub state_reason: Option<String>,
    /// Label names, in the order they were attached.
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CommentRec {
    pub id: u64,
    pub issue_number: u64,
    pub body: String,
    pub user: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LabelRec {
    pub id: u64,
    pub name: String,
    pub color: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ArtifactRec {
    pub id: u64,
    pub name: String,
    pub run_id: u64,
    pub head_branch: String,
    pub head_sha: String,
    pub expired: bool,
    pub created_at: DateTime<Utc>,
    /// The signature the blob URL must carry, standing in for the SAS token of the storage
    /// URL GitHub redirects to.
    pub sig: String,
    /// The zip archive itself.
    #[serde(with = "b64")]
    pub zip: Vec<u8>,
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// GitHub timestamps have second precision.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

impl Data {
    pub(crate) fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn user_id(&mut self, login: &str) -> u64 {
        if let Some(id) = self.users.get(login) {
            return *id;
        }
        let id = self.alloc_id();
        self.users.insert(login.to_owned(), id);
        id
    }

    /// Repositories exist implicitly: the first request naming one creates it, so tests and the
    /// demo need no seeding step.
    pub(crate) fn repo_mut(&mut self, owner: &str, name: &str) -> &mut Repo {
        let next_id = &mut self.next_id;
        self.repos.entry(repo_key(owner, name)).or_insert_with(|| {
            let id = *next_id;
            *next_id += 1;
            Repo {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                next_number: 1,
                issues: BTreeMap::new(),
                comments: BTreeMap::new(),
                labels: BTreeMap::new(),
                artifacts: BTreeMap::new(),
                secrets: crate::secrets::RepoSecrets::default(),
            }
        })
    }

    /// Creates an issue or pull request with the next free number.
    pub(crate) fn create_issue(&mut self, owner: &str, repo: &str, new: NewIssue) -> u64 {
        let id = self.alloc_id();
        self.user_id(&new.user);
        for login in &new.assignees {
            self.user_id(login);
        }
        let label_ids: Vec<u64> = new.labels.iter().map(|_| self.alloc_id()).collect();
        let r = self.repo_mut(owner, repo);
        for (label, id) in new.labels.iter().zip(label_ids) {
            r.labels
                .entry(label.to_lowercase())
                .or_insert_with(|| LabelRec {
                    id,
                    name: label.clone(),
                    color: "ededed".into(),
                });
        }
        let number = r.next_number;
        r.next_number += 1;
        let at = now();
        r.issues.insert(
            number,
            IssueRec {
                id,
                number,
                is_pull: new.is_pull,
                title: new.title,
                body: new.body,
                user: new.user,
                state: "open".into(),
                state_reason: None,
                labels: dedup(new.labels),
                assignees: dedup(new.assignees),
                created_at: at,
                updated_at: at,
                closed_at: None,
                closed_by: None,
            },
        );
        number
    }

    /// Makes sure `number` exists; an unknown number becomes an implicit pull request, which is
    /// how tests comment on "the PR" without creating it first.
    pub(crate) fn ensure_issue(&mut self, owner: &str, repo: &str, number: u64) {
        let exists = self.repo_mut(owner, repo).issues.contains_key(&number);
        if exists {
            return;
        }
        let id = self.alloc_id();
        let r = self.repo_mut(owner, repo);
        let at = now();
        r.issues.insert(
            number,
            IssueRec {
                id,
                number,
                is_pull: true,
                title: format!("Pull request #{number}"),
                body: None,
                user: ACTIONS_BOT_LOGIN.into(),
                state: "open".into(),
                state_reason: None,
                labels: Vec::new(),
                assignees: Vec::new(),
                created_at: at,
                updated_at: at,
                closed_at: None,
                closed_by: None,
            },
        );
        r.next_number = r.next_number.max(number + 1);
    }

    pub(crate) fn add_comment(
        &mut self,
        owner: &str,
        repo: &str,
        number: u64,
        user: &str,
        body: String,
    ) -> u64 {
        self.ensure_issue(owner, repo, number);
        self.user_id(user);
        let id = self.alloc_id();
        let at = now();
        self.repo_mut(owner, repo).comments.insert(
            id,
            CommentRec {
                id,
                issue_number: number,
                body,
                user: user.to_owned(),
                created_at: at,
                updated_at: at,
            },
        );
        id
    }

    pub(crate) fn add_artifact(&mut self, owner: &str, repo: &str, new: NewArtifact) -> u64 {
        let id = self.alloc_id();
        let at = now();
        let sig = format!(
            "{:016x}",
            (at.timestamp_nanos_opt().unwrap_or(0) as u64) ^ id.rotate_left(17)
        );
        let run_id = new.run_id.unwrap_or_else(|| self.alloc_id());
        self.repo_mut(owner, repo).artifacts.insert(
            id,
            ArtifactRec {
                id,
                name: new.name,
                run_id,
                head_branch: new.head_branch.unwrap_or_else(|| "main".into()),
                head_sha: new
                    .head_sha
                    .unwrap_or_else(|| "0000000000000000000000000000000000000000".into()),
                expired: new.expired,
                created_at: at,
                sig,
                zip: new.zip,
            },
        );
        id
    }

    pub(crate) fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos.get(&repo_key(owner, name))
    }
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&item)) {
            out.push(item);
        }
    }
    out
}

pub(crate) fn repo_key(owner: &str, name: &str) -> String {
    format!("{}/{}", owner.to_lowercase(), name.to_lowercase())
}

pub(crate) struct NewIssue {
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub is_pull: bool,
}

/// An artifact to add through the admin API or [`GithubState::upload_artifact_zip`].
#[derive(Debug, Clone, Default)]
pub struct NewArtifact {
    /// Artifact name as `actions/upload-artifact` would give it.
    pub name: String,
    /// Workflow run the artifact belongs to; a fresh id when absent.
    pub run_id: Option<u64>,
    /// Branch of the run (default `main`).
    pub head_branch: Option<String>,
    /// Commit of the run (default forty zeros).
    pub head_sha: Option<String>,
    /// Whether the artifact has expired (its zip then answers 410 Gone, as on GitHub).
    pub expired: bool,
    /// The zip archive bytes.
    pub zip: Vec<u8>,
}

/// Builds a deflate zip archive from `(path, contents)` pairs.
///
/// # Errors
/// When the zip writer fails (it writes to memory, so only on invalid entry names).
pub fn zip_files(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, Error> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, contents) in files {
        writer
            .start_file(path.as_str(), options)
            .map_err(|e| Error::Zip(e.to_string()))?;
        writer
            .write_all(contents)
            .map_err(|e| Error::Zip(e.to_string()))?;
    }
    let cursor = writer.finish().map_err(|e| Error::Zip(e.to_string()))?;
    Ok(cursor.into_inner())
}

impl GithubState {
    /// An empty emulator that accepts any token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires every API request to carry exactly this token (`Bearer` or `token` scheme);
    /// anything else gets GitHub's 401 "Bad credentials".
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.required_token = Some(Arc::from(token.into()));
        self
    }

    pub(crate) fn required_token(&self) -> Option<&str> {
        self.required_token.as_deref()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn log_lock(&self) -> MutexGuard<'_, Vec<RecordedRequest>> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn record(&self, request: RecordedRequest) {
        self.log_lock().push(request);
    }

    /// Every API and blob request seen since start (or the last [`GithubState::clear_requests`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log_lock().clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.log_lock().clear();
    }

    /// Drops all data (repositories, issues, comments, artifacts) and the request log.
    pub fn reset(&self) {
        *self.lock() = Data::default();
        self.clear_requests();
    }

    /// The whole data set as JSON (artifact archives base64-encoded), for persistence.
    pub fn snapshot(&self) -> serde_json::Value {
        // Serializing plain structs with string keys cannot fail.
        serde_json::to_value(&*self.lock()).unwrap_or(serde_json::Value::Null)
    }

    /// Replaces the data with a snapshot taken by [`GithubState::snapshot`].
    ///
    /// # Errors
    /// [`Error::Snapshot`] when the value is not a snapshot.
    pub fn restore(&self, value: serde_json::Value) -> Result<(), Error> {
        let data: Data = serde_json::from_value(value).map_err(Error::Snapshot)?;
        *self.lock() = data;
        Ok(())
    }

    /// Writes [`GithubState::snapshot`] to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn to_file(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_vec_pretty(&self.snapshot()).map_err(Error::Snapshot)?;
        std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Loads a state written by [`GithubState::to_file`] (accepting any token).
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Snapshot`].
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(Error::Snapshot)?;
        let state = Self::new();
        state.restore(value)?;
        Ok(state)
    }

    /// Opens a pull request (an issue flagged as a PR) and returns its number.
    pub fn create_pull(&self, owner: &str, repo: &str, title: &str, user: &str) -> u64 {
        self.lock().create_issue(
            owner,
            repo,
            NewIssue {
                title: title.to_owned(),
                body: None,
                user: user.to_owned(),
                labels: Vec::new(),
                assignees: Vec::new(),
                is_pull: true,
            },
        )
    }

    /// Adds a comment authored by `login` (for example a human reviewer) and returns its id.
    pub fn add_comment_as(
        &self,
        owner: &str,
        repo: &str,
        number: u64,
        login: &str,
        body: &str,
    ) -> u64 {
        self.lock()
            .add_comment(owner, repo, number, login, body.to_owned())
    }

    /// Adds a workflow artifact from zip bytes and returns its id.
    pub fn upload_artifact_zip(&self, owner: &str, repo: &str, artifact: NewArtifact) -> u64 {
        self.lock().add_artifact(owner, repo, artifact)
    }

    /// Adds a workflow artifact whose archive holds `files` and returns its id.
    ///
    /// # Errors
    /// [`Error::Zip`] when the archive cannot be built.
    pub fn upload_artifact_files(
        &self,
        owner: &str,
        repo: &str,
        name: &str,
        run_id: Option<u64>,
        files: &[(String, Vec<u8>)],
    ) -> Result<u64, Error> {
        let zip = zip_files(files)?;
        Ok(self.upload_artifact_zip(
            owner,
            repo,
            NewArtifact {
                name: name.to_owned(),
                run_id,
                zip,
                ..NewArtifact::default()
            },
        ))
    }

    /// Bodies of the comments on an issue or pull request, oldest first, with their authors.
    pub fn comments(&self, owner: &str, repo: &str, number: u64) -> Vec<(String, String)> {
        let data = self.lock();
        data.repo(owner, repo)
            .map(|r| {
                r.comments
                    .values()
                    .filter(|c| c.issue_number == number)
                    .map(|c| (c.user.clone(), c.body.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub(crate) fn node_id(kind: &str, id: u64) -> String {
    let raw = format!("0{}:{kind}{id}", kind.len());
    base64::engine::general_purpose::STANDARD.encode(raw)
}
