//! `deploy --affected --since REF` in a git repository of the example app: only what changed
//! (and what depends on it) is built and deployed; nothing affected exits 0 and changes
//! nothing.

use std::path::Path;
use std::process::Command;

use crate::common::{App, GOOD, json};

fn git(root: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn built(report: &serde_json::Value) -> Vec<String> {
    report["builds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| !b["command"].is_null())
        .map(|b| b["workspace"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn only_what_changed_since_the_ref_is_deployed() {
    let app = App::start();
    let root = app.root();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);

    // Nothing changed: exit 0, nothing built, recorded or locked.
    let (code, none) = json(app.deploy(GOOD).args(["--affected", "--since", "HEAD"]));
    assert_eq!(code, 0, "{none:#}");
    assert_eq!(none["outcome"], "nothing_to_deploy");
    assert!(
        none["reason"].as_str().unwrap().contains("since HEAD"),
        "{none:#}"
    );
    assert!(none["builds"].as_array().unwrap().is_empty());
    assert!(!root.join(".sv/deployments/staging.jsonl").exists());
    let human = app
        .deploy(GOOD)
        .args(["--affected", "--since", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(human.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("nothing to deploy"),
        "{human:?}"
    );

    // A docs-only change outside every workspace affects nothing either.
    std::fs::write(root.join("README.md"), "changed\n").unwrap();
    let (code, docs) = json(app.deploy(GOOD).args(["--affected", "--since", "HEAD"]));
    assert_eq!(code, 0, "{docs:#}");
    assert_eq!(docs["outcome"], "nothing_to_deploy");
    assert_eq!(docs["affected"], serde_json::json!([]));

    // Neither does a change to the tests workspace: nothing deployable depends on it.
    std::fs::write(root.join("tests/extra.test.js"), "// new\n").unwrap();
    let (code, tests) = json(app.deploy(GOOD).args(["--affected", "--since", "HEAD"]));
    assert_eq!(code, 0, "{tests:#}");
    assert_eq!(tests["outcome"], "nothing_to_deploy");
    assert_eq!(tests["affected"], serde_json::json!(["tests"]));
    std::fs::remove_file(root.join("tests/extra.test.js")).unwrap();

    // The worker changed: it is built and deployed; the web workspace is not affected, so
    // Pages is not deployed.
    let index = root.join("worker/src/index.js");
    let text = std::fs::read_to_string(&index).unwrap();
    std::fs::write(&index, format!("{text}\n// changed\n")).unwrap();
    let (code, worker) = json(app.deploy(GOOD).args(["--affected", "--since", "HEAD"]));
    assert_eq!(code, 0, "{worker:#}");
    assert_eq!(worker["outcome"], "succeeded");
    assert_eq!(worker["affected"], serde_json::json!(["tests", "worker"]));
    // The affected `tests` workspace builds too, after everything it needs.
    assert_eq!(built(&worker), ["shared", "web", "worker", "tests"]);
    assert!(worker["version_id"].is_string());
    assert!(worker.get("pages").is_none(), "{worker:#}");
    let v1 = worker["version_id"].as_str().unwrap().to_owned();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "worker"]);

    // The web workspace changed: Pages only, the Worker untouched.
    let build = root.join("web/build.mjs");
    let text = std::fs::read_to_string(&build).unwrap();
    std::fs::write(&build, format!("{text}\n// changed\n")).unwrap();
    // Since HEAD~1: the worker commit and the web change, so both are deployed.
    let (code, both) = json(app.deploy(GOOD).args(["--affected", "--since", "HEAD~1"]));
    assert_eq!(code, 0, "{both:#}");
    assert_eq!(
        both["affected"],
        serde_json::json!(["tests", "web", "worker"])
    );
    let v2 = both["version_id"].as_str().unwrap().to_owned();
    assert_ne!(v1, v2);
    assert!(both["pages"].is_object(), "{both:#}");
    // Since HEAD: only the web change. The Worker's bundle is not needed (a fresh checkout
    // has none), and its build only runs because the affected `tests` workspace needs it.
    std::fs::remove_dir_all(root.join("worker/dist")).unwrap();
    let (code, web) =
        json(
            app.deploy(GOOD)
                .args(["--affected", "--since", "HEAD", "--skip-build"]),
        );
    assert_eq!(code, 0, "{web:#}");
    assert!(web.get("version_id").is_none(), "{web:#}");
    assert!(web.get("previous_version_id").is_none(), "{web:#}");
    assert_eq!(web["pages"]["project"], "staging-spacevision-web");
    let (code, web) = json(app.deploy(GOOD).args(["--affected", "--since", "HEAD"]));
    assert_eq!(code, 0, "{web:#}");
    assert_eq!(web["affected"], serde_json::json!(["tests", "web"]));
    assert_eq!(built(&web), ["shared", "web", "worker", "tests"]);
    assert!(web.get("version_id").is_none(), "{web:#}");
    assert_eq!(web["pages"]["project"], "staging-spacevision-web");
    // The Worker still serves what the previous deploy made.
    assert_eq!(app.split(), [(v2, 100.0)]);

    // An unknown ref is bad input.
    let bad = app
        .deploy(GOOD)
        .args(["--affected", "--since", "no-such-ref"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no-such-ref"));
}
