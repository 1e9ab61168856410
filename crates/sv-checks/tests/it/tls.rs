//! Certificate expiry over a real TLS connection (tokio-rustls server, test CA).

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::TimeDelta;
use sv_checks::{
    CheckSpec, HttpCheck, ManualClock, Probes, Status, TlsExpiryThresholds, run_checks,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::*;

const CA: &[u8] = include_bytes!("fixtures/ca.cert.der");
const CERT: &[u8] = include_bytes!("fixtures/localhost.cert.der");
const KEY: &[u8] = include_bytes!("fixtures/localhost.key.der");

/// A TLS server answering every connection with `200 ok`.
async fn tls_server() -> SocketAddr {
    sv_checks::install_crypto_provider();
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(CERT.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEY.to_vec())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

fn trusting_client() -> reqwest::Client {
    sv_checks::install_crypto_provider();
    reqwest::Client::builder()
        .tls_info(true)
        .tls_certs_only([reqwest::Certificate::from_der(CA).unwrap()])
        .build()
        .unwrap()
}

#[tokio::test]
async fn days_to_expiry_are_reported_and_judged() {
    let addr = tls_server().await;
    let url = format!("https://localhost:{}/health", addr.port());
    let mut check = HttpCheck::get(url.parse().unwrap());
    check.tls_expiry = Some(TlsExpiryThresholds::default());
    let spec = CheckSpec::http("tls", check);
    // The fixture expires 2125-06-19T17:58:56Z; the injected clock puts us 10 days before.
    let clock = ManualClock::new(t("2125-06-09T17:58:56Z"));
    let results = run_checks(
        std::slice::from_ref(&spec),
        &Probes::new(),
        &trusting_client(),
        &clock,
        &options(),
    )
    .await
    .unwrap();
    let r = &results[0];
    assert_eq!(r.metrics["tls_days_left"], 10.0);
    assert_eq!(r.status, Status::Degraded);
    assert_eq!(
        r.errors,
        ["certificate expires in 10.0 days (degraded below 14)"]
    );

    clock.advance(TimeDelta::days(-100));
    let results = run_checks(
        &[spec],
        &Probes::new(),
        &trusting_client(),
        &clock,
        &options(),
    )
    .await
    .unwrap();
    assert_eq!(
        results[0].status,
        Status::Healthy,
        "{:?}",
        results[0].errors
    );
    assert_eq!(results[0].metrics["tls_days_left"], 110.0);
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_check() {
    let addr = tls_server().await;
    let url = format!("https://localhost:{}/health", addr.port());
    let mut spec = CheckSpec::http("tls", HttpCheck::get(url.parse().unwrap()));
    spec.retries = 0;
    // The default client does not trust the test CA.
    let results = run_checks(&[spec], &Probes::new(), &client(), &*clock(), &options())
        .await
        .unwrap();
    assert_eq!(results[0].status, Status::Unhealthy);
    assert!(
        results[0].errors[0].to_lowercase().contains("certificate"),
        "{:?}",
        results[0].errors
    );
}
