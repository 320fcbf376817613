//! Audit's `auditEventRecorded`, taken directly from the audit subgraph over
//! graphql-transport-ws, through a real broker.

use serde_json::json;
use tessera_tests::{Broker, WsClient};

use super::{ADMIN, rename, sign_up, with_broker};

const RECORDED: &str = "subscription($f: AuditEventFilter) { auditEventRecorded(filter: $f) { \
    seq eventId type source subject actor data } }";

#[tokio::test]
async fn audit_event_recorded_requires_audit_read_and_streams_records_once_they_are_in_the_log() {
    let broker = Broker::start().await.expect("broker");
    let p = with_broker(&broker).await;
    let admin = sign_up(&p, ADMIN, "Root").await;
    let ann = sign_up(&p, "ann@example.com", "Ann").await;

    for (token, code) in [(None, "UNAUTHENTICATED"), (Some(&ann.access), "FORBIDDEN")] {
        let mut ws = WsClient::open(&p, "audit", token.map(String::as_str)).await;
        ws.subscribe("1", RECORDED, json!({})).await;
        let refused = ws.payload_of("1").await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], code,
            "{refused}"
        );
    }

    let mut ws = WsClient::open(&p, "audit", Some(&admin.access)).await;
    let filter = json!({ "type": "user.updated", "subject": ann.user_id });
    ws.subscribe("1", RECORDED, json!({ "f": filter })).await;
    p.wait_for_subscribers("audit", 1).await;
    // The root's own change comes first and is filtered out.
    rename(&p, &admin, "Root Two").await;
    rename(&p, &ann, "Anna").await;

    let record = ws.payload_of("1").await["data"]["auditEventRecorded"].clone();
    assert_eq!(record["type"], "user.updated", "{record}");
    assert_eq!(record["source"], "identity");
    assert_eq!(record["subject"], ann.user_id.as_str());
    assert_eq!(record["actor"], ann.user_id.as_str());
    assert_eq!(record["data"]["displayName"], "Anna");
    // Streamed from the log, not ahead of it.
    let audit = p.db.pool("audit").await.expect("pool");
    let logged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE seq = $1 AND event_id = $2::uuid")
            .bind(record["seq"].as_i64().expect("seq"))
            .bind(record["eventId"].as_str().expect("eventId"))
            .fetch_one(&audit)
            .await
            .expect("count");
    assert_eq!(logged, 1);
    p.shutdown().await;
    drop(broker);
}
