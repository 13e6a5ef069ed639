//! Sign-in with an OpenID Connect provider: `GET /auth/login`, `GET /auth/callback`,
//! `POST /auth/logout`, and `GET /v1/me` (who the session cookie or bearer token names).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use seam_auth::{Error as AuthError, Principal};
use seam_auth_oauth2::{Callback, OidcSignIn};
use seam_core::{Classify, ErrorKind};
use seam_repository::DynUserRepository;
use serde::{Deserialize, Serialize};

use crate::problem::Problem;
use crate::users::UserView;

/// What the sign-in routes share.
#[derive(Debug, Clone)]
pub struct SignInState {
    /// The sign-in, when `auth.oidc` configures one.
    pub signin: Option<Arc<OidcSignIn>>,
    /// The users `/v1/me` reads.
    pub users: Arc<DynUserRepository>,
}

/// The sign-in routes and `/v1/me`. Put them under the authentication middleware, so
/// that `/v1/me` sees the principal of a session cookie or bearer token.
pub fn routes(state: SignInState) -> Router {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/v1/me", get(me))
        .with_state(state)
}

/// `GET /auth/login` parameters.
#[derive(Debug, Deserialize)]
pub struct LoginParams {
    /// A local path to return to after signing in.
    pub return_to: Option<String>,
}

/// `GET /auth/callback` parameters, as the provider sends them.
#[derive(Deserialize)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state issued by `/auth/login`.
    pub state: Option<String>,
    /// The provider's error code, when it refused.
    pub error: Option<String>,
    /// The provider's issuer (RFC 9207), when it sends it.
    pub iss: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// Who is signed in.
#[derive(Debug, Serialize)]
pub struct MeView {
    /// The subject, as its issuer names it.
    pub subject: String,
    /// The issuer (the sign-in provider, or a token issuer).
    pub issuer: String,
    /// `session` (the session cookie) or `token` (a bearer token).
    pub via: &'static str,
    /// Roles.
    pub roles: Vec<String>,
    /// Scopes.
    pub scopes: Vec<String>,
    /// When the credential stops being valid.
    pub expires_at: DateTime<Utc>,
    /// The Seam user, when the credential names one.
    pub user: Option<UserView>,
    /// What the sign-in provider said about the account (sessions only).
    pub profile: Option<ProfileView>,
}

/// The provider's profile of a signed-in account.
#[derive(Debug, Serialize)]
pub struct ProfileView {
    /// Its e-mail address.
    pub email: Option<String>,
    /// Its display name.
    pub name: Option<String>,
    /// Its picture URL.
    pub picture: Option<String>,
    /// When the user signed in.
    pub signed_in_at: DateTime<Utc>,
}

fn not_configured() -> Response {
    Problem::new(
        StatusCode::NOT_FOUND,
        "sign-in is not configured (see `[auth.oidc]`)".to_owned(),
    )
    .into_response()
}

/// An auth error as problem+json: whatever a browser or provider sent wrong is a 400,
/// never a 500; outages are 503; our own faults 500 with an opaque message.
fn problem(error: &AuthError) -> Response {
    let status = match error.kind() {
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    if status.is_server_error() {
        tracing::error!(
            error.cause_chain = ?error,
            error.message = %error,
            "sign-in failed"
        );
        let detail = (status == StatusCode::SERVICE_UNAVAILABLE)
            .then(|| "the identity provider or the session store is unavailable".to_owned());
        return Problem::new(status, detail).into_response();
    }
    tracing::warn!(auth.reason = error.reason(), error.message = %error, "sign-in refused");
    Problem::new(status, format!("sign-in failed: {error}")).into_response()
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value)
}

fn set_cookie(response: &mut Response, cookie: &cookie::Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /auth/login`: redirects to the provider, with a short-lived pre-authentication
/// cookie referring to the server-side state, nonce and PKCE verifier.
async fn login(State(state): State<SignInState>, Query(params): Query<LoginParams>) -> Response {
    let Some(signin) = &state.signin else {
        return not_configured();
    };
    match signin.begin(params.return_to.as_deref()).await {
        Ok(start) => {
            let mut response = redirect(&start.redirect_url);
            set_cookie(&mut response, &start.cookie);
            response
        }
        Err(error) => problem(&error),
    }
}

/// `GET /auth/callback`: completes the sign-in, sets a new session cookie (any previous
/// session ends) and redirects to the page the login named.
async fn callback(
    State(state): State<SignInState>,
    headers: HeaderMap,
    Query(params): Query<CallbackParams>,
) -> Response {
    let Some(signin) = &state.signin else {
        return not_configured();
    };
    let result = signin
        .complete(Callback {
            login_id: cookie(&headers, signin.login_cookie_name()),
            previous_session: cookie(&headers, signin.session_cookie_name()),
            code: params.code.as_deref(),
            state: params.state.as_deref(),
            error: params.error.as_deref(),
            iss: params.iss.as_deref(),
        })
        .await;
    let mut response = match result {
        Ok(signed_in) => {
            let mut response = redirect(&signed_in.return_to);
            set_cookie(&mut response, &signed_in.cookie);
            response
        }
        Err(error) => problem(&error),
    };
    // The pre-authentication cookie is spent either way.
    set_cookie(&mut response, &signin.login_cookie_removal());
    response
}

/// `POST /auth/logout`: ends the session and revokes the provider's tokens.
async fn logout(State(state): State<SignInState>, headers: HeaderMap) -> Response {
    let Some(signin) = &state.signin else {
        return not_configured();
    };
    if let Some(session_id) = cookie(&headers, signin.session_cookie_name())
        && let Err(error) = signin.logout(session_id).await
    {
        return problem(&error);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut response, &signin.session_cookie_removal());
    response
}

/// `GET /v1/me`: the principal of the request (session cookie or bearer token) and its
/// user.
async fn me(State(state): State<SignInState>, principal: Option<Extension<Principal>>) -> Response {
    let Some(Extension(principal)) = principal else {
        let mut response = Problem::new(
            StatusCode::UNAUTHORIZED,
            "sign in (`/auth/login`) or send a bearer token".to_owned(),
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"seam\""),
        );
        return response;
    };
    let user = match principal.user_id {
        Some(id) => match state.users.get(id).await {
            Ok(user) => Some(UserView::from(&user)),
            Err(seam_repository::Error::NotFound { .. }) => None,
            Err(error) => {
                tracing::error!(error.cause_chain = ?error, error.message = %error, "cannot read the user");
                return Problem::new(StatusCode::SERVICE_UNAVAILABLE, None).into_response();
            }
        },
        None => None,
    };
    let mut profile = None;
    if let (Some(signin), Some(session_id)) = (&state.signin, &principal.session_id) {
        match signin.session(session_id).await {
            Ok(Some(session)) => {
                profile = Some(ProfileView {
                    email: session.email,
                    name: session.name,
                    picture: session.picture,
                    signed_in_at: session.created_at,
                });
            }
            Ok(None) => {}
            Err(error) => return problem(&error),
        }
    }
    let view = MeView {
        via: if principal.session_id.is_some() {
            "session"
        } else {
            "token"
        },
        subject: principal.subject,
        issuer: principal.issuer,
        roles: principal.roles.into_iter().collect(),
        scopes: principal.scopes.into_iter().collect(),
        expires_at: principal.expires_at,
        user,
        profile,
    };
    let mut response = Json(view).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
