//! Every invalid config of the corpus (`tests/corpus/config/`, the same files sv-config's
//! own tests load) given to every binary: exit 2 with a located message, nothing written,
//! nothing remote changed.

use std::path::Path;

use sv_test::EmulatorProcess;

use crate::support::{Run, corpus_dir, files, listing, remote_state};

/// One command per binary that reads the config; `{}` is the config path.
const MATRIX: &[&[&str]] = &[
    &["sv-plan", "--config", "{}", "--env", "staging", "plan"],
    &["sv-plan", "--config", "{}", "validate"],
    &[
        "sv-deploy",
        "--config",
        "{}",
        "--env",
        "staging",
        "deploy",
        "--dry-run",
    ],
    &["sv-health", "--config", "{}", "--env", "staging", "check"],
    &[
        "sv-backup",
        "--config",
        "{}",
        "--env",
        "staging",
        "create",
        "--dry-run",
    ],
    &["sv-onboard", "--config", "{}", "validate"],
    &[
        "sv-onboard",
        "--config",
        "{}",
        "setup",
        "--developer",
        "corpus",
        "--dry-run",
    ],
    &[
        "sv-backup",
        "--config",
        "{}",
        "--env",
        "staging",
        // No --keep-* flag: the policy comes from `backup.keep` in the config.
        "prune",
        "--dry-run",
    ],
];

#[test]
fn the_config_corpus_is_large_enough() {
    let n = files(&corpus_dir().join("config"), "yaml").len();
    assert!(
        n >= 50,
        "issue #9 asks for at least 50 bad inputs; config alone has {n}"
    );
}

#[test]
fn every_binary_refuses_every_invalid_config() {
    let emulator = EmulatorProcess::start().unwrap();
    let before = remote_state(&emulator);
    let dir = corpus_dir().join("config");
    let fixtures_before = listing(&dir);
    let cwd = tempfile::tempdir().unwrap();
    let run = Run::new(&emulator, cwd.path())
        .env(
            "SLACK_RELEASES_WEBHOOK",
            "https://hooks.slack.com/services/T0/B0/releases",
        )
        .env(
            "SLACK_ONCALL_WEBHOOK",
            "https://hooks.slack.com/services/T0/B0/oncall",
        );
    for fixture in files(&dir, "yaml") {
        let case = fixture.file_stem().unwrap().to_string_lossy().into_owned();
        for template in MATRIX {
            let argv: Vec<String> = template
                .iter()
                .map(|a| a.replace("{}", &fixture.to_string_lossy()))
                .collect();
            let outcome = run.run(&argv);
            outcome.assert_refused(&[2], &case);
            assert!(
                names_a_config_file(&outcome.stderr, &dir),
                "{case}: `{}` does not say which file is wrong:\n{}",
                outcome.command,
                outcome.stderr
            );
        }
    }
    assert_eq!(
        listing(&dir),
        fixtures_before,
        "a binary wrote beside a bad config"
    );
    assert!(
        listing(cwd.path()).is_empty(),
        "a binary wrote into its working directory"
    );
    assert_eq!(
        remote_state(&emulator),
        before,
        "a bad config changed remote state"
    );
}

/// Messages start with `FILE:LINE:COL` of sv.yaml or of the wrangler config it names.
fn names_a_config_file(stderr: &str, dir: &Path) -> bool {
    let dir = dir.to_string_lossy();
    stderr.contains(dir.as_ref()) || stderr.contains("fixtures/invalid")
}
