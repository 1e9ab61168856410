//! Write → read: bytes and manifest come back exactly.

use std::io::{self, Read};

use secrecy::ExposeSecret;
use sv_archive::{
    ArchiveWriter, Decryption, Encryption, Error, MANIFEST_PATH, NewEntry, ResourceSummary,
    WriterOptions, open, verify_sidecar,
};

use crate::{
    Key, Noise, Text, digest, header, passphrase, small_chunks, small_entries, write_standard,
};

const BIG: u64 = 20 * 1024 * 1024 + 123;

#[test]
fn many_entries_round_trip_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let summary = write_standard(tmp.path(), "b.tar.gz.age", &key, BIG);
    assert_eq!(summary.entries, 10);
    assert_eq!(summary.path, tmp.path().join("b.tar.gz.age"));
    assert_eq!(
        std::fs::metadata(&summary.path).unwrap().len(),
        summary.size
    );
    assert!(
        summary.compression.stored_bytes > 0,
        "{:?}",
        summary.compression
    );
    assert!(summary.compression.stored_bytes < summary.compression.bytes_in);
    // The generated text compresses, the noise does not; overall well below the input.
    assert!(summary.size < summary.bytes / 2, "{summary:?}");

    let mut reader = open(&summary.path, &key.decryption()).unwrap();
    let manifest = reader.manifest().clone();
    assert_eq!(manifest.format_version, 1);
    assert_eq!(manifest.environment, "production");
    assert_eq!(manifest.source["app"], "spacevision");
    assert_eq!(manifest.totals.entries, summary.entries);
    assert_eq!(manifest.totals.bytes, summary.bytes);
    assert_eq!(manifest.resources, summary.resources);
    assert_eq!(manifest.resources["kv.empty"], ResourceSummary::default());
    assert_eq!(manifest.resources["d1.main"].items, Some(12_345));
    assert_eq!(manifest.resources["kv.sessions"].items, Some(2));

    // Expected contents, in order.
    let mut expected: Vec<(String, Box<dyn Read>)> = small_entries()
        .into_iter()
        .map(|(e, b)| (e.path, Box::new(io::Cursor::new(b)) as Box<dyn Read>))
        .collect();
    expected.push((
        "r2/uploads/objects/photo.jpg".into(),
        Box::new(Noise::new(1, 300_000)),
    ));
    expected.push(("d1/main/dump.sql".into(), Box::new(Text::new(BIG))));
    expected.push(("d1/main/empty-unknown.sql".into(), Box::new(io::empty())));
    expected.push((
        "kv/sessions/random-unknown.bin".into(),
        Box::new(Noise::new(2, 150_001)),
    ));

    let mut seen = 0;
    for (i, (path, source)) in expected.into_iter().enumerate() {
        let mut entry = reader.next_entry().unwrap().expect("entry missing");
        assert_eq!(entry.meta().path, path);
        assert_eq!(entry.meta(), &manifest.entries[i]);
        let (want_sha, want_len) = digest(source);
        let mut got = Vec::new();
        entry.copy_to(&mut got).unwrap();
        assert_eq!(got.len() as u64, want_len, "{path}");
        assert_eq!(sv_archive::Sha256::of(&got), want_sha, "{path}");
        assert_eq!(entry.meta().sha256, want_sha, "{path}");
        seen += 1;
    }
    assert!(reader.next_entry().unwrap().is_none());
    assert_eq!(seen, 10);

    let photo = &manifest.entries[6];
    assert_eq!(photo.extra["content_type"], "image/jpeg");
    assert_eq!(photo.extra["custom_metadata"]["owner"], "alice");

    let report = open(&summary.path, &key.decryption())
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(report.entries, 10);
    assert_eq!(report.bytes, summary.bytes);
    assert_eq!(report.resources, summary.resources);
    assert_eq!(verify_sidecar(&summary.path).unwrap(), summary.sha256);
}

#[test]
fn entries_can_be_skipped_and_read_partially() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let summary = write_standard(tmp.path(), "b.tar.gz.age", &key, 2_000_000);
    let mut reader = open(&summary.path, &key.decryption()).unwrap();
    let mut paths = Vec::new();
    while let Some(mut entry) = reader.next_entry().unwrap() {
        paths.push(entry.meta().path.clone());
        // Read only a few bytes of some entries: the next one must still line up.
        let mut buf = [0u8; 10];
        if paths.len() % 2 == 0 {
            let _ = entry.read(&mut buf).unwrap();
        }
    }
    assert_eq!(paths.len(), 10);
    assert!(!paths.iter().any(|p| p == MANIFEST_PATH));
}

#[test]
fn a_small_manifest_only_archive_and_level_zero_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    // No entries at all.
    let empty = ArchiveWriter::create(tmp.path(), "empty.tar.gz.age", key.encryption(), header())
        .unwrap()
        .finish()
        .unwrap();
    let report = open(&empty.path, &key.decryption())
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(report.entries, 0);
    assert_eq!(report.resources.len(), 4);

    // Level 0 stores everything; still a valid archive.
    let options = WriterOptions {
        level: 0,
        ..small_chunks()
    };
    let mut w = ArchiveWriter::create_with(
        tmp.path(),
        "stored.tar.gz.age",
        key.encryption(),
        header(),
        options,
    )
    .unwrap();
    w.add_stream(NewEntry::new("a.txt", "r", "k"), None, Text::new(500_000))
        .unwrap();
    let s = w.finish().unwrap();
    assert_eq!(s.compression.stored_bytes, s.compression.bytes_in);
    open(&s.path, &key.decryption()).unwrap().verify().unwrap();
}

#[test]
fn passphrase_archives_round_trip_and_keys_must_match_the_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let pass = passphrase("correct horse battery staple");
    let mut w = ArchiveWriter::create(
        tmp.path(),
        "p.tar.gz.age",
        Encryption::passphrase(pass.clone()),
        header(),
    )
    .unwrap();
    w.add_bytes(NewEntry::new("a.txt", "r", "k"), b"hello")
        .unwrap();
    let s = w.finish().unwrap();

    let report = open(&s.path, &Decryption::passphrase(pass))
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!(report.entries, 1);

    let err = open(&s.path, &Decryption::passphrase(passphrase("wrong"))).unwrap_err();
    assert!(matches!(err, Error::WrongPassphrase { .. }), "{err}");
    let err = open(&s.path, &key.decryption()).unwrap_err();
    assert!(matches!(err, Error::KeyTypeMismatch { .. }), "{err}");
    assert!(err.to_string().contains("passphrase"), "{err}");

    let x = write_standard(tmp.path(), "x.tar.gz.age", &key, 10);
    let err = open(&x.path, &Decryption::passphrase(passphrase("p"))).unwrap_err();
    assert!(matches!(err, Error::KeyTypeMismatch { .. }), "{err}");
}

#[test]
fn every_recipient_can_decrypt_and_identities_load_from_text() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Key::new(tmp.path(), "a");
    let b = Key::new(tmp.path(), "b");
    let recipients_file = tmp.path().join("recipients.txt");
    std::fs::write(
        &recipients_file,
        format!(
            "# ops team\n{}\n\n  # laptop\n  {}  \n",
            a.recipient, b.recipient
        ),
    )
    .unwrap();
    let mut w = ArchiveWriter::create(
        tmp.path(),
        "multi.tar.gz.age",
        Encryption::recipients_file(&recipients_file).unwrap(),
        header(),
    )
    .unwrap();
    w.add_bytes(NewEntry::new("a.txt", "r", "k"), b"hi")
        .unwrap();
    let s = w.finish().unwrap();
    open(&s.path, &a.decryption()).unwrap().verify().unwrap();
    open(&s.path, &b.decryption()).unwrap().verify().unwrap();

    // As an environment variable would hold it: the key file's text.
    let text = std::fs::read_to_string(&b.file).unwrap();
    let from_env = Decryption::identities_text(&passphrase(&text), "SV_BACKUP_IDENTITY").unwrap();
    open(&s.path, &from_env).unwrap().verify().unwrap();
    // A bare key works too.
    let bare = passphrase(a.identity.to_string().expose_secret());
    open(&s.path, &Decryption::identities_text(&bare, "env").unwrap())
        .unwrap()
        .verify()
        .unwrap();
}

#[test]
fn key_errors_are_clear_and_never_show_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let secret = key.identity.to_string().expose_secret().to_owned();

    // A secret key pasted where a recipient belongs.
    let err = Encryption::recipients([secret.as_str()]).unwrap_err();
    assert!(matches!(err, Error::InvalidRecipient { .. }));
    let msg = format!("{err} {err:?}");
    assert!(!msg.contains(&secret), "{msg}");
    assert!(msg.contains("secret key"), "{msg}");

    assert!(matches!(
        Encryption::recipients(Vec::<String>::new()).unwrap_err(),
        Error::NoRecipients
    ));
    assert!(matches!(
        Encryption::recipients_text("# only comments\n\n", "env").unwrap_err(),
        Error::NoRecipients
    ));
    let err = Encryption::recipients(["ssh-ed25519 AAAA"]).unwrap_err();
    assert!(err.to_string().contains("SSH"), "{err}");

    // An identity file with a damaged line: named by line, content not shown.
    let bad = tmp.path().join("bad.txt");
    // One character changed (never to itself: the last one may already be the replacement,
    // which left the key intact one run in 32); bech32's checksum catches any single change.
    let last = secret.chars().last().unwrap();
    let other = if last == 'Q' { 'P' } else { 'Q' };
    let damaged = format!("# comment\n{}{other}\n", &secret[..secret.len() - 1]);
    std::fs::write(&bad, &damaged).unwrap();
    let err = Decryption::identity_file(&bad).unwrap_err();
    assert!(matches!(err, Error::InvalidIdentity { .. }), "{err}");
    let msg = format!("{err} {err:?}");
    assert!(!msg.contains(&secret[20..]), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");

    let err = Decryption::identities_text(&passphrase("# nothing\n"), "env").unwrap_err();
    assert!(matches!(err, Error::InvalidIdentity { .. }), "{err}");

    // Debug of keys shows no secret.
    let pass = "hunter2-very-secret";
    let dbg = format!(
        "{:?} {:?} {:?}",
        Encryption::passphrase(passphrase(pass)),
        Decryption::passphrase(passphrase(pass)),
        key.decryption()
    );
    assert!(!dbg.contains(pass) && !dbg.contains(&secret), "{dbg}");
    assert!(dbg.contains("redacted"), "{dbg}");
}

#[test]
fn writer_refuses_bad_entries_and_stays_usable() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let mut w =
        ArchiveWriter::create(tmp.path(), "w.tar.gz.age", key.encryption(), header()).unwrap();
    w.add_bytes(NewEntry::new("a/b", "r", "k"), b"1").unwrap();
    let cases: Vec<(NewEntry, crate::Expect)> = vec![
        (NewEntry::new("../evil", "r", "k"), |e| {
            matches!(e, Error::InvalidPath { .. })
        }),
        (NewEntry::new("/etc/passwd", "r", "k"), |e| {
            matches!(e, Error::InvalidPath { .. })
        }),
        (NewEntry::new("manifest.json", "r", "k"), |e| {
            matches!(e, Error::InvalidPath { .. })
        }),
        (NewEntry::new("a/b", "r", "k"), |e| {
            matches!(e, Error::DuplicatePath { .. })
        }),
        (NewEntry::new("a/b/c", "r", "k"), |e| {
            matches!(e, Error::PathConflict { .. })
        }),
        (NewEntry::new("a", "r", "k"), |e| {
            matches!(e, Error::PathConflict { .. })
        }),
        (NewEntry::new("x", "", "k"), |e| {
            matches!(e, Error::EmptyField { .. })
        }),
    ];
    for (entry, check) in cases {
        let path = entry.path.clone();
        let err = w.add_bytes(entry, b"x").unwrap_err();
        assert!(check(&err), "{path}: {err}");
    }
    w.add_bytes(NewEntry::new("a/c", "r", "k"), b"2").unwrap();
    let s = w.finish().unwrap();
    let report = open(&s.path, &key.decryption()).unwrap().verify().unwrap();
    assert_eq!(report.entries, 2);
}

#[test]
fn a_wrong_size_or_failing_source_poisons_the_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");

    let mut w =
        ArchiveWriter::create(tmp.path(), "s.tar.gz.age", key.encryption(), header()).unwrap();
    let err = w
        .add_stream(NewEntry::new("a", "r", "k"), Some(10), &b"short"[..])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SourceTooShort {
                declared: 10,
                actual: 5,
                ..
            }
        ),
        "{err}"
    );
    let err = w.add_bytes(NewEntry::new("b", "r", "k"), b"x").unwrap_err();
    assert!(matches!(err, Error::Poisoned), "{err}");
    assert!(matches!(w.finish().unwrap_err(), Error::Poisoned));

    let mut w =
        ArchiveWriter::create(tmp.path(), "l.tar.gz.age", key.encryption(), header()).unwrap();
    let err = w
        .add_stream(NewEntry::new("a", "r", "k"), Some(3), &b"too long"[..])
        .unwrap_err();
    assert!(
        matches!(err, Error::SourceTooLong { declared: 3, .. }),
        "{err}"
    );
    drop(w);

    struct Failing(u32);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "reset by peer",
                ));
            }
            self.0 -= 1;
            buf[0] = b'x';
            Ok(1)
        }
    }
    let mut w =
        ArchiveWriter::create(tmp.path(), "f.tar.gz.age", key.encryption(), header()).unwrap();
    let err = w
        .add_stream(NewEntry::new("a", "r", "k"), None, Failing(100))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Source { path, source } if path == "a" && source.kind() == io::ErrorKind::ConnectionReset),
        "{err}"
    );
    drop(w);
    let left: Vec<String> = crate::listing(tmp.path())
        .into_iter()
        .filter(|n| n.contains("tar.gz.age"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn manifest_json_is_stable() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let mut w =
        ArchiveWriter::create(tmp.path(), "m.tar.gz.age", key.encryption(), header()).unwrap();
    for (entry, bytes) in small_entries() {
        w.add_bytes(entry, &bytes).unwrap();
    }
    let s = w.finish().unwrap();
    let reader = open(&s.path, &key.decryption()).unwrap();
    let json = String::from_utf8(reader.manifest().to_json().unwrap()).unwrap();
    insta::assert_snapshot!(json);
}
