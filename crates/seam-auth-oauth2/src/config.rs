//! How to build an [`OidcSignIn`](crate::OidcSignIn): the provider, the client, the
//! claim names, the token keys and the session rules.
//!
//! Google, as the documented example profile (TOML under `[auth.oidc]`):
//!
//! ```toml
//! issuer = "https://accounts.google.com"      # endpoints come from discovery
//! client_id = "1234-abc.apps.googleusercontent.com"
//! client_secret = "..."                       # SEAM_AUTH__OIDC__CLIENT_SECRET
//! redirect_url = "https://shop.example.com/auth/callback"
//! scopes = ["openid", "email", "profile"]
//! # Google issues a refresh token only when asked for offline access.
//! extra_auth_params = { access_type = "offline", prompt = "consent" }
//! active_token_key = "2026-11"
//! token_keys = [{ id = "2026-11", key = "<openssl rand -base64 32>" }]
//! ```
//!
//! Any compliant provider works the same way; one without discovery gives its
//! endpoints in `endpoints`.

use std::collections::BTreeMap;
use std::time::Duration;

use seam_core::SecretString;
use serde::{Deserialize, Serialize};

use crate::crypto::TokenKeyConfig;
use crate::provider::ProviderMetadata;

/// The configuration of OpenID Connect sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL (`iss`); discovery reads
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The endpoints, for a provider without discovery; when set, discovery is skipped.
    #[serde(default)]
    pub endpoints: Option<ProviderMetadata>,
    /// This application's client id at the provider (the ID token's `aud`).
    pub client_id: String,
    /// The client secret (client_secret_basic); `None` for a public client (PKCE only).
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// Where the provider sends the browser back: this service's `/auth/callback`.
    pub redirect_url: String,
    /// The scopes to ask for; `openid` is always included.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Extra authorization request parameters (Google: `access_type = "offline"`).
    #[serde(default)]
    pub extra_auth_params: BTreeMap<String, String>,
    /// Which claims carry the profile.
    #[serde(default)]
    pub claims: ClaimNames,
    /// Keys encrypting tokens at rest; any of them decrypts.
    pub token_keys: Vec<TokenKeyConfig>,
    /// The id of the key new ciphertexts use.
    pub active_token_key: String,
    /// Sessions and cookies.
    #[serde(default)]
    pub session: SessionConfig,
    /// Refresh the access token this long before it expires.
    #[serde(default = "default_refresh_skew", with = "humantime_serde")]
    pub refresh_skew: Duration,
    /// Clock skew tolerated on the ID token's `exp`, `iat` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// Timeout of each request to the provider.
    #[serde(default = "default_http_timeout", with = "humantime_serde")]
    pub http_timeout: Duration,
    /// The shortest time between two fetches of the provider's keys (an unknown key id
    /// triggers one).
    #[serde(default = "default_jwks_min_refresh", with = "humantime_serde")]
    pub jwks_min_refresh: Duration,
    /// Where the browser goes after signing in when the login did not name a page
    /// (a local path).
    #[serde(default = "default_post_login")]
    pub post_login_redirect: String,
}

/// The claims (of the ID token) that carry each part of the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimNames {
    /// The stable account id. Default `sub`.
    pub subject: String,
    /// The e-mail address. Default `email`.
    pub email: String,
    /// Whether the provider verified the address. Default `email_verified`.
    pub email_verified: String,
    /// The display name. Default `name`.
    pub name: String,
    /// The picture URL. Default `picture`.
    pub picture: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            subject: "sub".to_owned(),
            email: "email".to_owned(),
            email_verified: "email_verified".to_owned(),
            name: "name".to_owned(),
            picture: "picture".to_owned(),
        }
    }
}

/// Server-side sessions and their cookies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// A session unused this long ends.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not.
    #[serde(with = "humantime_serde")]
    pub absolute_timeout: Duration,
    /// How long a started sign-in may take (the pre-authentication state's lifetime).
    #[serde(with = "humantime_serde")]
    pub login_timeout: Duration,
    /// The session cookie's name.
    pub cookie_name: String,
    /// The pre-authentication cookie's name.
    pub login_cookie_name: String,
    /// Whether cookies are `Secure` (sent over https only). Turn off only for local http.
    pub cookie_secure: bool,
    /// Prefix of every session key in the cache.
    pub key_prefix: String,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            login_timeout: Duration::from_secs(10 * 60),
            cookie_name: "seam_session".to_owned(),
            login_cookie_name: "seam_login".to_owned(),
            cookie_secure: true,
            key_prefix: "auth:".to_owned(),
        }
    }
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(str::to_owned).to_vec()
}

fn default_refresh_skew() -> Duration {
    Duration::from_secs(60)
}

fn default_leeway() -> Duration {
    Duration::from_secs(60)
}

fn default_http_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_jwks_min_refresh() -> Duration {
    Duration::from_secs(60)
}

fn default_post_login() -> String {
    "/".to_owned()
}

impl OidcConfig {
    /// A configuration with the defaults for everything but the provider, the client
    /// and the token keys.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        redirect_url: impl Into<String>,
        token_keys: Vec<TokenKeyConfig>,
        active_token_key: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            endpoints: None,
            client_id: client_id.into(),
            client_secret: None,
            redirect_url: redirect_url.into(),
            scopes: default_scopes(),
            extra_auth_params: BTreeMap::new(),
            claims: ClaimNames::default(),
            token_keys,
            active_token_key: active_token_key.into(),
            session: SessionConfig::default(),
            refresh_skew: default_refresh_skew(),
            leeway: default_leeway(),
            http_timeout: default_http_timeout(),
            jwks_min_refresh: default_jwks_min_refresh(),
            post_login_redirect: default_post_login(),
        }
    }
}
