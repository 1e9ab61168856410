//! `sv-snapshot`: reading live resources into a backup archive.
//!
//! It owns reading live D1 databases, KV namespaces, R2 buckets, DNS zones and Worker
//! scripts (and sv-plan's state, from a file or R2) into an sv-archive archive: what
//! `sv-backup create` and sv-plan's backup before an apply destroys data stores both call,
//! so both write the same entries and manifest and `sv-backup verify`/`restore` take either.
//!
//! - [`create_archive`]: a whole backup set into a new archive, nothing printed.
//! - [`Snapshot`]: the same one item at a time, for a caller that measures or reports each
//!   (`sv-backup create` counts API requests per resource).
//! - [`Item`], [`manifest_header`], [`archive_name`]: the pieces both share (where the
//!   `state` item lives is `sv_infra::store::location`).
//! - [`d1`] and [`worker`]: the D1 schema helpers and the `worker.json` document, which
//!   sv-backup's restore and drill read back.
//!
//! Entries stream from the API into the archive (see `bridge`): nothing is held whole in
//! memory or spooled to disk in plaintext. Errors are one typed [`Error`] naming the item,
//! the API call and the resource; nothing here prints.

mod archive;
mod bridge;
pub mod d1;
mod error;
mod kv;
mod vtables;
pub mod worker;

pub use archive::{Item, Snapshot, TOOL, archive_name, create_archive, manifest_header};
pub use error::{Error, Result};
