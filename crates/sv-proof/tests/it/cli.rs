//! Bad arguments and a bad environment (`tests/corpus/cli/*.yaml`), each run in a fresh
//! copy of the reference app against a fresh emulator account.
//!
//! A case file:
//!
//! ```yaml
//! about: what is wrong            # for the failure message
//! run: [sv-plan, --env, nope, plan]
//! exit: 2                         # or a list of allowed codes, e.g. [1, 2]
//! stderr: nope                    # optional: the message must name this
//! unset: [CLOUDFLARE_ACCOUNT_ID]  # optional: variables removed from the environment
//! files: { garbage.plan: "…" }    # optional: files written into the app copy first
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use sv_test::EmulatorProcess;

use crate::support::{Run, corpus_dir, files, listing, remote_state};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    about: String,
    run: Vec<String>,
    exit: Codes,
    #[serde(default)]
    stderr: Option<String>,
    #[serde(default)]
    unset: Vec<String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Codes {
    One(i32),
    Any(Vec<i32>),
}

impl Codes {
    fn list(&self) -> Vec<i32> {
        match self {
            Codes::One(c) => vec![*c],
            Codes::Any(c) => c.clone(),
        }
    }
}

#[test]
fn every_cli_case_is_refused_without_side_effects() {
    // The staging zone of the reference app exists, so cases fail for their own reason.
    let emulator = EmulatorProcess::builder()
        .arg("--zone-name")
        .arg("staging.spacevision.app")
        .start()
        .unwrap();
    let before = remote_state(&emulator);
    let cases = files(&corpus_dir().join("cli"), "yaml");
    assert!(cases.len() >= 20, "only {} cli cases", cases.len());
    let mut failures = Vec::new();
    for path in cases {
        let result = std::panic::catch_unwind(|| check_case(&emulator, &before, &path));
        if let Err(panic) = result {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(message);
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn check_case(emulator: &EmulatorProcess, before: &str, path: &std::path::Path) {
    {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let case: Case = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let codes = case.exit.list();
        assert!(
            !codes.contains(&0),
            "{name}: a corpus case must expect a failure"
        );
        let app = tempfile::tempdir().unwrap();
        sv_test::example::copy_to(app.path()).unwrap();
        for (file, text) in &case.files {
            std::fs::write(app.path().join(file), text).unwrap();
        }
        let app_before = listing(app.path());
        let outcome = Run::new(emulator, app.path())
            .unset(&case.unset)
            .run(&case.run);
        let label = format!("{name} ({})", case.about);
        outcome.assert_refused(&codes, &label);
        if let Some(needle) = &case.stderr {
            assert!(
                outcome.stderr.contains(needle.as_str()),
                "{label}: the message does not name {needle:?}:\n{}",
                outcome.stderr
            );
        }
        let written: Vec<_> = listing(app.path())
            .difference(&app_before)
            .filter(|p| !p.starts_with(".sv"))
            .cloned()
            .collect();
        assert!(written.is_empty(), "{label}: wrote {written:?}");
        assert_eq!(
            remote_state(emulator),
            before,
            "{label}: changed remote state"
        );
    }
}
