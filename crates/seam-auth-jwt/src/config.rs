//! The validator's configuration: trusted issuers, their keys and claim mapping.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use seam_auth::{Error, Result};
use seam_core::SecretString;
use serde::{Deserialize, Serialize};

/// Where a trusted issuer's verification keys come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// A JWKS document fetched over HTTP(S) and cached (see [`JwksCacheConfig`]).
    JwksUrl(String),
    /// Public keys given in configuration (a JWK set).
    Static(JwkSet),
    /// A shared HMAC secret: the only source under which `HS256/384/512` are allowed.
    SharedSecret(SecretString),
}

/// How the [`Principal`](seam_auth::Principal)'s roles, scopes and user come out of
/// the claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimsMapping {
    /// A dot-separated path to the roles: an array of strings or a space-separated
    /// string (`roles`, `realm_access.roles`, `https://example.com/roles`: a key
    /// that exists as written wins over a path).
    pub roles: String,
    /// The claim holding scopes: a space-separated string (`scope`) or an array (`scp`).
    /// Both `scope` and `scp` are read when this is left at `scope`.
    pub scopes: String,
    /// The claim holding the Seam user id (a UUID), if the issuer sends one.
    pub user_id: Option<String>,
}

impl Default for ClaimsMapping {
    fn default() -> Self {
        Self {
            roles: "roles".to_owned(),
            scopes: "scope".to_owned(),
            user_id: None,
        }
    }
}

/// One issuer whose tokens are accepted.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// Where its keys come from.
    pub keys: KeySource,
    /// Audiences of this service; a token MUST name at least one of them in `aud`.
    pub audiences: Vec<String>,
    /// Algorithms accepted from this issuer. `none` does not exist here; HMAC
    /// algorithms are refused unless `keys` is a [`KeySource::SharedSecret`], and
    /// asymmetric ones are refused under a shared secret.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Claims that MUST be present besides `iss`, `sub`, `aud` and `exp`
    /// (always required), e.g. `jti`.
    pub required_claims: Vec<String>,
    /// How claims map to the principal.
    pub claims: ClaimsMapping,
}

impl TrustedIssuer {
    /// An issuer with keys from a JWKS URL, RS256 only, 30 s leeway, default mapping.
    pub fn jwks(
        issuer: impl Into<String>,
        jwks_url: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self::with_keys(issuer, KeySource::JwksUrl(jwks_url.into()), audience)
    }

    /// An issuer with the given key source, RS256 only, 30 s leeway, default mapping.
    pub fn with_keys(
        issuer: impl Into<String>,
        keys: KeySource,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            keys,
            audiences: vec![audience.into()],
            algorithms: vec![Algorithm::RS256],
            leeway: Duration::from_secs(30),
            required_claims: Vec::new(),
            claims: ClaimsMapping::default(),
        }
    }

    /// Replaces the algorithm allow-list.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Checks the issuer's settings.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the issuer and the setting that is wrong.
    pub fn validate(&self) -> Result<()> {
        let name = &self.issuer;
        if name.trim().is_empty() {
            return Err(Error::invalid("a trusted issuer has an empty `issuer`"));
        }
        if self.audiences.iter().all(|a| a.trim().is_empty()) {
            return Err(Error::invalid(format!(
                "trusted issuer {name:?}: `audiences` must name at least one audience"
            )));
        }
        if self.algorithms.is_empty() {
            return Err(Error::invalid(format!(
                "trusted issuer {name:?}: `algorithms` must allow at least one algorithm"
            )));
        }
        let secret = matches!(self.keys, KeySource::SharedSecret(_));
        for algorithm in &self.algorithms {
            let hmac = is_hmac(*algorithm);
            if hmac && !secret {
                return Err(Error::invalid(format!(
                    "trusted issuer {name:?}: {algorithm:?} needs a shared secret; an asymmetric key is never used as an HMAC secret"
                )));
            }
            if !hmac && secret {
                return Err(Error::invalid(format!(
                    "trusted issuer {name:?}: {algorithm:?} cannot be verified with a shared secret"
                )));
            }
        }
        match &self.keys {
            KeySource::JwksUrl(url) => {
                let parsed = reqwest::Url::parse(url).map_err(|error| {
                    Error::invalid(format!(
                        "trusted issuer {name:?}: jwks url {url:?}: {error}"
                    ))
                })?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(Error::invalid(format!(
                        "trusted issuer {name:?}: jwks url must be http(s)"
                    )));
                }
            }
            KeySource::Static(set) if set.keys.is_empty() => {
                return Err(Error::invalid(format!(
                    "trusted issuer {name:?}: the static key set is empty"
                )));
            }
            KeySource::SharedSecret(secret) => {
                use seam_core::ExposeSecret;
                if secret.expose_secret().len() < 32 {
                    return Err(Error::invalid(format!(
                        "trusted issuer {name:?}: the shared secret must be at least 32 bytes"
                    )));
                }
            }
            KeySource::Static(_) => {}
        }
        Ok(())
    }
}

/// Whether `algorithm` is an HMAC (shared-secret) algorithm.
pub(crate) fn is_hmac(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

/// How JWKS documents are cached and refetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwksCacheConfig {
    /// How long a fetched key set is used before it is fetched again, when the
    /// response carries no `Cache-Control: max-age` (which is honoured, clamped to
    /// [`min_refetch_interval`](Self::min_refetch_interval)..=1 day).
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// At most one fetch per issuer within this interval, whatever triggers it (an
    /// unknown `kid`, an expired set, a provider that is down): a flood of tokens with
    /// bogus key ids cannot hammer the provider.
    #[serde(with = "humantime_serde")]
    pub min_refetch_interval: Duration,
    /// How long past its TTL a key set is still served while the provider cannot be
    /// reached.
    #[serde(with = "humantime_serde")]
    pub max_staleness: Duration,
    /// The deadline of one JWKS request.
    #[serde(with = "humantime_serde")]
    pub fetch_timeout: Duration,
}

impl Default for JwksCacheConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            min_refetch_interval: Duration::from_secs(30),
            max_staleness: Duration::from_secs(6 * 3600),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// Everything a [`JwtValidator`](crate::JwtValidator) needs.
#[derive(Debug, Clone, Default)]
pub struct ValidatorConfig {
    /// The issuers whose tokens are accepted.
    pub issuers: Vec<TrustedIssuer>,
    /// JWKS caching, shared by all issuers with a JWKS URL.
    pub jwks: JwksCacheConfig,
}

impl ValidatorConfig {
    /// Checks every issuer and that no issuer is listed twice.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with a message naming the issuer and setting.
    pub fn validate(&self) -> Result<()> {
        if self.issuers.is_empty() {
            return Err(Error::invalid("no trusted issuer is configured"));
        }
        let mut seen = std::collections::HashSet::new();
        for issuer in &self.issuers {
            issuer.validate()?;
            if !seen.insert(issuer.issuer.as_str()) {
                return Err(Error::invalid(format!(
                    "trusted issuer {:?} is listed twice",
                    issuer.issuer
                )));
            }
        }
        if self.jwks.min_refetch_interval.is_zero() {
            return Err(Error::invalid(
                "jwks.min_refetch_interval must be more than 0",
            ));
        }
        if self.jwks.fetch_timeout.is_zero() {
            return Err(Error::invalid("jwks.fetch_timeout must be more than 0"));
        }
        Ok(())
    }
}
