//! `npm run dev` in the reference app, for real: `sv-onboard dev` starts the Worker under
//! `wrangler dev --local` (local D1 migrated and seeded) and the web dev server proxying
//! `/api/` to it; a change in `shared/` reaches both builds; Ctrl-C stops everything.
//! Needs the example's npm dependencies (wrangler): `npm ci` in `examples/spacevision`, which
//! `scripts/test.sh` runs first.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{App, alive};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on 127.0.0.1:port: the status and body, `None` while nothing listens.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// Waits until `check` holds, failing with the app's log after `limit`.
fn wait_until(limit: Duration, log: &Path, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?}; npm run dev printed:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Processes (not zombies) whose working directory is inside `root`.
fn processes_in(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(root) && alive(&pid) {
            let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            ));
        }
    }
    found
}

/// Kills the process group if the test fails half-way, so nothing outlives it.
struct GroupGuard(u32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.0)])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn npm_run_dev_serves_the_app_locally_and_ctrl_c_stops_it() {
    let installed = sv_test::example::spacevision().join("node_modules");
    assert!(
        installed.join(".bin/wrangler").exists(),
        "the example's npm dependencies are not installed: run `npm ci` in examples/spacevision \
         (scripts/test.sh does) — `npm run dev` needs wrangler"
    );
    let app = App::new();
    std::os::unix::fs::symlink(&installed, app.path("node_modules")).unwrap();
    let (worker_port, web_port) = (free_port(), free_port());
    let log_path = app.path("dev.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let sv_bin = assert_cmd::cargo::cargo_bin("sv-onboard");
    let path = format!(
        "{}:{}",
        sv_bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = std::process::Command::new("npm")
        .args(["run", "dev"])
        .current_dir(&app.root)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("WORKER_PORT", worker_port.to_string())
        .env("WEB_PORT", web_port.to_string())
        // No Cloudflare credentials: local development needs none.
        .env_remove("CLOUDFLARE_ACCOUNT_ID")
        .env_remove("CLOUDFLARE_API_TOKEN")
        .env_remove("SV_DEVELOPER")
        .env_remove("SV_CONFIG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        // Its own process group, as a terminal gives it: Ctrl-C goes to the whole group.
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id();
    let _guard = GroupGuard(pgid);

    // The web app, and the API through its proxy: migrated, seeded, answering.
    wait_until(
        Duration::from_secs(180),
        &log_path,
        "the API answers",
        || get(web_port, "/api/observations").is_some_and(|(s, b)| s == 200 && b.contains("M31")),
    );
    let (status, page) = get(web_port, "/").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("SpaceVision"), "{page}");
    let (status, direct) = get(worker_port, "/api/observations").unwrap();
    assert_eq!(status, 200, "{direct}");

    // A change in shared/ is rebuilt into both the Worker's and the web app's bundles.
    let shared = app.path("shared/src/index.js");
    let mut text = std::fs::read_to_string(&shared).unwrap();
    text.push_str("// changed while npm run dev runs\n");
    std::fs::write(&shared, text).unwrap();
    for built in ["web/dist/js/shared/index.js", "worker/dist/shared/index.js"] {
        wait_until(
            Duration::from_secs(60),
            &log_path,
            &format!("{built} rebuilt"),
            || {
                app.read_opt(built)
                    .contains("changed while npm run dev runs")
            },
        );
    }
    wait_until(
        Duration::from_secs(60),
        &log_path,
        "the API answers after the rebuild",
        || get(web_port, "/api/observations").is_some_and(|(s, _)| s == 200),
    );

    // Ctrl-C: everything goes, wrangler's workerd included, and the ports are free again.
    let status = std::process::Command::new("kill")
        .args(["-s", "INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "npm run dev did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_until(
        Duration::from_secs(15),
        &log_path,
        "nothing left running",
        || processes_in(&app.root).is_empty(),
    );
    assert!(TcpStream::connect(("127.0.0.1", worker_port)).is_err());
    assert!(TcpStream::connect(("127.0.0.1", web_port)).is_err());
    let printed = app.read("dev.log");
    assert!(
        printed.contains("interrupted: stopped everything it started"),
        "{printed}"
    );
    assert!(printed.contains("seed.sql loaded"), "{printed}");
}
