//! The renewal job: the next invoice issued once and charged, also with several instances;
//! declined renewals and scheduled cancellations.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};
use tessera_tests::{TestPlatform, eventually};

use super::{CANCEL, PASSWORD, count, pay, plan_id, subscribe};

/// A second job instance, as another replica of the service would run it.
async fn job(p: &TestPlatform) -> tessera_billing::flows::Billing {
    let database = tessera_kit::config::DatabaseConfig {
        url: tessera_kit::config::Secret::new(p.db.url.clone()),
        ..Default::default()
    };
    let pool = tessera_kit::db::Db::new(
        p.db.pool("billing").await.expect("pool"),
        tessera_kit::db::Statements::new("billing"),
    );
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
