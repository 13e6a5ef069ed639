//! Verification keys per issuer: a JWKS document fetched, cached and refetched with
//! care, static keys, or a shared secret.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use seam_auth::{Error, Result};
use seam_core::{ExposeSecret, SharedClock};
use seam_telemetry::PortMetrics;

use crate::config::{JwksCacheConfig, KeySource};

/// The largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1 << 20;

const JWKS_METRICS: PortMetrics = PortMetrics::new("auth", "jwks");

/// One key that can verify signatures.
#[derive(Debug)]
pub(crate) struct VerificationKey {
    pub(crate) key: DecodingKey,
    /// The algorithm the JWK pins (`alg`), if it does.
    pub(crate) algorithm: Option<Algorithm>,
}

impl VerificationKey {
    fn from_jwk(jwk: &Jwk) -> std::result::Result<Self, jsonwebtoken::errors::Error> {
        Ok(Self {
            key: DecodingKey::from_jwk(jwk)?,
            algorithm: jwk
                .common
                .key_algorithm
                .and_then(|algorithm| Algorithm::try_from(algorithm).ok()),
        })
    }
}

/// A parsed key set, looked up by `kid`.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Arc<VerificationKey>>,
    without_kid: Vec<Arc<VerificationKey>>,
}

impl KeySet {
    /// Parses the signing keys of `set`, skipping encryption keys and key types this
    /// build cannot use (logged).
    pub(crate) fn from_jwks(issuer: &str, set: &JwkSet) -> Self {
        let mut keys = Self::default();
        for jwk in &set.keys {
            if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
                continue;
            }
            match VerificationKey::from_jwk(jwk) {
                Ok(key) => {
                    let key = Arc::new(key);
                    match &jwk.common.key_id {
                        Some(kid) => {
                            keys.by_kid.insert(kid.clone(), key);
                        }
                        None => keys.without_kid.push(key),
                    }
                }
                Err(error) => tracing::warn!(
                    auth.issuer = issuer,
                    auth.kid = jwk.common.key_id.as_deref().unwrap_or("-"),
                    error.message = %error,
                    "skipping a JWK that cannot be used"
                ),
            }
        }
        keys
    }

    /// The key named `kid`; without a `kid`, the only key the set has.
    fn find(&self, kid: Option<&str>) -> Option<Arc<VerificationKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None => match (self.by_kid.len(), self.without_kid.as_slice()) {
                (0, [only]) => Some(only.clone()),
                (1, []) => self.by_kid.values().next().cloned(),
                _ => None,
            },
        }
    }

    fn len(&self) -> usize {
        self.by_kid.len() + self.without_kid.len()
    }
}

/// Where one issuer's keys come from, ready to answer lookups.
#[derive(Debug)]
pub(crate) enum IssuerKeys {
    /// Keys from configuration.
    Static(KeySet),
    /// A shared HMAC secret.
    Secret(Arc<VerificationKey>),
    /// A cached JWKS document.
    Jwks(Box<JwksCache>),
}

impl IssuerKeys {
    pub(crate) fn build(
        issuer: &str,
        source: &KeySource,
        config: &JwksCacheConfig,
        client: &reqwest::Client,
        clock: SharedClock,
    ) -> Result<Self> {
        Ok(match source {
            KeySource::Static(set) => {
                let keys = KeySet::from_jwks(issuer, set);
                if keys.len() == 0 {
                    return Err(Error::invalid(format!(
                        "trusted issuer {issuer:?}: no usable key in the static key set"
                    )));
                }
                Self::Static(keys)
            }
            KeySource::SharedSecret(secret) => Self::Secret(Arc::new(VerificationKey {
                key: DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                algorithm: None,
            })),
            KeySource::JwksUrl(url) => Self::Jwks(Box::new(JwksCache::new(
                issuer,
                url,
                config.clone(),
                client.clone(),
                clock,
            )?)),
        })
    }

    /// The key to verify a token with key id `kid`.
    pub(crate) async fn key(
        &self,
        issuer: &str,
        kid: Option<&str>,
    ) -> Result<Arc<VerificationKey>> {
        match self {
            Self::Static(keys) => keys
                .find(kid)
                .ok_or_else(|| Error::unknown_key(issuer, kid)),
            Self::Secret(key) => Ok(key.clone()),
            Self::Jwks(cache) => cache.key(kid).await,
        }
    }
}

#[derive(Debug, Default)]
struct CacheState {
    keys: Option<Arc<KeySet>>,
    /// Until when the keys are used without asking the provider again.
    fresh_until: Option<Instant>,
    /// When the last fetch was started, successful or not (the rate limit).
    last_attempt: Option<Instant>,
    /// Bumped by every finished fetch attempt, so tasks that waited for one in flight
    /// use its result instead of fetching again.
    attempts: u64,
    /// Why the last fetch failed, when it did.
    last_error: Option<String>,
}

/// One issuer's JWKS document, cached with a TTL and refetched at most once per
/// `min_refetch_interval` (single-flight), served stale up to `max_staleness` while
/// the provider is down.
#[derive(Debug)]
pub(crate) struct JwksCache {
    issuer: String,
    url: reqwest::Url,
    config: JwksCacheConfig,
    client: reqwest::Client,
    clock: SharedClock,
    state: RwLock<CacheState>,
    fetching: tokio::sync::Mutex<()>,
}

impl JwksCache {
    fn new(
        issuer: &str,
        url: &str,
        config: JwksCacheConfig,
        client: reqwest::Client,
        clock: SharedClock,
    ) -> Result<Self> {
        let url = reqwest::Url::parse(url).map_err(|error| {
            Error::invalid(format!(
                "trusted issuer {issuer:?}: jwks url {url:?}: {error}"
            ))
        })?;
        Ok(Self {
            issuer: issuer.to_owned(),
            url,
            config,
            client,
            clock,
            state: RwLock::new(CacheState::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, CacheState> {
        // Writers replace whole fields: a poisoned lock still holds a consistent state.
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, CacheState> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn key(&self, kid: Option<&str>) -> Result<Arc<VerificationKey>> {
        let (keys, fresh, attempts) = {
            let state = self.read();
            let fresh = state
                .fresh_until
                .is_some_and(|until| self.clock.now() < until);
            (state.keys.clone(), fresh, state.attempts)
        };
        if fresh && let Some(key) = keys.as_ref().and_then(|keys| keys.find(kid)) {
            return Ok(key);
        }
        // No keys yet, keys past their TTL, or a key id we do not know: ask the
        // provider, unless someone just did.
        self.refresh(attempts).await;

        let state = self.read();
        let Some(keys) = state.keys.clone() else {
            return Err(Error::provider_unavailable(
                self.issuer.clone(),
                state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "keys not fetched yet".to_owned()),
            ));
        };
        let now = self.clock.now();
        let fresh_until = state.fresh_until.unwrap_or(now);
        if now > fresh_until + self.config.max_staleness {
            return Err(Error::provider_unavailable(
                self.issuer.clone(),
                format!(
                    "cached keys are older than their TTL plus max staleness ({:?}); last error: {}",
                    self.config.max_staleness,
                    state.last_error.as_deref().unwrap_or("none")
                ),
            ));
        }
        drop(state);
        keys.find(kid)
            .ok_or_else(|| Error::unknown_key(&self.issuer, kid))
    }

    /// Fetches the key set unless another task finished a fetch since `seen_attempts`
    /// or the rate limit forbids it. Failures are kept in the state (stale keys stay).
    async fn refresh(&self, seen_attempts: u64) {
        let _single_flight = self.fetching.lock().await;
        {
            let mut state = self.write();
            if state.attempts != seen_attempts {
                return;
            }
            let now = self.clock.now();
            if let Some(last) = state.last_attempt
                && now.saturating_duration_since(last) < self.config.min_refetch_interval
            {
                tracing::debug!(auth.issuer = %self.issuer, "JWKS refetch skipped: rate limited");
                return;
            }
            state.last_attempt = Some(now);
        }
        let result = JWKS_METRICS.call("fetch", self.fetch()).await;
        let now = self.clock.now();
        let mut state = self.write();
        state.attempts += 1;
        match result {
            Ok((set, max_age)) => {
                let keys = KeySet::from_jwks(&self.issuer, &set);
                let ttl = max_age
                    .map(|age| {
                        age.clamp(
                            self.config.min_refetch_interval,
                            Duration::from_secs(86_400),
                        )
                    })
                    .unwrap_or(self.config.ttl);
                tracing::info!(auth.issuer = %self.issuer, keys = keys.len(), ttl = ?ttl, "JWKS fetched");
                state.keys = Some(Arc::new(keys));
                state.fresh_until = Some(now + ttl);
                state.last_error = None;
            }
            Err(error) => {
                tracing::warn!(
                    auth.issuer = %self.issuer,
                    error.message = %error,
                    stale_keys = state.keys.is_some(),
                    "JWKS fetch failed"
                );
                state.last_error = Some(error.to_string());
            }
        }
    }

    async fn fetch(&self) -> Result<(JwkSet, Option<Duration>)> {
        let unavailable =
            |message: String| Error::provider_unavailable(self.issuer.clone(), message);
        let response = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.config.fetch_timeout)
            .send()
            .await
            .map_err(|error| {
                unavailable(format!("JWKS request failed: {}", without_url(&error)))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(unavailable(format!("JWKS endpoint answered HTTP {status}")));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age);
        if response
            .content_length()
            .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
        {
            return Err(unavailable("JWKS document is too large".to_owned()));
        }
        let body = response.bytes().await.map_err(|error| {
            unavailable(format!("JWKS body unreadable: {}", without_url(&error)))
        })?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(unavailable("JWKS document is too large".to_owned()));
        }
        let set: JwkSet = serde_json::from_slice(&body)
            .map_err(|error| unavailable(format!("JWKS document is not a JWK set: {error}")))?;
        Ok((set, max_age))
    }
}

/// A reqwest error's message without the URL (which may carry credentials).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "bad body"
    } else {
        "request error"
    };
    kind.to_owned()
}

/// `max-age` of a `Cache-Control` value, unless it also says `no-store`/`no-cache`.
fn max_age(value: &str) -> Option<Duration> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            age = seconds
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("max-age=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=abc"), None);
    }
}
