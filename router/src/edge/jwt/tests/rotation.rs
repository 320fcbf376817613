//! Key sources over time: rotation, refresh limits, unreachable sources, files, polling and
//! the verified-token cache.

use std::time::Duration;

use serde_json::json;

use super::*;

#[tokio::test]
async fn picks_up_a_rotated_key_with_exactly_one_jwks_fetch() {
    let old = TestKey::ed25519("ed-1", 1);
    let new = TestKey::ed25519("ed-2", 2);
    let (authenticator, server) = served(&[&old], json!({ "min_refresh_interval_ms": 50 })).await;
    assert_eq!(
        authenticate(&authenticator, &old.sign(&claims())).await,
        Ok(())
    );
    assert_eq!(server.fetches(), 1, "the first token loads the keys");

    server.rotate(&[&old, &new]);
    let token = new.sign(&claims());
    let results =
        futures::future::join_all((0..10).map(|_| authenticate(&authenticator, &token))).await;

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server.fetches(), 2, "ten waiting requests shared one fetch");
    assert_eq!(authenticate(&authenticator, &token).await, Ok(()));
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn answers_unknown_key_after_a_refresh_and_rate_limits_refreshes() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, server) = served(&[&key], json!({ "min_refresh_interval_ms": 300 })).await;
    let strangers: Vec<_> = (0..20u8)
        .map(|i| TestKey::ed25519(&format!("unknown-{i}"), 100 + i))
        .collect();
    let tokens: Vec<_> = strangers.iter().map(|key| key.sign(&claims())).collect();
    let started = std::time::Instant::now();

    let results = futures::future::join_all(
        tokens
            .iter()
            .map(|token| authenticate(&authenticator, token)),
    )
    .await;

    assert!(
        results
            .iter()
            .all(|result| *result == Err(JwtError::UnknownKey)),
        "{results:?}"
    );
    let fetches = server.fetches();
    assert!(
        (1..=2).contains(&fetches),
        "{fetches} fetches for 20 unknown kids"
    );
    assert_eq!(
        authenticate(&authenticator, &tokens[0]).await,
        Err(JwtError::UnknownKey)
    );
    assert_eq!(
        server.fetches(),
        fetches + 1,
        "one more fetch, in the next slot"
    );
    assert!(started.elapsed() >= Duration::from_millis(300 * fetches as u64));
    assert_eq!(
        authenticate(&authenticator, &key.sign(&claims())).await,
        Ok(())
    );
    assert_eq!(server.fetches(), fetches + 1, "a known kid fetches nothing");
}

#[tokio::test]
async fn reports_keys_unavailable_when_no_jwks_url_answers_in_time() {
    let key = TestKey::ed25519("ed-1", 1);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let silent = format!(
        "http://{}/jwks.json",
        listener.local_addr().expect("a bound address")
    );
    // Accepts connections and never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let sources = json!([{ "url": silent, "timeout_ms": 200 }]);
    let authenticator =
        Authenticator::new(&config(sources, json!({}))).expect("the authenticator builds");

    let result = tokio::time::timeout(
        Duration::from_secs(5),
        authenticate(&authenticator, &key.sign(&claims())),
    )
    .await
    .expect("the fetch times out rather than hanging");
    assert_eq!(result, Err(JwtError::KeysUnavailable));

    // With one source answering, an unknown kid is just unknown.
    let server = JwksServer::start(&[]).await;
    let sources = json!([{ "url": silent, "timeout_ms": 200 }, { "url": server.url }]);
    let authenticator =
        Authenticator::new(&config(sources, json!({}))).expect("the authenticator builds");
    assert_eq!(
        authenticate(&authenticator, &key.sign(&claims())).await,
        Err(JwtError::UnknownKey)
    );
}

#[tokio::test]
async fn reads_keys_from_a_file_source() {
    let key = TestKey::ed25519("ed-1", 1);
    let other = TestKey::ed25519("ed-2", 2);
    let directory = std::env::temp_dir();
    let path = directory.join(format!("tessera-jwks-{}.json", std::process::id()));
    std::fs::write(&path, jwks(&[&key]).to_string()).expect("the JWKS file is written");
    let authenticator = Authenticator::new(&config(json!([{ "file": path }]), json!({})));
    std::fs::remove_file(&path).expect("the JWKS file is removed");
    let authenticator = authenticator.expect("the authenticator builds");

    assert_eq!(
        authenticate(&authenticator, &key.sign(&claims())).await,
        Ok(())
    );
    assert_eq!(
        authenticate(&authenticator, &other.sign(&claims())).await,
        Err(JwtError::UnknownKey)
    );
    assert!(Authenticator::new(&config(json!([{ "file": path }]), json!({}))).is_err());
}

#[tokio::test]
async fn serves_a_repeated_token_from_the_cache() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let token = key.sign(&claims());
    assert_eq!(authenticate(&authenticator, &token).await, Ok(()));
    let generation = authenticator.keys.load().generation;

    let cache = authenticator.verified.as_ref().expect("the cache is on");
    assert!(cache.get(&token, generation).is_some());
    assert!(cache.get(&format!("{token}x"), generation).is_none());
    assert_eq!(authenticate(&authenticator, &token).await, Ok(()));
}

#[tokio::test]
async fn rejects_a_cached_token_once_it_expires() {
    let key = TestKey::ed25519("ed-1", 1);
    let (mut authenticator, _server) = served(&[&key], json!({})).await;
    let clock = manual_clock(&mut authenticator);
    let exp = clock.load(Ordering::SeqCst) + 60;
    let token = key.sign(&claims_with(json!({ "exp": exp })));
    assert_eq!(authenticate(&authenticator, &token).await, Ok(()));

    clock.store(exp - 1, Ordering::SeqCst);
    assert_eq!(authenticate(&authenticator, &token).await, Ok(()));
    clock.store(exp, Ordering::SeqCst);
    assert_eq!(
        authenticate(&authenticator, &token).await,
        Err(JwtError::Expired)
    );
}

#[tokio::test]
async fn stops_validating_a_cached_token_when_a_poll_removes_its_key() {
    let old = TestKey::ed25519("ed-1", 1);
    let new = TestKey::ed25519("ed-2", 2);
    let (authenticator, server) = served(&[&old], json!({ "min_refresh_interval_ms": 10 })).await;
    let token = old.sign(&claims());
    assert_eq!(authenticate(&authenticator, &token).await, Ok(()));
    let source = &authenticator.urls[0];
    let cache = authenticator.verified.as_ref().expect("the cache is on");

    assert!(authenticator.fetch(source).await, "an unchanged poll");
    let generation = authenticator.keys.load().generation;
    assert!(
        cache.get(&token, generation).is_some(),
        "unchanged keys keep the cache"
    );

    server.rotate(&[&new]);
    assert!(
        authenticator.fetch(source).await,
        "a poll that drops the old key"
    );
    assert_eq!(
        authenticate(&authenticator, &token).await,
        Err(JwtError::UnknownKey)
    );
}

#[tokio::test]
async fn polls_url_sources_in_the_background() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, server) = served(&[&key], json!({})).await;
    authenticator.start();
    authenticator.start();

    let loaded = async {
        while authenticator.keys.load().generation == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), loaded)
        .await
        .expect("the first poll loads the keys");
    assert_eq!(
        authenticate(&authenticator, &key.sign(&claims())).await,
        Ok(())
    );
    assert_eq!(
        server.fetches(),
        1,
        "one poll, and the token needed no refresh"
    );

    let polling = Arc::downgrade(&authenticator);
    drop(authenticator);
    assert!(
        polling.upgrade().is_none(),
        "the polling task holds no strong reference"
    );
}
