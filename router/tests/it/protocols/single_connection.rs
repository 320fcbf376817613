//! GraphQL over SSE's single connection mode, as graphql-sse's client speaks it: a `PUT`
//! reservation, one event stream, operations started with `POST` and stopped with `DELETE`,
//! each carrying the reservation's token; the reservation bound to the caller who made it,
//! bounded, and expiring when never opened.

use std::time::Duration;

use serde_json::{Value, json};
use tessera_router::server::RouterServer;

use crate::edge::{Key, claims, jwks_file, jwt_config};
use crate::subscriptions::{SUBSCRIPTION, Streamed, eventually, setup};

const TOKEN: &str = "x-graphql-event-stream-token";

/// A client of one router, with the caller's `Authorization` (if any).
struct Client {
    http: reqwest::Client,
    url: String,
    authorization: Option<String>,
}

impl Client {
    fn new(router: &RouterServer, token: Option<&str>) -> Client {
        Client {
            http: reqwest::Client::new(),
            url: format!("{}/graphql", router.url()),
            authorization: token.map(|t| format!("Bearer {t}")),
        }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.authorization {
            Some(value) => request.header("authorization", value),
            None => request,
        }
    }

    /// `PUT`: the status and the body (the token when 201).
    async fn reserve(&self) -> (u16, String) {
        let response = self
            .request(reqwest::Method::PUT, &self.url)
            .send()
            .await
            .expect("answer");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// `GET` with `Accept: text/event-stream` and `token` in the header.
    async fn connect(&self, token: &str) -> Streamed {
        let response = self
            .request(reqwest::Method::GET, &self.url)
            .header("accept", "text/event-stream")
            .header(TOKEN, token)
            .send()
            .await
            .expect("answer");
        Streamed {
            response,
            buffer: String::new(),
        }
    }

    /// `POST` of `query` as operation `id` (none when `None`): the status and error code.
    async fn execute(&self, token: &str, id: Option<&str>, query: &str) -> (u16, Value) {
        let mut body = json!({ "query": query });
        if let Some(id) = id {
            body["extensions"] = json!({ "operationId": id });
        }
        let response = self
            .request(reqwest::Method::POST, &self.url)
            .header(TOKEN, token)
            .json(&body)
            .send()
            .await
            .expect("answer");
        answer(response).await
    }

    /// `DELETE ?operationId=id`: the status and error code.
    async fn stop(&self, token: &str, id: &str) -> (u16, Value) {
        let response = self
            .request(
                reqwest::Method::DELETE,
                &format!("{}?operationId={id}", self.url),
            )
            .header(TOKEN, token)
            .send()
            .await
            .expect("answer");
        answer(response).await
    }
}

/// The status and the first error's code (null without errors).
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["errors"][0]["extensions"]["code"].clone())
}

/// The data of the stream's next `event` of operation `id`, after the `read` bytes already
/// looked at.
async fn event(stream: &mut Streamed, read: &mut usize, event: &str, id: &str) -> Value {
    let head = format!("event: {event}\ndata: ");
    let needle = format!("{head}{{\"id\":\"{id}\"");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = stream.buffer[*read..].find(&needle) {
            let data = &stream.buffer[*read + found + head.len()..];
            if let Some(end) = data.find("\n\n") {
                let value = serde_json::from_str(&data[..end]).expect("JSON data");
                *read += found + head.len() + end;
                return value;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, stream.response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in time; got {:?}", stream.buffer))
            .expect("body")
            .unwrap_or_else(|| panic!("the stream ended without {needle:?}"));
        stream.buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn one_stream_carries_subscriptions_and_queries() {
    let s = setup("").await;
    let client = Client::new(&s.router, None);
    let (status, token) = client.reserve().await;
    assert_eq!(status, 201);
    assert!(token.len() >= 32, "{token}");

    // An operation may start before the stream opens: its events wait for it.
    assert_eq!(
        client.execute(&token, Some("sub"), SUBSCRIPTION).await,
        (202, Value::Null)
    );
    eventually("the router subscribes at the subgraph", || {
        s.posts.subscribes() == 1
    })
    .await;
    s.posts.publish("early", "early");

    let mut stream = client.connect(&token).await;
    assert_eq!(stream.response.status(), 200);
    assert_eq!(
        stream.response.headers()["content-type"],
        "text/event-stream"
    );
    // Only one stream per reservation.
    let again = client.connect(&token).await;
    assert_eq!(
        answer(again.response).await,
        (409, json!("STREAM_ALREADY_OPEN"))
    );

    let mut read = 0;
    let next = event(&mut stream, &mut read, "next", "sub").await;
    assert_eq!(
        next,
        json!({ "id": "sub", "payload": { "data": { "postAdded": { "title": "early", "author": { "name": "Name of u-early" } } } } })
    );
    s.posts.publish("later", "later");
    let next = event(&mut stream, &mut read, "next", "sub").await;
    assert_eq!(next["payload"]["data"]["postAdded"]["title"], "later");

    // A query sends its result and completes, on the same stream.
    assert_eq!(
        client.execute(&token, Some("q"), "{ __typename }").await,
        (202, Value::Null)
    );
    let result = event(&mut stream, &mut read, "next", "q").await;
    assert_eq!(
        result,
        json!({ "id": "q", "payload": { "data": { "__typename": "Query" } } })
    );
    assert_eq!(
        event(&mut stream, &mut read, "complete", "q").await,
        json!({ "id": "q" })
    );

    // Refusals before anything runs are HTTP errors; nothing goes to the stream.
    assert_eq!(
        client.execute(&token, Some("bad"), "{ nope }").await,
        (400, json!("GRAPHQL_VALIDATION_FAILED"))
    );
    assert_eq!(
        client.execute(&token, None, "{ __typename }").await,
        (400, json!("BAD_REQUEST"))
    );
    assert_eq!(
        client.execute(&token, Some("sub"), SUBSCRIPTION).await,
        (409, json!("OPERATION_ID_IN_USE"))
    );
    assert_eq!(
        client.execute("made-up", Some("x"), "{ __typename }").await,
        (404, json!("STREAM_NOT_FOUND"))
    );

    // DELETE stops the subscription; the channel to the subgraph closes.
    assert_eq!(client.stop(&token, "sub").await, (200, Value::Null));
    eventually("the subscription stops", || {
        s.router.engine().load().subscriptions.open() == 0
    })
    .await;

    // The stream's end ends the reservation.
    assert_eq!(
        client.execute(&token, Some("sub2"), SUBSCRIPTION).await,
        (202, Value::Null)
    );
    eventually("the router subscribes again", || s.posts.subscribes() == 2).await;
    drop(stream);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while client
        .execute(&token, Some("after"), "{ __typename }")
        .await
        != (404, json!("STREAM_NOT_FOUND"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reservation stays"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eventually("its operations end", || {
        s.router.engine().load().subscriptions.open() == 0
    })
    .await;
}

#[tokio::test]
async fn the_stream_can_be_opened_with_the_token_in_the_url() {
    let s = setup("").await;
    let client = Client::new(&s.router, None);
    let (_, token) = client.reserve().await;
    let response = reqwest::Client::new()
        .get(format!("{}/graphql?token={token}", s.router.url()))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("answer");
    let mut stream = Streamed {
        response,
        buffer: String::new(),
    };
    assert_eq!(stream.response.status(), 200);
    // It opens with a comment, so that browsers see it open.
    assert_eq!(stream.until(":\n\n").await, ":\n\n");
    assert_eq!(
        client.execute(&token, Some("q"), "{ __typename }").await,
        (202, Value::Null)
    );
    let mut read = 0;
    assert_eq!(
        event(&mut stream, &mut read, "complete", "q").await,
        json!({ "id": "q" })
    );
}

#[tokio::test]
async fn a_reservation_serves_only_the_caller_who_made_it() {
    let key = Key::new("k1", 9);
    let jwks = jwks_file(&[&key]);
    let s = setup(&jwt_config(jwks.path(), "")).await;
    let ann = key.sign(&claims("ann", ""));
    let bob = key.sign(&claims("bob", ""));
    let owner = Client::new(&s.router, Some(&ann));
    let (status, token) = owner.reserve().await;
    assert_eq!(status, 201);

    for other in [
        Client::new(&s.router, None),
        Client::new(&s.router, Some(&bob)),
    ] {
        let stream = other.connect(&token).await;
        assert_eq!(
            answer(stream.response).await,
            (403, json!("STREAM_FORBIDDEN"))
        );
        assert_eq!(
            other.execute(&token, Some("1"), "{ __typename }").await,
            (403, json!("STREAM_FORBIDDEN"))
        );
        assert_eq!(
            other.stop(&token, "1").await,
            (403, json!("STREAM_FORBIDDEN"))
        );
    }
    // A token that does not verify is refused as anywhere else.
    let forged = Client::new(&s.router, Some("not-a-token"));
    assert_eq!(
        forged.execute(&token, Some("1"), "{ __typename }").await,
        (401, json!("TOKEN_MALFORMED"))
    );

    let mut stream = owner.connect(&token).await;
    assert_eq!(stream.response.status(), 200);
    assert_eq!(
        owner.execute(&token, Some("1"), "{ __typename }").await,
        (202, Value::Null)
    );
    let mut read = 0;
    assert_eq!(
        event(&mut stream, &mut read, "next", "1").await["payload"],
        json!({ "data": { "__typename": "Query" } })
    );
}

#[tokio::test]
async fn reservations_are_bounded_and_expire_when_never_opened() {
    let s = setup(
        "subscriptions:\n  max_per_connection: 1\n  single_connection:\n    max_reservations: 2\n    reservation_timeout_ms: 300\n",
    )
    .await;
    let client = Client::new(&s.router, None);
    let (_, first) = client.reserve().await;
    let (_, second) = client.reserve().await;
    assert_eq!(
        client.reserve().await.0,
        503,
        "the third waiting reservation is refused"
    );

    // Operations per stream are bounded too.
    assert_eq!(
        client.execute(&first, Some("a"), SUBSCRIPTION).await,
        (202, Value::Null)
    );
    assert_eq!(
        client.execute(&first, Some("b"), SUBSCRIPTION).await,
        (429, json!("TOO_MANY_OPERATIONS"))
    );
    eventually("the subscription is open", || {
        s.router.engine().load().subscriptions.open() == 1
    })
    .await;

    // Never opened: both expire, with the operation started on the first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for token in [&first, &second] {
        let stream = client.connect(token).await;
        assert_eq!(
            answer(stream.response).await,
            (404, json!("STREAM_NOT_FOUND"))
        );
    }
    eventually("the expired reservation's operation ends", || {
        s.router.engine().load().subscriptions.open() == 0
    })
    .await;
    // Their places are free again.
    assert_eq!(client.reserve().await.0, 201);
    assert_eq!(client.reserve().await.0, 201);
}

#[tokio::test]
async fn one_client_cannot_take_every_waiting_reservation() {
    let key = Key::new("k1", 9);
    let jwks = jwks_file(&[&key]);
    let s = setup(&jwt_config(
        jwks.path(),
        "subscriptions:\n  single_connection:\n    max_reservations: 10\n    max_reservations_per_client: 2\n",
    ))
    .await;
    let anonymous = Client::new(&s.router, None);
    let (_, first) = anonymous.reserve().await;
    assert_eq!(anonymous.reserve().await.0, 201);
    let refused = anonymous.reserve().await;
    assert_eq!(refused.0, 503, "{}", refused.1);

    // Another caller still gets its places, and their own cap.
    let ann = Client::new(&s.router, Some(&key.sign(&claims("ann", ""))));
    assert_eq!(ann.reserve().await.0, 201);
    assert_eq!(ann.reserve().await.0, 201);
    assert_eq!(ann.reserve().await.0, 503);

    // A stream that opens gives its place back.
    let stream = anonymous.connect(&first).await;
    assert_eq!(stream.response.status(), 200);
    assert_eq!(anonymous.reserve().await.0, 201);
    assert_eq!(anonymous.reserve().await.0, 503);
}

#[tokio::test]
async fn an_operation_whose_request_is_cancelled_frees_its_place() {
    let (router, subgraph) = crate::edge::router("subscriptions:\n  max_per_connection: 1\n").await;
    let client = Client::new(&router, None);
    let (_, token) = client.reserve().await;
    let mut stream = client.connect(&token).await;
    assert_eq!(stream.response.status(), 200);

    // The client gives up while the subgraph is still answering.
    *subgraph.delay.lock().expect("lock") = Duration::from_secs(5);
    // Over HTTP/2, where giving up resets the request's stream and the router drops it.
    let http2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let cancelled = http2
        .post(&client.url)
        .header(TOKEN, &token)
        .json(&json!({ "query": "{ public }", "extensions": { "operationId": "1" } }))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(cancelled.is_err(), "{cancelled:?}");
    assert_eq!(subgraph.count(), 1, "the operation was being prepared");
    *subgraph.delay.lock().expect("lock") = Duration::ZERO;

    // Its id and its place are free again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = client.execute(&token, Some("1"), "{ __typename }").await;
        if answer == (202, Value::Null) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{answer:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut read = 0;
    assert_eq!(
        event(&mut stream, &mut read, "next", "1").await["payload"]["data"]["__typename"],
        "Query"
    );
}

#[tokio::test]
async fn only_a_few_operations_start_before_the_stream_opens() {
    let s = setup("").await;
    let client = Client::new(&s.router, None);
    let (_, token) = client.reserve().await;
    for id in ["1", "2", "3", "4"] {
        assert_eq!(
            client.execute(&token, Some(id), "{ __typename }").await,
            (202, Value::Null),
            "{id}"
        );
    }
    // Their results wait for the stream, so no more start until it opens.
    assert_eq!(
        client.execute(&token, Some("5"), "{ __typename }").await,
        (409, json!("STREAM_NOT_OPEN"))
    );
    let mut stream = client.connect(&token).await;
    assert_eq!(stream.response.status(), 200);
    for id in ["1", "2", "3", "4"] {
        // In whatever order they arrive.
        let mut read = 0;
        assert_eq!(
            event(&mut stream, &mut read, "complete", id).await,
            json!({ "id": id })
        );
    }
    for id in ["5", "6", "7", "8", "9"] {
        assert_eq!(
            client.execute(&token, Some(id), "{ __typename }").await,
            (202, Value::Null),
            "{id}"
        );
    }
}

#[tokio::test]
async fn a_token_parameter_makes_only_an_event_stream_get_single_connection() {
    let s = setup("").await;
    let http = reqwest::Client::new();
    let base = format!("{}/graphql", s.router.url());

    // An ordinary GET or POST that happens to have a `token` parameter stays one.
    let response = http
        .get(format!("{base}?query=%7B__typename%7D&token=x"))
        .header("x-tessera-csrf", "1")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["data"]["__typename"], "Query");
    let response = http
        .post(format!("{base}?token=x"))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["data"]["__typename"], "Query");
    // A browser's GET keeps the playground.
    let response = http
        .get(format!("{base}?token=x"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/html")
    );
    // The event stream's GET with it is the single connection mode's.
    let response = http
        .get(format!("{base}?token=x"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("answer");
    assert_eq!(answer(response).await, (404, json!("STREAM_NOT_FOUND")));
}

#[tokio::test]
async fn without_the_mode_put_and_delete_are_methods_graphql_does_not_take() {
    let s = setup("subscriptions:\n  single_connection:\n    enabled: false\n").await;
    let client = Client::new(&s.router, None);
    for method in [reqwest::Method::PUT, reqwest::Method::DELETE] {
        let response = client
            .request(method.clone(), &format!("{}?operationId=1", client.url))
            .header(TOKEN, "x")
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status().as_u16(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "GET, POST", "{method}");
        assert_eq!(answer(response).await.1, json!("METHOD_NOT_ALLOWED"));
    }
}
