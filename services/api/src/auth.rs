//! Authentication of the API: bearer tokens (Seam's own and trusted issuers') or the
//! session cookie on the prefixes `auth.protect` lists, role guards, and Seam's
//! public keys at `GET /.well-known/jwks.json`.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use seam_auth::{DynSessionResolver, DynTokenValidator, Principal};
use seam_auth_jwt::JwkSet;
use seam_auth_jwt::axum::{Authenticator, Requirement, authenticate, error_response};
use seam_wiring::{AuthComponents, Settings};

/// The role that may delete users.
pub const ADMIN_ROLE: &str = "admin";

/// Where the public keys of Seam's issuer are published.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

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
    api.route(JWKS_PATH, get(move || jwks_json(jwks.clone())))
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
