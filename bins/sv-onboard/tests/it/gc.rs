//! `gc`: stale developer and preview resources listed, and deleted with --yes.

use sv_test::EmulatorProcess;

use crate::{App, live_names, onboard, run, scrub};

fn admin_clock(emu: &EmulatorProcess, secs: i64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/__admin/clock", emu.base_url()))
            .json(&serde_json::json!({"advance_secs": secs}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    });
}

fn create(emu: &EmulatorProcess, kv: &[&str], d1: &[&str]) {
    sv_cloudflare::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = sv_cloudflare::ClientConfig::new(
            sv_cloudflare::parse_base_url(&emu.cloudflare_api_url()).unwrap(),
            sv_cloudflare::SecretString::from(emu.token().to_owned()),
            Some(emu.account_id().to_owned()),
        );
        let client = sv_cloudflare::Client::builder_from_config(&config)
            .build()
            .unwrap();
        for k in kv {
            client.kv().create_namespace(k).await.unwrap();
        }
        for d in d1 {
            client
                .d1()
                .create(&sv_cloudflare::d1::CreateDatabase {
                    name: (*d).to_owned(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    });
}

#[test]
fn gc_lists_then_deletes_only_stale_environments() {
    sv_cloudflare::install_crypto_provider();
    let emu = EmulatorProcess::start().unwrap();
    let alice = App::new();
    let bob = App::new();
    for (app, name) in [(&alice, "alice"), (&bob, "bob")] {
        let out = run(onboard(&app.root, &emu), &["setup", "--developer", name]);
        assert_eq!(out.code, 0, "{}", out.transcript());
    }
    // A preview made 30 days ago, one made now (KV has no creation time), and a staging
    // database that gc must never consider.
    admin_clock(&emu, -30 * 86_400);
    create(&emu, &[], &["pr-7-main"]);
    admin_clock(&emu, 30 * 86_400);
    create(&emu, &["pr-8-sessions", "staging-sessions"], &["pr-8-main"]);
    let before = live_names(&emu);

    let list = run(onboard(&alice.root, &emu), &["gc"]);
    assert_eq!(list.code, 0, "{}", list.transcript());
    insta::assert_snapshot!("gc_list", scrub(&list.transcript(), &alice.root));
    assert_eq!(
        live_names(&emu),
        before,
        "gc without --yes deleted something"
    );

    // From alice's checkout bob has no record: his resources are collected, as is pr-7.
    let out = run(onboard(&alice.root, &emu), &["gc", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let after = live_names(&emu);
    assert!(after.iter().all(|n| !n.contains("dev-bob-")), "{after:?}");
    assert!(!after.contains(&"d1:pr-7-main".to_owned()), "{after:?}");
    for keep in [
        "d1:pr-8-main",
        "kv:pr-8-sessions",
        "kv:staging-sessions",
        "d1:dev-alice-main",
    ] {
        assert!(
            after.contains(&keep.to_owned()),
            "{keep} deleted: {after:?}"
        );
    }

    // alice's record ages past stale_after (14d): her resources go, through her state.
    let rec = alice.read(".sv/dev/alice.json");
    let v: serde_json::Value = serde_json::from_str(&rec).unwrap();
    let aged = rec.replace(v["updated_at"].as_str().unwrap(), "2026-01-01T00:00:00Z");
    alice.write(".sv/dev/alice.json", &aged);
    let out = run(onboard(&alice.root, &emu), &["gc", "--yes"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(out.stdout.contains("deleted (state)"), "{}", out.stdout);
    assert!(live_names(&emu).iter().all(|n| !n.contains("dev-alice-")));
    let state: serde_json::Value =
        serde_json::from_str(&alice.read(".sv/state/dev-alice.json")).unwrap();
    assert_eq!(state["resources"], serde_json::json!({}));
    assert!(alice.read(".sv/audit.jsonl").contains("onboard.gc"));
}
