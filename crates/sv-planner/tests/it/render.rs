use serde_json::json;
use sv_planner::{Facts, Kind, PlanOptions, Render, Styles};

use crate::*;

fn mixed_plan() -> sv_planner::Plan {
    let mut state = empty_state();
    state.serial = 3;
    managed(
        &mut state,
        "d1.main",
        "d11",
        "main",
        json!({"name": "main", "location": "weur"}),
        &[],
    );
    managed(
        &mut state,
        "kv.cache",
        "kv2",
        "cache",
        json!({"name": "cache"}),
        &[],
    );
    managed(
        &mut state,
        "dns.api",
        "dns1",
        "api.spacevision.app",
        json!({"type": "CNAME", "proxied": true}),
        &[],
    );
    let mut cache = observed(Kind::Kv, "kv2", "cache", json!({"name": "cache"}));
    cache.facts = Facts {
        item_count: Some(12),
        bound_by: vec![],
    };
    let live = vec![
        observed(
            Kind::D1,
            "d11",
            "main",
            json!({"name": "main", "location": "weur"}),
        ),
        cache,
        observed(
            Kind::Dns,
            "dns1",
            "api.spacevision.app",
            json!({"type": "CNAME", "proxied": true}),
        ),
    ];
    let mut want = vec![
        desired("kv.sessions", "sessions", json!({"name": "sessions"}), &[]),
        desired(
            "d1.main",
            "main",
            json!({"name": "main", "location": "enam"}),
            &[],
        ),
        desired(
            "dns.api",
            "api.spacevision.app",
            json!({"type": "CNAME", "proxied": false}),
            &[],
        ),
        desired(
            "route.api",
            "api.spacevision.app/*",
            json!({"script": "spacevision-api", "token": "sha256:aa"}),
            &["kv.sessions", "d1.main"],
        ),
    ];
    want[3].sensitive.insert("token".into());
    plan(&want, &live, &state, PlanOptions::default()).unwrap()
}

#[test]
fn human_text() {
    insta::assert_snapshot!(mixed_plan().human(&Styles::plain()));
}

#[test]
fn markdown_comment() {
    insta::assert_snapshot!(mixed_plan().markdown());
}

#[test]
fn json_is_stable() {
    insta::assert_json_snapshot!(mixed_plan());
}

#[test]
fn empty_plan_renders_no_changes() {
    let p = plan(&[], &[], &empty_state(), PlanOptions::default()).unwrap();
    insta::assert_snapshot!("empty_human", p.human(&Styles::plain()));
    insta::assert_snapshot!("empty_markdown", p.markdown());
}

#[test]
fn hostile_names_cannot_break_markdown() {
    let want = vec![desired(
        "kv.evil",
        "x|y`</details>*_[a](javascript:1)```",
        json!({"name": "x|y`</details>*_[a](javascript:1)```"}),
        &[],
    )];
    let md = plan(&want, &[], &empty_state(), PlanOptions::default())
        .unwrap()
        .markdown();
    // Outside code fences (where GitHub renders nothing), only our own <details> blocks
    // open and close, and no link from the name survives.
    let outside = outside_code_fences(&md);
    assert_eq!(outside.matches("<details>").count(), 1);
    assert_eq!(outside.matches("</details>").count(), 1);
    assert!(!outside.contains("[a](javascript"));
    insta::assert_snapshot!(md);
}

#[test]
fn secrets_never_render() {
    let p = mixed_plan();
    for text in [p.human(&Styles::plain()), p.markdown()] {
        assert!(!text.contains("sha256:aa"), "{text}");
        assert!(text.contains("(sensitive)"));
    }
}

/// The Markdown with fenced code blocks removed (fences of 3+ backticks, matched by length).
fn outside_code_fences(md: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<usize> = None;
    for line in md.lines() {
        let ticks = line.chars().take_while(|c| *c == '`').count();
        match fence {
            None if ticks >= 3 => fence = Some(ticks),
            Some(n) if ticks >= n && line.trim_end().len() == ticks => fence = None,
            None => {
                out.push_str(line);
                out.push('\n');
            }
            Some(_) => {}
        }
    }
    out
}
