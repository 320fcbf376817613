//! The full graphql-js introspection query is answered, `__Type.isOneOf` included, and
//! `isOneOf` is answered wherever and however it is selected.

use serde_json::{Value, json};

use super::Harness;

const GRAPHQL_JS_INTROSPECTION: &str = include_str!("introspection-query.graphql");

fn type_named<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["types"]
        .as_array()
        .and_then(|types| types.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("__schema.types has {name}"))
}

#[tokio::test]
async fn answers_the_full_graphql_js_introspection_query() {
    let router = Harness::one_of().await;
    let response = router.post(GRAPHQL_JS_INTROSPECTION, json!({})).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    let schema = &response["data"]["__schema"];
    assert_eq!(
        schema["queryType"],
        json!({ "name": "Query", "kind": "OBJECT" })
    );

    let by = type_named(schema, "UserBy");
    assert_eq!(by["kind"], "INPUT_OBJECT");
    assert_eq!(by["isOneOf"], true);
    assert_eq!(
        by["description"],
        "How to find one user: by exactly one of these."
    );
    assert_eq!(type_named(schema, "Filter")["isOneOf"], false);
    assert_eq!(type_named(schema, "User")["isOneOf"], Value::Null);
    assert_eq!(type_named(schema, "String")["isOneOf"], Value::Null);
    assert_eq!(type_named(schema, "String")["specifiedByURL"], Value::Null);

    let is_one_of = type_named(schema, "__Type")["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["name"] == "isOneOf"))
        .expect("__Type describes isOneOf");
    assert_eq!(
        is_one_of["type"],
        json!({ "kind": "SCALAR", "name": "Boolean", "ofType": null })
    );

    let one_of = schema["directives"]
        .as_array()
        .and_then(|directives| directives.iter().find(|d| d["name"] == "oneOf"))
        .expect("__schema.directives lists @oneOf");
    assert_eq!(one_of["locations"], json!(["INPUT_OBJECT"]));
    assert_eq!(one_of["isRepeatable"], false);
    assert_eq!(router.fetches(), 0, "introspection reaches no subgraph");
}

#[tokio::test]
async fn the_platform_supergraph_answers_the_full_introspection_query() {
    let router = Harness::platform();
    let response = router.post(GRAPHQL_JS_INTROSPECTION, json!({})).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    let schema = &response["data"]["__schema"];
    let directives: Vec<&str> = schema["directives"]
        .as_array()
        .expect("directives")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    for name in ["include", "skip", "deprecated", "specifiedBy", "oneOf"] {
        assert!(directives.contains(&name), "{name} in {directives:?}");
    }
    // Every named type answers isOneOf: a boolean for input objects, null otherwise.
    for ty in schema["types"].as_array().expect("types") {
        let expected = ty["kind"] == "INPUT_OBJECT";
        assert_eq!(ty["isOneOf"].is_boolean(), expected, "{}", ty["name"]);
    }
}

#[tokio::test]
async fn is_one_of_is_answered_under_aliases_in_fragments_and_on_wrapper_types() {
    let router = Harness::one_of().await;
    let response = router
        .post(
            r#"query Shapes {
              filter: __type(name: "Filter") {
                oneOf: isOneOf
                ... on __Type { isOneOf }
                ...Fields
              }
              by: __type(name: "UserBy") { name: isOneOf isOneOf: name description }
              missing: __type(name: "Nope") { isOneOf }
            }
            fragment Fields on __Type {
              inputFields { name type { isOneOf kind ofType { isOneOf name ofType { isOneOf name } } } }
            }"#,
            json!({}),
        )
        .await;
    assert!(response.get("errors").is_none(), "{response:#}");
    let data = &response["data"];
    assert_eq!(data["filter"]["oneOf"], false);
    assert_eq!(data["filter"]["isOneOf"], false);
    let fields = &data["filter"]["inputFields"];
    assert_eq!(
        fields,
        &json!([
            { "name": "by", "type": { "isOneOf": true, "kind": "INPUT_OBJECT", "ofType": null } },
            { "name": "name", "type": { "isOneOf": null, "kind": "SCALAR", "ofType": null } },
            { "name": "any", "type": { "isOneOf": null, "kind": "LIST", "ofType": {
                "isOneOf": null, "name": null, "ofType": { "isOneOf": true, "name": "UserBy" } } } },
        ])
    );
    // A client's own alias is answered as asked, whatever it is called.
    assert_eq!(
        data["by"],
        json!({
            "name": true,
            "isOneOf": "UserBy",
            "description": "How to find one user: by exactly one of these."
        })
    );
    assert_eq!(data["missing"], Value::Null);
}
