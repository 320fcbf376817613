//! `@context` / `@fromContext`: a field argument whose value is read on the nearest ancestor
//! that sets the context. The composition library does not write context arguments, so the
//! supergraph is written here as Federation 2.8 composes it. The field is fetched as an entity
//! field with the value passed as a variable; the value may come from another subgraph than
//! the field's; objects whose values differ are sent in separate `_entities` calls (of one
//! request), objects sharing them in one.

use serde_json::{Value, json};
use tessera_router::compose::SubgraphSdl;
use tessera_tests::federation::{Federation, Subgraph};

/// Shops, their currency and their products; a product's price and label read the shop's
/// currency and locale, which the router passes in.
mod catalog {
    use async_graphql::{ComplexObject, ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    #[graphql(complex)]
    pub struct Shop {
        id: ID,
        name: String,
        currency: String,
        #[graphql(skip)]
        products: Vec<&'static str>,
    }

    #[ComplexObject]
    impl Shop {
        async fn products(&self) -> Vec<Product> {
            self.products.iter().filter_map(|id| product(id)).collect()
        }
    }

    #[derive(Clone)]
    pub struct Product {
        id: ID,
        name: &'static str,
        cents: i32,
    }

    #[Object]
    impl Product {
        async fn id(&self) -> &ID {
            &self.id
        }

        async fn name(&self) -> &str {
            self.name
        }

        async fn price(&self, currency: Option<String>) -> String {
            format!("{} {}", self.cents, currency.as_deref().unwrap_or("?"))
        }

        async fn label(&self, locale: Option<String>) -> String {
            format!("{} ({})", self.name, locale.as_deref().unwrap_or("?"))
        }
    }

    fn product(id: &str) -> Option<Product> {
        let (name, cents) = match id {
            "p1" => ("Teapot", 4000),
            "p2" => ("Kettle", 6000),
            "p3" => ("Cup", 500),
            _ => return None,
        };
        Some(Product {
            id: id.into(),
            name,
            cents,
        })
    }

    fn shops() -> Vec<Shop> {
        let shop = |id: &str, name: &str, currency: &str, products: Vec<&'static str>| Shop {
            id: id.into(),
            name: name.into(),
            currency: currency.into(),
            products,
        };
        vec![
            shop("s1", "Tea House", "EUR", vec!["p1"]),
            shop("s2", "Kettle Co", "USD", vec!["p2", "p3"]),
            shop("s3", "Cup Corner", "USD", vec!["p3"]),
        ]
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn shops(&self) -> Vec<Shop> {
            shops()
        }

        /// Forty shops, each with a currency of its own.
        async fn chain(&self) -> Vec<Shop> {
            (0..40)
                .map(|i| Shop {
                    id: format!("c{i}").into(),
                    name: format!("Branch {i}"),
                    currency: format!("C{i}"),
                    products: vec!["p1"],
                })
                .collect()
        }

        /// A shop the region knows no locale for.
        async fn pop_up(&self) -> Shop {
            Shop {
                id: "s4".into(),
                name: "Pop-up".into(),
                currency: "EUR".into(),
                products: vec!["p1"],
            }
        }

        #[graphql(entity)]
        async fn shop(&self, id: ID) -> Option<Shop> {
            shops().into_iter().find(|s| s.id == id)
        }

        #[graphql(entity)]
        async fn product(&self, id: ID) -> Option<Product> {
            product(&id)
        }
    }
}

/// Where each shop is: its locale.
mod region {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject)]
    pub struct Shop {
        id: ID,
        locale: Option<String>,
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn shop(&self, id: ID) -> Option<Shop> {
            let locale = match id.as_str() {
                "s1" => Some("de-DE"),
                "s2" | "s3" => Some("en-US"),
                "s4" => None,
                _ => return None,
            };
            Some(Shop {
                id,
                locale: locale.map(Into::into),
            })
        }
    }
}

/// The supergraph of the two, with `Shop` setting the context `shop` that `Product.price`
/// and `Product.label` read in the catalog.
fn supergraph(sdls: &[SubgraphSdl]) -> anyhow::Result<String> {
    let url = |name: &str| {
        sdls.iter()
            .find(|s| s.name == name)
            .map(|s| s.url.clone())
            .ok_or_else(|| anyhow::anyhow!("no subgraph {name}"))
    };
    Ok(format!(
        r#"schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/context/v0.1", for: SECURITY)
{{
  query: Query
}}

directive @context(name: String!) repeatable on INTERFACE | OBJECT | UNION
directive @context__fromContext(field: context__ContextFieldValue) on ARGUMENT_DEFINITION
directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean, overrideLabel: String, contextArguments: [join__ContextArgument!]) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

scalar context__ContextFieldValue

input join__ContextArgument {{
  name: String!
  type: String!
  context: String!
  selection: join__FieldValue!
}}

scalar join__FieldSet
scalar join__FieldValue

enum join__Graph {{
  CATALOG @join__graph(name: "catalog", url: "{catalog}")
  REGION @join__graph(name: "region", url: "{region}")
}}

scalar link__Import

enum link__Purpose {{
  SECURITY
  EXECUTION
}}

type Query @join__type(graph: CATALOG) @join__type(graph: REGION) {{
  shops: [Shop!]! @join__field(graph: CATALOG)
  popUp: Shop @join__field(graph: CATALOG)
  chain: [Shop!]! @join__field(graph: CATALOG)
}}

type Shop
  @join__type(graph: CATALOG, key: "id")
  @join__type(graph: REGION, key: "id")
  @context(name: "catalog__shop")
{{
  id: ID!
  name: String! @join__field(graph: CATALOG)
  currency: String! @join__field(graph: CATALOG)
  locale: String @join__field(graph: CATALOG, external: true) @join__field(graph: REGION)
  products: [Product!]! @join__field(graph: CATALOG)
}}

type Product @join__type(graph: CATALOG, key: "id") {{
  id: ID!
  name: String!
  price: String! @join__field(graph: CATALOG, contextArguments: [{{context: "catalog__shop", name: "currency", type: "String", selection: "{{ currency }}"}}])
  label: String! @join__field(graph: CATALOG, contextArguments: [{{context: "catalog__shop", name: "locale", type: "String!", selection: "{{ locale }}"}}])
}}
"#,
        catalog = url("catalog")?,
        region = url("region")?,
    ))
}

async fn start() -> Federation {
    Federation::start_with(
        [
            Subgraph::query("catalog", catalog::Query),
            Subgraph::query("region", region::Query),
        ],
        supergraph,
    )
    .await
    .unwrap_or_else(|e| panic!("the federation starts: {e:#}"))
}

/// The catalog's `_entities` calls: for each, its context variables (renamed per call, `_<k>`)
/// and its representations' ids, sorted.
fn catalog_entity_calls(federation: &Federation) -> Vec<Value> {
    let mut calls: Vec<Value> = Vec::new();
    for request in federation.received_by("catalog") {
        if !request.query().contains("_entities") {
            continue;
        }
        let Some(variables) = request.body["variables"].as_object() else {
            continue;
        };
        for k in 0.. {
            let Some(representations) = variables
                .get(&format!("representations_{k}"))
                .and_then(Value::as_array)
            else {
                break;
            };
            let suffix = format!("_{k}");
            let mut call = serde_json::Map::new();
            for (name, value) in variables {
                if let Some(base) = name.strip_suffix(&suffix)
                    && base.starts_with("contextualArgument_")
                {
                    call.insert(base.to_owned(), value.clone());
                }
            }
            let ids: Vec<Value> = representations.iter().map(|r| r["id"].clone()).collect();
            call.insert("ids".to_owned(), Value::Array(ids));
            calls.push(Value::Object(call));
        }
    }
    calls.sort_by_key(|v| v.to_string());
    calls
}

#[tokio::test]
async fn arguments_come_from_the_nearest_shop_whoever_resolves_them() {
    let federation = start().await;
    let (body, plan) = federation
        .query_with_plan("{ shops { name products { name price label } } }")
        .await;
    assert_eq!(
        body,
        json!({ "data": { "shops": [
            { "name": "Tea House", "products": [
                { "name": "Teapot", "price": "4000 EUR", "label": "Teapot (de-DE)" },
            ] },
            { "name": "Kettle Co", "products": [
                { "name": "Kettle", "price": "6000 USD", "label": "Kettle (en-US)" },
                { "name": "Cup", "price": "500 USD", "label": "Cup (en-US)" },
            ] },
            { "name": "Cup Corner", "products": [
                { "name": "Cup", "price": "500 USD", "label": "Cup (en-US)" },
            ] },
        ] } })
    );
    insta::assert_snapshot!("two_sources", plan);
    // One request, with one call per distinct pair of values: the cup of two USD shops is
    // asked for once.
    assert_eq!(
        federation
            .received_by("catalog")
            .iter()
            .filter(|r| r.query().contains("_entities"))
            .count(),
        1
    );
    assert_eq!(
        catalog_entity_calls(&federation),
        vec![
            json!({ "contextualArgument_1": "EUR", "contextualArgument_2": "de-DE", "ids": ["p1"] }),
            json!({ "contextualArgument_1": "USD", "contextualArgument_2": "en-US", "ids": ["p2", "p3"] }),
        ]
    );
    assert_eq!(federation.requests_to("region"), 1);
    federation.shutdown().await;
}

#[tokio::test]
async fn the_plan_variables_never_meet_the_clients() {
    let federation = start().await;
    // Named like the per-call name of the plan's first variable would be.
    let body = federation
        .request(
            "query($contextualArgument_1_0: Boolean = true) {
               shops @include(if: $contextualArgument_1_0) { products { price } }
             }",
        )
        .send()
        .await
        .body;
    assert_eq!(
        body["data"]["shops"][0]["products"],
        json!([{ "price": "4000 EUR" }]),
        "{body}"
    );
    assert_eq!(
        catalog_entity_calls(&federation),
        vec![
            json!({ "contextualArgument__1": "EUR", "ids": ["p1"] }),
            json!({ "contextualArgument__1": "USD", "ids": ["p2", "p3"] }),
        ]
    );
    federation.shutdown().await;
}

#[tokio::test]
async fn clients_cannot_pass_the_argument_themselves() {
    let federation = start().await;
    let body = federation
        .query(r#"{ shops { products { price(currency: "NOK") } } }"#)
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    assert_eq!(federation.received().len(), 0);
    federation.shutdown().await;
}

#[tokio::test]
async fn one_field_selected_twice_under_one_key_takes_one_variable() {
    let federation = start().await;
    let body = federation
        .request(
            "query($a: Boolean = true, $b: Boolean = false) {
               shops { products { price @include(if: $a) price @skip(if: $b) } }
             }",
        )
        .send()
        .await
        .body;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["shops"][0]["products"],
        json!([{ "price": "4000 EUR" }])
    );
    federation.shutdown().await;
}

#[tokio::test]
async fn a_context_value_read_for_one_condition_serves_a_selection_under_another() {
    let federation = start().await;
    // Both prices take the shop's currency through one variable; the first selection's
    // condition must not become the condition the currency is fetched under.
    let query = "query($c: Boolean!, $d: Boolean!) { shops { products { \
                 a: price @include(if: $c) b: price @include(if: $d) } } }";
    for (c, d) in [(false, true), (true, false), (true, true)] {
        let body = federation
            .request(query)
            .variables(json!({ "c": c, "d": d }))
            .send()
            .await
            .body;
        assert!(body.get("errors").is_none(), "c = {c}, d = {d}: {body}");
        let mut product = serde_json::Map::new();
        if c {
            product.insert("a".into(), json!("4000 EUR"));
        }
        if d {
            product.insert("b".into(), json!("4000 EUR"));
        }
        assert_eq!(
            body["data"]["shops"][0]["products"],
            json!([product]),
            "c = {c}, d = {d}"
        );
    }
    federation.shutdown().await;
}

#[tokio::test]
async fn a_null_value_for_a_non_null_argument_fails_its_objects_only() {
    let federation = start().await;
    let body = federation
        .query("{ shops { products { label } } popUp { name products { label } } }")
        .await;
    // The pop-up's product has no locale to pass: its label is an error at that product,
    // and the other shops' products, sent in the same request, have theirs.
    assert_eq!(
        body["data"]["shops"][0]["products"],
        json!([{ "label": "Teapot (de-DE)" }]),
        "{body}"
    );
    assert_eq!(body["data"]["popUp"], Value::Null, "{body}");
    let missing: Vec<&Value> = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["extensions"]["code"] == "CONTEXT_VALUE_MISSING")
        .collect();
    assert_eq!(missing.len(), 1, "{body}");
    assert_eq!(
        missing[0]["path"],
        json!(["popUp", "products", 0]),
        "{body}"
    );
    // The catalog's entity calls: the three shops' products, and no call for the pop-up.
    let calls = catalog_entity_calls(&federation);
    assert!(
        calls.iter().all(|c| !c.to_string().contains("null")),
        "{calls:?}"
    );
    federation.shutdown().await;
}

#[tokio::test]
async fn many_distinct_values_go_as_several_requests_of_bounded_size() {
    let federation = start().await;
    let body = federation.query("{ chain { products { price } } }").await;
    assert!(body.get("errors").is_none(), "{body}");
    let prices: Vec<&Value> = body["data"]["chain"]
        .as_array()
        .expect("shops")
        .iter()
        .map(|shop| &shop["products"][0]["price"])
        .collect();
    let expected: Vec<Value> = (0..40).map(|i| json!(format!("4000 C{i}"))).collect();
    assert_eq!(prices, expected.iter().collect::<Vec<_>>());
    // Forty calls: one request of 32 and one of 8.
    let mut sizes: Vec<usize> = federation
        .received_by("catalog")
        .iter()
        .filter(|r| r.query().contains("_entities"))
        .map(|r| r.query().matches("_entities(").count())
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [8, 32]);
    federation.shutdown().await;
}
