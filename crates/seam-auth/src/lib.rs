//! The auth port: principals, token validation, sessions and revocation.
//!
//! - [`Principal`]: who made a request, with roles and scopes, as handlers see it.
//! - [`TokenValidator`]: turns a bearer token into a [`Principal`] or a precise
//!   [`Error`] (`seam-auth-jwt` validates JWTs from several trusted issuers).
//! - [`RevocationList`]: a deny-list of token ids (`jti`) whose entries expire with
//!   the token; [`InMemoryRevocationList`] is the in-process adapter.
//! - [`SessionResolver`]: turns a server-side session id (from a cookie) into a
//!   [`Principal`] (`seam-auth-oauth2` implements it over its session store).
//! - `conformance` (feature `conformance`): the suite every [`RevocationList`]
//!   adapter passes.
//!
//! Every error is an [`Error`] that answers [`seam_core::Classify`]: refused
//! credentials are `Unauthorized` (HTTP 401), missing permissions `Forbidden` (403),
//! unreachable providers or stores `Unavailable` (503). No error, `Debug` or log line
//! contains a token.
//!
//! ```
//! # futures_lite_block_on(async {
//! use std::sync::Arc;
//! use chrono::{Duration, Utc};
//! use seam_auth::{DynRevocationList, InMemoryRevocationList, RevocationList};
//! use seam_core::SystemClock;
//!
//! let list: Arc<DynRevocationList> = Arc::new(InMemoryRevocationList::new(SystemClock::shared()));
//! list.revoke("token-1", Utc::now() + Duration::minutes(5)).await.unwrap();
//! assert!(list.is_revoked("token-1").await.unwrap());
//! assert!(!list.is_revoked("token-2").await.unwrap());
//! # });
//! # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod memory;
mod principal;
#[cfg(feature = "conformance")]
pub mod session_conformance;

pub use error::{BoxError, Error, Result};
pub use memory::InMemoryRevocationList;
pub use principal::Principal;

/// Validates a bearer token and says who it names.
///
/// # Contract
///
/// `validate` MUST return the [`Principal`] only when every check passed, and
/// otherwise the most precise error:
///
/// - a token that does not parse MUST be [`Error::Malformed`];
/// - an algorithm outside the issuer's allow-list (always including `none`, and an
///   HMAC algorithm where the issuer's key is asymmetric) MUST be
///   [`Error::DisallowedAlgorithm`];
/// - an issuer that is not trusted MUST be [`Error::UntrustedIssuer`]; a key id the
///   issuer does not publish (after at most one rate-limited refresh of its keys)
///   MUST be [`Error::UnknownKey`]; a signature that does not verify MUST be
///   [`Error::InvalidSignature`];
/// - past `exp` MUST be [`Error::Expired`], before `nbf` [`Error::NotYetValid`]
///   (both beyond the configured leeway); an `aud` not naming this service MUST be
///   [`Error::WrongAudience`]; an absent required claim [`Error::MissingClaim`];
/// - a token whose `jti` is on the deny-list MUST be [`Error::Revoked`];
/// - when the keys cannot be fetched and no usable cached keys remain it MUST be
///   [`Error::ProviderUnavailable`] (a 503, not a 401).
///
/// The token MUST NOT appear in any error, log line or metric label.
#[async_trait]
pub trait TokenValidator: Debug + Send + Sync + 'static {
    /// Validates `token` (the bearer value, without the `Bearer ` prefix).
    async fn validate(&self, token: &str) -> Result<Principal>;
}

/// A validator used as a trait object: `Arc<DynTokenValidator>`.
pub type DynTokenValidator = dyn TokenValidator;

/// A deny-list of token ids (`jti`), each kept until the token would have expired.
///
/// # Contract
///
/// - after `revoke(jti, expires_at)` returned `Ok`, `is_revoked(jti)` MUST return
///   `true` until `expires_at`; afterwards the entry MAY be forgotten (the token is
///   refused as expired anyway), so the list never grows without bound;
/// - `revoke` MUST be idempotent; revoking with a later `expires_at` MUST extend the
///   entry, never shorten it below what was already promised;
/// - an id never revoked MUST give `false`;
/// - an empty id, or one longer than 512 bytes, MUST be [`Error::Invalid`];
/// - a store that cannot be reached MUST give [`Error::StoreUnavailable`]: callers
///   then fail closed (refuse the token), never open.
#[async_trait]
pub trait RevocationList: Debug + Send + Sync + 'static {
    /// Puts `jti` on the list until `expires_at`.
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()>;

    /// Whether `jti` is on the list.
    async fn is_revoked(&self, jti: &str) -> Result<bool>;
}

/// A revocation list used as a trait object: `Arc<DynRevocationList>`.
pub type DynRevocationList = dyn RevocationList;

/// Turns a server-side session id (the value of the session cookie) into a
/// [`Principal`].
///
/// # Contract
///
/// - an unknown, ended or timed-out session MUST give `Ok(None)` (the caller answers
///   401); a live one MUST give the principal with
///   [`session_id`](Principal::session_id) set;
/// - resolving MAY extend the session's idle timeout, never its absolute one;
/// - a store that cannot be reached MUST give [`Error::StoreUnavailable`].
#[async_trait]
pub trait SessionResolver: Debug + Send + Sync + 'static {
    /// The principal of the live session `session_id`, if any.
    async fn resolve(&self, session_id: &str) -> Result<Option<Principal>>;
}

/// A session resolver used as a trait object: `Arc<DynSessionResolver>`.
pub type DynSessionResolver = dyn SessionResolver;

/// The longest token id a [`RevocationList`] accepts, in bytes.
pub const MAX_JTI_LEN: usize = 512;

/// Checks a token id against the [`RevocationList`] contract.
///
/// # Errors
///
/// [`Error::Invalid`] when it is empty or longer than [`MAX_JTI_LEN`].
pub fn validate_jti(jti: &str) -> Result<()> {
    if jti.is_empty() {
        return Err(Error::invalid("token id (jti) must not be empty"));
    }
    if jti.len() > MAX_JTI_LEN {
        return Err(Error::invalid(format!(
            "token id (jti) is longer than {MAX_JTI_LEN} bytes"
        )));
    }
    Ok(())
}

macro_rules! forward {
    ($ptr:ident) => {
        #[async_trait]
        impl<T: TokenValidator + ?Sized> TokenValidator for $ptr<T> {
            async fn validate(&self, token: &str) -> Result<Principal> {
                (**self).validate(token).await
            }
        }

        #[async_trait]
        impl<T: RevocationList + ?Sized> RevocationList for $ptr<T> {
            async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()> {
                (**self).revoke(jti, expires_at).await
            }

            async fn is_revoked(&self, jti: &str) -> Result<bool> {
                (**self).is_revoked(jti).await
            }
        }

        #[async_trait]
        impl<T: SessionResolver + ?Sized> SessionResolver for $ptr<T> {
            async fn resolve(&self, session_id: &str) -> Result<Option<Principal>> {
                (**self).resolve(session_id).await
            }
        }
    };
}

forward!(Arc);
forward!(Box);
