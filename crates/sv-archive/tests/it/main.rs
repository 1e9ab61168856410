//! sv-archive end to end: round trips, interop with the `age` and `tar` CLIs, tampering,
//! atomicity and memory.
#![allow(clippy::unwrap_used)]

mod atomic;
mod cli;
mod memory;
mod roundtrip;
mod tamper;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sv_archive::{
    ArchiveSummary, ArchiveWriter, Decryption, Encryption, ManifestHeader, NewEntry, Sha256,
    WriterOptions,
};

/// A check that an error is of the expected kind.
pub type Expect = fn(&sv_archive::Error) -> bool;

pub fn created_at() -> DateTime<Utc> {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

pub fn header() -> ManifestHeader {
    let mut source = serde_json::Map::new();
    source.insert("account_id".into(), json!("0123456789abcdef"));
    source.insert("app".into(), json!("spacevision"));
    ManifestHeader {
        tool: "sv-backup".into(),
        tool_version: "0.1.0".into(),
        created_at: created_at(),
        environment: "production".into(),
        source,
        resources: vec![
            "d1.main".into(),
            "kv.sessions".into(),
            "kv.empty".into(),
            "r2.uploads".into(),
        ],
    }
}

/// An X25519 key pair, the secret also written as an `age-keygen` file with comments.
pub struct Key {
    pub identity: age::x25519::Identity,
    pub recipient: String,
    pub file: PathBuf,
}

impl Key {
    pub fn new(dir: &Path, name: &str) -> Self {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let file = dir.join(format!("{name}.txt"));
        std::fs::write(
            &file,
            format!(
                "# created: 2026-11-25T12:00:00Z\n# public key: {recipient}\n{}\n",
                identity.to_string().expose_secret()
            ),
        )
        .unwrap();
        Self {
            identity,
            recipient,
            file,
        }
    }

    pub fn encryption(&self) -> Encryption {
        Encryption::recipients([&self.recipient]).unwrap()
    }

    pub fn decryption(&self) -> Decryption {
        Decryption::identity_file(&self.file).unwrap()
    }
}

/// Small chunks so that even small test archives have many gzip members.
pub fn small_chunks() -> WriterOptions {
    WriterOptions {
        chunk_size: 64 * 1024,
        workers: 3,
        ..WriterOptions::default()
    }
}

/// Deterministic incompressible bytes (xorshift64*).
pub struct Noise {
    state: u64,
    left: u64,
}

impl Noise {
    pub fn new(seed: u64, len: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            left: len,
        }
    }
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let v = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Deterministic SQL-dump-like text: compressible, but not trivially (row numbers change).
pub struct Text {
    block: Vec<u8>,
    pos: usize,
    round: u64,
    left: u64,
}

impl Text {
    pub fn new(len: u64) -> Self {
        let mut block = Vec::new();
        let words = [
            "alice", "bob", "carol", "dave", "eve", "mallory", "trent", "peggy", "victor",
        ];
        let mut i = 0u64;
        while block.len() < 64 * 1024 {
            let w = words[(i * 7 % 9) as usize];
            let line = format!(
                "INSERT INTO \"sessions\" VALUES({i},'{w}','{w}{}@example.com',{},'{}');\n",
                i % 97,
                1_700_000_000 + i * 37,
                if i.is_multiple_of(3) {
                    "active"
                } else {
                    "expired"
                }
            );
            block.extend_from_slice(line.as_bytes());
            i += 1;
        }
        Self {
            block,
            pos: 0,
            round: 0,
            left: len,
        }
    }
}

impl Read for Text {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(self.block.len() - self.pos)
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        // Vary each round a little so blocks are not exact repeats.
        if self.pos == 0 && n > 0 {
            buf[0] = b'0' + (self.round % 10) as u8;
        }
        self.pos += n;
        if self.pos == self.block.len() {
            self.pos = 0;
            self.round += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// sha256 and length of everything `r` yields.
pub fn digest(mut r: impl Read) -> (Sha256, u64) {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    (Sha256(hasher.finalize().into()), len)
}

/// The standard entry set: text, random, empty, unknown sizes, unicode and long paths.
/// Returns the (path, bytes) of each entry, except the large streamed one which is
/// regenerated by [`big_text`].
pub fn write_standard(dir: &Path, name: &str, key: &Key, big: u64) -> ArchiveSummary {
    let mut w =
        ArchiveWriter::create_with(dir, name, key.encryption(), header(), small_chunks()).unwrap();
    for (entry, bytes) in small_entries() {
        w.add_bytes(entry, &bytes).unwrap();
    }
    let mut noise = Vec::new();
    Noise::new(1, 300_000).read_to_end(&mut noise).unwrap();
    w.add_stream(
        NewEntry::new("r2/uploads/objects/photo.jpg", "r2.uploads", "r2-object")
            .with_extra("content_type", "image/jpeg")
            .with_extra("custom_metadata", json!({"owner": "alice"})),
        Some(noise.len() as u64),
        &noise[..],
    )
    .unwrap();
    w.add_stream(
        NewEntry::new("d1/main/dump.sql", "d1.main", "d1-sql-dump").with_items(12_345),
        None,
        Text::new(big),
    )
    .unwrap();
    w.add_stream(
        NewEntry::new("d1/main/empty-unknown.sql", "d1.main", "d1-sql-dump"),
        None,
        io::empty(),
    )
    .unwrap();
    w.add_stream(
        NewEntry::new("kv/sessions/random-unknown.bin", "kv.sessions", "kv-value"),
        None,
        Noise::new(2, 150_001),
    )
    .unwrap();
    w.finish().unwrap()
}

pub fn small_entries() -> Vec<(NewEntry, Vec<u8>)> {
    let long = format!("r2/uploads/objects/{}/deep.txt", "long-segment-".repeat(12));
    vec![
        (
            NewEntry::new(
                "kv/sessions/entries.jsonl",
                "kv.sessions",
                "kv-entries-jsonl",
            )
            .with_items(2),
            b"{\"key\":\"a\",\"value\":\"1\"}\n{\"key\":\"b\",\"value\":\"2\"}\n".to_vec(),
        ),
        (
            NewEntry::new("d1/main/schema.sql", "d1.main", "d1-schema"),
            b"CREATE TABLE sessions(id INTEGER PRIMARY KEY, name TEXT);\n".to_vec(),
        ),
        (
            NewEntry::new("r2/uploads/objects/empty", "r2.uploads", "r2-object"),
            Vec::new(),
        ),
        (
            NewEntry::new(
                "r2/uploads/objects/été/☃ snow – ünïcødé.txt",
                "r2.uploads",
                "r2-object",
            ),
            "grüße, 雪\n".as_bytes().to_vec(),
        ),
        (
            NewEntry::new(long, "r2.uploads", "r2-object"),
            b"deep\n".to_vec(),
        ),
        (
            NewEntry::new("state/sv-state.json", "sv.state", "sv-state"),
            b"{\"version\":1}\n".to_vec(),
        ),
    ]
}

pub fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (install it: apt-get install -y age tar)")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A hand-built member for crafting hostile archives.
pub struct Raw {
    pub path: Vec<u8>,
    pub data: Vec<u8>,
    pub typeflag: u8,
    pub link: Vec<u8>,
}

impl Raw {
    pub fn file(path: &str, data: &[u8]) -> Self {
        Self {
            path: path.as_bytes().to_vec(),
            data: data.to_vec(),
            typeflag: b'0',
            link: Vec::new(),
        }
    }
}

/// A manifest consistent with `entries` (path, bytes), as our writer would produce.
pub fn manifest_for(entries: &[(&str, &[u8])]) -> Value {
    let mut list = Vec::new();
    let mut bytes = 0u64;
    for (path, data) in entries {
        list.push(json!({
            "path": path, "resource": "r", "kind": "k",
            "size": data.len(), "sha256": Sha256::of(data).to_hex(),
        }));
        bytes += data.len() as u64;
    }
    json!({
        "format": "sv-backup", "format_version": 1,
        "tool": "sv-backup", "tool_version": "0.1.0",
        "created_at": "2026-11-25T12:00:00Z", "environment": "production",
        "totals": {"entries": entries.len(), "bytes": bytes},
        "resources": if entries.is_empty() { json!({}) } else {
            json!({"r": {"entries": entries.len(), "bytes": bytes}})
        },
        "entries": list,
    })
}

/// tar (ustar, raw names: no validation) → gzip → age, to `dir/name`.
pub fn craft(dir: &Path, name: &str, recipient: &str, members: &[Raw], trailing: &[u8]) -> PathBuf {
    let mut tar = Vec::new();
    for m in members {
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..m.path.len()].copy_from_slice(&m.path);
        h.as_old_mut().linkname[..m.link.len()].copy_from_slice(&m.link);
        h.set_size(m.data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::new(m.typeflag));
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        tar.extend_from_slice(&m.data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    tar.extend_from_slice(trailing);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    encrypt_to(dir, name, recipient, &gz.finish().unwrap())
}

pub fn encrypt_to(dir: &Path, name: &str, recipient: &str, plaintext: &[u8]) -> PathBuf {
    let recipient: age::x25519::Recipient = recipient.parse().unwrap();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let path = dir.join(name);
    let mut out = encryptor
        .wrap_output(std::fs::File::create(&path).unwrap())
        .unwrap();
    out.write_all(plaintext).unwrap();
    out.finish().unwrap();
    path
}

pub fn manifest_member(manifest: &Value) -> Raw {
    Raw::file(
        "manifest.json",
        &serde_json::to_vec_pretty(manifest).unwrap(),
    )
}

pub fn passphrase(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

/// Names of the files in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
