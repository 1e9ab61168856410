//! The health verdict as the sticky PR comment, against the emulator's GitHub API:
//! created once, then updated in place, never duplicated.

use crate::common::{GitHubServer, app, filters, github_server, http_server, sv_health};

const MARKER: &str = "<!-- sv:health:production -->";

/// Bodies of every comment in the emulator's state carrying `marker`, with the number they
/// were left on when the state says.
fn marked_comments(gh: &GitHubServer, marker: &str) -> Vec<String> {
    fn walk(v: &serde_json::Value, marker: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(body) = map.get("body").and_then(|b| b.as_str())
                    && body.contains(marker)
                {
                    out.push(body.to_owned());
                }
                for v in map.values() {
                    walk(v, marker, out);
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    walk(v, marker, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&gh.snapshot(), marker, &mut out);
    out
}

fn yaml(base: &str) -> String {
    format!("  checks:\n    - {{ name: api, http: \"{base}/switch\" }}\n")
}

#[test]
fn comment_pr_is_created_then_updated_never_duplicated() {
    let http = http_server();
    let gh = github_server();
    let (_tmp, root) = app(&yaml(&http.base));
    let run = || {
        let out = sv_health(&root)
            .env("GITHUB_TOKEN", &gh.token)
            .env("GITHUB_REPOSITORY", "acme/spacevision")
            .env("GITHUB_API_URL", &gh.api_url)
            .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
            .args([
                "check",
                "--env",
                "production",
                "--comment-pr",
                "7",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), json)
    };
    http.set_healthy(false);
    let (code, json) = run();
    assert_eq!(code, Some(1), "the verdict decides the exit code");
    assert_eq!(json["pr_comment"]["pr"], 7);
    assert_eq!(json["pr_comment"]["action"], "created", "{json}");
    let first = marked_comments(&gh, MARKER);
    assert_eq!(first.len(), 1);
    assert!(first[0].contains("Health: unhealthy"), "{}", first[0]);

    http.set_healthy(true);
    let (code, json) = run();
    assert_eq!(code, Some(0));
    assert_eq!(json["pr_comment"]["action"], "updated", "{json}");
    let (code, json) = run();
    assert_eq!(code, Some(0));
    assert_eq!(json["pr_comment"]["action"], "updated", "{json}");
    let comments = marked_comments(&gh, MARKER);
    assert_eq!(comments.len(), 1, "one sticky comment: {comments:#?}");
    let body = &comments[0];
    assert!(body.starts_with(MARKER), "{body}");
    assert!(body.contains("Health: healthy"), "{body}");

    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d+ / \d+ / \d+ ms", "[P50 / P95 / P99]");
    settings.add_filter(r"x-axis \[[^\]]*\]", "x-axis [HOURS]");
    settings.add_filter(r"line \[[^\]]*\]", "line [MEDIANS]");
    settings.add_filter(r#""ms" 0 --> \d+"#, r#""ms" 0 --> [TOP]"#);
    settings.add_filter(r"\d+(\.\d+)?%", "[PCT]");
    settings.add_filter(r"every \d+s \(median\), longest interval \d+s", "[CADENCE]");
    for (from, to) in filters() {
        settings.add_filter(from, to);
    }
    let _guard = settings.bind_to_scope();
    insta::assert_snapshot!("pr_comment", body);
}

#[test]
fn comment_pr_without_credentials_is_refused_up_front() {
    let http = http_server();
    let (_tmp, root) = app(&yaml(&http.base));
    let out = sv_health(&root)
        .args(["check", "--env", "production", "--comment-pr", "7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--comment-pr 7 needs GITHUB_TOKEN and GITHUB_REPOSITORY"),
        "{stderr}"
    );
    assert!(
        !root.join(".sv/health/production.history").exists(),
        "no check ran"
    );
}

#[test]
fn pull_request_runs_comment_automatically_unless_told_not_to() {
    let http = http_server();
    let gh = github_server();
    let (_tmp, root) = app(&yaml(&http.base));
    let event = root.join("event.json");
    std::fs::write(
        &event,
        r#"{"action":"synchronize","number":9,"pull_request":{"number":9}}"#,
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = sv_health(&root)
            .env("GITHUB_TOKEN", &gh.token)
            .env("GITHUB_REPOSITORY", "acme/spacevision")
            .env("GITHUB_API_URL", &gh.api_url)
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &event)
            .args(["check", "--env", "production", "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let json = run(&["--no-comment"]);
    assert!(json.get("pr_comment").is_none(), "{json}");
    assert!(marked_comments(&gh, MARKER).is_empty());
    let json = run(&["--dry-run"]);
    assert!(json.get("pr_comment").is_none(), "{json}");
    assert!(
        json["warnings"]
            .to_string()
            .contains("dry run: PR comment on #9 not posted"),
        "{json}"
    );
    assert!(marked_comments(&gh, MARKER).is_empty());
    let json = run(&[]);
    assert_eq!(json["pr_comment"]["pr"], 9);
    assert_eq!(json["pr_comment"]["action"], "created");
    assert_eq!(marked_comments(&gh, MARKER).len(), 1);
}
