//! The committed JSON Schema (`schema/sv.schema.json`) is generated from the Rust types and
//! must match them; the valid fixture validates against it.

use std::path::{Path, PathBuf};

fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/sv.schema.json")
}

fn rendered() -> String {
    let mut text = serde_json::to_string_pretty(&sv_config::schema()).unwrap();
    text.push('\n');
    text
}

#[test]
fn committed_schema_is_up_to_date() {
    let path = schema_path();
    let fresh = rendered();
    if std::env::var_os("SV_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schema/sv.schema.json is stale (or missing): the sv-config types changed.\n\
         Regenerate it with:\n\n    SV_UPDATE_SCHEMA=1 cargo test -p sv-config committed_schema_is_up_to_date\n\n\
         and commit the result."
    );
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&sv_config::schema()).unwrap()
}

fn instance(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    sv_config::yaml_to_json(&text, Path::new(path), &super::vars()).unwrap()
}

#[test]
fn valid_fixture_matches_the_schema() {
    let validator = validator();
    let doc = instance("tests/fixtures/valid/sv.yaml");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
}

#[test]
fn shape_errors_are_schema_errors_too() {
    let validator = validator();
    for file in [
        "03-unknown-top-level-key",
        "04-unknown-nested-key",
        "05-missing-required-field",
        "10-bad-dns-type",
        "11-bad-duration",
        "12-bad-percentage",
        "39-unknown-notification-kind",
        "42-unknown-override-key",
        "58-bad-silence-time",
    ] {
        let doc = instance(&format!("tests/fixtures/invalid/{file}.yaml"));
        assert!(!validator.is_valid(&doc), "{file} passes the schema");
    }
}

#[test]
fn schema_describes_the_top_level() {
    let schema = sv_config::schema();
    assert_eq!(schema["title"], "sv.yaml");
    assert_eq!(schema["additionalProperties"], false);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["project", "environments"]);
}
