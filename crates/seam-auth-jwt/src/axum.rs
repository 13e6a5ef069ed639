//! The axum integration (feature `axum`): a middleware that authenticates requests
//! into a [`Principal`], an extractor for handlers, and role/scope guards.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use seam_auth::Principal;
//! use seam_auth_jwt::axum::{Authenticated, Authenticator, Requirement, RequireLayer};
//! use seam_auth_jwt::{JwtValidator, TrustedIssuer, ValidatorConfig};
//!
//! fn validator() -> Arc<seam_auth::DynTokenValidator> {
//!     let config = ValidatorConfig {
//!         issuers: vec![TrustedIssuer::jwks("https://idp.example.com", "https://idp.example.com/jwks", "seam")],
//!         ..ValidatorConfig::default()
//!     };
//!     Arc::new(JwtValidator::new(&config).expect("valid configuration"))
//! }
//!
//! async fn me(Authenticated(principal): Authenticated) -> String {
//!     principal.subject
//! }
//!
//! let auth = Authenticator::new(validator()).protect(["/v1"]);
//! let app: Router = Router::new()
//!     .route("/v1/me", get(me))
//!     .route("/v1/admin", get(|| async { "ok" }).layer(RequireLayer::new(Requirement::role("admin"))))
//!     .layer(axum::middleware::from_fn_with_state(auth, seam_auth_jwt::axum::authenticate));
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use seam_auth::{DynSessionResolver, DynTokenValidator, Error, Principal};
use seam_core::{Classify, ErrorKind};

/// Authenticates requests: a bearer token first, else the session cookie.
///
/// Paths under a protected prefix (see [`protect`](Self::protect)) are refused with
/// a problem+json 401 (`WWW-Authenticate: Bearer ...`) when no valid credential comes
/// with them; elsewhere a valid credential is still turned into a [`Principal`]
/// (so handlers can use [`Authenticated`]) and an invalid one is ignored.
#[derive(Clone, Debug)]
pub struct Authenticator {
    validator: Arc<DynTokenValidator>,
    sessions: Option<(Arc<DynSessionResolver>, String)>,
    protected: Arc<[String]>,
    realm: Arc<str>,
}

impl Authenticator {
    /// Bearer tokens checked by `validator`; nothing protected yet.
    pub fn new(validator: Arc<DynTokenValidator>) -> Self {
        Self {
            validator,
            sessions: None,
            protected: Arc::from(Vec::new()),
            realm: Arc::from("seam"),
        }
    }

    /// Also accepts the session cookie `cookie_name`, resolved by `sessions`.
    #[must_use]
    pub fn with_sessions(
        mut self,
        sessions: Arc<DynSessionResolver>,
        cookie_name: impl Into<String>,
    ) -> Self {
        self.sessions = Some((sessions, cookie_name.into()));
        self
    }

    /// Requires a valid credential on every path equal to or under one of
    /// `prefixes` (`"/v1/orders"` covers `/v1/orders` and `/v1/orders/42`, not
    /// `/v1/orders-archive`).
    #[must_use]
    pub fn protect<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut all: Vec<String> = self.protected.to_vec();
        all.extend(
            prefixes
                .into_iter()
                .map(|p| p.into().trim_end_matches('/').to_owned()),
        );
        self.protected = Arc::from(all);
        self
    }

    /// Whether `path` needs a valid credential.
    pub fn is_protected(&self, path: &str) -> bool {
        self.protected.iter().any(|prefix| {
            prefix.is_empty()
                || path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// The principal the headers prove.
    ///
    /// # Errors
    ///
    /// [`Error::MissingCredentials`] when there is neither a bearer token nor a
    /// session cookie; [`Error::Malformed`] for an `Authorization` header that is not
    /// `Bearer <token>`; the validator's errors; [`Error::SessionExpired`] for a
    /// session that is unknown or ended.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Error> {
        if let Some(value) = headers.get(AUTHORIZATION) {
            let token = bearer(value)?;
            return self.validator.validate(token).await;
        }
        if let Some((sessions, cookie)) = &self.sessions
            && let Some(session_id) = cookie_value(headers, cookie)
        {
            return sessions
                .resolve(session_id)
                .await?
                .ok_or(Error::SessionExpired);
        }
        Err(Error::MissingCredentials)
    }
}

fn bearer(value: &HeaderValue) -> Result<&str, Error> {
    let value = value
        .to_str()
        .map_err(|_| Error::malformed("the Authorization header is not ASCII"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| Error::malformed("the Authorization header is not `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::malformed("the Authorization scheme is not Bearer"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::MissingCredentials);
    }
    Ok(token)
}

fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.trim_matches('"'))
}

/// The middleware: use with `axum::middleware::from_fn_with_state(authenticator, authenticate)`.
///
/// On success the [`Principal`] is put in the request's extensions.
pub async fn authenticate(
    State(auth): State<Authenticator>,
    mut request: Request,
    next: Next,
) -> Response {
    let protected = auth.is_protected(request.uri().path());
    match auth.authenticate(request.headers()).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
        }
        Err(error) if protected => return error_response(&error, &auth.realm),
        Err(error) => {
            tracing::debug!(
                auth.reason = error.reason(),
                "credentials ignored on an unprotected path"
            );
        }
    }
    next.run(request).await
}

/// A problem+json response for an auth error: 401 with `WWW-Authenticate`, 403
/// with `error="insufficient_scope"`, 503 when the provider or a store is down.
pub fn error_response(error: &Error, realm: &str) -> Response {
    let (status, challenge, detail) = match error.kind() {
        ErrorKind::Forbidden => (
            StatusCode::FORBIDDEN,
            Some(format!(
                "Bearer realm=\"{realm}\", error=\"insufficient_scope\""
            )),
            error.to_string(),
        ),
        ErrorKind::Unauthorized if matches!(error, Error::MissingCredentials) => (
            StatusCode::UNAUTHORIZED,
            Some(format!("Bearer realm=\"{realm}\"")),
            error.to_string(),
        ),
        ErrorKind::Unauthorized | ErrorKind::Invalid => (
            StatusCode::UNAUTHORIZED,
            Some(format!(
                "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
                error.reason()
            )),
            error.to_string(),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "authentication is temporarily unavailable".to_owned(),
        ),
    };
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = (
        status,
        [(CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

/// The authenticated caller, for handlers: 401 when the middleware found none.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Self)
            .ok_or_else(|| error_response(&Error::MissingCredentials, "seam"))
    }
}

/// `Option<Authenticated>`: the caller when one was authenticated, `None` otherwise.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned().map(Self))
    }
}

/// What a route demands of its caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    /// At least one of these roles (none: no role needed).
    pub any_role: Vec<String>,
    /// All of these scopes.
    pub all_scopes: Vec<String>,
}

impl Requirement {
    /// The role `role`.
    pub fn role(role: impl Into<String>) -> Self {
        Self {
            any_role: vec![role.into()],
            all_scopes: Vec::new(),
        }
    }

    /// The scope `scope`.
    pub fn scope(scope: impl Into<String>) -> Self {
        Self {
            any_role: Vec::new(),
            all_scopes: vec![scope.into()],
        }
    }

    /// Checks `principal`.
    ///
    /// # Errors
    ///
    /// [`Error::MissingCredentials`] without a principal, [`Error::Forbidden`] naming
    /// what is missing.
    pub fn check(&self, principal: Option<&Principal>) -> Result<(), Error> {
        let principal = principal.ok_or(Error::MissingCredentials)?;
        if !self.any_role.is_empty() && !self.any_role.iter().any(|r| principal.has_role(r)) {
            return Err(Error::forbidden(format!(
                "one of the roles {:?} is required",
                self.any_role
            )));
        }
        if let Some(missing) = self.all_scopes.iter().find(|s| !principal.has_scope(s)) {
            return Err(Error::forbidden(format!(
                "the scope {missing:?} is required"
            )));
        }
        Ok(())
    }
}

/// A guard layer: 401 without a principal, 403 when it lacks the [`Requirement`].
/// Put it inside (after) the [`authenticate`] middleware.
#[derive(Debug, Clone)]
pub struct RequireLayer {
    requirement: Arc<Requirement>,
}

impl RequireLayer {
    /// A guard for `requirement`.
    pub fn new(requirement: Requirement) -> Self {
        Self {
            requirement: Arc::new(requirement),
        }
    }
}

impl<S> tower::Layer<S> for RequireLayer {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService {
            inner,
            requirement: self.requirement.clone(),
        }
    }
}

/// The service of a [`RequireLayer`].
#[derive(Debug, Clone)]
pub struct RequireService<S> {
    inner: S,
    requirement: Arc<Requirement>,
}

impl<S, B> tower::Service<http::Request<B>> for RequireService<S>
where
    S: tower::Service<http::Request<B>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match self
            .requirement
            .check(request.extensions().get::<Principal>())
        {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(error) => {
                if let Some(principal) = request.extensions().get::<Principal>() {
                    tracing::warn!(
                        auth.reason = error.reason(),
                        auth.subject = %principal.subject,
                        auth.issuer = %principal.issuer,
                        error.message = %error,
                        "request forbidden"
                    );
                }
                Box::pin(std::future::ready(Ok(error_response(&error, "seam"))))
            }
        }
    }
}
