//! `@requires`: the required fields are fetched first and sent in the representation; a
//! requirement that itself has a requirement makes a chain of fetches; required fields with
//! arguments are fetched with those arguments, beside the client's own selection of the field.

use serde_json::json;
use tessera_tests::federation::Subgraph;

use super::{representations, start};

/// Owns products: name, weight, and a price in either currency.
mod catalog {
    use async_graphql::{ComplexObject, ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    #[graphql(complex)]
    pub struct Product {
        upc: ID,
        name: String,
        weight: i32,
        #[graphql(skip)]
        cents: i32,
    }

    #[ComplexObject]
    impl Product {
        async fn price(&self, #[graphql(default = "USD")] currency: String) -> i32 {
            match currency.as_str() {
                "EUR" => self.cents * 9 / 10,
                _ => self.cents,
            }
        }
    }

    fn products() -> Vec<Product> {
        let product = |upc: &str, name: &str, weight: i32, cents: i32| Product {
            upc: upc.into(),
            name: name.into(),
            weight,
            cents,
        };
        vec![
            product("p1", "Teapot", 1200, 4000),
            product("p2", "Kettle", 2500, 6000),
        ]
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn products(&self) -> Vec<Product> {
            products()
        }

        #[graphql(entity)]
        async fn product(&self, upc: ID) -> Option<Product> {
            products().into_iter().find(|p| p.upc == upc)
        }
    }
}

/// Shipping, computed from the weight and the euro price that the router brings along.
mod shipping {
    use async_graphql::{Error, ID, Object, Result};

    pub struct Product {
        upc: ID,
        weight: Option<i32>,
        price: Option<i32>,
    }

    fn required(value: Option<i32>, field: &str) -> Result<i32> {
        value.ok_or_else(|| Error::new(format!("the representation lacks {field}")))
    }

    #[Object]
    impl Product {
        async fn upc(&self) -> &ID {
            &self.upc
        }

        #[graphql(external)]
        async fn weight(&self) -> Result<i32> {
            required(self.weight, "weight")
        }

        #[graphql(external)]
        async fn price(
            &self,
            #[graphql(name = "currency", default = "USD")] _currency: String,
        ) -> Result<i32> {
            required(self.price, "price")
        }

        #[graphql(requires = "weight")]
        async fn shipping_estimate(&self) -> Result<i32> {
            Ok(required(self.weight, "weight")? / 100)
        }

        #[graphql(requires = "weight")]
        async fn delivery_days(&self, #[graphql(default = false)] express: bool) -> Result<i32> {
            let weight = required(self.weight, "weight")?;
            Ok(if express { 1 } else { 2 + weight / 1000 })
        }

        #[graphql(requires = "price(currency: \\\"EUR\\\")")]
        async fn customs_duty(&self) -> Result<i32> {
            Ok(required(self.price, "price")? / 10)
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn product(
            &self,
            #[graphql(key)] upc: ID,
            weight: Option<i32>,
            price: Option<i32>,
        ) -> Product {
            Product { upc, weight, price }
        }
    }
}

/// Insurance, priced from the shipping estimate, which needs the weight in turn.
mod insurance {
    use async_graphql::{Error, ID, Object, Result};

    pub struct Product {
        upc: ID,
        shipping_estimate: Option<i32>,
    }

    impl Product {
        fn estimate(&self) -> Result<i32> {
            self.shipping_estimate
                .ok_or_else(|| Error::new("the representation lacks shippingEstimate"))
        }
    }

    #[Object]
    impl Product {
        async fn upc(&self) -> &ID {
            &self.upc
        }

        #[graphql(external)]
        async fn shipping_estimate(&self) -> Result<i32> {
            self.estimate()
        }

        #[graphql(requires = "shippingEstimate")]
        async fn premium(&self) -> Result<i32> {
            Ok(self.estimate()? * 10 + 5)
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn product(
            &self,
            #[graphql(key)] upc: ID,
            shipping_estimate: Option<i32>,
        ) -> Product {
            Product {
                upc,
                shipping_estimate,
            }
        }
    }
}

fn subgraphs() -> Vec<Subgraph> {
    vec![
        Subgraph::query("catalog", catalog::Query),
        Subgraph::query("insurance", insurance::Query),
        Subgraph::query("shipping", shipping::Query),
    ]
}

#[tokio::test]
async fn fetches_required_fields_before_the_requiring_field() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan("{ products { name shippingEstimate } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "products": [
            { "name": "Teapot", "shippingEstimate": 12 },
            { "name": "Kettle", "shippingEstimate": 25 },
        ] } })
    );
    insta::assert_snapshot!("simple", plan);
    assert_eq!(
        representations(&f, "shipping"),
        vec![vec![
            json!({ "__typename": "Product", "upc": "p1", "weight": 1200 }),
            json!({ "__typename": "Product", "upc": "p2", "weight": 2500 }),
        ]]
    );
    f.shutdown().await;
}

#[tokio::test]
async fn resolves_a_requirement_that_has_a_requirement_of_its_own() {
    let f = start(subgraphs()).await;
    let (response, plan) = f.query_with_plan("{ products { premium } }").await;
    assert_eq!(
        response,
        json!({ "data": { "products": [ { "premium": 125 }, { "premium": 255 } ] } })
    );
    insta::assert_snapshot!("chained", plan);
    assert_eq!(
        representations(&f, "insurance"),
        vec![vec![
            json!({ "__typename": "Product", "upc": "p1", "shippingEstimate": 12 }),
            json!({ "__typename": "Product", "upc": "p2", "shippingEstimate": 25 }),
        ]]
    );
    let order: Vec<String> = f.received().into_iter().map(|r| r.subgraph).collect();
    assert_eq!(order, ["catalog", "shipping", "insurance"]);
    f.shutdown().await;
}

#[tokio::test]
async fn the_requirements_of_a_skipped_field_are_not_fetched() {
    let f = start(subgraphs()).await;
    let query = "query($premium: Boolean!) { products { name premium @include(if: $premium) } }";
    let (skipped, plan) = {
        let reply = f
            .request(query)
            .variables(json!({ "premium": false }))
            .with_plan()
            .send()
            .await;
        (reply.body, reply.plan.expect("a plan"))
    };
    assert_eq!(
        skipped,
        json!({ "data": { "products": [ { "name": "Teapot" }, { "name": "Kettle" } ] } })
    );
    // The shipping estimate is fetched only for the premium: it waits for the same condition.
    assert!(
        plan.contains("Fetch(service: \"shipping\") {\n        when @include(if:$premium)"),
        "{plan}"
    );
    let order: Vec<String> = f.received().into_iter().map(|r| r.subgraph).collect();
    assert_eq!(order, ["catalog"]);
    f.forget_requests();
    let included = f
        .request(query)
        .variables(json!({ "premium": true }))
        .send()
        .await
        .body;
    assert_eq!(
        included,
        json!({ "data": { "products": [
            { "name": "Teapot", "premium": 125 },
            { "name": "Kettle", "premium": 255 },
        ] } })
    );
    let order: Vec<String> = f.received().into_iter().map(|r| r.subgraph).collect();
    assert_eq!(order, ["catalog", "shipping", "insurance"]);
    f.shutdown().await;
}

#[tokio::test]
async fn passes_the_arguments_of_required_fields_and_of_the_requiring_field() {
    let f = start(subgraphs()).await;
    // The client's price is in dollars; the duty needs the euro price, fetched alongside.
    let (response, plan) = f
        .query_with_plan(
            r#"{ products { price(currency: "USD") customsDuty fast: deliveryDays(express: true) slow: deliveryDays } }"#,
        )
        .await;
    assert_eq!(
        response,
        json!({ "data": { "products": [
            { "price": 4000, "customsDuty": 360, "fast": 1, "slow": 3 },
            { "price": 6000, "customsDuty": 540, "fast": 1, "slow": 4 },
        ] } })
    );
    insta::assert_snapshot!("with_arguments", plan);
    assert_eq!(
        representations(&f, "shipping"),
        vec![vec![
            json!({ "__typename": "Product", "upc": "p1", "price": 3600, "weight": 1200 }),
            json!({ "__typename": "Product", "upc": "p2", "price": 5400, "weight": 2500 }),
        ]]
    );
    f.shutdown().await;
}

/// Posts and their authors' experience; what counts as a novice is decided elsewhere.
mod posts {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject)]
    pub struct Post {
        id: ID,
    }

    #[derive(SimpleObject)]
    pub struct Author {
        id: ID,
        years: i32,
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn feed(&self) -> Vec<Post> {
            vec![Post { id: "p1".into() }, Post { id: "p2".into() }]
        }

        #[graphql(entity)]
        async fn post(&self, id: ID) -> Post {
            Post { id }
        }

        #[graphql(entity)]
        async fn author(&self, id: ID) -> Author {
            let years = if id.as_str() == "a1" { 1 } else { 12 };
            Author { id, years }
        }
    }
}

/// Who wrote each post, and whether that author is a novice, from the experience the router
/// brings from the posts subgraph: a requirement that goes back through another subgraph.
mod authorship {
    use async_graphql::{Error, ID, InputObject, Object, Result};

    #[derive(InputObject)]
    pub struct AuthorYears {
        years: Option<i32>,
    }

    pub struct Post {
        id: ID,
        author: Option<AuthorYears>,
    }

    pub struct Author {
        id: ID,
    }

    #[Object]
    impl Author {
        async fn id(&self) -> &ID {
            &self.id
        }

        #[graphql(external)]
        async fn years(&self) -> Result<i32> {
            Err(Error::new("years are not known here"))
        }
    }

    #[Object]
    impl Post {
        async fn id(&self) -> &ID {
            &self.id
        }

        async fn author(&self) -> Author {
            let id = if self.id.as_str() == "p1" { "a1" } else { "a2" };
            Author { id: id.into() }
        }

        #[graphql(requires = "author { years }")]
        async fn by_novice(&self) -> Result<bool> {
            let years = self.author.as_ref().and_then(|a| a.years);
            let years = years.ok_or_else(|| Error::new("the representation lacks author.years"))?;
            Ok(years < 3)
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn post(&self, #[graphql(key)] id: ID, author: Option<AuthorYears>) -> Post {
            Post { id, author }
        }

        #[graphql(entity)]
        async fn author(&self, #[graphql(key)] id: ID) -> Author {
            Author { id }
        }
    }
}

#[tokio::test]
async fn a_field_selected_with_and_without_a_condition_shares_the_fetches_of_its_requirements() {
    let f = start([
        Subgraph::query("posts", posts::Query),
        Subgraph::query("authorship", authorship::Query),
    ])
    .await;
    let query = "query($x: Boolean!) { feed { byNovice again: byNovice @include(if: $x) } }";
    for x in [false, true] {
        let reply = f
            .request(query)
            .variables(json!({ "x": x }))
            .send()
            .await
            .body;
        let post = |novice: bool| match x {
            true => json!({ "byNovice": novice, "again": novice }),
            false => json!({ "byNovice": novice }),
        };
        assert_eq!(
            reply,
            json!({ "data": { "feed": [post(true), post(false)] } }),
            "x = {x}"
        );
        // The conditional selection rides on the fetches the unconditional one makes.
        let order: Vec<String> = f.received().into_iter().map(|r| r.subgraph).collect();
        assert_eq!(
            order,
            ["posts", "authorship", "posts", "authorship"],
            "x = {x}"
        );
        f.forget_requests();
    }
    f.shutdown().await;
}

#[tokio::test]
async fn a_fetch_of_an_unconditional_selection_is_not_sent_requirements_only_a_conditional_one_fetched()
 {
    let f = start(subgraphs()).await;
    // Both copies of `products` need shipping, but the euro price the duty requires is
    // selected only where `$c` holds: a representation carrying it would lack it otherwise.
    let query = "query($c: Boolean!) { products { shippingEstimate } products @include(if: $c) { customsDuty } }";
    for c in [false, true] {
        let reply = f.request(query).variables(json!({ "c": c })).send().await;
        let product = |estimate: i32, duty: i32| match c {
            true => json!({ "shippingEstimate": estimate, "customsDuty": duty }),
            false => json!({ "shippingEstimate": estimate }),
        };
        assert_eq!(
            reply.body,
            json!({ "data": { "products": [product(12, 360), product(25, 540)] } }),
            "c = {c}"
        );
        // Every representation the shipping subgraph gets holds what its fetch asks for.
        for sent in f.received_by("shipping") {
            let wants_price = sent.query().contains("customsDuty");
            for rep in sent.representations() {
                assert_eq!(rep.get("price").is_some(), wants_price, "c = {c}: {rep}");
            }
        }
        f.forget_requests();
    }
    f.shutdown().await;
}

#[tokio::test]
async fn a_fetch_shared_under_a_condition_is_not_made_unconditional_by_a_later_field() {
    let f = start(subgraphs()).await;
    // The first two selections share one shipping fetch under `$c` (the duty's euro price is
    // selected only there); the third needs shipping whatever `$c` is, so it cannot join a
    // fetch whose representation holds that price.
    let query = "query($c: Boolean!) { products { shippingEstimate @include(if: $c) } \
                 products @include(if: $c) { customsDuty @include(if: $c) } \
                 products { deliveryDays } }";
    for c in [false, true] {
        let reply = f.request(query).variables(json!({ "c": c })).send().await;
        let product = |estimate: i32, duty: i32, days: i32| match c {
            true => {
                json!({ "shippingEstimate": estimate, "customsDuty": duty, "deliveryDays": days })
            }
            false => json!({ "deliveryDays": days }),
        };
        assert_eq!(
            reply.body,
            json!({ "data": { "products": [product(12, 360, 3), product(25, 540, 4)] } }),
            "c = {c}"
        );
        f.forget_requests();
    }
    f.shutdown().await;
}

#[tokio::test]
async fn a_requirement_walked_for_a_conditional_field_waits_for_its_condition() {
    let f = start(subgraphs()).await;
    // The premium needs the shipping estimate, which the shipping fetch the client's own
    // estimate makes already selects under `$c`; the copy the premium needs waits for `$c`
    // too, so that fetch is not sent when `$c` excludes everything in it.
    let query = "query($c: Boolean!) { products { name shippingEstimate @include(if: $c) \
                 premium @include(if: $c) } }";
    for c in [false, true] {
        let reply = f.request(query).variables(json!({ "c": c })).send().await;
        let product = |name: &str, estimate: i32, premium: i32| match c {
            true => json!({ "name": name, "shippingEstimate": estimate, "premium": premium }),
            false => json!({ "name": name }),
        };
        assert_eq!(
            reply.body,
            json!({ "data": { "products": [product("Teapot", 12, 125), product("Kettle", 25, 255)] } }),
            "c = {c}"
        );
        let order: Vec<String> = f.received().into_iter().map(|r| r.subgraph).collect();
        let expected: &[&str] = match c {
            true => &["catalog", "shipping", "insurance"],
            false => &["catalog"],
        };
        assert_eq!(order, expected, "c = {c}");
        f.forget_requests();
    }
    f.shutdown().await;
}

#[tokio::test]
async fn one_field_selected_twice_with_and_without_a_condition_inside_shares_its_fetches() {
    let f = start(subgraphs()).await;
    // Two selections of `products`; the premium in the first is conditional. Walked as one,
    // the unconditional premium's fetches are there for the conditional one to join.
    let query = "query($c: Boolean!) { products { premium @include(if: $c) name } \
                 products { premium } }";
    for c in [false, true] {
        let reply = f
            .request(query)
            .variables(json!({ "c": c }))
            .with_plan()
            .send()
            .await;
        assert_eq!(
            reply.body,
            json!({ "data": { "products": [
                { "premium": 125, "name": "Teapot" },
                { "premium": 255, "name": "Kettle" },
            ] } }),
            "c = {c}"
        );
        let plan = reply.plan.expect("a plan");
        for subgraph in ["catalog", "shipping", "insurance"] {
            let fetches = plan
                .matches(&format!("Fetch(service: \"{subgraph}\")"))
                .count();
            assert_eq!(fetches, 1, "c = {c}: one fetch to {subgraph}\n{plan}");
        }
        let order: Vec<String> = f.received().into_iter().map(|r| r.subgraph).collect();
        assert_eq!(order, ["catalog", "shipping", "insurance"], "c = {c}");
        f.forget_requests();
    }
    f.shutdown().await;
}
