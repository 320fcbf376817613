//! Events through a real Kafka-protocol broker: every change publishes its event, consumers
//! apply each event once even when the relay publishes it twice, and a broker outage loses
//! nothing.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt as _;
use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use serde_json::{Value, json};
use tessera_tests::{Broker, TestPlatform};

const PASSWORD: &str = "correct horse battery";

/// Reads `topics` from the start until `done` says the collected events suffice.
pub(crate) async fn read_events(
    bootstrap: &str,
    topics: &[String],
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-reader-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
        .expect("consumer");
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names).expect("subscribe");
    let mut events = Vec::new();
    let mut stream = consumer.stream();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done(&events) {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        let Ok(Some(Ok(message))) = next else {
            panic!("timed out with events {events:?}");
        };
        if let Some(payload) = message.payload() {
            events.push(serde_json::from_slice(payload).expect("an event envelope"));
        }
    }
    events
}

fn topics(p: &TestPlatform, services: &[&str]) -> Vec<String> {
    let prefix = &p.options.kafka.as_ref().expect("kafka").topic_prefix;
    services.iter().map(|s| format!("{prefix}{s}")).collect()
}

fn types(events: &[Value]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for e in events {
        *counts
            .entry(e["type"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn every_change_publishes_its_event() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::with_broker(&broker).await.expect("platform");
    let s = p.registered("pia@example.com", PASSWORD, "Pia").await;
    assert_eq!(
        p.login("pia@example.com", "wrong password").await.code(),
        Some("INVALID_CREDENTIALS")
    );
    p.login("pia@example.com", PASSWORD).await.ok();
    p.gql(
        "auth",
        "mutation($t: String!) { logout(refreshToken: $t) }",
        json!({ "t": s.refresh }),
        None,
    )
    .await
    .ok();
    p.query(
        "identity",
        "mutation { updateProfile(input: { displayName: \"Pia P\" }) { id } }",
        Some(&s.access),
    )
    .await
    .ok();
    p.query(
        "identity",
        "mutation { requestEmailVerification }",
        Some(&s.access),
    )
    .await
    .ok();
    let token = p.mailed_token("pia@example.com", "Verify").await;
    p.gql(
        "identity",
        "mutation($t: String!) { verifyEmail(token: $t) { id } }",
        json!({ "t": token }),
        None,
    )
    .await
    .ok();

    let expected = [
        "auth.signed_up",
        "auth.login_failed",
        "auth.login_succeeded",
        "auth.tokens_revoked",
        "user.registered",
        "user.updated",
        "user.email_verified",
    ];
    let events = read_events(
        &broker.bootstrap(),
        &topics(&p, &["auth", "identity"]),
        |events| {
            let seen = types(events);
            expected.iter().all(|t| seen.contains_key(*t))
        },
    )
    .await;
    for e in &events {
        assert_eq!(e["subject"], s.user_id.as_str(), "{e}");
        assert!(
            e["id"].is_string() && e["time"].is_string() && e["source"].is_string(),
            "{e}"
        );
    }
    let registered = events
        .iter()
        .find(|e| e["type"] == "user.registered")
        .expect("registered");
    assert_eq!(registered["data"]["email"], "pia@example.com");
    p.shutdown().await;
}

#[tokio::test]
async fn consumers_apply_each_event_once_when_the_relay_publishes_it_again() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::with_broker(&broker).await.expect("platform");
    let mut sessions = Vec::new();
    for i in 0..3 {
        sessions.push(
            p.sign_up(
                &format!("dup{i}@example.com"),
                PASSWORD,
                &format!("Dup {i}"),
            )
            .await,
        );
    }
    for s in &sessions {
        p.wait_for_user(s).await;
    }
    // As if the relay crashed after publishing and before marking: everything goes out again.
    let auth = p.db.pool("auth").await.expect("pool");
    let replayed = sqlx::query(
        "UPDATE outbox SET published_at = NULL WHERE event->>'type' = 'auth.signed_up'",
    )
    .execute(&auth)
    .await
    .expect("replay")
    .rows_affected();
    assert_eq!(replayed, 3);
    // One partition keeps order: once a later sign-up is projected, the replays were consumed.
    p.registered("later@example.com", PASSWORD, "Later").await;

    let signed_up = read_events(&broker.bootstrap(), &topics(&p, &["auth"]), |events| {
        types(events).get("auth.signed_up").copied().unwrap_or(0) >= 7
    })
    .await;
    assert_eq!(
        types(&signed_up)["auth.signed_up"],
        7,
        "3 originals, 3 replays, 1 later"
    );

    let identity = p.db.pool("identity").await.expect("pool");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&identity)
        .await
        .expect("count");
    assert_eq!(users, 4);
    let registered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event->>'type' = 'user.registered'")
            .fetch_one(&identity)
            .await
            .expect("count");
    assert_eq!(registered, 4, "each sign-up was applied once");
    p.shutdown().await;
}

#[tokio::test]
async fn a_broker_outage_loses_no_event() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::with_broker(&broker).await.expect("platform");
    p.registered("before@example.com", PASSWORD, "Before").await;

    broker.cut();
    // Writes still succeed: their events wait in the outbox.
    let during: Vec<_> = futures::future::join_all(
        (0..3).map(|i| p.sign_up_owned(format!("during{i}@example.com"))),
    )
    .await;
    let auth = p.db.pool("auth").await.expect("pool");
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&auth)
        .await
        .expect("count");
    assert!(
        pending >= 3,
        "events wait in the outbox while the broker is down ({pending})"
    );
    let health = p
        .http
        .get(p.url("auth", "/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(health.status(), 503);

    broker.restore();
    for s in &during {
        p.wait_for_user(s).await;
    }
    let drained = tessera_tests::eventually(Duration::from_secs(30), || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&auth)
            .await
            .ok()?;
        (n == 0).then_some(())
    })
    .await;
    assert!(
        drained.is_some(),
        "the outbox drains once the broker is back"
    );
    p.shutdown().await;
}
