//! Interfaces and unions across subgraphs: concrete types decided by one subgraph, their fields
//! completed by others (only for the objects of the matching type), with inline and named
//! fragments, aliases and `__typename`; and an `@interfaceObject` subgraph that adds a field to
//! every implementation without knowing the implementations.

use serde_json::json;
use tessera_tests::federation::Subgraph;

use super::{representations, start};

/// Owns the `Media` interface, its implementations and the search union.
mod media {
    use async_graphql::{ID, Interface, Object, SimpleObject, Union};

    #[derive(SimpleObject, Clone)]
    pub struct Book {
        id: ID,
        title: String,
        pages: i32,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Movie {
        id: ID,
        title: String,
        minutes: i32,
    }

    #[derive(SimpleObject, Clone)]
    #[graphql(unresolvable = "id")]
    pub struct Author {
        id: ID,
    }

    #[derive(Interface, Clone)]
    #[graphql(field(name = "id", ty = "&ID"), field(name = "title", ty = "&String"))]
    pub enum Media {
        Book(Book),
        Movie(Movie),
    }

    #[derive(Union, Clone)]
    pub enum SearchResult {
        Book(Book),
        Movie(Movie),
        Author(Author),
    }

    fn library() -> Vec<Media> {
        let book = |id: &str, title: &str, pages: i32| {
            Media::Book(Book {
                id: id.into(),
                title: title.into(),
                pages,
            })
        };
        vec![
            book("b1", "Dune", 412),
            Media::Movie(Movie {
                id: "m1".into(),
                title: "Alien".into(),
                minutes: 117,
            }),
            book("b2", "Emma", 474),
        ]
    }

    fn find(id: &ID) -> Option<Media> {
        library().into_iter().find(|m| match m {
            Media::Book(b) => &b.id == id,
            Media::Movie(m) => &m.id == id,
        })
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn library(&self) -> Vec<Media> {
            library()
        }

        async fn search(&self, term: String) -> Vec<SearchResult> {
            let _ = term;
            let mut found: Vec<SearchResult> = library()
                .into_iter()
                .map(|m| match m {
                    Media::Book(b) => SearchResult::Book(b),
                    Media::Movie(m) => SearchResult::Movie(m),
                })
                .collect();
            found.insert(1, SearchResult::Author(Author { id: "a1".into() }));
            found
        }

        #[graphql(entity)]
        async fn media(&self, id: ID) -> Option<Media> {
            find(&id)
        }

        #[graphql(entity)]
        async fn book(&self, id: ID) -> Option<Book> {
            match find(&id) {
                Some(Media::Book(b)) => Some(b),
                _ => None,
            }
        }

        #[graphql(entity)]
        async fn movie(&self, id: ID) -> Option<Movie> {
            match find(&id) {
                Some(Media::Movie(m)) => Some(m),
                _ => None,
            }
        }
    }
}

/// Sells books only.
mod shop {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    pub struct Book {
        id: ID,
        price: i32,
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn book(&self, id: ID) -> Option<Book> {
            let price = match id.as_str() {
                "b1" => 1200,
                "b2" => 900,
                _ => return None,
            };
            Some(Book { id, price })
        }
    }
}

/// Owns authors.
mod people {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    pub struct Author {
        id: ID,
        name: String,
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn author(&self, id: ID) -> Option<Author> {
            (id.as_str() == "a1").then(|| Author {
                id,
                name: "Frank Herbert".into(),
            })
        }
    }
}

/// Rates any media by id, without knowing books from movies.
mod ratings {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    #[graphql(interface_object)]
    pub struct Media {
        id: ID,
        stars: i32,
    }

    fn rate(id: ID) -> Option<Media> {
        let stars = match id.as_str() {
            "b1" => 5,
            "m1" => 4,
            "b2" => 3,
            _ => return None,
        };
        Some(Media { id, stars })
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn top_rated(&self) -> Vec<Media> {
            ["b1", "m1"]
                .into_iter()
                .filter_map(|id| rate(id.into()))
                .collect()
        }

        #[graphql(entity)]
        async fn media(&self, id: ID) -> Option<Media> {
            rate(id)
        }
    }
}

fn subgraphs() -> Vec<Subgraph> {
    vec![
        Subgraph::query("media", media::Query),
        Subgraph::query("people", people::Query),
        Subgraph::query("ratings", ratings::Query),
        Subgraph::query("shop", shop::Query),
    ]
}

#[tokio::test]
async fn completes_interface_implementations_from_other_subgraphs() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan(
            "query Library {
                library {
                    __typename
                    id
                    heading: title
                    ... on Book { pages cost: price }
                    ...MovieParts
                }
            }
            fragment MovieParts on Movie { runtime: minutes }",
        )
        .await;
    assert_eq!(
        response,
        json!({ "data": { "library": [
            { "__typename": "Book", "id": "b1", "heading": "Dune", "pages": 412, "cost": 1200 },
            { "__typename": "Movie", "id": "m1", "heading": "Alien", "runtime": 117 },
            { "__typename": "Book", "id": "b2", "heading": "Emma", "pages": 474, "cost": 900 },
        ] } })
    );
    insta::assert_snapshot!("interface", plan);
    // Only the books go to the shop.
    assert_eq!(
        representations(&f, "shop"),
        vec![vec![
            json!({ "__typename": "Book", "id": "b1" }),
            json!({ "__typename": "Book", "id": "b2" }),
        ]]
    );
    f.shutdown().await;
}

#[tokio::test]
async fn completes_union_members_from_the_subgraphs_owning_them() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan(
            r#"{
                hits: search(term: "e") {
                    kind: __typename
                    ... on Media { title }
                    ... on Book { price }
                    ... on Author { id name }
                }
            }"#,
        )
        .await;
    assert_eq!(
        response,
        json!({ "data": { "hits": [
            { "kind": "Book", "title": "Dune", "price": 1200 },
            { "kind": "Author", "id": "a1", "name": "Frank Herbert" },
            { "kind": "Movie", "title": "Alien" },
            { "kind": "Book", "title": "Emma", "price": 900 },
        ] } })
    );
    insta::assert_snapshot!("union", plan);
    assert_eq!(
        representations(&f, "people"),
        vec![vec![json!({ "__typename": "Author", "id": "a1" })]]
    );
    assert_eq!(
        representations(&f, "shop"),
        vec![vec![
            json!({ "__typename": "Book", "id": "b1" }),
            json!({ "__typename": "Book", "id": "b2" }),
        ]]
    );
    f.shutdown().await;
}

#[tokio::test]
async fn adds_interface_object_fields_to_every_implementation() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan("{ library { __typename id stars } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "library": [
            { "__typename": "Book", "id": "b1", "stars": 5 },
            { "__typename": "Movie", "id": "m1", "stars": 4 },
            { "__typename": "Book", "id": "b2", "stars": 3 },
        ] } })
    );
    insta::assert_snapshot!("interface_object_field", plan);
    // The interface object knows only `Media`.
    assert_eq!(
        representations(&f, "ratings"),
        vec![vec![
            json!({ "__typename": "Media", "id": "b1" }),
            json!({ "__typename": "Media", "id": "m1" }),
            json!({ "__typename": "Media", "id": "b2" }),
        ]]
    );
    f.shutdown().await;
}

#[tokio::test]
async fn asks_the_interface_owner_for_the_concrete_type_of_an_interface_object() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan(
            "{ topRated { __typename id stars ... on Book { pages } ... on Movie { title } } }",
        )
        .await;
    assert_eq!(
        response,
        json!({ "data": { "topRated": [
            { "__typename": "Book", "id": "b1", "stars": 5, "pages": 412 },
            { "__typename": "Movie", "id": "m1", "stars": 4, "title": "Alien" },
        ] } })
    );
    insta::assert_snapshot!("interface_object_root", plan);
    assert_eq!(
        representations(&f, "media"),
        vec![vec![
            json!({ "__typename": "Media", "id": "b1" }),
            json!({ "__typename": "Media", "id": "m1" }),
        ]]
    );
    f.shutdown().await;
}
