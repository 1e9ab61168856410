//! `history --remote` against sv-emulator: the release records kept in KV and the Worker's
//! deployments read from the API, so the history is there on a machine without the local
//! `.sv/` records.

use crate::common::{App, GOOD, json};

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\d{14}-[0-9a-f]{6}", "[ID]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[VERSION]",
        ),
        (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z?", "[TIME]"),
        (r"\b[0-9a-f]{8}\b", "[SHORT]"),
    ]
}

#[test]
fn remote_history_lists_the_kept_records_and_the_api_deployments() {
    let app = App::start();
    let (code, first) = json(app.deploy(GOOD).arg("--skip-pages"));
    assert_eq!(code, 0, "{first:#}");
    let (code, second) = json(app.deploy(GOOD).args(["--skip-build", "--skip-pages"]));
    assert_eq!(code, 0, "{second:#}");
    let v2 = second["version_id"].as_str().unwrap();

    // Another machine: no local records at all.
    std::fs::remove_dir_all(app.root().join(".sv/deployments")).unwrap();
    let (code, history) = json(app.cmd().args(["history", "--env", "staging", "--remote"]));
    assert_eq!(code, 0, "{history:#}");
    // The release records come back from KV, oldest first, whole.
    let records = history["records"].as_array().unwrap();
    let ids: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            first["id"].as_str().unwrap(),
            second["id"].as_str().unwrap()
        ],
        "{history:#}"
    );
    assert_eq!(records[1]["version_id"], v2);
    assert_eq!(records[1]["outcome"], "succeeded");
    assert_eq!(records[0]["migrations"].as_array().unwrap().len(), 2);
    // Without --remote only the (gone) local records are read.
    let (code, local) = json(app.cmd().args(["history", "--env", "staging"]));
    assert_eq!(code, 0);
    assert_eq!(local["records"], serde_json::json!([]));
    let remote = history["remote"].as_array().unwrap();
    // First deploy: one deployment; second: 0% smoke stage, 50%, 100%.
    assert!(remote.len() >= 4, "{history:#}");
    assert_eq!(remote[0]["versions"], serde_json::json!([[v2, 100.0]]));
    let times: Vec<&str> = remote
        .iter()
        .map(|d| d["created_on"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");

    for (format, name) in [("human", "remote_human"), ("markdown", "remote_markdown")] {
        let out = app
            .cmd()
            .args(["history", "--env", "staging", "--remote", "--limit", "2"])
            .args(["--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        insta::with_settings!({filters => filters()}, {
            insta::assert_snapshot!(name, text);
        });
    }
}
