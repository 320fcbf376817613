//! Which errors a response reports: every null the router finds is reported unless an error
//! at or below its position explains it, and a failed entity fetch names every object it
//! leaves without its fields.

use serde_json::{Value, json};
use tessera_router::compose::{SubgraphSdl, compose};
use tessera_router::config::GatewayConfig;

use super::{Answer, ask, scripted, start};

const USERS: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { user: User other: Int me: User! }
type User @key(fields: "id") { id: ID! name: String! }"#;

/// The router's answer to `query` when the one subgraph answers `response`.
async fn answer(response: Value, query: &str) -> Value {
    let (url, _) = scripted(move |_, _| Answer::json(response.clone())).await;
    let router = start(
        &crate::compose_one("users", &url, USERS),
        GatewayConfig::default(),
    )
    .await;
    let (_, answer) = ask(&router, query).await;
    router.shutdown().await;
    answer
}

fn subgraph_error(message: &str, path: Option<Value>) -> Value {
    let mut error = json!({ "message": message, "extensions": { "service": "users" } });
    if let Some(path) = path {
        error["path"] = path;
    }
    error
}

fn non_null(field: &str, path: Value) -> Value {
    json!({
        "message": format!("Cannot return null for non-nullable field {field}"),
        "path": path,
        "extensions": { "code": "RESPONSE_VALIDATION_FAILED" },
    })
}

#[tokio::test]
async fn a_null_is_reported_even_when_the_subgraph_erred_elsewhere() {
    let response = json!({
        "data": { "user": { "id": "1", "name": null }, "other": null },
        "errors": [{ "message": "other failed", "path": ["other"] }]
    });
    let answer = answer(response, "{ user { id name } other }").await;
    assert_eq!(
        answer,
        json!({
            "data": { "user": null, "other": null },
            "errors": [
                subgraph_error("other failed", Some(json!(["other"]))),
                non_null("User.name", json!(["user", "name"])),
            ]
        })
    );
}

#[tokio::test]
async fn an_error_at_the_null_or_below_it_explains_it() {
    // At the position itself.
    let response = json!({
        "data": { "user": { "id": "1", "name": null } },
        "errors": [{ "message": "no name", "path": ["user", "name"] }]
    });
    let at = answer(response, "{ user { id name } }").await;
    assert_eq!(
        at,
        json!({
            "data": { "user": null },
            "errors": [subgraph_error("no name", Some(json!(["user", "name"])))]
        })
    );
    // Below it: the subgraph propagated the null up to `me` itself.
    let response = json!({
        "data": { "me": null },
        "errors": [{ "message": "no name", "path": ["me", "name"] }]
    });
    let below = answer(response, "{ me { id name } }").await;
    assert_eq!(
        below,
        json!({
            "data": null,
            "errors": [subgraph_error("no name", Some(json!(["me", "name"])))]
        })
    );
}

#[tokio::test]
async fn an_error_without_a_path_explains_no_null_and_one_above_it_does() {
    let response = json!({
        "data": { "user": { "id": "1", "name": null } },
        "errors": [{ "message": "something went wrong" }]
    });
    let got = answer(response, "{ user { id name } }").await;
    assert_eq!(
        got,
        json!({
            "data": { "user": null },
            "errors": [
                subgraph_error("something went wrong", None),
                non_null("User.name", json!(["user", "name"])),
            ]
        })
    );
    // An error at the object (a fetch that failed for it) explains the nulls inside it.
    let response = json!({
        "data": { "user": { "id": "1", "name": null } },
        "errors": [{ "message": "above", "path": ["user"] }]
    });
    let got = answer(response, "{ user { id name } }").await;
    assert_eq!(
        got,
        json!({
            "data": { "user": null },
            "errors": [subgraph_error("above", Some(json!(["user"])))]
        })
    );
}

const POSTS: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { posts: [Post] }
type Post @key(fields: "id") { id: ID! author: User }
type User @key(fields: "id") { id: ID! }"#;

const NAMES: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type User @key(fields: "id") { id: ID! name: String }"#;

/// Three posts by two authors; the names subgraph answers every `_entities` fetch with
/// `names`. The response, and how often the names subgraph was asked.
async fn posts_and_names(names: Answer) -> (Value, usize) {
    let (posts, _) = scripted(|_, _| {
        Answer::json(json!({ "data": { "posts": [
            { "id": "p1", "author": { "__typename": "User", "id": "u1" } },
            { "id": "p2", "author": { "__typename": "User", "id": "u2" } },
            { "id": "p3", "author": { "__typename": "User", "id": "u1" } },
        ] } }))
    })
    .await;
    let names = std::sync::Mutex::new(Some(names));
    let (names, count) = scripted(move |_, _| {
        names
            .lock()
            .expect("lock")
            .take()
            .expect("one entity fetch")
    })
    .await;
    let supergraph = compose(&[
        SubgraphSdl {
            name: "posts".to_owned(),
            url: posts,
            sdl: POSTS.to_owned(),
        },
        SubgraphSdl {
            name: "names".to_owned(),
            url: names,
            sdl: NAMES.to_owned(),
        },
    ])
    .expect("composes");
    let router = start(&supergraph, GatewayConfig::default()).await;
    let (_, answer) = ask(&router, "{ posts { id author { id name } } }").await;
    router.shutdown().await;
    (answer, count.load(std::sync::atomic::Ordering::SeqCst))
}

fn authors(names: [Value; 3]) -> Value {
    let [a, b, c] = names;
    json!({ "posts": [
        { "id": "p1", "author": { "id": "u1", "name": a } },
        { "id": "p2", "author": { "id": "u2", "name": b } },
        { "id": "p3", "author": { "id": "u1", "name": c } },
    ] })
}

fn each_author(error: impl Fn(Value) -> Value) -> Value {
    json!([
        error(json!(["posts", 0, "author"])),
        error(json!(["posts", 1, "author"])),
        error(json!(["posts", 2, "author"])),
    ])
}

#[tokio::test]
async fn a_failed_entity_fetch_is_reported_at_every_object() {
    let (answer, calls) = posts_and_names(Answer {
        status: 502,
        ..Answer::json(json!("bad gateway"))
    })
    .await;
    assert_eq!(calls, 1, "one batch for both authors");
    assert_eq!(
        answer["data"],
        authors([Value::Null, Value::Null, Value::Null])
    );
    assert_eq!(
        answer["errors"],
        each_author(|path| json!({
            "message": "subgraph names returned an invalid GraphQL response: the body is not a JSON object",
            "path": path,
            "extensions": { "code": "SUBGRAPH_RESPONSE_INVALID", "service": "names" }
        }))
    );
}

#[tokio::test]
async fn an_entity_error_without_a_path_is_every_objects() {
    let (answer, _) = posts_and_names(Answer::json(json!({
        "data": { "_entities": [null, { "__typename": "User", "name": "Bo" }] },
        "errors": [{ "message": "partly down", "extensions": { "code": "DOWN" } }]
    })))
    .await;
    assert_eq!(
        answer["data"],
        authors([Value::Null, json!("Bo"), Value::Null])
    );
    assert_eq!(
        answer["errors"],
        each_author(|path| json!({
            "message": "partly down",
            "path": path,
            "extensions": { "code": "DOWN", "service": "names" }
        }))
    );
}

#[tokio::test]
async fn an_entity_error_with_a_path_is_at_each_object_it_stands_for() {
    let (answer, _) = posts_and_names(Answer::json(json!({
        "data": { "_entities": [{ "__typename": "User", "name": null }, { "__typename": "User", "name": "Bo" }] },
        "errors": [{ "message": "no name", "path": ["_entities", 0, "name"] }]
    })))
    .await;
    assert_eq!(
        answer["data"],
        authors([Value::Null, json!("Bo"), Value::Null])
    );
    assert_eq!(
        answer["errors"],
        json!([
            { "message": "no name", "path": ["posts", 0, "author", "name"], "extensions": { "service": "names" } },
            { "message": "no name", "path": ["posts", 2, "author", "name"], "extensions": { "service": "names" } },
        ])
    );
}

#[tokio::test]
async fn an_error_outside_the_calls_of_a_combined_request_is_each_objects_once() {
    const NICKS: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type User @key(fields: "id") { id: ID! name: String nick: String }"#;
    let (posts, _) = scripted(|_, _| {
        Answer::json(json!({ "data": { "posts": [
            { "id": "p1", "author": { "__typename": "User", "id": "u1" }, "editor": { "__typename": "User", "id": "u2" } },
            { "id": "p2", "author": { "__typename": "User", "id": "u2" }, "editor": { "__typename": "User", "id": "u2" } },
        ] } }))
    })
    .await;
    // One request with two calls (the authors' names, the editors' nicks), and an error the
    // subgraph did not place under either.
    let (names, count) = scripted(|_, body| {
        let body: Value = serde_json::from_str(body).expect("JSON");
        let query = body["query"].as_str().unwrap_or_default();
        let answer = |call: &str| {
            let field = if query.split(&format!("{call}:_entities")).nth(1).is_some_and(|rest| {
                rest.split("_entities").next().is_some_and(|own| own.contains("nick"))
            }) {
                "nick"
            } else {
                "name"
            };
            let variable = query
                .split(&format!("{call}:_entities(representations:$"))
                .nth(1)
                .and_then(|rest| rest.split(')').next())
                .unwrap_or_default();
            let entities: Vec<Value> = body["variables"][variable]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| json!({ "__typename": "User", field: format!("{field} of {}", r["id"].as_str().unwrap_or("")) }))
                .collect();
            Value::Array(entities)
        };
        Answer::json(json!({
            "data": { "_0": answer("_0"), "_1": answer("_1") },
            "errors": [{ "message": "slow today" }]
        }))
    })
    .await;
    let posts_sdl = POSTS.replace("author: User }", "author: User editor: User }");
    let supergraph = compose(&[
        SubgraphSdl {
            name: "posts".to_owned(),
            url: posts,
            sdl: posts_sdl,
        },
        SubgraphSdl {
            name: "names".to_owned(),
            url: names,
            sdl: NICKS.to_owned(),
        },
    ])
    .expect("composes");
    let router = start(&supergraph, GatewayConfig::default()).await;
    let (_, answer) = ask(&router, "{ posts { author { name } editor { nick } } }").await;
    router.shutdown().await;
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "{answer}"
    );
    assert_eq!(
        answer["data"],
        json!({ "posts": [
            { "author": { "name": "name of u1" }, "editor": { "nick": "nick of u2" } },
            { "author": { "name": "name of u2" }, "editor": { "nick": "nick of u2" } },
        ] }),
        "{answer}"
    );
    let mut paths: Vec<String> = answer["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            assert_eq!(e["message"], "slow today", "{answer}");
            e["path"].to_string()
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            r#"["posts",0,"author"]"#,
            r#"["posts",0,"editor"]"#,
            r#"["posts",1,"author"]"#,
            r#"["posts",1,"editor"]"#,
        ]
    );
}

#[tokio::test]
async fn a_failed_root_fetch_is_one_error_at_its_root_field() {
    let (url, _) = scripted(|_, _| Answer {
        status: 500,
        ..Answer::json(json!("oops"))
    })
    .await;
    let router = start(
        &crate::compose_one("users", &url, USERS),
        GatewayConfig::default(),
    )
    .await;
    let (_, answer) = ask(&router, "{ me { id } }").await;
    router.shutdown().await;
    assert_eq!(
        answer,
        json!({
            "data": null,
            "errors": [{
                "message": "subgraph users returned an invalid GraphQL response: the body is not a JSON object",
                "path": ["me"],
                "extensions": { "code": "SUBGRAPH_RESPONSE_INVALID", "service": "users" }
            }]
        })
    );
}

/// A supergraph where `viewer`, a value type, has field `a` in `left` and `b` in `right`.
fn split_viewer(left: &str, right: &str) -> String {
    format!(
        r#"schema @link(url: "https://specs.apollo.dev/link/v1.0") @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) {{ query: Query }}
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose {{ SECURITY EXECUTION }}
enum join__Graph {{ LEFT @join__graph(name: "left", url: "{left}") RIGHT @join__graph(name: "right", url: "{right}") }}
type Query @join__type(graph: LEFT) @join__type(graph: RIGHT) {{ viewer: Viewer }}
type Viewer @join__type(graph: LEFT) @join__type(graph: RIGHT) {{ a: Int @join__field(graph: LEFT) b: Int! @join__field(graph: RIGHT) }}
"#
    )
}

#[tokio::test]
async fn a_root_field_one_of_its_subgraphs_failed_is_null_whatever_the_others_answered() {
    // `viewer`'s parts are asked of both subgraphs, and `left` fails it, at the field or
    // below it, or fails the whole request. The one field of the response then has an error,
    // and so is null, even though `right` answered its part.
    let failures = [
        (
            json!({ "data": { "viewer": null }, "errors": [{ "message": "left failed", "path": ["viewer"] }] }),
            200,
        ),
        (
            json!({ "data": { "viewer": null }, "errors": [{ "message": "left failed", "path": ["viewer", "a"] }] }),
            200,
        ),
        (json!("oops"), 500),
    ];
    for (failure, status) in failures {
        let (left, _) = scripted(move |_, _| Answer {
            status,
            ..Answer::json(failure.clone())
        })
        .await;
        let (right, _) =
            scripted(|_, _| Answer::json(json!({ "data": { "viewer": { "b": 2 } } }))).await;
        let router = start(&split_viewer(&left, &right), GatewayConfig::default()).await;
        for query in ["{ viewer { a b } }", "{ viewer { b a } }"] {
            let (_, answer) = ask(&router, query).await;
            assert_eq!(
                answer["data"],
                json!({ "viewer": null }),
                "{query}: {answer}"
            );
            let errors = answer["errors"].as_array().expect("errors");
            assert_eq!(errors.len(), 1, "{query}: {answer}");
            assert_eq!(errors[0]["extensions"]["service"], "left", "{answer}");
        }
        router.shutdown().await;
    }
}
