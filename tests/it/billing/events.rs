//! Billing's events through a real Kafka-protocol broker.

use serde_json::json;
use tessera_tests::{Broker, TestPlatform};

use super::{CANCEL, PASSWORD, pay, plan_id, subscribe};

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
