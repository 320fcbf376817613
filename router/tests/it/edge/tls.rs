//! Inbound TLS: HTTPS with HTTP/2 and HTTP/1.1 by ALPN, the handshake under the header read
//! timeout, and a rotated certificate served to new connections.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;

use super::tempfile_path::{TempPath, write};
use super::{subgraph, supergraph};
use tessera_router::config::GatewayConfig;
use tessera_router::server::RouterServer;

/// A self-signed certificate for `localhost`, as PEM, and its files.
struct Certificate {
    pem: String,
    cert_file: TempPath,
    key_file: TempPath,
}

fn certificate() -> Certificate {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let pem = made.cert.pem();
    Certificate {
        cert_file: write(&pem),
        key_file: write(&made.signing_key.serialize_pem()),
        pem,
    }
}

/// A client trusting only `pem`, reaching the router as `localhost`.
fn client(router: &RouterServer, pem: &str, http1: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("PEM"))
        .resolve("localhost", router.addr());
    if http1 {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

async fn ask(
    client: &reqwest::Client,
    router: &RouterServer,
) -> reqwest::Result<(reqwest::Version, Value)> {
    let response = client
        .post(format!(
            "https://localhost:{}/graphql",
            router.addr().port()
        ))
        .json(&json!({ "query": "{ public }" }))
        .send()
        .await?;
    let version = response.version();
    Ok((version, response.json().await?))
}

#[tokio::test]
async fn https_serves_http2_and_http1_and_picks_up_a_rotated_certificate() {
    let (_subgraph, url) = subgraph().await;
    let first = certificate();
    let config = GatewayConfig::parse(&format!(
        "reload:\n  interval_ms: 50\nserver:\n  header_read_timeout_ms: 300\n  tls:\n    cert_file: {}\n    key_file: {}\n",
        first.cert_file.path().display(),
        first.key_file.path().display()
    ))
    .expect("config");
    let router = super::serve(&supergraph(&url), config)
        .await
        .expect("router");
    assert!(router.url().starts_with("https://"));

    let (version, body) = ask(&client(&router, &first.pem, false), &router)
        .await
        .expect("h2");
    assert_eq!(version, reqwest::Version::HTTP_2);
    assert_eq!(body["data"]["public"], "hello");
    let (version, body) = ask(&client(&router, &first.pem, true), &router)
        .await
        .expect("h1");
    assert_eq!(version, reqwest::Version::HTTP_11);
    assert_eq!(body["data"]["public"], "hello");

    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .post(format!("http://{}/graphql", router.addr()))
        .json(&json!({ "query": "{ public }" }))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");

    // A client that connects and never starts the handshake is cut at the header timeout.
    let mut silent = tokio::net::TcpStream::connect(router.addr())
        .await
        .expect("connect");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut byte))
        .await
        .expect("closed within the header read timeout");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    // A rotated pair is served to new connections; the old certificate no longer verifies.
    let second = certificate();
    std::fs::copy(second.key_file.path(), first.key_file.path()).expect("key");
    std::fs::copy(second.cert_file.path(), first.cert_file.path()).expect("cert");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if ask(&client(&router, &second.pem, false), &router)
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rotated certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ask(&client(&router, &first.pem, false), &router)
            .await
            .is_err()
    );
    router.shutdown().await;
}

#[tokio::test]
async fn a_certificate_that_does_not_load_fails_the_start() {
    let (_subgraph, url) = subgraph().await;
    let cert = certificate();
    let other = certificate();
    let config = GatewayConfig::parse(&format!(
        "server:\n  tls:\n    cert_file: {}\n    key_file: {}\n",
        cert.cert_file.path().display(),
        other.key_file.path().display()
    ))
    .expect("config");
    let error = super::serve(&supergraph(&url), config)
        .await
        .err()
        .expect("a key of another certificate");
    assert!(format!("{error:#}").contains("tls"), "{error:#}");
}
