//! `make-seeds DIR`: an identity (`DIR/key.txt`) and seed inputs for the archive targets —
//! real archives written by sv-archive (`DIR/archive_file/`) and their decrypted payloads
//! (`DIR/archive_payload/`), so fuzzing starts from valid structure instead of noise.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use age::secrecy::ExposeSecret as _;
use sv_archive::{ArchiveWriter, Decryption, Encryption, ManifestHeader, NewEntry};

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: make-seeds DIR"));
    let files = dir.join("archive_file");
    let payloads = dir.join("archive_payload");
    for d in [&dir, &files, &payloads] {
        std::fs::create_dir_all(d).expect("create the seed directories");
    }
    let identity = age::x25519::Identity::generate();
    let key = dir.join("key.txt");
    std::fs::write(&key, format!("{}\n", identity.to_string().expose_secret()))
        .expect("write the identity");
    let recipient = identity.to_public().to_string();

    let small: Vec<(&str, &str, &str, Vec<u8>)> = vec![
        ("kv/sessions/entries.jsonl", "kv.sessions", "kv-entries-jsonl", b"{\"key\":\"a\",\"value\":\"aGk=\"}\n".to_vec()),
        ("d1/main/dump.sql", "d1.main", "d1-sql-dump", b"CREATE TABLE t (x);\nINSERT INTO t VALUES (1);\n".to_vec()),
    ];
    let mixed: Vec<(&str, &str, &str, Vec<u8>)> = vec![
        ("kv/cache/entries.jsonl", "kv.cache", "kv-entries-jsonl", b"{\"key\":\"k\",\"value\":\"dg==\",\"metadata\":{\"a\":1}}\n".repeat(40)),
        ("r2/uploads/objects/photo.bin", "r2.uploads", "r2-object", (0..=255u8).cycle().take(70_000).collect()),
        ("r2/uploads/objects/empty", "r2.uploads", "r2-object", Vec::new()),
        ("dns/zone.bind", "dns", "dns-bind", b"api 300 IN CNAME example.org.\n".to_vec()),
    ];
    for (name, entries) in [("small", small), ("mixed", mixed)] {
        let archive = write(&files, name, &recipient, &entries);
        let payload = decrypt(&archive, &identity);
        std::fs::write(payloads.join(name), payload).expect("write a payload seed");
    }
    // The reader must accept what it seeds with, or the fuzzing starts from noise.
    let decryption = Decryption::identity_file(&key).expect("load the identity");
    for entry in std::fs::read_dir(&files).expect("list seeds").flatten() {
        sv_archive::open(&entry.path(), &decryption)
            .and_then(sv_archive::ArchiveReader::verify)
            .expect("a seed archive verifies");
    }
    println!("seeds in {}", dir.display());
}

fn write(dir: &Path, name: &str, recipient: &str, entries: &[(&str, &str, &str, Vec<u8>)]) -> PathBuf {
    let header = ManifestHeader {
        tool: "sv-backup".into(),
        tool_version: "0.1.0".into(),
        created_at: "2026-11-25T12:00:00Z".parse().expect("a time"),
        environment: "staging".into(),
        source: Default::default(),
        resources: entries.iter().map(|e| e.1.to_owned()).collect::<std::collections::BTreeSet<_>>().into_iter().collect(),
    };
    let file = format!("{name}.tar.gz.age");
    let encryption = Encryption::recipients([recipient]).expect("a recipient");
    let mut writer = ArchiveWriter::create(dir, &file, encryption, header).expect("create an archive");
    for (path, resource, kind, bytes) in entries {
        writer.add_bytes(NewEntry::new(*path, *resource, *kind), bytes).expect("add an entry");
    }
    writer.finish().expect("finish the archive");
    // The sidecar is not an input.
    let _ = std::fs::remove_file(dir.join(format!("{file}.sha256")));
    dir.join(file)
}

fn decrypt(archive: &Path, identity: &age::x25519::Identity) -> Vec<u8> {
    let file = std::fs::File::open(archive).expect("open the archive");
    let decryptor = age::Decryptor::new(file).expect("an age file");
    let mut reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .expect("our own key decrypts");
    let mut out = Vec::new();
    reader.read_to_end(&mut out).expect("read the payload");
    out
}
