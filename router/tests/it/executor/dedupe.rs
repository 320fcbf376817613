//! Shared subgraph requests whose first caller goes away: the next identical query gets a
//! request of its own and a fresh answer, never the abandoned one.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use tessera_router::config::GatewayConfig;

use super::{Answer, ask, scripted, start};

const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { slow: Int }"#;

#[tokio::test]
async fn a_query_after_a_cancelled_identical_one_gets_a_fresh_answer() {
    // The first request hangs past the router's timeout; later ones answer quickly with the
    // number of the request, so a stale answer would show.
    let (url, count) = scripted(|n, _| Answer {
        delay: if n == 0 {
            Duration::from_secs(10)
        } else {
            Duration::from_millis(300)
        },
        ..Answer::json(json!({ "data": { "slow": n } }))
    })
    .await;
    let mut config = GatewayConfig::default();
    config.traffic.timeout_ms = 1500;
    let router = start(&crate::compose_one("slow", &url, SDL), config).await;

    let (status, answer) = ask(&router, "{ slow }").await;
    assert_eq!(status, 504, "{answer}");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("REQUEST_TIMEOUT")
    );

    let (status, answer) = ask(&router, "{ slow }").await;
    assert_eq!((status, &answer), (200, &json!({ "data": { "slow": 1 } })));
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "the subgraph is asked again"
    );

    // Identical queries in flight together still share one request.
    let answers = futures::future::join_all((0..4).map(|_| ask(&router, "{ slow }"))).await;
    for (status, answer) in &answers {
        assert_eq!((*status, answer), (200, &json!({ "data": { "slow": 2 } })));
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "one request for four queries"
    );

    // And once answered, nothing is left to join: the next one is asked anew.
    let (_, answer) = ask(&router, "{ slow }").await;
    assert_eq!(answer, json!({ "data": { "slow": 3 } }));
    router.shutdown().await;
}
