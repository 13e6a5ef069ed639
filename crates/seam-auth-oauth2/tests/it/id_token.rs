//! ID token checks, against a wiremock provider that signs what the test asks for:
//! every broken token is refused with its precise error and creates no session.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use seam_auth::Error;
use seam_auth_oauth2::Callback;
use serde_json::json;

use crate::support::{Harness, MockProvider, TEST_KID, config, query_param, sign};

async fn refused(edit: impl FnOnce(&mut serde_json::Value)) -> Error {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let error = provider
        .sign_in_with(&harness, None, edit)
        .await
        .expect_err("the ID token must be refused");
    assert!(
        harness
            .users
            .list(seam_repository::UserQuery::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "no user may be created from a refused token"
    );
    error
}

#[tokio::test]
async fn a_valid_token_signs_in() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let signed_in = provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    assert_eq!(signed_in.user.email.as_str(), "mock-user@example.com");
    assert_eq!(signed_in.session.subject, "mock-user");
    assert_eq!(signed_in.return_to, "/orders");
}

#[tokio::test]
async fn a_wrong_nonce_is_refused() {
    let error = refused(|claims| claims["nonce"] = json!("another-nonce")).await;
    assert!(matches!(error, Error::NonceMismatch), "{error:?}");
}

#[tokio::test]
async fn a_missing_nonce_is_refused() {
    let error = refused(|claims| {
        claims.as_object_mut().unwrap().remove("nonce");
    })
    .await;
    assert!(matches!(error, Error::NonceMismatch), "{error:?}");
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let error = refused(|claims| claims["aud"] = json!("another-client")).await;
    assert!(matches!(error, Error::WrongAudience), "{error:?}");
}

#[tokio::test]
async fn several_audiences_need_azp_naming_this_client() {
    let error = refused(|claims| claims["aud"] = json!(["seam-test", "another-client"])).await;
    assert!(matches!(error, Error::WrongAudience), "{error:?}");
    let error = refused(|claims| claims["azp"] = json!("another-client")).await;
    assert!(matches!(error, Error::WrongAudience), "{error:?}");
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let error = refused(|claims| claims["iss"] = json!("https://evil.example.com")).await;
    assert!(matches!(error, Error::WrongIssuer { .. }), "{error:?}");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    // Expired two minutes ago: beyond the default one-minute leeway.
    let error = refused(|claims| {
        let exp = claims["iat"].as_u64().unwrap() - 120;
        claims["exp"] = json!(exp);
    })
    .await;
    assert!(matches!(error, Error::Expired), "{error:?}");
}

#[tokio::test]
async fn an_unverified_email_neither_links_nor_creates() {
    let error = refused(|claims| claims["email_verified"] = json!(false)).await;
    assert!(matches!(error, Error::Forbidden { .. }), "{error:?}");
}

#[tokio::test]
async fn a_token_signed_with_an_unknown_key_is_refused() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let start = harness.signin.begin(None).await.unwrap();
    let nonce = query_param(&start.redirect_url, "nonce").unwrap();
    let claims = provider.claims(&harness.clock, "mock-user", &nonce);
    provider
        .answer_code_exchange(&sign(&claims, "rotated-away"), 300)
        .await;
    let error = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            code: Some("code"),
            state: query_param(&start.redirect_url, "state").as_deref(),
            ..Callback::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(error, Error::UnknownKey { .. }), "{error:?}");
}

#[tokio::test]
async fn hs256_and_tampered_tokens_are_refused() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;

    // HS256 "signed" with the provider's public key material: never accepted.
    let start = harness.signin.begin(None).await.unwrap();
    let nonce = query_param(&start.redirect_url, "nonce").unwrap();
    let claims = provider.claims(&harness.clock, "mock-user", &nonce);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(TEST_KID.to_owned());
    let hs = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(include_bytes!("../data/jwks.json")),
    )
    .unwrap();
    provider.answer_code_exchange(&hs, 300).await;
    let error = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            code: Some("code"),
            state: query_param(&start.redirect_url, "state").as_deref(),
            ..Callback::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::DisallowedAlgorithm { .. }),
        "{error:?}"
    );

    // A valid token whose payload was changed after signing.
    let start = harness.signin.begin(None).await.unwrap();
    let nonce = query_param(&start.redirect_url, "nonce").unwrap();
    let good = sign(
        &provider.claims(&harness.clock, "mock-user", &nonce),
        TEST_KID,
    );
    let mut evil = provider.claims(&harness.clock, "admin", &nonce);
    evil["email"] = json!("admin@example.com");
    let forged_payload = sign(&evil, TEST_KID);
    let parts: Vec<&str> = good.split('.').collect();
    let forged: Vec<&str> = forged_payload.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], forged[1], parts[2]);
    provider.answer_code_exchange(&tampered, 300).await;
    let error = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            code: Some("code"),
            state: query_param(&start.redirect_url, "state").as_deref(),
            ..Callback::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidSignature), "{error:?}");
}

#[tokio::test]
async fn state_is_checked_and_single_use() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let start = harness.signin.begin(None).await.unwrap();

    // A forged state fails, and burns the pending sign-in.
    let error = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            code: Some("code"),
            state: Some("forged"),
            ..Callback::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(error, Error::StateMismatch), "{error:?}");
    let state = query_param(&start.redirect_url, "state").unwrap();
    let error = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            code: Some("code"),
            state: Some(&state),
            ..Callback::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(error, Error::StateMismatch), "{error:?}");

    // No cookie at all (a callback the browser did not start): refused.
    let error = harness
        .signin
        .complete(Callback {
            code: Some("code"),
            state: Some(&state),
            ..Callback::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(error, Error::StateMismatch), "{error:?}");

    // The provider's own refusal is a bad request, not a crash.
    let start = harness.signin.begin(None).await.unwrap();
    let error = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            error: Some("access_denied"),
            ..Callback::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Invalid(_)), "{error:?}");
}

#[tokio::test]
async fn the_authorization_url_carries_pkce_state_and_nonce() {
    let provider = MockProvider::start().await;
    let mut config = config(&provider.issuer());
    config
        .extra_auth_params
        .insert("access_type".to_owned(), "offline".to_owned());
    let harness = Harness::new(config).await;
    let start = harness
        .signin
        .begin(Some("https://evil.example.com/"))
        .await
        .unwrap();
    let url = &start.redirect_url;
    assert!(
        url.starts_with(&format!("{}/authorize?", provider.issuer())),
        "{url}"
    );
    assert_eq!(
        query_param(url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(url, "code_challenge").map(|c| c.len()),
        Some(43)
    );
    assert_eq!(query_param(url, "response_type").as_deref(), Some("code"));
    assert_eq!(query_param(url, "client_id").as_deref(), Some("seam-test"));
    assert_eq!(query_param(url, "access_type").as_deref(), Some("offline"));
    let scope = query_param(url, "scope").unwrap();
    assert!(scope.split(' ').any(|s| s == "openid"), "{scope}");
    let state = query_param(url, "state").unwrap();
    let nonce = query_param(url, "nonce").unwrap();
    assert!(state.len() >= 43 && nonce.len() >= 43);
    assert_ne!(state, nonce);
    // Nothing secret is in the pre-authentication cookie: only a random reference.
    assert!(!start.cookie.value().contains(&state));
    assert_eq!(start.cookie.http_only(), Some(true));

    // An absolute return URL is replaced by the default (no open redirect).
    let nonce = query_param(url, "nonce").unwrap();
    provider
        .answer_code_exchange(
            &sign(
                &provider.claims(&harness.clock, "mock-user", &nonce),
                TEST_KID,
            ),
            300,
        )
        .await;
    let signed_in = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            code: Some("code"),
            state: Some(&state),
            ..Callback::default()
        })
        .await
        .unwrap();
    assert_eq!(signed_in.return_to, "/");
}

#[tokio::test]
async fn a_rotated_provider_key_is_fetched_once_and_bogus_kids_are_rate_limited() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    use crate::support::{advance, sign_with};

    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    assert_eq!(provider.jwks_fetches().await, 1);

    // The provider publishes a second key and signs with it.
    let rotated: serde_json::Value =
        serde_json::from_str(include_str!("../data/jwks-rotated.json")).unwrap();
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(rotated))
        .with_priority(1)
        .mount(&provider.server)
        .await;
    let second_key = include_bytes!("../data/rsa-test-key-2.pem");
    advance(&harness.clock, 61);
    provider
        .sign_in_signed(
            &harness,
            None,
            |_| {},
            |claims| sign_with(claims, "test-key-2", second_key),
        )
        .await
        .expect("the new key is fetched on first sight");
    assert_eq!(provider.jwks_fetches().await, 2);

    // Tokens of the old key still validate, from the cache.
    provider.sign_in_with(&harness, None, |_| {}).await.unwrap();
    // A flood of unknown key ids within `jwks_min_refresh` fetches nothing more.
    for _ in 0..3 {
        let error = provider
            .sign_in_signed(
                &harness,
                None,
                |_| {},
                |claims| sign_with(claims, "bogus", second_key),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, Error::UnknownKey { .. }), "{error:?}");
    }
    assert_eq!(provider.jwks_fetches().await, 2);
}

#[tokio::test]
async fn a_callback_naming_another_issuer_is_refused() {
    let provider = MockProvider::start().await;
    let harness = Harness::new(config(&provider.issuer())).await;
    let start = harness.signin.begin(None).await.unwrap();
    let error = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            code: Some("code"),
            state: query_param(&start.redirect_url, "state").as_deref(),
            iss: Some("https://attacker.example.com"),
            ..Callback::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(error, Error::WrongIssuer { .. }), "{error:?}");
}
