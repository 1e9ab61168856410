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
    let tails = format!("{}/workers/scripts/pw/tails", c.a());
    let tail = c.post(&tails, json!({"filters": []})).await.result();
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
    // Time-travel history is not persisted: it starts again at the current state, which a
    // restore to the current bookmark keeps.
    let tt = format!(
        "{}/d1/database/{}/time_travel",
        c.a(),
        db["uuid"].as_str().unwrap()
    );
    let bm = c.get(&format!("{tt}/bookmark")).await.result()["bookmark"].clone();
    assert!(bm.is_string(), "{bm}");
    c.post(
        &format!("{tt}/restore?bookmark={}", bm.as_str().unwrap()),
        json!({}),
    )
    .await
    .result();
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
    // The active tail survived too, and still streams.
    let listed = c.get(&tails).await.result();
    assert_eq!(listed["id"], tail["id"]);
    let mut ws = crate::tail::connect(listed["url"].as_str().unwrap()).await;
    crate::workers::hit(&c, "pw.sv-emulator.workers.dev", "/", &[]).await;
    assert_eq!(crate::tail::next_event(&mut ws).await["scriptName"], "pw");
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
