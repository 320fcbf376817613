//! The blog's subscriptions, taken directly from the blog subgraph over graphql-transport-ws as
//! the router takes them: `postPublished` and `commentAdded`, through a real broker and through
//! the in-process bus.

use serde_json::{Value, json};
use tessera_tests::platform::Session;
use tessera_tests::{Broker, TestPlatform, WsClient};

use super::{PASSWORD, comment, draft, published};

const POST_PUBLISHED: &str =
    "subscription($a: ID) { postPublished(authorId: $a) { id title status author { id } } }";
const COMMENT_ADDED: &str =
    "subscription($p: ID!) { commentAdded(postId: $p) { id body author { id } parentId } }";

/// A post published while `ws` listens, as `postPublished` of operation `id` delivers it.
async fn published_post(ws: &mut WsClient, id: &str) -> Value {
    ws.payload_of(id).await["data"]["postPublished"].clone()
}

/// Subscribes to every published post (operation 1) and to `author`'s (operation 2); then
/// `other` and `author` each publish one post, in that order. The filtered subscription's
/// first post is the author's: the other one never came through.
async fn streams_published_posts_filtered_by_author(
    p: &TestPlatform,
    author: &Session,
    other: &Session,
) {
    let mut ws = WsClient::open(p, "blog", Some(&other.access)).await;
    ws.subscribe("1", POST_PUBLISHED, json!({})).await;
    ws.subscribe("2", POST_PUBLISHED, json!({ "a": author.user_id }))
        .await;
    p.wait_for_subscribers("blog", 2).await;

    let theirs = published(p, other, "Not by the author", &[]).await;
    let mine = published(p, author, "By the author", &[]).await;

    let first = published_post(&mut ws, "1").await;
    assert_eq!(first["id"], theirs.as_str(), "{first}");
    assert_eq!(first["status"], "PUBLISHED");
    assert_eq!(first["author"]["id"], other.user_id.as_str());
    assert_eq!(published_post(&mut ws, "1").await["id"], mine.as_str());
    let filtered = published_post(&mut ws, "2").await;
    assert_eq!(filtered["id"], mine.as_str(), "{filtered}");
    assert_eq!(filtered["title"], "By the author");

    // Completing one operation leaves the other subscribed.
    ws.send(json!({ "id": "2", "type": "complete" })).await;
    p.wait_for_subscribers("blog", 1).await;
}

#[tokio::test]
async fn post_published_streams_posts_from_the_broker_and_filters_by_author() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::with_broker(&broker).await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;
    streams_published_posts_filtered_by_author(&p, &ada, &bob).await;
    p.shutdown().await;
    drop(broker);
}

#[tokio::test]
async fn post_published_streams_posts_from_the_embedded_bus() {
    let p = TestPlatform::start().await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;
    streams_published_posts_filtered_by_author(&p, &ada, &bob).await;
    p.shutdown().await;
}

#[tokio::test]
async fn comment_added_streams_the_comments_of_one_visible_post() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::with_broker(&broker).await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;
    let watched = published(&p, &ada, "Watched", &[]).await;
    let elsewhere = published(&p, &ada, "Elsewhere", &[]).await;
    let hidden = draft(&p, &ada, "Hidden draft", &[]).await["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let mut ws = WsClient::open(&p, "blog", Some(&bob.access)).await;
    // Another author's draft is not bob's to watch.
    ws.subscribe("hidden", COMMENT_ADDED, json!({ "p": hidden }))
        .await;
    let refused = ws.payload_of("hidden").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    assert_eq!(ws.next_of("hidden").await["type"], "complete");

    ws.subscribe("1", COMMENT_ADDED, json!({ "p": watched }))
        .await;
    p.wait_for_subscribers("blog", 1).await;
    comment(&p, &bob, &elsewhere, "Not here", None).await.ok();
    let top = comment(&p, &bob, &watched, "First!", None).await.ok();
    let top = top.data("addComment.id").as_str().expect("id").to_owned();
    comment(&p, &ada, &watched, "Thanks", Some(&top)).await.ok();

    let first = ws.payload_of("1").await["data"]["commentAdded"].clone();
    assert_eq!(
        first,
        json!({ "id": top, "body": "First!", "author": { "id": bob.user_id }, "parentId": null })
    );
    let reply = ws.payload_of("1").await["data"]["commentAdded"].clone();
    assert_eq!(reply["body"], "Thanks", "{reply}");
    assert_eq!(reply["parentId"], top.as_str());
    p.shutdown().await;
    drop(broker);
}
