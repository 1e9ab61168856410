//! Sticky plan comments and the drift issue, against the GitHub REST subset the sv-emulator
//! process serves under `/github` (it accepts the emulator's token only).

use crate::App;

fn gh_client(app: &App) -> sv_github::GitHub {
    sv_github::GitHub::new(
        app.emu.github_api_url().parse().unwrap(),
        app.emu.token().to_owned().into(),
        sv_github::RepoRef::parse("acme/spacevision").unwrap(),
    )
    .unwrap()
}

fn run_gh(app: &App, args: &[&str]) -> (i32, String, String) {
    let out = app
        .cmd()
        .env("GITHUB_API_URL", app.emu.github_api_url())
        .env("GITHUB_TOKEN", app.emu.token())
        .env("GITHUB_REPOSITORY", "acme/spacevision")
        .env("GITHUB_SHA", "0123abc")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plan_comment_is_sticky_per_environment() {
    let app = App::new();
    let plan = app.path("plan.json");
    let plan = plan.to_str().unwrap();
    app.run(&["plan", "--out", plan]);
    let (code, out, err) = run_gh(&app, &["comment", plan, "--pr", "7"]);
    assert_eq!(code, 0, "{out}\n{err}");
    app.edit("location: weur", "location: enam");
    app.run(&["plan", "--out", plan]);
    let (code, out, err) = run_gh(&app, &["comment", plan, "--pr", "7"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let comments = app
        .block_on(async { gh_client(&app).list_issue_comments(7).await })
        .unwrap();
    assert_eq!(comments.len(), 1, "{comments:?}");
    let body = &comments[0].body;
    assert!(body.contains("location = \"enam\""), "{body}");
    assert!(body.contains("Planned at commit 0123abc."), "{body}");
    // Outside a pull_request run, without --pr: a clear input error.
    let (code, _, err) = run_gh(&app, &["comment", plan]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pass --pr N"), "{err}");
}

#[test]
fn drift_opens_then_closes_one_issue() {
    let app = App::new();
    app.apply_all();
    let (code, out, err) = run_gh(&app, &["drift"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No drift"), "{out}");
    // Someone renames a namespace by hand.
    let state = app
        .run(&["state", "show", "kv.cache", "--format", "json"])
        .1;
    let id = serde_json::from_str::<serde_json::Value>(&state).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cf = app.client();
    app.block_on(cf.kv().rename_namespace(&id, "cache-by-hand"))
        .unwrap();
    let (code, out, err) = run_gh(&app, &["drift"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("Drift in `production`: 1 resource(s) changed outside sv"),
        "{out}"
    );
    let number: u64 = out
        .split("Issue #")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    // A second run updates the same issue.
    let (code, out, _) = run_gh(&app, &["drift"]);
    assert_eq!(code, 2);
    assert!(out.contains(&format!("Issue #{number} ")), "{out}");
    let issue_state = || {
        app.block_on(async { gh_client(&app).get_issue(number).await })
            .unwrap()
            .state
    };
    assert_eq!(issue_state(), "open");
    // Fixed (by apply): the issue closes.
    let (code, out, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run_gh(&app, &["drift"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!("Closed drift issue #{number}.")),
        "{out}"
    );
    assert_eq!(issue_state(), "closed");
}

fn labels(app: &App, pr: u64) -> Vec<String> {
    let issue = app
        .block_on(async { gh_client(app).get_issue(pr).await })
        .unwrap();
    let mut names: Vec<String> = issue.labels.into_iter().map(|l| l.name).collect();
    names.sort();
    names
}

#[test]
fn risky_plans_label_the_pull_request_and_the_label_goes_when_the_risk_does() {
    let app = App::new();
    app.apply_all();
    let plan = app.path("plan.json");
    let plan = plan.to_str().unwrap();
    // Someone's own label stays whatever sv-plan does.
    app.block_on(async { gh_client(&app).add_labels(9, &["needs-review"]).await })
        .unwrap();

    app.edit("location: weur", "location: enam");
    let (code, out, err) = app.run(&["plan", "--allow-data-loss", "--out", plan]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run_gh(&app, &["comment", plan, "--pr", "9"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("+sv:risky"), "{out}");
    assert_eq!(
        labels(&app, 9),
        ["needs-review", "sv:changes", "sv:destroy", "sv:risky"]
    );

    app.edit("location: enam", "location: weur");
    let (code, out, err) = app.run(&["plan", "--out", plan]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run_gh(&app, &["comment", plan, "--pr", "9"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(labels(&app, 9), ["needs-review", "sv:no-changes"]);
    // Commenting the same plan again changes no label.
    let (code, out, err) = run_gh(&app, &["comment", plan, "--pr", "9"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("(labels"), "{out}");
    let comments = app
        .block_on(async { gh_client(&app).list_issue_comments(9).await })
        .unwrap();
    assert_eq!(comments.len(), 1, "still one sticky comment");
}

#[test]
fn a_failed_apply_opens_an_issue_linking_the_run_and_the_next_success_closes_it() {
    let app = App::new();
    let with_run = |args: &[&str]| {
        let out = app
            .cmd()
            .env("GITHUB_API_URL", app.emu.github_api_url())
            .env("GITHUB_TOKEN", app.emu.token())
            .env("GITHUB_REPOSITORY", "acme/spacevision")
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_RUN_ID", "4242")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // An unmanaged A record where sv.yaml's CNAME goes: the CNAME fails.
    app.deploy_worker();
    let occupied = app.occupy_api_host();
    let (code, out, err) = with_run(&["apply", "--auto-approve", "--failure-issue"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("Failed-apply issue #1 Opened"), "{err}");
    let issue = app
        .block_on(async { gh_client(&app).get_issue(1).await })
        .unwrap();
    assert_eq!(issue.title, "sv-plan apply failed in `production`");
    assert_eq!(issue.state, "open");
    assert!(issue.labels.iter().any(|l| l.name == "sv:apply-failed"));
    let body = issue.body.unwrap_or_default();
    assert!(
        body.contains("Failed run: https://github.example/acme/spacevision/actions/runs/4242"),
        "{body}"
    );
    assert!(body.contains("dns.CNAME.api"), "{body}");

    app.free_api_host(&occupied);
    let (code, out, err) = with_run(&["apply", "--auto-approve", "--failure-issue"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("Closed failed-apply issue #1."), "{err}");
    let issue = app
        .block_on(async { gh_client(&app).get_issue(1).await })
        .unwrap();
    assert_eq!(issue.state, "closed");
}
