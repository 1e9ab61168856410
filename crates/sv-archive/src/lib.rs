//! The sv-backup archive format: one `NAME.tar.gz.age` file holding a whole backup, which
//! `age -d -i key.txt NAME.tar.gz.age | tar xz` unpacks with no sv installed.
//!
//! This crate owns the format and nothing else: it takes entries as byte streams with
//! metadata ([`NewEntry`]) and knows nothing of Cloudflare, HTTP or configuration. It is
//! synchronous (`std::io::Read`/`Write`); sv-backup runs it in `spawn_blocking` and
//! bridges async bodies with `tokio_util::io::SyncIoBridge`.
//!
//! # Layout (format version 1)
//!
//! ```text
//! age (X25519 recipients or scrypt passphrase; binary, not armored)
//! └─ gzip: a sequence of independent members (RFC 1952 allows concatenation)
//!    └─ tar (POSIX ustar; a PAX `x` header before members with long/non-ASCII paths)
//!       ├─ manifest.json          format, version, tool, time, environment, source,
//!       │                         totals, per-resource counts, and every entry's
//!       │                         path, resource, kind, size, sha256, items, extra
//!       ├─ d1/main/dump.sql       entries, in manifest order, regular files only
//!       ├─ kv/sessions/entries.jsonl
//!       └─ …                      then the end-of-archive marker
//! ```
//!
//! Members carry mode 0644, uid/gid 0 and the backup's time as mtime, so extraction is
//! reproducible and owns nothing special.
//!
//! # Why the manifest can come first: an encrypted, compressed spool
//!
//! The manifest must be the first member (so `list`/`plan` read a few KiB, not the whole
//! backup), yet checksums and sizes are only known once every entry has streamed. Three
//! designs were weighed:
//!
//! 1. Write entries as they stream, with a small header-only `manifest.json` first and
//!    the checksummed manifest last. Single pass, no disk, but the first manifest cannot
//!    list checksums, and anything wanting them must read the whole archive.
//! 2. Spool every entry uncompressed to a temp dir, then write manifest-first. Honest,
//!    but needs the *uncompressed* size in free disk and leaves plaintext on disk.
//! 3. (chosen) Stream entries through the parallel compressor into a **spool of finished
//!    gzip members**, encrypted with a throw-away age key held only in memory, in an
//!    unnamed temp file (`O_TMPFILE`: gone when the process ends, even if killed). At
//!    `finish`, write `manifest.json` as its own gzip member into the real age stream,
//!    then copy the spool after it. Since gzip members concatenate, nothing is
//!    recompressed: the extra cost is one decrypt/encrypt pass over *compressed* bytes
//!    (age runs at ~1 GB/s; compression is the bottleneck, not this). Disk needed: the
//!    compressed size twice at the end (spool + output), never the uncompressed size.
//!
//! Design 3 also removes the usual "tar needs the size up front" problem: an entry of
//! unknown size (a D1 dump, generated JSON) starts a new gzip member in the spool and
//! its tar header — a member of its own — is inserted at that point during the final
//! copy, when its size is known. So no entry is ever spooled separately, and memory stays
//! flat whatever the size of any entry or of the backup.
//!
//! Memory grows only with the *number* of entries (their manifest records, about 200
//! bytes each plus their `extra`), never with their bytes.
//!
//! # Speed and memory
//!
//! The tar stream is cut into 1 MiB chunks, each compressed by a pool of threads into an
//! independent gzip member and written back in order (bounded slots: memory is flat).
//! Within a chunk, every 16 KiB segment whose sampled byte entropy says it will not shrink
//! — already-compressed R2 objects, encrypted or random bytes — is written as deflate
//! stored blocks between the deflated runs: still standard gzip, costing a CRC instead of
//! a deflate pass, even when small images and small text files share a chunk. Deflate is flate2's `zlib-rs` backend (a Rust
//! port of zlib-ng), about twice as fast as the default `miniz_oxide` at level 6 here.
//! The final pass (spool read + decrypt → encrypt for the recipients → sha256 + write)
//! runs as three threads. Peak RSS stays around 20–30 MB whatever the size (≤ 8
//! compression threads, about 4 MiB in flight each).
//!
//! Passphrase mode is the exception: age's scrypt is calibrated to about one second and
//! briefly needs hundreds of MB, once per archive, as `age -p` does.
//!
//! # Atomicity
//!
//! `NAME.partial` is claimed at [`ArchiveWriter::create`] and written at `finish`, then
//! fsynced; `NAME.sha256` (`sha256sum` format) is written and renamed into place; then
//! `NAME.partial` is renamed to `NAME` and the directory fsynced. Any error or dropping
//! the writer removes `NAME.partial`; a name that exists is never overwritten.
//!
//! # Reading and trust
//!
//! [`open`] decrypts (a wrong key is [`Error::WrongIdentity`] / [`Error::WrongPassphrase`]),
//! refuses a manifest of a newer format version ([`Error::UnsupportedVersion`]), and
//! checks the manifest's own consistency. Entries must then appear exactly in manifest
//! order, as regular files with safe paths ([`check_path`]); each entry's bytes are hashed
//! as they are read. age authenticates every 64 KiB of ciphertext, so a flipped byte
//! anywhere fails before its plaintext is used ([`Error::Corrupt`]), and a stream cut at a
//! chunk boundary is [`Error::Truncated`]; the checksums catch what age cannot (a producer
//! that wrote inconsistent data, or an archive assembled by someone holding a recipient
//! key). [`ArchiveReader::verify`] reads everything through to the end of every layer.

mod digest;
mod error;
mod gz;
mod keys;
mod manifest;
mod path;
mod pipeline;
mod reader;
mod relay;
mod spool;
mod tarfmt;
mod writer;

pub use digest::Sha256;
pub use error::{Error, Result};
pub use keys::{Decryption, Encryption};
pub use manifest::{
    EntryMeta, FORMAT_NAME, FORMAT_VERSION, MANIFEST_PATH, MAX_MANIFEST_BYTES, Manifest,
    ManifestHeader, NewEntry, ResourceSummary, Totals,
};
pub use path::{MAX_PATH_BYTES, check_path};
pub use pipeline::CompressionStats;
pub use reader::{ArchiveEntry, ArchiveReader, VerifyReport, open, verify_sidecar};
pub use spool::Spool;
pub use writer::{ArchiveSummary, ArchiveWriter, WriterOptions};
