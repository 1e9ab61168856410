//! Damaged, foreign and mis-keyed archives given to `sv-backup`: exit 2 naming the archive,
//! never a panic, nothing written. A good archive made the same way verifies first, so each
//! refusal is about the one thing the case changed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use secrecy::ExposeSecret as _;
use sv_archive::{ArchiveWriter, Encryption, ManifestHeader, NewEntry};
use sv_test::EmulatorProcess;

use crate::support::{Run, listing, remote_state};

struct Key {
    recipient: String,
    file: PathBuf,
}

fn key(dir: &Path, name: &str) -> Key {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let file = dir.join(format!("{name}.txt"));
    std::fs::write(&file, format!("{}\n", identity.to_string().expose_secret())).unwrap();
    Key { recipient, file }
}

fn good_archive(dir: &Path, key: &Key) -> PathBuf {
    let header = ManifestHeader {
        tool: "sv-backup".into(),
        tool_version: "0.1.0".into(),
        created_at: "2026-11-25T12:00:00Z".parse().unwrap(),
        environment: "staging".into(),
        source: serde_json::Map::new(),
        resources: vec!["kv.sessions".into(), "d1.main".into()],
    };
    let name = "spacevision-staging-20261125T120000Z.tar.gz.age";
    let encryption = Encryption::recipients([&key.recipient]).unwrap();
    let mut writer = ArchiveWriter::create(dir, name, encryption, header).unwrap();
    let kv = b"{\"key\":\"a\",\"value\":\"aGk=\"}\n".repeat(2000);
    writer
        .add_bytes(
            NewEntry::new(
                "kv/sessions/entries.jsonl",
                "kv.sessions",
                "kv-entries-jsonl",
            ),
            &kv,
        )
        .unwrap();
    let sql = "INSERT INTO t VALUES (1, 'x');\n".repeat(5000);
    writer
        .add_bytes(
            NewEntry::new("d1/main/dump.sql", "d1.main", "d1-sql-dump"),
            sql.as_bytes(),
        )
        .unwrap();
    writer.finish().unwrap();
    dir.join(name)
}

fn encrypt(path: &Path, recipient: &str, plaintext: &[u8]) {
    let recipient: age::x25519::Recipient = recipient.parse().unwrap();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut out = encryptor
        .wrap_output(std::fs::File::create(path).unwrap())
        .unwrap();
    out.write_all(plaintext).unwrap();
    out.finish().unwrap();
}

/// A `.tar.gz` (made by the standard `tar`) holding only `manifest.json` with `text`.
fn tar_gz_with_manifest(dir: &Path, text: &str) -> Vec<u8> {
    let src = dir.join("craft");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("manifest.json"), text).unwrap();
    let out = Command::new("tar")
        .args(["-czf", "-", "-C"])
        .arg(&src)
        .arg("manifest.json")
        .output()
        .unwrap();
    assert!(out.status.success(), "tar failed");
    out.stdout
}

fn flip(path: &Path, to: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = at.min(bytes.len() - 1);
    bytes[at] ^= 0x20;
    std::fs::write(to, bytes).unwrap();
}

#[test]
fn every_damaged_or_foreign_archive_is_refused() {
    let emulator = EmulatorProcess::start().unwrap();
    let before = remote_state(&emulator);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let right = key(dir, "right");
    let wrong = key(dir, "wrong");
    let good = good_archive(dir, &right);
    // restore and plan resolve the target environment from the reference app's sv.yaml.
    let app = tempfile::tempdir().unwrap();
    sv_test::example::copy_to(app.path()).unwrap();
    let run = Run::new(&emulator, app.path());
    let verify = |archive: &Path, key: &Path| -> Vec<String> {
        vec![
            "sv-backup".into(),
            "verify".into(),
            archive.to_string_lossy().into_owned(),
            "--identity".into(),
            key.to_string_lossy().into_owned(),
        ]
    };
    let with = |command: &str, archive: &Path, key: &Path| -> Vec<String> {
        let mut argv = verify(archive, key);
        argv[1] = command.to_owned();
        argv.extend(["--env".to_owned(), "staging".to_owned()]);
        if command == "restore" {
            argv.push("--yes".to_owned());
        }
        argv
    };

    let ok = run.run(&verify(&good, &right.file));
    assert_eq!(
        ok.code,
        Some(0),
        "the good archive must verify: {}",
        ok.stderr
    );

    let len = std::fs::metadata(&good).unwrap().len() as usize;
    let mut cases: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    cases.push(("wrong identity".into(), good.clone(), wrong.file.clone()));
    for (what, at) in [
        ("header", 40),
        ("first chunk", 300),
        ("middle", len / 2),
        ("last byte", len - 1),
    ] {
        let path = dir.join(format!("flipped-{}.tar.gz.age", at));
        flip(&good, &path, at);
        cases.push((
            format!("a byte flipped in the {what}"),
            path,
            right.file.clone(),
        ));
    }
    for (what, keep) in [
        ("to nothing", 0),
        ("to its header", 100),
        ("in half", len / 2),
        ("by one byte", len - 1),
    ] {
        let path = dir.join(format!("truncated-{keep}.tar.gz.age"));
        std::fs::write(&path, &std::fs::read(&good).unwrap()[..keep]).unwrap();
        cases.push((format!("truncated {what}"), path, right.file.clone()));
    }
    let plain = dir.join("plain.tar.gz.age");
    std::fs::write(&plain, tar_gz_with_manifest(dir, "{}")).unwrap();
    cases.push(("a plain .tar.gz, not age".into(), plain, right.file.clone()));
    let random = dir.join("random.tar.gz.age");
    encrypt(&random, &right.recipient, &[7u8; 4096]);
    cases.push((
        "age around bytes that are not gzip".into(),
        random,
        right.file.clone(),
    ));
    let foreign = dir.join("foreign.tar.gz.age");
    encrypt(
        &foreign,
        &right.recipient,
        &tar_gz_with_manifest(dir, r#"{"format":"restic","format_version":1}"#),
    );
    cases.push((
        "an archive of another tool".into(),
        foreign,
        right.file.clone(),
    ));
    let newer = dir.join("newer.tar.gz.age");
    encrypt(
        &newer,
        &right.recipient,
        &tar_gz_with_manifest(
            dir,
            r#"{"format":"sv-backup","format_version":99,"tool":"sv-backup","tool_version":"9.0.0"}"#,
        ),
    );
    cases.push(("a newer format version".into(), newer, right.file.clone()));
    let garbage_key = dir.join("garbage-key.txt");
    std::fs::write(&garbage_key, "AGE-SECRET-KEY-1NOTAKEY\n").unwrap();
    cases.push((
        "an identity file holding no valid key".into(),
        good.clone(),
        garbage_key,
    ));

    let files_before = listing(dir);
    let app_before = listing(app.path());
    for (what, archive, identity) in &cases {
        for argv in [
            verify(archive, identity),
            with("plan", archive, identity),
            with("restore", archive, identity),
        ] {
            let outcome = run.run(&argv);
            let case = format!("{what} ({})", argv[1]);
            outcome.assert_refused(&[2], &case);
            let named = archive.file_name().unwrap().to_string_lossy().into_owned();
            let key_named = identity.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                outcome.stderr.contains(&named) || outcome.stderr.contains(&key_named),
                "{case}: the message names neither the archive nor the key:\n{}",
                outcome.stderr
            );
        }
    }
    let app_written: Vec<_> = listing(app.path())
        .difference(&app_before)
        .filter(|p| !p.starts_with(".sv"))
        .cloned()
        .collect();
    assert!(app_written.is_empty(), "plan/restore wrote {app_written:?}");
    assert!(cases.len() >= 12);
    let written: Vec<_> = listing(dir)
        .difference(&files_before)
        .filter(|p| !p.starts_with(".sv"))
        .cloned()
        .collect();
    assert!(written.is_empty(), "verify wrote {written:?}");
    assert_eq!(remote_state(&emulator), before);
}
