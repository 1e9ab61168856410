//! KV is backed up in the fewest API requests: one namespace lookup, one list per 1,000
//! keys, one bulk read per 100 keys (text values).

use crate::create::keygen;

#[test]
fn kv_backup_request_count_is_minimal() {
    let emu = sv_test::EmulatorProcess::start().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sv_cloudflare::install_crypto_provider();
        let client = emu.client().unwrap();
        let ns = client.kv().create_namespace("staging-cache").await.unwrap();
        let pairs: Vec<sv_cloudflare::kv::KvBulkPair> = (0..2_500)
            .map(|i| sv_cloudflare::kv::KvBulkPair {
                key: format!("key-{i:05}"),
                value: format!("value {i}"),
                expiration: None,
                expiration_ttl: None,
                metadata: None,
                base64: false,
            })
            .collect();
        client.kv().bulk_write(&ns.id, &pairs).await.unwrap();
    });
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    sv_test::example::copy_to(&app).unwrap();
    let yaml = std::fs::read_to_string(app.join("sv.yaml")).unwrap();
    let yaml = yaml.replace(
        "include: [d1.main, kv.sessions, r2.uploads, dns, workers, state]",
        "include: [kv.cache]",
    );
    assert!(yaml.contains("include: [kv.cache]"));
    std::fs::write(app.join("sv.yaml"), yaml).unwrap();
    let recipient = keygen(&tmp.path().join("key.txt"));
    let out = crate::create::sv_backup(&app, &emu)
        .args([
            "--env",
            "staging",
            "--format",
            "json",
            "create",
            "--recipient",
        ])
        .arg(&recipient)
        .arg("--out")
        .arg(tmp.path().join("backups"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["archive"]["resources"]["kv.cache"]["items"], 2_500,
        "{report:#}"
    );
    // 1 namespace lookup + 3 list pages + 25 bulk reads.
    assert_eq!(report["api_requests"]["kv.cache"], 1 + 3 + 25, "{report:#}");
}
