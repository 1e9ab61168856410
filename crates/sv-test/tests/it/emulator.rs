//! EmulatorProcess against the real sv-emulator binary.

use std::io::{Read, Write};
use std::net::TcpStream;

use sv_test::{EmulatorProcess, paths};

fn emulator_available() -> bool {
    if paths::workspace_has_member("bins/sv-emulator") {
        return true;
    }
    eprintln!("skipped: the workspace has no bins/sv-emulator yet");
    false
}

/// Minimal HTTP/1.1 GET, enough to prove the process serves requests.
fn get(base_url: &str, path: &str, token: &str) -> String {
    let authority = base_url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn starts_serves_and_stops() {
    if !emulator_available() {
        return;
    }
    let emulator = EmulatorProcess::start().expect("sv-emulator starts");
    let env = emulator.cloudflare_env();
    let value = |key: &str| env.iter().find(|(k, _)| k == key).unwrap().1.clone();
    assert_eq!(
        value("CLOUDFLARE_API_BASE_URL"),
        format!("{}/client/v4", emulator.base_url())
    );
    assert_eq!(value("CLOUDFLARE_ACCOUNT_ID"), emulator.account_id());
    assert_eq!(
        value("GITHUB_API_URL"),
        format!("{}/github", emulator.base_url())
    );
    assert!(!format!("{emulator:?}").contains(emulator.token()));

    let response = get(
        emulator.base_url(),
        "/client/v4/user/tokens/verify",
        emulator.token(),
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"success\":true"), "{response}");

    // The GitHub REST subset is served on the same listener, where GITHUB_API_URL points.
    let github = get(
        emulator.base_url(),
        "/github/repos/acme/app/issues/1/comments",
        emulator.token(),
    );
    assert!(github.starts_with("HTTP/1.1 200"), "{github}");
    assert!(github.trim_end().ends_with("[]"), "{github}");

    let authority = emulator
        .base_url()
        .strip_prefix("http://")
        .unwrap()
        .to_owned();
    drop(emulator);
    assert!(
        TcpStream::connect(&authority).is_err(),
        "the emulator stops listening once dropped"
    );
}

#[test]
fn two_emulators_get_their_own_ports() {
    if !emulator_available() {
        return;
    }
    let a = EmulatorProcess::start().unwrap();
    let b = EmulatorProcess::start().unwrap();
    assert_ne!(a.base_url(), b.base_url());
}
