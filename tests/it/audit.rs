//! The audit log: every event of every topic recorded once and in order, a hash chain that
//! names the row someone changed, an append-only table, and the log's queries with their
//! permissions; its subscription in [`live`].

mod live;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt as _;
use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use tessera_kit::events::{Envelope, EventBus as _};
use tessera_tests::platform::{LOGIN, SIGN_UP, Session};
use tessera_tests::{Broker, Gql, TestPlatform};

const PASSWORD: &str = "correct horse battery";
const ADMIN: &str = "root@example.com";
const VERIFY: &str =
    "{ verifyAuditChain { ok rowsChecked lastHash firstBroken { seq eventId reason } } }";
const EVENTS: &str = "query($f: AuditEventFilter, $n: Int, $a: String) { auditEvents(filter: $f, first: $n, after: $a) { edges { cursor node { seq eventId type source subject actor occurredAt data } } pageInfo { hasNextPage endCursor } } }";

async fn router(p: &TestPlatform, query: &str, variables: Value, token: Option<&str>) -> Gql {
    p.gql("router", query, variables, token).await
}

/// The platform with its events going through `broker`, and [`ADMIN`] as an administrator.
async fn with_broker(broker: &Broker) -> TestPlatform {
    TestPlatform::builder()
        .kafka(broker.bootstrap())
        .admin(ADMIN)
        .start()
        .await
        .expect("platform")
}

async fn sign_up(p: &TestPlatform, email: &str, name: &str) -> Session {
    let r = router(
        p,
        SIGN_UP,
        json!({ "i": { "email": email, "password": PASSWORD, "displayName": name } }),
        None,
    )
    .await
    .ok();
    let session = TestPlatform::session_of(&r, "signUp");
    p.wait_for_user(&session).await;
    session
}

async fn rename(p: &TestPlatform, s: &Session, name: &str) {
    router(
        p,
        "mutation($n: String!) { updateProfile(input: { displayName: $n }) { id } }",
        json!({ "n": name }),
        Some(&s.access),
    )
    .await
    .ok();
}

/// Waits until the log holds as many rows as auth and identity wrote events to their outboxes,
/// plus `extra`; returns the number of rows.
async fn recorded(p: &TestPlatform, extra: i64) -> i64 {
    let audit = p.db.pool("audit").await.expect("pool");
    // Every running service that audit reads keeps its events in its own outbox.
    let outboxes: Vec<String> = tessera::platform::SERVICES
        .iter()
        .filter(|s| tessera_audit::events::AUDITED_SERVICES.contains(s))
        .map(|s| format!("(SELECT count(*) FROM {s}.outbox)"))
        .collect();
    let sql = format!(
        "SELECT {} - (SELECT count(*) FROM audit_log)",
        outboxes.join(" + ")
    );
    let sql = sql.as_str();
    let done = tessera_tests::eventually(Duration::from_secs(30), || async {
        let missing: i64 = sqlx::query_scalar(sql).fetch_one(&audit).await.ok()?;
        (missing + extra <= 0).then_some(())
    })
    .await;
    assert!(done.is_some(), "the log did not catch up with the outboxes");
    sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&audit)
        .await
        .expect("count")
}

/// Reads `topics` from the start until `count` distinct events arrived; each with its topic,
/// in the order of its topic.
async fn read_topics(bootstrap: &str, topics: &[String], count: usize) -> Vec<(String, Value)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-reader-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
        .expect("consumer");
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names).expect("subscribe");
    let (mut events, mut ids) = (Vec::new(), HashSet::new());
    let mut stream = consumer.stream();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ids.len() < count {
        let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, stream.next()).await else {
            panic!("timed out after {} of {count} events", ids.len());
        };
        let event: Value =
            serde_json::from_slice(message.payload().expect("payload")).expect("an envelope");
        ids.insert(event["id"].as_str().expect("id").to_owned());
        events.push((message.topic().to_owned(), event));
    }
    events
}

fn topics(p: &TestPlatform) -> Vec<String> {
    let prefix = &p.options.kafka.as_ref().expect("kafka").topic_prefix;
    tessera_audit::events::AUDITED_SERVICES
        .iter()
        .map(|s| format!("{prefix}{s}"))
        .collect()
}

/// A row of the log: (seq, event id, type, source, subject, actor, data).
type Row = (
    i64,
    uuid::Uuid,
    String,
    String,
    String,
    Option<String>,
    Value,
);

async fn rows(p: &TestPlatform) -> Vec<Row> {
    let audit = p.db.pool("audit").await.expect("pool");
    sqlx::query_as(
        "SELECT seq, event_id, type, source, subject, actor, data FROM audit_log ORDER BY seq",
    )
    .fetch_all(&audit)
    .await
    .expect("rows")
}

/// Changes one row's data as the database owner could: the append-only trigger set aside.
async fn tamper(p: &TestPlatform, seq: i64) {
    let audit = p.db.pool("audit").await.expect("pool");
    let mut tx = audit.begin().await.expect("tx");
    for sql in [
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "UPDATE audit_log SET data = jsonb_set(data, '{displayName}', '\"Mallory\"') WHERE seq = $1",
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",
    ] {
        let changed = sqlx::query(sql)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .expect("tamper");
        assert!(!sql.starts_with("UPDATE") || changed.rows_affected() == 1);
    }
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn records_every_event_of_a_scenario_once_in_order_and_names_a_tampered_row() {
    let broker = Broker::start().await.expect("broker");
    let p = with_broker(&broker).await;
    let admin = sign_up(&p, ADMIN, "Root").await;
    let ann = sign_up(&p, "ann@example.com", "Ann").await;
    let bob = sign_up(&p, "bob@example.com", "Bob").await;
    let cat = sign_up(&p, "cat@example.com", "Cat").await;

    rename(&p, &ann, "Ann A").await;
    rename(&p, &bob, "Bob B").await;
    rename(&p, &bob, "Bob C").await;
    router(
        &p,
        "mutation { requestEmailVerification }",
        json!({}),
        Some(&ann.access),
    )
    .await
    .ok();
    let token = p.mailed_token("ann@example.com", "Verify").await;
    let verify_email = "mutation($t: String!) { verifyEmail(token: $t) { id } }";
    router(&p, verify_email, json!({ "t": token }), None)
        .await
        .ok();

    let wrong = json!({ "i": { "email": "bob@example.com", "password": "not it" } });
    assert_eq!(
        router(&p, LOGIN, wrong, None).await.code(),
        Some("INVALID_CREDENTIALS")
    );
    let right = json!({ "i": { "email": "bob@example.com", "password": PASSWORD } });
    let bob2 = TestPlatform::session_of(&router(&p, LOGIN, right, None).await.ok(), "login");
    let logout = "mutation($t: String!) { logout(refreshToken: $t) }";
    router(&p, logout, json!({ "t": bob2.refresh }), None)
        .await
        .ok();

    let refresh = "mutation($t: String!) { refreshToken(token: $t) { accessToken } }";
    router(&p, refresh, json!({ "t": cat.refresh }), None)
        .await
        .ok();
    let reused = router(&p, refresh, json!({ "t": cat.refresh }), None).await;
    assert_eq!(reused.code(), Some("TOKEN_REUSED"));
    router(&p, "mutation { logoutAll }", json!({}), Some(&ann.access))
        .await
        .ok();
    let reset = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    router(&p, reset, json!({ "e": "cat@example.com" }), None)
        .await
        .ok();
    let token = p.mailed_token("cat@example.com", "Reset").await;
    let new_password = "mutation($t: String!) { resetPassword(token: $t, newPassword: \"another horse battery\") }";
    router(&p, new_password, json!({ "t": token }), None)
        .await
        .ok();

    // authz: a role, granted and revoked.
    let role = "mutation { createRole(input: { name: \"editor\", permissions: [\"blog:moderate\"] }) { id } }";
    router(&p, role, json!({}), Some(&admin.access)).await.ok();
    let grant =
        "mutation($u: ID!) { grantRole(input: { userId: $u, roleName: \"editor\" }) { id } }";
    router(&p, grant, json!({ "u": ann.user_id }), Some(&admin.access))
        .await
        .ok();
    let revoke = "mutation($u: ID!) { revokeRole(input: { userId: $u, roleName: \"editor\" }) }";
    router(&p, revoke, json!({ "u": ann.user_id }), Some(&admin.access))
        .await
        .ok();

    // blog: a post written, published, edited and commented on.
    let create = "mutation { createPost(input: { title: \"Ledger\", body: \"Every line counts.\", tags: [\"audit\"] }) { id } }";
    let post = router(&p, create, json!({}), Some(&bob.access)).await.ok();
    let post_id = post.data("createPost.id").clone();
    let publish = "mutation($id: ID!) { publishPost(id: $id) { status } }";
    router(&p, publish, json!({ "id": post_id }), Some(&bob.access))
        .await
        .ok();
    let update = "mutation($id: ID!) { updatePost(input: { id: $id, body: \"Every line is counted.\" }) { id } }";
    router(&p, update, json!({ "id": post_id }), Some(&bob.access))
        .await
        .ok();
    let comment =
        "mutation($id: ID!) { addComment(input: { postId: $id, body: \"Agreed.\" }) { id } }";
    router(&p, comment, json!({ "id": post_id }), Some(&ann.access))
        .await
        .ok();

    // billing: a declined card, then a paid subscription, then a cancellation.
    let plans = router(&p, "{ plans { id } }", json!({}), Some(&cat.access))
        .await
        .ok();
    let plan_id = plans.data("plans")[0]["id"].clone();
    let subscribe =
        "mutation($i: SubscribeInput!) { subscribeToPlan(input: $i) { invoice { id } } }";
    let declined = router(
        &p,
        subscribe,
        json!({ "i": { "planId": plan_id, "paymentMethod": "4000000000000002", "idempotencyKey": "k1" } }),
        Some(&cat.access),
    )
    .await
    .ok();
    let invoice_id = declined.data("subscribeToPlan.invoice.id").clone();
    let pay = "mutation($i: PayInvoiceInput!) { payInvoice(input: $i) { payment { status } } }";
    router(
        &p,
        pay,
        json!({ "i": { "invoiceId": invoice_id, "paymentMethod": "pm_card_visa", "idempotencyKey": "k2" } }),
        Some(&cat.access),
    )
    .await
    .ok();
    router(
        &p,
        "mutation { cancelSubscription(input: { atPeriodEnd: false }) { status } }",
        json!({}),
        Some(&cat.access),
    )
    .await
    .ok();

    // Every event on the topics is in the log exactly once.
    let n = recorded(&p, 0).await;
    let published = read_topics(&broker.bootstrap(), &topics(&p), n as usize).await;
    let log = rows(&p).await;
    let seq_of: HashMap<String, i64> = log.iter().map(|r| (r.1.to_string(), r.0)).collect();
    assert_eq!(seq_of.len(), log.len(), "one row per event id");
    let ids: HashSet<&str> = published
        .iter()
        .map(|(_, e)| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        seq_of.keys().map(String::as_str).collect(),
        "the log is what the topics hold"
    );
    let types: HashSet<&str> = log.iter().map(|r| r.2.as_str()).collect();
    for t in [
        "auth.signed_up",
        "user.registered",
        "user.updated",
        "user.email_verified",
        "auth.login_failed",
        "auth.login_succeeded",
        "auth.tokens_revoked",
        "auth.password_reset",
        "role.created",
        "role.granted",
        "role.revoked",
        "scopes.changed",
        "post.created",
        "post.published",
        "post.updated",
        "comment.added",
        "subscription.started",
        "payment.failed",
        "invoice.issued",
        "invoice.paid",
        "subscription.canceled",
    ] {
        assert!(types.contains(t), "{t} recorded");
    }
    for (_, event) in &published {
        let row = &log[log
            .iter()
            .position(|r| r.1.to_string() == event["id"])
            .expect("row")];
        assert_eq!(
            (
                row.2.as_str(),
                row.3.as_str(),
                row.4.as_str(),
                row.5.as_deref(),
                &row.6
            ),
            (
                event["type"].as_str().expect("type"),
                event["source"].as_str().expect("source"),
                event["subject"].as_str().expect("subject"),
                event["actor"].as_str(),
                &event["data"]
            )
        );
    }

    // Per topic and subject, the log keeps the order the topic has.
    let mut last: HashMap<(&str, &str), i64> = HashMap::new();
    for (topic, event) in &published {
        let seq = seq_of[event["id"].as_str().expect("id")];
        let key = (topic.as_str(), event["subject"].as_str().expect("subject"));
        if let Some(before) = last.insert(key, seq) {
            assert!(before < seq, "{key:?}: {event} recorded out of order");
        }
    }

    let r = router(&p, VERIFY, json!({}), Some(&admin.access))
        .await
        .ok();
    assert_eq!(r.data("verifyAuditChain.ok"), true, "{}", r.body);
    assert_eq!(r.data("verifyAuditChain.rowsChecked"), n);
    assert_eq!(r.data("verifyAuditChain.firstBroken"), &Value::Null);

    // Bob's second rename, rewritten behind the log's back, is the row the walk names.
    let target = log
        .iter()
        .filter(|r| r.2 == "user.updated" && r.4 == bob.user_id)
        .nth(1)
        .expect("bob's second rename");
    tamper(&p, target.0).await;
    let r = router(&p, VERIFY, json!({}), Some(&admin.access))
        .await
        .ok();
    let report = r.data("verifyAuditChain");
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(
        report["firstBroken"],
        json!({ "seq": target.0, "eventId": target.1.to_string(), "reason": "CONTENT_HASH_MISMATCH" })
    );
    let position = log.iter().position(|r| r.0 == target.0).expect("row") + 1;
    assert_eq!(report["rowsChecked"], position);
    p.shutdown().await;
}

/// An envelope about `subject`, as another service would publish it.
fn envelope(source: &str, kind: &str, subject: &str, actor: Option<&str>) -> Envelope {
    Envelope::new(
        source,
        kind,
        subject,
        actor.map(str::to_owned),
        json!({ "n": 1.50, "b": [true, null] }),
    )
}

async fn count_of(p: &TestPlatform, event_id: uuid::Uuid) -> i64 {
    let audit = p.db.pool("audit").await.expect("pool");
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(&audit)
        .await
        .expect("count")
}

#[tokio::test]
async fn reads_topics_that_appear_after_it_subscribed_and_records_a_redelivery_once() {
    let broker = Broker::start().await.expect("broker");
    let p = with_broker(&broker).await;
    let admin = sign_up(&p, ADMIN, "Root").await;
    recorded(&p, 0).await;

    // Nobody has published to the billing and blog topics yet. The same envelope goes out
    // twice, then a later event on its partition, so once that one is in the log both copies
    // have been handled.
    let prefix = p
        .options
        .kafka
        .as_ref()
        .expect("kafka")
        .topic_prefix
        .clone();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .expect("producer");
    let twice = envelope("billing", "invoice.paid", "inv-1", Some(&admin.user_id));
    let later = envelope("billing", "invoice.voided", "inv-1", Some(&admin.user_id));
    let blog = envelope("blog", "post.published", "post-1", Some(&admin.user_id));
    for (service, event) in [
        ("billing", &twice),
        ("billing", &twice),
        ("billing", &later),
        ("blog", &blog),
    ] {
        let payload = serde_json::to_vec(event).expect("json");
        let topic = format!("{prefix}{service}");
        let record = FutureRecord::to(&topic)
            .key(&event.subject)
            .payload(&payload);
        producer
            .send(record, Duration::from_secs(10))
            .await
            .expect("publish");
    }
    let rows = recorded(&p, 3).await;
    for (event, n) in [(&twice, 1), (&later, 1), (&blog, 1)] {
        let recorded = tessera_tests::eventually(Duration::from_secs(20), || async {
            (count_of(&p, event.id).await == n).then_some(())
        })
        .await;
        assert!(recorded.is_some(), "{} recorded once", event.kind);
    }
    assert_eq!(recorded(&p, 3).await, rows, "nothing more arrived");
    let r = router(&p, VERIFY, json!({}), Some(&admin.access))
        .await
        .ok();
    assert_eq!(r.data("verifyAuditChain.ok"), true, "{}", r.body);
    p.shutdown().await;
}

#[tokio::test]
async fn the_same_envelope_published_twice_onto_the_bus_is_recorded_once() {
    let p = TestPlatform::builder()
        .admin(ADMIN)
        .start()
        .await
        .expect("platform");
    let admin = sign_up(&p, ADMIN, "Root").await;
    let bus = &p.platform.embedded.bus;
    let twice = envelope(
        "authz",
        "role.granted",
        &admin.user_id,
        Some(&admin.user_id),
    );
    let marker = envelope(
        "authz",
        "role.revoked",
        &admin.user_id,
        Some(&admin.user_id),
    );
    for event in [&twice, &twice, &marker] {
        bus.publish("tessera.authz", event).await.expect("publish");
    }
    let rows = recorded(&p, 2).await;
    assert_eq!(count_of(&p, twice.id).await, 1);
    assert_eq!(count_of(&p, marker.id).await, 1);
    let r = router(&p, VERIFY, json!({}), Some(&admin.access))
        .await
        .ok();
    assert_eq!(r.data("verifyAuditChain.rowsChecked"), rows);
    assert_eq!(r.data("verifyAuditChain.ok"), true, "{}", r.body);
    p.shutdown().await;
}

fn nodes(r: &Gql, path: &str) -> Vec<Value> {
    r.data(path)["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn seqs(nodes: &[Value]) -> Vec<i64> {
    nodes
        .iter()
        .map(|n| n["seq"].as_i64().expect("seq"))
        .collect()
}

#[tokio::test]
async fn audit_events_filter_and_page_newest_first() {
    let p = TestPlatform::builder()
        .admin(ADMIN)
        .start()
        .await
        .expect("platform");
    let admin = sign_up(&p, ADMIN, "Root").await;
    let ann = sign_up(&p, "ann@example.com", "Ann").await;
    let bob = sign_up(&p, "bob@example.com", "Bob").await;
    for name in ["Ann 1", "Ann 2", "Ann 3"] {
        rename(&p, &ann, name).await;
    }
    rename(&p, &bob, "Bob 1").await;
    let total = recorded(&p, 0).await;
    let list = |filter: Value, first: i64, after: Option<String>| {
        let admin = admin.access.clone();
        let p = &p;
        async move {
            router(
                p,
                EVENTS,
                json!({ "f": filter, "n": first, "a": after }),
                Some(&admin),
            )
            .await
        }
    };

    // Everything, newest first.
    let all = nodes(&list(json!({}), 100, None).await.ok(), "auditEvents");
    assert_eq!(all.len() as i64, total);
    let mut descending = seqs(&all);
    descending.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seqs(&all), descending, "newest first");

    // Pages of two walk the same list.
    let (mut paged, mut after) = (Vec::new(), None);
    loop {
        let r = list(json!({}), 2, after).await.ok();
        paged.extend(nodes(&r, "auditEvents"));
        if r.data("auditEvents.pageInfo.hasNextPage") == false {
            break;
        }
        after = r
            .data("auditEvents.pageInfo.endCursor")
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(seqs(&paged), seqs(&all));

    // Filters, alone and together.
    let renames = json!({ "type": "user.updated", "subject": ann.user_id });
    let r = nodes(&list(renames, 100, None).await.ok(), "auditEvents");
    let names: Vec<&Value> = r.iter().map(|n| &n["data"]["displayName"]).collect();
    assert_eq!(names, [&json!("Ann 3"), &json!("Ann 2"), &json!("Ann 1")]);
    let by_bob = nodes(
        &list(json!({ "actor": bob.user_id }), 100, None).await.ok(),
        "auditEvents",
    );
    assert!(!by_bob.is_empty() && by_bob.iter().all(|n| n["actor"] == bob.user_id.as_str()));
    let types: HashSet<&str> = by_bob
        .iter()
        .map(|n| n["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        HashSet::from(["auth.signed_up", "user.registered", "user.updated"])
    );

    // A time window: from the second rename (inclusive) to the third (exclusive).
    let at = |i: usize| r[i]["occurredAt"].clone();
    let window = json!({ "subject": ann.user_id, "from": at(1), "to": at(0) });
    let inside = nodes(&list(window, 100, None).await.ok(), "auditEvents");
    assert_eq!(seqs(&inside), [r[1]["seq"].as_i64().expect("seq")]);

    let none = json!({ "type": "no.such.type" });
    assert!(nodes(&list(none, 100, None).await.ok(), "auditEvents").is_empty());

    // Bad input is refused with a code.
    for (filter, first, after) in [
        (json!({}), 101, None),
        (json!({}), -1, None),
        (json!({}), 5, Some("not-a-cursor".to_owned())),
        (json!({ "from": at(0), "to": at(2) }), 5, None),
    ] {
        let r = list(filter, first, after).await;
        assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{}", r.body);
    }
    p.shutdown().await;
}

#[tokio::test]
async fn reading_the_log_requires_audit_read() {
    let p = TestPlatform::builder()
        .admin(ADMIN)
        .start()
        .await
        .expect("platform");
    let admin = sign_up(&p, ADMIN, "Root").await;
    let ann = sign_up(&p, "ann@example.com", "Ann").await;
    let list = "{ auditEvents(first: 1) { edges { node { seq } } } }";
    for query in [list, VERIFY] {
        // The subgraph checks the scope itself.
        let r = p.query("audit", query, Some(&ann.access)).await;
        assert_eq!(r.code(), Some("FORBIDDEN"), "{}", r.body);
        let r = p.query("audit", query, None).await;
        assert_eq!(r.code(), Some("UNAUTHENTICATED"), "{}", r.body);
        // The router removes the field before any subgraph sees it.
        let r = p.query("router", query, Some(&ann.access)).await;
        assert_eq!(r.code(), Some("UNAUTHORIZED_FIELD_OR_TYPE"), "{}", r.body);
        p.query("router", query, Some(&admin.access)).await.ok();
    }
    p.shutdown().await;
}

const TRAIL: &str = "query($id: ID!, $a: String) { user(id: $id) { id auditTrail(first: 2, after: $a) { edges { node { type subject actor } } pageInfo { hasNextPage endCursor } } } }";

/// Every event of `user`'s trail, page by page.
async fn trail(p: &TestPlatform, user: &str, token: &str) -> Vec<Value> {
    let (mut events, mut after) = (Vec::new(), None::<String>);
    loop {
        let r = router(p, TRAIL, json!({ "id": user, "a": after }), Some(token))
            .await
            .ok();
        events.extend(nodes(&r, "user.auditTrail"));
        if r.data("user.auditTrail.pageInfo.hasNextPage") == false {
            return events;
        }
        after = r
            .data("user.auditTrail.pageInfo.endCursor")
            .as_str()
            .map(str::to_owned);
    }
}

#[tokio::test]
async fn a_trail_is_visible_to_its_user_and_to_audit_readers_only() {
    let p = TestPlatform::builder()
        .admin(ADMIN)
        .start()
        .await
        .expect("platform");
    let admin = sign_up(&p, ADMIN, "Root").await;
    let ann = sign_up(&p, "ann@example.com", "Ann").await;
    let bob = sign_up(&p, "bob@example.com", "Bob").await;
    rename(&p, &ann, "Ann A").await;
    // Ann causes an event about something else; the admin causes one about Ann.
    let bus = &p.platform.embedded.bus;
    let by_ann = envelope("blog", "post.published", "post-1", Some(&ann.user_id));
    let about_ann = envelope("authz", "role.granted", &ann.user_id, Some(&admin.user_id));
    bus.publish("tessera.blog", &by_ann).await.expect("publish");
    bus.publish("tessera.authz", &about_ann)
        .await
        .expect("publish");
    recorded(&p, 2).await;

    let own = trail(&p, &ann.user_id, &ann.access).await;
    let types: Vec<&str> = own
        .iter()
        .map(|n| n["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types.len(), 5, "{types:?}");
    for t in [
        "auth.signed_up",
        "user.registered",
        "user.updated",
        "post.published",
        "role.granted",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    assert!(
        own.iter()
            .all(|n| n["actor"] == ann.user_id.as_str() || n["subject"] == ann.user_id.as_str())
    );
    assert_eq!(
        trail(&p, &ann.user_id, &admin.access).await,
        own,
        "audit:read reads it too"
    );

    // Bob may not read Ann's trail.
    let r = router(&p, TRAIL, json!({ "id": ann.user_id }), Some(&bob.access)).await;
    assert_eq!(r.code(), Some("FORBIDDEN"), "{}", r.body);
    assert_eq!(r.data("user"), &Value::Null, "{}", r.body);
    let r = router(&p, TRAIL, json!({ "id": ann.user_id }), None).await;
    assert_eq!(r.code(), Some("UNAUTHENTICATED"), "{}", r.body);

    // Many users' trails in one operation, each the first page of its own.
    let many = "{ users(first: 10) { edges { node { id auditTrail(first: 1) { edges { node { subject actor } } pageInfo { hasNextPage } } } } } }";
    let r = router(&p, many, json!({}), Some(&admin.access)).await.ok();
    let users = nodes(&r, "users");
    assert_eq!(users.len(), 3);
    for user in &users {
        let id = &user["id"];
        let page = &user["auditTrail"];
        assert_eq!(page["pageInfo"]["hasNextPage"], true, "{user}");
        let event = &page["edges"][0]["node"];
        assert!(event["subject"] == *id || event["actor"] == *id, "{user}");
    }
    p.shutdown().await;
}

#[tokio::test]
async fn the_log_refuses_update_delete_and_truncate() {
    let p = TestPlatform::start().await.expect("platform");
    sign_up(&p, "ann@example.com", "Ann").await;
    let rows = recorded(&p, 0).await;
    let audit = p.db.pool("audit").await.expect("pool");
    for sql in [
        "UPDATE audit_log SET subject = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = sqlx::query(sql).execute(&audit).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let after: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE subject <> 'someone else'")
            .fetch_one(&audit)
            .await
            .expect("count");
    assert_eq!(after, rows);
    p.shutdown().await;
}
