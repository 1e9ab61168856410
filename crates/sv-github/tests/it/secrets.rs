//! Actions secrets: sealed-box writes the emulator can open, 201/204, names-only listing,
//! permission errors.

use sv_emu_github::SecretsPermission;
use sv_github::{ErrorCategory, SecretAction, SecretString};

use crate::common::{OWNER, REPO, start};

#[tokio::test]
async fn put_secret_creates_then_updates_and_the_emulator_opens_it() {
    let ctx = start().await;
    let first = ctx
        .gh
        .put_secret("CLOUDFLARE_API_TOKEN", &SecretString::from("value-one"))
        .await
        .unwrap();
    assert_eq!(first, SecretAction::Created);
    assert_eq!(
        ctx.state
            .open_secret(OWNER, REPO, "CLOUDFLARE_API_TOKEN")
            .as_deref(),
        Some("value-one")
    );
    let second = ctx
        .gh
        .put_secret("CLOUDFLARE_API_TOKEN", &SecretString::from("value-two"))
        .await
        .unwrap();
    assert_eq!(second, SecretAction::Updated);
    assert_eq!(
        ctx.state
            .open_secret(OWNER, REPO, "CLOUDFLARE_API_TOKEN")
            .as_deref(),
        Some("value-two")
    );
    // The plain value never went over the wire.
    let listed = ctx.gh.list_secrets().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "CLOUDFLARE_API_TOKEN");
    assert!(!listed[0].created_at.is_empty() && !listed[0].updated_at.is_empty());
    assert_eq!(
        ctx.writes(),
        vec![
            "PUT /github/repos/acme/spacevision/actions/secrets/CLOUDFLARE_API_TOKEN",
            "PUT /github/repos/acme/spacevision/actions/secrets/CLOUDFLARE_API_TOKEN",
        ]
    );
}

#[tokio::test]
async fn list_pages_through_many_secrets() {
    let ctx = start().await;
    for i in 0..105 {
        ctx.gh
            .put_secret(&format!("S_{i:03}"), &SecretString::from(format!("v{i}")))
            .await
            .unwrap();
    }
    let listed = ctx.gh.list_secrets().await.unwrap();
    assert_eq!(listed.len(), 105);
    assert_eq!(listed[104].name, "S_104");
}

#[tokio::test]
async fn missing_permission_is_an_authentication_error_and_nothing_changes() {
    let ctx = start().await;
    ctx.gh
        .put_secret("TOKEN", &SecretString::from("old"))
        .await
        .unwrap();
    ctx.state.set_secrets_permission(SecretsPermission::Read);
    let e = ctx
        .gh
        .put_secret("TOKEN", &SecretString::from("new"))
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Authentication);
    assert!(e.to_string().contains("HTTP 403"), "{e}");
    assert!(!e.to_string().contains("new"), "{e}");
    assert_eq!(
        ctx.state.open_secret(OWNER, REPO, "TOKEN").as_deref(),
        Some("old")
    );
    ctx.state.set_secrets_permission(SecretsPermission::None);
    let e = ctx.gh.secrets_public_key().await.unwrap_err();
    assert_eq!(e.category(), ErrorCategory::Authentication);
}

#[tokio::test]
async fn invalid_names_are_refused_before_any_request() {
    let ctx = start().await;
    let e = ctx
        .gh
        .put_secret("GITHUB_TOKEN", &SecretString::from("x"))
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::InvalidInput);
    assert!(ctx.state.requests().is_empty());
}
