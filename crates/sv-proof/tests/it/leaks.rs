//! The secret-leak scan: the SpaceVision flow run as in GitHub Actions with recognisable
//! token, webhook and key values; none may appear in any stdout/stderr (other than the
//! `::add-mask::` commands that hide them), job summary, step output, saved plan, local
//! state, audit trail, dead letters, PR comment or issue.

use std::path::{Path, PathBuf};
use std::process::Command;

use sv_test::EmulatorProcess;

use crate::support::{Outcome, Run, http_get, listing};

/// Recognisable values; each also checked by an inner slice, to catch partial printing.
const CF_TOKEN: &str = "svleak0cf0token0a1b2c3d4e5f6a7b8c9d0";
const GH_TOKEN: &str = "svleak0gh0token0f9e8d7c6b5a4f3e2d1c0";
const SLACK_ONCALL: &str =
    "https://hooks.slack.com/services/T0SVLEAK/B0SVLEAK/svleak0oncall0webhook0x7";
const SLACK_RELEASES: &str =
    "https://hooks.slack.com/services/T0SVLEAK/B0SVLEAK/svleak0releases0webhook0q2";
const REPO: &str = "sv-toolkit/spacevision";
const PR: u64 = 7;

fn canaries() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (name, value) in [
        ("CLOUDFLARE_API_TOKEN", CF_TOKEN),
        ("GITHUB_TOKEN", GH_TOKEN),
        ("SLACK_ONCALL_WEBHOOK", SLACK_ONCALL),
        ("SLACK_RELEASES_WEBHOOK", SLACK_RELEASES),
    ] {
        out.push((name, value.to_owned()));
        // The secret part of a webhook is its last path segment.
        let tail = value.rsplit('/').next().unwrap_or(value);
        out.push((name, tail[4..tail.len() - 4].to_owned()));
    }
    out
}

struct Scan {
    findings: Vec<String>,
    scanned: usize,
    /// Secrets seen in `::add-mask::` commands: proves the values reached the tools.
    masked: std::collections::BTreeSet<String>,
    files: Vec<PathBuf>,
}

impl Scan {
    fn text(&mut self, origin: &str, text: &str) {
        self.scanned += 1;
        for line in text.lines() {
            // The one place a secret may appear: the command that tells the runner to hide it.
            if let Some(value) = line.strip_prefix("::add-mask::") {
                self.masked.insert(value.to_owned());
                continue;
            }
            for (name, value) in canaries() {
                if line.contains(&value) {
                    self.findings.push(format!("{origin}: {name} in: {line}"));
                }
            }
        }
    }

    fn outcome(&mut self, outcome: &Outcome) {
        self.text(&format!("stdout of `{}`", outcome.command), &outcome.stdout);
        self.text(&format!("stderr of `{}`", outcome.command), &outcome.stderr);
    }

    fn file(&mut self, path: &Path) {
        self.files.push(path.to_owned());
        let bytes = std::fs::read(path).unwrap();
        self.text(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        );
    }

    fn tree(&mut self, dir: &Path) {
        for rel in listing(dir) {
            let path = dir.join(rel);
            if path.is_file() {
                self.file(&path);
            }
        }
    }
}

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn no_secret_reaches_any_output_of_the_flow() {
    let emulator = EmulatorProcess::builder()
        .token(CF_TOKEN)
        .arg("--github-token")
        .arg(GH_TOKEN)
        .arg("--zone-name")
        .arg("staging.spacevision.app")
        .start()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let app = work.path().join("app");
    sv_test::example::copy_to(&app).unwrap();
    let npm = Command::new("npm")
        .args([
            "install",
            "--offline",
            "--omit=dev",
            "--no-audit",
            "--no-fund",
            "--silent",
        ])
        .current_dir(&app)
        .output()
        .unwrap();
    assert!(
        npm.status.success(),
        "npm install: {}",
        String::from_utf8_lossy(&npm.stderr)
    );
    let gh = work.path().join("gh");
    std::fs::create_dir_all(&gh).unwrap();
    let event = gh.join("event.json");
    std::fs::write(
        &event,
        format!(r#"{{"number": {PR}, "pull_request": {{"number": {PR}}}}}"#),
    )
    .unwrap();
    let summary = gh.join("summary.md");
    let output = gh.join("output.txt");
    let run = Run::new(&emulator, &app)
        .env("CLOUDFLARE_API_TOKEN", CF_TOKEN)
        .env("GITHUB_TOKEN", GH_TOKEN)
        .env("SLACK_ONCALL_WEBHOOK", SLACK_ONCALL)
        .env("SLACK_RELEASES_WEBHOOK", SLACK_RELEASES)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event.to_string_lossy())
        .env("GITHUB_STEP_SUMMARY", &summary.to_string_lossy())
        .env("GITHUB_OUTPUT", &output.to_string_lossy())
        .env("USER", "leak-test");
    let host = "spacevision-api-staging.sv-emulator.workers.dev";
    let authority = emulator.base_url().trim_start_matches("http://").to_owned();
    let plan_file = work.path().join("staging.plan");
    let backups = work.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let steps: Vec<(Vec<String>, bool)> = vec![
        (argv(&["sv-plan", "validate"]), true),
        (
            vec![
                "sv-plan".into(),
                "plan".into(),
                "--env".into(),
                "staging".into(),
                "--out".into(),
                plan_file.to_string_lossy().into_owned(),
            ],
            true,
        ),
        (
            vec![
                "sv-plan".into(),
                "comment".into(),
                "--env".into(),
                "staging".into(),
                plan_file.to_string_lossy().into_owned(),
            ],
            true,
        ),
        (
            argv(&[
                "sv-plan",
                "apply",
                "--env",
                "staging",
                "--auto-approve",
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
            ]),
            true,
        ),
        (
            vec![
                "sv-deploy".into(),
                "deploy".into(),
                "--env".into(),
                "staging".into(),
                "--gate-window".into(),
                "1s".into(),
                "--worker-url".into(),
                format!("http://{host}"),
                "--connect-to".into(),
                authority.clone(),
                "--annotate".into(),
                r#"sv/response={"status":200,"body":"{\"ok\":true}"}"#.into(),
            ],
            true,
        ),
        (
            argv(&["sv-plan", "apply", "--env", "staging", "--auto-approve"]),
            true,
        ),
        (argv(&["sv-deploy", "status", "--env", "staging"]), false),
        (argv(&["sv-deploy", "history", "--env", "staging"]), true),
        // The checks reach hosts that do not resolve here: three failing runs raise an
        // alert, whose webhooks fail too — the error paths are where secrets leak.
        (argv(&["sv-health", "check", "--env", "staging"]), false),
        (argv(&["sv-health", "check", "--env", "staging"]), false),
        (argv(&["sv-health", "check", "--env", "staging"]), false),
        (
            vec![
                "sv-backup".into(),
                "create".into(),
                "--env".into(),
                "staging".into(),
                "--out".into(),
                backups.to_string_lossy().into_owned(),
            ],
            true,
        ),
        (
            argv(&["sv-plan", "plan", "--env", "staging", "--detailed-exitcode"]),
            true,
        ),
    ];
    let mut scan = Scan {
        findings: Vec::new(),
        scanned: 0,
        masked: Default::default(),
        files: Vec::new(),
    };
    for (step, must_succeed) in &steps {
        let outcome = run.run(step);
        if *must_succeed {
            assert_eq!(
                outcome.code,
                Some(0),
                "`{}` failed:\n{}\n{}",
                outcome.command,
                outcome.stdout,
                outcome.stderr
            );
        }
        scan.outcome(&outcome);
    }
    // Everything written to disk that is not encrypted.
    for path in [&summary, &output, &plan_file] {
        assert!(path.is_file(), "{} was not written", path.display());
        scan.file(path);
    }
    scan.tree(&app.join(".sv"));
    for rel in listing(&backups) {
        let path: PathBuf = backups.join(rel);
        if !path.to_string_lossy().ends_with(".age") {
            scan.file(&path);
        }
    }
    // What reached GitHub: the PR's comments and the repository's issues.
    let comments = http_get(
        &emulator,
        &format!("/github/repos/{REPO}/issues/{PR}/comments"),
        Some(GH_TOKEN),
    );
    assert!(
        comments.contains("sv-plan"),
        "no plan comment was posted: {comments}"
    );
    scan.text("PR comments", &comments);
    let issues = http_get(
        &emulator,
        &format!("/github/repos/{REPO}/issues?state=all"),
        Some(GH_TOKEN),
    );
    scan.text("issues", &issues);
    assert!(scan.scanned > 30, "scanned only {} texts", scan.scanned);
    for token in [CF_TOKEN, GH_TOKEN] {
        assert!(
            scan.masked.contains(token),
            "no tool masked {token}: was it used at all?"
        );
    }
    for expected in ["audit.jsonl", "staging.json"] {
        assert!(
            scan.files.iter().any(|f| f.ends_with(expected)),
            "{expected} was not scanned: {:?}",
            scan.files
        );
    }
    assert!(
        scan.findings.is_empty(),
        "secrets leaked:\n{}",
        scan.findings.join("\n")
    );
}
