//! The API's authentication: 401 without a credential, 200 with a token from Seam's
//! issuer, 403 without the role a route needs, the JWKS other services validate with.

use std::time::Duration;

use reqwest::StatusCode;
use seam_auth::TokenValidator;
use seam_auth_jwt::{JwtValidator, KeySource, TrustedIssuer, ValidatorConfig};
use seam_core::ExposeSecret;
use serde_json::Value;

use crate::{TestApp, authorized_client, seeded_settings};

#[tokio::test]
async fn orders_and_users_need_a_token() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let anonymous = reqwest::Client::new();
    for path in [
        "/v1/orders",
        "/v1/users",
        "/v1/orders/0190b9b0-0000-7000-8000-000000000000",
    ] {
        let response = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"seam\""
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let response = anonymous
        .get(app.url("/v1/users"))
        .bearer_auth("not-a-jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    // Health, metrics and the OpenAPI document stay open.
    for path in ["/health/live", "/openapi.json", "/.well-known/jwks.json"] {
        let response = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // With the issued token (TestApp's client) the same requests pass.
    assert_eq!(app.get("/v1/users").await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_user_needs_the_admin_role() {
    let data = tempfile::tempdir().unwrap();
    let settings = seeded_settings(data.path()).await;
    let mut request = seam_wiring::auth::TokenRequest::new("plain-user");
    request.roles.insert("user".to_owned());
    let user_token = seam_wiring::auth::issue_token(&settings, &request).unwrap();
    let app = TestApp::spawn(settings).await;
    let created: Value = app
        .post_json("/v1/users", r#"{"email":"gone@example.com","name":"Gone"}"#)
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/users/{}", created["id"].as_str().unwrap());

    let user = authorized_client(user_token.token.expose_secret());
    assert_eq!(
        user.get(app.url(&path)).send().await.unwrap().status(),
        StatusCode::OK
    );
    let response = user.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("admin"), "{body}");

    let response = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

#[tokio::test]
async fn the_published_jwks_lets_another_service_validate_seam_tokens() {
    let data = tempfile::tempdir().unwrap();
    let settings = crate::sqlite_settings(data.path());
    let issuer = settings.auth.issuer.clone();
    let token =
        seam_wiring::auth::issue_token(&settings, &seam_wiring::auth::TokenRequest::new("svc"))
            .unwrap();
    let app = TestApp::spawn(settings).await;

    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let jwks: Value = response.json().await.unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "dev");
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");

    // Another team's service, trusting Seam through the JWKS URL.
    let trusted = TrustedIssuer::with_keys(
        issuer.issuer.clone(),
        KeySource::JwksUrl(app.url("/.well-known/jwks.json")),
        issuer.audiences[0].clone(),
    )
    .with_algorithms([seam_auth_jwt::Algorithm::EdDSA]);
    let mut config = ValidatorConfig {
        issuers: vec![trusted],
        ..ValidatorConfig::default()
    };
    config.jwks.fetch_timeout = Duration::from_secs(5);
    let validator = JwtValidator::new(&config).unwrap();
    let principal = validator
        .validate(token.token.expose_secret())
        .await
        .unwrap();
    assert_eq!(principal.subject, "svc");
    app.stop().await;
}

async fn post_form(client: &reqwest::Client, url: String, body: String) -> (StatusCode, Value) {
    let response = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    if status == StatusCode::OK {
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family_across_processes() {
    let data = tempfile::tempdir().unwrap();
    let mut settings = seeded_settings(data.path()).await;
    // Revocations and refresh families in Redis: shared by the API and this test, as by
    // several API instances. Short lifetimes: every key expires within two minutes.
    settings.cache.backend = seam_wiring::CacheBackend::Redis;
    settings.cache.redis_url = seam_testkit::require_redis().into();
    settings.cache.key_prefix = format!("seam-test:api:{}:", uuid_like());
    settings.auth.store = seam_wiring::auth::Store::Cache;
    settings.auth.issuer.access_ttl = Duration::from_secs(60);
    settings.auth.issuer.max_access_ttl = Duration::from_secs(60);
    settings.auth.issuer.refresh_ttl = Duration::from_secs(120);
    let components = seam_wiring::AuthComponents::build(&settings).unwrap();
    let mut request = seam_wiring::auth::TokenRequest::new("alice");
    request.roles.insert("user".to_owned());
    let first = components.refresh.issue(&request).await.unwrap();
    let app = TestApp::spawn(settings).await;
    let anonymous = reqwest::Client::new();
    let token_url = app.url("/oauth/token");

    let (status, body) = post_form(
        &anonymous,
        token_url.clone(),
        format!(
            "grant_type=refresh_token&refresh_token={}",
            first.refresh_token.expose_secret()
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let access = body["access_token"].as_str().unwrap().to_owned();
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    let user = authorized_client(&access);
    assert_eq!(
        user.get(app.url("/v1/users"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // The first refresh token again: reuse. The family and its access tokens are revoked.
    let (status, body) = post_form(
        &anonymous,
        token_url.clone(),
        format!(
            "grant_type=refresh_token&refresh_token={}",
            first.refresh_token.expose_secret()
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("reuse"),
        "{body}"
    );
    let response = user.get(app.url("/v1/users")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("revoked")
    );
    let (status, body) = post_form(
        &anonymous,
        token_url.clone(),
        format!("grant_type=refresh_token&refresh_token={second}"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let (status, body) = post_form(&anonymous, token_url, "grant_type=password".to_owned()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (status, _) = post_form(
        &anonymous,
        app.url("/oauth/revoke"),
        "token=unknown.token".to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
