//! The invalid corpus: every file under `tests/fixtures/invalid/` must fail to load with a
//! located, snapshotted message.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/fixtures/invalid")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_is_large_enough() {
    assert!(
        corpus().len() >= 25,
        "the brief asks for at least 25 invalid files"
    );
}

#[test]
fn every_invalid_file_fails_with_a_located_message() {
    for path in corpus() {
        let started = Instant::now();
        let result = sv_config::load(&path, &super::vars());
        let elapsed = started.elapsed();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let Err(error) = result else {
            panic!("{} loaded but should not", path.display());
        };
        assert!(
            elapsed < Duration::from_secs(5),
            "{name} took {elapsed:?}: hostile input must fail fast"
        );
        let rendered = error.to_string();
        let location = error
            .location()
            .unwrap_or_else(|| panic!("{name}: error has no location: {rendered}"));
        assert!(
            rendered.starts_with(&location.to_string()),
            "{name}: message does not start with its location: {rendered}"
        );
        assert!(location.line >= 1 && location.column >= 1);
        assert!(
            !rendered.contains('\n') && !rendered.contains('\u{1b}'),
            "{name}: a message must be one printable line: {rendered:?}"
        );
        assert!(
            rendered.len() < 1200,
            "{name}: message too long ({})",
            rendered.len()
        );
        for secret in super::vars().values() {
            assert!(
                !rendered.contains(secret.as_str()),
                "{name}: leaks a variable's value"
            );
        }
        insta::assert_snapshot!(name, rendered);
    }
}

#[test]
fn errors_point_into_the_wrangler_file_when_the_problem_is_there() {
    let e = sv_config::load(
        Path::new("tests/fixtures/invalid/21-wrangler-binding-not-in-sv-yaml.yaml"),
        &super::vars(),
    )
    .unwrap_err();
    let location = e.location().unwrap();
    assert_eq!(
        location.file,
        Path::new("tests/fixtures/invalid/wrangler/unbound.toml")
    );
    assert_eq!((location.line, location.column), (7, 1));
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let big = format!("project: demo\nx: \"{}\"\n", "a".repeat(5 * 1024 * 1024));
    let started = Instant::now();
    let e = sv_config::load_str(&big, Path::new("sv.yaml"), &super::vars()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(matches!(e, sv_config::Error::TooLarge { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "sv.yaml: file is {} bytes; the limit is 4194304 bytes",
            big.len()
        )
    );
}
