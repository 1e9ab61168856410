//! Damaged, truncated and hostile archives: each gives a typed error, never a panic, and
//! reading writes nothing anywhere.

use std::path::Path;

use serde_json::json;
use sv_archive::{Error, Result, VerifyReport, open};

use crate::{Key, Raw, craft, listing, manifest_for, manifest_member, write_standard};

/// age payload: 64 KiB plaintext chunks, each with a 16-byte tag.
const CHUNK: usize = 64 * 1024 + 16;

fn open_and_verify(path: &Path, key: &Key) -> Result<VerifyReport> {
    open(path, &key.decryption())?.verify()
}

/// Length of the age header including its `--- MAC` line (the 16-byte nonce follows).
fn age_header_len(bytes: &[u8]) -> usize {
    let mac = bytes
        .windows(5)
        .position(|w| w == b"\n--- ")
        .expect("age header");
    mac + 1 + bytes[mac + 1..].iter().position(|b| *b == b'\n').unwrap() + 1
}

#[test]
fn a_flipped_byte_anywhere_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let s = write_standard(tmp.path(), "b.tar.gz.age", &key, 400_000);
    let good = std::fs::read(&s.path).unwrap();
    let header = age_header_len(&good);
    let payload = header + 16;
    assert!(good.len() > payload + 3 * CHUNK, "want several age chunks");
    let stanza = good.windows(9).position(|w| w == b"-> X25519").unwrap();

    let cases: Vec<(&str, usize, crate::Expect)> = vec![
        ("intro line", 3, |e| matches!(e, Error::Header { .. })),
        ("stanza share", stanza + 12, |e| {
            matches!(e, Error::WrongIdentity { .. } | Error::Header { .. })
        }),
        ("stanza body", stanza + 60, |e| {
            matches!(e, Error::WrongIdentity { .. } | Error::Header { .. })
        }),
        ("header MAC", header - 10, |e| {
            matches!(
                e,
                Error::Corrupt {
                    layer: "age header",
                    ..
                } | Error::Header { .. }
            )
        }),
        ("nonce", header + 3, |e| {
            matches!(e, Error::Corrupt { layer: "age", .. })
        }),
        ("first chunk", payload + 100, |e| {
            matches!(e, Error::Corrupt { layer: "age", .. })
        }),
        ("middle", good.len() / 2, |e| {
            matches!(e, Error::Corrupt { layer: "age", .. })
        }),
        ("chunk tag", payload + CHUNK - 1, |e| {
            matches!(e, Error::Corrupt { layer: "age", .. })
        }),
        ("last byte", good.len() - 1, |e| {
            matches!(e, Error::Corrupt { layer: "age", .. })
        }),
    ];
    for (what, offset, expected) in cases {
        for bit in [0x01u8, 0x80] {
            let mut bad = good.clone();
            bad[offset] ^= bit;
            let path = tmp.path().join("flipped.tar.gz.age");
            std::fs::write(&path, &bad).unwrap();
            let err = open_and_verify(&path, &key).expect_err(what);
            assert!(expected(&err), "{what} (offset {offset}): {err:?}");
        }
    }
    // Nothing was written beside the archives.
    assert_eq!(
        listing(tmp.path()),
        [
            "b.tar.gz.age",
            "b.tar.gz.age.sha256",
            "flipped.tar.gz.age",
            "key.txt"
        ]
    );
}

#[test]
fn truncation_is_detected_at_any_length() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let s = write_standard(tmp.path(), "b.tar.gz.age", &key, 400_000);
    let good = std::fs::read(&s.path).unwrap();
    let header = age_header_len(&good);
    let payload = header + 16;

    let truncated: crate::Expect = |e| matches!(e, Error::Truncated { .. });
    let cut_in_chunk: crate::Expect = |e| matches!(e, Error::Corrupt { layer: "age", .. });
    let in_header: crate::Expect = |e| matches!(e, Error::Truncated { .. } | Error::Header { .. });
    let cases: Vec<(&str, usize, crate::Expect)> = vec![
        ("empty file", 0, in_header),
        ("inside the intro line", 10, in_header),
        ("inside the header", header - 20, in_header),
        ("inside the nonce", header + 8, truncated),
        ("right after the nonce", payload, truncated),
        ("on a chunk boundary", payload + CHUNK, truncated),
        ("on a later chunk boundary", payload + 3 * CHUNK, truncated),
        // Cut inside a chunk: age cannot tell this from a modified final chunk.
        ("inside a chunk", payload + CHUNK + 1000, cut_in_chunk),
        ("one byte short", good.len() - 1, cut_in_chunk),
    ];
    for (what, len, expected) in cases {
        let path = tmp.path().join("cut.tar.gz.age");
        std::fs::write(&path, &good[..len]).unwrap();
        let err = open_and_verify(&path, &key).expect_err(what);
        assert!(expected(&err), "{what} (length {len}): {err:?}");
    }
}

#[test]
fn wrong_identity_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let other = Key::new(tmp.path(), "other");
    let s = write_standard(tmp.path(), "b.tar.gz.age", &key, 10);
    let err = open(&s.path, &other.decryption()).unwrap_err();
    assert!(matches!(err, Error::WrongIdentity { .. }), "{err}");
    assert!(
        err.to_string().contains("none of the given identities"),
        "{err}"
    );
}

#[test]
fn a_newer_format_version_is_refused_with_an_upgrade_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let mut manifest = manifest_for(&[("a.txt", b"hi")]);
    manifest["format_version"] = json!(2);
    manifest["something_new"] = json!({"chunks": "zstd"});
    let path = craft(
        tmp.path(),
        "v2.tar.gz.age",
        &key.recipient,
        &[manifest_member(&manifest), Raw::file("a.txt", b"hi")],
        &[],
    );
    let err = open(&path, &key.decryption()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade sv"), "{err}");
}

#[test]
fn a_hand_crafted_valid_archive_verifies() {
    // Guards the crafting helper: the hostile cases below differ from this in one thing.
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let manifest = manifest_for(&[("a.txt", b"hi"), ("b/c.txt", b"there")]);
    let path = craft(
        tmp.path(),
        "ok.tar.gz.age",
        &key.recipient,
        &[
            manifest_member(&manifest),
            Raw::file("a.txt", b"hi"),
            Raw::file("b/c.txt", b"there"),
        ],
        &[],
    );
    let report = open_and_verify(&path, &key).unwrap();
    assert_eq!(report.entries, 2);
}

#[test]
fn content_that_differs_from_the_manifest_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let check = |name: &str, manifest: serde_json::Value, members: Vec<Raw>, trailing: &[u8]| {
        let mut all = vec![manifest_member(&manifest)];
        all.extend(members);
        let path = craft(tmp.path(), name, &key.recipient, &all, trailing);
        open_and_verify(&path, &key).unwrap_err()
    };

    // Same size, one byte different: the sha256 catches it.
    let err = check(
        "sha.tar.gz.age",
        manifest_for(&[("a.txt", b"hello")]),
        vec![Raw::file("a.txt", b"hellO")],
        &[],
    );
    assert!(
        matches!(&err, Error::ChecksumMismatch { path, .. } if path == "a.txt"),
        "{err}"
    );
    // Through the entry API: the mismatch surfaces at the entry's end, and the reader
    // refuses to go on from an unknown position.
    let mut reader = open(&tmp.path().join("sha.tar.gz.age"), &key.decryption()).unwrap();
    let mut entry = reader.next_entry().unwrap().unwrap();
    let err = entry.copy_to(&mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
    let err = reader.next_entry().unwrap_err();
    assert!(matches!(err, Error::ReadFailed { .. }), "{err}");
    // And through `Read`, as an io::Error carrying the typed error.
    let mut reader = open(&tmp.path().join("sha.tar.gz.age"), &key.decryption()).unwrap();
    let mut entry = reader.next_entry().unwrap().unwrap();
    let io_err = std::io::Read::read_to_end(&mut entry, &mut Vec::new()).unwrap_err();
    let typed = Error::from_io(io_err).unwrap();
    assert!(matches!(typed, Error::ChecksumMismatch { .. }), "{typed}");

    let err = check(
        "size.tar.gz.age",
        manifest_for(&[("a.txt", b"hello")]),
        vec![Raw::file("a.txt", b"hello!")],
        &[],
    );
    assert!(
        matches!(
            err,
            Error::EntrySizeMismatch {
                expected: 5,
                actual: 6,
                ..
            }
        ),
        "{err}"
    );

    let err = check(
        "missing.tar.gz.age",
        manifest_for(&[("a.txt", b"1"), ("b.txt", b"2")]),
        vec![Raw::file("a.txt", b"1")],
        &[],
    );
    assert!(
        matches!(&err, Error::MissingEntries { count: 1, first, .. } if first == "b.txt"),
        "{err}"
    );

    let err = check(
        "extra.tar.gz.age",
        manifest_for(&[("a.txt", b"1")]),
        vec![Raw::file("a.txt", b"1"), Raw::file("b.txt", b"2")],
        &[],
    );
    assert!(
        matches!(&err, Error::UnexpectedEntry { path, expected: None, .. } if path == "b.txt"),
        "{err}"
    );

    let err = check(
        "order.tar.gz.age",
        manifest_for(&[("a.txt", b"1"), ("b.txt", b"2")]),
        vec![Raw::file("b.txt", b"2"), Raw::file("a.txt", b"1")],
        &[],
    );
    assert!(
        matches!(&err, Error::UnexpectedEntry { expected: Some(e), .. } if e == "a.txt"),
        "{err}"
    );

    let err = check(
        "trailing.tar.gz.age",
        manifest_for(&[("a.txt", b"1")]),
        vec![Raw::file("a.txt", b"1")],
        b"sneaky",
    );
    assert!(matches!(err, Error::TrailingData { .. }), "{err}");

    let mut counts = manifest_for(&[("a.txt", b"1")]);
    counts["totals"]["bytes"] = json!(100);
    let err = check(
        "counts.tar.gz.age",
        counts,
        vec![Raw::file("a.txt", b"1")],
        &[],
    );
    assert!(matches!(err, Error::ManifestInvalid { .. }), "{err}");
}

#[test]
fn unsafe_paths_and_links_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let attempt = |name: &str, manifest: serde_json::Value, member: Raw| {
        let path = craft(
            tmp.path(),
            name,
            &key.recipient,
            &[manifest_member(&manifest), member],
            &[],
        );
        open_and_verify(&path, &key).unwrap_err()
    };

    // Listed in the manifest: refused at open, before any entry is read.
    let err = attempt(
        "evil1.tar.gz.age",
        manifest_for(&[("../evil", b"x")]),
        Raw::file("../evil", b"x"),
    );
    assert!(
        matches!(&err, Error::UnsafePath { path, .. } if path == "../evil"),
        "{err}"
    );

    // Only in the tar stream: refused when reached.
    for (name, bad) in [
        ("evil2.tar.gz.age", "../evil"),
        ("evil3.tar.gz.age", "/etc/passwd"),
        ("evil4.tar.gz.age", "a/../../evil"),
    ] {
        let err = attempt(name, manifest_for(&[("a.txt", b"x")]), Raw::file(bad, b"x"));
        assert!(
            matches!(&err, Error::UnsafePath { path, .. } if path == bad),
            "{bad}: {err}"
        );
    }

    for (typeflag, kind) in [
        (b'2', "symbolic link"),
        (b'1', "hard link"),
        (b'5', "directory"),
    ] {
        let member = Raw {
            path: b"a.txt".to_vec(),
            data: Vec::new(),
            typeflag,
            link: b"/etc/passwd".to_vec(),
        };
        let err = attempt(
            &format!("link{typeflag}.tar.gz.age"),
            manifest_for(&[("a.txt", b"")]),
            member,
        );
        assert!(
            matches!(&err, Error::UnsupportedEntryType { kind: k, .. } if *k == kind),
            "{kind}: {err}"
        );
    }
}
