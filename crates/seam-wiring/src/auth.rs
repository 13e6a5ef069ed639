//! `[auth]` -> Seam's token issuer, the JWT validator, the deny-list and the refresh
//! tokens: the identity components the API and the `seam token` command share.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use seam_auth::{DynRevocationList, InMemoryRevocationList};
use seam_auth_jwt::{
    Algorithm, CacheRefreshStore, CacheRevocationList, ClaimsMapping, InMemoryRefreshStore,
    IssuerConfig, JwksCacheConfig, JwtValidator, KeySource, RefreshStore, RefreshTokens,
    SigningKeyConfig, TokenIssuer, TrustedIssuer, ValidatorConfig, load_or_generate_dev_key,
};
use seam_cache::{DynCache, InMemoryCache};
use seam_config::{AuthStore, CacheBackend, Settings};
use seam_core::{ExposeSecret, SecretString, SharedClock, SystemClock};

use crate::StartupError;

/// The key id of the development key.
pub const DEV_KID: &str = "dev";

/// Where the development signing key lives: `<data_dir>/keys/dev-signing.pem`.
pub fn dev_key_path(settings: &Settings) -> PathBuf {
    settings.data_dir.join("keys").join("dev-signing.pem")
}

fn auth_error(what: &'static str, error: impl std::fmt::Display) -> StartupError {
    StartupError::Adapter {
        what,
        message: error.to_string(),
    }
}

/// Seam's token issuer from `[auth.issuer]`: the configured keys, or without any the
/// development key (generated once under the data folder when `dev_key = true`).
///
/// # Errors
///
/// [`StartupError::Adapter`] naming the key that cannot be read or used.
pub fn token_issuer(settings: &Settings, clock: SharedClock) -> Result<TokenIssuer, StartupError> {
    let issuer = &settings.auth.issuer;
    let mut keys = Vec::new();
    for key in &issuer.keys {
        let algorithm = Algorithm::from_str(&key.algorithm).map_err(|_| {
            auth_error(
                "auth.issuer.keys",
                format!("key {:?}: unknown algorithm {:?}", key.kid, key.algorithm),
            )
        })?;
        let pem = match (&key.private_key_pem, &key.private_key_file) {
            (Some(pem), _) if !pem.expose_secret().trim().is_empty() => pem.clone(),
            (_, Some(path)) => std::fs::read_to_string(path)
                .map(SecretString::from)
                .map_err(|error| {
                    auth_error(
                        "auth.issuer.keys",
                        format!("key {:?}: cannot read {}: {error}", key.kid, path.display()),
                    )
                })?,
            _ => {
                return Err(auth_error(
                    "auth.issuer.keys",
                    format!("key {:?} has no private key", key.kid),
                ));
            }
        };
        keys.push(SigningKeyConfig {
            kid: key.kid.clone(),
            algorithm,
            private_key_pem: pem,
        });
    }
    if keys.is_empty() && issuer.dev_key {
        let path = dev_key_path(settings);
        let pem = load_or_generate_dev_key(&path)
            .map_err(|error| auth_error("auth.issuer.dev_key", error))?;
        keys.push(SigningKeyConfig {
            kid: DEV_KID.to_owned(),
            algorithm: Algorithm::EdDSA,
            private_key_pem: pem,
        });
    }
    let config = IssuerConfig {
        issuer: issuer.issuer.clone(),
        audiences: issuer.audiences.clone(),
        access_ttl: issuer.access_ttl,
        max_access_ttl: issuer.max_access_ttl,
        keys,
        active_kid: issuer.active_kid.clone(),
    };
    TokenIssuer::with_clock(&config, clock).map_err(|error| auth_error("auth.issuer", error))
}

/// The identity components of a service.
#[derive(Debug, Clone)]
pub struct AuthComponents {
    /// Seam's token issuer.
    pub issuer: Arc<TokenIssuer>,
    /// Validates Seam's tokens and those of the trusted issuers, checking the deny-list.
    pub validator: Arc<JwtValidator>,
    /// The `jti` deny-list.
    pub revocations: Arc<DynRevocationList>,
    /// Token pairs with rotating refresh tokens.
    pub refresh: Arc<RefreshTokens>,
}

impl AuthComponents {
    /// Builds the issuer, the deny-list and refresh store `auth.store` names, and a
    /// validator trusting Seam's issuer and every `[[auth.trusted]]` issuer.
    ///
    /// # Errors
    ///
    /// [`StartupError::Adapter`] naming the setting that is wrong.
    pub fn build(settings: &Settings) -> Result<Self, StartupError> {
        let clock = SystemClock::shared();
        let auth = &settings.auth;
        let issuer = Arc::new(token_issuer(settings, clock.clone())?);
        let (revocations, store): (Arc<DynRevocationList>, Arc<dyn RefreshStore>) = match auth.store
        {
            AuthStore::Memory => (
                Arc::new(InMemoryRevocationList::new(clock.clone())),
                Arc::new(InMemoryRefreshStore::new(clock.clone())),
            ),
            AuthStore::Cache => {
                let cache = auth_cache(settings)?;
                (
                    Arc::new(CacheRevocationList::new(
                        cache.clone(),
                        auth.key_prefix.clone(),
                        clock.clone(),
                    )),
                    Arc::new(CacheRefreshStore::new(
                        cache,
                        auth.key_prefix.clone(),
                        clock.clone(),
                    )),
                )
            }
        };
        let mut issuers = vec![issuer.trusted_issuer(auth.issuer.leeway)];
        for trusted in &auth.trusted {
            let mut algorithms = Vec::new();
            for name in &trusted.algorithms {
                algorithms.push(Algorithm::from_str(name).map_err(|_| {
                    auth_error(
                        "auth.trusted.algorithms",
                        format!("issuer {:?}: unknown algorithm {name:?}", trusted.issuer),
                    )
                })?);
            }
            issuers.push(TrustedIssuer {
                issuer: trusted.issuer.clone(),
                keys: KeySource::JwksUrl(trusted.jwks_url.clone()),
                audiences: trusted.audiences.clone(),
                algorithms,
                leeway: trusted.leeway,
                required_claims: trusted.required_claims.clone(),
                claims: ClaimsMapping {
                    roles: trusted.roles_claim.clone(),
                    scopes: trusted.scopes_claim.clone(),
                    user_id: trusted.user_id_claim.clone(),
                },
            });
        }
        let jwks = &auth.jwks;
        let config = ValidatorConfig {
            issuers,
            jwks: JwksCacheConfig {
                ttl: jwks.ttl,
                min_refetch_interval: jwks.min_refetch_interval,
                max_staleness: jwks.max_staleness,
                fetch_timeout: jwks.fetch_timeout,
            },
        };
        let validator = JwtValidator::builder(&config)
            .clock(clock.clone())
            .revocations(revocations.clone())
            .build()
            .map_err(|error| auth_error("auth.trusted", error))?;
        let refresh = RefreshTokens::new(
            issuer.clone(),
            store,
            revocations.clone(),
            auth.issuer.refresh_ttl,
            clock,
        );
        Ok(Self {
            issuer,
            validator: Arc::new(validator),
            revocations,
            refresh: Arc::new(refresh),
        })
    }
}

/// The cache `auth.store = "cache"` uses: the configured cache backend, unwrapped (a
/// deny-list must fail closed, never bypass).
fn auth_cache(settings: &Settings) -> Result<Arc<DynCache>, StartupError> {
    let cache = &settings.cache;
    Ok(match cache.backend {
        CacheBackend::None => {
            return Err(auth_error(
                "auth.store",
                "`auth.store = \"cache\"` needs `cache.backend` = \"memory\" or \"redis\"",
            ));
        }
        CacheBackend::Memory => Arc::new(InMemoryCache::with_clock(SystemClock::shared())),
        CacheBackend::Redis => Arc::new(
            seam_cache_redis::RedisCacheConfig::new(
                cache.redis_url.expose_secret().clone(),
                cache.key_prefix.clone(),
            )
            .build()
            .map_err(|error| auth_error("auth.store (redis)", error))?,
        ),
    })
}

pub use seam_auth_jwt::{AccessToken, TokenRequest};
pub use seam_config::AuthStore as Store;

/// Issues an access token with the issuer `settings` configure (the development key
/// under the data folder included): for `seam token issue` and tests. Services that
/// share the settings (and so the key) accept it.
///
/// # Errors
///
/// [`StartupError::Adapter`] when the issuer cannot be built or the request is wrong.
pub fn issue_token(
    settings: &Settings,
    request: &TokenRequest,
) -> Result<AccessToken, StartupError> {
    token_issuer(settings, SystemClock::shared())?
        .issue(request)
        .map_err(|error| auth_error("auth.issuer", error))
}
