//! scripts/package-release.sh → scripts/install.sh round trip over a local HTTP server,
//! plus the checks install.sh must make before anything runs, and the action's tool runner.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sv_test::paths::workspace_root;

/// `SV_BINARIES=(…)` of a script: the binaries a release archive holds.
fn script_binaries(script: &str) -> Vec<String> {
    let text = fs::read_to_string(workspace_root().join(script)).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("SV_BINARIES=("))
        .unwrap_or_else(|| panic!("{script} has no SV_BINARIES line"));
    line.trim_start_matches("SV_BINARIES=(")
        .trim_end_matches(')')
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}
const TARGET: &str = "x86_64-unknown-linux-musl";

/// Serves `files` (URL path → bytes) on 127.0.0.1 until the test process ends.
fn serve(files: BTreeMap<String, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let (status, body) = match files.get(path) {
                Some(body) => ("200 OK", body.clone()),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    base
}

fn workspace_version() -> String {
    let manifest = fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let section = manifest.split("[workspace.package]").nth(1).unwrap();
    let line = section.lines().find(|l| l.starts_with("version")).unwrap();
    line.split('"').nth(1).unwrap().to_owned()
}

/// Fake binaries that print their name and version, packed by the real release script.
fn packed_release(version: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bins = dir.path().join("bins");
    fs::create_dir(&bins).unwrap();
    for name in script_binaries("scripts/install.sh") {
        let path = bins.join(&name);
        fs::write(&path, format!("#!/bin/sh\necho \"{name} {version}\"\n")).unwrap();
        make_executable(&path);
    }
    let out = dir.path().join("dist");
    let status = Command::new("bash")
        .arg(workspace_root().join("scripts/package-release.sh"))
        .args(["--target", TARGET, "--version", &format!("v{version}")])
        .arg("--bin-dir")
        .arg(&bins)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    (dir, out)
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn release_files(dist: &Path, version: &str) -> BTreeMap<String, Vec<u8>> {
    let name = format!("sv-{version}-{TARGET}.tar.gz");
    let mut files = BTreeMap::new();
    for file in [name.clone(), format!("{name}.sha256")] {
        files.insert(
            format!("/v{version}/{file}"),
            fs::read(dist.join(&file)).unwrap(),
        );
    }
    files
}

fn install(args: &[&str], extra_env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new("bash");
    command
        .arg(workspace_root().join("scripts/install.sh"))
        .args(args)
        .env_remove("SV_REPO")
        .env_remove("SV_INSTALL_DIR");
    for (k, v) in extra_env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The archive list lives in two scripts (install.sh runs on its own, without the repo);
/// both must agree and name every binary crate of the workspace.
#[test]
fn release_binary_lists_agree_with_the_workspace() {
    let installed = script_binaries("scripts/install.sh");
    assert_eq!(installed, script_binaries("scripts/package-release.sh"));
    let bins = workspace_root().join("bins");
    for entry in fs::read_dir(&bins).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("sv-") && entry.path().join("Cargo.toml").is_file() {
            assert!(
                installed.contains(&name),
                "bins/{name} is missing from SV_BINARIES in scripts/install.sh and scripts/package-release.sh"
            );
        }
    }
}

#[test]
fn installs_a_packaged_release_after_checking_its_sha256() {
    let version = workspace_version();
    let (_keep, dist) = packed_release(&version);
    let checksum =
        fs::read_to_string(dist.join(format!("sv-{version}-{TARGET}.tar.gz.sha256"))).unwrap();
    assert!(
        checksum.ends_with(&format!("  sv-{version}-{TARGET}.tar.gz\n")),
        "sha256sum format: {checksum}"
    );
    let base = serve(release_files(&dist, &version));
    let dest = tempfile::tempdir().unwrap();
    let to = dest.path().join("bin");

    let out = install(
        &[
            "--version",
            &version,
            "--base-url",
            &base,
            "--target",
            TARGET,
            "--to",
            to.to_str().unwrap(),
            "--require",
            "sv-plan",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim_end(), to.to_str().unwrap());
    assert!(text(&out.stderr).contains("sha256 verified"));
    for name in script_binaries("scripts/install.sh") {
        let run = Command::new(to.join(&name)).output().unwrap();
        assert_eq!(text(&run.stdout), format!("{name} {version}\n"));
    }
}

#[test]
fn a_wrong_checksum_installs_nothing() {
    let version = workspace_version();
    let (_keep, dist) = packed_release(&version);
    let mut files = release_files(&dist, &version);
    let key = format!("/v{version}/sv-{version}-{TARGET}.tar.gz.sha256");
    files.insert(
        key,
        format!("{}  sv-{version}-{TARGET}.tar.gz\n", "ab".repeat(32)).into_bytes(),
    );
    let base = serve(files);
    let dest = tempfile::tempdir().unwrap();
    let to = dest.path().join("bin");
    let out = install(
        &[
            "--version",
            &version,
            "--base-url",
            &base,
            "--target",
            TARGET,
            "--to",
            to.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("checksum mismatch"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !to.exists(),
        "nothing is installed when the checksum is wrong"
    );
}

#[test]
fn a_missing_archive_fails() {
    let base = serve(BTreeMap::new());
    let dest = tempfile::tempdir().unwrap();
    let out = install(
        &[
            "--version",
            "9.9.9",
            "--base-url",
            &base,
            "--target",
            TARGET,
            "--to",
            dest.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("download failed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn insecure_urls_and_bad_usage_are_refused() {
    let dest = tempfile::tempdir().unwrap();
    let out = install(
        &[
            "--version",
            "1.0.0",
            "--base-url",
            "http://example.com",
            "--target",
            TARGET,
            "--to",
            dest.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("refusing to download over an insecure URL"));

    let out = install(&["--bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = install(
        &[
            "--version",
            "not-a-version",
            "--target",
            TARGET,
            "--to",
            "/nonexistent",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = install(&["--help"], &[]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--bin-dir DIR"));
}

#[test]
fn bin_dir_mode_checks_and_reports_for_actions() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bin");
    let gh = tempfile::tempdir().unwrap();
    let output = gh.path().join("output");
    let path_file = gh.path().join("path");
    let out = install(
        &[
            "--bin-dir",
            fixtures.to_str().unwrap(),
            "--require",
            "sv-hello",
            "--github",
        ],
        &[("GITHUB_OUTPUT", &output), ("GITHUB_PATH", &path_file)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        fs::read_to_string(&output).unwrap(),
        format!("bin-dir={}\nversion=0.0.0-fixture\n", fixtures.display())
    );
    assert_eq!(
        fs::read_to_string(&path_file).unwrap(),
        format!("{}\n", fixtures.display())
    );

    let out = install(
        &[
            "--bin-dir",
            fixtures.to_str().unwrap(),
            "--require",
            "sv-plan",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("sv-plan not found in"));

    let empty = tempfile::tempdir().unwrap();
    let out = install(&["--bin-dir", empty.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no sv-* executables"));
}

#[test]
fn package_release_refuses_a_version_other_than_the_workspace_version() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/package-release.sh"))
        .args(["--target", TARGET, "--version", "v999.0.0"])
        .arg("--bin-dir")
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("dist"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("differs from Cargo.toml version"));
}

/// The root action's runner: multi-line args are one per line, a single line splits on
/// whitespace, and nothing is shell-expanded.
#[test]
fn run_tool_passes_arguments_verbatim() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bin");
    let run = |args: &str, tool: &str| {
        Command::new("bash")
            .arg(workspace_root().join("actions/setup/run-tool.sh"))
            .env("SV_TOOL", tool)
            .env("SV_ARGS", args)
            .env("SV_BIN", &fixtures)
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap()
    };
    let out = run("--message\nhello   world\n$HOME *\n", "hello");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "arg=[--message]\narg=[hello   world]\narg=[$HOME *]\n"
    );
    let out = run("  a  b *  ", "sv-hello");
    assert_eq!(text(&out.stdout), "arg=[a]\narg=[b]\narg=[*]\n");
    let out = run("", "sv-hello");
    assert_eq!(text(&out.stdout), "");

    let out = run("", "../evil");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not an sv tool name"));
    let out = run("", "absent");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("sv-absent is not installed"));
}
