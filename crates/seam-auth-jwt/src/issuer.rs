//! [`TokenIssuer`]: Seam's own short-lived access tokens, signed with an asymmetric
//! key, and the JWK set that publishes the public halves.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore;
use seam_auth::{Error, Principal, Result};
use seam_core::{ExposeSecret, SecretString, SharedClock, SystemClock};
use seam_domain::UserId;
use serde::Serialize;

use crate::config::{ClaimsMapping, KeySource, TrustedIssuer, is_hmac};

/// The claim Seam's tokens carry the Seam user id in.
pub const USER_ID_CLAIM: &str = "uid";

/// One signing key of the issuer.
#[derive(Debug, Clone)]
pub struct SigningKeyConfig {
    /// The key id (`kid`) published in the JWK set and put in every token's header.
    pub kid: String,
    /// The algorithm: an asymmetric one (`RS256`, `PS256`, `ES256`, `ES384`, `EdDSA`, ...).
    pub algorithm: Algorithm,
    /// The private key, PEM (PKCS#8; PKCS#1 also for RSA).
    pub private_key_pem: SecretString,
}

/// The issuer's settings.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// The `iss` of every token (a URL naming this deployment).
    pub issuer: String,
    /// The `aud` of every token.
    pub audiences: Vec<String>,
    /// How long an access token lives unless a request asks for less.
    pub access_ttl: Duration,
    /// The longest lifetime a request may ask for.
    pub max_access_ttl: Duration,
    /// Every key: all are published in the JWK set (so tokens signed by a retired key
    /// keep validating until it is removed from this list); one signs.
    pub keys: Vec<SigningKeyConfig>,
    /// The key that signs new tokens; the first key when `None`.
    pub active_kid: Option<String>,
}

/// What a token is issued for.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// The subject (`sub`): a user id, a service name.
    pub subject: String,
    /// The Seam user, put in the `uid` claim.
    pub user_id: Option<UserId>,
    /// Roles (`roles` claim).
    pub roles: BTreeSet<String>,
    /// Scopes (`scope` claim, space-separated).
    pub scopes: BTreeSet<String>,
    /// A shorter lifetime than the configured one; capped at `max_access_ttl`.
    pub ttl: Option<Duration>,
}

impl TokenRequest {
    /// A request for `subject` with no roles or scopes.
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            ..Self::default()
        }
    }

    /// The request a [`Principal`] would make to renew itself (same subject, user,
    /// roles and scopes).
    pub fn for_principal(principal: &Principal) -> Self {
        Self {
            subject: principal.subject.clone(),
            user_id: principal.user_id,
            roles: principal.roles.clone(),
            scopes: principal.scopes.clone(),
            ttl: None,
        }
    }
}

/// A signed access token. `Debug` does not show the token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The compact JWT.
    pub token: SecretString,
    /// Its id (`jti`), the key of the deny-list.
    pub jti: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The key that signed it.
    pub kid: String,
}

#[derive(Debug)]
struct LoadedKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
}

/// Issues Seam's access tokens and publishes its public keys.
///
/// Tokens carry `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `roles`, `scope`
/// and, for users, `uid`; the header names the signing key's `kid`. Only asymmetric
/// algorithms are accepted, so anyone holding the [`jwks`](Self::jwks) can verify
/// and nobody but this issuer can sign.
#[derive(Debug)]
pub struct TokenIssuer {
    issuer: String,
    audiences: Vec<String>,
    access_ttl: Duration,
    max_access_ttl: Duration,
    keys: Vec<LoadedKey>,
    active: usize,
    jwks: JwkSet,
    clock: SharedClock,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a [String],
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: &'a str,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    roles: &'a BTreeSet<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
}

impl TokenIssuer {
    /// An issuer on the system clock.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when there is no key, a key is not a valid PEM for its
    /// algorithm, an algorithm is symmetric, a `kid` repeats, `active_kid` names no
    /// key, or a TTL is zero.
    pub fn new(config: &IssuerConfig) -> Result<Self> {
        Self::with_clock(config, SystemClock::shared())
    }

    /// An issuer on `clock`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_clock(config: &IssuerConfig, clock: SharedClock) -> Result<Self> {
        if config.issuer.trim().is_empty() {
            return Err(Error::invalid("auth.issuer: `issuer` must not be empty"));
        }
        if config.audiences.is_empty() {
            return Err(Error::invalid("auth.issuer: `audiences` must not be empty"));
        }
        if config.access_ttl.is_zero() || config.max_access_ttl < config.access_ttl {
            return Err(Error::invalid(
                "auth.issuer: `access_ttl` must be more than 0 and at most `max_access_ttl`",
            ));
        }
        if config.keys.is_empty() {
            return Err(Error::invalid(
                "auth.issuer: at least one signing key is needed",
            ));
        }
        let mut keys = Vec::with_capacity(config.keys.len());
        let mut jwks = JwkSet::default();
        for key in &config.keys {
            if keys.iter().any(|k: &LoadedKey| k.kid == key.kid) || key.kid.is_empty() {
                return Err(Error::invalid(format!(
                    "auth.issuer: key id {:?} is empty or repeated",
                    key.kid
                )));
            }
            let loaded = load_key(key)?;
            let mut jwk =
                Jwk::from_encoding_key(&loaded.encoding, loaded.algorithm).map_err(|error| {
                    Error::invalid(format!(
                        "auth.issuer: key {:?}: no public key: {error}",
                        key.kid
                    ))
                })?;
            jwk.common.key_id = Some(key.kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            jwks.keys.push(jwk);
            keys.push(loaded);
        }
        let active = match &config.active_kid {
            None => 0,
            Some(kid) => keys.iter().position(|k| &k.kid == kid).ok_or_else(|| {
                Error::invalid(format!(
                    "auth.issuer: active_kid {kid:?} names no configured key"
                ))
            })?,
        };
        Ok(Self {
            issuer: config.issuer.clone(),
            audiences: config.audiences.clone(),
            access_ttl: config.access_ttl,
            max_access_ttl: config.max_access_ttl,
            keys,
            active,
            jwks,
            clock,
        })
    }

    /// The `iss` of the tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key id that signs new tokens.
    pub fn active_kid(&self) -> &str {
        &self.keys[self.active].kid
    }

    /// The lifetime of tokens issued without an explicit TTL.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// The public keys, for `GET /.well-known/jwks.json`.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// This issuer as a [`TrustedIssuer`] of a validator in the same process: its
    /// public keys given statically (no HTTP), its algorithms, its audiences, `jti`
    /// required, roles from `roles`, scopes from `scope`, the user from `uid`.
    pub fn trusted_issuer(&self, leeway: Duration) -> TrustedIssuer {
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for key in &self.keys {
            if !algorithms.contains(&key.algorithm) {
                algorithms.push(key.algorithm);
            }
        }
        TrustedIssuer {
            issuer: self.issuer.clone(),
            keys: KeySource::Static(self.jwks.clone()),
            audiences: self.audiences.clone(),
            algorithms,
            leeway,
            required_claims: vec!["jti".to_owned()],
            claims: ClaimsMapping {
                roles: "roles".to_owned(),
                scopes: "scope".to_owned(),
                user_id: Some(USER_ID_CLAIM.to_owned()),
            },
        }
    }

    /// Signs an access token for `request` with the active key.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the subject is empty or the TTL is zero,
    /// [`Error::Internal`] when signing fails.
    pub fn issue(&self, request: &TokenRequest) -> Result<AccessToken> {
        if request.subject.trim().is_empty() {
            return Err(Error::invalid("a token needs a non-empty subject"));
        }
        let ttl = request
            .ttl
            .unwrap_or(self.access_ttl)
            .min(self.max_access_ttl);
        if ttl.is_zero() {
            return Err(Error::invalid("a token's TTL must be more than 0"));
        }
        let key = &self.keys[self.active];
        let now = DateTime::<Utc>::from(self.clock.system_time());
        let ttl_secs = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        let expires_at =
            DateTime::<Utc>::from_timestamp(now.timestamp().saturating_add(ttl_secs), 0)
                .ok_or_else(|| Error::invalid("the TTL is out of range"))?;
        let jti = uuid::Uuid::now_v7().simple().to_string();
        let claims = Claims {
            iss: &self.issuer,
            sub: &request.subject,
            aud: &self.audiences,
            exp: expires_at.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            jti: &jti,
            roles: &request.roles,
            scope: request
                .scopes
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" "),
            uid: request.user_id.map(|id| id.to_string()),
        };
        let mut header = Header::new(key.algorithm);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(|error| {
            Error::Internal(format!("signing with key {:?} failed: {error}", key.kid))
        })?;
        Ok(AccessToken {
            token: SecretString::from(token),
            jti,
            expires_at,
            kid: key.kid.clone(),
        })
    }
}

fn load_key(key: &SigningKeyConfig) -> Result<LoadedKey> {
    let pem = key.private_key_pem.expose_secret().as_bytes();
    let bad = |error: jsonwebtoken::errors::Error| {
        Error::invalid(format!(
            "auth.issuer: key {:?} is not a valid {:?} private key PEM: {error}",
            key.kid, key.algorithm
        ))
    };
    let encoding = match key.algorithm {
        algorithm if is_hmac(algorithm) => {
            return Err(Error::invalid(format!(
                "auth.issuer: key {:?}: {algorithm:?} is symmetric; Seam signs with asymmetric keys only",
                key.kid
            )));
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => EncodingKey::from_rsa_pem(pem).map_err(bad)?,
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem).map_err(bad)?,
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem).map_err(bad)?,
        other => {
            return Err(Error::invalid(format!(
                "auth.issuer: key {:?}: algorithm {other:?} is not supported",
                key.kid
            )));
        }
    };
    Ok(LoadedKey {
        kid: key.kid.clone(),
        algorithm: key.algorithm,
        encoding,
    })
}

/// The PKCS#8 prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A new random Ed25519 private key as a PKCS#8 PEM (for `EdDSA`).
pub fn generate_ed25519_pem() -> SecretString {
    let mut der = Vec::with_capacity(48);
    der.extend_from_slice(&ED25519_PKCS8_PREFIX);
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    der.extend_from_slice(&seed);
    seed.fill(0);
    let body = STANDARD.encode(&der);
    der.fill(0);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    SecretString::from(pem)
}

/// The development signing key at `path`: read if it exists, otherwise generated
/// (Ed25519) and written there with mode 0600 (parent directories created).
///
/// For local runs and tests only: production configures its keys explicitly.
///
/// # Errors
///
/// [`Error::Invalid`] when the file cannot be read or written.
pub fn load_or_generate_dev_key(path: &Path) -> Result<SecretString> {
    match std::fs::read_to_string(path) {
        Ok(pem) => return Ok(SecretString::from(pem)),
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::invalid(format!(
                "cannot read the development signing key {}: {error}",
                path.display()
            )));
        }
        Err(_) => {}
    }
    let pem = generate_ed25519_pem();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| {
            Error::invalid(format!("cannot create {}: {error}", parent.display()))
        })?;
    }
    if write_private(path, pem.expose_secret())? {
        tracing::info!(path = %path.display(), "generated a development signing key");
        Ok(pem)
    } else {
        // Another process generated it first: use theirs.
        std::fs::read_to_string(path)
            .map(SecretString::from)
            .map_err(|error| {
                Error::invalid(format!(
                    "cannot read the development signing key {}: {error}",
                    path.display()
                ))
            })
    }
}

/// Writes a new file readable by its owner only; `false` when it exists already.
fn write_private(path: &Path, content: &str) -> Result<bool> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = options
        .open(path)
        .and_then(|mut file| file.write_all(content.as_bytes()));
    match result {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(Error::invalid(format!(
            "cannot write the development signing key {}: {error}",
            path.display()
        ))),
    }
}
