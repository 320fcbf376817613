//! Persisted documents (Apollo's and Relay's manifests, safelist and log modes, hot reload),
//! automatic persisted queries (in process and in Redis shared by two routers), and batches.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::{post_body, router, subgraph, supergraph};
use tessera_router::config::GatewayConfig;

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn redis_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A manifest file holding `json`, kept until the test ends.
fn manifest(json: &Value) -> super::tempfile_path::TempPath {
    super::tempfile_path::write(&json.to_string())
}

/// Text no other test run uses.
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos();
    format!("{}x{nanos}", std::process::id())
}

fn apollo_manifest(operations: &[(&str, &str)]) -> Value {
    json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": operations.iter().map(|(id, body)| json!({
            "id": id, "body": body, "name": "Op", "type": "query"
        })).collect::<Vec<_>>(),
    })
}

fn apq(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test]
async fn manifest_documents_run_by_id_in_apollo_and_relay_formats() {
    let public = "{ public }";
    let apollo = manifest(&apollo_manifest(&[(&sha256(public), public)]));
    let (router, subgraph) = router(&format!(
        "persisted_documents:\n  manifest: {}\n",
        apollo.path().display()
    ))
    .await;
    // Apollo Client's persisted documents link: the hash in extensions, no text.
    let answer = post_body(&router, &json!({ "extensions": apq(&sha256(public)) }), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["public"], "hello");
    // GraphQL over HTTP's documentId, prefixed or not.
    for id in [format!("sha256:{}", sha256(public)), sha256(public)] {
        let answer = post_body(&router, &json!({ "documentId": id }), &[]).await;
        assert_eq!(answer.body["data"]["public"], "hello", "{id}");
    }
    let answer = post_body(&router, &json!({ "documentId": "sha256:00" }), &[]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "PERSISTED_QUERY_NOT_FOUND")
    );
    let answer = post_body(
        &router,
        &json!({ "documentId": sha256(public), "query": public }),
        &[],
    )
    .await;
    assert_eq!((answer.status, answer.code()), (400, "BAD_REQUEST"));
    assert_eq!(subgraph.count(), 3, "each id that resolved ran once");

    // Relay's compiler writes {id: text}; Relay sends the id as doc_id (or id).
    let relay = manifest(&json!({ "a1b2c3": "query Relay { public }" }));
    let (router, _) = super::router(&format!(
        "persisted_documents:\n  manifest: {}\n",
        relay.path().display()
    ))
    .await;
    for field in ["doc_id", "id", "documentId"] {
        let answer = post_body(&router, &json!({ field: "a1b2c3" }), &[]).await;
        assert_eq!(answer.body["data"]["public"], "hello", "{field}");
    }
    // And over GET.
    let response = reqwest::Client::new()
        .get(format!("{}/graphql?doc_id=a1b2c3", router.url()))
        .header("x-tessera-csrf", "1")
        .send()
        .await
        .expect("answer");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["data"]["public"], "hello");
}

#[tokio::test]
async fn a_safelist_runs_only_listed_documents_and_log_mode_runs_everything() {
    let listed = "{ public }";
    let file = manifest(&apollo_manifest(&[("listed", listed)]));
    let (router, subgraph) = router(&format!(
        "persisted_documents:\n  manifest: {}\n  mode: safelist\n",
        file.path().display()
    ))
    .await;
    let answer = post_body(&router, &json!({ "query": "{ secret }" }), &[]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (403, "PERSISTED_QUERY_NOT_IN_LIST")
    );
    // A listed document's exact text is in the list; the same operation spelled otherwise is
    // another document.
    let answer = post_body(&router, &json!({ "query": listed }), &[]).await;
    assert_eq!(answer.body["data"]["public"], "hello");
    let answer = post_body(&router, &json!({ "query": "{public}" }), &[]).await;
    assert_eq!(answer.code(), "PERSISTED_QUERY_NOT_IN_LIST");
    // Registering a document through APQ is refused too: a safelist does not grow.
    let other = "{ secret }";
    let answer = post_body(
        &router,
        &json!({ "query": other, "extensions": apq(&sha256(other)) }),
        &[],
    )
    .await;
    assert_eq!(answer.code(), "PERSISTED_QUERY_NOT_IN_LIST");
    let answer = post_body(&router, &json!({ "extensions": apq(&sha256(other)) }), &[]).await;
    assert_eq!(answer.code(), "PERSISTED_QUERY_NOT_FOUND");
    let answer = post_body(&router, &json!({ "documentId": "listed" }), &[]).await;
    assert_eq!(answer.body["data"]["public"], "hello");
    assert_eq!(
        subgraph.count(),
        2,
        "refused documents never reach the subgraph"
    );

    // Legacy clients asking for application/json get 200 with the error, like every request
    // error of a well-formed request.
    let legacy = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .header("accept", "application/json")
        .json(&json!({ "query": "{ secret }" }))
        .send()
        .await
        .expect("answer");
    assert_eq!(legacy.status().as_u16(), 200);
    let body: Value = legacy.json().await.expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_IN_LIST"
    );

    let (strict, _) = super::router(&format!(
        "persisted_documents:\n  manifest: {}\n  mode: safelist\n  require_id: true\n",
        file.path().display()
    ))
    .await;
    let answer = post_body(&strict, &json!({ "query": listed }), &[]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (403, "PERSISTED_QUERY_ID_REQUIRED")
    );
    let answer = post_body(&strict, &json!({ "documentId": "listed" }), &[]).await;
    assert_eq!(answer.body["data"]["public"], "hello");

    let (logging, subgraph) = super::router(&format!(
        "persisted_documents:\n  manifest: {}\n  mode: log\n",
        file.path().display()
    ))
    .await;
    let answer = post_body(
        &logging,
        &json!({ "query": "query Unlisted { public }" }),
        &[],
    )
    .await;
    assert_eq!(
        answer.body["data"]["public"], "hello",
        "log mode refuses nothing"
    );
    assert_eq!(subgraph.count(), 1);

    for config in [
        "persisted_documents:\n  mode: safelist\n",
        "persisted_documents:\n  mode: log\n",
        "persisted_documents:\n  require_id: true\n",
    ] {
        let error = GatewayConfig::parse(config).expect_err(config);
        assert!(
            format!("{error:#}").contains("persisted_documents"),
            "{error:#}"
        );
    }
}

#[tokio::test]
async fn automatic_persisted_queries_register_after_a_miss_and_check_the_hash() {
    let (router, subgraph) = router("{}").await;
    let query = "query Apq { public }";
    let hash = sha256(query);
    let answer = post_body(&router, &json!({ "extensions": apq(&hash) }), &[]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "PERSISTED_QUERY_NOT_FOUND")
    );
    let answer = post_body(
        &router,
        &json!({ "query": "{ secret }", "extensions": apq(&hash) }),
        &[],
    )
    .await;
    assert_eq!(answer.code(), "PERSISTED_QUERY_HASH_MISMATCH");
    let answer = post_body(&router, &json!({ "extensions": apq(&hash) }), &[]).await;
    assert_eq!(
        answer.code(),
        "PERSISTED_QUERY_NOT_FOUND",
        "a mismatched text is not kept"
    );
    let answer = post_body(
        &router,
        &json!({ "query": query, "extensions": apq(&hash) }),
        &[],
    )
    .await;
    assert_eq!(answer.body["data"]["public"], "hello");
    let answer = post_body(&router, &json!({ "extensions": apq(&hash) }), &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["data"]["public"], "hello");
    assert_eq!(subgraph.count(), 2);
    for bad in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        json!({ "persistedQuery": "yes" }),
    ] {
        let answer = post_body(&router, &json!({ "extensions": bad }), &[]).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, "BAD_REQUEST"),
            "{bad}"
        );
    }

    let (off, _) = super::router("persisted_documents:\n  apq:\n    enabled: false\n").await;
    let answer = post_body(&off, &json!({ "extensions": apq(&hash) }), &[]).await;
    assert_eq!(answer.code(), "PERSISTED_QUERY_NOT_SUPPORTED");
    // Without a store, a hash with its text simply runs.
    let answer = post_body(
        &off,
        &json!({ "query": query, "extensions": apq(&hash) }),
        &[],
    )
    .await;
    assert_eq!(answer.body["data"]["public"], "hello");
}

#[tokio::test]
async fn two_routers_sharing_a_redis_share_registered_documents() {
    let (subgraph, url) = subgraph().await;
    let prefix = format!("tessera-test:apq:{}", unique());
    let config = format!(
        "persisted_documents:\n  apq:\n    ttl_secs: 60\n    redis:\n      url: {}\n      key_prefix: {prefix}\n      timeout_ms: 1000\n",
        redis_url()
    );
    let start = || async {
        super::serve(
            &supergraph(&url),
            GatewayConfig::parse(&config).expect("config"),
        )
        .await
        .expect("router")
    };
    let (first, second) = (start().await, start().await);
    let query = format!("query Shared{} {{ public }}", unique());
    let hash = sha256(&query);
    let answer = post_body(&second, &json!({ "extensions": apq(&hash) }), &[]).await;
    assert_eq!(answer.code(), "PERSISTED_QUERY_NOT_FOUND");
    let answer = post_body(
        &first,
        &json!({ "query": query, "extensions": apq(&hash) }),
        &[],
    )
    .await;
    assert_eq!(answer.body["data"]["public"], "hello");
    let answer = post_body(&second, &json!({ "extensions": apq(&hash) }), &[]).await;
    assert_eq!(answer.body["data"]["public"], "hello", "{}", answer.body);
    assert_eq!(subgraph.count(), 2);

    // What Redis holds expires with the TTL.
    let client = redis::Client::open(redis_url()).expect("redis");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}:{hash}"))
        .query_async(&mut connection)
        .await
        .expect("TTL");
    assert!((1..=60).contains(&ttl), "ttl {ttl}");
    // A value that is not the document of its hash (written by someone else) is not run.
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}:{hash}"))
        .arg("{ secret }")
        .query_async(&mut connection)
        .await
        .expect("SET");
    let answer = post_body(&second, &json!({ "extensions": apq(&hash) }), &[]).await;
    assert_eq!(answer.code(), "PERSISTED_QUERY_NOT_FOUND");

    // A Redis that is down is a miss, not a failure: the client sends the text.
    let (down, _) =
        super::router("persisted_documents:\n  apq:\n    redis:\n      url: redis://127.0.0.1:1\n")
            .await;
    let answer = post_body(&down, &json!({ "extensions": apq(&hash) }), &[]).await;
    assert_eq!(answer.code(), "PERSISTED_QUERY_NOT_FOUND");
    let answer = post_body(
        &down,
        &json!({ "query": query, "extensions": apq(&hash) }),
        &[],
    )
    .await;
    assert_eq!(answer.body["data"]["public"], "hello");
}

#[tokio::test]
async fn a_changed_manifest_is_read_again_and_a_broken_one_keeps_the_last() {
    let file = manifest(&json!({ "one": "{ public }" }));
    let (router, _) = router(&format!(
        "reload:\n  interval_ms: 50\npersisted_documents:\n  manifest: {}\n  mode: safelist\n",
        file.path().display()
    ))
    .await;
    let run = |id: &'static str| {
        let router = &router;
        async move {
            post_body(router, &json!({ "documentId": id }), &[])
                .await
                .body
        }
    };
    assert_eq!(run("one").await["data"]["public"], "hello");
    assert_eq!(
        run("two").await["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    std::fs::write(
        file.path(),
        serde_json::to_vec(&json!({ "two": "query Two { public }" })).expect("JSON"),
    )
    .expect("write");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while run("two").await["data"]["public"] != "hello" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the manifest was not read again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        run("one").await["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND",
        "the new manifest replaces the old"
    );
    std::fs::write(file.path(), b"{ not json").expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run("two").await["data"]["public"], "hello");
}

#[tokio::test]
async fn a_batch_is_answered_as_a_list_in_order_with_each_item_its_own_errors() {
    let (router, subgraph) = router("batching:\n  enabled: true\n  max_size: 4\n").await;
    let batch = json!([
        { "query": "{ public }" },
        { "query": "{ nope }" },
        { "query": 7 },
        { "query": "query Q($b: Boolean!) { public @include(if: $b) }", "variables": { "b": "x" } },
    ]);
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .header("accept", "application/graphql-response+json")
        .json(&batch)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    // A list of responses is not one application/graphql-response+json document.
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with("application/json")
    );
    let body: Value = response.json().await.expect("JSON");
    let items = body.as_array().expect("a list");
    assert_eq!(items.len(), 4);
    assert_eq!(items[0], json!({ "data": { "public": "hello" } }));
    assert_eq!(
        items[1]["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert!(items[1].get("data").is_none());
    assert_eq!(items[2]["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    assert_eq!(
        items[3]["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert_eq!(subgraph.count(), 1);

    // Too many, none at all, or something that is not a list of maps: refused whole.
    let too_many = Value::Array(vec![json!({ "query": "{ public }" }); 5]);
    let answer = post_body(&router, &too_many, &[]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "BATCH_LIMIT_EXCEEDED")
    );
    let answer = post_body(&router, &json!([]), &[]).await;
    assert_eq!((answer.status, answer.code()), (400, "BAD_REQUEST"));
    let answer = post_body(&router, &json!(["{ public }"]), &[]).await;
    assert_eq!((answer.status, answer.code()), (400, "BAD_REQUEST"));
    assert_eq!(subgraph.count(), 1);

    // Off by default.
    let (off, _) = super::router("{}").await;
    let answer = post_body(&off, &json!([{ "query": "{ public }" }]), &[]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (400, "BATCHING_NOT_ENABLED")
    );
}

#[tokio::test]
async fn identical_fetches_of_one_batch_reach_the_subgraph_once() {
    let (router, subgraph) = router("batching:\n  enabled: true\n").await;
    *subgraph.delay.lock().expect("lock") = Duration::from_millis(200);
    let batch =
        json!([{ "query": "{ public }" }, { "query": "{ public }" }, { "query": "{ public }" }]);
    let answer = post_body(&router, &batch, &[]).await;
    let items = answer.body.as_array().expect("a list");
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|i| i["data"]["public"] == "hello"));
    assert_eq!(subgraph.count(), 1, "{:?}", subgraph.requests());
}

#[tokio::test]
async fn each_operation_of_a_batch_counts_against_the_rate_limit() {
    let (router, subgraph) = router(
        "batching:\n  enabled: true\nrate_limits:\n  rules:\n    - name: all\n      key: global\n      limit: 2\n      period_secs: 60\n",
    )
    .await;
    let batch =
        json!([{ "query": "{ public }" }, { "query": "{ secret }" }, { "query": "{ public }" }]);
    let answer = post_body(&router, &batch, &[]).await;
    let items = answer.body.as_array().expect("a list");
    let limited = items
        .iter()
        .filter(|i| i["errors"][0]["extensions"]["code"] == "RATE_LIMITED")
        .count();
    assert_eq!(limited, 1, "{}", answer.body);
    assert!(subgraph.count() <= 2);
}

#[tokio::test]
async fn only_documents_that_pass_validation_and_the_size_limit_are_registered() {
    let (router, _) = router("persisted_documents:\n  apq:\n    max_document_bytes: 64\n").await;
    let register = |query: String| {
        let router = &router;
        async move {
            let hash = sha256(&query);
            let first = post_body(
                router,
                &json!({ "query": query, "extensions": apq(&hash) }),
                &[],
            )
            .await;
            let again = post_body(router, &json!({ "extensions": apq(&hash) }), &[]).await;
            (first, again)
        }
    };
    let (first, again) = register("{ nope }".to_owned()).await;
    assert_eq!(first.code(), "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(
        again.code(),
        "PERSISTED_QUERY_NOT_FOUND",
        "an invalid document is not kept"
    );
    let padded = format!("query Padded {{ public{} }}", " ".repeat(64));
    let (first, again) = register(padded).await;
    assert_eq!(
        first.body["data"]["public"], "hello",
        "a large document still runs"
    );
    assert_eq!(again.code(), "PERSISTED_QUERY_NOT_FOUND", "but is not kept");
    let (_, again) = register("query Small { public }".to_owned()).await;
    assert_eq!(again.body["data"]["public"], "hello");

    // A miss is never cached, and a client that named no GraphQL media type (Apollo Client 3
    // sends */*) gets it with 200, which APQ clients of every age take as "send the text".
    let miss = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .header("accept", "*/*")
        .json(&json!({ "extensions": apq(&sha256("{ never }")) }))
        .send()
        .await
        .expect("answer");
    assert_eq!(miss.status().as_u16(), 200);
    assert_eq!(miss.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn a_safelist_holds_over_websockets_and_event_streams() {
    let file = manifest(&json!({ "listed": "query Listed { public }" }));
    let (router, subgraph) = router(&format!(
        "persisted_documents:\n  manifest: {}\n  mode: safelist\n",
        file.path().display()
    ))
    .await;
    let mut ws = crate::subscriptions::Ws::connect(&router, "graphql-transport-ws").await;
    ws.init(json!({})).await;
    ws.send(json!({ "id": "a", "type": "subscribe", "payload": { "query": "{ secret }" } }))
        .await;
    let refused = ws.receive().await.expect("error");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_IN_LIST"
    );
    ws.send(json!({ "id": "b", "type": "subscribe", "payload": { "documentId": "listed" } }))
        .await;
    let next = ws.receive().await.expect("next");
    assert_eq!(next["payload"]["data"]["public"], "hello");

    let stream = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": "{ secret }" }))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    assert!(stream.contains("PERSISTED_QUERY_NOT_IN_LIST"), "{stream}");
    assert_eq!(
        subgraph.count(),
        1,
        "only the listed document reached the subgraph"
    );
}
