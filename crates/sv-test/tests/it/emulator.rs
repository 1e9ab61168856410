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

/// Minimal HTTP/1.1 POST of a JSON body.
fn post_json(base_url: &str, path: &str, token: &str, body: &str) -> String {
    let authority = base_url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn requests_are_validated_by_default_and_client_is_ready() {
    if !emulator_available() {
        return;
    }
    let emulator = EmulatorProcess::start().expect("sv-emulator starts");
    // The client talks to this emulator with its token and account.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = emulator.client().unwrap();
    let ns = runtime
        .block_on(client.kv().create_namespace("validated"))
        .unwrap();
    assert!(!ns.id.is_empty());
    assert_eq!(emulator.violations().unwrap()["count"], 0);

    // A body that breaks the request schema (`title` is required) is refused before any
    // handler runs, with the emulator's distinctive code, and listed.
    let path = format!(
        "/client/v4/accounts/{}/storage/kv/namespaces",
        emulator.account_id()
    );
    let response = post_json(
        emulator.base_url(),
        &path,
        emulator.token(),
        r#"{"name":"x"}"#,
    );
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("99400"), "{response}");
    let report = emulator.violations().unwrap();
    assert_eq!(report["enabled"], true, "{report}");
    assert_eq!(report["count"], 1, "{report}");
    assert_eq!(
        report["violations"][0]["operation"],
        "POST /accounts/{account_id}/storage/kv/namespaces"
    );
}

#[test]
fn validation_can_be_turned_off() {
    if !emulator_available() {
        return;
    }
    let emulator = EmulatorProcess::builder()
        .validate_requests(false)
        .start()
        .expect("sv-emulator starts");
    let path = format!(
        "/client/v4/accounts/{}/storage/kv/namespaces",
        emulator.account_id()
    );
    let response = post_json(
        emulator.base_url(),
        &path,
        emulator.token(),
        r#"{"name":"x"}"#,
    );
    assert!(!response.contains("99400"), "{response}");
    assert_eq!(emulator.violations().unwrap()["enabled"], false);
}
