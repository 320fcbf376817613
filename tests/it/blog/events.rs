//! The blog's events on a real Kafka-protocol broker: types, order, subject, actor and data.

use std::time::Duration;

use futures::StreamExt as _;
use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use serde_json::{Value, json};
use tessera_tests::{Broker, TestPlatform};

use super::{ARCHIVE, PASSWORD, PUBLISH, UPDATE, comment, draft, id_of, router};

/// Reads the blog topic from the start until `done` says the events suffice.
async fn read_blog_events(
    bootstrap: &str,
    topic: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-reader-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
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

#[tokio::test]
async fn publishes_post_and_comment_events_to_the_broker() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::with_broker(&broker).await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;
    let created = draft(&p, &ada, "Eventful", &["news"]).await;
    let id = created["id"].as_str().expect("id").to_owned();
    router(
        &p,
        UPDATE,
        json!({ "i": { "id": id, "body": "Rewritten." } }),
        Some(&ada),
    )
    .await
    .ok();
    router(&p, PUBLISH, json!({ "id": id }), Some(&ada))
        .await
        .ok();
    let top = id_of(&comment(&p, &bob, &id, "Hi", None).await.ok());
    let reply = id_of(&comment(&p, &ada, &id, "Hello", Some(&top)).await.ok());
    router(&p, ARCHIVE, json!({ "id": id }), Some(&ada))
        .await
        .ok();

    let topic = format!(
        "{}blog",
        p.options.kafka.as_ref().expect("kafka").topic_prefix
    );
    let events = read_blog_events(&broker.bootstrap(), &topic, |events| events.len() >= 6).await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect();
    // One subject, one partition: the order is the order of the changes.
    assert_eq!(
        kinds,
        [
            "post.created",
            "post.updated",
            "post.published",
            "comment.added",
            "comment.added",
            "post.updated"
        ]
    );
    for e in &events {
        assert_eq!(e["source"], "blog", "{e}");
        assert_eq!(e["subject"], id.as_str(), "{e}");
    }
    let post = |e: &Value| {
        json!([
            e["data"]["postId"],
            e["data"]["authorId"],
            e["data"]["title"],
            e["data"]["slug"]
        ])
    };
    for e in [&events[0], &events[1], &events[2], &events[5]] {
        assert_eq!(
            post(e),
            json!([id, ada.user_id, "Eventful", "eventful"]),
            "{e}"
        );
        assert_eq!(e["actor"], ada.user_id.as_str());
        assert_eq!(e["data"]["tags"], json!(["news"]));
    }
    assert_eq!(events[0]["data"]["status"], "DRAFT");
    assert_eq!(events[1]["data"]["changed"], json!(["body"]));
    assert_eq!(events[2]["data"]["status"], "PUBLISHED");
    assert!(events[2]["data"]["publishedAt"].is_string());
    assert_eq!(events[5]["data"]["status"], "ARCHIVED");
    assert_eq!(events[5]["data"]["changed"], json!(["status"]));
    assert_eq!(
        events[3]["data"],
        json!({ "postId": id, "commentId": top, "authorId": bob.user_id, "parentId": null,
            "postAuthorId": ada.user_id })
    );
    assert_eq!(events[3]["actor"], bob.user_id.as_str());
    assert_eq!(
        events[4]["data"],
        json!({ "postId": id, "commentId": reply, "authorId": ada.user_id, "parentId": top,
            "postAuthorId": ada.user_id })
    );
    p.shutdown().await;
    drop(broker);
}
