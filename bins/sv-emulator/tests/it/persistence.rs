use std::io::BufRead as _;

use reqwest::Method;
use serde_json::json;
use sv_emulator::Emulator;

use crate::common::Ctx;

#[tokio::test]
async fn state_survives_restart_with_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let c = Ctx::with(Emulator::builder().data_dir(dir.path()).seed(1)).await;
    let ns = c
        .post(
            &format!("{}/storage/kv/namespaces", c.a()),
            json!({"title": "persist"}),
        )
        .await
        .result()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let kv = format!("{}/storage/kv/namespaces/{ns}/values/k", c.a());
    c.raw(Method::PUT, &kv, b"value-1".to_vec(), "text/plain")
        .await
        .result();
    let db = c
        .post(&format!("{}/d1/database", c.a()), json!({"name": "pdb"}))
        .await
        .result();
    let q = format!(
        "{}/d1/database/{}/query",
        c.a(),
        db["uuid"].as_str().unwrap()
    );
    c.post(
        &q,
        json!({"sql": "CREATE TABLE t (x); INSERT INTO t VALUES (42);"}),
    )
    .await
    .result();
    c.post(&format!("{}/r2/buckets", c.a()), json!({"name": "pbucket"}))
        .await
        .result();
    let obj = format!("{}/r2/buckets/pbucket/objects/a/b.txt", c.a());
    c.raw(Method::PUT, &obj, b"r2-bytes".to_vec(), "text/plain")
        .await
        .result();
    c.post(
        &format!("{}/dns_records", c.z()),
        json!({"type": "A", "name": "p", "content": "192.0.2.7", "ttl": 1}),
    )
    .await
    .result();
    let md = json!({"main_module": "index.js", "bindings": [{"type": "plain_text", "name": "SV_BODY", "text": "persisted worker"}, {"type": "secret_text", "name": "S", "text": "never-on-disk"}]});
    crate::workers::upload(&c, "pw", md).await.result();
    c.emu.shutdown().await;
    let db_file = dir
        .path()
        .join("d1")
        .join(format!("{}.sqlite", db["uuid"].as_str().unwrap()));
    assert!(db_file.exists(), "one SQLite file per D1 database");
    // Secret values are written nowhere.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let raw = std::fs::read(&path).unwrap();
            assert!(!raw.windows(13).any(|w| w == b"never-on-disk"), "{path:?}");
        }
    }

    let c = Ctx::with(Emulator::builder().data_dir(dir.path()).seed(2)).await;
    assert_eq!(c.get(&kv).await.text(), "value-1");
    let r = c.post(&q, json!({"sql": "SELECT x FROM t"})).await.result();
    assert_eq!(r[0]["results"][0]["x"], 42);
    assert_eq!(c.get(&obj).await.text(), "r2-bytes");
    let recs = c
        .get(&format!("{}/dns_records?name=p.example.com", c.z()))
        .await
        .json();
    assert_eq!(recs["result"][0]["content"], "192.0.2.7");
    let (status, _, body) = crate::workers::hit(&c, "pw.sv-emulator.workers.dev", "/", &[]).await;
    assert_eq!((status, body.as_str()), (200, "persisted worker"));
    assert_eq!(
        c.get(&format!("{}/workers/scripts/pw/content/v2", c.a()))
            .await
            .status,
        200
    );
    assert_eq!(
        c.get(&format!("{}/workers/scripts/pw/secrets", c.a()))
            .await
            .result()[0]["name"],
        "S"
    );
    c.emu.shutdown().await;
}

#[tokio::test]
async fn in_memory_state_is_not_shared() {
    let c = Ctx::new().await;
    c.post(
        &format!("{}/storage/kv/namespaces", c.a()),
        json!({"title": "only-here"}),
    )
    .await
    .result();
    c.emu.shutdown().await;
    let c = Ctx::new().await;
    let list = c
        .get(&format!("{}/storage/kv/namespaces", c.a()))
        .await
        .json();
    assert_eq!(list["result"], json!([]));
    c.emu.shutdown().await;
}

#[tokio::test]
async fn seeded_ids_are_reproducible() {
    let mk = || async {
        let c = Ctx::with(Emulator::builder().in_memory().seed(99)).await;
        let id = c
            .post(
                &format!("{}/storage/kv/namespaces", c.a()),
                json!({"title": "x"}),
            )
            .await
            .result()["id"]
            .clone();
        c.emu.shutdown().await;
        id
    };
    assert_eq!(mk().await, mk().await);
}

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
fn help_teaches() {
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
}
