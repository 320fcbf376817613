//! Billing's `invoiceUpdated`, taken directly from the billing subgraph over
//! graphql-transport-ws, through a real broker.

use serde_json::{Value, json};
use tessera_tests::{Broker, TestPlatform, WsClient};

use super::{PASSWORD, pay, plan_id, subscribe};

const INVOICE_UPDATED: &str = "subscription { invoiceUpdated { id status total user { id } \
    payments { status failureCode } } }";

async fn update(ws: &mut WsClient) -> Value {
    ws.payload_of("1").await["data"]["invoiceUpdated"].clone()
}

#[tokio::test]
async fn invoice_updated_streams_the_callers_own_invoices_only() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::with_broker(&broker).await.expect("platform");
    let hal = p.sign_up("hal@example.com", PASSWORD, "Hal").await;
    let ivy = p.sign_up("ivy@example.com", PASSWORD, "Ivy").await;

    let mut anonymous = WsClient::open(&p, "billing", None).await;
    anonymous.subscribe("1", INVOICE_UPDATED, json!({})).await;
    let refused = anonymous.payload_of("1").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );

    let mut hals = WsClient::open(&p, "billing", Some(&hal.access)).await;
    hals.subscribe("1", INVOICE_UPDATED, json!({})).await;
    let mut ivys = WsClient::open(&p, "billing", Some(&ivy.access)).await;
    ivys.subscribe("1", INVOICE_UPDATED, json!({})).await;
    p.wait_for_subscribers("billing", 2).await;

    // Ivy's events come first on the topic; Hal's stream starts with his own invoice.
    let pro = plan_id(&p, "pro-monthly").await;
    let declined = subscribe(&p, &ivy, &pro, "pm_card_chargeDeclined", "i1").await;
    let ivys_invoice = declined["data"]["subscribeToPlan"]["invoice"]["id"]
        .as_str()
        .expect("invoice")
        .to_owned();
    let paid = subscribe(&p, &hal, &pro, "pm_card_visa", "h1").await;
    let hals_invoice = paid["data"]["subscribeToPlan"]["invoice"]["id"]
        .as_str()
        .expect("invoice")
        .to_owned();

    let first = update(&mut hals).await;
    assert_eq!(first["id"], hals_invoice.as_str(), "{first}");
    assert_eq!(first["user"]["id"], hal.user_id.as_str());
    assert_eq!(first["status"], "PAID");

    let issued = update(&mut ivys).await;
    assert_eq!(issued["id"], ivys_invoice.as_str(), "{issued}");
    assert_eq!(issued["status"], "OPEN");
    assert_eq!(issued["payments"][0]["status"], "FAILED");
    // The declined charge is an update of its own.
    assert_eq!(update(&mut ivys).await["id"], ivys_invoice.as_str());
    pay(&p, &ivy, &ivys_invoice, "pm_card_visa", "i2").await;
    let settled = update(&mut ivys).await;
    assert_eq!(settled["id"], ivys_invoice.as_str(), "{settled}");
    assert_eq!(settled["status"], "PAID");
    p.shutdown().await;
    drop(broker);
}
