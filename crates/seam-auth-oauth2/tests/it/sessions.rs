//! Sessions: cookie flags, fixation, idle and absolute expiry on the manual clock,
//! refresh before expiry, `invalid_grant` signing out, and token-key rotation.

use std::time::Duration;

use cookie::SameSite;
use seam_auth::{Error, SessionResolver};
use seam_core::ExposeSecret;
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{Harness, MockProvider, advance, config, token_key};

#[tokio::test]
async fn cookies_are_http_only_lax_and_secure_unless_configured_off() {
    let provider = MockProvider::start().await;
    let mut secure = config(&provider.issuer());
    secure.session.cookie_secure = true;
    let harness = Harness::new(secure).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let cookie = &signed_in.cookie;
    assert_eq!(cookie.name(), "seam_session");
    assert_eq!(cookie.value(), signed_in.session_id.expose_secret());
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Lax));
    assert_eq!(cookie.path(), Some("/"));
    let header = cookie.to_string();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(
            header.contains(attribute),
            "{attribute} missing in {header}"
        );
    }
    // 256 random bits, base64url.
    assert_eq!(cookie.value().len(), 43);

    let start = harness.signin.begin(None).await.unwrap();
    assert_eq!(start.cookie.name(), "seam_login");
    assert_eq!(start.cookie.secure(), Some(true));
    assert_eq!(start.cookie.same_site(), Some(SameSite::Lax));
    let removal = harness.signin.session_cookie_removal();
    assert_eq!(removal.max_age(), Some(cookie::time::Duration::ZERO));

    // For local http only, Secure can be turned off.
    let plain = Harness::new(config(&provider.issuer())).await;
    let signed_in = provider.sign_in_with(&plain, None, |_| {}).await.unwrap();
    assert_eq!(signed_in.cookie.secure(), Some(false));
}

#[tokio::test]
async fn signing_in_rotates_the_session_id() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let first = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let old_id = first.session_id.expose_secret().to_owned();
    assert!(harness.signin.session(&old_id).await.unwrap().is_some());

    // Signing in again from a browser that holds a session: a new id, the old one ends.
    let second = provider
        .sign_in_with(&harness, Some(&old_id), |_| {})
        .await
        .unwrap();
    let new_id = second.session_id.expose_secret().to_owned();
    assert_ne!(new_id, old_id);
    assert!(harness.signin.session(&old_id).await.unwrap().is_none());
    assert!(harness.signin.session(&new_id).await.unwrap().is_some());
    // The same account signs in as the same user (linked identity).
    assert_eq!(first.user.id, second.user.id);

    // An attacker-planted id that was never a session is never adopted either.
    let planted = "A".repeat(43);
    let third = provider
        .sign_in_with(&harness, Some(&planted), |_| {})
        .await
        .unwrap();
    assert_ne!(third.session_id.expose_secret(), planted.as_str());
    assert!(harness.signin.session(&planted).await.unwrap().is_none());
}

#[tokio::test]
async fn an_idle_session_expires() {
    let provider = MockProvider::start().await;
    let mut config = config(&provider.issuer());
    config.session.idle_timeout = Duration::from_secs(600);
    config.session.absolute_timeout = Duration::from_secs(3600);
    let harness = Harness::new(config).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let id = signed_in.session_id.expose_secret().to_owned();

    // Used every 9 minutes, it stays alive past the idle timeout...
    for _ in 0..3 {
        advance(&harness.clock, 540);
        assert!(harness.signin.session(&id).await.unwrap().is_some());
    }
    // ... and 10 idle minutes end it.
    advance(&harness.clock, 600);
    assert!(harness.signin.session(&id).await.unwrap().is_none());
    assert!(harness.signin.resolve(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_used_session_still_ends_at_the_absolute_timeout() {
    let provider = MockProvider::start().await;
    let mut config = config(&provider.issuer());
    config.session.idle_timeout = Duration::from_secs(600);
    config.session.absolute_timeout = Duration::from_secs(1800);
    let harness = Harness::new(config).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let id = signed_in.session_id.expose_secret().to_owned();
    let principal = harness.signin.resolve(&id).await.unwrap().unwrap();
    assert_eq!(principal.user_id, Some(signed_in.user.id));
    assert_eq!(principal.session_id.as_deref(), Some(id.as_str()));
    assert_eq!(principal.issuer, provider.issuer());

    for _ in 0..5 {
        advance(&harness.clock, 300);
        // Refreshes fail here (the mock does not answer them): the session is kept.
        assert!(harness.signin.resolve(&id).await.unwrap().is_some());
    }
    advance(&harness.clock, 300); // 30 minutes after sign-in
    assert!(harness.signin.resolve(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn access_tokens_are_refreshed_before_expiry() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let id = signed_in.session_id.expose_secret().to_owned();
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=mock-refresh-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "mock-access-2",
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_token": "mock-refresh-2",
        })))
        .expect(1)
        .mount(&provider.server)
        .await;

    // The access token lives 300 s; the default skew is 60 s.
    advance(&harness.clock, 200);
    let token = harness.signin.access_token(&id).await.unwrap().unwrap();
    assert_eq!(token.expose_secret(), "mock-access-1");
    advance(&harness.clock, 45); // 55 s left: within the skew
    let token = harness.signin.access_token(&id).await.unwrap().unwrap();
    assert_eq!(token.expose_secret(), "mock-access-2");
    let session = harness.signin.session(&id).await.unwrap().unwrap();
    assert!(session.access_expires_at.unwrap() > seam_auth_oauth2_now(&harness));
}

fn seam_auth_oauth2_now(harness: &Harness) -> chrono::DateTime<chrono::Utc> {
    use seam_core::Clock as _;
    chrono::DateTime::<chrono::Utc>::from(harness.clock.system_time())
}

#[tokio::test]
async fn invalid_grant_on_refresh_signs_the_user_out() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let id = signed_in.session_id.expose_secret().to_owned();
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "grant request is invalid",
        })))
        .mount(&provider.server)
        .await;

    let error = harness.signin.refresh(&id).await.unwrap_err();
    assert_eq!(error.reason(), "invalid_grant");
    assert!(harness.signin.session(&id).await.unwrap().is_none());

    // The same through a request that finds the token due for refresh.
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let id = signed_in.session_id.expose_secret().to_owned();
    advance(&harness.clock, 250);
    assert!(harness.signin.resolve(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_provider_outage_on_refresh_keeps_the_session() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let id = signed_in.session_id.expose_secret().to_owned();
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&provider.server)
        .await;
    let error = harness.signin.refresh(&id).await.unwrap_err();
    assert!(
        matches!(error, Error::ProviderUnavailable { .. }),
        "{error:?}"
    );
    advance(&harness.clock, 250);
    assert!(harness.signin.session(&id).await.unwrap().is_some());
}

#[tokio::test]
async fn tokens_written_under_an_old_key_read_after_rotation() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let id = signed_in.session_id.expose_secret().to_owned();

    // Rotate: k2 is active, k1 still configured to read.
    let mut rotated = config(&provider.issuer());
    rotated.token_keys = vec![token_key("k1", 1), token_key("k2", 2)];
    rotated.active_token_key = "k2".to_owned();
    let after = harness.rebuild(rotated).await;
    let token = after.access_token(&id).await.unwrap().unwrap();
    assert_eq!(token.expose_secret(), "mock-access-1");

    // With k1 removed, the old session's tokens no longer decrypt: an error, not a leak.
    let mut retired = config(&provider.issuer());
    retired.token_keys = vec![token_key("k2", 2)];
    retired.active_token_key = "k2".to_owned();
    let retired = harness.rebuild(retired).await;
    let error = retired.access_token(&id).await.unwrap_err();
    assert!(matches!(error, Error::Crypto(_)), "{error:?}");
}

#[tokio::test]
async fn logout_ends_the_session_and_revokes_at_the_provider() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let id = signed_in.session_id.expose_secret().to_owned();
    let outcome = harness.signin.logout(&id).await.unwrap();
    assert!(outcome.ended && outcome.revoked, "{outcome:?}");
    assert!(harness.signin.session(&id).await.unwrap().is_none());
    let revocations: Vec<String> = provider
        .server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/revoke")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(revocations.len(), 2, "{revocations:?}");
    assert!(revocations[0].contains("token=mock-refresh-1"));
    assert!(revocations[0].contains("token_type_hint=refresh_token"));
    assert!(revocations[1].contains("token=mock-access-1"));
    // Logging out again is harmless.
    let again = harness.signin.logout(&id).await.unwrap();
    assert!(!again.ended && !again.revoked);
}

#[tokio::test]
async fn nothing_secret_is_in_debug_output() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let id = signed_in.session_id.expose_secret().to_owned();
    let shown = format!(
        "{signed_in:?} {:?} {:?} {:?}",
        harness.signin,
        harness.signin.resolve(&id).await.unwrap(),
        harness.signin.config()
    );
    for secret in [
        id.as_str(),
        "mock-access-1",
        "mock-refresh-1",
        "seam-test-secret",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

/// A session store that cannot be reached.
#[derive(Debug)]
struct DownCache;

#[async_trait::async_trait]
impl seam_cache::Cache for DownCache {
    async fn get(&self, _key: &str) -> seam_cache::Result<Option<Vec<u8>>> {
        Err(seam_cache::Error::unavailable("test", "connection refused"))
    }

    async fn set(
        &self,
        _key: &str,
        _value: &[u8],
        _ttl: Option<Duration>,
    ) -> seam_cache::Result<()> {
        Err(seam_cache::Error::unavailable("test", "connection refused"))
    }

    async fn delete(&self, _key: &str) -> seam_cache::Result<bool> {
        Err(seam_cache::Error::unavailable("test", "connection refused"))
    }
}

#[tokio::test]
async fn an_unreachable_session_store_is_store_unavailable_never_signed_out() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let mut deps = harness.deps.clone();
    deps.cache = std::sync::Arc::new(DownCache);
    let signin = seam_auth_oauth2::OidcSignIn::build(config(&provider.issuer()), deps)
        .await
        .unwrap();
    let id = "A".repeat(43);
    let error = signin.resolve(&id).await.unwrap_err();
    assert!(matches!(error, Error::StoreUnavailable { .. }), "{error:?}");
    let error = signin.begin(None).await.unwrap_err();
    assert!(matches!(error, Error::StoreUnavailable { .. }), "{error:?}");
    assert!(matches!(
        signin.logout(&id).await.unwrap_err(),
        Error::StoreUnavailable { .. }
    ));
}

#[tokio::test]
async fn the_session_resolver_passes_the_port_suite() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let id = signed_in.session_id.expose_secret().to_owned();
    let (signin, ended) = (harness.signin.clone(), id.clone());
    seam_auth::session_conformance::run_all(&harness.signin, &id, || async move {
        signin.logout(&ended).await.unwrap();
    })
    .await;
}
