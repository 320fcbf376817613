//! Multipart subscriptions as Apollo Client's HTTP link (and meros-style readers) read them:
//! the body is split on the delimiter `\r\n--graphql`, and a part is handed over only once the
//! delimiter after it has arrived. Each part must therefore come with its closing delimiter,
//! or it waits for the next event or heartbeat.

use std::time::Duration;

use serde_json::Value;

use crate::subscriptions::{SUBSCRIPTION, Streamed, eventually, setup};

/// Splits a streamed multipart body the way delimiter-splitting readers do.
struct Parts {
    stream: Streamed,
    /// Bytes after the last delimiter seen.
    rest: String,
}

const DELIMITER: &str = "\r\n--graphql";

impl Parts {
    async fn open(router: &tessera_router::server::RouterServer) -> Parts {
        let stream = Streamed::open(
            router,
            "multipart/mixed;boundary=\"graphql\";subscriptionSpec=1.0,application/json",
            SUBSCRIPTION,
            &[],
        )
        .await;
        assert_eq!(stream.response.status(), 200);
        Parts {
            stream,
            rest: String::new(),
        }
    }

    /// The next complete part's JSON body, read within `wait`; `None` when the body ended.
    /// Panics when no part is complete in time, which is what a part sent without its
    /// closing delimiter looks like to these readers.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(at) = self.rest.find(DELIMITER) {
                let message = self.rest[..at].to_owned();
                self.rest = self.rest[at + DELIMITER.len()..].to_owned();
                if let Some((headers, body)) = message.split_once("\r\n\r\n") {
                    assert!(
                        headers.to_ascii_lowercase().contains("application/json"),
                        "{headers:?}"
                    );
                    return Some(serde_json::from_str(body).expect("a JSON part"));
                }
                assert!(message.trim().is_empty(), "stray bytes {message:?}");
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.response.chunk())
                .await
                .unwrap_or_else(|_| {
                    panic!("no complete part in time; waiting with {:?}", self.rest)
                })
                .expect("body");
            match chunk {
                Some(chunk) => self.rest.push_str(&String::from_utf8_lossy(&chunk)),
                None => return None,
            }
        }
    }
}

#[tokio::test]
async fn every_multipart_part_is_complete_before_the_next_event() {
    // Heartbeats far apart, so that none can push a part out.
    let s =
        setup("subscriptions:\n  keepalive_ms: 600000\n  on_subgraph_disconnect: error\n").await;
    let mut parts = Parts::open(&s.router).await;
    let wait = Duration::from_secs(5);

    // The opening heartbeat is readable at once, before any event.
    assert_eq!(parts.next(wait).await, Some(serde_json::json!({})));

    eventually("the router subscribes at the subgraph", || {
        s.posts.subscribes() == 1
    })
    .await;
    for title in ["first", "second"] {
        // Event N is published alone: the next one only after N was read whole.
        s.posts.publish(title, title);
        let part = parts.next(wait).await.expect("a part");
        assert_eq!(
            part["payload"]["data"]["postAdded"]["title"], title,
            "{part}"
        );
    }

    // The final part, an error, is complete too, and the close delimiter follows it.
    let _ = s.posts.kick.send(());
    let last = parts.next(wait).await.expect("the final part");
    assert_eq!(last["payload"], Value::Null, "{last}");
    assert_eq!(
        last["errors"][0]["extensions"]["code"],
        "SUBSCRIPTION_SUBGRAPH_DISCONNECTED"
    );
    assert_eq!(parts.next(wait).await, None);
    assert_eq!(
        parts.rest, "--\r\n",
        "the body ends with the close delimiter"
    );
}
