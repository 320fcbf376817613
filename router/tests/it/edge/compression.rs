//! Compression both ways: responses by `Accept-Encoding` (read by a real `curl --compressed`),
//! never for a stream; compressed request bodies, with the body limit applied decompressed; and
//! compressed subgraph responses, asked for and decoded.

use std::io::Write as _;
use std::process::Stdio;

use axum::Router;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use super::{post, router, supergraph_of};
use tessera_router::config::GatewayConfig;
use tessera_router::server::RouterServer;

/// A query whose answer is a few kilobytes (the subgraph answers `public` with a long text).
const BIG: &str = r#"{"data":{"public":"PAD"}}"#;

/// A subgraph that answers `{ public }` with `text`, compressing when asked if `compress`,
/// and records the `Accept-Encoding` of each request.
async fn subgraph(
    text: String,
    compress: bool,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>,
) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let body = BIG.replace("PAD", &text);
    let app = Router::new().route(
        "/graphql",
        axum::routing::post({
            let seen = seen.clone();
            move |headers: HeaderMap| {
                seen.lock().expect("lock").push(
                    headers
                        .get("accept-encoding")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                );
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }
        }),
    );
    let app = if compress {
        app.layer(tower_http::compression::CompressionLayer::new())
    } else {
        app
    };
    (crate::serve(app).await, seen)
}

async fn router_over(url: &str, config: &str) -> RouterServer {
    crate::start_router(
        &supergraph_of(url, super::SDL),
        GatewayConfig::parse(config).expect("config"),
    )
    .await
}

/// `curl` with `args`, sending `body` on stdin; its output (headers, then body, with `-i`).
async fn curl(args: &[&str], body: &[u8]) -> String {
    let mut child = tokio::process::Command::new("curl")
        .args(["-sS", "-i"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(body).await.expect("body");
    drop(stdin);
    let out = child.wait_with_output().await.expect("curl ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("curl decoded the body")
}

/// The value of `name` in a response head printed by `curl -i`.
fn header<'a>(output: &'a str, name: &str) -> Option<&'a str> {
    let head = output.split("\r\n\r\n").next().unwrap_or("");
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn json_body(output: &str) -> Value {
    let body = output.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {output}"))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test]
async fn responses_are_compressed_as_the_client_prefers_and_curl_reads_them() {
    let text = "tessera ".repeat(1000);
    let (url, _) = subgraph(text.clone(), false).await;
    let router = router_over(&url, "{}").await;
    let endpoint = format!("{}/graphql", router.url());
    let request = br#"{"query":"{ public }"}"#;
    let post = |encoding: Option<&'static str>| {
        let endpoint = endpoint.clone();
        async move {
            let mut args = vec![
                "-H",
                "content-type: application/json",
                "--data-binary",
                "@-",
            ];
            match encoding {
                // curl asks for what it can decode (gzip, br, zstd) and decodes it.
                None => args.push("--compressed"),
                Some(accept) => {
                    args.extend(["--compressed", "-H"]);
                    args.push(accept);
                }
            }
            args.push(&endpoint);
            let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            curl(&args, request).await
        }
    };

    let out = post(None).await;
    assert!(header(&out, "content-encoding").is_some(), "{out}");
    assert_eq!(json_body(&out)["data"]["public"], text.as_str());
    assert!(
        header(&out, "vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")),
        "{out}"
    );

    for (accept, chosen) in [
        ("accept-encoding: gzip", "gzip"),
        ("accept-encoding: br", "br"),
        ("accept-encoding: zstd", "zstd"),
        ("accept-encoding: gzip;q=0.2, zstd;q=0.9, br;q=0.5", "zstd"),
        ("accept-encoding: br;q=1, gzip;q=0.8", "br"),
    ] {
        let out = post(Some(accept)).await;
        assert_eq!(
            header(&out, "content-encoding"),
            Some(chosen),
            "{accept}: {out}"
        );
        assert_eq!(json_body(&out)["data"]["public"], text.as_str(), "{accept}");
    }
    // Refused or not offered: as it is.
    let out = post(Some("accept-encoding: identity")).await;
    assert_eq!(header(&out, "content-encoding"), None, "{out}");
    assert_eq!(json_body(&out)["data"]["public"], text.as_str());
}

#[tokio::test]
async fn small_streamed_or_switched_off_responses_are_sent_as_they_are() {
    let (url, _) = subgraph("short".to_owned(), false).await;
    let router = router_over(&url, "{}").await;
    let client = crate::undecoding_client();
    let small = client
        .post(format!("{}/graphql", router.url()))
        .header("accept-encoding", "gzip")
        .json(&json!({ "query": "{ public }" }))
        .send()
        .await
        .expect("answer");
    assert!(small.headers().get("content-encoding").is_none());

    let (url, _) = subgraph("tessera ".repeat(1000), false).await;
    let router = router_over(&url, "{}").await;
    let stream = client
        .post(format!("{}/graphql", router.url()))
        .header("accept-encoding", "gzip")
        .header("accept", "text/event-stream")
        .json(&json!({ "query": "{ public }" }))
        .send()
        .await
        .expect("answer");
    assert!(
        stream
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"))
    );
    assert!(stream.headers().get("content-encoding").is_none());
    let events = stream.text().await.expect("events");
    assert!(events.contains("tessera tessera"), "{events}");

    let off = router_over(&url, "compression:\n  responses: false\n").await;
    let answer = client
        .post(format!("{}/graphql", off.url()))
        .header("accept-encoding", "gzip")
        .json(&json!({ "query": "{ public }" }))
        .send()
        .await
        .expect("answer");
    assert!(answer.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn compressed_request_bodies_are_read_and_limited_once_decompressed() {
    let (router, subgraph) = router("limits:\n  max_body_bytes: 4096\n").await;
    let endpoint = format!("{}/graphql", router.url());
    let query = gzip(br#"{"query":"{ public }"}"#);
    let out = curl(
        &[
            "-H",
            "content-type: application/json",
            "-H",
            "content-encoding: gzip",
            "--data-binary",
            "@-",
            &endpoint,
        ],
        &query,
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert_eq!(json_body(&out)["data"]["public"], "hello");
    assert_eq!(subgraph.count(), 1);

    // 100 KiB of spaces, a few hundred bytes compressed: over the limit once read.
    let mut padded = br#"{"query":"{ public }""#.to_vec();
    padded.extend(std::iter::repeat_n(b' ', 100 * 1024));
    padded.push(b'}');
    let bomb = gzip(&padded);
    assert!(bomb.len() < 4096);
    let client = reqwest::Client::new();
    let send = |body: Vec<u8>, encoding: &'static str| {
        client
            .post(&endpoint)
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    let answer = send(bomb, "gzip").await.expect("answer");
    assert_eq!(answer.status().as_u16(), 413);
    let body: Value = answer.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE");

    let corrupt = send(b"not gzip at all".to_vec(), "gzip")
        .await
        .expect("answer");
    assert_eq!(corrupt.status().as_u16(), 400);
    let body: Value = corrupt.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    let unknown = send(br#"{"query":"{ public }"}"#.to_vec(), "compress")
        .await
        .expect("answer");
    assert_eq!(unknown.status().as_u16(), 415);
    assert_eq!(
        unknown
            .headers()
            .get("accept-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"gzip, br, zstd"[..])
    );
    let body: Value = unknown.json().await.expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "UNSUPPORTED_CONTENT_ENCODING"
    );
    assert_eq!(subgraph.count(), 1, "nothing refused reached the subgraph");
}

#[tokio::test]
async fn subgraph_responses_are_asked_for_compressed_and_decoded() {
    let text = "tessera ".repeat(1000);
    let (url, seen) = subgraph(text.clone(), true).await;
    let router = router_over(&url, "compression:\n  subgraphs: true\n").await;
    let answer = post(&router, "{ public }", &[]).await;
    assert_eq!(
        answer.body["data"]["public"],
        text.as_str(),
        "{}",
        answer.body
    );
    let asked = seen.lock().expect("lock")[0].clone().unwrap_or_default();
    for encoding in ["gzip", "br", "zstd"] {
        assert!(asked.contains(encoding), "{asked}");
    }

    // The response limit applies to the decoded body: 8 KB of text is a few hundred bytes
    // compressed.
    let limited = router_over(
        &url,
        "compression:\n  subgraphs: true\ntraffic:\n  subgraph_max_response_bytes: 4096\n",
    )
    .await;
    let answer = post(&limited, "{ public }", &[]).await;
    assert_eq!(
        answer.code(),
        "SUBGRAPH_RESPONSE_TOO_LARGE",
        "{}",
        answer.body
    );

    // Off by default.
    let plain = router_over(&url, "{}").await;
    let answer = post(&plain, "{ public }", &[]).await;
    assert_eq!(answer.body["data"]["public"], text.as_str());
    assert_eq!(seen.lock().expect("lock").last().cloned(), Some(None));
}
