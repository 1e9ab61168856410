//! A new environment in one apply and one deploy: `sv-plan apply` defers the route and the
//! custom domain of a Worker that does not exist yet, and the Worker's first release creates
//! them under sv-plan's state lock, recording them in its state.

use crate::common::{App, GOOD};

fn output(cmd: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_first_release_creates_the_routes_the_apply_deferred() {
    let app = App::empty("staging.spacevision.app");
    let (code, out, err) =
        output(
            app.sv_plan()
                .args(["apply", "--env", "staging", "--auto-approve"]),
        );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("2 deferred"), "{out}");

    let (code, out, err) = output(&mut app.deploy(GOOD));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("created route.api.staging.spacevision.app/* (api.staging.spacevision.app/*) now that spacevision-api-staging exists"),
        "{err}"
    );
    assert!(
        err.contains("created domain.images.staging.spacevision.app"),
        "{err}"
    );
    let state = std::fs::read_to_string(app.root().join(".sv/state/staging.json")).unwrap();
    assert!(
        state.contains("route.api.staging.spacevision.app/*"),
        "{state}"
    );
    assert!(
        state.contains("domain.images.staging.spacevision.app"),
        "{state}"
    );
    let audit = std::fs::read_to_string(app.root().join(".sv/audit.jsonl")).unwrap();
    assert_eq!(
        audit.matches("\"operation\":\"create-route\"").count(),
        2,
        "{audit}"
    );
    // The environment is whole: nothing left for sv-plan.
    let (code, out, err) =
        output(
            app.sv_plan()
                .args(["plan", "--env", "staging", "--detailed-exitcode"]),
        );
    assert_eq!(code, 0, "{out}\n{err}");

    // A later release leaves routes alone (only a first upload looks for deferred ones).
    let (code, out, err) = output(&mut app.deploy(GOOD));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!err.contains("created route"), "{err}");
}
