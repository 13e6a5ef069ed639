//! Discovery: endpoints from `/.well-known/openid-configuration`, a provider that is
//! down at start-up, and a document naming another issuer.

use seam_auth::Error;
use seam_auth_oauth2::{OidcSignIn, ProviderMetadata};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{Harness, MockProvider, config};

#[tokio::test]
async fn a_provider_down_at_start_up_is_discovered_at_the_first_sign_in() {
    let provider = MockProvider::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(1)
        .up_to_n_times(2)
        .mount(&provider.server)
        .await;
    let harness = Harness::new(config(&provider.issuer())).await;
    assert!(harness.signin.metadata().is_none());

    // Still down: the sign-in says so (a 503 for the API), nothing else breaks.
    let error = harness.signin.begin(None).await.unwrap_err();
    assert!(
        matches!(error, Error::ProviderUnavailable { .. }),
        "{error:?}"
    );

    // Back up: discovered on the next sign-in, which then completes.
    provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let metadata = harness.signin.metadata().expect("discovered");
    assert_eq!(
        metadata.token_endpoint,
        format!("{}/token", provider.issuer())
    );
}

#[tokio::test]
async fn a_discovery_document_of_another_issuer_is_refused() {
    let provider = MockProvider::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": "https://evil.example.com",
            "authorization_endpoint": "https://evil.example.com/authorize",
            "token_endpoint": "https://evil.example.com/token",
            "jwks_uri": "https://evil.example.com/jwks",
        })))
        .with_priority(1)
        .mount(&provider.server)
        .await;
    let healthy = MockProvider::start().await;
    let harness = Harness::new(config(&healthy.issuer())).await;
    let error = OidcSignIn::build(config(&provider.issuer()), harness.deps.clone())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Invalid(_)), "{error:?}");
    assert!(error.to_string().contains("evil.example.com"), "{error}");
}

#[tokio::test]
async fn configured_endpoints_skip_discovery() {
    let provider = MockProvider::start().await;
    let mut config = config(&provider.issuer());
    let issuer = provider.issuer();
    config.endpoints = Some(ProviderMetadata {
        issuer: issuer.clone(),
        authorization_endpoint: format!("{issuer}/authorize"),
        token_endpoint: format!("{issuer}/token"),
        jwks_uri: format!("{issuer}/jwks"),
        revocation_endpoint: None,
        userinfo_endpoint: None,
    });
    let harness = Harness::new(config).await;
    provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let discovery_calls = provider
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/.well-known/openid-configuration")
        .count();
    assert_eq!(discovery_calls, 0);
    // Without a revocation endpoint, logout ends the session without revoking.
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    let outcome = harness
        .signin
        .logout(seam_core::ExposeSecret::expose_secret(
            &signed_in.session_id,
        ))
        .await
        .unwrap();
    assert!(outcome.ended && !outcome.revoked);
}

#[tokio::test]
async fn bad_configuration_is_refused_with_the_setting_named() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let build = |config| OidcSignIn::build(config, harness.deps.clone());

    let mut plain = config("http://idp.example.com");
    plain.client_id = "x".to_owned();
    let error = build(plain).await.unwrap_err().to_string();
    assert!(
        error.contains("`issuer`") && error.contains("https"),
        "{error}"
    );

    let mut no_key = config(&provider.issuer());
    no_key.active_token_key = "missing".to_owned();
    let error = build(no_key).await.unwrap_err().to_string();
    assert!(error.contains("active_token_key"), "{error}");

    let mut short = config(&provider.issuer());
    short.session.absolute_timeout = std::time::Duration::from_secs(60);
    let error = build(short).await.unwrap_err().to_string();
    assert!(error.contains("absolute_timeout"), "{error}");

    let mut open_redirect = config(&provider.issuer());
    open_redirect.post_login_redirect = "https://evil.example.com/".to_owned();
    let error = build(open_redirect).await.unwrap_err().to_string();
    assert!(error.contains("post_login_redirect"), "{error}");
}
