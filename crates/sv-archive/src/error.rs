//! The one error type of this crate. Variants carry what a human needs to act (the archive
//! path, the entry path, expected and actual values) and never key material: identities and
//! passphrases are only ever held as `SecretString` and no variant has room for them.

use std::io;
use std::path::PathBuf;

use crate::digest::Sha256;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- local files -------------------------------------------------------------------
    /// A filesystem operation on one of our own files (output, spool, key file) failed.
    #[error("cannot {op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// We never overwrite a backup: names are expected to be unique (timestamped).
    #[error("{path} already exists; refusing to overwrite a backup")]
    Exists { path: PathBuf },
    #[error("invalid archive name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("invalid writer option: {0}")]
    InvalidOption(&'static str),

    // ---- keys ----------------------------------------------------------------------------
    #[error("no age recipients given: a backup must be readable by someone")]
    NoRecipients,
    /// `origin` names where the recipient came from (a file and line, or "recipient N").
    /// The offending text is not shown: people paste secret keys where recipients belong.
    #[error("{origin}: not an age X25519 recipient (age1…): {reason}")]
    InvalidRecipient { origin: String, reason: String },
    /// Never shows the identity text, only where it came from and the line number.
    #[error("cannot load age identities from {origin}: {reason}")]
    InvalidIdentity { origin: String, reason: String },
    #[error("age could not encrypt: {0}")]
    Encrypt(#[source] age::EncryptError),

    // ---- writing entries ------------------------------------------------------------------
    #[error("invalid entry path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("entry {path:?}: {field} must not be empty")]
    EmptyField { path: String, field: &'static str },
    #[error("entry {path:?} is already in the archive")]
    DuplicatePath { path: String },
    /// `a/b` as a file and `a/b/c` cannot both be extracted by `tar`.
    #[error("entry {path:?} conflicts with entry {other:?} (a file cannot also be a directory)")]
    PathConflict { path: String, other: String },
    #[error("entry {path:?}: declared {declared} bytes but the source ended after {actual}")]
    SourceTooShort {
        path: String,
        declared: u64,
        actual: u64,
    },
    #[error("entry {path:?}: declared {declared} bytes but the source has more")]
    SourceTooLong { path: String, declared: u64 },
    /// Reading an entry's source failed (network stream, temp file …).
    #[error("cannot read the data of entry {path:?}")]
    Source {
        path: String,
        #[source]
        source: io::Error,
    },
    /// An earlier error left the archive stream inconsistent; drop the writer (its partial
    /// output is removed) and start again.
    #[error("the archive writer failed earlier and cannot continue")]
    Poisoned,
    /// A compression worker panicked or vanished.
    #[error("archive pipeline failed: {0}")]
    Pipeline(String),

    // ---- reading: envelope ----------------------------------------------------------------
    #[error("{archive}: not an age-encrypted file, or its age header is damaged")]
    Header { archive: PathBuf },
    #[error(
        "{archive}: none of the given identities can decrypt this archive (wrong key, or a damaged header)"
    )]
    WrongIdentity { archive: PathBuf },
    #[error("{archive}: wrong passphrase (or a damaged header)")]
    WrongPassphrase { archive: PathBuf },
    #[error("{archive}: is encrypted to {actual}, but {given} was given")]
    KeyTypeMismatch {
        archive: PathBuf,
        actual: &'static str,
        given: &'static str,
    },
    #[error(
        "{archive}: passphrase work factor 2^{required} is far above this machine's ~1 s target 2^{target}; refusing"
    )]
    ExcessiveWork {
        archive: PathBuf,
        required: u8,
        target: u8,
    },
    /// age authentication failed: the ciphertext was modified, or cut inside its last chunk
    /// (the two cannot be told apart cryptographically).
    #[error("{archive}: {layer} integrity check failed: the archive was modified or truncated")]
    Corrupt {
        archive: PathBuf,
        layer: &'static str,
        #[source]
        source: Option<io::Error>,
    },
    /// The stream provably ends early (age saw no final chunk, or a header was cut short).
    #[error("{archive}: the archive is truncated ({detail})")]
    Truncated {
        archive: PathBuf,
        detail: &'static str,
    },

    // ---- reading: format ------------------------------------------------------------------
    #[error("{archive}: not an sv backup: {reason}")]
    NotSvBackup { archive: PathBuf, reason: String },
    #[error(
        "{archive}: archive format version {found} is newer than this sv understands (up to {supported}); upgrade sv to read it"
    )]
    UnsupportedVersion {
        archive: PathBuf,
        found: u64,
        supported: u32,
    },
    #[error("{archive}: invalid manifest: {reason}")]
    ManifestInvalid { archive: PathBuf, reason: String },
    #[error("{archive}: unsafe entry path {path:?}: {reason}")]
    UnsafePath {
        archive: PathBuf,
        path: String,
        reason: &'static str,
    },
    #[error("{archive}: entry {path:?} is a {kind}; only regular files are accepted")]
    UnsupportedEntryType {
        archive: PathBuf,
        path: String,
        kind: &'static str,
    },
    #[error("{archive}: bad tar header: {reason}")]
    BadTar {
        archive: PathBuf,
        reason: &'static str,
    },
    #[error("{archive}: entry {path:?} is not what the manifest lists next{}", expected_suffix(.expected))]
    UnexpectedEntry {
        archive: PathBuf,
        path: String,
        expected: Option<String>,
    },
    #[error("{archive}: {count} entries listed in the manifest are missing (first: {first:?})")]
    MissingEntries {
        archive: PathBuf,
        count: usize,
        first: String,
    },
    #[error("{archive}: entry {path:?} has {actual} bytes, the manifest says {expected}")]
    EntrySizeMismatch {
        archive: PathBuf,
        path: String,
        expected: u64,
        actual: u64,
    },
    #[error("{archive}: entry {path:?} sha256 is {actual}, the manifest says {expected}")]
    ChecksumMismatch {
        archive: PathBuf,
        path: String,
        expected: Sha256,
        actual: Sha256,
    },
    #[error("{archive}: unexpected data after the end of the tar stream")]
    TrailingData { archive: PathBuf },
    /// An earlier error left the stream at an unknown position; open the archive again.
    #[error("{archive}: reading stopped at an earlier error")]
    ReadFailed { archive: PathBuf },

    // ---- sidecar ------------------------------------------------------------------------
    #[error("{path}: not a sha256sum line for {expected_name:?}")]
    SidecarInvalid {
        path: PathBuf,
        expected_name: String,
    },
    #[error("{archive}: sha256 is {actual}, its sidecar says {expected}")]
    SidecarMismatch {
        archive: PathBuf,
        expected: Sha256,
        actual: Sha256,
    },
}

fn expected_suffix(expected: &Option<String>) -> String {
    match expected {
        Some(path) => format!(" (expected {path:?})"),
        None => " (the manifest lists no more entries)".to_owned(),
    }
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Recovers a typed error that [`crate::ArchiveEntry`]'s `Read` impl had to wrap in an
    /// `io::Error`.
    pub fn from_io(err: io::Error) -> Result<Self, io::Error> {
        if err
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<Error>().is_some())
        {
            match err.into_inner().map(|inner| inner.downcast::<Error>()) {
                Some(Ok(typed)) => Ok(*typed),
                // Unreachable after the check above; keep the original shape anyway.
                Some(Err(other)) => Err(io::Error::other(other)),
                None => Err(io::Error::other("io error without payload")),
            }
        } else {
            Err(err)
        }
    }
}
