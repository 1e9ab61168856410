//! Crash consistency of `sv-plan apply`: killed (SIGKILL) at points spread over a whole
//! apply, then run again the way a user would (break the dead run's lock, apply). Every
//! time the re-run must converge: a valid state, `plan` shows no changes, and the account
//! holds each resource exactly once — nothing orphaned, nothing duplicated.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sv_test::EmulatorProcess;

use crate::support::{Run, remote_state};

const SEEDS: u32 = 20;
const TARGETS: &[&str] = &[
    "--target",
    "kv.sessions",
    "--target",
    "kv.cache",
    "--target",
    "d1.main",
    "--target",
    "r2.uploads",
    "--target",
    "pages.spacevision-web",
];

fn emulator() -> EmulatorProcess {
    // Latency stretches the apply so the kills land inside it, not before or after.
    EmulatorProcess::builder()
        .arg("--zone-name")
        .arg("staging.spacevision.app")
        .arg("--latency")
        .arg("15ms")
        .start()
        .unwrap()
}

fn apply_args() -> Vec<String> {
    let mut args: Vec<String> = ["apply", "--env", "staging", "--auto-approve"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.extend(TARGETS.iter().map(|s| (*s).to_owned()));
    args
}

fn spawn_apply(emulator: &EmulatorProcess, app: &std::path::Path) -> std::process::Child {
    Command::new(sv_test::paths::cargo_bin("sv-plan").unwrap())
        .args(apply_args())
        .current_dir(app)
        .envs(emulator.cloudflare_env())
        .env("USER", "crash-test")
        .env_remove("GITHUB_ACTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Names of each resource family in the emulator's model, to count duplicates.
fn resource_names(snapshot: &str) -> Vec<(String, String)> {
    let model: Value = serde_json::from_str(snapshot).unwrap();
    let model = &model["model"];
    let mut out = Vec::new();
    for (family, field) in [
        ("kv", "title"),
        ("d1", "name"),
        ("r2", "name"),
        ("pages", "name"),
    ] {
        let key = if family == "kv" {
            "kv_namespaces"
        } else {
            family
        };
        if let Some(map) = model[key].as_object() {
            for (id, v) in map {
                let name = v[field].as_str().map_or_else(|| id.clone(), str::to_owned);
                out.push((family.to_owned(), name));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_killed_apply_converges_on_rerun_without_orphans_or_duplicates() {
    // One uninterrupted apply: how long it takes, and what the account holds after it.
    let reference = emulator();
    let app = tempfile::tempdir().unwrap();
    sv_test::example::copy_to(app.path()).unwrap();
    let started = Instant::now();
    let status = spawn_apply(&reference, app.path()).wait().unwrap();
    let full = started.elapsed();
    assert!(status.success(), "the reference apply failed");
    let expected = resource_names(&remote_state(&reference));
    assert!(expected.len() >= 5, "{expected:?}");

    let mut killed_mid_way = 0;
    for seed in 0..SEEDS {
        let emulator = emulator();
        let app = tempfile::tempdir().unwrap();
        sv_test::example::copy_to(app.path()).unwrap();
        // Kill points spread evenly over the reference duration (and a little past it).
        let delay = full.mul_f64(f64::from(seed) / f64::from(SEEDS) * 1.1);
        let mut child = spawn_apply(&emulator, app.path());
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed_mid_way += 1;
        }
        child.wait().unwrap();

        let run = Run::new(&emulator, app.path()).env("USER", "crash-test");
        // A user finds the dead run's lock, checks it is theirs, and breaks it.
        let lock = app.path().join(".sv/state/staging.lock");
        if lock.exists() {
            let info: Value =
                serde_json::from_str(&std::fs::read_to_string(&lock).unwrap()).unwrap();
            let id = info["id"].as_str().unwrap().to_owned();
            let unlock = run.run(&[
                "sv-plan".into(),
                "state".into(),
                "unlock".into(),
                id,
                "--env".into(),
                "staging".into(),
            ]);
            assert_eq!(
                unlock.code,
                Some(0),
                "seed {seed}: unlock: {}",
                unlock.stderr
            );
        }
        let mut argv = vec!["sv-plan".to_owned()];
        argv.extend(apply_args());
        let rerun = run.run(&argv);
        assert_eq!(
            rerun.code,
            Some(0),
            "seed {seed} (killed after {delay:?}): the re-run did not converge:\n{}\n{}",
            rerun.stdout,
            rerun.stderr
        );
        let plan = run.run(&[
            "sv-plan".into(),
            "plan".into(),
            "--env".into(),
            "staging".into(),
            "--detailed-exitcode".into(),
        ]);
        // Only the targeted resources were applied; the rest (routes, DNS) still differ, so
        // compare the targeted part: a targeted plan must show no changes.
        let mut targeted = vec![
            "sv-plan".to_owned(),
            "plan".into(),
            "--env".into(),
            "staging".into(),
            "--detailed-exitcode".into(),
        ];
        targeted.extend(TARGETS.iter().map(|s| (*s).to_owned()));
        let targeted = run.run(&targeted);
        assert_eq!(
            targeted.code,
            Some(0),
            "seed {seed}: after the re-run the plan still has changes:\n{}",
            targeted.stdout
        );
        assert_ne!(
            plan.code,
            Some(1),
            "seed {seed}: plan failed: {}",
            plan.stderr
        );
        assert_eq!(
            resource_names(&remote_state(&emulator)),
            expected,
            "seed {seed}: the account differs from an uninterrupted apply (orphans or duplicates)"
        );
        let state: Value = serde_json::from_str(
            &std::fs::read_to_string(app.path().join(".sv/state/staging.json")).unwrap(),
        )
        .unwrap();
        assert!(
            state["checksum"].is_string(),
            "seed {seed}: state without checksum"
        );
    }
    assert!(
        killed_mid_way >= SEEDS / 2,
        "only {killed_mid_way} of {SEEDS} kills landed inside the apply (full apply {full:?})"
    );
    let _ = Duration::ZERO;
}
