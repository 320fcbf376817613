//! Reading supergraphs: ours and composed fixtures load, their join information is right, the
//! API schema hides what it must, and unsupported or broken supergraphs are refused with a
//! message that names the problem.

use tessera_router::compose::{SubgraphSdl, compose};
use tessera_router::supergraph::{Supergraph, SupergraphError};

fn ours() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/supergraph.graphql"
    ))
    .expect("the checked-in supergraph")
}

#[test]
fn reads_the_platform_supergraph() {
    let supergraph = Supergraph::parse(&ours()).expect("loads");
    let joins = &supergraph.joins;
    let names: Vec<(&str, &str)> = joins
        .subgraphs
        .iter()
        .map(|s| (s.name.as_str(), s.url.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("audit", "http://127.0.0.1:8084/graphql"),
            ("auth", "http://127.0.0.1:8081/graphql"),
            ("authz", "http://127.0.0.1:8083/graphql"),
            ("billing", "http://127.0.0.1:8092/graphql"),
            ("blog", "http://127.0.0.1:8091/graphql"),
            ("identity", "http://127.0.0.1:8082/graphql"),
        ]
    );
    // A sign-in's tokens are auth's; the user behind them is identity's, looked up by token.
    let payload = &joins.types["AuthPayload"];
    assert!(
        payload
            .iter()
            .any(|j| j.graph == "AUTH" && !j.resolvable && j.key.as_deref() == Some("accessToken"))
    );
    assert!(
        payload.iter().any(|j| j.graph == "IDENTITY"
            && j.resolvable
            && j.key.as_deref() == Some("accessToken"))
    );
    assert_eq!(joins.field_owners("AuthPayload", "user"), ["IDENTITY"]);
    let user = &joins.types["User"];
    assert!(
        user.iter()
            .any(|j| j.graph == "IDENTITY" && j.resolvable && j.key.as_deref() == Some("id"))
    );
    assert_eq!(joins.field_owners("User", "displayName"), ["IDENTITY"]);
    assert_eq!(joins.field_owners("Query", "sessions"), ["AUTH"]);
    assert_eq!(joins.field_owners("Mutation", "signUp"), ["AUTH"]);
    assert_eq!(joins.field_owners("User", "roles"), ["AUTHZ"]);
    assert_eq!(joins.field_owners("User", "auditTrail"), ["AUDIT"]);
    assert_eq!(joins.field_owners("User", "posts"), ["BLOG"]);
    assert_eq!(joins.field_owners("User", "invoices"), ["BILLING"]);
    assert_eq!(
        joins.field_owners("User", "id").len(),
        5,
        "a key field is resolvable in every subgraph that names the entity"
    );
}

#[test]
fn the_api_schema_has_no_federation_machinery() {
    let supergraph = Supergraph::parse(&ours()).expect("loads");
    let api = supergraph.api.to_string();
    for gone in ["join__", "link__", "@link", "@inaccessible"] {
        assert!(!api.contains(gone), "{gone} left in the API schema:\n{api}");
    }
    insta::assert_snapshot!(api);
}

fn subgraph(name: &str, body: &str) -> SubgraphSdl {
    SubgraphSdl {
        name: name.to_owned(),
        url: format!("http://{name}.svc/graphql"),
        sdl: format!(
            "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\", \"@inaccessible\", \"@interfaceObject\"])\n{body}"
        ),
    }
}

#[test]
fn inaccessible_elements_stay_out_of_the_api_schema() {
    let sdl = compose(&[
        subgraph("media", r#"type Query { media: [Media!]! internal: Int @inaccessible search(term: String, debug: Boolean @inaccessible): [Media!]! } interface Media @key(fields: "id") { id: ID! title: String! } type Book implements Media @key(fields: "id") { id: ID! title: String! } enum Kind { BOOK SECRET @inaccessible }"#),
        subgraph("ratings", r#"type Media @key(fields: "id") @interfaceObject { id: ID! rating: Float } type Query { kinds: [Kind!]! } enum Kind { BOOK SECRET @inaccessible }"#),
    ])
    .expect("composes");
    let supergraph = Supergraph::parse(&sdl).expect("loads");
    let api = supergraph.api.to_string();
    assert!(
        !api.contains("internal") && !api.contains("debug") && !api.contains("SECRET"),
        "{api}"
    );
    assert!(
        api.contains("search(term: String)") && api.contains("BOOK"),
        "{api}"
    );
    assert!(
        supergraph.joins.types["Media"]
            .iter()
            .any(|j| j.graph == "RATINGS" && j.interface_object)
    );
    assert_eq!(
        supergraph.joins.field_owners("Media", "rating"),
        ["RATINGS"]
    );
}

fn with_links(links: &str) -> String {
    ours().replacen("schema\n", &format!("schema\n{links}\n"), 1)
}

#[test]
fn refuses_supergraphs_it_cannot_serve() {
    let invalid = Supergraph::parse("type Query { a: Missing }").expect_err("invalid");
    assert!(matches!(invalid, SupergraphError::Invalid(_)), "{invalid}");

    let no_join = ours().replace(
        "@link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION)",
        "",
    );
    let err = Supergraph::parse(&no_join).expect_err("no join");
    assert!(err.to_string().contains("join"), "{err}");

    let future = ours().replace("join/v0.3", "join/v0.9");
    let err = Supergraph::parse(&future).expect_err("join v0.9");
    assert!(
        err.to_string().contains("join/v0.9") && err.to_string().contains("does not support"),
        "{err}"
    );

    let unknown =
        with_links("  @link(url: \"https://specs.example.com/billing/v1.0\", for: EXECUTION)");
    let err = Supergraph::parse(&unknown).expect_err("unknown execution spec");
    assert!(
        err.to_string().contains("specs.example.com/billing/v1.0"),
        "{err}"
    );

    // A context version past the one this router plans is refused rather than misread.
    let context =
        with_links("  @link(url: \"https://specs.apollo.dev/context/v0.2\", for: SECURITY)");
    let err = Supergraph::parse(&context).expect_err("context v0.2 is not served");
    assert!(err.to_string().contains("context/v0.2"), "{err}");

    // Unknown specifications that do not affect execution are metadata: accepted.
    let metadata = with_links("  @link(url: \"https://specs.example.com/docs/v1.0\")");
    Supergraph::parse(&metadata).expect("metadata links are fine");
}
