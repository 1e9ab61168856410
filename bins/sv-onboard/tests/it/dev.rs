//! `dev` with fake dev commands: dependency order, rebuild of dependents when `shared/`
//! changes, and Ctrl-C (SIGINT) stopping every process it started, grandchildren included.

use std::io::BufRead as _;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{App, alive};

fn wait_for(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.iter().any(|l| l.contains(want)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("no line containing {want:?}; saw:\n{}", seen.join("\n")),
        }
    }
}

#[test]
fn dev_starts_in_order_rebuilds_dependents_and_stops_everything() {
    let app = App::new();
    let yaml = app.read("sv.yaml").replace(
        "workspaces:                                   # npm workspaces; built in dependency order\n  shared: { build: npm run build -w shared }\n  worker: { wrangler: worker/wrangler.toml, build: npm run build -w worker }\n  web:    { pages: spacevision-web, build: npm run build -w web, output: web/dist }   # Pages settings: web/wrangler.jsonc\n",
        "workspaces:\n  shared: { build: 'echo rebuilt-shared >> build.log', dev: 'echo $$ > shared.pid; echo started shared; exec sleep 120' }\n  worker: { wrangler: worker/wrangler.toml, build: 'echo rebuilt-worker >> build.log', dev: 'sleep 120 & echo $! > worker-child.pid; echo started worker env=$SV_ENV; wait' }\n  web:    { pages: spacevision-web, build: 'echo rebuilt-web >> build.log', dev: 'echo $$ > web.pid; echo started web; exec sleep 120' }\n",
    );
    assert!(yaml.contains("started worker"), "sv.yaml layout changed");
    app.write("sv.yaml", &yaml);
    std::fs::create_dir_all(app.path(".sv/dev")).unwrap();
    app.write(
        ".sv/dev/alice.json",
        r#"{"developer_id":"alice","environment":"dev-alice","prefix":"dev-alice-","status":"ready","resources":[],"services":[],"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#,
    );

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("sv-onboard"))
        .args(["dev", "--poll-ms", "100"])
        .current_dir(&app.root)
        .env("NO_COLOR", "1")
        .env("CLOUDFLARE_ACCOUNT_ID", "0123456789abcdef0123456789abcdef")
        .env_remove("SV_DEVELOPER")
        .env_remove("SV_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    wait_for(&rx, &mut seen, "[shared] started shared");
    wait_for(&rx, &mut seen, "[worker] started worker env=dev-alice");
    wait_for(&rx, &mut seen, "[web] started web");
    wait_for(&rx, &mut seen, "watching shared/");
    let pos = |needle: &str| seen.iter().position(|l| l.contains(needle)).unwrap();
    assert!(pos("starting shared") < pos("starting worker"), "{seen:?}");
    assert!(pos("starting shared") < pos("starting web"), "{seen:?}");

    // A change in shared/ rebuilds shared, then its dependents (tests has no build command).
    std::thread::sleep(Duration::from_millis(300));
    app.write("shared/src/constants.js", "export const CHANGED = true;\n");
    wait_for(&rx, &mut seen, "change in shared: rebuilding shared");
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.read_opt("build.log").lines().count() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = app.read_opt("build.log");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.first(), Some(&"rebuilt-shared"), "{log}");
    let mut rest = lines[1..].to_vec();
    rest.sort_unstable();
    assert_eq!(rest, ["rebuilt-web", "rebuilt-worker"], "{log}");

    // Ctrl-C: everything it started goes, the worker's background grandchild too.
    let pids: Vec<String> = ["shared.pid", "web.pid", "worker-child.pid"]
        .iter()
        .map(|f| app.read(f))
        .collect();
    assert!(pids.iter().all(|p| alive(p)), "{pids:?}");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "sv-onboard dev did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    wait_for(&rx, &mut seen, "interrupted: stopped everything it started");
    std::thread::sleep(Duration::from_millis(200));
    for p in &pids {
        assert!(!alive(p), "process {p} still running");
    }
}
