//! The history in a KV value or an R2 object of the emulator (`--history kv://…`,
//! `r2://…`): runs carry over between invocations exactly as with the file.

use crate::common::{app, http_server, seed_stores, sv_health};

fn yaml(base: &str) -> String {
    format!("  checks:\n    - {{ name: api, http: \"{base}/down\", unhealthy_after: 2 }}\n")
}

fn consecutive_runs_count_through(location: &str) {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    seed_stores(&emu);
    let http = http_server();
    let (_tmp, root) = app(&yaml(&http.base));
    let check = |extra: &[&str]| {
        let out = sv_health(&root)
            .envs(emu.cloudflare_env())
            .args(["check", "--env", "production", "--format", "json"])
            .args(["--history", location])
            .args(extra)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
        });
        (out.status.code(), json["checks"][0]["status"].clone())
    };
    // A dry run writes nothing: the next run is still the first failure.
    assert_eq!(check(&["--dry-run"]), (Some(0), "degraded".into()));
    assert_eq!(check(&[]), (Some(0), "degraded".into()));
    // The second consecutive failure is only known from the stored history.
    assert_eq!(check(&[]), (Some(1), "unhealthy".into()));
    assert!(!root.join(".sv/health").exists(), "nothing written locally");
    let out = sv_health(&root)
        .envs(emu.cloudflare_env())
        .args(["report", "--env", "production", "--format", "json"])
        .args(["--history", location])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["coverage"]["runs_24h"], 2, "{json}");
    assert_eq!(json["checks"][0]["uptime"]["h24"], 0.0);
    // `report` re-applies unhealthy_after to the latest run.
    assert_eq!(json["checks"][0]["status"], "unhealthy");
}

#[test]
fn history_in_a_kv_value() {
    consecutive_runs_count_through("kv://sessions/health/production");
}

#[test]
fn history_in_an_r2_object() {
    consecutive_runs_count_through("r2://uploads/health/production.history");
}

#[test]
fn unknown_namespace_and_bad_locations_are_input_errors() {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    let http = http_server();
    let (_tmp, root) = app(&yaml(&http.base));
    let out = sv_health(&root)
        .envs(emu.cloudflare_env())
        .args(["check", "--env", "production"])
        .args(["--history", "kv://missing/health"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("KV namespace \"missing\""), "{stderr}");
    for bad in ["kv://sessions", "s3://bucket/key"] {
        let out = sv_health(&root)
            .args(["check", "--env", "production", "--history", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
    // Remote history without credentials: refused before any check runs.
    let out = sv_health(&root)
        .args([
            "report",
            "--env",
            "production",
            "--history",
            "r2://uploads/h",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
