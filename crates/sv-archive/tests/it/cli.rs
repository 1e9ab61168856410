//! Interop with the standard tools: `age -d | tar` reads our archives, and an archive made
//! by `tar | age` is refused by our reader as "not an sv backup".

use std::io::Read;
use std::process::{Command, Stdio};

use sv_archive::{Error, Manifest, open};

use crate::{Key, Noise, Text, digest, run, small_entries, write_standard};

const BIG: u64 = 3 * 1024 * 1024 + 7;

/// `age -d -i KEY FILE | tar ARGS` with both exit codes checked.
fn age_into_tar(key: &Key, archive: &std::path::Path, tar_args: &[&str]) -> Vec<u8> {
    let mut age = Command::new("age")
        .args(["-d", "-i"])
        .arg(&key.file)
        .arg(archive)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the age CLI is needed: apt-get install -y age");
    let tar = Command::new("tar")
        .args(tar_args)
        .stdin(age.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(age.wait().unwrap().success(), "age -d failed");
    assert!(
        tar.status.success(),
        "tar {tar_args:?} failed: {}",
        String::from_utf8_lossy(&tar.stderr)
    );
    tar.stdout
}

#[test]
fn age_and_tar_clis_list_and_extract_our_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let summary = write_standard(tmp.path(), "b.tar.gz.age", &key, BIG);
    let manifest = open(&summary.path, &key.decryption())
        .unwrap()
        .manifest()
        .clone();

    // `tar tz`: manifest.json first, then every entry in manifest order.
    let listing = age_into_tar(&key, &summary.path, &["tz"]);
    let listed: Vec<&str> = std::str::from_utf8(&listing).unwrap().lines().collect();
    let mut expected = vec!["manifest.json"];
    expected.extend(manifest.entries.iter().map(|e| e.path.as_str()));
    assert_eq!(listed, expected);

    // `tar xz`: every byte as written.
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    age_into_tar(&key, &summary.path, &["xz", "-C", out.to_str().unwrap()]);
    for (entry, bytes) in small_entries() {
        assert_eq!(
            std::fs::read(out.join(&entry.path)).unwrap(),
            bytes,
            "{}",
            entry.path
        );
    }
    let file_digest = |p: &str| digest(std::fs::File::open(out.join(p)).unwrap());
    assert_eq!(file_digest("d1/main/dump.sql"), digest(Text::new(BIG)));
    assert_eq!(
        file_digest("r2/uploads/objects/photo.jpg"),
        digest(Noise::new(1, 300_000))
    );
    assert_eq!(
        file_digest("kv/sessions/random-unknown.bin"),
        digest(Noise::new(2, 150_001))
    );
    assert_eq!(
        std::fs::metadata(out.join("d1/main/empty-unknown.sql"))
            .unwrap()
            .len(),
        0
    );
    // Every extracted file's sha256 is the manifest's, and the extracted manifest is the
    // one our reader parsed.
    for entry in &manifest.entries {
        assert_eq!(file_digest(&entry.path).0, entry.sha256, "{}", entry.path);
    }
    let extracted = std::fs::read(out.join("manifest.json")).unwrap();
    assert_eq!(
        Manifest::parse(&extracted, &summary.path).unwrap(),
        manifest
    );

    // The sidecar is what sha256sum prints, and `sha256sum -c` accepts it.
    let printed = run(Command::new("sha256sum")
        .arg("b.tar.gz.age")
        .current_dir(tmp.path()))
    .stdout;
    assert_eq!(
        std::fs::read(&summary.sha256_path).unwrap(),
        printed,
        "sidecar differs from sha256sum"
    );
    run(Command::new("sha256sum")
        .args(["-c", "b.tar.gz.age.sha256"])
        .current_dir(tmp.path()));
}

#[test]
fn gzip_sees_one_valid_multi_member_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let summary = write_standard(tmp.path(), "b.tar.gz.age", &key, BIG);
    let plain = tmp.path().join("plain.tar.gz");
    run(Command::new("age")
        .args(["-d", "-i"])
        .arg(&key.file)
        .arg("-o")
        .arg(&plain)
        .arg(&summary.path));
    // gzip -t checks every member's CRC and length.
    run(Command::new("gzip").arg("-t").arg(&plain));
}

#[test]
fn archives_made_by_tar_and_age_are_not_sv_backups() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join("d1/main")).unwrap();
    std::fs::write(tree.join("d1/main/dump.sql"), "CREATE TABLE t(x);\n").unwrap();
    std::fs::write(tree.join("notes.txt"), "hello\n").unwrap();

    let foreign = tmp.path().join("foreign.tar.gz.age");
    run(Command::new("sh").arg("-c").arg(format!(
        "set -e; tar czf - -C '{}' . | age -r '{}' -o '{}'",
        tree.display(),
        key.recipient,
        foreign.display()
    )));
    let err = open(&foreign, &key.decryption()).unwrap_err();
    assert!(matches!(err, Error::NotSvBackup { .. }), "{err}");
    assert!(err.to_string().contains("not an sv backup"), "{err}");

    // A tarball whose first member is someone else's manifest.json.
    std::fs::write(tree.join("manifest.json"), r#"{"name":"some-package"}"#).unwrap();
    let other = tmp.path().join("other.tar.gz.age");
    run(Command::new("sh").arg("-c").arg(format!(
        "set -e; tar czf - -C '{}' manifest.json notes.txt | age -r '{}' -o '{}'",
        tree.display(),
        key.recipient,
        other.display()
    )));
    let err = open(&other, &key.decryption()).unwrap_err();
    assert!(matches!(err, Error::NotSvBackup { .. }), "{err}");

    // age-encrypted, but not gzip at all.
    let text = tmp.path().join("text.age");
    run(Command::new("sh").arg("-c").arg(format!(
        "set -e; echo 'just some text' | age -r '{}' -o '{}'",
        key.recipient,
        text.display()
    )));
    let err = open(&text, &key.decryption()).unwrap_err();
    assert!(matches!(err, Error::NotSvBackup { .. }), "{err}");
    assert!(err.to_string().contains("gzip"), "{err}");

    // Not age either: a plain tar.gz.
    let plain = tmp.path().join("plain.tar.gz");
    run(Command::new("tar")
        .arg("czf")
        .arg(&plain)
        .arg("-C")
        .arg(&tree)
        .arg("."));
    let err = open(&plain, &key.decryption()).unwrap_err();
    assert!(matches!(err, Error::Header { .. }), "{err}");
}

#[test]
fn our_reader_reads_what_the_age_cli_encrypts() {
    // The reverse direction for the envelope: our tar.gz, encrypted by the age CLI.
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let summary = write_standard(tmp.path(), "b.tar.gz.age", &key, 100_000);
    let plain = tmp.path().join("plain.tar.gz");
    run(Command::new("age")
        .args(["-d", "-i"])
        .arg(&key.file)
        .arg("-o")
        .arg(&plain)
        .arg(&summary.path));
    let again = tmp.path().join("again.tar.gz.age");
    run(Command::new("age")
        .arg("-r")
        .arg(&key.recipient)
        .arg("-o")
        .arg(&again)
        .arg(&plain));
    let report = open(&again, &key.decryption()).unwrap().verify().unwrap();
    assert_eq!(report.entries, summary.entries);

    // And `age -a` (armored) reads too.
    let armored = tmp.path().join("armored.age");
    run(Command::new("age")
        .args(["-a", "-r"])
        .arg(&key.recipient)
        .arg("-o")
        .arg(&armored)
        .arg(&plain));
    let mut head = String::new();
    std::fs::File::open(&armored)
        .unwrap()
        .take(40)
        .read_to_string(&mut head)
        .unwrap();
    assert!(head.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    let report = open(&armored, &key.decryption()).unwrap().verify().unwrap();
    assert_eq!(report.entries, summary.entries);
}

#[test]
fn armored_archives_are_read_by_the_age_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let options = sv_archive::WriterOptions {
        armor: true,
        ..crate::small_chunks()
    };
    let mut w = sv_archive::ArchiveWriter::create_with(
        tmp.path(),
        "a.tar.gz.age",
        key.encryption(),
        crate::header(),
        options,
    )
    .unwrap();
    w.add_stream(
        sv_archive::NewEntry::new("t.sql", "d1.main", "d1-sql-dump"),
        None,
        Text::new(400_000),
    )
    .unwrap();
    let s = w.finish().unwrap();
    let head = std::fs::read(&s.path).unwrap();
    assert!(head.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
    let listing = age_into_tar(&key, &s.path, &["tz"]);
    assert_eq!(listing, b"manifest.json\nt.sql\n");
    open(&s.path, &key.decryption()).unwrap().verify().unwrap();
}

#[test]
fn a_payload_decrypted_by_the_age_cli_verifies_and_a_damaged_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Key::new(tmp.path(), "key");
    let summary = write_standard(tmp.path(), "b.tar.gz.age", &key, BIG);
    let plain = tmp.path().join("plain.tar.gz");
    run(Command::new("age")
        .args(["-d", "-i"])
        .arg(&key.file)
        .arg("-o")
        .arg(&plain)
        .arg(&summary.path));
    let bytes = std::fs::read(&plain).unwrap();
    let report =
        sv_archive::ArchiveReader::open_decrypted(std::io::Cursor::new(bytes.clone()), &plain)
            .unwrap()
            .verify()
            .unwrap();
    assert_eq!(report.entries, summary.entries);

    // One flipped byte in the middle of the payload: refused, never accepted.
    let mut damaged = bytes;
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    let result = sv_archive::ArchiveReader::open_decrypted(std::io::Cursor::new(damaged), &plain)
        .and_then(sv_archive::ArchiveReader::verify);
    assert!(result.is_err(), "{result:?}");
}
