//! Rotating refresh tokens: rotation, reuse detection revoking the family and its
//! access tokens, on the in-memory store and on the cache-backed one.

use std::sync::Arc;
use std::time::Duration;

use seam_auth::{DynRevocationList, Error, InMemoryRevocationList, TokenValidator};
use seam_auth_jwt::{
    CacheRefreshStore, InMemoryRefreshStore, JwtValidator, RefreshStore, RefreshTokens,
    TokenIssuer, TokenRequest, ValidatorConfig,
};
use seam_cache::{DynCache, InMemoryCache};
use seam_core::{ExposeSecret, ManualClock};

use crate::issuer::{ed_key, issuer_config};
use crate::support::jwks_config;

struct Fixture {
    tokens: RefreshTokens,
    validator: JwtValidator,
}

fn fixture(clock: &ManualClock, store: Arc<dyn RefreshStore>) -> Fixture {
    let issuer = Arc::new(
        TokenIssuer::with_clock(&issuer_config(vec![ed_key("k")], None), clock.shared()).unwrap(),
    );
    let revocations: Arc<DynRevocationList> = Arc::new(InMemoryRevocationList::new(clock.shared()));
    let config = ValidatorConfig {
        issuers: vec![issuer.trusted_issuer(Duration::ZERO)],
        jwks: jwks_config(),
    };
    let validator = JwtValidator::builder(&config)
        .clock(clock.shared())
        .revocations(revocations.clone())
        .build()
        .unwrap();
    Fixture {
        tokens: RefreshTokens::new(
            issuer,
            store,
            revocations,
            Duration::from_secs(86_400),
            clock.shared(),
        ),
        validator,
    }
}

async fn rotation_and_reuse(clock: &ManualClock, store: Arc<dyn RefreshStore>) {
    let f = fixture(clock, store);
    let mut request = TokenRequest::new("alice");
    request.roles.insert("user".to_owned());
    let first = f.tokens.issue(&request).await.unwrap();
    assert!(!format!("{first:?}").contains(first.refresh_token.expose_secret()));
    f.validator
        .validate(first.access.token.expose_secret())
        .await
        .unwrap();

    let second = f
        .tokens
        .refresh(first.refresh_token.expose_secret())
        .await
        .unwrap();
    assert_ne!(
        second.refresh_token.expose_secret(),
        first.refresh_token.expose_secret()
    );
    let principal = f
        .validator
        .validate(second.access.token.expose_secret())
        .await
        .unwrap();
    assert!(principal.has_role("user"), "roles carry over");
    let third = f
        .tokens
        .refresh(second.refresh_token.expose_secret())
        .await
        .unwrap();

    // The first token again: reuse. The family is revoked with its access tokens.
    let error = f
        .tokens
        .refresh(first.refresh_token.expose_secret())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::RefreshReuseDetected), "{error}");
    let error = f
        .tokens
        .refresh(third.refresh_token.expose_secret())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidGrant { .. }), "{error}");
    for access in [&first.access, &second.access, &third.access] {
        let error = f
            .validator
            .validate(access.token.expose_secret())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Revoked), "{error}");
    }

    // Another family is untouched.
    let other = f.tokens.issue(&TokenRequest::new("bob")).await.unwrap();
    f.tokens
        .refresh(other.refresh_token.expose_secret())
        .await
        .unwrap();
}

#[tokio::test]
async fn refresh_rotation_and_reuse_detection_in_memory() {
    let clock = ManualClock::new();
    rotation_and_reuse(&clock, Arc::new(InMemoryRefreshStore::new(clock.shared()))).await;
}

#[tokio::test]
async fn refresh_rotation_and_reuse_detection_over_the_cache_port() {
    let clock = ManualClock::new();
    let cache: Arc<DynCache> = Arc::new(InMemoryCache::with_clock(clock.shared()));
    rotation_and_reuse(
        &clock,
        Arc::new(CacheRefreshStore::new(cache, "auth:", clock.shared())),
    )
    .await;
}

#[tokio::test]
async fn forged_expired_and_logged_out_refresh_tokens_are_invalid_grants() {
    let clock = ManualClock::new();
    let f = fixture(&clock, Arc::new(InMemoryRefreshStore::new(clock.shared())));
    let pair = f.tokens.issue(&TokenRequest::new("alice")).await.unwrap();
    let token = pair.refresh_token.expose_secret().to_owned();
    let (family, _) = token.split_once('.').unwrap();
    for forged in [
        "garbage".to_owned(),
        format!("{family}.not-the-secret"),
        format!("{}.x", "0".repeat(32)),
        String::new(),
    ] {
        let error = f.tokens.refresh(&forged).await.unwrap_err();
        assert!(
            matches!(error, Error::InvalidGrant { .. }),
            "{forged}: {error}"
        );
    }
    // A guess did not revoke the family.
    let pair = f.tokens.refresh(&token).await.unwrap();

    // Logout ends the family and its live access token.
    f.tokens
        .revoke(pair.refresh_token.expose_secret())
        .await
        .unwrap();
    assert!(matches!(
        f.tokens.refresh(pair.refresh_token.expose_secret()).await,
        Err(Error::InvalidGrant { .. })
    ));
    assert!(matches!(
        f.validator
            .validate(pair.access.token.expose_secret())
            .await,
        Err(Error::Revoked)
    ));

    // Families end after the refresh TTL (one day).
    let pair = f.tokens.issue(&TokenRequest::new("carol")).await.unwrap();
    clock.advance(Duration::from_secs(86_401));
    assert!(matches!(
        f.tokens.refresh(pair.refresh_token.expose_secret()).await,
        Err(Error::InvalidGrant { .. })
    ));
}

/// The compare-and-set every [`RefreshStore`] promises.
async fn compare_and_set(clock: &ManualClock, store: &dyn RefreshStore) {
    let now = chrono::DateTime::<chrono::Utc>::from(seam_core::Clock::system_time(clock));
    let mut family = seam_auth_jwt::RefreshFamily {
        id: uuid::Uuid::now_v7().simple().to_string(),
        version: 1,
        current_hash: "h1".to_owned(),
        previous_hashes: Vec::new(),
        revoked: false,
        subject: "alice".to_owned(),
        user_id: None,
        roles: Default::default(),
        scopes: Default::default(),
        created_at: now,
        expires_at: now + chrono::Duration::hours(1),
        access_tokens: Vec::new(),
    };
    assert!(
        store.save(&family, None).await.unwrap(),
        "a new family is saved"
    );
    assert!(
        !store.save(&family, None).await.unwrap(),
        "MUST NOT overwrite an existing family"
    );
    family.version = 2;
    assert!(
        !store.save(&family, Some(5)).await.unwrap(),
        "a stale version MUST be refused"
    );
    assert!(store.save(&family, Some(1)).await.unwrap());
    assert_eq!(store.load(&family.id).await.unwrap().unwrap().version, 2);
    assert!(store.load("0123456789abcdef").await.unwrap().is_none());
    clock.advance(Duration::from_secs(3601));
    assert!(
        store.load(&family.id).await.unwrap().is_none(),
        "an expired family is gone"
    );
}

#[tokio::test]
async fn refresh_stores_compare_and_set_and_expire() {
    let clock = ManualClock::new();
    compare_and_set(&clock, &InMemoryRefreshStore::new(clock.shared())).await;
    let clock = ManualClock::new();
    let cache: Arc<DynCache> = Arc::new(InMemoryCache::with_clock(clock.shared()));
    compare_and_set(
        &clock,
        &CacheRefreshStore::new(cache, "auth:", clock.shared()),
    )
    .await;
}

#[tokio::test]
async fn refresh_rotation_and_reuse_detection_over_real_redis() {
    let url = seam_testkit::require_redis();
    let prefix = format!("seam-test:refresh:{}:", uuid::Uuid::now_v7().simple());
    let cache: Arc<DynCache> = Arc::new(
        seam_cache_redis::RedisCacheConfig::new(url, prefix.clone())
            .with_timeout(Duration::from_secs(2))
            .build()
            .expect("valid redis config"),
    );
    // The clock starts at the real time, so Redis TTLs and the families' expiry agree.
    let clock = ManualClock::new();
    rotation_and_reuse(
        &clock,
        Arc::new(CacheRefreshStore::new(cache, "", clock.shared())),
    )
    .await;
    crate::revocation::remove_keys(&prefix).await;
}
