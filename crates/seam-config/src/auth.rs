//! Identity settings: which requests need a credential, Seam's own token issuer, the
//! issuers whose JWTs are trusted, their JWKS caching and the deny-list.

use std::path::PathBuf;
use std::time::Duration;

use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Authentication of the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Whether requests under [`protect`](Self::protect) need a valid credential.
    /// Turning it off is for local experiments only.
    pub enabled: bool,
    /// Path prefixes that need a valid bearer token or session (`"/v1/orders"` covers
    /// `/v1/orders` and `/v1/orders/...`).
    pub protect: Vec<String>,
    /// The cookie carrying the server-side session id (sign-in sessions).
    pub session_cookie: String,
    /// Where revoked token ids and refresh-token families live: `memory` (this
    /// process) or `cache` (the configured cache, i.e. Redis when `cache.backend = "redis"`).
    pub store: AuthStore,
    /// A prefix for the keys the auth store writes in the cache.
    pub key_prefix: String,
    /// Seam's own token issuer.
    pub issuer: IssuerSettings,
    /// Other issuers whose tokens are accepted (each with its JWKS URL).
    pub trusted: Vec<TrustedIssuerSettings>,
    /// JWKS caching for the trusted issuers.
    pub jwks: JwksSettings,
    /// OpenID Connect sign-in (`/auth/login`); absent, sign-in is off.
    pub oidc: Option<crate::oidc::OidcSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            protect: vec![
                "/v1/orders".to_owned(),
                "/v1/users".to_owned(),
                "/v1/files".to_owned(),
                "/v1/webhook-events".to_owned(),
            ],
            session_cookie: "seam_session".to_owned(),
            store: AuthStore::Memory,
            key_prefix: "seam:auth:".to_owned(),
            issuer: IssuerSettings::default(),
            trusted: Vec::new(),
            jwks: JwksSettings::default(),
            oidc: None,
        }
    }
}

/// Where revocations and refresh families are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthStore {
    /// In this process: lost on restart, not shared between instances.
    Memory,
    /// The configured cache backend (Redis in production).
    Cache,
}

/// Seam's own issuer of access and refresh tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IssuerSettings {
    /// The `iss` of Seam's tokens.
    pub issuer: String,
    /// The `aud` of Seam's tokens; Seam's API accepts tokens naming any of them.
    pub audiences: Vec<String>,
    /// Lifetime of an access token.
    #[serde(with = "humantime_serde")]
    pub access_ttl: Duration,
    /// The longest lifetime a caller may ask for (`seam token issue --ttl`).
    #[serde(with = "humantime_serde")]
    pub max_access_ttl: Duration,
    /// Absolute lifetime of a refresh-token family.
    #[serde(with = "humantime_serde")]
    pub refresh_ttl: Duration,
    /// Clock skew tolerated on `exp`/`nbf` when validating Seam's tokens.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// Signing keys (asymmetric). All are published at `/.well-known/jwks.json`;
    /// [`active_kid`](Self::active_kid) signs. Empty: a development key is used
    /// (see [`dev_key`](Self::dev_key)).
    pub keys: Vec<SigningKeySettings>,
    /// The key that signs; the first when unset.
    pub active_kid: Option<String>,
    /// Without configured keys, generate an Ed25519 key once and keep it in
    /// `<data_dir>/keys/dev-signing.pem` (the embedded default, for local runs).
    /// Production sets this to `false` and configures `keys`.
    pub dev_key: bool,
}

impl Default for IssuerSettings {
    fn default() -> Self {
        Self {
            issuer: "urn:seam:local".to_owned(),
            audiences: vec!["seam".to_owned()],
            access_ttl: Duration::from_secs(15 * 60),
            max_access_ttl: Duration::from_secs(24 * 3600),
            refresh_ttl: Duration::from_secs(14 * 24 * 3600),
            leeway: Duration::from_secs(30),
            keys: Vec::new(),
            active_kid: None,
            dev_key: true,
        }
    }
}

/// One signing key: the PEM inline (from the environment) or from a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeySettings {
    /// The key id published in the JWKS and in each token's header.
    pub kid: String,
    /// `RS256`, `RS384`, `RS512`, `PS256`, `ES256`, `ES384` or `EdDSA`.
    pub algorithm: String,
    /// The private key PEM (PKCS#8).
    #[serde(default)]
    pub private_key_pem: Option<SecretString>,
    /// A file holding the private key PEM.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
}

/// An issuer whose tokens are accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerSettings {
    /// The exact `iss`.
    pub issuer: String,
    /// Its JWKS URL.
    pub jwks_url: String,
    /// Audiences of this service that its tokens must name.
    pub audiences: Vec<String>,
    /// Accepted algorithms (asymmetric only; never `none`).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Clock skew tolerated on `exp`/`nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// Claims that must be present besides `iss`, `sub`, `aud`, `exp`.
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// Dot path of the roles claim (`roles`, `realm_access.roles`).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// The scopes claim (`scope`, which also reads `scp`).
    #[serde(default = "default_scopes_claim")]
    pub scopes_claim: String,
    /// The claim holding a Seam user id, if the issuer sends one.
    #[serde(default)]
    pub user_id_claim: Option<String>,
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".to_owned()]
}

fn default_leeway() -> Duration {
    Duration::from_secs(30)
}

fn default_roles_claim() -> String {
    "roles".to_owned()
}

fn default_scopes_claim() -> String {
    "scope".to_owned()
}

/// JWKS caching of the trusted issuers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwksSettings {
    /// How long a fetched key set is used (unless `Cache-Control: max-age` says otherwise).
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// At most one JWKS request per issuer within this interval.
    #[serde(with = "humantime_serde")]
    pub min_refetch_interval: Duration,
    /// How long past their TTL keys are still used while the provider is down.
    #[serde(with = "humantime_serde")]
    pub max_staleness: Duration,
    /// The deadline of one JWKS request.
    #[serde(with = "humantime_serde")]
    pub fetch_timeout: Duration,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            min_refetch_interval: Duration::from_secs(30),
            max_staleness: Duration::from_secs(6 * 3600),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

impl AuthSettings {
    /// Every problem found, each naming its key.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for prefix in &self.protect {
            if !prefix.starts_with('/') {
                problems.push(format!("`auth.protect`: {prefix:?} must start with `/`"));
            }
        }
        if self.session_cookie.is_empty()
            || !self
                .session_cookie
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            problems.push("`auth.session_cookie`: letters, digits, `_` and `-` only".to_owned());
        }
        let issuer = &self.issuer;
        if issuer.issuer.trim().is_empty() {
            problems.push("`auth.issuer.issuer`: must not be empty".to_owned());
        }
        if issuer.audiences.iter().all(|a| a.trim().is_empty()) {
            problems.push("`auth.issuer.audiences`: must name at least one audience".to_owned());
        }
        if issuer.access_ttl.is_zero() || issuer.access_ttl > issuer.max_access_ttl {
            problems.push(
                "`auth.issuer.access_ttl`: must be more than 0 and at most `max_access_ttl`"
                    .to_owned(),
            );
        }
        if issuer.refresh_ttl < issuer.access_ttl {
            problems.push("`auth.issuer.refresh_ttl`: must be at least `access_ttl`".to_owned());
        }
        if issuer.keys.is_empty() && !issuer.dev_key {
            problems.push(
                "`auth.issuer.keys`: configure a signing key (or set `dev_key = true` for local runs)"
                    .to_owned(),
            );
        }
        for (i, key) in issuer.keys.iter().enumerate() {
            let has_pem = key
                .private_key_pem
                .as_ref()
                .is_some_and(|pem| !pem.expose_secret().trim().is_empty());
            if has_pem == key.private_key_file.is_some() {
                problems.push(format!(
                    "`auth.issuer.keys[{i}]` ({:?}): set exactly one of `private_key_pem` and `private_key_file`",
                    key.kid
                ));
            }
        }
        for (i, trusted) in self.trusted.iter().enumerate() {
            if !(trusted.jwks_url.starts_with("http://")
                || trusted.jwks_url.starts_with("https://"))
            {
                problems.push(format!(
                    "`auth.trusted[{i}].jwks_url`: expected an http(s) URL"
                ));
            }
            if trusted.issuer == issuer.issuer {
                problems.push(format!(
                    "`auth.trusted[{i}].issuer`: Seam's own issuer is trusted already"
                ));
            }
        }
        if self.jwks.min_refetch_interval.is_zero() || self.jwks.fetch_timeout.is_zero() {
            problems.push(
                "`auth.jwks`: `min_refetch_interval` and `fetch_timeout` must be more than 0"
                    .to_owned(),
            );
        }
        problems.extend(self.oidc.iter().flat_map(|oidc| oidc.problems()));
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_protect_orders_users_and_files() {
        let settings = AuthSettings::default();
        assert!(settings.problems().is_empty(), "{:?}", settings.problems());
        assert!(settings.enabled);
        assert_eq!(
            settings.protect,
            ["/v1/orders", "/v1/users", "/v1/files", "/v1/webhook-events"]
        );
    }

    #[test]
    fn wrong_values_are_named() {
        let mut settings = AuthSettings {
            protect: vec!["v1".to_owned()],
            session_cookie: "bad cookie".to_owned(),
            ..AuthSettings::default()
        };
        settings.issuer.dev_key = false;
        let problems = settings.problems().join("\n");
        assert!(problems.contains("`auth.protect`"), "{problems}");
        assert!(problems.contains("`auth.issuer.keys`"), "{problems}");
        assert!(problems.contains("`auth.session_cookie`"), "{problems}");
    }
}
