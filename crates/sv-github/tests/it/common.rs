use std::net::SocketAddr;

use sv_emu_github::GithubState;
use sv_github::{GitHub, RepoRef, RetryPolicy, SecretString};
use url::Url;

pub const OWNER: &str = "acme";
pub const REPO: &str = "spacevision";

pub struct Ctx {
    pub state: GithubState,
    pub addr: SocketAddr,
    pub gh: GitHub,
}

/// Serves `app` on 127.0.0.1:0 and returns the address.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

pub async fn start() -> Ctx {
    start_with(GithubState::new(), "ghs_test_token").await
}

/// The emulator nested under `/github`, and a client using `token`.
pub async fn start_with(state: GithubState, token: &str) -> Ctx {
    let addr =
        serve(axum::Router::new().nest("/github", sv_emu_github::router(state.clone()))).await;
    let gh = client(&format!("http://{addr}/github/"), token);
    Ctx { state, addr, gh }
}

pub fn client(base: &str, token: &str) -> GitHub {
    GitHub::new(
        Url::parse(base).unwrap(),
        SecretString::from(token.to_owned()),
        RepoRef::new(OWNER, REPO).unwrap(),
    )
    .unwrap()
    .with_retry(RetryPolicy::none())
}

impl Ctx {
    /// Requests that changed something (not GET).
    pub fn writes(&self) -> Vec<String> {
        self.state
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}
