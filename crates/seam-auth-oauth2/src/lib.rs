//! OpenID Connect sign-in over the `oauth2` crate, with encrypted tokens and
//! server-side sessions.
//!
//! [`OidcSignIn`] runs the authorization-code flow against any compliant provider
//! (Google is the documented example, see [`OidcConfig`]):
//!
//! 1. [`begin`](OidcSignIn::begin) makes a fresh `state`, `nonce` and PKCE (S256)
//!    verifier, keeps them server-side under a random sign-in id (the short-lived
//!    pre-authentication cookie) and gives the provider URL to redirect to;
//! 2. [`complete`](OidcSignIn::complete) takes the callback: the pending sign-in is
//!    consumed (single use), `state` compared, the code exchanged with the verifier,
//!    the ID token validated (signature with the provider's JWKS, `iss`, `aud`/`azp`,
//!    `exp` on the injected clock, `nonce`), the profile mapped to a user (an existing
//!    link, else a *verified* e-mail address, else a new user), and a new session made
//!    under a new random id — any session the browser had before is ended (no
//!    fixation);
//! 3. [`session`](OidcSignIn::session) (and the [`SessionResolver`] impl) checks the
//!    idle and absolute timeouts, refreshes the provider's access token `refresh_skew`
//!    before it expires, and ends the session when the refresh is refused with
//!    `invalid_grant`;
//! 4. [`logout`](OidcSignIn::logout) deletes the session and revokes the provider's
//!    tokens at its RFC 7009 endpoint when it has one.
//!
//! Tokens at rest are AES-256-GCM ciphertexts `kid:nonce:ct` under rotating keys
//! ([`TokenCipher`]), bound to their session and field. No token, code, verifier or
//! session id is ever logged or shown by `Debug`. Every provider and store call is
//! counted as `seam_port_calls_total{port="auth",adapter="oidc",op}`.

mod client;
mod config;
mod crypto;
mod error;
mod id_token;
mod profile;
mod provider;
mod session;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cookie::{Cookie, SameSite};
use seam_auth::{Error, Principal, Result, SessionResolver};
use seam_cache::DynCache;
use seam_core::{ExposeSecret, SecretString, SharedClock};
use seam_domain::User;
use seam_repository::{DynIdentityRepository, DynUserRepository};
use seam_telemetry::PortMetrics;
use subtle::ConstantTimeEq;
use tokio::sync::{Mutex, OnceCell};

pub use config::{ClaimNames, OidcConfig, SessionConfig};
pub use crypto::{TokenCipher, TokenKeyConfig};
pub use profile::Profile;
pub use provider::ProviderMetadata;
pub use session::Session;

use crate::client::{IssuedTokens, OidcClient, TokenHint};
use crate::error::config_error;
use crate::id_token::IdTokenVerifier;
use crate::profile::ProfileMapper;
use crate::provider::JwksCache;
use crate::session::{Field, PendingLogin, SessionStore, StoredSession, random_id};

const METRICS: PortMetrics = PortMetrics::new("auth", "oidc");

/// How many locks serialise token refreshes (per session, by hash): two requests of
/// one session must not both spend a rotating refresh token.
const REFRESH_LOCKS: usize = 64;

/// What an [`OidcSignIn`] works with.
#[derive(Debug, Clone)]
pub struct SignInDeps {
    /// Where sessions and pending sign-ins live (Redis in production, memory by default).
    pub cache: Arc<DynCache>,
    /// The users external accounts sign in as.
    pub users: Arc<DynUserRepository>,
    /// The links from external accounts to users.
    pub identities: Arc<DynIdentityRepository>,
    /// The clock of timeouts and token lifetimes.
    pub clock: SharedClock,
}

/// A started sign-in: send the browser to [`redirect_url`](Self::redirect_url) and set
/// [`cookie`](Self::cookie).
pub struct LoginStart {
    /// The provider's authorization URL, with `state`, `nonce` and the PKCE challenge.
    pub redirect_url: String,
    /// The pre-authentication cookie (`HttpOnly`, `SameSite=Lax`, short-lived),
    /// carrying the id of the server-side pending sign-in.
    pub cookie: Cookie<'static>,
}

impl fmt::Debug for LoginStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginStart").finish_non_exhaustive()
    }
}

/// The parameters of the provider's redirect to the callback, and the browser's
/// cookies.
#[derive(Default)]
pub struct Callback<'a> {
    /// The pre-authentication cookie's value.
    pub login_id: Option<&'a str>,
    /// The session cookie's value, if the browser had a session (it is ended).
    pub previous_session: Option<&'a str>,
    /// `code`.
    pub code: Option<&'a str>,
    /// `state`.
    pub state: Option<&'a str>,
    /// `error`, when the provider refused (`access_denied`, ...).
    pub error: Option<&'a str>,
    /// `iss` (RFC 9207), when the provider sends it: it must be the provider this
    /// sign-in started with (defence against mix-up attacks).
    pub iss: Option<&'a str>,
}

impl fmt::Debug for Callback<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// A completed sign-in.
pub struct SignedIn {
    /// The new session's id (the session cookie's value). Secret.
    pub session_id: SecretString,
    /// The session cookie to set.
    pub cookie: Cookie<'static>,
    /// The session.
    pub session: Session,
    /// The user signed in as.
    pub user: User,
    /// Where to send the browser: the page the login named, or the configured default.
    pub return_to: String,
}

impl fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedIn")
            .field("session", &self.session)
            .field("user", &self.user)
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

/// What a logout did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogoutOutcome {
    /// Whether a live session was ended.
    pub ended: bool,
    /// Whether the provider confirmed revoking its tokens (false without a revocation
    /// endpoint, or when it could not be reached — the local session ends anyway).
    pub revoked: bool,
}

/// OpenID Connect sign-in and sessions (see the crate documentation).
#[derive(Clone)]
pub struct OidcSignIn {
    inner: Arc<Inner>,
}

struct Inner {
    config: OidcConfig,
    /// The provider's endpoints, client and key cache: set by `build` when discovery
    /// answers, else on first use (a provider that is down at start-up must not keep
    /// the service from starting).
    provider: OnceCell<Provider>,
    http: oauth2::reqwest::Client,
    clock: SharedClock,
    store: SessionStore,
    mapper: ProfileMapper,
    refresh_locks: Vec<Mutex<()>>,
}

/// What discovery gives: the endpoints, the OAuth2 client, the ID token verifier.
struct Provider {
    metadata: ProviderMetadata,
    client: OidcClient,
    verifier: IdTokenVerifier,
}

impl fmt::Debug for OidcSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSignIn")
            .field("issuer", &self.inner.config.issuer)
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

impl OidcSignIn {
    /// Validates `config`, discovers the provider's endpoints (unless configured) and
    /// builds the sign-in.
    ///
    /// A provider that cannot be reached is not fatal: a warning is logged and discovery
    /// is tried again on the next sign-in (which answers `ProviderUnavailable` until it
    /// succeeds); sessions keep working meanwhile.
    ///
    /// # Errors
    ///
    /// `Error::Invalid` naming the setting that is wrong (bad URL, no or bad token key,
    /// zero timeouts, discovery naming another issuer).
    pub async fn build(config: OidcConfig, deps: SignInDeps) -> Result<Self> {
        let cipher = TokenCipher::new(&config.token_keys, &config.active_token_key)?;
        validate(&config)?;
        provider::check_url("issuer", &config.issuer)?;
        provider::check_url("redirect_url", &config.redirect_url)?;
        let http = provider::http_client(config.http_timeout)?;
        let store = SessionStore::new(
            deps.cache,
            cipher,
            deps.clock.clone(),
            config.session.clone(),
        );
        let signin = Self {
            inner: Arc::new(Inner {
                mapper: ProfileMapper {
                    users: deps.users,
                    identities: deps.identities,
                },
                config,
                provider: OnceCell::new(),
                http,
                clock: deps.clock,
                store,
                refresh_locks: (0..REFRESH_LOCKS).map(|_| Mutex::new(())).collect(),
            }),
        };
        match signin.provider().await {
            Ok(provider) => tracing::info!(
                oidc.issuer = %provider.metadata.issuer,
                oidc.revocation = provider.client.has_revocation(),
                "OpenID Connect sign-in ready"
            ),
            Err(error @ Error::ProviderUnavailable { .. }) => tracing::warn!(
                error.message = %error,
                "the identity provider does not answer discovery; retrying at the first sign-in"
            ),
            Err(other) => return Err(other),
        }
        Ok(signin)
    }

    /// The provider, discovered now if it was not yet.
    async fn provider(&self) -> Result<&Provider> {
        self.inner
            .provider
            .get_or_try_init(|| async {
                let config = &self.inner.config;
                let metadata = match &config.endpoints {
                    Some(endpoints) => {
                        endpoints.validate()?;
                        if endpoints.issuer.trim_end_matches('/')
                            != config.issuer.trim_end_matches('/')
                        {
                            return Err(config_error(
                                "endpoints.issuer",
                                "must be the configured issuer",
                            ));
                        }
                        endpoints.clone()
                    }
                    None => provider::discover(&self.inner.http, &config.issuer).await?,
                };
                let client = OidcClient::new(config, &metadata, self.inner.http.clone())?;
                let jwks = JwksCache::new(
                    self.inner.http.clone(),
                    metadata.issuer.clone(),
                    metadata.jwks_uri.clone(),
                    self.inner.clock.clone(),
                    config.jwks_min_refresh,
                );
                let verifier = IdTokenVerifier {
                    issuer: metadata.issuer.clone(),
                    client_id: config.client_id.clone(),
                    jwks,
                    leeway: config.leeway,
                    clock: self.inner.clock.clone(),
                };
                Ok(Provider {
                    metadata,
                    client,
                    verifier,
                })
            })
            .await
    }

    /// The provider's endpoints in use, once discovered (`None` while the provider has
    /// not answered discovery yet).
    pub fn metadata(&self) -> Option<&ProviderMetadata> {
        self.inner.provider.get().map(|provider| &provider.metadata)
    }

    /// The configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.inner.config
    }

    /// Starts a sign-in. `return_to` is where to go afterwards: only a local path
    /// (`/orders?page=2`) is kept, anything else (an absolute or protocol-relative URL)
    /// is replaced by the configured default, so the login cannot be used as an open
    /// redirect.
    ///
    /// # Errors
    ///
    /// `Error::StoreUnavailable` when the pending sign-in cannot be stored.
    pub async fn begin(&self, return_to: Option<&str>) -> Result<LoginStart> {
        METRICS
            .call("begin", async {
                let request = self.provider().await?.client.authorization_request();
                let login_id = random_id();
                let store = &self.inner.store;
                let pending = PendingLogin {
                    state: store.seal_login(
                        &login_id,
                        Field::State,
                        request.state.expose_secret(),
                    )?,
                    nonce: store.seal_login(
                        &login_id,
                        Field::Nonce,
                        request.nonce.expose_secret(),
                    )?,
                    pkce_verifier: store.seal_login(
                        &login_id,
                        Field::Verifier,
                        request.pkce_verifier.expose_secret(),
                    )?,
                    return_to: return_to.and_then(local_path).map(str::to_owned),
                };
                store.put_login(&login_id, &pending).await?;
                Ok(LoginStart {
                    redirect_url: request.url,
                    cookie: self.login_cookie(login_id),
                })
            })
            .await
    }

    /// Completes a sign-in from the provider's redirect (see the crate documentation).
    ///
    /// # Errors
    ///
    /// - `Error::Invalid` when the provider reported an error (`access_denied`) or the
    ///   code is missing;
    /// - `Error::StateMismatch` when there is no pending sign-in for the cookie (none,
    ///   expired, already used) or `state` differs;
    /// - `Error::InvalidGrant` when the provider refuses the code;
    /// - the ID token's errors (`InvalidSignature`, `WrongIssuer`, `WrongAudience`,
    ///   `Expired`, `NonceMismatch`, `UnknownKey`, ...);
    /// - `Error::Forbidden` when the e-mail address is not verified and the account is
    ///   not linked yet; `Error::MissingClaim` without subject or e-mail;
    /// - `Error::ProviderUnavailable` / `Error::StoreUnavailable` on outages.
    pub async fn complete(&self, callback: Callback<'_>) -> Result<SignedIn> {
        METRICS
            .call("complete", self.complete_inner(callback))
            .await
    }

    async fn complete_inner(&self, callback: Callback<'_>) -> Result<SignedIn> {
        let store = &self.inner.store;
        let login_id = callback.login_id.unwrap_or_default();
        // The pending sign-in is consumed whatever happens next: a code or state is
        // good for one attempt.
        let pending = store.take_login(login_id).await?;
        if let Some(error) = callback.error {
            let error: String = error
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect();
            return Err(Error::invalid(format!(
                "the identity provider refused the sign-in: {error}"
            )));
        }
        let Some(pending) = pending else {
            return Err(Error::StateMismatch);
        };
        let state = store.open_login(login_id, Field::State, &pending.state)?;
        let given = callback.state.unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(state.expose_secret().as_bytes())) {
            return Err(Error::StateMismatch);
        }
        let provider = self.provider().await?;
        if let Some(iss) = callback.iss
            && iss.trim_end_matches('/') != provider.metadata.issuer.trim_end_matches('/')
        {
            return Err(Error::wrong_issuer(iss));
        }
        let code = callback
            .code
            .filter(|code| !code.is_empty() && code.len() <= 2048)
            .ok_or_else(|| Error::invalid("the callback has no authorization code"))?;
        let verifier = store.open_login(login_id, Field::Verifier, &pending.pkce_verifier)?;
        let nonce = store.open_login(login_id, Field::Nonce, &pending.nonce)?;

        let tokens = provider.client.exchange_code(code, &verifier).await?;
        let id_token = tokens
            .id_token
            .as_ref()
            .ok_or_else(|| Error::malformed("the token response has no id_token"))?;
        let claims = provider
            .verifier
            .verify(id_token.expose_secret(), Some(nonce.expose_secret()))
            .await?;
        let profile = Profile::from_claims(&claims, &self.inner.config.claims)?;
        let user = self
            .inner
            .mapper
            .user_for(&provider.metadata.issuer, &profile)
            .await?;

        // Fixation: whatever session the browser had ends; the signed-in one is new.
        if let Some(previous) = callback.previous_session {
            store.delete(previous).await?;
        }
        let session_id = random_id();
        let now = store.now();
        let absolute = chrono::Duration::from_std(store.config().absolute_timeout)
            .map_err(|_| config_error("session.absolute_timeout", "is too long"))?;
        let session = Session {
            user_id: user.id,
            subject: profile.subject.clone(),
            issuer: provider.metadata.issuer.clone(),
            email: profile.email.clone(),
            name: profile.name.clone(),
            picture: profile.picture.clone(),
            created_at: now,
            last_seen_at: now,
            absolute_expires_at: now + absolute,
            access_expires_at: expiry(now, tokens.expires_in),
            scopes: tokens.scopes.clone(),
        };
        let stored = StoredSession {
            access_token: store.seal_session(
                &session_id,
                Field::Access,
                tokens.access_token.expose_secret(),
            )?,
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|t| store.seal_session(&session_id, Field::Refresh, t.expose_secret()))
                .transpose()?,
            session: session.clone(),
        };
        store.put(&session_id, &stored).await?;
        tracing::info!(user.id = %user.id, oidc.issuer = %session.issuer, "signed in");
        Ok(SignedIn {
            cookie: self.session_cookie(session_id.clone()),
            session_id: SecretString::from(session_id),
            session,
            user,
            return_to: pending
                .return_to
                .unwrap_or_else(|| self.inner.config.post_login_redirect.clone()),
        })
    }

    /// The live session `session_id`, its idle timeout extended. The provider's access
    /// token is refreshed first when it expires within `refresh_skew`; a refresh refused
    /// with `invalid_grant` ends the session (`Ok(None)`), one that fails otherwise
    /// (provider down) keeps it with the old token.
    ///
    /// # Errors
    ///
    /// `Error::StoreUnavailable` when the store cannot be reached; `Error::Crypto` when
    /// the stored tokens do not decrypt (a key was removed too early, or tampering).
    pub async fn session(&self, session_id: &str) -> Result<Option<Session>> {
        METRICS
            .call("session", async {
                Ok(self.live(session_id).await?.map(|stored| stored.session))
            })
            .await
    }

    /// The provider's access token of a live session (refreshed as by
    /// [`session`](Self::session)), to call the provider's APIs on the user's behalf.
    ///
    /// # Errors
    ///
    /// As [`session`](Self::session).
    pub async fn access_token(&self, session_id: &str) -> Result<Option<SecretString>> {
        METRICS
            .call("access_token", async {
                let Some(stored) = self.live(session_id).await? else {
                    return Ok(None);
                };
                self.inner
                    .store
                    .open_session(session_id, Field::Access, &stored.access_token)
                    .map(Some)
            })
            .await
    }

    /// Refreshes the session's tokens now, whatever their expiry.
    ///
    /// # Errors
    ///
    /// `Error::SessionExpired` for no live session or one without a refresh token;
    /// `Error::InvalidGrant` when the provider refuses (the session is ended);
    /// `Error::ProviderUnavailable` when it cannot be reached (the session is kept).
    pub async fn refresh(&self, session_id: &str) -> Result<Session> {
        METRICS
            .call("refresh", async {
                let _guard = self.refresh_lock(session_id).lock().await;
                let stored = self
                    .inner
                    .store
                    .get(session_id)
                    .await?
                    .ok_or(Error::SessionExpired)?;
                let stored = self.refresh_stored(session_id, stored).await?;
                Ok(stored.session)
            })
            .await
    }

    /// Ends a session and revokes the provider's tokens (RFC 7009) when the provider
    /// has a revocation endpoint. Ending an unknown session is not an error.
    ///
    /// # Errors
    ///
    /// `Error::StoreUnavailable` when the store cannot be reached. A failed revocation
    /// is logged and reported in [`LogoutOutcome::revoked`], not an error: the user is
    /// signed out either way.
    pub async fn logout(&self, session_id: &str) -> Result<LogoutOutcome> {
        METRICS
            .call("logout", async {
                let store = &self.inner.store;
                let stored = store.get(session_id).await?;
                let ended = store.delete(session_id).await?;
                let Some(stored) = stored else {
                    return Ok(LogoutOutcome {
                        ended,
                        revoked: false,
                    });
                };
                let mut revoked = false;
                let client = match self.provider().await {
                    Ok(provider) => Some(&provider.client),
                    Err(error) => {
                        tracing::warn!(
                            error.message = %error,
                            "cannot reach the provider to revoke tokens at logout"
                        );
                        None
                    }
                };
                if let Some(client) = client.filter(|client| client.has_revocation()) {
                    // The refresh token first: revoking it ends the whole grant at most
                    // providers; the access token then for those where it does not.
                    revoked = true;
                    if let Some(sealed) = &stored.refresh_token {
                        let token = store.open_session(session_id, Field::Refresh, sealed)?;
                        revoked &= revoke(client, &token, TokenHint::Refresh).await;
                    }
                    let token =
                        store.open_session(session_id, Field::Access, &stored.access_token)?;
                    revoked &= revoke(client, &token, TokenHint::Access).await;
                }
                tracing::info!(user.id = %stored.session.user_id, revoked, "signed out");
                Ok(LogoutOutcome { ended, revoked })
            })
            .await
    }

    /// The session cookie carrying `session_id`: `HttpOnly`, `SameSite=Lax`, `Path=/`,
    /// `Secure` unless configured off, lasting the absolute timeout.
    pub fn session_cookie(&self, session_id: String) -> Cookie<'static> {
        let config = self.inner.store.config();
        self.cookie(
            config.cookie_name.clone(),
            session_id,
            config.absolute_timeout,
        )
    }

    /// A cookie that removes the session cookie (sent at logout).
    pub fn session_cookie_removal(&self) -> Cookie<'static> {
        let config = self.inner.store.config();
        self.cookie(config.cookie_name.clone(), String::new(), Duration::ZERO)
    }

    /// The pre-authentication cookie, lasting the login timeout.
    fn login_cookie(&self, login_id: String) -> Cookie<'static> {
        let config = self.inner.store.config();
        self.cookie(
            config.login_cookie_name.clone(),
            login_id,
            config.login_timeout,
        )
    }

    /// A cookie that removes the pre-authentication cookie (sent by the callback).
    pub fn login_cookie_removal(&self) -> Cookie<'static> {
        let config = self.inner.store.config();
        self.cookie(
            config.login_cookie_name.clone(),
            String::new(),
            Duration::ZERO,
        )
    }

    /// The session cookie's name.
    pub fn session_cookie_name(&self) -> &str {
        &self.inner.store.config().cookie_name
    }

    /// The pre-authentication cookie's name.
    pub fn login_cookie_name(&self) -> &str {
        &self.inner.store.config().login_cookie_name
    }

    fn cookie(&self, name: String, value: String, max_age: Duration) -> Cookie<'static> {
        let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        Cookie::build((name, value))
            .http_only(true)
            .secure(self.inner.store.config().cookie_secure)
            .same_site(SameSite::Lax)
            .path("/")
            .max_age(cookie::time::Duration::seconds(seconds))
            .build()
    }

    fn refresh_lock(&self, session_id: &str) -> &Mutex<()> {
        let index = session_id.bytes().fold(0usize, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        &self.inner.refresh_locks[index % REFRESH_LOCKS]
    }

    /// The live stored session, refreshed if due, with `last_seen_at` moved to now.
    async fn live(&self, session_id: &str) -> Result<Option<StoredSession>> {
        let store = &self.inner.store;
        let Some(mut stored) = store.get(session_id).await? else {
            return Ok(None);
        };
        if self.refresh_due(&stored) {
            let _guard = self.refresh_lock(session_id).lock().await;
            // Another request of this session may have refreshed while we waited.
            let Some(current) = store.get(session_id).await? else {
                return Ok(None);
            };
            stored = current;
            if self.refresh_due(&stored) {
                match self.refresh_stored(session_id, stored.clone()).await {
                    Ok(refreshed) => stored = refreshed,
                    Err(Error::InvalidGrant { .. }) => return Ok(None),
                    Err(error @ (Error::ProviderUnavailable { .. } | Error::Invalid(_))) => {
                        tracing::warn!(
                            error.message = %error,
                            user.id = %stored.session.user_id,
                            "could not refresh the provider's access token; keeping the session"
                        );
                    }
                    Err(other) => return Err(other),
                }
            }
        }
        stored.session.last_seen_at = store.now();
        store.put(session_id, &stored).await?;
        Ok(Some(stored))
    }

    fn refresh_due(&self, stored: &StoredSession) -> bool {
        let Some(expires) = stored.session.access_expires_at else {
            return false;
        };
        let skew = chrono::Duration::from_std(self.inner.config.refresh_skew)
            .unwrap_or(chrono::Duration::zero());
        stored.refresh_token.is_some() && self.inner.store.now() + skew >= expires
    }

    /// Exchanges the stored refresh token; on `invalid_grant` the session is deleted.
    async fn refresh_stored(
        &self,
        session_id: &str,
        mut stored: StoredSession,
    ) -> Result<StoredSession> {
        let store = &self.inner.store;
        let sealed = stored.refresh_token.as_ref().ok_or(Error::SessionExpired)?;
        let refresh_token = store.open_session(session_id, Field::Refresh, sealed)?;
        let client = &self.provider().await?.client;
        let tokens: IssuedTokens = match client.refresh(&refresh_token).await {
            Ok(tokens) => tokens,
            Err(error @ Error::InvalidGrant { .. }) => {
                store.delete(session_id).await?;
                tracing::info!(
                    user.id = %stored.session.user_id,
                    "the provider refused the refresh token (invalid_grant); session ended"
                );
                return Err(error);
            }
            Err(other) => return Err(other),
        };
        let now = store.now();
        stored.access_token = store.seal_session(
            session_id,
            Field::Access,
            tokens.access_token.expose_secret(),
        )?;
        if let Some(rotated) = &tokens.refresh_token {
            stored.refresh_token =
                Some(store.seal_session(session_id, Field::Refresh, rotated.expose_secret())?);
        }
        stored.session.access_expires_at = expiry(now, tokens.expires_in);
        if !tokens.scopes.is_empty() {
            stored.session.scopes = tokens.scopes;
        }
        store.put(session_id, &stored).await?;
        tracing::debug!(user.id = %stored.session.user_id, "refreshed the provider's access token");
        Ok(stored)
    }
}

#[async_trait]
impl SessionResolver for OidcSignIn {
    async fn resolve(&self, session_id: &str) -> Result<Option<Principal>> {
        let Some(session) = self.session(session_id).await? else {
            return Ok(None);
        };
        let idle = chrono::Duration::from_std(self.inner.config.session.idle_timeout)
            .unwrap_or(chrono::Duration::MAX);
        let expires_at = (session.last_seen_at + idle).min(session.absolute_expires_at);
        Ok(Some(
            Principal::new(session.subject, session.issuer, expires_at)
                .with_user(session.user_id)
                .with_session(session_id),
        ))
    }
}

/// Revokes one token; a failure is logged, never an error (the user is signed out).
async fn revoke(client: &OidcClient, token: &SecretString, hint: TokenHint) -> bool {
    match client.revoke(token, hint).await {
        Ok(done) => done,
        Err(error) => {
            tracing::warn!(
                error.message = %error,
                error.reason = error.reason(),
                "the provider did not revoke a token at logout"
            );
            false
        }
    }
}

fn expiry(now: DateTime<Utc>, expires_in: Option<Duration>) -> Option<DateTime<Utc>> {
    expires_in
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| now + d)
}

/// `path` when it is a local path (`/x`, not `//host` or `/\host`), else `None`.
fn local_path(path: &str) -> Option<&str> {
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 2048
        && !path.chars().any(|c| c.is_control() || c == '\\');
    local.then_some(path)
}

fn validate(config: &OidcConfig) -> Result<()> {
    let session = &config.session;
    for (field, value) in [
        ("session.idle_timeout", session.idle_timeout),
        ("session.absolute_timeout", session.absolute_timeout),
        ("session.login_timeout", session.login_timeout),
        ("http_timeout", config.http_timeout),
    ] {
        if value.is_zero() {
            return Err(config_error(field, "must be longer than zero"));
        }
    }
    if session.absolute_timeout < session.idle_timeout {
        return Err(config_error(
            "session.absolute_timeout",
            "must not be shorter than session.idle_timeout",
        ));
    }
    for (field, name) in [
        ("session.cookie_name", &session.cookie_name),
        ("session.login_cookie_name", &session.login_cookie_name),
    ] {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !token {
            return Err(config_error(
                field,
                format!("{name:?} is not a cookie name"),
            ));
        }
    }
    if session.cookie_name == session.login_cookie_name {
        return Err(config_error(
            "session.login_cookie_name",
            "must differ from session.cookie_name",
        ));
    }
    if local_path(&config.post_login_redirect).is_none() {
        return Err(config_error(
            "post_login_redirect",
            "must be a local path such as \"/\"",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_return_targets() {
        assert_eq!(local_path("/orders?page=2"), Some("/orders?page=2"));
        for bad in [
            "https://evil.test/",
            "//evil.test",
            "/\\evil.test",
            "orders",
            "/a\nb",
        ] {
            assert_eq!(local_path(bad), None, "{bad}");
        }
    }
}
