//! Billing through the router: idempotent money-moving mutations under concurrency, declined
//! cards as results, and authorization of billing records; the renewal job, billing's events
//! and its subscription in the submodules.

mod events;
mod live;
mod renewals;

use futures::future::join_all;
use serde_json::{Value, json};
use tessera_tests::TestPlatform;
use tessera_tests::platform::Session;

const PASSWORD: &str = "correct horse battery";
const SUBSCRIBE: &str = "mutation($i: SubscribeInput!) { subscribeToPlan(input: $i) { \
    subscription { id status plan { code name } } \
    invoice { id number status total currency lines { quantity unitAmount amount } } \
    payment { id status amount currency failureCode provider providerReference } } }";
const PAY: &str = "mutation($i: PayInvoiceInput!) { payInvoice(input: $i) { \
    invoice { id status total paidAt payments { status failureCode } } \
    payment { id status amount failureCode } subscription { status } } }";
const CANCEL: &str = "mutation($i: CancelSubscriptionInput) { cancelSubscription(input: $i) { \
    id status cancelAtPeriodEnd canceledAt } }";

async fn plan_id(p: &TestPlatform, code: &str) -> String {
    let r = p
        .query(
            "router",
            "{ plans { id code price currency interval } }",
            None,
        )
        .await
        .ok();
    let plans = r.data("plans").as_array().expect("plans").clone();
    let plan = plans
        .iter()
        .find(|plan| plan["code"] == code)
        .expect("seeded plan");
    plan["id"].as_str().expect("id").to_owned()
}

async fn subscribe(p: &TestPlatform, s: &Session, plan: &str, card: &str, key: &str) -> Value {
    let input = json!({ "i": { "planId": plan, "paymentMethod": card, "idempotencyKey": key } });
    p.gql("router", SUBSCRIBE, input, Some(&s.access))
        .await
        .body
}

async fn pay(p: &TestPlatform, s: &Session, invoice: &str, card: &str, key: &str) -> Value {
    let input =
        json!({ "i": { "invoiceId": invoice, "paymentMethod": card, "idempotencyKey": key } });
    p.gql("router", PAY, input, Some(&s.access)).await.body
}

fn code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

/// A user whose token carries `billing:manage`, granted through auth's own table.
async fn manager(p: &TestPlatform, email: &str) -> Session {
    let s = p.registered(email, PASSWORD, "Manager").await;
    let auth = p.db.pool("auth").await.expect("pool");
    sqlx::query("INSERT INTO granted_scopes (user_id, scope) VALUES ($1::uuid, 'billing:manage')")
        .bind(&s.user_id)
        .execute(&auth)
        .await
        .expect("grant");
    TestPlatform::session_of(&p.login(email, PASSWORD).await.ok(), "login")
}

#[tokio::test]
async fn racing_requests_with_one_key_charge_once_and_get_one_answer() {
    let p = TestPlatform::start().await.expect("platform");
    let s = p.sign_up("ria@example.com", PASSWORD, "Ria").await;
    let pro = plan_id(&p, "pro-monthly").await;

    // Ten subscribes with one key at once: one subscription, one invoice, one charge.
    let answers = join_all((0..10).map(|_| subscribe(&p, &s, &pro, "pm_card_visa", "sub-1"))).await;
    assert!(answers[0].get("errors").is_none(), "{}", answers[0]);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    let first = &answers[0]["data"]["subscribeToPlan"];
    assert_eq!(first["subscription"]["status"], "ACTIVE");
    assert_eq!(first["invoice"]["status"], "PAID");
    assert_eq!(first["invoice"]["total"], 2900);
    assert_eq!(
        first["invoice"]["lines"],
        json!([{ "quantity": 1, "unitAmount": 2900, "amount": 2900 }])
    );
    assert_eq!(first["payment"]["status"], "SUCCEEDED");
    let db = p.db.pool("billing").await.expect("pool");
    assert_eq!(count(&db, "SELECT count(*) FROM subscriptions").await, 1);
    assert_eq!(count(&db, "SELECT count(*) FROM invoices").await, 1);
    assert_eq!(count(&db, "SELECT count(*) FROM payments").await, 1);
    assert_eq!(
        count(&db, "SELECT count(*) FROM test_provider_charges").await,
        1
    );

    // An open invoice (its first charge declined), then ten payments with one key at once.
    let t = p.sign_up("sam@example.com", PASSWORD, "Sam").await;
    let declined = subscribe(&p, &t, &pro, "4000000000000002", "sub-2").await;
    let invoice = declined["data"]["subscribeToPlan"]["invoice"]["id"]
        .as_str()
        .expect("invoice")
        .to_owned();
    let answers =
        join_all((0..10).map(|_| pay(&p, &t, &invoice, "4242424242424242", "pay-1"))).await;
    assert!(answers[0].get("errors").is_none(), "{}", answers[0]);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    let paid = &answers[0]["data"]["payInvoice"];
    assert_eq!(paid["invoice"]["status"], "PAID");
    assert_eq!(paid["payment"]["status"], "SUCCEEDED");
    assert_eq!(paid["subscription"]["status"], "ACTIVE");
    let charged = "SELECT count(*) FROM test_provider_charges WHERE outcome = 'succeeded' AND description LIKE 'Invoice%'";
    assert_eq!(
        count(&db, charged).await,
        1,
        "one real charge for the invoice"
    );
    let payments = format!(
        "SELECT count(*) FROM payments WHERE invoice_id = '{invoice}' AND status = 'succeeded'"
    );
    assert_eq!(count(&db, &payments).await, 1, "one payment on the invoice");
    p.shutdown().await;
}

#[tokio::test]
async fn a_declined_card_is_a_result_and_a_new_key_with_a_good_card_pays() {
    let p = TestPlatform::start().await.expect("platform");
    let s = p.sign_up("dee@example.com", PASSWORD, "Dee").await;
    let starter = plan_id(&p, "starter-monthly").await;

    let first = subscribe(&p, &s, &starter, "4000000000009995", "k1").await;
    let r = &first["data"]["subscribeToPlan"];
    assert!(first.get("errors").is_none(), "{first}");
    assert_eq!(r["payment"]["status"], "FAILED");
    assert_eq!(r["payment"]["failureCode"], "insufficient_funds");
    assert_eq!(r["invoice"]["status"], "OPEN");
    assert_eq!(r["subscription"]["status"], "INCOMPLETE");
    // The decline is stored and replayed like a success, without a second charge.
    assert_eq!(
        subscribe(&p, &s, &starter, "4000000000009995", "k1").await,
        first
    );
    let db = p.db.pool("billing").await.expect("pool");
    assert_eq!(
        count(&db, "SELECT count(*) FROM test_provider_charges").await,
        1
    );

    let invoice = r["invoice"]["id"].as_str().expect("id").to_owned();
    let again = pay(&p, &s, &invoice, "pm_card_chargeDeclined", "k2").await;
    assert_eq!(
        again["data"]["payInvoice"]["payment"]["failureCode"], "card_declined",
        "{again}"
    );
    assert_eq!(again["data"]["payInvoice"]["invoice"]["status"], "OPEN");

    let good = pay(&p, &s, &invoice, "pm_card_visa", "k3").await;
    let r = &good["data"]["payInvoice"];
    assert_eq!(r["payment"]["status"], "SUCCEEDED", "{good}");
    assert_eq!(r["invoice"]["status"], "PAID");
    assert_eq!(r["subscription"]["status"], "ACTIVE");
    assert_eq!(
        r["invoice"]["payments"],
        json!([
            { "status": "FAILED", "failureCode": "insufficient_funds" },
            { "status": "FAILED", "failureCode": "card_declined" },
            { "status": "SUCCEEDED", "failureCode": null },
        ])
    );
    let paid_twice = pay(&p, &s, &invoice, "pm_card_visa", "k4").await;
    assert_eq!(code(&paid_twice), Some("CONFLICT"), "{paid_twice}");

    let failed = "SELECT count(*) FROM outbox WHERE event->>'type' = 'payment.failed'";
    assert_eq!(count(&db, failed).await, 2);
    let started = "SELECT count(*) FROM outbox WHERE event->>'type' = 'subscription.started'";
    assert_eq!(count(&db, started).await, 1);
    p.shutdown().await;
}

#[tokio::test]
async fn refuses_reused_keys_anonymous_callers_bad_input_and_other_customers_invoices() {
    let p = TestPlatform::start().await.expect("platform");
    let ann = p.sign_up("ann@example.com", PASSWORD, "Ann").await;
    let bob = p.sign_up("bob@example.com", PASSWORD, "Bob").await;
    let pro = plan_id(&p, "pro-monthly").await;
    let starter = plan_id(&p, "starter-monthly").await;

    let r = subscribe(&p, &ann, &pro, "pm_card_chargeDeclined", "a1").await;
    let invoice = r["data"]["subscribeToPlan"]["invoice"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // The same key for another request, even another operation.
    let other_plan = subscribe(&p, &ann, &starter, "pm_card_chargeDeclined", "a1").await;
    assert_eq!(
        code(&other_plan),
        Some("IDEMPOTENCY_KEY_REUSED"),
        "{other_plan}"
    );
    let other_operation = pay(&p, &ann, &invoice, "pm_card_visa", "a1").await;
    assert_eq!(code(&other_operation), Some("IDEMPOTENCY_KEY_REUSED"));
    // Keys belong to a customer: Bob's "a1" is his own.
    let bobs = subscribe(&p, &bob, &starter, "pm_card_visa", "a1").await;
    assert_eq!(
        bobs["data"]["subscribeToPlan"]["subscription"]["status"], "ACTIVE",
        "{bobs}"
    );

    let input = json!({ "i": { "invoiceId": invoice, "paymentMethod": "pm_card_visa", "idempotencyKey": "x" } });
    let anonymous = p.gql("router", PAY, input, None).await;
    assert_eq!(
        anonymous.code(),
        Some("UNAUTHENTICATED"),
        "{}",
        anonymous.body
    );
    // Bob neither sees nor pays Ann's invoice.
    let seen = p
        .gql(
            "router",
            "query($id: ID!) { invoice(id: $id) { id } }",
            json!({ "id": invoice }),
            Some(&bob.access),
        )
        .await;
    assert_eq!(seen.code(), Some("NOT_FOUND"), "{}", seen.body);
    assert_eq!(
        code(&pay(&p, &bob, &invoice, "pm_card_visa", "b2").await),
        Some("NOT_FOUND")
    );
    let own = p
        .gql(
            "router",
            "query($id: ID!) { invoice(id: $id) { status } }",
            json!({ "id": invoice }),
            Some(&ann.access),
        )
        .await
        .ok();
    assert_eq!(own.data("invoice.status"), "OPEN");

    for (card, key, expected) in [
        ("4111111111111111", "c1", "BAD_USER_INPUT"),
        ("pm_card_visa", "", "BAD_USER_INPUT"),
        ("pm_card_visa", "has space", "BAD_USER_INPUT"),
    ] {
        let r = subscribe(&p, &bob, &pro, card, key).await;
        assert_eq!(code(&r), Some(expected), "{card} {key:?}: {r}");
    }
    let unknown_plan = subscribe(&p, &ann, "not-a-uuid", "pm_card_visa", "c2").await;
    assert_eq!(code(&unknown_plan), Some("BAD_USER_INPUT"));
    // One live subscription per customer.
    let second = subscribe(&p, &bob, &pro, "pm_card_visa", "c3").await;
    assert_eq!(code(&second), Some("CONFLICT"), "{second}");
    p.shutdown().await;
}

#[tokio::test]
async fn the_user_entity_carries_subscription_and_invoices_for_the_user_and_managers() {
    let p = TestPlatform::start().await.expect("platform");
    let cat = p.registered("cat@example.com", PASSWORD, "Cat").await;
    let dan = p.registered("dan@example.com", PASSWORD, "Dan").await;
    let boss = manager(&p, "boss@example.com").await;
    let starter = plan_id(&p, "starter-monthly").await;
    let pro = plan_id(&p, "pro-monthly").await;

    subscribe(&p, &cat, &starter, "pm_card_visa", "c1").await;
    let canceled = p
        .gql(
            "router",
            CANCEL,
            json!({ "i": { "atPeriodEnd": false } }),
            Some(&cat.access),
        )
        .await
        .ok();
    assert_eq!(canceled.data("cancelSubscription.status"), "CANCELED");
    subscribe(&p, &cat, &pro, "pm_card_visa", "c2").await;
    subscribe(&p, &dan, &starter, "pm_card_visa", "d1").await;

    let query = "query($id: ID!) { user(id: $id) { displayName subscription { plan { name } } \
        invoices(first: 5) { edges { node { total } } } } }";
    let r = p
        .gql(
            "router",
            query,
            json!({ "id": cat.user_id }),
            Some(&cat.access),
        )
        .await
        .ok();
    assert_eq!(r.data("user.displayName"), "Cat");
    assert_eq!(r.data("user.subscription.plan.name"), "Pro");
    assert_eq!(
        r.data("user.invoices.edges"),
        &json!([{ "node": { "total": 2900 } }, { "node": { "total": 900 } }])
    );

    // Someone else: FORBIDDEN; a holder of billing:manage: allowed.
    let other = p
        .gql(
            "router",
            query,
            json!({ "id": cat.user_id }),
            Some(&dan.access),
        )
        .await;
    assert_eq!(other.code(), Some("FORBIDDEN"), "{}", other.body);
    let managed = p
        .gql(
            "router",
            query,
            json!({ "id": cat.user_id }),
            Some(&boss.access),
        )
        .await
        .ok();
    assert_eq!(
        managed.data("user.invoices.edges").as_array().map(Vec::len),
        Some(2)
    );

    // Pages: newest first with opaque cursors, and bounded sizes.
    let page = "query($id: ID!, $a: String) { user(id: $id) { invoices(first: 1, after: $a) { \
        edges { node { number } } pageInfo { hasNextPage endCursor } } } }";
    let one = p
        .gql(
            "router",
            page,
            json!({ "id": cat.user_id }),
            Some(&cat.access),
        )
        .await
        .ok();
    assert_eq!(one.data("user.invoices.pageInfo.hasNextPage"), true);
    let cursor = one.data("user.invoices.pageInfo.endCursor").clone();
    let two = p
        .gql(
            "router",
            page,
            json!({ "id": cat.user_id, "a": cursor }),
            Some(&cat.access),
        )
        .await
        .ok();
    assert_eq!(
        two.data("user.invoices.edges")[0]["node"]["number"],
        "INV-000001"
    );
    assert_eq!(two.data("user.invoices.pageInfo.hasNextPage"), false);
    let too_many =
        "query($id: ID!) { user(id: $id) { invoices(first: 101) { edges { cursor } } } }";
    let r = p
        .gql(
            "router",
            too_many,
            json!({ "id": cat.user_id }),
            Some(&cat.access),
        )
        .await;
    assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);

    // Several users in one entity batch: one page per user.
    let entities = p
        .gql(
            "billing",
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id invoices(first: 1) { edges { node { total } } } } } }",
            json!({ "r": [
                { "__typename": "User", "id": cat.user_id },
                { "__typename": "User", "id": dan.user_id },
            ] }),
            Some(&boss.access),
        )
        .await
        .ok();
    let totals: Vec<&Value> = entities
        .data("_entities")
        .as_array()
        .expect("entities")
        .iter()
        .map(|u| &u["invoices"]["edges"][0]["node"]["total"])
        .collect();
    assert_eq!(totals, [&json!(2900), &json!(900)]);
    p.shutdown().await;
}
