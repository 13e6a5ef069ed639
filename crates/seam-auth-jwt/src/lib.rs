//! JWT federation over [`jsonwebtoken`]: validating tokens from several trusted
//! issuers, and issuing Seam's own.
//!
//! - [`JwtValidator`]: the [`TokenValidator`](seam_auth::TokenValidator) for JWTs.
//!   Each [`TrustedIssuer`] has its keys ([`KeySource`]: a JWKS URL, static JWKs or
//!   a shared secret), audiences, algorithm allow-list (never `none`; HMAC only with
//!   a shared secret; a key's type must match the algorithm's family), leeway,
//!   required claims and [`ClaimsMapping`]. JWKS documents are cached per issuer
//!   with a TTL (honouring `Cache-Control: max-age`), refetched when an unknown `kid`
//!   appears but at most once per [`JwksCacheConfig::min_refetch_interval`]
//!   (single-flight), and served stale up to [`JwksCacheConfig::max_staleness`]
//!   while the provider is down.
//! - [`TokenIssuer`]: short-lived access tokens signed with an asymmetric key (RSA,
//!   ECDSA or Ed25519), several keys with one active for rotation, and
//!   [`TokenIssuer::jwks`] for `GET /.well-known/jwks.json`.
//!   [`load_or_generate_dev_key`] makes the development key of the embedded default.
//! - [`RefreshTokens`]: rotating refresh tokens in families, stored as hashes through
//!   a [`RefreshStore`] ([`InMemoryRefreshStore`], or [`CacheRefreshStore`] over the
//!   cache port, i.e. Redis); reuse of a rotated token revokes the family and its
//!   access tokens.
//! - [`CacheRevocationList`]: the `jti` deny-list over the cache port.
//! - [`axum`] (feature `axum`): the middleware, the [`Authenticated`](axum::Authenticated)
//!   extractor and role/scope guards.

#[cfg(feature = "axum")]
pub mod axum;
mod config;
mod issuer;
mod jwks;
mod refresh;
mod revocation;
mod validator;

pub use config::{ClaimsMapping, JwksCacheConfig, KeySource, TrustedIssuer, ValidatorConfig};
pub use issuer::{
    AccessToken, IssuerConfig, SigningKeyConfig, TokenIssuer, TokenRequest, USER_ID_CLAIM,
    generate_ed25519_pem, load_or_generate_dev_key,
};
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::JwkSet;
pub use refresh::{
    CacheRefreshStore, InMemoryRefreshStore, RefreshFamily, RefreshStore, RefreshTokens, TokenPair,
};
pub use revocation::CacheRevocationList;
pub use validator::{JwtValidator, JwtValidatorBuilder, MAX_TOKEN_LEN};
