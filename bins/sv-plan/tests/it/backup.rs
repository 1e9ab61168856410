//! The backup apply takes before it deletes or replaces a data store.

use crate::App;

const EXAMPLE_RECIPIENT: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

/// A fresh age key pair (the `age-keygen` binary); returns (identity file, recipient).
fn keygen(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let path = dir.join("key.txt");
    let out = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "age-keygen: {out:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    (path, recipient)
}

/// sv.yaml's `backup:` section (recipients included), for removing and restoring it.
fn backup_section(recipient: &str) -> String {
    format!(
        "backup:\n  include: [d1.main, kv.sessions, r2.uploads, dns, workers, state]\n  recipients: [{recipient}]\n  keep: {{ daily: 7, weekly: 4, monthly: 6 }}\n"
    )
}

fn audit(app: &App) -> String {
    std::fs::read_to_string(app.path(".sv/audit.jsonl")).unwrap()
}

fn serial(app: &App) -> u64 {
    let text = std::fs::read_to_string(app.path(".sv/state/production.json")).unwrap();
    sv_planner::State::from_json(&text).unwrap().serial
}

#[test]
fn replacing_a_d1_database_backs_it_up_first_and_refuses_without_a_recipient() {
    let app = App::new();
    let keys = tempfile::tempdir().unwrap();
    let (identity, recipient) = keygen(keys.path());
    app.edit(EXAMPLE_RECIPIENT, &recipient);
    app.apply_all();
    // Data worth keeping.
    let client = app.client();
    let (code, out, _) = app.run(&["--format", "json", "state", "show", "d1.main"]);
    assert_eq!(code, 0);
    let uuid = serde_json::from_str::<serde_json::Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.block_on(client.d1().query(
        &uuid,
        "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me');",
        &[],
    ))
    .unwrap();

    app.edit("location: weur", "location: enam");
    // Without a recipient the backup cannot be encrypted: refused, nothing changed.
    app.edit(&backup_section(&recipient), "");
    let before = serial(&app);
    let (code, out, err) = app.run(&["apply", "--auto-approve", "--allow-data-loss"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("this apply deletes or replaces d1.main, and sv-plan backs data stores up first, but sv.yaml has no `backup.recipients`"),
        "{err}"
    );
    assert!(err.contains("--no-backup"), "{err}");
    assert_eq!(serial(&app), before, "state untouched");
    assert!(!app.path(".sv/backups").exists());

    app.edit(
        "\nonboarding:",
        &format!("\n{}\nonboarding:", backup_section(&recipient)),
    );
    let (code, out, err) = app.run(&["apply", "--auto-approve", "--allow-data-loss"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("Backed up the data stores it deletes or replaces first: "))
        .unwrap_or_else(|| panic!("no backup line in {out}"));
    // Relative to where sv-plan ran (the directory of sv.yaml here).
    let printed = line.rsplit(": ").next().unwrap();
    assert!(
        printed.starts_with(".sv/backups/spacevision-production-"),
        "{printed}"
    );
    let path = app.path(printed);
    assert!(audit(&app).contains("\"operation\":\"apply.backup\""));

    // The archive holds exactly d1.main, with the row, readable with the identity.
    let decryption = sv_archive::Decryption::identity_file(&identity).unwrap();
    let mut reader = sv_archive::ArchiveReader::open(&path, &decryption).unwrap();
    let resources: Vec<&String> = reader.manifest().resources.keys().collect();
    assert_eq!(resources, ["d1.main"]);
    let mut dump = Vec::new();
    while let Some(mut entry) = reader.next_entry().unwrap() {
        assert_eq!(entry.meta().resource, "d1.main");
        entry.copy_to(&mut dump).unwrap();
    }
    let dump = String::from_utf8_lossy(&dump);
    assert!(dump.contains("keep me"), "{dump}");
}

#[test]
fn no_backup_skips_it_and_says_so_in_the_audit_trail() {
    let app = App::new();
    app.apply_all();
    app.edit("location: weur", "location: enam");
    app.edit(&backup_section(EXAMPLE_RECIPIENT), "");
    let (code, out, err) = app.run(&[
        "apply",
        "--auto-approve",
        "--allow-data-loss",
        "--no-backup",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("Backed up"), "{out}");
    assert!(!app.path(".sv/backups").exists());
    let audit = audit(&app);
    assert!(
        audit.contains("\"operation\":\"apply.no-backup\",\"target\":\"d1.main\""),
        "{audit}"
    );
    assert!(audit.contains("\"operation\":\"apply.replace\""), "{audit}");
}
