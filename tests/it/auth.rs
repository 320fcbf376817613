//! Sign-up, login, refresh rotation with reuse detection, logout, throttling, password reset.

use serde_json::json;
use tessera_tests::TestPlatform;
use tessera_tests::platform::Session;

const PASSWORD: &str = "correct horse battery";

fn refresh_query() -> &'static str {
    "mutation($t: String!) { refreshToken(token: $t) { accessToken refreshToken expiresIn } }"
}

#[tokio::test]
async fn signs_up_logs_in_and_identity_verifies_the_token() {
    let p = TestPlatform::start().await.expect("platform");
    let s = p.sign_up("Ada@Example.com", PASSWORD, "Ada").await;
    let me = p.wait_for_user(&s).await;
    assert_eq!(me["id"], s.user_id.as_str());
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["displayName"], "Ada");
    assert_eq!(me["emailVerified"], false);

    // Emails compare case-insensitively.
    let login = p.login("ADA@example.COM", PASSWORD).await.ok();
    let session = TestPlatform::session_of(&login, "login");
    assert_eq!(session.user_id, s.user_id);
    assert_eq!(login.data("login.expiresIn"), 900);
    let me = p
        .query("identity", "{ me { id } }", Some(&session.access))
        .await
        .ok();
    assert_eq!(me.data("me.id"), s.user_id.as_str());
    p.shutdown().await;
}

#[tokio::test]
async fn rejects_duplicate_email_case_insensitively() {
    let p = TestPlatform::start().await.expect("platform");
    p.sign_up("bob@example.com", PASSWORD, "Bob").await;
    let again = p
        .gql("auth", tessera_tests::platform::SIGN_UP, json!({ "i": { "email": "BOB@example.com", "password": PASSWORD, "displayName": "Bob 2" } }), None)
        .await;
    assert_eq!(again.code(), Some("EMAIL_TAKEN"), "{:?}", again.body);
    assert_eq!(again.status, 200);
    p.shutdown().await;
}

#[tokio::test]
async fn rejects_bad_sign_up_input() {
    let p = TestPlatform::start().await.expect("platform");
    for (email, password, name, why) in [
        ("not-an-email", PASSWORD, "X", "bad email"),
        ("x@example.com", "short", "X", "short password"),
        ("x@example.com", &"p".repeat(257), "X", "over-long password"),
        ("x@example.com", PASSWORD, "   ", "blank name"),
    ] {
        let r = p
            .gql(
                "auth",
                tessera_tests::platform::SIGN_UP,
                json!({ "i": { "email": email, "password": password, "displayName": name } }),
                None,
            )
            .await;
        assert_eq!(r.code(), Some("BAD_USER_INPUT"), "{why}: {}", r.body);
    }
    p.shutdown().await;
}

#[tokio::test]
async fn wrong_password_is_invalid_credentials_and_unknown_email_alike() {
    let p = TestPlatform::start().await.expect("platform");
    p.sign_up("carol@example.com", PASSWORD, "Carol").await;
    let wrong = p.login("carol@example.com", "not the password").await;
    assert_eq!(wrong.code(), Some("INVALID_CREDENTIALS"));
    let unknown = p.login("nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.code(), Some("INVALID_CREDENTIALS"));
    assert_eq!(
        wrong.body["errors"][0]["message"],
        unknown.body["errors"][0]["message"]
    );
    let long = p.login("carol@example.com", &"p".repeat(10_000)).await;
    assert_eq!(long.code(), Some("INVALID_CREDENTIALS"));
    p.shutdown().await;
}

async fn logout(p: &TestPlatform, token: &str) -> tessera_tests::Gql {
    p.gql(
        "auth",
        "mutation($t: String!) { logout(refreshToken: $t) }",
        json!({ "t": token }),
        None,
    )
    .await
    .ok()
}

async fn refresh(p: &TestPlatform, token: &str) -> tessera_tests::Gql {
    p.gql("auth", refresh_query(), json!({ "t": token }), None)
        .await
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let p = TestPlatform::start().await.expect("platform");
    let first = p.sign_up("dan@example.com", PASSWORD, "Dan").await;

    let r = refresh(&p, &first.refresh).await.ok();
    let second: Session = TestPlatform::session_of(&r, "refreshToken");
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(second.user_id, first.user_id);

    // The spent token is presented again: reuse. The whole family dies, including `second`.
    let reuse = refresh(&p, &first.refresh).await;
    assert_eq!(reuse.code(), Some("TOKEN_REUSED"), "{}", reuse.body);
    let after = refresh(&p, &second.refresh).await;
    assert_eq!(after.code(), Some("INVALID_TOKEN"), "{}", after.body);

    // Another session of the same user is untouched.
    let other = TestPlatform::session_of(&p.login("dan@example.com", PASSWORD).await.ok(), "login");
    refresh(&p, &other.refresh).await.ok();

    let garbage = refresh(&p, "not-a-token").await;
    assert_eq!(garbage.code(), Some("INVALID_TOKEN"));
    p.shutdown().await;
}

#[tokio::test]
async fn logout_ends_one_session_and_logout_all_ends_every_session() {
    let p = TestPlatform::start().await.expect("platform");
    let a = p.sign_up("erin@example.com", PASSWORD, "Erin").await;
    let b = TestPlatform::session_of(&p.login("erin@example.com", PASSWORD).await.ok(), "login");
    let c = TestPlatform::session_of(&p.login("erin@example.com", PASSWORD).await.ok(), "login");

    let out = logout(&p, &a.refresh).await;
    assert_eq!(out.data("logout"), true);
    assert_eq!(refresh(&p, &a.refresh).await.code(), Some("INVALID_TOKEN"));
    let again = logout(&p, &a.refresh).await;
    assert_eq!(again.data("logout"), false);

    let sessions = p
        .query("auth", "{ sessions { id } }", Some(&b.access))
        .await
        .ok();
    assert_eq!(sessions.data("sessions").as_array().map(Vec::len), Some(2));

    let all = p
        .query("auth", "mutation { logoutAll }", Some(&b.access))
        .await
        .ok();
    assert_eq!(all.data("logoutAll"), 2);
    assert_eq!(refresh(&p, &b.refresh).await.code(), Some("INVALID_TOKEN"));
    assert_eq!(refresh(&p, &c.refresh).await.code(), Some("INVALID_TOKEN"));

    let anonymous = p.query("auth", "mutation { logoutAll }", None).await;
    assert_eq!(anonymous.code(), Some("UNAUTHENTICATED"));
    p.shutdown().await;
}

#[tokio::test]
async fn throttles_failed_logins_per_account_in_redis() {
    let p = TestPlatform::builder()
        .redis()
        .start()
        .await
        .expect("platform");
    p.sign_up("frank@example.com", PASSWORD, "Frank").await;
    for _ in 0..5 {
        assert_eq!(
            p.login("frank@example.com", "wrong password").await.code(),
            Some("INVALID_CREDENTIALS")
        );
    }
    // Past the limit even the right password is refused until the window passes.
    let limited = p.login("frank@example.com", PASSWORD).await;
    assert_eq!(limited.code(), Some("RATE_LIMITED"), "{}", limited.body);
    assert!(
        limited.body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );

    // The counter lives in Redis, under this platform's prefix.
    let prefix = p.options.redis.as_ref().expect("redis").key_prefix.clone();
    let client = redis::Client::open("redis://127.0.0.1:6379").expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let count: Option<u64> = redis::cmd("GET")
        .arg(format!(
            "{prefix}:auth:count:login:account:frank@example.com"
        ))
        .query_async(&mut conn)
        .await
        .expect("GET");
    assert_eq!(count, Some(5));
    p.shutdown().await;
}

#[tokio::test]
async fn throttles_failed_logins_per_client_address_across_accounts() {
    let throttle = tessera_auth::ThrottleConfig {
        window_secs: 600,
        max_failures_per_account: 100,
        max_failures_per_address: 3,
    };
    let p = TestPlatform::builder()
        .login_throttle(throttle)
        .start()
        .await
        .expect("platform");
    p.sign_up("quinn@example.com", PASSWORD, "Quinn").await;
    // One address guessing across many accounts.
    for i in 0..3 {
        let r = p.login(&format!("victim{i}@example.com"), "guess").await;
        assert_eq!(r.code(), Some("INVALID_CREDENTIALS"));
    }
    let limited = p.login("quinn@example.com", PASSWORD).await;
    assert_eq!(limited.code(), Some("RATE_LIMITED"), "{}", limited.body);
    p.shutdown().await;
}

/// A login through the router, from a client at `forwarded_for` as a proxy in front of the
/// router would tell it.
async fn login_via_router(p: &TestPlatform, email: &str, forwarded_for: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .post(p.url("router", "/graphql"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({
            "query": tessera_tests::platform::LOGIN,
            "variables": { "i": { "email": email, "password": "guess" } },
        }))
        .send()
        .await
        .expect("the router answers");
    let body: serde_json::Value = response.json().await.expect("JSON");
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn the_login_throttle_counts_each_client_behind_the_router_and_no_spoofed_address() {
    let throttle = tessera_auth::ThrottleConfig {
        window_secs: 600,
        max_failures_per_account: 100,
        max_failures_per_address: 3,
    };
    // The test's requests come from 127.0.0.1, which stands for a proxy the router trusts.
    let p = TestPlatform::builder()
        .login_throttle(throttle.clone())
        .trusted_proxies(&["127.0.0.1"])
        .start()
        .await
        .expect("platform");
    for i in 0..3 {
        let code = login_via_router(&p, &format!("victim{i}@example.com"), "198.51.100.1").await;
        assert_eq!(code.as_deref(), Some("INVALID_CREDENTIALS"));
    }
    assert_eq!(
        login_via_router(&p, "victim9@example.com", "198.51.100.1")
            .await
            .as_deref(),
        Some("RATE_LIMITED"),
        "the guessing client is stopped"
    );
    assert_eq!(
        login_via_router(&p, "victim9@example.com", "198.51.100.2")
            .await
            .as_deref(),
        Some("INVALID_CREDENTIALS"),
        "another client behind the same router is not"
    );
    // What a client writes at the left of X-Forwarded-For is not believed.
    assert_eq!(
        login_via_router(&p, "victim9@example.com", "198.51.100.2, 198.51.100.1")
            .await
            .as_deref(),
        Some("RATE_LIMITED")
    );
    // A header claiming to be the router's, sent to auth directly, is not believed either:
    // believed, it would name the address that is already stopped.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let direct = reqwest::Client::new()
        .post(p.url("auth", "/graphql"))
        .header(
            "x-tessera-client-address",
            format!("198.51.100.1;ts={now};sig=AAAA"),
        )
        .json(&json!({
            "query": tessera_tests::platform::LOGIN,
            "variables": { "i": { "email": "victim9@example.com", "password": "guess" } },
        }))
        .send()
        .await
        .expect("auth answers");
    let body: serde_json::Value = direct.json().await.expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "INVALID_CREDENTIALS"
    );
    p.shutdown().await;

    // A router that trusts no proxy ignores the header: every client is its TCP peer.
    let p = TestPlatform::builder()
        .login_throttle(throttle)
        .start()
        .await
        .expect("platform");
    for address in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let code = login_via_router(&p, "victim@example.com", address).await;
        assert_eq!(code.as_deref(), Some("INVALID_CREDENTIALS"));
    }
    assert_eq!(
        login_via_router(&p, "victim@example.com", "198.51.100.4")
            .await
            .as_deref(),
        Some("RATE_LIMITED"),
        "a spoofed X-Forwarded-For from an untrusted peer changes nothing"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn password_reset_sets_a_new_password_once_and_ends_sessions() {
    let p = TestPlatform::start().await.expect("platform");
    let s = p.sign_up("gina@example.com", PASSWORD, "Gina").await;
    let asked = p
        .gql(
            "auth",
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": "Gina@example.com" }),
            None,
        )
        .await
        .ok();
    assert_eq!(asked.data("requestPasswordReset"), true);
    // Unknown addresses get the same answer and no mail.
    let unknown = p
        .gql(
            "auth",
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": "nobody@example.com" }),
            None,
        )
        .await
        .ok();
    assert_eq!(unknown.data("requestPasswordReset"), true);
    assert!(
        p.mailbox()
            .await
            .iter()
            .all(|m| m.to != "nobody@example.com")
    );

    let token = p.mailed_token("gina@example.com", "Reset").await;
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let short = p
        .gql("auth", reset, json!({ "t": token, "p": "short" }), None)
        .await;
    assert_eq!(short.code(), Some("BAD_USER_INPUT"));
    p.gql(
        "auth",
        reset,
        json!({ "t": token, "p": "a brand new password" }),
        None,
    )
    .await
    .ok();
    let reused = p
        .gql(
            "auth",
            reset,
            json!({ "t": token, "p": "another new password" }),
            None,
        )
        .await;
    assert_eq!(reused.code(), Some("INVALID_TOKEN"));

    assert_eq!(
        p.login("gina@example.com", PASSWORD).await.code(),
        Some("INVALID_CREDENTIALS")
    );
    p.login("gina@example.com", "a brand new password")
        .await
        .ok();
    assert_eq!(
        refresh(&p, &s.refresh).await.code(),
        Some("INVALID_TOKEN"),
        "reset ends old sessions"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id() {
    let p = TestPlatform::start().await.expect("platform");
    p.sign_up("hana@example.com", PASSWORD, "Hana").await;
    let auth = p.db.pool("auth").await.expect("pool");
    let hash: String = sqlx::query_scalar(
        "SELECT password_hash FROM credentials WHERE email = 'hana@example.com'",
    )
    .fetch_one(&auth)
    .await
    .expect("credential");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    p.shutdown().await;
}
