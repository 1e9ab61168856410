//! `sv-plan generate`: resources made outside sv (straight through the API) become an
//! sv.yaml section and import commands; after them the plan shows no changes.

use serde_json::json;
use sv_cloudflare::d1::CreateDatabase;
use sv_cloudflare::dns::DnsRecordInput;
use sv_cloudflare::pages::CreateProject;
use sv_cloudflare::r2::{
    CorsAllowed, CorsConfig, CorsRule, CreateBucket, LifecycleConfig, LifecycleRule,
};
use sv_cloudflare::workers::AttachDomain;

use crate::App;

const ZONE: &str = "spacevision.app";

fn record(
    kind: &str,
    name: &str,
    content: &str,
    ttl: u32,
    proxied: Option<bool>,
) -> DnsRecordInput {
    DnsRecordInput {
        record_type: kind.into(),
        name: name.into(),
        content: content.into(),
        ttl,
        proxied,
        comment: None,
        tags: Vec::new(),
        priority: None,
        data: None,
    }
}

/// What someone clicked together in the dashboard before adopting sv.
fn create_by_hand(app: &App) {
    let client = app.client();
    app.deploy_worker();
    app.block_on(async {
        let zone = sv_infra::inventory::zone_id(&client, ZONE).await.unwrap();
        for title in ["sessions", "cache", "staging-sessions"] {
            client.kv().create_namespace(title).await.unwrap();
        }
        client
            .d1()
            .create(&CreateDatabase {
                name: "main".into(),
                primary_location_hint: Some("weur".into()),
                ..CreateDatabase::default()
            })
            .await
            .unwrap();
        client
            .r2()
            .create_bucket(&CreateBucket {
                name: "uploads".into(),
                location_hint: Some("weur".into()),
                ..CreateBucket::default()
            })
            .await
            .unwrap();
        let cors = CorsConfig {
            rules: vec![CorsRule {
                allowed: CorsAllowed {
                    origins: vec![format!("https://{ZONE}")],
                    methods: vec!["GET".into(), "PUT".into()],
                    headers: vec!["content-type".into()],
                },
                max_age_seconds: Some(3600),
                ..CorsRule::default()
            }],
        };
        client.r2().put_cors("uploads", None, &cors).await.unwrap();
        let lifecycle = LifecycleConfig {
            rules: vec![LifecycleRule {
                id: "tmp".into(),
                enabled: true,
                conditions: json!({"prefix": "tmp/"}),
                transitions: json!({
                    "deleteObjectsTransition": {"condition": {"type": "Age", "maxAge": 7 * 86_400}}
                })
                .as_object()
                .unwrap()
                .clone(),
            }],
        };
        client
            .r2()
            .put_lifecycle("uploads", None, &lifecycle)
            .await
            .unwrap();
        for r in [
            record("CNAME", "api", "spacevision-api.workers.dev", 1, Some(true)),
            record("A", "@", "192.0.2.10", 1, Some(true)),
            record("TXT", "@", "v=spf1 -all", 3600, None),
            record("TXT", "@", "google-site-verification=abc", 3600, None),
        ] {
            client.dns().create(&zone, &r).await.unwrap();
        }
        client
            .pages()
            .create_project(&CreateProject {
                name: "spacevision-web".into(),
                production_branch: "main".into(),
                extra: serde_json::Map::new(),
            })
            .await
            .unwrap();
        for domain in [format!("www.{ZONE}"), "shop.example.org".to_owned()] {
            client
                .pages()
                .add_domain("spacevision-web", &domain)
                .await
                .unwrap();
        }
        client
            .workers()
            .create_route(&zone, &format!("api.{ZONE}/*"), Some("spacevision-api"))
            .await
            .unwrap();
        client
            .workers()
            .attach_domain(&AttachDomain {
                hostname: format!("images.{ZONE}"),
                service: "spacevision-api".into(),
                environment: "production".into(),
                zone_id: zone.clone(),
            })
            .await
            .unwrap();
    });
}

/// sv.yaml with its `resources:` section replaced by `section`.
fn replace_resources(app: &App, section: &str) {
    let path = app.path("sv.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("\nresources:\n").unwrap() + 1;
    let end = text.find("\ndeploy:\n").unwrap() + 1;
    let new = format!("{}{section}\n{}", &text[..start], &text[end..]);
    std::fs::write(&path, new).unwrap();
}

#[test]
fn generate_then_import_then_plan_shows_no_changes() {
    let app = App::new();
    create_by_hand(&app);

    let (code, out, err) = app.run(&["generate", "--format", "json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let imports = report["imports"].as_array().unwrap();
    let addresses: Vec<&str> = imports
        .iter()
        .map(|i| i["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        [
            "kv.cache",
            "kv.sessions",
            "d1.main",
            "r2.uploads",
            "dns.A.@",
            "dns.CNAME.api",
            "dns.TXT.@",
            "dns.TXT.@.2",
            "pages.spacevision-web",
            "route.api.spacevision.app/*",
            "domain.images.spacevision.app",
        ],
        "{out}"
    );
    // staging's namespace belongs to staging.
    assert!(!out.contains("staging-sessions"), "{out}");

    let (code, out, err) = app.run(&["generate", "--out", "generated.yaml"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Wrote 11 resource(s) of `production` to generated.yaml"),
        "{out}"
    );
    let section = std::fs::read_to_string(app.path("generated.yaml")).unwrap();
    assert!(
        section.contains("#   sv-plan --env production import dns.A.@ "),
        "{section}"
    );
    assert!(section.contains("max_age: 1h"), "{section}");
    assert!(section.contains("pattern: api.${zone}/*"), "{section}");
    assert!(section.contains("expire_days: 7"), "{section}");
    // Pages custom domains: in the zone by variable, elsewhere as they are.
    assert!(section.contains("- www.${zone}"), "{section}");
    assert!(section.contains("- shop.example.org"), "{section}");
    let mut settings = insta::Settings::clone_current();
    for (from, to) in crate::filters() {
        settings.add_filter(from, to);
    }
    settings.bind(|| insta::assert_snapshot!("generated_section", section));
    replace_resources(&app, &section);

    // Before the imports the plan wants to create everything (and says how to adopt it).
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("Plan: 11 to create"), "{out}\n{err}");
    for i in imports {
        let (address, id) = (i["address"].as_str().unwrap(), i["id"].as_str().unwrap());
        let (code, out, err) = app.run(&["import", address, id]);
        assert_eq!(code, 0, "import {address} {id}: {out}\n{err}");
    }
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("No changes: `production` matches sv.yaml (11 unchanged)"),
        "{out}"
    );
}

#[test]
fn generate_output_human() {
    let app = App::new();
    let client = app.client();
    app.block_on(client.kv().create_namespace("sessions"))
        .unwrap();
    let (code, out, err) = app.run(&["generate", "--kind", "kv"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let mut settings = insta::Settings::clone_current();
    for (from, to) in crate::filters() {
        settings.add_filter(from, to);
    }
    settings.bind(|| insta::assert_snapshot!("generate_human", out));
}
