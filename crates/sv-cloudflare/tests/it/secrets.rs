//! The token (and secret values) never show up in Debug, Display, errors or tracing output.

use std::io::Write;
use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::support::{Reply, TOKEN, TestServer, builder_for};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

const SECRET_VALUE: &str = "worker-secret-value-8c1d";

#[tokio::test]
async fn token_never_appears_in_tracing_output() {
    let server = TestServer::start(|seen, i| {
        if seen.api_path().ends_with("/secrets") {
            return Reply::ok(json!({"name": "API_KEY", "type": "secret_text"}));
        }
        match i {
            0 => Reply::err(429, 971, "slow down").header("retry-after", "0"),
            1 => Reply::err(503, 0, "unavailable"),
            2 => Reply::ok(json!({"id": "z1", "name": "example.com", "status": "active"})),
            _ => Reply::err(403, 10000, "Authentication error"),
        }
    })
    .await;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = server.client();
    client.zones().get("z1").await.unwrap();
    let err = client.zones().get("z1").await.unwrap_err();
    client
        .workers()
        .put_secret("api", "API_KEY", &SecretString::from(SECRET_VALUE))
        .await
        .unwrap();
    tracing::error!(error = %err, debug = ?err, "surfaced error");
    tracing::info!(client = ?client, "client");

    let logs = captured.text();
    assert!(logs.contains("retrying Cloudflare API call"), "{logs}");
    assert!(logs.contains("cloudflare.request"), "{logs}");
    assert!(logs.contains("/client/v4/zones/z1"), "{logs}");
    assert!(!logs.contains(TOKEN), "token leaked into logs:\n{logs}");
    assert!(
        !logs.contains(SECRET_VALUE),
        "secret leaked into logs:\n{logs}"
    );

    // The token was really sent, as a bearer header…
    let seen = server.seen();
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    // …and the secret went in the body only.
    let body = seen.last().unwrap().json();
    assert_eq!(body["text"], SECRET_VALUE);
    assert_eq!(body["type"], "secret_text");
}

#[tokio::test]
async fn token_never_appears_in_debug_or_errors() {
    let server = TestServer::start(|_, _| Reply::err(401, 10000, "Authentication error")).await;
    let client = server.client();
    assert!(!format!("{client:?}").contains(TOKEN));
    assert!(!format!("{:?}", server.builder()).contains(TOKEN));

    let err = client.user().verify_token().await.unwrap_err();
    for shown in [err.to_string(), format!("{err:?}"), format!("{err:#}")] {
        assert!(!shown.contains(TOKEN), "{shown}");
    }

    // A transport error's source chain (reqwest/hyper) must not carry it either.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let base = sv_cloudflare::Url::parse(&format!("http://{addr}/client/v4")).unwrap();
    let err = builder_for(base)
        .build()
        .unwrap()
        .zones()
        .get("z")
        .await
        .unwrap_err();
    let mut chain = format!("{err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(&s.to_string());
        source = s.source();
    }
    assert!(!chain.contains(TOKEN), "{chain}");
}

#[tokio::test]
async fn config_debug_hides_the_token() {
    let cfg = sv_cloudflare::ClientConfig::from_env(|k| match k {
        "CLOUDFLARE_API_TOKEN" => Some(TOKEN.to_owned()),
        "CLOUDFLARE_API_BASE_URL" => Some("http://user:pw@127.0.0.1:1/client/v4/".to_owned()),
        _ => None,
    })
    .unwrap();
    let shown = format!("{cfg:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains("pw"), "{shown}");
    let client = sv_cloudflare::Client::builder_from_config(&cfg)
        .build()
        .unwrap();
    assert_eq!(client.base_url().path(), "/client/v4");
}

#[test]
fn an_https_client_builds_with_the_ring_provider_and_the_shared_budget() {
    // Building must not panic for want of a rustls provider, and must not touch the network.
    let base = sv_cloudflare::Url::parse(sv_cloudflare::DEFAULT_BASE_URL).unwrap();
    let client = sv_cloudflare::Client::builder(base, SecretString::from(TOKEN))
        .build()
        .unwrap();
    assert!(!client.rate_limiter().is_unlimited());
    assert_eq!(client.base_url().as_str(), sv_cloudflare::DEFAULT_BASE_URL);
    // A second install is harmless.
    assert!(!sv_cloudflare::install_crypto_provider());
}
