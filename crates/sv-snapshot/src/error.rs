//! The one error type of this crate. Each variant says what was being read (which resource,
//! which API call, which file) and keeps the underlying error as its source, so a binary
//! printing the chain (`anyhow`'s `{:#}`) shows both.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One item of the backup set failed; `source` says how.
    #[error("backing up {resource} ({target})")]
    Item {
        /// `d1.main`, `kv.cache`, `dns`, `state` …
        resource: String,
        /// The live name (or the state file) it was read from.
        target: String,
        #[source]
        source: Box<Error>,
    },
    /// A Cloudflare API call failed. `operation` names the call, `resource` what it was
    /// about (already quoted where it is a name).
    #[error("{operation} {resource}")]
    Api {
        operation: &'static str,
        resource: String,
        #[source]
        source: Box<sv_cloudflare::Error>,
    },
    #[error("KV namespace {title:?} does not exist")]
    KvNamespaceNotFound { title: String },
    #[error("zone {zone:?} not found in the account")]
    ZoneNotFound { zone: String },
    /// The output directory could not be created.
    #[error("cannot create {}", path.display())]
    OutputDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// sv-plan's state file exists but cannot be read.
    #[error("reading {}", path.display())]
    State {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// sv-plan's state in R2 cannot be read.
    #[error("reading the state {location}")]
    StateStore {
        location: String,
        #[source]
        source: Box<sv_infra::Error>,
    },
    /// Starting, writing or finishing the archive failed (`source` names the entry).
    #[error("writing the archive {name}")]
    Archive {
        /// The archive's file name.
        name: String,
        #[source]
        source: Box<sv_archive::Error>,
    },
    /// An earlier failure took the archive writer down; nothing more can be added.
    #[error("the archive writer failed earlier")]
    WriterGone,
    /// A value read from the API could not be written as JSON into an entry.
    #[error("encoding {what} as JSON")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A task of ours (archive writer, KV lister, D1 reader) panicked or was cancelled.
    #[error("{task} panicked")]
    Task {
        task: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
}

/// `e` and its sources joined by `: ` (what `anyhow` prints with `{:#}`): the text sent
/// down an entry's byte stream when the task producing it fails, so the archive's read
/// error carries the whole story.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(source) = next {
        out.push_str(": ");
        out.push_str(&source.to_string());
        next = source.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_joins_every_source() {
        let e = Error::Item {
            resource: "state".into(),
            target: "/app/.sv/state/staging.json".into(),
            source: Box::new(Error::State {
                path: "/app/.sv/state/staging.json".into(),
                source: std::io::Error::other("disk on fire"),
            }),
        };
        assert_eq!(
            chain(&e),
            "backing up state (/app/.sv/state/staging.json): reading \
             /app/.sv/state/staging.json: disk on fire"
        );
    }
}
