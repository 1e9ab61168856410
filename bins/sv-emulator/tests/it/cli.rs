//! The binary itself: first stdout line, --help.

use std::io::BufRead as _;

#[test]
fn binary_prints_listening_line_first() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sv-emulator"))
        .args(["--listen", "127.0.0.1:0", "--in-memory", "--seed", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("listening on http://127.0.0.1:"),
        "{line:?}"
    );
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    // It serves: one plain HTTP/1.1 request over a socket.
    let addr = base.strip_prefix("http://").unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    use std::io::{Read as _, Write as _};
    write!(
        sock,
        "GET /client/v4/user/tokens/verify HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    sock.read_to_string(&mut resp).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("\"status\":\"active\""), "{resp}");
}

#[test]
fn help_teaches_and_is_stable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sv-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--listen",
        "--data",
        "--in-memory",
        "--token",
        "--fault-rate",
        "--faults",
        "--rate-limit",
        "sv-emulator-fault",
        "Examples",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    insta::assert_snapshot!("help", help);
}
