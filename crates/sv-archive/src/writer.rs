//! Writing an archive: entries stream through the parallel gzip pipeline into an
//! encrypted spool; `finish` writes `manifest.json` first, then the spool, into
//! `NAME.partial`, and only then makes `NAME` and `NAME.sha256` appear.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::digest::Sha256;
use crate::error::{Error, Result};
use crate::gz::MemberEncoder;
use crate::keys::Encryption;
use crate::manifest::{
    EntryMeta, MANIFEST_PATH, Manifest, ManifestHeader, NewEntry, ResourceSummary,
};
use crate::path::{Conflict, PathSet, check_path};
use crate::pipeline::{CompressionStats, FillError, Pipeline, PipelineConfig, Sink};
use crate::relay::{HashingFileWriter, ReadAhead};
use crate::tarfmt::{END_OF_ARCHIVE, file_header, padding};

/// Tuning knobs; the defaults are what sv-backup uses.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// gzip level 0–9 (0 stores everything). Default 6, gzip's own default.
    pub level: u32,
    /// Bytes of tar stream per gzip member. Default 1 MiB: large enough that the
    /// per-member restart costs well under 1% of ratio, small enough to spread over cores
    /// and keep memory flat.
    pub chunk_size: usize,
    /// Compression threads. Default: the number of CPUs, at most 8 (each thread keeps
    /// about 4 MiB of chunks in flight; 8 keep peak memory under 64 MB).
    pub workers: usize,
    /// Where the encrypted spool lives while entries stream. Default: the output
    /// directory, which is on the disk that must hold the result anyway (a tmpfs `/tmp`
    /// would put the whole backup in RAM).
    pub spool_dir: Option<PathBuf>,
    /// ASCII-armor the output (`age -a`): for pasting into text channels; a third larger.
    /// Default off: binary. Readers accept both.
    pub armor: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            level: 6,
            chunk_size: 1024 * 1024,
            workers: std::thread::available_parallelism().map_or(1, |n| usize::from(n).min(8)),
            spool_dir: None,
            armor: false,
        }
    }
}

/// What a finished archive is.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveSummary {
    /// `DIR/NAME`.
    pub path: PathBuf,
    /// `DIR/NAME.sha256`, in `sha256sum` format.
    pub sha256_path: PathBuf,
    /// Size of the encrypted file.
    pub size: u64,
    /// sha256 of the encrypted file.
    pub sha256: Sha256,
    pub entries: u64,
    /// Sum of entry sizes (uncompressed).
    pub bytes: u64,
    pub resources: BTreeMap<String, ResourceSummary>,
    pub compression: CompressionStats,
}

/// Writes one archive. Create it, add entries, then [`ArchiveWriter::finish`]; dropping it
/// unfinished (or any failure) removes `NAME.partial` and leaves nothing behind.
///
/// Synchronous by design: sv-backup drives it from `spawn_blocking` and bridges async
/// bodies with `tokio_util::io::SyncIoBridge`.
pub struct ArchiveWriter {
    dir: PathBuf,
    name: String,
    partial_path: PathBuf,
    partial: Option<File>,
    encryption: Encryption,
    header: ManifestHeader,
    mtime: u64,
    level: u32,
    armor: bool,
    pipeline: Option<Pipeline<SpoolSink>>,
    spool_key: age::x25519::Identity,
    entries: Vec<EntryMeta>,
    paths: PathSet,
    poisoned: bool,
    finished: bool,
}

impl std::fmt::Debug for ArchiveWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("dir", &self.dir)
            .field("name", &self.name)
            .field("encryption", &self.encryption)
            .field("entries", &self.entries.len())
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl ArchiveWriter {
    /// Starts `DIR/NAME` with default options. Claims `NAME.partial` at once (so two
    /// runs cannot write the same name) and refuses if `NAME` exists.
    pub fn create(
        dir: &Path,
        name: &str,
        encryption: Encryption,
        header: ManifestHeader,
    ) -> Result<Self> {
        Self::create_with(dir, name, encryption, header, WriterOptions::default())
    }

    pub fn create_with(
        dir: &Path,
        name: &str,
        encryption: Encryption,
        header: ManifestHeader,
        options: WriterOptions,
    ) -> Result<Self> {
        check_name(name)?;
        if options.level > 9 {
            return Err(Error::InvalidOption("level must be 0–9"));
        }
        if !(4096..=64 * 1024 * 1024).contains(&options.chunk_size) {
            return Err(Error::InvalidOption("chunk_size must be 4 KiB–64 MiB"));
        }
        if header.tool.is_empty() || header.tool_version.is_empty() {
            return Err(Error::InvalidOption(
                "the manifest header needs a tool name and version",
            ));
        }
        if header.resources.iter().any(String::is_empty) {
            return Err(Error::InvalidOption("resource ids must not be empty"));
        }
        let final_path = dir.join(name);
        if final_path.symlink_metadata().is_ok() {
            return Err(Error::Exists { path: final_path });
        }
        let partial_path = dir.join(format!("{name}.partial"));
        let partial = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial_path)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    Error::Exists {
                        path: partial_path.clone(),
                    }
                } else {
                    Error::io("create", &partial_path, e)
                }
            })?;
        // From here on, Drop removes the partial file on any failure.
        let mut writer = Self {
            dir: dir.to_owned(),
            name: name.to_owned(),
            partial_path,
            partial: Some(partial),
            encryption,
            mtime: u64::try_from(header.created_at.timestamp()).unwrap_or(0),
            header,
            level: options.level,
            armor: options.armor,
            pipeline: None,
            spool_key: age::x25519::Identity::generate(),
            entries: Vec::new(),
            paths: PathSet::default(),
            poisoned: false,
            finished: false,
        };
        let spool_dir = options.spool_dir.as_deref().unwrap_or(dir);
        let sink = SpoolSink::new(spool_dir, &writer.spool_key)?;
        let config = PipelineConfig {
            level: options.level,
            chunk_size: options.chunk_size,
            workers: options.workers,
        };
        writer.pipeline = Some(
            Pipeline::new(config, sink)
                .map_err(|e| Error::Pipeline(format!("cannot start threads: {e}")))?,
        );
        Ok(writer)
    }

    /// Adds an entry streamed from `reader`.
    ///
    /// With `size` known (an R2 object's content-length, a KV value) the bytes stream
    /// straight through; the source must then give exactly that many. With `None` (a D1
    /// dump, generated JSON) they stream too, and the tar header is written at `finish`
    /// once the size is measured. Memory stays flat either way.
    ///
    /// A validation error (bad path, duplicate) leaves the writer usable; an error once
    /// bytes flowed (source failed, size wrong) poisons it: drop it and start again.
    pub fn add_stream(
        &mut self,
        entry: NewEntry,
        size: Option<u64>,
        mut reader: impl Read,
    ) -> Result<EntryMeta> {
        self.usable()?;
        self.check_entry(&entry)?;
        let index = u32::try_from(self.entries.len())
            .map_err(|_| Error::InvalidOption("too many entries"))?;
        let pipeline = self.pipeline.as_mut().ok_or(Error::Poisoned)?;
        match stream_entry(pipeline, &entry.path, size, &mut reader, self.mtime, index) {
            Ok((size, sha256)) => {
                self.paths.insert(&entry.path);
                let meta = EntryMeta {
                    path: entry.path,
                    resource: entry.resource,
                    kind: entry.kind,
                    size,
                    sha256,
                    items: entry.items,
                    extra: entry.extra,
                };
                self.entries.push(meta.clone());
                Ok(meta)
            }
            Err(e) => {
                self.poisoned = true;
                Err(e)
            }
        }
    }

    /// Adds an entry held in memory.
    pub fn add_bytes(&mut self, entry: NewEntry, bytes: &[u8]) -> Result<EntryMeta> {
        self.add_stream(entry, Some(bytes.len() as u64), bytes)
    }

    /// Sets the item count of the entry just added, for producers that only know it once
    /// the entry has streamed (a generated KV JSONL). Recorded in the manifest at `finish`.
    pub fn set_last_items(&mut self, items: u64) -> Result<()> {
        self.usable()?;
        let last = self.entries.last_mut().ok_or(Error::Poisoned)?;
        last.items = Some(items);
        Ok(())
    }

    /// Entries added so far.
    pub fn entries(&self) -> &[EntryMeta] {
        &self.entries
    }

    /// Writes the manifest and the spooled entries to `NAME.partial`, fsyncs it, writes
    /// `NAME.sha256`, then renames `NAME.partial` to `NAME`: a reader sees either no
    /// archive or a complete one with its checksum beside it.
    pub fn finish(mut self) -> Result<ArchiveSummary> {
        self.usable()?;
        let result = self.finish_inner();
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn finish_inner(&mut self) -> Result<ArchiveSummary> {
        let mut pipeline = self.pipeline.take().ok_or(Error::Poisoned)?;
        let spool = pipeline
            .write_all(&END_OF_ARCHIVE)
            .and_then(|()| pipeline.finish())
            .map_err(|e| Error::io("write the spool in", &self.dir, e))?;
        let manifest = Manifest::build(&self.header, std::mem::take(&mut self.entries));

        let mut encoder = MemberEncoder::new(self.level);
        let mut member = Vec::new();
        let mut manifest_tar = {
            let json = manifest.to_json()?;
            let mut bytes = file_header(MANIFEST_PATH, json.len() as u64, self.mtime);
            bytes.extend_from_slice(&json);
            bytes.resize(bytes.len() + padding(json.len() as u64), 0);
            bytes
        };
        encoder
            .encode(&manifest_tar, &mut member)
            .map_err(|e| Error::Pipeline(format!("cannot compress the manifest: {e}")))?;
        manifest_tar.clear();

        let partial_path = self.partial_path.clone();
        let out_err = |e: io::Error| Error::io("write", &partial_path, e);
        let file = self.partial.take().ok_or(Error::Poisoned)?;
        let encryptor = self.encryption.encryptor()?;
        let format = if self.armor {
            age::armor::Format::AsciiArmor
        } else {
            age::armor::Format::Binary
        };
        // Three stages on three threads: spool read + decrypt → (here) encrypt for the
        // recipients → sha256 + write.
        let sink = HashingFileWriter::spawn(file).map_err(out_err)?;
        let armored = age::armor::ArmoredWriter::wrap_output(sink, format).map_err(out_err)?;
        let mut out = encryptor.wrap_output(armored).map_err(out_err)?;
        out.write_all(&member).map_err(out_err)?;

        // Replay the spool, inserting the deferred headers of unknown-size entries where
        // their data begins.
        let spool_err = |e: io::Error| Error::io("copy the spool to", &partial_path, e);
        let reader = open_spool(spool.output, &self.spool_key).map_err(spool_err)?;
        let mut chunks = ReadAhead::spawn(reader).map_err(spool_err)?;
        let mut markers = spool.markers.iter().peekable();
        let mut pos = 0u64;
        while let Some(chunk) = chunks.next() {
            let chunk = chunk.map_err(spool_err)?;
            let mut data = &chunk[..];
            while let Some(&(offset, index)) =
                markers.next_if(|(offset, _)| *offset < pos + data.len() as u64)
            {
                let (before, after) = data.split_at((offset - pos) as usize);
                out.write_all(before).map_err(out_err)?;
                data = after;
                pos = offset;
                self.write_deferred_header(&mut out, &manifest, index, &mut encoder, &mut member)?;
            }
            out.write_all(data).map_err(out_err)?;
            pos += data.len() as u64;
            chunks.give_back(chunk);
        }
        for &(offset, index) in markers {
            if offset != pos {
                return Err(Error::Pipeline(format!(
                    "a deferred header at {offset} is past the spool's end {pos}"
                )));
            }
            self.write_deferred_header(&mut out, &manifest, index, &mut encoder, &mut member)?;
        }
        if pos != spool.stats.bytes_out {
            return Err(Error::Pipeline(format!(
                "spool holds {pos} bytes, {} were written to it",
                spool.stats.bytes_out
            )));
        }
        drop(chunks);

        // age's final chunk, then the armor's last line: without them the file does not
        // decrypt.
        let (file, sha256, size) = out
            .finish()
            .and_then(age::armor::ArmoredWriter::finish)
            .and_then(HashingFileWriter::finish)
            .map_err(out_err)?;
        file.sync_all()
            .map_err(|e| Error::io("fsync", &partial_path, e))?;
        drop(file);

        let final_path = self.dir.join(&self.name);
        let sha256_path = self.dir.join(format!("{}.sha256", self.name));
        write_sidecar(&sha256_path, &self.name, &sha256)?;
        if final_path.symlink_metadata().is_ok() {
            let _ = fs::remove_file(&sha256_path);
            return Err(Error::Exists { path: final_path });
        }
        if let Err(e) = fs::rename(&partial_path, &final_path) {
            let _ = fs::remove_file(&sha256_path);
            return Err(Error::io("rename into place", &final_path, e));
        }
        self.finished = true;
        sync_dir(&self.dir)?;

        Ok(ArchiveSummary {
            path: final_path,
            sha256_path,
            size,
            sha256,
            entries: manifest.totals.entries,
            bytes: manifest.totals.bytes,
            resources: manifest.resources,
            compression: spool.stats,
        })
    }

    fn write_deferred_header(
        &self,
        out: &mut impl Write,
        manifest: &Manifest,
        index: u32,
        encoder: &mut MemberEncoder,
        member: &mut Vec<u8>,
    ) -> Result<()> {
        let entry = manifest
            .entries
            .get(index as usize)
            .ok_or_else(|| Error::Pipeline(format!("deferred header for unknown entry {index}")))?;
        let header = file_header(&entry.path, entry.size, self.mtime);
        encoder
            .encode(&header, member)
            .map_err(|e| Error::Pipeline(format!("cannot compress a header: {e}")))?;
        out.write_all(member)
            .map_err(|e| Error::io("write", &self.partial_path, e))
    }

    fn usable(&self) -> Result<()> {
        if self.poisoned || self.finished || self.pipeline.is_none() {
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    fn check_entry(&self, entry: &NewEntry) -> Result<()> {
        check_path(&entry.path).map_err(|reason| Error::InvalidPath {
            path: entry.path.clone(),
            reason,
        })?;
        for (field, value) in [("resource", &entry.resource), ("kind", &entry.kind)] {
            if value.is_empty() {
                return Err(Error::EmptyField {
                    path: entry.path.clone(),
                    field,
                });
            }
        }
        match self.paths.check(&entry.path) {
            Ok(()) => Ok(()),
            Err(Conflict::Duplicate) => Err(Error::DuplicatePath {
                path: entry.path.clone(),
            }),
            Err(Conflict::With(other)) => Err(Error::PathConflict {
                path: entry.path.clone(),
                other,
            }),
        }
    }
}

impl Drop for ArchiveWriter {
    fn drop(&mut self) {
        if !self.finished {
            // Stop the threads before removing what they might still write to.
            self.pipeline = None;
            self.partial = None;
            let _ = fs::remove_file(&self.partial_path);
            let _ = fs::remove_file(self.dir.join(format!("{}.sha256.partial", self.name)));
        }
    }
}

/// Streams one entry into the tar stream; returns its size and digest.
fn stream_entry(
    pipeline: &mut Pipeline<SpoolSink>,
    path: &str,
    size: Option<u64>,
    reader: &mut dyn Read,
    mtime: u64,
    index: u32,
) -> Result<(u64, Sha256)> {
    let pipe_err = |e: io::Error| Error::Pipeline(format!("writing entry {path:?}: {e}"));
    let fill_err = |e: FillError| match e {
        FillError::Source(source) => Error::Source {
            path: path.to_owned(),
            source,
        },
        FillError::Pipeline(e) => pipe_err(e),
    };
    let mut hasher = sha2::Sha256::new();
    let size = match size {
        Some(declared) => {
            pipeline
                .write_all(&file_header(path, declared, mtime))
                .map_err(pipe_err)?;
            let got = pipeline
                .fill_from(reader, declared, &mut hasher)
                .map_err(fill_err)?;
            if got < declared {
                return Err(Error::SourceTooShort {
                    path: path.to_owned(),
                    declared,
                    actual: got,
                });
            }
            let mut probe = [0u8; 1];
            loop {
                match reader.read(&mut probe) {
                    Ok(0) => break,
                    Ok(_) => {
                        return Err(Error::SourceTooLong {
                            path: path.to_owned(),
                            declared,
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(source) => {
                        return Err(Error::Source {
                            path: path.to_owned(),
                            source,
                        });
                    }
                }
            }
            declared
        }
        None => {
            // The header goes in at `finish`, where this member boundary is.
            pipeline.mark(index).map_err(pipe_err)?;
            pipeline
                .fill_from(reader, u64::MAX, &mut hasher)
                .map_err(fill_err)?
        }
    };
    pipeline
        .write_all(&[0u8; 512][..padding(size)])
        .map_err(pipe_err)?;
    Ok((size, Sha256(hasher.finalize().into())))
}

/// A plain file name: the archive goes exactly in `dir`.
fn check_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name == "." || name == ".." {
        Some("not a file name")
    } else if name.contains(['/', '\\', '\0']) {
        Some("must be a plain file name, without directories")
    } else if name.ends_with(".partial") || name.ends_with(".sha256") {
        Some("the .partial and .sha256 suffixes are ours")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// `sha256sum` format, so `sha256sum -c NAME.sha256` works in the archive's directory;
/// written beside and renamed, so it too appears whole.
fn write_sidecar(path: &Path, name: &str, sha256: &Sha256) -> Result<()> {
    let tmp = path.with_file_name(format!("{name}.sha256.partial"));
    let write = || -> io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(format!("{sha256}  {name}\n").as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("write", path, e)
    })
}

/// Makes the renames durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("fsync directory", dir, e))
}

/// The spool: compressed tar stream while entries arrive, encrypted with a key that exists
/// only in this process, in an unnamed temporary file (gone when the process ends, even if
/// killed). Backup data is never on disk in the clear.
struct SpoolSink {
    /// age writes whole 64 KiB chunks: no buffer needed in between.
    stream: age::stream::StreamWriter<File>,
}

impl SpoolSink {
    fn new(dir: &Path, key: &age::x25519::Identity) -> Result<Self> {
        let file =
            tempfile::tempfile_in(dir).map_err(|e| Error::io("create a spool in", dir, e))?;
        let recipient = key.to_public();
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(Error::Encrypt)?;
        let stream = encryptor
            .wrap_output(file)
            .map_err(|e| Error::io("write the spool in", dir, e))?;
        Ok(Self { stream })
    }
}

impl Write for SpoolSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Sink for SpoolSink {
    type Output = File;

    fn finish(self) -> io::Result<File> {
        self.stream.finish()
    }
}

fn open_spool(
    mut file: File,
    key: &age::x25519::Identity,
) -> io::Result<age::stream::StreamReader<BufReader<File>>> {
    file.seek(SeekFrom::Start(0))?;
    // age reads 64 KiB chunks, which bypass a buffer of that size.
    let decryptor = age::Decryptor::new_buffered(BufReader::with_capacity(64 * 1024, file))
        .map_err(io::Error::other)?;
    decryptor
        .decrypt(std::iter::once(key as &dyn age::Identity))
        .map_err(io::Error::other)
}
