//! `guide`: generated from the reference app's actual configuration.

use sv_test::EmulatorProcess;

use crate::{App, onboard, run, scrub};

#[test]
fn guide_of_the_reference_app() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let out = run(onboard(&app.root, &emu), &["guide"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    // Variable names only: no value from the environment or config leaks into the guide.
    assert!(!out.stdout.contains(emu.account_id()));
    assert!(!out.stdout.contains("https://staging.spacevision.app"));
    insta::assert_snapshot!("guide", scrub(&out.stdout, &app.root));

    let file = app.path("docs/DEVELOPING.md");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let wrote = run(
        onboard(&app.root, &emu),
        &["guide", "--output", file.to_str().unwrap()],
    );
    assert_eq!(wrote.code, 0, "{}", wrote.transcript());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), out.stdout);

    let json = run(onboard(&app.root, &emu), &["--format", "json", "guide"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["project"], "spacevision");
    assert_eq!(v["build_waves"][0][0], "shared");
}
