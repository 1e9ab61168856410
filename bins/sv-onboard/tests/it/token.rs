//! `token check` against tokens minted on sv-emulator.

use sv_test::EmulatorProcess;

use crate::doctor::{D1, KV, R2, mint_with};
use crate::{App, onboard, run, scrub};

/// Dates (`2026-11-25T21:57:23Z`) vary by run.
fn scrub_dates(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            line.split(' ')
                .map(|w| {
                    let b = w.as_bytes();
                    if b.len() >= 10
                        && b[4] == b'-'
                        && b[7] == b'-'
                        && b[..4].iter().all(u8::is_ascii_digit)
                    {
                        "[DATE]".to_owned()
                    } else {
                        w.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn token_check_reports_status_expiry_and_policies() {
    let emu = EmulatorProcess::start().unwrap();
    let app = App::new();
    let good = mint_with(
        &emu,
        emu.account_id(),
        &[KV, D1, R2],
        Some("2099-01-01T00:00:00Z"),
    );
    let expired = mint_with(&emu, emu.account_id(), &[KV], Some("2020-01-01T00:00:00Z"));
    let mut cmd = onboard(&app.root, &emu);
    cmd.env("CLOUDFLARE_API_TOKEN", &good);
    let out = run(cmd, &["token", "check"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(!out.stdout.contains(&good));
    insta::assert_snapshot!(
        "token_check",
        scrub_dates(&scrub(&out.transcript(), &app.root))
    );

    // An expired token fails the check (the API refuses it, so it does not even verify).
    let mut cmd = onboard(&app.root, &emu);
    cmd.env("CLOUDFLARE_API_TOKEN", &good)
        .env("OLD_TOKEN", &expired);
    let out = run(
        cmd,
        &[
            "token",
            "check",
            "--token-var",
            "CLOUDFLARE_API_TOKEN",
            "--token-var",
            "OLD_TOKEN",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stdout.contains("OLD_TOKEN: token — invalid"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(&expired));

    // A variable that is not set is a usage error.
    let out = run(
        onboard(&app.root, &emu),
        &["token", "check", "--token-var", "NOPE"],
    );
    assert_eq!(out.code, 2, "{}", out.transcript());
}
