//! Sign-in: `[auth.oidc]` -> an [`OidcSignIn`] over the configured cache (sessions),
//! the users and the identities table of the database.

use std::sync::Arc;

use seam_auth_oauth2::{
    ClaimNames, OidcConfig, OidcSignIn, ProviderMetadata, SessionConfig, SignInDeps, TokenKeyConfig,
};
use seam_cache::{DynCache, InMemoryCache};
use seam_config::{CacheBackend, Settings};
use seam_core::{ExposeSecret, SystemClock};
use seam_repository::{DynIdentityRepository, DynUserRepository};
use seam_repository_sql::SqlRepositories;
use seam_sql::Database;

use crate::StartupError;

pub use seam_config::{OidcClaimNames, OidcEndpoints, OidcSettings, OidcTokenKey};

/// How many sessions and pending sign-ins the in-process store holds at most.
const MEMORY_SESSIONS_MAX: usize = 100_000;

fn oidc_error(what: &'static str, error: impl std::fmt::Display) -> StartupError {
    StartupError::Adapter {
        what,
        message: error.to_string(),
    }
}

/// The sign-in `auth.oidc` configures, or `None` when sign-in is off. Discovers the
/// provider's endpoints (unless configured), so the provider must answer at start-up.
///
/// # Errors
///
/// [`StartupError::Adapter`] naming what is wrong: the settings, the cache
/// (`cache.backend = "none"` cannot hold sessions), or a provider that does not answer
/// discovery.
pub async fn sign_in(
    settings: &Settings,
    database: &Database,
    users: Arc<DynUserRepository>,
) -> Result<Option<Arc<OidcSignIn>>, StartupError> {
    let Some(oidc) = &settings.auth.oidc else {
        return Ok(None);
    };
    let identities: Arc<DynIdentityRepository> = match SqlRepositories::new(database)
        .map_err(|error| oidc_error("auth.oidc (identities)", error))?
    {
        SqlRepositories::Postgres(repositories) => Arc::new(repositories),
        SqlRepositories::Sqlite(repositories) => Arc::new(repositories),
    };
    let deps = SignInDeps {
        cache: session_cache(settings)?,
        users,
        identities,
        clock: SystemClock::shared(),
    };
    let signin = OidcSignIn::build(oidc_config(settings, oidc), deps)
        .await
        .map_err(|error| oidc_error("auth.oidc", error))?;
    Ok(Some(Arc::new(signin)))
}

/// The adapter's configuration from the settings; the session cookie is
/// `auth.session_cookie`, the one the authentication middleware reads.
pub fn oidc_config(settings: &Settings, oidc: &OidcSettings) -> OidcConfig {
    OidcConfig {
        issuer: oidc.issuer.clone(),
        endpoints: oidc.endpoints.as_ref().map(|e| ProviderMetadata {
            issuer: oidc.issuer.clone(),
            authorization_endpoint: e.authorization_endpoint.clone(),
            token_endpoint: e.token_endpoint.clone(),
            jwks_uri: e.jwks_uri.clone(),
            revocation_endpoint: e.revocation_endpoint.clone(),
            userinfo_endpoint: e.userinfo_endpoint.clone(),
        }),
        client_id: oidc.client_id.clone(),
        client_secret: oidc.client_secret.clone(),
        redirect_url: oidc.redirect_url.clone(),
        scopes: oidc.scopes.clone(),
        extra_auth_params: oidc.extra_auth_params.clone(),
        claims: ClaimNames {
            subject: oidc.claims.subject.clone(),
            email: oidc.claims.email.clone(),
            email_verified: oidc.claims.email_verified.clone(),
            name: oidc.claims.name.clone(),
            picture: oidc.claims.picture.clone(),
        },
        token_keys: oidc
            .token_keys
            .iter()
            .map(|key| TokenKeyConfig {
                id: key.id.clone(),
                key: key.key.clone(),
            })
            .collect(),
        active_token_key: oidc.active_token_key.clone(),
        session: SessionConfig {
            idle_timeout: oidc.idle_timeout,
            absolute_timeout: oidc.absolute_timeout,
            login_timeout: oidc.login_timeout,
            cookie_name: settings.auth.session_cookie.clone(),
            login_cookie_name: oidc.login_cookie.clone(),
            cookie_secure: oidc.cookie_secure,
            key_prefix: oidc.key_prefix.clone(),
        },
        refresh_skew: oidc.refresh_skew,
        leeway: oidc.leeway,
        http_timeout: oidc.http_timeout,
        jwks_min_refresh: oidc.jwks_min_refresh,
        post_login_redirect: oidc.post_login_redirect.clone(),
    }
}

/// Where sessions live: the configured cache, unwrapped (a session store that is down
/// must fail the request, not pretend the user signed out).
fn session_cache(settings: &Settings) -> Result<Arc<DynCache>, StartupError> {
    let cache = &settings.cache;
    Ok(match cache.backend {
        CacheBackend::None => {
            return Err(oidc_error(
                "auth.oidc",
                "sessions need `cache.backend` = \"memory\" (one process) or \"redis\"",
            ));
        }
        // Bounded, so that a flood of `/auth/login` requests (each stores a pending
        // sign-in) cannot exhaust memory; past the bound the least recently used entry
        // goes.
        CacheBackend::Memory => Arc::new(InMemoryCache::bounded(
            SystemClock::shared(),
            MEMORY_SESSIONS_MAX,
        )),
        CacheBackend::Redis => Arc::new(
            seam_cache_redis::RedisCacheConfig::new(
                cache.redis_url.expose_secret().clone(),
                cache.key_prefix.clone(),
            )
            .build()
            .map_err(|error| oidc_error("auth.oidc (redis sessions)", error))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_map_onto_the_adapter_config() {
        let mut settings = Settings::default();
        settings.auth.session_cookie = "shop_session".to_owned();
        let oidc = OidcSettings {
            issuer: "https://accounts.google.com".to_owned(),
            client_id: "client".to_owned(),
            redirect_url: "https://shop.example.com/auth/callback".to_owned(),
            token_keys: vec![OidcTokenKey {
                id: "k1".to_owned(),
                key: "AAAA".to_owned().into(),
            }],
            active_token_key: "k1".to_owned(),
            endpoints: Some(OidcEndpoints {
                authorization_endpoint: "https://idp.example.com/a".to_owned(),
                token_endpoint: "https://idp.example.com/t".to_owned(),
                jwks_uri: "https://idp.example.com/k".to_owned(),
                revocation_endpoint: None,
                userinfo_endpoint: None,
            }),
            ..OidcSettings::default()
        };
        let config = oidc_config(&settings, &oidc);
        // The middleware and the sign-in agree on the session cookie.
        assert_eq!(config.session.cookie_name, "shop_session");
        assert_eq!(config.session.login_cookie_name, "seam_login");
        assert!(config.session.cookie_secure);
        let endpoints = config.endpoints.expect("endpoints");
        assert_eq!(endpoints.issuer, "https://accounts.google.com");
        assert_eq!(endpoints.token_endpoint, "https://idp.example.com/t");
        assert_eq!(config.token_keys[0].id, "k1");
    }

    #[test]
    fn sessions_need_a_cache() {
        let mut settings = Settings::default();
        settings.cache.backend = CacheBackend::None;
        let error = session_cache(&settings).unwrap_err().to_string();
        assert!(error.contains("cache.backend"), "{error}");
    }
}
