//! Reading an archive: age decrypt → multi-member gunzip → strict tar, all streaming.
//! The manifest is read at `open`; entries then come in manifest order and each one's
//! bytes are checked against its size and sha256 as they are read.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::Digest as _;

use crate::digest::Sha256;
use crate::error::{Error, Result};
use crate::keys::{Decryption, map_decrypt_error};
use crate::manifest::{EntryMeta, MANIFEST_PATH, MAX_MANIFEST_BYTES, Manifest, ResourceSummary};
use crate::path::check_path;
use crate::tarfmt::{TarError, TarReader};

type Stream = Box<dyn Read + Send>;

/// An open archive. Entries are read once, in order, with [`ArchiveReader::next_entry`],
/// or all checked with [`ArchiveReader::verify`].
///
/// Bytes read from an entry are only known good once that entry's `read` returned `Ok(0)`
/// (its sha256 matched), and the archive as a whole only once `next_entry` returned
/// `None` (every listed entry seen, every layer's trailer checked). Restores therefore
/// `verify` first and read again to apply.
pub struct ArchiveReader {
    archive: PathBuf,
    manifest: Manifest,
    tar: TarReader<Stream>,
    next_index: usize,
    current: Option<Current>,
    ended: bool,
    /// Set by any error: the stream position is then unknown.
    failed: bool,
}

struct Current {
    index: usize,
    hasher: sha2::Sha256,
    checked: bool,
}

impl fmt::Debug for ArchiveReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveReader")
            .field("archive", &self.archive)
            .field("entries", &self.manifest.entries.len())
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

/// The result of a full verification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    pub archive: PathBuf,
    pub format_version: u32,
    pub tool: String,
    pub tool_version: String,
    pub created_at: DateTime<Utc>,
    pub environment: String,
    pub entries: u64,
    pub bytes: u64,
    /// Counted from the entries actually read (equal to the manifest's, or verify fails).
    pub resources: BTreeMap<String, ResourceSummary>,
}

/// Opens and decrypts `path` and reads its manifest.
pub fn open(path: &Path, decryption: &Decryption) -> Result<ArchiveReader> {
    ArchiveReader::open(path, decryption)
}

impl ArchiveReader {
    pub fn open(path: &Path, decryption: &Decryption) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        Self::open_file(file, path, decryption)
    }

    /// Reads an archive from a file already open (`path` names it in errors). A caller
    /// that reads an archive twice (verify everything, then use it) keeps one handle and
    /// `try_clone`s it, so a file swapped at `path` in between is not picked up.
    pub fn open_file(mut file: File, path: &Path, decryption: &Decryption) -> Result<Self> {
        use std::io::Seek as _;
        file.rewind().map_err(|e| Error::io("seek", path, e))?;
        // Binary passes straight through; `age -a` armor is decoded.
        let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(file))
            .map_err(|e| map_decrypt_error(e, path))?;
        let payload = decryption.decrypt(decryptor, path)?;
        Self::from_payload(AgeLayer(payload), path)
    }

    /// Reads an archive whose age layer was already removed (`age -d ARCHIVE | …`): the
    /// gzip + tar payload, checked exactly as [`ArchiveReader::open_file`] checks it (`name`
    /// names it in errors). Also how `fuzz/` reaches the layers below age.
    pub fn open_decrypted(payload: impl Read + Send + 'static, name: &Path) -> Result<Self> {
        Self::from_payload(payload, name)
    }

    fn from_payload(payload: impl Read + Send + 'static, path: &Path) -> Result<Self> {
        let gunzip =
            flate2::bufread::MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, payload));
        let stream: Stream = Box::new(BufReader::with_capacity(64 * 1024, gunzip));
        let mut tar = TarReader::new(stream);
        let archive = path.to_owned();
        let manifest = read_manifest(&mut tar, &archive)?;
        Ok(Self {
            archive,
            manifest,
            tar,
            next_index: 0,
            current: None,
            ended: false,
            failed: false,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn path(&self) -> &Path {
        &self.archive
    }

    /// The next entry, in manifest order; `None` once the whole archive was read and
    /// checked. An entry left unread is skipped (and not checksummed).
    pub fn next_entry(&mut self) -> Result<Option<ArchiveEntry<'_>>> {
        if self.failed {
            return Err(Error::ReadFailed {
                archive: self.archive.clone(),
            });
        }
        if self.ended {
            return Ok(None);
        }
        match self.advance() {
            Ok(true) => Ok(Some(ArchiveEntry { reader: self })),
            Ok(false) => Ok(None),
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// Moves to the next entry and checks its header against the manifest; false at the
    /// end of the archive.
    fn advance(&mut self) -> Result<bool> {
        self.current = None;
        let header = match self.tar.next_header() {
            Ok(header) => header,
            Err(e) => return Err(tar_error(e, &self.archive)),
        };
        let Some(header) = header else {
            return self.end().map(|()| false);
        };
        let archive = self.archive.clone();
        let path = String::from_utf8(header.path.clone()).map_err(|_| Error::UnsafePath {
            archive: archive.clone(),
            path: String::from_utf8_lossy(&header.path).into_owned(),
            reason: "not UTF-8",
        })?;
        check_path(&path).map_err(|reason| Error::UnsafePath {
            archive: archive.clone(),
            path: path.clone(),
            reason,
        })?;
        if !header.is_regular() {
            return Err(Error::UnsupportedEntryType {
                archive,
                path,
                kind: header.kind_name(),
            });
        }
        let Some(expected) = self.manifest.entries.get(self.next_index) else {
            return Err(Error::UnexpectedEntry {
                archive,
                path,
                expected: None,
            });
        };
        if expected.path != path {
            return Err(Error::UnexpectedEntry {
                archive,
                path,
                expected: Some(expected.path.clone()),
            });
        }
        if expected.size != header.size {
            return Err(Error::EntrySizeMismatch {
                archive,
                path,
                expected: expected.size,
                actual: header.size,
            });
        }
        self.current = Some(Current {
            index: self.next_index,
            hasher: sha2::Sha256::new(),
            checked: false,
        });
        self.next_index += 1;
        Ok(true)
    }

    /// Reads every entry and checks it against the manifest: sizes, sha256s, no entry
    /// missing or extra, every layer's integrity check through to the end of the file.
    pub fn verify(mut self) -> Result<VerifyReport> {
        let mut resources: BTreeMap<String, ResourceSummary> = self
            .manifest
            .resources
            .keys()
            .map(|k| (k.clone(), ResourceSummary::default()))
            .collect();
        let mut buf = vec![0u8; 256 * 1024];
        let mut entries = 0u64;
        let mut bytes = 0u64;
        while let Some(mut entry) = self.next_entry()? {
            let (resource, size, items) = {
                let meta = entry.meta();
                (meta.resource.clone(), meta.size, meta.items)
            };
            while entry.read_checked(&mut buf)? > 0 {}
            resources.entry(resource).or_default().add(size, items);
            entries += 1;
            bytes += size;
        }
        let m = &self.manifest;
        Ok(VerifyReport {
            archive: self.archive.clone(),
            format_version: m.format_version,
            tool: m.tool.clone(),
            tool_version: m.tool_version.clone(),
            created_at: m.created_at,
            environment: m.environment.clone(),
            entries,
            bytes,
            resources,
        })
    }

    fn end(&mut self) -> Result<()> {
        self.ended = true;
        let listed = self.manifest.entries.len();
        if self.next_index < listed {
            return Err(Error::MissingEntries {
                archive: self.archive.clone(),
                count: listed - self.next_index,
                first: self.manifest.entries[self.next_index].path.clone(),
            });
        }
        match self.tar.drain() {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::TrailingData {
                archive: self.archive.clone(),
            }),
            Err(e) => Err(tar_error(e, &self.archive)),
        }
    }
}

/// One entry being read. Implements `Read`; errors from it wrap this crate's [`Error`],
/// recoverable with [`Error::from_io`]. [`ArchiveEntry::copy_to`] returns them typed.
pub struct ArchiveEntry<'a> {
    reader: &'a mut ArchiveReader,
}

impl fmt::Debug for ArchiveEntry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveEntry")
            .field("path", &self.meta().path)
            .finish_non_exhaustive()
    }
}

impl ArchiveEntry<'_> {
    /// The manifest record of this entry.
    pub fn meta(&self) -> &EntryMeta {
        let index = self.reader.current.as_ref().map_or(0, |c| c.index);
        &self.reader.manifest.entries[index]
    }

    /// Copies the whole entry to `out`, checking its sha256 at the end.
    pub fn copy_to(&mut self, out: &mut impl io::Write) -> Result<u64> {
        let mut buf = vec![0u8; 128 * 1024];
        let mut total = 0;
        loop {
            let n = self.read_checked(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            out.write_all(&buf[..n]).map_err(|e| Error::Source {
                path: self.meta().path.clone(),
                source: e,
            })?;
            total += n as u64;
        }
    }

    fn read_checked(&mut self, buf: &mut [u8]) -> Result<usize> {
        let result = self.read_checked_inner(buf);
        if result.is_err() {
            self.reader.failed = true;
        }
        result
    }

    fn read_checked_inner(&mut self, buf: &mut [u8]) -> Result<usize> {
        let reader = &mut *self.reader;
        if reader.failed {
            return Err(Error::ReadFailed {
                archive: reader.archive.clone(),
            });
        }
        let Some(current) = reader.current.as_mut() else {
            return Ok(0);
        };
        let n = reader
            .tar
            .read_data(buf)
            .map_err(|e| tar_error(e, &reader.archive))?;
        if n > 0 {
            current.hasher.update(&buf[..n]);
            return Ok(n);
        }
        if !current.checked {
            current.checked = true;
            let actual = Sha256(std::mem::take(&mut current.hasher).finalize().into());
            let meta = &reader.manifest.entries[current.index];
            if actual != meta.sha256 {
                return Err(Error::ChecksumMismatch {
                    archive: reader.archive.clone(),
                    path: meta.path.clone(),
                    expected: meta.sha256,
                    actual,
                });
            }
        }
        Ok(0)
    }
}

impl Read for ArchiveEntry<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_checked(buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

fn read_manifest(tar: &mut TarReader<Stream>, archive: &Path) -> Result<Manifest> {
    let not_ours = |reason: String| Error::NotSvBackup {
        archive: archive.to_owned(),
        reason,
    };
    let header = match tar.next_header() {
        Ok(Some(header)) => header,
        Ok(None) => return Err(not_ours("it is an empty tar archive".to_owned())),
        Err(TarError::Truncated(_)) => {
            return Err(not_ours(
                "its payload is empty or not a tar stream".to_owned(),
            ));
        }
        Err(TarError::Bad(reason)) => {
            return Err(not_ours(format!(
                "its payload is not a tar stream ({reason})"
            )));
        }
        Err(TarError::Io(e)) => {
            return Err(match io_error(e, archive) {
                // Authenticated bytes that do not gunzip: someone else's data.
                Error::Corrupt {
                    layer: "gzip",
                    source,
                    ..
                } => not_ours(format!(
                    "its payload is not gzip ({})",
                    source.map_or_else(String::new, |s| s.to_string())
                )),
                other => other,
            });
        }
    };
    if header.path != MANIFEST_PATH.as_bytes() || !header.is_regular() {
        return Err(not_ours(format!(
            "its first member is {:?} ({}), not {MANIFEST_PATH}",
            String::from_utf8_lossy(&header.path),
            header.kind_name()
        )));
    }
    if header.size > MAX_MANIFEST_BYTES {
        return Err(Error::ManifestInvalid {
            archive: archive.to_owned(),
            reason: format!("{} bytes is more than any manifest we write", header.size),
        });
    }
    // Grown as data arrives rather than allocated from the header's claim.
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tar.read_data(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) => return Err(tar_error(e, archive)),
        }
    }
    Manifest::parse(&bytes, archive)
}

fn tar_error(e: TarError, archive: &Path) -> Error {
    match e {
        TarError::Io(e) => io_error(e, archive),
        TarError::Truncated(detail) => Error::Truncated {
            archive: archive.to_owned(),
            detail,
        },
        TarError::Bad(reason) => Error::BadTar {
            archive: archive.to_owned(),
            reason,
        },
    }
}

/// Sorts an I/O error from the decrypt → gunzip stack by the layer it came from.
fn io_error(e: io::Error, archive: &Path) -> Error {
    let archive = archive.to_owned();
    let from_age = e
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<AgeLayerError>().is_some());
    if from_age {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof => Error::Truncated {
                archive,
                detail: "the age stream ends before its final chunk",
            },
            io::ErrorKind::InvalidData => Error::Corrupt {
                archive,
                layer: "age",
                source: Some(e),
            },
            _ => Error::io("read", archive, e),
        };
    }
    // age authenticated everything below, so these bytes are what the producer wrote.
    match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::Truncated {
            archive,
            detail: "the gzip stream ends inside a member",
        },
        _ => Error::Corrupt {
            archive,
            layer: "gzip",
            source: Some(e),
        },
    }
}

/// Tags errors from age's payload reader so they can be told from gzip's.
struct AgeLayer<R>(R);

#[derive(Debug)]
struct AgeLayerError(io::Error);

impl fmt::Display for AgeLayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "age: {}", self.0)
    }
}

impl std::error::Error for AgeLayerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl<R: Read> Read for AgeLayer<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), AgeLayerError(e)))
    }
}

/// Checks `ARCHIVE` against `ARCHIVE.sha256` (as written by the writer, `sha256sum`
/// format). Cheaper than decrypting, and it tells "damaged in transit" apart from "wrong
/// key" before any key is involved.
pub fn verify_sidecar(archive: &Path) -> Result<Sha256> {
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sidecar = archive.with_file_name(format!("{name}.sha256"));
    let text =
        std::fs::read_to_string(&sidecar).map_err(|e| Error::io("read", sidecar.clone(), e))?;
    let invalid = || Error::SidecarInvalid {
        path: sidecar.clone(),
        expected_name: name.clone(),
    };
    let line = text.lines().next().ok_or_else(invalid)?;
    let (hex, rest) = line.split_once(' ').ok_or_else(invalid)?;
    let listed = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'));
    if listed != Some(name.as_str()) {
        return Err(invalid());
    }
    let expected: Sha256 = hex.parse().map_err(|_| invalid())?;
    let mut file = File::open(archive).map_err(|e| Error::io("open", archive, e))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read", archive, e)),
        }
    }
    let actual = Sha256(hasher.finalize().into());
    if actual != expected {
        return Err(Error::SidecarMismatch {
            archive: archive.to_owned(),
            expected,
            actual,
        });
    }
    Ok(actual)
}
