//! Billing through the router: idempotent money-moving mutations under concurrency, declined
//! cards as results, authorization of billing records, the renewal job, and billing's events.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};
use tessera_tests::platform::Session;
use tessera_tests::{Broker, TestPlatform, eventually};

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

/// A second job instance, as another replica of the service would run it.
async fn job(p: &TestPlatform) -> tessera_billing::flows::Billing {
    let database = tessera_kit::config::DatabaseConfig {
        url: tessera_kit::config::Secret::new(p.db.url.clone()),
        ..Default::default()
    };
    let pool = p.db.pool("billing").await.expect("pool");
    let outbox = tessera_kit::events::Outbox::new("tessera.billing");
    tessera_billing::billing(
        pool,
        &database,
        outbox,
        tessera_billing::Settings::default(),
    )
    .await
    .expect("billing")
}

/// Moves `user`'s subscription period so that it ended a minute ago.
async fn end_period(db: &sqlx::PgPool, user: &str) {
    sqlx::query(
        "UPDATE subscriptions SET current_period_start = now() - interval '1 month 1 minute', \
         current_period_end = now() - interval '1 minute' WHERE user_id = $1::uuid",
    )
    .bind(user)
    .execute(db)
    .await
    .expect("period moved");
}

#[tokio::test]
async fn the_renewal_job_issues_the_next_invoice_once_and_charges_it() {
    let p = TestPlatform::builder()
        .billing_renewal_interval(50)
        .start()
        .await
        .expect("platform");
    let eve = p.registered("eve@example.com", PASSWORD, "Eve").await;
    let pro = plan_id(&p, "pro-monthly").await;
    subscribe(&p, &eve, &pro, "pm_card_visa", "e1").await;
    let db = p.db.pool("billing").await.expect("pool");
    let replicas = [job(&p).await, job(&p).await];

    end_period(&db, &eve.user_id).await;
    // The service's own job and two more instances race for the due subscription.
    let passes = join_all(replicas.iter().map(|j| j.renew_due())).await;
    assert!(passes.iter().all(Result::is_ok), "{passes:?}");
    let renewed = eventually(Duration::from_secs(10), || async {
        let paid = count(&db, "SELECT count(*) FROM invoices WHERE status = 'paid'").await;
        (paid == 2).then_some(())
    })
    .await;
    assert!(
        renewed.is_some(),
        "the job issued and charged the next invoice"
    );
    // More passes find nothing due: the period moved on.
    for j in &replicas {
        assert_eq!(j.renew_due().await.expect("pass").renewed, 0);
    }
    assert_eq!(count(&db, "SELECT count(*) FROM invoices").await, 2);
    assert_eq!(
        count(&db, "SELECT count(*) FROM test_provider_charges").await,
        2
    );
    assert_eq!(count(&db, "SELECT count(*) FROM subscriptions WHERE current_period_end > now() AND status = 'active'").await, 1);
    let renewal: Value = sqlx::query_scalar(
        "SELECT event FROM outbox WHERE event->>'type' = 'subscription.renewed'",
    )
    .fetch_one(&db)
    .await
    .expect("renewed event");
    assert_eq!(
        renewal["actor"],
        Value::Null,
        "the job acts on no one's behalf"
    );
    assert_eq!(renewal["subject"], eve.user_id.as_str());

    let invoices = p.gql("router", "query($id: ID!) { user(id: $id) { invoices { edges { node { number status total } } } } }", json!({ "id": eve.user_id }), Some(&eve.access)).await.ok();
    assert_eq!(
        invoices.data("user.invoices.edges")[0]["node"],
        json!({ "number": "INV-000002", "status": "PAID", "total": 2900 })
    );
    p.shutdown().await;
}

#[tokio::test]
async fn the_job_makes_declined_renewals_past_due_and_ends_scheduled_cancellations() {
    let p = TestPlatform::builder()
        .billing_renewal_interval(50)
        .start()
        .await
        .expect("platform");
    let fay = p.registered("fay@example.com", PASSWORD, "Fay").await;
    let gus = p.sign_up("gus@example.com", PASSWORD, "Gus").await;
    let pro = plan_id(&p, "pro-monthly").await;
    subscribe(&p, &fay, &pro, "pm_card_visa", "f1").await;
    subscribe(&p, &gus, &pro, "pm_card_visa", "g1").await;
    let db = p.db.pool("billing").await.expect("pool");

    // Fay's card starts declining; Gus cancels at the end of the period.
    sqlx::query("UPDATE subscriptions SET payment_method = 'pm_card_chargeDeclined' WHERE user_id = $1::uuid")
        .bind(&fay.user_id).execute(&db).await.expect("card on file");
    let scheduled = p
        .gql("router", CANCEL, json!({}), Some(&gus.access))
        .await
        .ok();
    assert_eq!(scheduled.data("cancelSubscription.cancelAtPeriodEnd"), true);
    assert_eq!(scheduled.data("cancelSubscription.status"), "ACTIVE");
    end_period(&db, &fay.user_id).await;
    end_period(&db, &gus.user_id).await;

    let status = |user: String| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM subscriptions WHERE user_id = $1::uuid ORDER BY created_at DESC LIMIT 1")
                .bind(user).fetch_one(&db).await.expect("status")
        }
    };
    let settled = eventually(Duration::from_secs(10), || async {
        let fay_status = status(fay.user_id.clone()).await;
        let gus_status = status(gus.user_id.clone()).await;
        (fay_status == "past_due" && gus_status == "canceled").then_some(())
    })
    .await;
    assert!(settled.is_some(), "past due and canceled");
    let open = "SELECT count(*) FROM invoices WHERE status = 'open'";
    assert_eq!(
        count(&db, open).await,
        1,
        "Fay's renewal invoice waits to be paid"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM invoices").await,
        3,
        "Gus got no renewal invoice"
    );
    let past_due = "SELECT count(*) FROM outbox WHERE event->>'type' IN ('subscription.past_due', 'payment.failed', 'subscription.canceled')";
    assert_eq!(count(&db, past_due).await, 3);

    // Paying the open invoice brings Fay back.
    let r = p
        .gql(
            "router",
            "query($id: ID!) { user(id: $id) { invoices(first: 1) { edges { node { id } } } } }",
            json!({ "id": fay.user_id }),
            Some(&fay.access),
        )
        .await
        .ok();
    let invoice = r.data("user.invoices.edges")[0]["node"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let paid = pay(&p, &fay, &invoice, "pm_card_mastercard", "f2").await;
    assert_eq!(
        paid["data"]["payInvoice"]["subscription"]["status"], "ACTIVE",
        "{paid}"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn publishes_billing_events_through_the_broker() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::with_broker(&broker).await.expect("platform");
    let hal = p.sign_up("hal@example.com", PASSWORD, "Hal").await;
    let pro = plan_id(&p, "pro-monthly").await;
    let r = subscribe(&p, &hal, &pro, "pm_card_chargeDeclined", "h1").await;
    let invoice = r["data"]["subscribeToPlan"]["invoice"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    pay(&p, &hal, &invoice, "pm_card_visa", "h2").await;
    p.gql(
        "router",
        CANCEL,
        json!({ "i": { "atPeriodEnd": false } }),
        Some(&hal.access),
    )
    .await
    .ok();

    let expected = [
        "subscription.started",
        "subscription.canceled",
        "invoice.issued",
        "invoice.paid",
        "payment.failed",
    ];
    let prefix = &p.options.kafka.as_ref().expect("kafka").topic_prefix;
    let events = crate::events::read_events(
        &broker.bootstrap(),
        &[format!("{prefix}billing")],
        |events| {
            expected
                .iter()
                .all(|t| events.iter().any(|e| e["type"] == *t))
        },
    )
    .await;
    for e in &events {
        assert_eq!(e["subject"], hal.user_id.as_str(), "{e}");
        assert_eq!(e["actor"], hal.user_id.as_str(), "{e}");
        assert_eq!(e["source"], "billing", "{e}");
    }
    let of = |kind: &str| {
        events
            .iter()
            .find(|e| e["type"] == kind)
            .expect(kind)
            .clone()
    };
    let failed = of("payment.failed");
    assert_eq!(failed["data"]["invoiceId"], invoice.as_str());
    assert_eq!(
        (
            failed["data"]["amount"].clone(),
            failed["data"]["currency"].clone()
        ),
        (json!(2900), json!("EUR"))
    );
    assert_eq!(failed["data"]["failureCode"], "card_declined");
    let issued = of("invoice.issued");
    assert_eq!(
        (
            issued["data"]["total"].clone(),
            issued["data"]["number"].clone()
        ),
        (json!(2900), json!("INV-000001"))
    );
    assert_eq!(of("invoice.paid")["data"]["status"], "paid");
    assert_eq!(
        of("subscription.started")["data"]["planCode"],
        "pro-monthly"
    );
    assert_eq!(of("subscription.canceled")["data"]["status"], "canceled");
    // One customer's events keep their order: issued, failed, paid, started, canceled.
    let position = |kind: &str| events.iter().position(|e| e["type"] == kind).expect(kind);
    assert!(position("invoice.issued") < position("payment.failed"));
    assert!(position("invoice.paid") < position("subscription.canceled"));
    p.shutdown().await;
}
