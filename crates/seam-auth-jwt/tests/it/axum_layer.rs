//! The axum middleware: 401 problem+json with `WWW-Authenticate`, the principal for
//! handlers, session cookies, guards (403) and unprotected paths.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use seam_auth::{DynTokenValidator, Principal, SessionResolver};
use seam_auth_jwt::axum::{Authenticated, Authenticator, RequireLayer, Requirement, authenticate};
use seam_core::ManualClock;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::*;

#[derive(Debug)]
struct OneSession;

#[async_trait]
impl SessionResolver for OneSession {
    async fn resolve(&self, session_id: &str) -> seam_auth::Result<Option<Principal>> {
        Ok((session_id == "good-session").then(|| {
            Principal::new(
                "cookie-user",
                "session",
                chrono::Utc::now() + chrono::Duration::hours(1),
            )
            .with_session(session_id)
        }))
    }
}

fn app(clock: &ManualClock) -> Router {
    let validator: Arc<DynTokenValidator> = Arc::new(static_validator(clock));
    let auth = Authenticator::new(validator)
        .with_sessions(Arc::new(OneSession), "seam_session")
        .protect(["/v1/orders", "/v1/admin"]);
    Router::new()
        .route(
            "/v1/orders",
            get(|Authenticated(p): Authenticated| async move { p.subject }),
        )
        .route(
            "/v1/admin",
            get(|| async { "admin" }).layer(RequireLayer::new(Requirement::role("admin"))),
        )
        .route(
            "/v1/scoped",
            get(|| async { "scoped" }).layer(RequireLayer::new(Requirement::scope("billing"))),
        )
        .route(
            "/public",
            get(|p: Option<Authenticated>| async move {
                p.map_or_else(|| "anonymous".to_owned(), |Authenticated(p)| p.subject)
            }),
        )
        .route("/v1/orders-archive", get(|| async { "not protected" }))
        .layer(axum::middleware::from_fn_with_state(auth, authenticate))
}

async fn call(
    app: &Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, String) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn no_token_is_401_with_a_bearer_challenge() {
    let clock = ManualClock::new();
    let app = app(&clock);
    let (status, headers, body) = call(&app, "/v1/orders", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"seam\"");
    assert_eq!(headers["content-type"], "application/problem+json");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], 401);
    // Sub-paths are protected; a path that merely shares the prefix is not.
    assert_eq!(
        call(&app, "/v1/orders/42", &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, "/v1/orders-archive", &[]).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_invalid_token_is_401_invalid_token_with_the_reason() {
    let clock = ManualClock::new();
    let app = app(&clock);
    let mut claims = claims(&clock);
    claims["aud"] = json!("elsewhere");
    let token = sign(RSA_A, "a", &claims);
    let (status, headers, body) = call(
        &app,
        "/v1/orders",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(
        challenge.contains("error_description=\"wrong_audience\""),
        "{challenge}"
    );
    assert!(!body.contains(&token));
    let (status, _, _) = call(
        &app,
        "/v1/orders",
        &[("authorization", "Basic dXNlcjpwYXNz")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_its_principal() {
    let clock = ManualClock::new();
    let app = app(&clock);
    let token = sign(RSA_A, "a", &claims(&clock));
    let (status, _, body) = call(
        &app,
        "/v1/orders",
        &[("authorization", &format!("bearer {token}"))],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "user-1");
    // Unprotected paths still see a valid principal, and work without one.
    let (_, _, body) = call(
        &app,
        "/public",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(body, "user-1");
    let (status, _, body) = call(&app, "/public", &[("authorization", "Bearer junk")]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
}

#[tokio::test]
async fn the_session_cookie_authenticates_when_there_is_no_bearer_token() {
    let clock = ManualClock::new();
    let app = app(&clock);
    let (status, _, body) = call(
        &app,
        "/v1/orders",
        &[("cookie", "theme=dark; seam_session=good-session")],
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "cookie-user"));
    let (status, headers, _) = call(&app, "/v1/orders", &[("cookie", "seam_session=stolen")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("session_expired")
    );
}

#[tokio::test]
async fn guards_answer_403_when_a_role_or_scope_is_missing() {
    let clock = ManualClock::new();
    let app = app(&clock);
    let admin = sign(RSA_A, "a", &claims(&clock));
    let (status, _, body) = call(
        &app,
        "/v1/admin",
        &[("authorization", &format!("Bearer {admin}"))],
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "admin"));

    let mut claims = claims(&clock);
    claims["realm_access"]["roles"] = json!(["user"]);
    let user = sign(RSA_A, "a", &claims);
    let (status, headers, body) = call(
        &app,
        "/v1/admin",
        &[("authorization", &format!("Bearer {user}"))],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    assert!(body.contains("admin"), "{body}");

    let (status, _, _) = call(
        &app,
        "/v1/scoped",
        &[("authorization", &format!("Bearer {user}"))],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A guard on an unprotected path still needs a principal.
    assert_eq!(
        call(&app, "/v1/scoped", &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Expiry is checked on the clock.
    clock.advance(Duration::from_secs(400));
    let (status, _, _) = call(
        &app,
        "/v1/admin",
        &[("authorization", &format!("Bearer {admin}"))],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
