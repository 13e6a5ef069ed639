//! The provider's endpoints (from OpenID discovery or configuration) and its signing
//! keys (JWKS), fetched over HTTP and cached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use oauth2::reqwest;
use seam_auth::Error;
use seam_core::SharedClock;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

use crate::error::{ProviderError, config_error, provider_error};

/// The largest discovery document or JWKS read, in bytes.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// The provider's endpoints: what `/.well-known/openid-configuration` says, or what
/// configuration gives when a provider does not publish discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer (`iss` of its ID tokens).
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where codes and refresh tokens are exchanged.
    pub token_endpoint: String,
    /// The provider's public signing keys.
    pub jwks_uri: String,
    /// RFC 7009 token revocation, when the provider has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// The OpenID userinfo endpoint, when the provider has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
}

impl ProviderMetadata {
    /// Checks that every endpoint is an absolute `https` URL (or `http` on a loopback
    /// host, for tests and local providers).
    ///
    /// # Errors
    ///
    /// `Error::Invalid` naming the endpoint.
    pub fn validate(&self) -> Result<(), Error> {
        check_url("issuer", &self.issuer)?;
        check_url("authorization_endpoint", &self.authorization_endpoint)?;
        check_url("token_endpoint", &self.token_endpoint)?;
        check_url("jwks_uri", &self.jwks_uri)?;
        if let Some(url) = &self.revocation_endpoint {
            check_url("revocation_endpoint", url)?;
        }
        if let Some(url) = &self.userinfo_endpoint {
            check_url("userinfo_endpoint", url)?;
        }
        Ok(())
    }
}

/// An absolute `https` URL, or `http` on a loopback host.
pub(crate) fn check_url(field: &str, value: &str) -> Result<oauth2::url::Url, Error> {
    let url = oauth2::url::Url::parse(value)
        .map_err(|e| config_error(field, format!("{value:?} is not an absolute URL: {e}")))?;
    let loopback = matches!(
        url.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(config_error(
            field,
            format!("{value:?} must use https (plain http only on a loopback host)"),
        )),
    }
}

/// An HTTP client for the provider: no redirects (a redirect to elsewhere must not
/// carry our client secret or codes), a per-request timeout.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("seam-auth-oauth2/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))
}

/// GETs a JSON document.
pub(crate) async fn get_json<T: DeserializeOwned>(
    http: &reqwest::Client,
    endpoint: &'static str,
    url: &str,
) -> Result<T, ProviderError> {
    let response = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|source| ProviderError::Transport { endpoint, source })?;
    let status = response.status();
    if !status.is_success() {
        return Err(ProviderError::Status {
            endpoint,
            status: status.as_u16(),
        });
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(ProviderError::Parse {
            endpoint,
            message: "document larger than 1 MiB".to_owned(),
        });
    }
    let body = response
        .bytes()
        .await
        .map_err(|source| ProviderError::Transport { endpoint, source })?;
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(ProviderError::Parse {
            endpoint,
            message: "document larger than 1 MiB".to_owned(),
        });
    }
    serde_json::from_slice(&body).map_err(|e| ProviderError::Parse {
        endpoint,
        message: e.to_string(),
    })
}

/// Fetches `<issuer>/.well-known/openid-configuration` and checks that it names
/// `issuer` (OpenID Connect Discovery 1.0, section 4.3).
pub(crate) async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<ProviderMetadata, Error> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let metadata: ProviderMetadata = get_json(http, "discovery", &url)
        .await
        .map_err(|e| provider_error(issuer, e))?;
    if metadata.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(config_error(
            "issuer",
            format!(
                "the discovery document names issuer {:?}, not the configured {issuer:?}",
                metadata.issuer
            ),
        ));
    }
    metadata.validate()?;
    Ok(metadata)
}

#[derive(Debug, Default)]
struct JwksState {
    keys: Vec<Jwk>,
    fetched_at: Option<Instant>,
}

/// The provider's signing keys, fetched on first use and again when a token names a
/// key id not in the cache — at most once per `min_refresh`, so a flood of tokens with
/// bogus key ids cannot hammer the provider.
#[derive(Debug, Clone)]
pub(crate) struct JwksCache {
    inner: Arc<JwksInner>,
}

#[derive(Debug)]
struct JwksInner {
    http: reqwest::Client,
    issuer: String,
    uri: String,
    clock: SharedClock,
    min_refresh: Duration,
    state: RwLock<JwksState>,
    refreshing: Mutex<()>,
}

impl JwksCache {
    pub(crate) fn new(
        http: reqwest::Client,
        issuer: String,
        uri: String,
        clock: SharedClock,
        min_refresh: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(JwksInner {
                http,
                issuer,
                uri,
                clock,
                min_refresh,
                state: RwLock::new(JwksState::default()),
                refreshing: Mutex::new(()),
            }),
        }
    }

    /// The signing key for a token header's `kid` (or the only signing key when the
    /// token names none).
    pub(crate) async fn key(&self, kid: Option<&str>) -> Result<Jwk, Error> {
        if let Some(key) = select(&self.inner.state.read().await.keys, kid) {
            return Ok(key);
        }
        let _refreshing = self.inner.refreshing.lock().await;
        // Another task may have refreshed while this one waited.
        let fetched_at = {
            let state = self.inner.state.read().await;
            if let Some(key) = select(&state.keys, kid) {
                return Ok(key);
            }
            state.fetched_at
        };
        let now = self.inner.clock.now();
        let may_fetch =
            fetched_at.is_none_or(|at| now.saturating_duration_since(at) >= self.inner.min_refresh);
        if !may_fetch {
            return Err(Error::unknown_key(&self.inner.issuer, kid));
        }
        let keys = self.fetch().await?;
        let mut state = self.inner.state.write().await;
        state.keys = keys;
        state.fetched_at = Some(now);
        select(&state.keys, kid).ok_or_else(|| Error::unknown_key(&self.inner.issuer, kid))
    }

    async fn fetch(&self) -> Result<Vec<Jwk>, Error> {
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawSet = get_json(&self.inner.http, "jwks", &self.inner.uri)
            .await
            .map_err(|e| provider_error(&self.inner.issuer, e))?;
        // Keys of a type this library does not know are skipped, not fatal: a
        // provider adding a new key type must not break sign-in.
        let keys: Vec<Jwk> = raw
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter(|jwk| {
                !matches!(
                    jwk.common.public_key_use,
                    Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_))
                )
            })
            .collect();
        tracing::debug!(
            oidc.issuer = %self.inner.issuer,
            jwks.keys = keys.len(),
            "fetched the provider's signing keys"
        );
        Ok(keys)
    }
}

fn select(keys: &[Jwk], kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|key| key.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None if keys.len() == 1 => keys.first().cloned(),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_or_loopback_http() {
        check_url("issuer", "https://accounts.google.com").unwrap();
        check_url("issuer", "http://127.0.0.1:9400").unwrap();
        check_url("issuer", "http://localhost:9400").unwrap();
        assert!(check_url("issuer", "http://accounts.example.com").is_err());
        assert!(check_url("issuer", "accounts.google.com").is_err());
        assert!(check_url("issuer", "ftp://127.0.0.1").is_err());
    }
}
