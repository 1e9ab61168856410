use serde_json::json;
use sv_planner::{Action, Facts, Kind, PlanError, PlanOptions, RiskLevel};

use crate::*;

/// Live resources exactly as `app_desired` wants them, and a state that manages them.
fn converged() -> (Vec<sv_planner::Observed>, State) {
    let mut state = empty_state();
    state.serial = 7;
    let live = vec![
        observed(Kind::Kv, "kv1", "sessions", json!({"name": "sessions"})),
        observed(
            Kind::D1,
            "d11",
            "main",
            json!({"name": "main", "location": "weur", "version": "production"}),
        ),
        observed(
            Kind::R2,
            "uploads",
            "uploads",
            json!({"name": "uploads", "cors": [{"origins": ["https://spacevision.app"], "methods": ["GET", "PUT"]}]}),
        ),
        observed(
            Kind::Dns,
            "dns1",
            "api.spacevision.app",
            json!({"type": "CNAME", "content": "spacevision-api.workers.dev", "proxied": true, "ttl": 1}),
        ),
        observed(
            Kind::WorkerRoute,
            "route1",
            "api.spacevision.app/*",
            json!({"script": "spacevision-api"}),
        ),
    ];
    for d in app_desired() {
        let o = live.iter().find(|o| o.kind == d.address.kind).unwrap();
        let deps: Vec<String> = d.depends_on.iter().map(ToString::to_string).collect();
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        managed(
            &mut state,
            &d.address.to_string(),
            &o.id,
            &o.name,
            serde_json::Value::Object(d.attributes.clone().into_iter().collect()),
            &deps,
        );
    }
    (live, state)
}

#[test]
fn create_from_empty_orders_dependencies_in_waves() {
    let p = plan(&app_desired(), &[], &empty_state(), PlanOptions::default()).unwrap();
    assert_eq!(p.summary.create, 5);
    assert!(p.summary.has_changes());
    assert_eq!(
        p.waves,
        vec![
            vec![
                addr("kv.sessions"),
                addr("d1.main"),
                addr("r2.uploads"),
                addr("dns.api")
            ]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>(),
            vec![addr("route.api")],
        ]
    );
    assert!(p.risks.is_empty());
    assert!(p.drift.is_empty());
}

#[test]
fn second_plan_after_convergence_is_a_no_op() {
    let (live, state) = converged();
    let p = plan(&app_desired(), &live, &state, PlanOptions::default()).unwrap();
    assert!(!p.summary.has_changes(), "{:#?}", p.changes);
    assert_eq!(p.summary.no_op, 5);
    assert!(p.waves.is_empty());
    // Attributes the config does not state (ttl, version) never cause a diff.
    assert!(p.drift.is_empty());
}

#[test]
fn updates_in_place_and_replaces_on_immutable_change() {
    let (live, state) = converged();
    let mut want = app_desired();
    want[1].attributes.insert("location".into(), json!("enam"));
    want[2].attributes.insert(
        "cors".into(),
        json!([{"origins": ["*"], "methods": ["GET"]}]),
    );
    let p = plan(&want, &live, &state, PlanOptions::default()).unwrap();
    let d1 = p.change(&addr("d1.main")).unwrap();
    assert_eq!(d1.action, Action::Replace);
    assert_eq!(d1.changes.len(), 1);
    assert!(d1.changes[0].forces_replacement);
    assert_eq!(d1.changes[0].before, json!("weur"));
    let r2 = p.change(&addr("r2.uploads")).unwrap();
    assert_eq!(r2.action, Action::Update);
    assert!(!r2.changes[0].forces_replacement);
    assert_eq!(p.summary.replace, 1);
    assert_eq!(p.summary.update, 1);
    assert_eq!(p.max_risk(), Some(RiskLevel::DataLoss));
    assert!(p.risks[0].message.contains("deletes every table and row"));
}

#[test]
fn deletes_only_what_sv_manages() {
    let (mut live, mut state) = converged();
    managed(
        &mut state,
        "kv.cache",
        "kv2",
        "cache",
        json!({"name": "cache"}),
        &[],
    );
    live.push(observed(Kind::Kv, "kv2", "cache", json!({"name": "cache"})));
    live.push(observed(
        Kind::Kv,
        "kv3",
        "someone-elses",
        json!({"name": "someone-elses"}),
    ));
    let p = plan(&app_desired(), &live, &state, PlanOptions::default()).unwrap();
    assert_eq!(p.summary.delete, 1);
    assert_eq!(p.change(&addr("kv.cache")).unwrap().action, Action::Delete);
    assert!(p.changes.iter().all(|c| c.name != "someone-elses"));
}

#[test]
fn protection_refuses_data_loss_unless_overridden() {
    let (mut live, mut state) = converged();
    managed(
        &mut state,
        "d1.old",
        "d12",
        "old",
        json!({"name": "old"}),
        &[],
    );
    live.push(observed(Kind::D1, "d12", "old", json!({"name": "old"})));
    let protect = PlanOptions {
        protect: true,
        ..PlanOptions::default()
    };
    let err = plan(&app_desired(), &live, &state, protect).unwrap_err();
    assert_eq!(
        err.to_string(),
        "d1.old would be deleted, but the environment is protected (protect: true) and it holds \
         data; remove the protection in sv.yaml first, or pass --allow-data-loss if this is really intended"
    );
    let allowed = PlanOptions {
        protect: true,
        allow_data_loss: true,
        ..PlanOptions::default()
    };
    assert_eq!(
        plan(&app_desired(), &live, &state, allowed)
            .unwrap()
            .summary
            .delete,
        1
    );

    let mut want = app_desired();
    want[1].prevent_destroy = true;
    want[1].attributes.insert("location".into(), json!("apac"));
    let (live, state) = converged();
    let err = plan(&want, &live, &state, PlanOptions::default()).unwrap_err();
    assert!(matches!(err, PlanError::Protected { why, .. } if why.contains("prevent_destroy")));
}

#[test]
fn drift_is_reported_and_deleted_resources_are_recreated() {
    let (mut live, state) = converged();
    // Someone turned the proxy off in the dashboard and deleted the KV namespace.
    live.retain(|o| o.kind != Kind::Kv);
    let dns = live.iter_mut().find(|o| o.kind == Kind::Dns).unwrap();
    dns.attributes.insert("proxied".into(), json!(false));
    let p = plan(&app_desired(), &live, &state, PlanOptions::default()).unwrap();
    assert_eq!(p.drift.len(), 2);
    assert!(
        p.drift
            .iter()
            .any(|d| d.address == addr("kv.sessions") && d.deleted)
    );
    assert!(
        p.drift
            .iter()
            .any(|d| d.address == addr("dns.api") && d.changes[0].name == "proxied")
    );
    // Was what sv applied, now what is live.
    let dns = p
        .drift
        .iter()
        .find(|d| d.address == addr("dns.api"))
        .unwrap();
    assert_eq!(
        (&dns.changes[0].before, &dns.changes[0].after),
        (&json!(true), &json!(false))
    );
    assert_eq!(
        p.change(&addr("kv.sessions")).unwrap().action,
        Action::Create
    );
    assert_eq!(p.change(&addr("dns.api")).unwrap().action, Action::Update);
}

#[test]
fn risks_name_cloudflare_consequences() {
    let (mut live, mut state) = converged();
    managed(
        &mut state,
        "r2.media",
        "media",
        "media",
        json!({"name": "media"}),
        &[],
    );
    let mut media = observed(Kind::R2, "media", "media", json!({"name": "media"}));
    media.facts = Facts {
        item_count: Some(42),
        bound_by: vec!["spacevision-api".into()],
    };
    live.push(media);
    let mut want = app_desired();
    want[3].attributes.insert("proxied".into(), json!(false));
    let p = plan(&want, &live, &state, PlanOptions::default()).unwrap();
    let messages: Vec<&str> = p.risks.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "Deleting R2 bucket `media` deletes its 42 object(s).",
            "Deployed Worker `spacevision-api` binds this R2 bucket; it will fail at runtime until redeployed without the binding.",
            "DNS record `api.spacevision.app` goes from proxied to DNS-only: the origin address becomes public.",
        ]
    );
}

#[test]
fn unmanaged_resource_with_the_same_name_is_not_adopted_silently() {
    let live = vec![observed(
        Kind::Kv,
        "abc",
        "sessions",
        json!({"name": "sessions"}),
    )];
    let p = plan(
        &app_desired()[..1],
        &live,
        &empty_state(),
        PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(p.summary.create, 1);
    assert_eq!(p.notes.len(), 1);
    assert!(
        p.notes[0].contains("sv-plan import kv.sessions abc"),
        "{}",
        p.notes[0]
    );
}

#[test]
fn cycles_and_unknown_dependencies_are_errors() {
    let want = vec![
        desired("kv.a", "a", json!({}), &["kv.b"]),
        desired("kv.b", "b", json!({}), &["kv.c"]),
        desired("kv.c", "c", json!({}), &["kv.a"]),
    ];
    let err = plan(&want, &[], &empty_state(), PlanOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dependency cycle: kv.a -> kv.b -> kv.c -> kv.a"
    );
    let want = vec![desired("kv.a", "a", json!({}), &["d1.nope"])];
    let err = plan(&want, &[], &empty_state(), PlanOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kv.a depends on d1.nope, which is not declared"
    );
    let dup = vec![
        desired("kv.a", "a", json!({}), &[]),
        desired("kv.a", "b", json!({}), &[]),
    ];
    assert_eq!(
        plan(&dup, &[], &empty_state(), PlanOptions::default())
            .unwrap_err()
            .to_string(),
        "kv.a is declared twice"
    );
}

#[test]
fn deletes_run_dependents_first() {
    let mut state = empty_state();
    let live = vec![
        observed(Kind::Dns, "d", "api", json!({})),
        observed(Kind::WorkerRoute, "r", "api/*", json!({})),
    ];
    managed(&mut state, "dns.api", "d", "api", json!({}), &[]);
    managed(
        &mut state,
        "route.api",
        "r",
        "api/*",
        json!({}),
        &["dns.api"],
    );
    let p = plan(&[], &live, &state, PlanOptions::default()).unwrap();
    assert_eq!(
        p.waves,
        vec![vec![addr("route.api")], vec![addr("dns.api")]]
    );
}

#[test]
fn destroy_plans_every_managed_resource() {
    let (live, state) = converged();
    let opts = PlanOptions {
        destroy: true,
        ..PlanOptions::default()
    };
    let p = plan(&app_desired(), &live, &state, opts).unwrap();
    assert_eq!(p.summary.delete, 5);
    assert!(p.destroy);
    assert_eq!(p.waves.first().unwrap(), &vec![addr("route.api")]);
}

#[test]
fn targets_keep_dependencies() {
    let opts = PlanOptions {
        targets: vec![addr("route.api")],
        ..PlanOptions::default()
    };
    let p = plan(&app_desired(), &[], &empty_state(), opts).unwrap();
    assert_eq!(p.summary.create, 5);
    let opts = PlanOptions {
        targets: vec![addr("kv.sessions")],
        ..PlanOptions::default()
    };
    let p = plan(&app_desired(), &[], &empty_state(), opts).unwrap();
    assert_eq!(p.summary.create, 1);
    let opts = PlanOptions {
        targets: vec![addr("kv.nope")],
        ..PlanOptions::default()
    };
    assert_eq!(
        plan(&app_desired(), &[], &empty_state(), opts)
            .unwrap_err()
            .to_string(),
        "--target kv.nope matches no resource in the config or state"
    );
}

#[test]
fn stale_plans_are_refused_with_reasons() {
    let (live, state) = converged();
    let saved = plan(&app_desired(), &live, &state, PlanOptions::default()).unwrap();
    let same = plan(&app_desired(), &live, &state, PlanOptions::default()).unwrap();
    assert!(saved.check_fresh(&same).is_ok());

    let mut moved = state.clone();
    moved.serial += 1;
    let mut changed_live = live.clone();
    changed_live[0]
        .attributes
        .insert("name".into(), json!("renamed"));
    let now = plan(
        &app_desired(),
        &changed_live,
        &moved,
        PlanOptions::default(),
    )
    .unwrap();
    let err = saved.check_fresh(&now).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the saved plan is stale: the state moved from serial 7 to 8 (another apply ran); live \
         resources changed since it was made; run `sv-plan plan` again and review the new plan"
    );
}

#[test]
fn plan_json_round_trips() {
    let p = plan(&app_desired(), &[], &empty_state(), PlanOptions::default()).unwrap();
    let text = serde_json::to_string(&p).unwrap();
    let back: sv_planner::Plan = serde_json::from_str(&text).unwrap();
    assert_eq!(back, p);
}

#[test]
fn removing_a_pages_custom_domain_is_a_warning() {
    let mut state = empty_state();
    managed(
        &mut state,
        "pages.web",
        "web",
        "web",
        json!({"name": "web", "production_branch": "main", "custom_domains": ["a.example.com", "b.example.com"]}),
        &[],
    );
    let live = [observed(
        Kind::Pages,
        "web",
        "web",
        json!({"name": "web", "production_branch": "main", "custom_domains": ["a.example.com", "b.example.com"]}),
    )];
    let want = [desired(
        "pages.web",
        "web",
        json!({"name": "web", "production_branch": "main", "custom_domains": ["b.example.com", "c.example.com"]}),
        &[],
    )];
    let p = plan(&want, &live, &state, PlanOptions::default()).unwrap();
    assert_eq!(p.change(&addr("pages.web")).unwrap().action, Action::Update);
    let messages: Vec<(RiskLevel, &str)> = p
        .risks
        .iter()
        .map(|r| (r.level, r.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        [(
            RiskLevel::Warning,
            "Removing custom domain `a.example.com` from Pages project `web`: the site stops answering on that host."
        )]
    );
    // Only adding one is no risk.
    let want = [desired(
        "pages.web",
        "web",
        json!({"name": "web", "production_branch": "main", "custom_domains": ["a.example.com", "b.example.com", "c.example.com"]}),
        &[],
    )];
    let p = plan(&want, &live, &state, PlanOptions::default()).unwrap();
    assert_eq!(p.summary.update, 1);
    assert!(p.risks.is_empty(), "{:?}", p.risks);
}
