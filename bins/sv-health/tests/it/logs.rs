use std::process::Stdio;

use crate::common::{app, sv_health_std};
use crate::profile::deploy_and_hit;

/// Starts `sv-health logs` with `extra` args for 4 s, sends traffic once it is connected,
/// and returns its stdout lines.
fn logs_while_hitting(extra: &[&str]) -> Vec<String> {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    deploy_and_hit(&emu, true, &[]);
    let (_tmp, root) = app("  checks: []\n");
    let mut cmd = sv_health_std(&root);
    let child = cmd
        .envs(emu.cloudflare_env())
        .args(["logs", "--env", "production", "--for", "4s"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Give the tail time to be created and connected before the requests.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    deploy_and_hit(&emu, false, &["/", "/", "/err"]);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The tail was deleted on exit.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tails = runtime.block_on(async {
        let client = emu.client().unwrap();
        client.tail().list("spacevision-api").await.unwrap()
    });
    assert!(tails.is_empty(), "tail left behind: {tails:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn logs_stream_events_as_json_lines_and_delete_the_tail() {
    let lines = logs_while_hitting(&["--format", "json"]);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let outcomes: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["outcome"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(outcomes, ["ok", "ok", "exception"]);
}

#[test]
fn logs_filter_by_status_in_human_lines() {
    let lines = logs_while_hitting(&["--status", "error"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(" GET ") && lines[0].contains("/err") && lines[0].contains("exception"),
        "{lines:?}"
    );
}
