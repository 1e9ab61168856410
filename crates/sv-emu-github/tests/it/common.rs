use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sv_emu_github::{GithubState, router};

pub struct Emu {
    pub state: GithubState,
    /// `http://127.0.0.1:PORT/github`
    pub base: String,
    pub http: Client,
}

pub async fn start(state: GithubState) -> Emu {
    start_at(state, "/github").await
}

/// Serves the router nested under `prefix` (empty: not nested).
pub async fn start_at(state: GithubState, prefix: &str) -> Emu {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let app = if prefix.is_empty() {
        router(state.clone())
    } else {
        axum::Router::new().nest(prefix, router(state.clone()))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Emu {
        state,
        base: format!("http://{addr}{prefix}"),
        http,
    }
}

impl Emu {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth("t0ken")
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth("t0ken")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.http
            .patch(self.url(path))
            .bearer_auth("t0ken")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth("t0ken")
            .send()
            .await
            .unwrap()
    }
}

pub async fn json(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    response.json().await.unwrap()
}

/// Parses a `Link` header into `(rel, url)` pairs.
pub fn links(response: &Response) -> Vec<(String, String)> {
    let Some(header) = response.headers().get("link") else {
        return Vec::new();
    };
    header
        .to_str()
        .unwrap()
        .split(',')
        .map(|part| {
            let (url, rel) = part.trim().split_once(';').unwrap();
            let url = url
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned();
            let rel = rel
                .trim()
                .trim_start_matches("rel=\"")
                .trim_end_matches('"')
                .to_owned();
            (rel, url)
        })
        .collect()
}

pub fn link<'a>(links: &'a [(String, String)], rel: &str) -> Option<&'a str> {
    links
        .iter()
        .find(|(r, _)| r == rel)
        .map(|(_, u)| u.as_str())
}
