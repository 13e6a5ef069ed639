//! Sign-in settings (`[auth.oidc]`): the OpenID Connect provider, this application's
//! client, the claim names, the keys encrypting tokens at rest and the session rules.
//!
//! Absent, sign-in is off. Google, as the example profile:
//!
//! ```toml
//! [auth.oidc]
//! issuer = "https://accounts.google.com"   # endpoints from discovery
//! client_id = "1234-abc.apps.googleusercontent.com"
//! client_secret = "..."                    # better: SEAM_AUTH__OIDC__CLIENT_SECRET
//! redirect_url = "https://shop.example.com/auth/callback"
//! extra_auth_params = { access_type = "offline", prompt = "consent" }
//! active_token_key = "2026-11"
//! token_keys = [{ id = "2026-11", key = "<openssl rand -base64 32>" }]
//! ```
//!
//! The session cookie's name is `auth.session_cookie`; sessions live in the configured
//! cache (`cache.backend`: `memory` for one process, `redis` for several).

use std::collections::BTreeMap;
use std::time::Duration;

use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// OpenID Connect sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcSettings {
    /// The provider's issuer URL; discovery reads `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The endpoints of a provider without discovery (discovery is then skipped).
    pub endpoints: Option<OidcEndpoints>,
    /// This application's client id at the provider.
    pub client_id: String,
    /// The client secret; absent for a public client (PKCE only).
    pub client_secret: Option<SecretString>,
    /// This API's `/auth/callback` URL, as registered at the provider.
    pub redirect_url: String,
    /// Scopes to ask for (`openid` is always added).
    pub scopes: Vec<String>,
    /// Extra authorization parameters (Google: `access_type = "offline"`).
    pub extra_auth_params: BTreeMap<String, String>,
    /// The claims carrying the profile.
    pub claims: OidcClaimNames,
    /// Keys encrypting the provider's tokens at rest (32 bytes, base64, each with an id).
    pub token_keys: Vec<OidcTokenKey>,
    /// The id of the key new ciphertexts use; the others only decrypt.
    pub active_token_key: String,
    /// A session unused this long ends.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not.
    #[serde(with = "humantime_serde")]
    pub absolute_timeout: Duration,
    /// How long a started sign-in may take.
    #[serde(with = "humantime_serde")]
    pub login_timeout: Duration,
    /// The name of the short-lived pre-authentication cookie.
    pub login_cookie: String,
    /// Whether cookies are `Secure`. Turn off only for local plain http.
    pub cookie_secure: bool,
    /// Prefix of the session keys in the cache.
    pub key_prefix: String,
    /// Refresh the provider's access token this long before it expires.
    #[serde(with = "humantime_serde")]
    pub refresh_skew: Duration,
    /// Clock skew tolerated on the ID token's times.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// Timeout of each request to the provider.
    #[serde(with = "humantime_serde")]
    pub http_timeout: Duration,
    /// The shortest time between two fetches of the provider's keys.
    #[serde(with = "humantime_serde")]
    pub jwks_min_refresh: Duration,
    /// Where to go after signing in when the login named no page (a local path).
    pub post_login_redirect: String,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            endpoints: None,
            client_id: String::new(),
            client_secret: None,
            redirect_url: String::new(),
            scopes: ["openid", "email", "profile"].map(str::to_owned).to_vec(),
            extra_auth_params: BTreeMap::new(),
            claims: OidcClaimNames::default(),
            token_keys: Vec::new(),
            active_token_key: String::new(),
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
            login_timeout: Duration::from_secs(10 * 60),
            login_cookie: "seam_login".to_owned(),
            cookie_secure: true,
            key_prefix: "seam:signin:".to_owned(),
            refresh_skew: Duration::from_secs(60),
            leeway: Duration::from_secs(60),
            http_timeout: Duration::from_secs(10),
            jwks_min_refresh: Duration::from_secs(60),
            post_login_redirect: "/".to_owned(),
        }
    }
}

/// The endpoints of a provider that does not publish discovery.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcEndpoints {
    /// Where the browser signs in.
    pub authorization_endpoint: String,
    /// Where codes and refresh tokens are exchanged.
    pub token_endpoint: String,
    /// The provider's public keys.
    pub jwks_uri: String,
    /// RFC 7009 revocation, if any.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// The userinfo endpoint, if any.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
}

/// The ID token claims carrying each part of the profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcClaimNames {
    /// The stable account id. Default `sub`.
    pub subject: String,
    /// The e-mail address. Default `email`.
    pub email: String,
    /// Whether the address is verified. Default `email_verified`.
    pub email_verified: String,
    /// The display name. Default `name`.
    pub name: String,
    /// The picture URL. Default `picture`.
    pub picture: String,
}

impl Default for OidcClaimNames {
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

/// One key encrypting tokens at rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcTokenKey {
    /// Its id, written into every ciphertext.
    pub id: String,
    /// 32 random bytes, base64 (`openssl rand -base64 32`).
    pub key: SecretString,
}

impl OidcSettings {
    /// Every problem found, each naming its key (`auth.oidc.*`).
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("issuer", &self.issuer),
            ("client_id", &self.client_id),
            ("redirect_url", &self.redirect_url),
            ("active_token_key", &self.active_token_key),
        ] {
            if value.trim().is_empty() {
                problems.push(format!("`auth.oidc.{key}`: must be set"));
            }
        }
        for (key, value) in [
            ("issuer", &self.issuer),
            ("redirect_url", &self.redirect_url),
        ] {
            if !value.is_empty() && !value.starts_with("https://") && !is_loopback_http(value) {
                problems.push(format!(
                    "`auth.oidc.{key}`: {value:?} must be an https URL (plain http only on 127.0.0.1 or localhost)"
                ));
            }
        }
        if self.token_keys.is_empty() {
            problems.push(
                "`auth.oidc.token_keys`: configure at least one key (`openssl rand -base64 32`)"
                    .to_owned(),
            );
        }
        for (i, key) in self.token_keys.iter().enumerate() {
            if key.key.expose_secret().trim().is_empty() {
                problems.push(format!(
                    "`auth.oidc.token_keys[{i}]` ({:?}): empty key",
                    key.id
                ));
            }
        }
        if !self.active_token_key.is_empty()
            && !self
                .token_keys
                .iter()
                .any(|k| k.id == self.active_token_key)
        {
            problems.push(format!(
                "`auth.oidc.active_token_key`: {:?} is not among `token_keys`",
                self.active_token_key
            ));
        }
        for (key, value) in [
            ("idle_timeout", self.idle_timeout),
            ("absolute_timeout", self.absolute_timeout),
            ("login_timeout", self.login_timeout),
            ("http_timeout", self.http_timeout),
        ] {
            if value.is_zero() {
                problems.push(format!("`auth.oidc.{key}`: must be more than 0"));
            }
        }
        if self.absolute_timeout < self.idle_timeout {
            problems
                .push("`auth.oidc.absolute_timeout`: must be at least `idle_timeout`".to_owned());
        }
        if !self.post_login_redirect.starts_with('/') || self.post_login_redirect.starts_with("//")
        {
            problems.push(
                "`auth.oidc.post_login_redirect`: must be a local path such as \"/\"".to_owned(),
            );
        }
        problems
    }
}

fn is_loopback_http(url: &str) -> bool {
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|prefix| {
            url.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_names_what_is_missing() {
        let problems = OidcSettings::default().problems().join("\n");
        for key in [
            "issuer",
            "client_id",
            "redirect_url",
            "active_token_key",
            "token_keys",
        ] {
            assert!(
                problems.contains(&format!("auth.oidc.{key}")),
                "{key}: {problems}"
            );
        }
    }

    #[test]
    fn a_complete_section_passes_and_hides_its_secrets() {
        let settings = OidcSettings {
            issuer: "https://accounts.google.com".to_owned(),
            client_id: "client".to_owned(),
            client_secret: Some(SecretString::from("very-secret".to_owned())),
            redirect_url: "http://127.0.0.1:8080/auth/callback".to_owned(),
            token_keys: vec![OidcTokenKey {
                id: "k1".to_owned(),
                key: SecretString::from("AAAA".to_owned()),
            }],
            active_token_key: "k1".to_owned(),
            ..OidcSettings::default()
        };
        assert!(settings.problems().is_empty(), "{:?}", settings.problems());
        let shown = format!("{settings:?} {}", serde_json::to_string(&settings).unwrap());
        assert!(
            !shown.contains("very-secret") && !shown.contains("AAAA"),
            "{shown}"
        );
        let plain = OidcSettings {
            issuer: "http://idp.example.com".to_owned(),
            ..settings
        };
        assert!(plain.problems().join("").contains("auth.oidc.issuer"));
    }
}
