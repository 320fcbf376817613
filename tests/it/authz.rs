//! Roles, permissions and assignments through the router: bootstrap administrators, role
//! mutations and their errors, `can` for global and scoped assignments, the fields authz adds to
//! `User`, and scopes that follow grants and revocations into refreshed tokens.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use tessera_tests::platform::Session;
use tessera_tests::{Broker, Gql, TestPlatform, eventually, tokens};

const PASSWORD: &str = "correct horse battery";
const ADMIN: &str = "root@example.com";
const ADMIN_PERMISSIONS: [&str; 5] = [
    "audit:read",
    "billing:manage",
    "blog:moderate",
    "roles:manage",
    "users:read",
];

const CREATE_ROLE: &str =
    "mutation($i: CreateRoleInput!) { createRole(input: $i) { id name builtin permissions } }";
const GRANT_ROLE: &str = "mutation($i: GrantRoleInput!) { grantRole(input: $i) { id resource role { name } user { id } grantedBy { id } } }";
const REVOKE_ROLE: &str = "mutation($i: RevokeRoleInput!) { revokeRole(input: $i) }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken expiresIn } }";
const USERS: &str = "{ users(first: 5) { edges { node { id } } } }";

async fn router(p: &TestPlatform, query: &str, variables: Value, token: &str) -> Gql {
    p.gql("router", query, variables, Some(token)).await
}

/// The scopes a token carries (its payload decoded, not verified).
fn scopes(token: &str) -> Vec<String> {
    tokens::claims(token)["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A fresh session for `s`: access tokens of short-lived test platforms expire quickly.
async fn refreshed(p: &TestPlatform, s: &Session) -> Session {
    let r = p
        .gql("router", REFRESH, json!({ "t": s.refresh }), None)
        .await
        .ok();
    TestPlatform::session_of(&r, "refreshToken")
}

/// Refreshes `s` until its access token's scopes satisfy `wanted` (authz's events reach auth
/// asynchronously); returns the session that satisfied it.
async fn refresh_until(
    p: &TestPlatform,
    s: Session,
    wanted: impl Fn(&[String]) -> bool,
) -> Session {
    let latest = Mutex::new(s);
    let found = eventually(Duration::from_secs(20), || async {
        let current = latest.lock().expect("not poisoned").clone();
        let next = refreshed(p, &current).await;
        *latest.lock().expect("not poisoned") = next.clone();
        wanted(&scopes(&next.access)).then_some(next)
    })
    .await;
    found.expect("the token's scopes follow the change")
}

async fn create_role(p: &TestPlatform, admin: &Session, name: &str, permissions: &[&str]) -> Gql {
    router(
        p,
        CREATE_ROLE,
        json!({ "i": { "name": name, "description": "test role", "permissions": permissions } }),
        &admin.access,
    )
    .await
}

async fn grant(p: &TestPlatform, admin: &Session, input: Value) -> Gql {
    router(p, GRANT_ROLE, json!({ "i": input }), &admin.access).await
}

async fn revoke(p: &TestPlatform, admin: &Session, input: Value) -> Gql {
    router(p, REVOKE_ROLE, json!({ "i": input }), &admin.access).await
}

/// Events authz published about `subject`, as `(type, data)`, oldest first.
async fn authz_events(p: &TestPlatform, subject: &str) -> Vec<(String, Value)> {
    let pool = p.db.pool("authz").await.expect("pool");
    sqlx::query_as(
        "SELECT event->>'type', event->'data' FROM outbox WHERE event->>'subject' = $1 ORDER BY seq",
    )
    .bind(subject)
    .fetch_all(&pool)
    .await
    .expect("outbox")
}

/// An admin creates a role and grants it; the grantee's next refreshed token carries its
/// permissions and opens `users`; after the revocation the next refreshed token does not.
async fn grant_then_revoke_reaches_refreshed_tokens(p: &TestPlatform) {
    let admin = p.registered(ADMIN, PASSWORD, "Root").await;
    let ann = p.registered("ann@example.com", PASSWORD, "Ann").await;
    assert!(!scopes(&ann.access).contains(&"users:read".to_owned()));

    let role = create_role(
        p,
        &admin,
        "auditor",
        &["users:read", "audit:read", "users:read"],
    )
    .await
    .ok();
    assert_eq!(
        role.data("createRole.permissions"),
        &json!(["audit:read", "users:read"])
    );
    assert_eq!(role.data("createRole.builtin"), false);

    let input = json!({ "userId": ann.user_id, "roleName": "auditor" });
    let granted = grant(p, &admin, input.clone()).await.ok();
    assert_eq!(granted.data("grantRole.role.name"), "auditor");
    assert_eq!(granted.data("grantRole.user.id"), ann.user_id.as_str());
    assert_eq!(
        granted.data("grantRole.grantedBy.id"),
        admin.user_id.as_str()
    );
    assert!(granted.data("grantRole.resource").is_null());
    // Granting again is idempotent: the same assignment, and no second event.
    let again = grant(p, &admin, input.clone()).await.ok();
    assert_eq!(again.data("grantRole.id"), granted.data("grantRole.id"));

    let with_scope = refresh_until(p, ann.clone(), |s| s.iter().any(|s| s == "users:read")).await;
    assert_eq!(scopes(&with_scope.access), ["audit:read", "users:read"]);
    let users = router(p, USERS, json!({}), &with_scope.access).await.ok();
    assert!(
        users
            .data("users.edges")
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );

    assert_eq!(
        revoke(p, &admin, input.clone())
            .await
            .ok()
            .data("revokeRole"),
        true
    );
    assert_eq!(
        revoke(p, &admin, input).await.ok().data("revokeRole"),
        false
    );
    let without = refresh_until(p, with_scope, |s| s.is_empty()).await;
    let refused = router(p, USERS, json!({}), &without.access).await;
    assert_eq!(
        refused.code(),
        Some("UNAUTHORIZED_FIELD_OR_TYPE"),
        "{}",
        refused.body
    );

    let events = authz_events(p, &ann.user_id).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "role.granted",
            "scopes.changed",
            "role.revoked",
            "scopes.changed"
        ]
    );
    assert_eq!(events[1].1["scopes"], json!(["audit:read", "users:read"]));
    assert_eq!(events[3].1["scopes"], json!([]));
    assert_eq!(events[1].1["userId"], ann.user_id.as_str());
}

#[tokio::test]
async fn grants_and_revocations_reach_refreshed_tokens() {
    let p = TestPlatform::builder()
        .admin(ADMIN)
        .start()
        .await
        .expect("platform");
    grant_then_revoke_reaches_refreshed_tokens(&p).await;
    p.shutdown().await;
}

#[tokio::test]
async fn grants_and_revocations_reach_refreshed_tokens_through_the_broker() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::builder()
        .admin(ADMIN)
        .kafka(broker.bootstrap())
        .start()
        .await
        .expect("platform");
    grant_then_revoke_reaches_refreshed_tokens(&p).await;
    p.shutdown().await;
}

#[tokio::test]
async fn a_revoked_scope_lasts_until_the_access_token_expires_and_no_longer() {
    let p = TestPlatform::builder()
        .admin(ADMIN)
        .access_token_ttl(4)
        .start()
        .await
        .expect("platform");
    let admin = p.registered(ADMIN, PASSWORD, "Root").await;
    let ann = p.registered("ann@example.com", PASSWORD, "Ann").await;
    let admin = refreshed(&p, &admin).await;
    create_role(&p, &admin, "reader", &["users:read"])
        .await
        .ok();
    let input = json!({ "userId": ann.user_id, "roleName": "reader" });
    grant(&p, &admin, input.clone()).await.ok();
    let old = refresh_until(&p, ann, |s| s.iter().any(|s| s == "users:read")).await;

    let admin = refreshed(&p, &admin).await;
    revoke(&p, &admin, input).await.ok();
    let new = refresh_until(&p, old.clone(), |s| s.is_empty()).await;
    assert_eq!(
        router(&p, USERS, json!({}), &new.access).await.code(),
        Some("UNAUTHORIZED_FIELD_OR_TYPE")
    );

    // The token issued before the revocation keeps its scope until it expires: that is the
    // bound on how long a revoked role keeps working.
    router(&p, USERS, json!({}), &old.access).await.ok();
    let expires_at = tokens::claims(&old.access)["exp"].as_i64().expect("exp");
    let refused = eventually(Duration::from_secs(30), || async {
        let r = router(&p, USERS, json!({}), &old.access).await;
        r.body.get("errors").is_some().then_some(r)
    })
    .await
    .expect("the old token stops working");
    assert!(
        chrono::Utc::now().timestamp() >= expires_at,
        "{}",
        refused.body
    );
    assert!(refused.data("users").is_null(), "{}", refused.body);
    p.shutdown().await;
}

#[tokio::test]
async fn role_mutations_need_roles_manage_and_refuse_bad_input_with_codes() {
    let p = TestPlatform::builder()
        .admin(ADMIN)
        .start()
        .await
        .expect("platform");
    let admin = p.registered(ADMIN, PASSWORD, "Root").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;

    // The router refuses fields marked @requiresScopes before any subgraph sees them; the authz
    // subgraph checks the scope itself too, for callers that reach it directly.
    let denied = create_role(&p, &bob, "sneaky", &["users:read"]).await;
    assert_eq!(
        denied.code(),
        Some("UNAUTHORIZED_FIELD_OR_TYPE"),
        "{}",
        denied.body
    );
    let bob_input = json!({ "userId": bob.user_id, "roleName": "admin" });
    let denied = grant(&p, &bob, bob_input.clone()).await;
    assert_eq!(
        denied.code(),
        Some("UNAUTHORIZED_FIELD_OR_TYPE"),
        "{}",
        denied.body
    );
    for (query, input) in [
        (
            CREATE_ROLE,
            json!({ "name": "sneaky", "permissions": ["users:read"] }),
        ),
        (GRANT_ROLE, bob_input.clone()),
        (REVOKE_ROLE, bob_input.clone()),
    ] {
        let direct = p
            .gql("authz", query, json!({ "i": input }), Some(&bob.access))
            .await;
        assert_eq!(direct.code(), Some("FORBIDDEN"), "{}", direct.body);
    }
    let anonymous = p
        .gql("authz", GRANT_ROLE, json!({ "i": bob_input }), None)
        .await;
    assert_eq!(anonymous.code(), Some("UNAUTHENTICATED"));

    for (name, permissions, code) in [
        ("shape", vec!["users"], "BAD_USER_INPUT"),
        ("shape", vec!["Users:Read"], "BAD_USER_INPUT"),
        ("Bad Name", vec!["users:read"], "BAD_USER_INPUT"),
        ("unknown", vec!["users:delete"], "NOT_FOUND"),
        ("admin", vec!["users:read"], "CONFLICT"),
    ] {
        let r = create_role(&p, &admin, name, &permissions).await;
        assert_eq!(r.code(), Some(code), "{name} {permissions:?}: {}", r.body);
    }

    for (input, code) in [
        (
            json!({ "userId": bob.user_id, "roleName": "nope" }),
            "NOT_FOUND",
        ),
        (
            json!({ "userId": bob.user_id, "roleId": "0190f5f0-0000-7000-8000-000000000000" }),
            "NOT_FOUND",
        ),
        (json!({ "userId": bob.user_id }), "BAD_USER_INPUT"),
        (
            json!({ "userId": bob.user_id, "roleName": "admin", "roleId": "0190f5f0-0000-7000-8000-000000000000" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "userId": "not-a-uuid", "roleName": "admin" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "userId": bob.user_id, "roleName": "admin", "resource": "  " }),
            "BAD_USER_INPUT",
        ),
    ] {
        let r = grant(&p, &admin, input.clone()).await;
        assert_eq!(r.code(), Some(code), "{input}: {}", r.body);
    }
    let r = revoke(
        &p,
        &admin,
        json!({ "userId": bob.user_id, "roleName": "nope" }),
    )
    .await;
    assert_eq!(r.code(), Some("NOT_FOUND"), "{}", r.body);

    // Reading roles needs a signed-in caller, and pages are bounded.
    let roles = "query($f: Int, $a: String) { roles(first: $f, after: $a) { edges { node { name permissions } } pageInfo { hasNextPage endCursor } } }";
    let page = router(&p, roles, json!({ "f": 1 }), &bob.access).await.ok();
    assert_eq!(page.data("roles.edges")[0]["node"]["name"], "admin");
    assert_eq!(
        page.data("roles.edges")[0]["node"]["permissions"],
        json!(ADMIN_PERMISSIONS)
    );
    assert_eq!(page.data("roles.pageInfo.hasNextPage"), false);
    let big = router(&p, roles, json!({ "f": 101 }), &bob.access).await;
    assert_eq!(big.code(), Some("BAD_USER_INPUT"), "{}", big.body);
    let anonymous = p.gql("router", roles, json!({}), None).await;
    assert_eq!(
        anonymous.code(),
        Some("UNAUTHENTICATED"),
        "{}",
        anonymous.body
    );
    p.shutdown().await;
}

#[tokio::test]
async fn can_answers_for_global_and_resource_scoped_assignments() {
    let p = TestPlatform::builder()
        .admin(ADMIN)
        .start()
        .await
        .expect("platform");
    let admin = p.registered(ADMIN, PASSWORD, "Root").await;
    let ann = p.registered("ann@example.com", PASSWORD, "Ann").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;
    create_role(&p, &admin, "moderator", &["blog:moderate"])
        .await
        .ok();
    create_role(&p, &admin, "auditor", &["audit:read"])
        .await
        .ok();
    let scoped = grant(
        &p,
        &admin,
        json!({ "userId": ann.user_id, "roleName": "moderator", "resource": "blog:post:1" }),
    )
    .await
    .ok();
    assert_eq!(scoped.data("grantRole.resource"), "blog:post:1");
    grant(
        &p,
        &admin,
        json!({ "userId": ann.user_id, "roleName": "auditor" }),
    )
    .await
    .ok();

    let can =
        "query($u: ID!, $p: String!, $r: String) { can(userId: $u, permission: $p, resource: $r) }";
    for (permission, resource, expected) in [
        ("blog:moderate", Some("blog:post:1"), true),
        ("blog:moderate", Some("blog:post:2"), false),
        ("blog:moderate", None, false),
        ("audit:read", None, true),
        ("audit:read", Some("blog:post:2"), true),
        ("billing:manage", None, false),
        ("nothing:here", None, false),
    ] {
        let vars = json!({ "u": ann.user_id, "p": permission, "r": resource });
        // Ann asks about herself; the admin may ask about anyone.
        for asker in [&ann, &admin] {
            let r = router(&p, can, vars.clone(), &asker.access).await.ok();
            assert_eq!(r.data("can"), expected, "{permission} on {resource:?}");
        }
    }
    let other = router(
        &p,
        can,
        json!({ "u": ann.user_id, "p": "audit:read" }),
        &bob.access,
    )
    .await;
    assert_eq!(other.code(), Some("FORBIDDEN"), "{}", other.body);
    let bad = router(
        &p,
        can,
        json!({ "u": ann.user_id, "p": "audit" }),
        &ann.access,
    )
    .await;
    assert_eq!(bad.code(), Some("BAD_USER_INPUT"), "{}", bad.body);

    // Only the global assignment counts towards the user's permissions (the token's scopes).
    let mine = router(
        &p,
        "{ me { roles { name } permissions roleAssignments { role { name } resource } } }",
        json!({}),
        &ann.access,
    )
    .await
    .ok();
    assert_eq!(mine.data("me.roles"), &json!([{ "name": "auditor" }]));
    assert_eq!(mine.data("me.permissions"), &json!(["audit:read"]));
    assert_eq!(
        mine.data("me.roleAssignments"),
        &json!([
            { "role": { "name": "auditor" }, "resource": null },
            { "role": { "name": "moderator" }, "resource": "blog:post:1" },
        ])
    );
    let kinds: Vec<String> = authz_events(&p, &ann.user_id)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(kinds, ["role.granted", "role.granted", "scopes.changed"]);
    p.shutdown().await;
}

#[tokio::test]
async fn user_roles_and_permissions_join_identity_and_authz_through_the_router() {
    // The configured address differs in case from the one signed up with.
    let p = TestPlatform::builder()
        .admin("ROOT@example.com")
        .start()
        .await
        .expect("platform");
    let admin = p.registered(ADMIN, PASSWORD, "Root").await;
    let mut others = Vec::new();
    for i in 0..4 {
        others.push(
            p.registered(&format!("user{i}@example.com"), PASSWORD, "User")
                .await,
        );
    }
    let query =
        "query($id: ID!) { user(id: $id) { displayName roles { name builtin } permissions } }";
    let vars = json!({ "id": admin.user_id });
    // The bootstrap grant follows the registration event.
    let found = eventually(Duration::from_secs(20), || async {
        let r = router(&p, query, vars.clone(), &admin.access).await.ok();
        (!r.data("user.roles").as_array()?.is_empty()).then_some(r)
    })
    .await
    .expect("the bootstrap administrator receives the admin role");
    assert_eq!(found.data("user.displayName"), "Root");
    assert_eq!(
        found.data("user.roles"),
        &json!([{ "name": "admin", "builtin": true }])
    );
    assert_eq!(found.data("user.permissions"), &json!(ADMIN_PERMISSIONS));

    // Others' roles are the user's own business, or a holder of users:read's.
    let denied = router(&p, query, vars, &others[0].access).await;
    assert_eq!(denied.code(), Some("FORBIDDEN"), "{}", denied.body);
    assert!(denied.data("user").is_null(), "{}", denied.body);

    // A list of users: their authz fields come from one batch per loader.
    let list =
        "{ users(first: 10) { edges { node { id roles { name permissions } permissions } } } }";
    let r = router(&p, list, json!({}), &admin.access).await.ok();
    let edges = r.data("users.edges").as_array().expect("edges").clone();
    assert_eq!(edges.len(), 5);
    for edge in edges {
        let node = &edge["node"];
        if node["id"] == admin.user_id.as_str() {
            assert_eq!(node["permissions"], json!(ADMIN_PERMISSIONS));
            assert_eq!(node["roles"][0]["permissions"], json!(ADMIN_PERMISSIONS));
        } else {
            assert_eq!(node["roles"], json!([]));
            assert_eq!(node["permissions"], json!([]));
        }
    }
    p.shutdown().await;
}
