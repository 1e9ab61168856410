//! workflows/preview.yml, as users copy it, under act against sv-emulator: a pull request
//! opened (resources, deployed Worker answering, sticky comment), then closed (resources
//! gone, comment updated).

use std::io::{Read as _, Write as _};
use std::path::Path;

use sv_test::ActRun;

use crate::preview::{PreviewApp, prefixed};

const HOST: &str = "pr-7-spacevision-api.sv-emulator.workers.dev";

fn event(action: &str) -> String {
    serde_json::json!({
        "action": action,
        "number": 7,
        "pull_request": {
            "number": 7,
            "state": if action == "closed" { "closed" } else { "open" },
            "head": { "ref": "feature", "sha": "0123abc", "repo": { "full_name": "acme/spacevision" } },
            "base": { "ref": "main", "repo": { "full_name": "acme/spacevision" } }
        },
        "repository": {
            "full_name": "acme/spacevision",
            "name": "spacevision",
            "owner": { "login": "acme" }
        }
    })
    .to_string()
}

/// `GET path` on the emulator with the preview Worker's Host: (status line, body).
fn get(addr: &str, path: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn run(app: &PreviewApp, repo: &Path, action: &str) -> sv_test::ActOutcome {
    let base = app.emu.base_url().to_owned();
    ActRun::new(app.path(".github/workflows/preview.yml"))
        .source_dir(app.dir.path())
        .event("pull_request")
        .event_json(event(action))
        .local_repository("sv-toolkit/sv@v0", repo)
        .secret("CLOUDFLARE_API_TOKEN", app.emu.token())
        .secret("GITHUB_TOKEN", app.emu.token())
        .var("CLOUDFLARE_ACCOUNT_ID", app.emu.account_id())
        .env("CLOUDFLARE_API_BASE_URL", app.emu.cloudflare_api_url())
        .env("GITHUB_API_URL", app.emu.github_api_url())
        .env("GITHUB_REPOSITORY", "acme/spacevision")
        // TEST WIRING: the gate reaches the preview's Worker at its workers.dev host over
        // plain HTTP through the emulator (which answers Worker traffic by Host).
        .env("SV_DEPLOY_WORKER_URL", format!("http://{HOST}"))
        .env("HTTP_PROXY", base.clone())
        .env("http_proxy", base)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .run()
        .expect("act runs")
}

#[test]
fn preview_workflow_opened_then_closed() {
    if sv_test::act::skip_requested() {
        eprintln!("skipped: SV_SKIP_ACT=1");
        return;
    }
    let app = PreviewApp::new();
    // The emulated Worker runs no JavaScript: a plain-text binding declares its answers
    // (staging's wrangler section, which previews derive from).
    let wrangler = app.path("worker/wrangler.toml");
    let text = std::fs::read_to_string(&wrangler).unwrap();
    let text = text.replace(
        "[env.staging.vars]\n",
        "[env.staging.vars]\nSV_RESPONSE = '{\"status\":200,\"body\":\"{\\\"ok\\\":true}\"}'\n",
    );
    std::fs::write(&wrangler, text).unwrap();
    std::fs::create_dir_all(app.path(".github/workflows")).unwrap();
    std::fs::copy(
        sv_test::paths::workspace_root().join("workflows/preview.yml"),
        app.path(".github/workflows/preview.yml"),
    )
    .unwrap();
    let repo = tempfile::tempdir().unwrap();
    let bin_dir = sv_test::paths::cargo_bin("sv-onboard")
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    sv_test::act::sv_repository(repo.path(), &bin_dir).unwrap();
    let comments = || {
        app.block_on(async {
            sv_github::GitHub::new(
                app.emu.github_api_url().parse().unwrap(),
                app.emu.token().to_owned().into(),
                sv_github::RepoRef::parse("acme/spacevision").unwrap(),
            )
            .unwrap()
            .list_issue_comments(7)
            .await
            .unwrap()
        })
    };

    let opened = run(&app, repo.path(), "opened");
    opened.assert_success();
    let names = prefixed(&app.names(), "pr-7-");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        [
            "pr-7-cache",
            "pr-7-main",
            "pr-7-sessions",
            "pr-7-spacevision-api",
            "pr-7-uploads"
        ]
    );
    let addr = app.emu.base_url().trim_start_matches("http://").to_owned();
    let (status, body) = get(&addr, "/health");
    assert!(status.contains(" 200 "), "{status}\n{body}");
    assert!(body.contains("\"ok\":true"), "{body}");
    let first = comments();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        first[0]
            .body
            .contains("https://pr-7-spacevision-api.sv-emulator.workers.dev/"),
        "{}",
        first[0].body
    );
    assert!(first[0].body.contains("version `"), "{}", first[0].body);

    // A push: same preview, same comment.
    let pushed = run(&app, repo.path(), "synchronize");
    pushed.assert_success();
    assert_eq!(comments().len(), 1);

    let closed = run(&app, repo.path(), "closed");
    closed.assert_success();
    assert!(
        prefixed(&app.names(), "pr-7-").is_empty(),
        "{:?}",
        app.names()
    );
    let after = comments();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].id, first[0].id, "the comment is updated in place");
    assert!(after[0].body.contains("is gone"), "{}", after[0].body);
}
