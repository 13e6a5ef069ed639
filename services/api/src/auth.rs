//! Authentication of the API: bearer tokens (Seam's own and trusted issuers') or the
//! session cookie on the prefixes `auth.protect` lists, role guards, Seam's public
//! keys at `GET /.well-known/jwks.json`, and the refresh-token endpoints
//! `POST /oauth/token` (RFC 6749 `refresh_token` grant) and `POST /oauth/revoke`
//! (RFC 7009).

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json};
use seam_auth::Error;
use seam_auth::{DynSessionResolver, DynTokenValidator, Principal};
use seam_auth_jwt::JwkSet;
use seam_auth_jwt::RefreshTokens;
use seam_auth_jwt::axum::{Authenticator, Requirement, authenticate, error_response};
use seam_core::{Classify, ErrorKind, ExposeSecret};
use seam_wiring::{AuthComponents, Settings};
use serde::{Deserialize, Serialize};

/// The role that may delete users.
pub const ADMIN_ROLE: &str = "admin";

/// Where the public keys of Seam's issuer are published.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Exchanges a refresh token for a new token pair.
pub(crate) const TOKEN_PATH: &str = "/oauth/token";

/// Ends a refresh token's family (sign-out of a token holder).
pub(crate) const REVOKE_PATH: &str = "/oauth/revoke";

/// Adds the JWKS route, the role guards and the authentication middleware to `api`.
///
/// `sessions` resolves the session cookie (`auth.session_cookie`) of signed-in users,
/// when sign-in is configured.
pub(crate) fn layer(
    api: Router,
    settings: &Settings,
    auth: &AuthComponents,
    sessions: Option<Arc<DynSessionResolver>>,
) -> Router {
    let validator: Arc<DynTokenValidator> = auth.validator.clone();
    let mut authenticator = Authenticator::new(validator);
    if settings.auth.enabled {
        authenticator = authenticator.protect(settings.auth.protect.iter().cloned());
    } else {
        tracing::warn!("auth.enabled = false: the API accepts requests without credentials");
    }
    if let Some(sessions) = sessions {
        authenticator = authenticator.with_sessions(sessions, settings.auth.session_cookie.clone());
    }
    let jwks = Arc::new(auth.issuer.jwks().clone());
    let tokens = Router::new()
        .route(TOKEN_PATH, post(token))
        .route(REVOKE_PATH, post(revoke))
        .with_state(auth.refresh.clone());
    api.merge(tokens)
        .route(JWKS_PATH, get(move || jwks_json(jwks.clone())))
        .layer(axum::middleware::from_fn(guards))
        .layer(axum::middleware::from_fn_with_state(
            authenticator,
            authenticate,
        ))
}

/// `GET /.well-known/jwks.json`: the public keys of every configured signing key.
async fn jwks_json(jwks: Arc<JwkSet>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(jwks.as_ref().clone()),
    )
        .into_response()
}

/// Routes that need a role on top of a valid credential: deleting a user is for admins.
fn requirement(method: &Method, path: &str) -> Option<Requirement> {
    (method == Method::DELETE && path.starts_with("/v1/users/"))
        .then(|| Requirement::role(ADMIN_ROLE))
}

async fn guards(request: Request, next: Next) -> Response {
    if let Some(requirement) = requirement(request.method(), request.uri().path())
        && let Err(error) = requirement.check(request.extensions().get::<Principal>())
    {
        if let Some(principal) = request.extensions().get::<Principal>() {
            tracing::warn!(
                auth.reason = error.reason(),
                auth.subject = %principal.subject,
                auth.issuer = %principal.issuer,
                path = %request.uri().path(),
                "request forbidden"
            );
        }
        return error_response(&error, "seam");
    }
    next.run(request).await
}

/// A token request (`application/x-www-form-urlencoded`, RFC 6749 section 6).
#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: String,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// A successful token response (RFC 6749 section 5.1).
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
}

/// An OAuth2 error answer (RFC 6749 section 5.2) as a problem document (RFC 9457)
/// carrying `error` and `error_description` as extension members, so OAuth2 clients
/// and the API's problem format are both served: 400 `invalid_grant` for any refresh
/// token that cannot be used (unknown, expired, revoked, reused), 503 when a store is down.
fn oauth_error(error: &Error) -> Response {
    let (status, code) = match error.kind() {
        ErrorKind::Unauthorized => (StatusCode::BAD_REQUEST, "invalid_grant"),
        ErrorKind::Invalid => (StatusCode::BAD_REQUEST, "invalid_request"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
    };
    tracing::warn!(auth.reason = error.reason(), error.message = %error, "token request refused");
    oauth_problem(status, code, &error.to_string())
}

fn oauth_problem(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": description,
        "error": code,
        "error_description": description,
    });
    (
        status,
        [
            (header::CONTENT_TYPE, "application/problem+json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `POST /oauth/token`, `grant_type=refresh_token`: a new access token and a new
/// refresh token; the one presented stops working, and presenting it again revokes
/// its whole family.
async fn token(State(refresh): State<Arc<RefreshTokens>>, Form(form): Form<TokenForm>) -> Response {
    if form.grant_type != "refresh_token" {
        return oauth_problem(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only the refresh_token grant is served here",
        );
    }
    let Some(presented) = form.refresh_token.filter(|t| !t.is_empty()) else {
        return oauth_error(&Error::invalid("refresh_token is required"));
    };
    match refresh.refresh(&presented).await {
        Ok(pair) => {
            let expires_in = (pair.access.expires_at - chrono::Utc::now())
                .num_seconds()
                .max(0);
            (
                [(header::CACHE_CONTROL, "no-store")],
                Json(TokenResponse {
                    access_token: pair.access.token.expose_secret().clone(),
                    token_type: "Bearer",
                    expires_in,
                    refresh_token: pair.refresh_token.expose_secret().clone(),
                }),
            )
                .into_response()
        }
        Err(error) => oauth_error(&error),
    }
}

/// A revocation request (RFC 7009).
#[derive(Debug, Deserialize)]
struct RevokeForm {
    token: String,
}

/// `POST /oauth/revoke`: ends the refresh token's family and its live access tokens.
/// Answers 200 for unknown tokens too (RFC 7009 section 2.2).
async fn revoke(
    State(refresh): State<Arc<RefreshTokens>>,
    Form(form): Form<RevokeForm>,
) -> Response {
    match refresh.revoke(&form.token).await {
        Ok(()) | Err(Error::InvalidGrant { .. }) => {
            (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response()
        }
        Err(error) => oauth_error(&error),
    }
}
