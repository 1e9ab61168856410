//! The final file appears whole or not at all, with its checksum beside it.

use sv_archive::{ArchiveWriter, Error, NewEntry};

use crate::{Key, Noise, header, listing, small_chunks, write_standard};

#[test]
fn only_the_partial_file_exists_while_writing_and_dropping_removes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let mut w = ArchiveWriter::create_with(
        tmp.path(),
        "b.tar.gz.age",
        key.encryption(),
        header(),
        small_chunks(),
    )
    .unwrap();
    w.add_stream(
        NewEntry::new("a.bin", "r", "k"),
        None,
        Noise::new(3, 3_000_000),
    )
    .unwrap();
    // The spool is an unnamed temp file: nothing but the claimed name is visible.
    assert_eq!(listing(tmp.path()), ["b.tar.gz.age.partial", "key.txt"]);
    drop(w);
    assert_eq!(listing(tmp.path()), ["key.txt"]);
}

#[test]
fn a_failed_entry_then_drop_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let mut w =
        ArchiveWriter::create(tmp.path(), "b.tar.gz.age", key.encryption(), header()).unwrap();
    w.add_bytes(NewEntry::new("a", "r", "k"), b"fine").unwrap();
    assert!(
        w.add_stream(NewEntry::new("b", "r", "k"), Some(100), &b"short"[..])
            .is_err()
    );
    assert!(matches!(w.finish().unwrap_err(), Error::Poisoned));
    assert_eq!(listing(tmp.path()), ["key.txt"]);
}

#[test]
fn finish_leaves_exactly_the_archive_and_its_sidecar() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let s = write_standard(tmp.path(), "b.tar.gz.age", &key, 1000);
    assert_eq!(
        listing(tmp.path()),
        ["b.tar.gz.age", "b.tar.gz.age.sha256", "key.txt"]
    );
    let sidecar = std::fs::read_to_string(&s.sha256_path).unwrap();
    assert_eq!(sidecar, format!("{}  b.tar.gz.age\n", s.sha256));
    assert_eq!(
        sv_archive::Sha256::of(&std::fs::read(&s.path).unwrap()),
        s.sha256
    );
}

#[test]
fn existing_names_are_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let s = write_standard(tmp.path(), "b.tar.gz.age", &key, 1000);
    let before = std::fs::read(&s.path).unwrap();
    let err =
        ArchiveWriter::create(tmp.path(), "b.tar.gz.age", key.encryption(), header()).unwrap_err();
    assert!(matches!(err, Error::Exists { .. }), "{err}");

    // A second writer for a name being written is refused too (the .partial is claimed).
    let _first =
        ArchiveWriter::create(tmp.path(), "c.tar.gz.age", key.encryption(), header()).unwrap();
    let err =
        ArchiveWriter::create(tmp.path(), "c.tar.gz.age", key.encryption(), header()).unwrap_err();
    assert!(matches!(err, Error::Exists { .. }), "{err}");

    // The name appearing while writing: finish refuses and cleans up.
    let mut w =
        ArchiveWriter::create(tmp.path(), "d.tar.gz.age", key.encryption(), header()).unwrap();
    w.add_bytes(NewEntry::new("a", "r", "k"), b"x").unwrap();
    std::fs::write(tmp.path().join("d.tar.gz.age"), b"someone else").unwrap();
    let err = w.finish().unwrap_err();
    assert!(matches!(err, Error::Exists { .. }), "{err}");
    assert_eq!(
        std::fs::read(tmp.path().join("d.tar.gz.age")).unwrap(),
        b"someone else"
    );
    assert!(!tmp.path().join("d.tar.gz.age.partial").exists());
    assert!(!tmp.path().join("d.tar.gz.age.sha256").exists());
    assert_eq!(std::fs::read(&s.path).unwrap(), before);

    for bad in ["", "a/b", "..", "x.partial", "x.sha256"] {
        let err = ArchiveWriter::create(tmp.path(), bad, key.encryption(), header()).unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{bad:?}: {err}");
    }
}

#[test]
fn the_sidecar_tells_transit_damage_apart_before_any_key_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let s = write_standard(tmp.path(), "b.tar.gz.age", &key, 1000);
    assert_eq!(sv_archive::verify_sidecar(&s.path).unwrap(), s.sha256);

    let mut bytes = std::fs::read(&s.path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&s.path, &bytes).unwrap();
    let err = sv_archive::verify_sidecar(&s.path).unwrap_err();
    assert!(matches!(err, Error::SidecarMismatch { .. }), "{err}");

    std::fs::write(&s.sha256_path, format!("{}  other-name\n", s.sha256)).unwrap();
    let err = sv_archive::verify_sidecar(&s.path).unwrap_err();
    assert!(matches!(err, Error::SidecarInvalid { .. }), "{err}");
}
