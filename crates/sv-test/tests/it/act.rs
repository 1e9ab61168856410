//! The root action under act: bin-dir install, PATH, running a tool, step outputs, the job
//! summary, and artifacts through the upload/download stand-ins.

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use sv_test::{ActRun, Error, paths};

const SMOKE: &str = "crates/sv-test/tests/workflows/smoke.yml";
const HANG: &str = "crates/sv-test/tests/workflows/hang.yml";
/// Characters a dotenv reader could mangle: `$`, double quotes, spaces.
const SECRET: &str = "s3cr3t $HOME \"quoted\"";

fn fixture_bin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bin")
}

#[test]
fn root_action_installs_from_bin_dir_and_runs_a_tool() {
    if sv_test::act::skip_requested() {
        eprintln!("skipped: SV_SKIP_ACT=1");
        return;
    }
    let outcome = ActRun::new(SMOKE)
        .event("workflow_dispatch")
        .input("greeting", "hello from act")
        .input("tool", "hello")
        .input("args", "--name  two words")
        .input("run-emulator", "false")
        .env("SV_BIN_DIR", fixture_bin_dir().display().to_string())
        .secret("SMOKE_SECRET", SECRET)
        .run()
        .expect("act runs");
    outcome.assert_success();

    // The action ran the tool from bin-dir with the single-line args split on whitespace.
    let log = outcome.step_log();
    for arg in ["arg=[--name]", "arg=[two]", "arg=[words]"] {
        assert!(log.contains(&arg), "missing {arg} in {log:#?}");
    }
    // Outputs written to $GITHUB_OUTPUT by the tool, by the action and by plain steps.
    assert_eq!(
        outcome.step_output("args").as_deref(),
        Some("--name two words")
    );
    assert_eq!(
        outcome.step_output("bin-dir").as_deref(),
        Some(fixture_bin_dir().to_str().unwrap())
    );
    assert_eq!(
        outcome.step_output("greeting").as_deref(),
        Some("hello from act")
    );
    assert_eq!(
        outcome.step_output("sv-version").as_deref(),
        Some("0.0.0-fixture")
    );
    assert_eq!(outcome.step_output("round-trip").as_deref(), Some("ok"));
    // The second job: actions/setup on its own, after the checkout stand-in.
    assert_eq!(
        outcome.step_output("setup-bin-dir").as_deref(),
        Some(fixture_bin_dir().to_str().unwrap())
    );
    // act echoes $GITHUB_STEP_SUMMARY content into its log.
    assert!(
        outcome.stdout.contains("### smoke: hello from act"),
        "{}",
        outcome.stdout
    );
    // The artifact holds out/'s files relative to out/, without hidden files.
    assert_eq!(
        outcome
            .read_artifact("smoke-report", "greeting.txt")
            .unwrap(),
        "hello from act\n"
    );
    assert_eq!(
        outcome
            .read_artifact("smoke-report", "nested/version.txt")
            .unwrap(),
        "version=0.0.0-fixture\n"
    );
    assert!(
        !outcome
            .artifact_path("smoke-report")
            .join(".hidden")
            .exists()
    );
    // The secret arrived intact through the secret file and never reached the log.
    assert_eq!(
        outcome.step_output("secret-length"),
        Some(SECRET.len().to_string())
    );
    assert!(!outcome.stdout.contains("s3cr3t"), "{}", outcome.stdout);
    assert!(
        outcome
            .step_log()
            .contains(&"the secret is *** (act must mask it)"),
        "{}",
        outcome.stdout
    );
    // The emulator step was skipped.
    assert_eq!(outcome.step_output("emulator-verify"), None);
}

#[test]
fn a_missing_tool_fails_the_job() {
    if sv_test::act::skip_requested() {
        eprintln!("skipped: SV_SKIP_ACT=1");
        return;
    }
    let outcome = ActRun::new(SMOKE)
        .event("workflow_dispatch")
        .input("tool", "no-such-tool")
        .env("SV_BIN_DIR", fixture_bin_dir().display().to_string())
        .run()
        .expect("act runs");
    assert!(!outcome.success(), "{}", outcome.stdout);
    let all = format!("{}{}", outcome.stdout, outcome.stderr);
    assert!(
        all.contains("sv-no-such-tool not found in"),
        "the install step names the missing tool:\n{all}"
    );
    assert!(!outcome.artifact_path("smoke-report").exists());
}

/// The same workflow with the real binaries: runs `sv-emulator --help` through the action,
/// then starts the emulator and verifies a token against it.
#[test]
fn root_action_runs_the_real_emulator() {
    if sv_test::act::skip_requested() {
        eprintln!("skipped: SV_SKIP_ACT=1");
        return;
    }
    if !paths::workspace_has_member("bins/sv-emulator") {
        // Only until bins/sv-emulator is part of the workspace; from then on a missing
        // build fails below instead.
        eprintln!("skipped: the workspace has no bins/sv-emulator yet");
        return;
    }
    let emulator = paths::cargo_bin("sv-emulator").expect("sv-emulator is built");
    let bin_dir = emulator.parent().unwrap().to_path_buf();
    let outcome = ActRun::new(SMOKE)
        .event("workflow_dispatch")
        .input("tool", "sv-emulator")
        .input("args", "--help")
        .input("run-emulator", "true")
        .env("SV_BIN_DIR", bin_dir.display().to_string())
        .run()
        .expect("act runs");
    outcome.assert_success();
    assert!(
        outcome.step_log().iter().any(|l| l.contains("--listen")),
        "sv-emulator --help mentions --listen:\n{}",
        outcome.stdout
    );
    assert_eq!(
        outcome.step_output("emulator-verify").as_deref(),
        Some("ok")
    );
}

#[test]
fn a_hung_workflow_is_killed_with_everything_it_started() {
    if sv_test::act::skip_requested() {
        eprintln!("skipped: SV_SKIP_ACT=1");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("background.pid");
    let started = Instant::now();
    let err = ActRun::new(HANG)
        .event("workflow_dispatch")
        .env("SV_PID_FILE", pid_file.display().to_string())
        .timeout(Duration::from_secs(8))
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::ActTimeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
    let pid =
        std::fs::read_to_string(&pid_file).expect("the job got to start its background process");
    let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
    // Killed processes may linger briefly as zombies until their new parent reaps them.
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_dir.exists() && !is_zombie(&proc_dir) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !proc_dir.exists() || is_zombie(&proc_dir),
        "background process {} survived the timeout",
        pid.trim()
    );
}

fn is_zombie(proc_dir: &Path) -> bool {
    std::fs::read_to_string(proc_dir.join("stat"))
        .map(|stat| {
            stat.rsplit(") ")
                .next()
                .is_some_and(|rest| rest.starts_with('Z'))
        })
        .unwrap_or(true)
}
