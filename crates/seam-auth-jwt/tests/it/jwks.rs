//! JWKS caching against a local JWKS server: rotation, the refetch rate limit,
//! single-flight and stale keys while the provider is down.

use std::sync::Arc;
use std::time::Duration;

use seam_auth::{Error, TokenValidator};
use seam_auth_jwt::{JwtValidator, KeySource};
use seam_core::{Classify, ErrorKind, ManualClock};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

async fn serve(server: &MockServer, keys: &[(&str, &str)]) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(keys)))
        .mount(server)
        .await;
}

async fn fetches(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

fn jwks_validator(server: &MockServer, clock: &ManualClock) -> JwtValidator {
    validator(
        vec![trusted(KeySource::JwksUrl(format!(
            "{}/jwks",
            server.uri()
        )))],
        clock,
        None,
    )
}

#[tokio::test]
async fn provider_rotation_new_keys_after_one_refetch_old_ones_until_removed() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    serve(&server, &[(RSA_A, "a")]).await;
    let validator = jwks_validator(&server, &clock);

    let old = sign(RSA_A, "a", &claims(&clock));
    validator.validate(&old).await.unwrap();
    validator.validate(&old).await.unwrap();
    assert_eq!(fetches(&server).await, 1, "keys are cached");

    // The provider publishes a new key and signs with it.
    serve(&server, &[(RSA_A, "a"), (RSA_B, "b")]).await;
    clock.advance(Duration::from_secs(31));
    let new = sign(RSA_B, "b", &claims(&clock));
    validator
        .validate(&new)
        .await
        .expect("the new key after one refetch");
    assert_eq!(fetches(&server).await, 1, "exactly one refetch");
    validator.validate(&new).await.unwrap();
    let old = sign(RSA_A, "a", &claims(&clock));
    validator
        .validate(&old)
        .await
        .expect("the old key is still published");
    assert_eq!(fetches(&server).await, 1);

    // The provider removes the old key; once the cached set expires, it is gone.
    serve(&server, &[(RSA_B, "b")]).await;
    clock.advance(Duration::from_secs(301));
    let error = validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::UnknownKey { ref kid, .. } if kid.as_deref() == Some("a")),
        "{error}"
    );
    validator
        .validate(&sign(RSA_B, "b", &claims(&clock)))
        .await
        .unwrap();
    assert_eq!(fetches(&server).await, 1);
}

#[tokio::test]
async fn a_flood_of_bogus_kids_fetches_the_jwks_at_most_once_per_interval() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[(RSA_A, "a")])))
        // One fetch for the first token, at most one for the whole flood.
        .expect(1..=2)
        .mount(&server)
        .await;
    let validator = Arc::new(jwks_validator(&server, &clock));
    validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(31));

    let mut tasks = Vec::new();
    for i in 0..100 {
        let validator = validator.clone();
        let token = sign(RSA_A, &format!("bogus-{i}"), &claims(&clock));
        tasks.push(tokio::spawn(
            async move { validator.validate(&token).await },
        ));
    }
    for task in tasks {
        let error = task.await.unwrap().unwrap_err();
        assert!(matches!(error, Error::UnknownKey { .. }), "{error}");
    }
    // Valid tokens still pass during the flood, from the cache.
    validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .unwrap();
    server.verify().await;
}

#[tokio::test]
async fn concurrent_first_requests_share_one_fetch() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(jwks(&[(RSA_A, "a")]))
                .set_delay(Duration::from_millis(50)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let validator = Arc::new(jwks_validator(&server, &clock));
    let token = sign(RSA_A, "a", &claims(&clock));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let validator = validator.clone();
            let token = token.clone();
            tokio::spawn(async move { validator.validate(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    server.verify().await;
}

#[tokio::test]
async fn stale_keys_are_served_while_the_provider_fails_up_to_max_staleness() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    serve(&server, &[(RSA_A, "a")]).await;
    let validator = jwks_validator(&server, &clock);
    validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .unwrap();

    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    // Past the TTL (300 s): the refetch fails, the stale keys are used.
    clock.advance(Duration::from_secs(400));
    validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .expect("stale keys");
    assert_eq!(fetches(&server).await, 1, "one refetch attempt");
    validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .expect("stale keys");
    assert_eq!(fetches(&server).await, 1, "attempts are rate limited too");

    // Past TTL + max staleness (300 s + 3600 s): refused as unavailable, not as a bad token.
    clock.advance(Duration::from_secs(3600));
    let error = validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::ProviderUnavailable { .. }),
        "{error}"
    );
    assert_eq!(error.kind(), ErrorKind::Unavailable);

    // The provider recovers: keys are fresh again after the next allowed refetch.
    serve(&server, &[(RSA_A, "a")]).await;
    clock.advance(Duration::from_secs(31));
    validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_provider_down_from_the_start_is_unavailable_not_unauthorized() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let validator = jwks_validator(&server, &clock);
    for _ in 0..5 {
        let error = validator
            .validate(&sign(RSA_A, "a", &claims(&clock)))
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::ProviderUnavailable { .. }),
            "{error}"
        );
    }
    server.verify().await;
}

#[tokio::test]
async fn cache_control_max_age_sets_the_ttl() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("cache-control", "public, max-age=60")
                .set_body_json(jwks(&[(RSA_A, "a")])),
        )
        .mount(&server)
        .await;
    let validator = jwks_validator(&server, &clock);
    validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(59));
    validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .unwrap();
    assert_eq!(fetches(&server).await, 1);
    clock.advance(Duration::from_secs(2));
    validator
        .validate(&sign(RSA_A, "a", &claims(&clock)))
        .await
        .unwrap();
    assert_eq!(
        fetches(&server).await,
        2,
        "max-age=60 (not the 300 s TTL) applied"
    );
}

#[tokio::test]
async fn unreachable_slow_or_broken_providers_are_unavailable_never_unauthorized() {
    let clock = ManualClock::new();
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/jwks", closed.local_addr().unwrap());
    drop(closed);

    let slow = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(jwks(&[(RSA_A, "a")]))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&slow)
        .await;
    let broken = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not a key set</html>"))
        .mount(&broken)
        .await;

    for url in [
        closed_url,
        format!("{}/jwks", slow.uri()),
        format!("{}/jwks", broken.uri()),
    ] {
        let config = seam_auth_jwt::ValidatorConfig {
            issuers: vec![trusted(KeySource::JwksUrl(url.clone()))],
            jwks: seam_auth_jwt::JwksCacheConfig {
                fetch_timeout: Duration::from_millis(300),
                ..jwks_config()
            },
        };
        let validator = JwtValidator::builder(&config)
            .clock(clock.shared())
            .build()
            .unwrap();
        let error = validator
            .validate(&sign(RSA_A, "a", &claims(&clock)))
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::ProviderUnavailable { .. }),
            "{url}: {error}"
        );
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert!(!error.to_string().contains("eyJ"), "no token in {error}");
    }
}
