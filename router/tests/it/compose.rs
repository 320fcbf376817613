//! Composition of small fixture subgraph sets: snapshots of the supergraphs they produce, and
//! one failing case per validation rule with its message.

use tessera_router::compose::{CompositionError, SubgraphSdl, compose};

const LINK: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@shareable", "@external", "@requires", "@provides", "@override", "@inaccessible", "@interfaceObject"])"#;

fn subgraph(name: &str, body: &str) -> SubgraphSdl {
    SubgraphSdl {
        name: name.to_owned(),
        url: format!("http://{name}.svc/graphql"),
        sdl: format!("{LINK}\n{body}"),
    }
}

fn fails(subgraphs: &[SubgraphSdl]) -> CompositionError {
    compose(subgraphs).expect_err("composition must fail")
}

fn supergraph(subgraphs: &[SubgraphSdl]) -> String {
    compose(subgraphs).unwrap_or_else(|e| panic!("composition failed:\n{e}"))
}

fn assert_mentions(error: &CompositionError, words: &[&str]) {
    assert_eq!(error.errors.len(), 1, "{error}");
    let line = &error.errors[0];
    assert!(!line.contains('\n'), "one line: {line}");
    for word in words {
        assert!(line.contains(word), "`{line}` should mention {word}");
    }
}

#[test]
fn composes_entities_with_compound_and_multiple_keys() {
    let sdl = supergraph(&[
        subgraph(
            "accounts",
            r#"type Query { me: User } type User @key(fields: "id") @key(fields: "org { id } login") { id: ID! login: String! org: Org! } type Org @key(fields: "id") { id: ID! }"#,
        ),
        subgraph(
            "reviews",
            r#"type User @key(fields: "id") { id: ID! reviews: [String!]! } type Org @key(fields: "id", resolvable: false) { id: ID! }"#,
        ),
    ]);
    insta::assert_snapshot!(sdl);
}

#[test]
fn composes_shareable_requires_provides_and_override() {
    let sdl = supergraph(&[
        subgraph(
            "products",
            r#"type Query { products: [Product!]! } type Product @key(fields: "upc") { upc: ID! name: String! @shareable weight: Int price: Int }"#,
        ),
        subgraph(
            "shipping",
            r#"type Product @key(fields: "upc") { upc: ID! weight: Int @external shippingEstimate: Int @requires(fields: "weight") }"#,
        ),
        subgraph(
            "reviews",
            r#"type Query { topReviews: [Review!]! } type Review { body: String! product: Product @provides(fields: "name") } type Product @key(fields: "upc") { upc: ID! name: String! @external }"#,
        ),
        subgraph(
            "pricing",
            r#"type Product @key(fields: "upc") { upc: ID! price: Int @override(from: "products") }"#,
        ),
    ]);
    insta::assert_snapshot!(sdl);
}

#[test]
fn composes_interfaces_unions_interface_objects_and_inaccessible() {
    let sdl = supergraph(&[
        subgraph(
            "media",
            r#"type Query { media: [Media!]! search: [Result!]! internal: Int @inaccessible } interface Media @key(fields: "id") { id: ID! title: String! } type Book implements Media @key(fields: "id") { id: ID! title: String! pages: Int } type Movie implements Media @key(fields: "id") { id: ID! title: String! } union Result = Book | Movie"#,
        ),
        subgraph(
            "ratings",
            r#"type Media @key(fields: "id") @interfaceObject { id: ID! rating: Float }"#,
        ),
    ]);
    insta::assert_snapshot!(sdl);
}

#[test]
fn rejects_conflicting_field_types() {
    let error = fails(&[
        subgraph(
            "a",
            r#"type Query { a: Int } type T @key(fields: "id") { id: ID! size: Int @shareable }"#,
        ),
        subgraph(
            "b",
            r#"type T @key(fields: "id") { id: ID! size: String @shareable }"#,
        ),
    ]);
    assert_mentions(&error, &["T.size", "Int in a", "String in b"]);
}

#[test]
fn rejects_a_field_defined_twice_without_shareable() {
    let error = fails(&[
        subgraph("a", "type Query { a: Int } type T { name: String }"),
        subgraph("b", "type Query { b: Int } type T { name: String }"),
    ]);
    assert_mentions(&error, &["T.name", "@shareable", "a, b"]);
}

#[test]
fn rejects_a_key_that_selects_a_missing_field() {
    let error = fails(&[subgraph(
        "a",
        r#"type Query { a: T } type T @key(fields: "nope") { id: ID! }"#,
    )]);
    assert_mentions(&error, &["[a]", "@key", "T", "nope"]);
}

#[test]
fn rejects_requires_on_an_undefined_field() {
    let error = fails(&[
        subgraph(
            "a",
            r#"type Query { a: T } type T @key(fields: "id") { id: ID! weight: Int }"#,
        ),
        subgraph(
            "b",
            r#"type T @key(fields: "id") { id: ID! shipping: Int @requires(fields: "missing") }"#,
        ),
    ]);
    assert_mentions(&error, &["[b]", "@requires", "T.shipping", "missing"]);
}

#[test]
fn rejects_provides_on_an_undefined_field() {
    let error = fails(&[subgraph(
        "a",
        r#"type Query { a: T @provides(fields: "missing") } type T @key(fields: "id") { id: ID! }"#,
    )]);
    assert_mentions(&error, &["[a]", "@provides", "Query.a", "missing"]);
}

#[test]
fn rejects_override_from_a_subgraph_without_the_field() {
    let error = fails(&[
        subgraph(
            "a",
            r#"type Query { a: T } type T @key(fields: "id") { id: ID! }"#,
        ),
        subgraph(
            "b",
            r#"type T @key(fields: "id") { id: ID! name: String @override(from: "a") }"#,
        ),
    ]);
    assert_mentions(
        &error,
        &["[b]", "@override", "T.name", "\"a\"", "does not define"],
    );
    let error = fails(&[subgraph(
        "a",
        r#"type Query { a: T } type T @key(fields: "id") { id: ID! name: String @override(from: "ghost") }"#,
    )]);
    assert_mentions(
        &error,
        &["[a]", "T.name", "\"ghost\"", "not part of the composition"],
    );
}

#[test]
fn rejects_an_inaccessible_type_that_is_still_referenced() {
    let error = fails(&[subgraph(
        "a",
        "type Query { secret: Secret } type Secret @inaccessible { x: Int }",
    )]);
    assert_mentions(&error, &["Query.secret", "@inaccessible", "a"]);
}

#[test]
fn rejects_sdl_that_does_not_parse() {
    let error = fails(&[subgraph("a", "type Query { a: }")]);
    assert_mentions(&error, &["[a]", "does not parse"]);
}

/// Every directive used twice at one location must be declared `repeatable`, and every
/// directive used must be declared: what a strict supergraph loader checks.
fn assert_valid_supergraph(sdl: &str) {
    use std::collections::{HashMap, HashSet};

    use async_graphql_parser::types::{TypeKind, TypeSystemDefinition};

    let document = async_graphql_parser::parse_schema(sdl).expect("the supergraph parses");
    let mut declared: HashMap<String, bool> = HashMap::new();
    let mut locations: Vec<Vec<String>> = Vec::new();
    for definition in &document.definitions {
        match definition {
            TypeSystemDefinition::Directive(d) => {
                declared.insert(d.node.name.node.to_string(), d.node.is_repeatable);
            }
            TypeSystemDefinition::Schema(schema) => {
                locations.push(
                    schema
                        .node
                        .directives
                        .iter()
                        .map(|d| d.node.name.node.to_string())
                        .collect(),
                );
            }
            TypeSystemDefinition::Type(ty) => {
                locations.push(
                    ty.node
                        .directives
                        .iter()
                        .map(|d| d.node.name.node.to_string())
                        .collect(),
                );
                let fields = match &ty.node.kind {
                    TypeKind::Object(o) => o.fields.iter().collect::<Vec<_>>(),
                    TypeKind::Interface(i) => i.fields.iter().collect(),
                    _ => Vec::new(),
                };
                for field in fields {
                    locations.push(
                        field
                            .node
                            .directives
                            .iter()
                            .map(|d| d.node.name.node.to_string())
                            .collect(),
                    );
                }
                if let TypeKind::Enum(e) = &ty.node.kind {
                    for value in &e.values {
                        locations.push(
                            value
                                .node
                                .directives
                                .iter()
                                .map(|d| d.node.name.node.to_string())
                                .collect(),
                        );
                    }
                }
            }
        }
    }
    for used in locations {
        let mut seen = HashSet::new();
        for name in used {
            let repeatable = *declared
                .get(&name)
                .unwrap_or_else(|| panic!("@{name} is used but not declared"));
            assert!(
                seen.insert(name.clone()) || repeatable,
                "@{name} is used twice but not repeatable"
            );
        }
    }
}

#[test]
fn supergraphs_declare_every_directive_they_use() {
    for set in [
        vec![
            subgraph(
                "accounts",
                r#"type Query { me: User } type User @key(fields: "id") @key(fields: "login") { id: ID! login: String! }"#,
            ),
            subgraph(
                "reviews",
                r#"type User @key(fields: "id") { id: ID! reviews: [String!]! }"#,
            ),
        ],
        vec![
            subgraph(
                "media",
                r#"type Query { media: [Media!]! } interface Media @key(fields: "id") { id: ID! } type Book implements Media @key(fields: "id") { id: ID! } enum Kind { A B }"#,
            ),
            subgraph(
                "ratings",
                r#"type Media @key(fields: "id") @interfaceObject { id: ID! rating: Float } enum Kind { A B } type Query { kind: Kind }"#,
            ),
        ],
    ] {
        assert_valid_supergraph(&supergraph(&set));
    }
}

#[test]
fn root_types_name_the_subgraphs_that_serve_them() {
    let sdl = supergraph(&[
        subgraph(
            "accounts",
            r#"type Query { me: ID } type Mutation { login: ID }"#,
        ),
        subgraph(
            "reviews",
            r#"type Query { top: ID } type Mutation { review: ID }"#,
        ),
        subgraph("media", r#"type Query { media: ID }"#),
    ]);
    let block = |name: &str| {
        let start = sdl
            .find(&format!("\ntype {name}\n"))
            .unwrap_or_else(|| panic!("no {name}"));
        let end = start + sdl[start..].find('{').expect("body");
        sdl[start..end].to_owned()
    };
    let query = block("Query");
    for graph in ["ACCOUNTS", "REVIEWS", "MEDIA"] {
        assert!(
            query.contains(&format!("@join__type(graph: {graph})")),
            "{query}"
        );
    }
    let mutation = block("Mutation");
    assert!(
        mutation.contains("@join__type(graph: ACCOUNTS)")
            && mutation.contains("@join__type(graph: REVIEWS)"),
        "{mutation}"
    );
    assert!(!mutation.contains("MEDIA"), "{mutation}");
}
