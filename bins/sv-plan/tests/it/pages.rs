//! Pages projects: custom domains created with the project, added and removed by
//! difference, the production branch updated in place; each apply followed by a no-op plan.

use crate::App;

const PROJECT: &str = "spacevision-web";

/// The project's custom domains as the API lists them, sorted.
fn live_domains(app: &App) -> Vec<String> {
    let client = app.client();
    let mut names: Vec<String> = app
        .block_on(client.pages().list_domains(PROJECT))
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    names
}

fn assert_no_changes(app: &App) {
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("No changes"), "{out}");
}

#[test]
fn a_project_is_created_with_its_custom_domain() {
    let app = App::new();
    let (code, out, _) = app.run(&["plan"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("+ custom_domains = [\"www.spacevision.app\"]"),
        "{out}"
    );
    app.apply_all();
    assert_eq!(live_domains(&app), ["www.spacevision.app"]);
    // The project object lists it too (with its pages.dev subdomain, which is no custom
    // domain and never planned).
    let project = app
        .block_on(app.client().pages().get_project(PROJECT))
        .unwrap();
    assert_eq!(
        project.domains,
        ["spacevision-web.pages.dev", "www.spacevision.app"]
    );
    assert_no_changes(&app);
}

#[test]
fn changing_the_production_branch_updates_the_project_in_place() {
    let app = App::new();
    app.apply_all();
    app.edit(
        "spacevision-web: { production_branch: main,",
        "spacevision-web: { production_branch: release,",
    );
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("~ production_branch = \"main\" -> \"release\""),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete"),
        "{out}"
    );
    let (code, out, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let project = app
        .block_on(app.client().pages().get_project(PROJECT))
        .unwrap();
    assert_eq!(project.production_branch.as_deref(), Some("release"));
    // The domains were left alone.
    assert_eq!(live_domains(&app), ["www.spacevision.app"]);
    assert_no_changes(&app);
}

#[test]
fn custom_domains_are_added_and_removed_by_difference() {
    let app = App::new();
    app.apply_all();
    let (_, before, _) = app.run(&["state", "show", "pages.spacevision-web", "--format", "json"]);
    app.edit(
        "custom_domains: [\"www.${zone}\"]",
        "custom_domains: [\"shop.example.org\", \"app.${zone}\"]",
    );
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains(
            "~ custom_domains = [\"www.spacevision.app\"] -> [\"app.spacevision.app\",\"shop.example.org\"]"
        ),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete"),
        "{out}"
    );
    // Taking a host away from a site is said before it happens.
    assert!(
        out.contains(
            "WARNING pages.spacevision-web: Removing custom domain `www.spacevision.app` from Pages project `spacevision-web`: the site stops answering on that host."
        ),
        "{out}"
    );
    let (code, out, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        live_domains(&app),
        ["app.spacevision.app", "shop.example.org"]
    );
    // An update keeps the project: same id in state.
    let (_, after, _) = app.run(&["state", "show", "pages.spacevision-web", "--format", "json"]);
    let id = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap()["id"].clone();
    assert_eq!(id(&before), id(&after));
    assert_no_changes(&app);
}

#[test]
fn a_domain_added_outside_sv_is_drift_the_plan_corrects() {
    let app = App::new();
    app.apply_all();
    app.block_on(
        app.client()
            .pages()
            .add_domain(PROJECT, "extra.spacevision.app"),
    )
    .unwrap();
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("Removing custom domain `extra.spacevision.app`"),
        "{out}"
    );
    // Drift says what sv applied, then what is live.
    assert!(
        out.contains(
            "~ pages.spacevision-web: custom_domains was [\"www.spacevision.app\"], now [\"extra.spacevision.app\",\"www.spacevision.app\"]"
        ),
        "{out}"
    );
    let (code, out, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(live_domains(&app), ["www.spacevision.app"]);
    assert_no_changes(&app);
}

#[test]
fn a_domain_refused_after_the_project_was_created_leaves_it_recorded() {
    let app = App::new();
    // sv.yaml accepts a wildcard host; Pages does not.
    app.edit(
        "custom_domains: [\"www.${zone}\"]",
        "custom_domains: [\"*.${zone}\"]",
    );
    app.deploy_worker();
    let (code, out, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("pages.spacevision-web (created) FAILED"),
        "{out}"
    );
    assert!(
        out.contains("adding custom domain `*.spacevision.app` to Pages project `spacevision-web`"),
        "{out}"
    );
    // The project exists and is in state: the next plan finishes it instead of creating it.
    let (code, out, _) = app.run(&["state", "show", "pages.spacevision-web"]);
    assert_eq!(code, 0, "{out}");
    app.edit(
        "custom_domains: [\"*.${zone}\"]",
        "custom_domains: [\"www.${zone}\"]",
    );
    let (code, out, err) = app.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("~ custom_domains = [] -> [\"www.spacevision.app\"]"),
        "{out}"
    );
    // Not created again: updated (a later wave's route may still be to create).
    assert!(
        out.contains("to create, 1 to update, 0 to replace"),
        "{out}"
    );
    assert!(!out.contains("+ pages.spacevision-web"), "{out}");
    let (code, out, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(live_domains(&app), ["www.spacevision.app"]);
    assert_no_changes(&app);
}

/// `custom_domains: []` means "no custom domains": the project's are removed. Without the key
/// sv leaves them alone.
#[test]
fn an_empty_list_removes_every_custom_domain_and_no_key_leaves_them_alone() {
    let app = App::new();
    app.apply_all();
    assert_eq!(live_domains(&app), ["www.spacevision.app"]);
    app.edit("custom_domains: [\"www.${zone}\"]", "custom_domains: []");
    let (code, out, err) = app.run(&["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(live_domains(&app).is_empty(), "{:?}", live_domains(&app));
    assert_no_changes(&app);

    // Without the key, a domain added outside sv is not sv's business.
    app.edit(
        "production_branch: main, custom_domains: []",
        "production_branch: main",
    );
    app.block_on(
        app.client()
            .pages()
            .add_domain(PROJECT, "shop.spacevision.app"),
    )
    .unwrap();
    assert_no_changes(&app);
    assert_eq!(live_domains(&app), ["shop.spacevision.app"]);
}
