//! [`JwtValidator`]: the [`TokenValidator`] over JWTs from several trusted issuers.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use seam_auth::{DynRevocationList, Error, Principal, Result, TokenValidator};
use seam_core::{Id, SharedClock, SystemClock};
use seam_telemetry::PortMetrics;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{ClaimsMapping, ValidatorConfig, is_hmac};
use crate::jwks::IssuerKeys;

/// The longest token accepted, in bytes: anything longer is refused unparsed.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

const METRICS: PortMetrics = PortMetrics::new("auth", "jwt");

/// A trusted issuer, ready to validate.
#[derive(Debug)]
struct IssuerState {
    name: String,
    keys: IssuerKeys,
    /// One prepared validation per allowed algorithm (built once, not per token).
    validations: Vec<(Algorithm, Validation)>,
    leeway_secs: i64,
    required_claims: Vec<String>,
    claims: ClaimsMapping,
}

/// Validates JWTs from a set of trusted issuers.
///
/// The issuer is chosen by the token's (unverified) `iss`, then everything is
/// verified against that issuer alone: the algorithm against its allow-list and its
/// key's type, the signature against its keys (fetched from its JWKS and cached, see
/// [`JwksCacheConfig`](crate::JwksCacheConfig)), `aud` against its audiences, `exp`
/// and `nbf` on the [`Clock`](seam_core::Clock) with its leeway, its required claims,
/// and finally the `jti` against the [`RevocationList`](seam_auth::RevocationList),
/// when one is given (a store that is down refuses the token: fail closed).
///
/// Every refusal is logged once at `warn` with its reason, issuer and key id (never the
/// token) and returned as the precise [`Error`].
#[derive(Debug)]
pub struct JwtValidator {
    issuers: HashMap<String, IssuerState>,
    clock: SharedClock,
    revocations: Option<Arc<DynRevocationList>>,
}

/// What is read from a token before its signature is checked: only what is needed to
/// pick the issuer and key.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct RawIssuer {
    #[serde(default)]
    iss: Option<Value>,
}

impl JwtValidator {
    /// A validator for `config`, on the system clock, without a deny-list.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the configuration is wrong (see [`ValidatorConfig::validate`]).
    pub fn new(config: &ValidatorConfig) -> Result<Self> {
        Self::builder(config).build()
    }

    /// A builder to set the clock, the deny-list and the HTTP client.
    pub fn builder(config: &ValidatorConfig) -> JwtValidatorBuilder<'_> {
        JwtValidatorBuilder {
            config,
            clock: SystemClock::shared(),
            revocations: None,
            client: None,
        }
    }

    /// The issuers this validator trusts.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.keys().map(String::as_str)
    }

    async fn check(&self, token: &str, seen: &mut Seen) -> Result<Principal> {
        if token.is_empty() {
            return Err(Error::MissingCredentials);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::malformed(format!(
                "the token is longer than {MAX_TOKEN_LEN} bytes"
            )));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::malformed("a JWT has three dot-separated parts"));
        };
        let header: RawHeader = decode_part(header, "header")?;
        seen.kid = header.kid.clone();
        let raw: RawIssuer = decode_part(payload, "payload")?;
        let iss = match raw.iss {
            Some(Value::String(iss)) => iss,
            Some(_) => return Err(Error::invalid_claim("iss", "must be a string")),
            None => return Err(Error::missing_claim("iss")),
        };
        seen.issuer = Some(seam_auth_clip(&iss));
        let algorithm: Algorithm = header
            .alg
            .parse()
            .map_err(|_| Error::disallowed_algorithm(&header.alg))?;
        let issuer = self
            .issuers
            .get(&iss)
            .ok_or_else(|| Error::untrusted_issuer(&iss))?;
        let Some((_, validation)) = issuer.validations.iter().find(|(a, _)| *a == algorithm) else {
            return Err(Error::disallowed_algorithm(&header.alg));
        };
        let key = issuer.keys.key(&issuer.name, header.kid.as_deref()).await?;
        if key.key.family() != algorithm.family()
            || key.algorithm.is_some_and(|pinned| pinned != algorithm)
            || is_hmac(algorithm) != matches!(issuer.keys, IssuerKeys::Secret(_))
        {
            return Err(Error::disallowed_algorithm(&header.alg));
        }
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, validation)
            .map_err(map_jwt_error)?;
        let claims = data.claims;

        let now = DateTime::<Utc>::from(self.clock.system_time()).timestamp();
        let exp = numeric_date(&claims, "exp")?.ok_or_else(|| Error::missing_claim("exp"))?;
        if now > exp.saturating_add(issuer.leeway_secs) {
            return Err(Error::Expired);
        }
        if let Some(nbf) = numeric_date(&claims, "nbf")?
            && nbf > now.saturating_add(issuer.leeway_secs)
        {
            return Err(Error::NotYetValid);
        }
        for claim in &issuer.required_claims {
            if claims.get(claim).is_none_or(Value::is_null) {
                return Err(Error::missing_claim(claim.clone()));
            }
        }
        let principal = principal(&issuer.name, &issuer.claims, &claims, exp)?;
        if let (Some(revocations), Some(jti)) = (&self.revocations, &principal.token_id)
            && revocations.is_revoked(jti).await?
        {
            return Err(Error::Revoked);
        }
        Ok(principal)
    }
}

/// What the log line of a refusal names.
#[derive(Default)]
struct Seen {
    issuer: Option<String>,
    kid: Option<String>,
}

fn seam_auth_clip(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .take(128)
        .collect()
}

#[async_trait]
impl TokenValidator for JwtValidator {
    async fn validate(&self, token: &str) -> Result<Principal> {
        let mut seen = Seen::default();
        let result = METRICS.call("validate", self.check(token, &mut seen)).await;
        if let Err(error) = &result {
            let issuer = seen.issuer.as_deref().unwrap_or("-");
            let kid = seen.kid.as_deref().map(seam_auth_clip);
            let kid = kid.as_deref().unwrap_or("-");
            if error.is_invalid_credential() {
                tracing::warn!(
                    auth.reason = error.reason(),
                    auth.issuer = issuer,
                    auth.kid = kid,
                    error.message = %error,
                    "bearer token rejected"
                );
            } else if !matches!(error, Error::MissingCredentials) {
                tracing::error!(
                    auth.reason = error.reason(),
                    auth.issuer = issuer,
                    auth.kid = kid,
                    error.message = %error,
                    "bearer token could not be checked"
                );
            }
        }
        result
    }
}

/// Builds a [`JwtValidator`].
#[derive(Debug)]
pub struct JwtValidatorBuilder<'a> {
    config: &'a ValidatorConfig,
    clock: SharedClock,
    revocations: Option<Arc<DynRevocationList>>,
    client: Option<reqwest::Client>,
}

impl JwtValidatorBuilder<'_> {
    /// Uses `clock` for `exp`/`nbf` and the JWKS cache (a `ManualClock` in tests).
    #[must_use]
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Refuses tokens whose `jti` is on `revocations`.
    #[must_use]
    pub fn revocations(mut self, revocations: Arc<DynRevocationList>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// Fetches JWKS documents with `client` instead of a default one.
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks the configuration and builds the validator.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the wrong setting.
    pub fn build(self) -> Result<JwtValidator> {
        self.config.validate()?;
        let client = match self.client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .map_err(|error| Error::Internal(format!("HTTP client: {error}")))?,
        };
        let mut issuers = HashMap::new();
        for trusted in &self.config.issuers {
            let keys = IssuerKeys::build(
                &trusted.issuer,
                &trusted.keys,
                &self.config.jwks,
                &client,
                self.clock.clone(),
            )?;
            let mut validation = Validation::new(trusted.algorithms[0]);
            validation.algorithms = trusted.algorithms.clone();
            // exp and nbf are checked on our clock, not jsonwebtoken's system time.
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.leeway = 0;
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation.set_issuer(&[trusted.issuer.as_str()]);
            validation.set_audience(&trusted.audiences);
            validation.validate_aud = true;
            let validations = trusted
                .algorithms
                .iter()
                .map(|algorithm| {
                    let mut validation = validation.clone();
                    validation.algorithms = vec![*algorithm];
                    (*algorithm, validation)
                })
                .collect();
            issuers.insert(
                trusted.issuer.clone(),
                IssuerState {
                    name: trusted.issuer.clone(),
                    keys,
                    validations,
                    leeway_secs: i64::try_from(trusted.leeway.as_secs()).unwrap_or(i64::MAX),
                    required_claims: trusted.required_claims.clone(),
                    claims: trusted.claims.clone(),
                },
            );
        }
        Ok(JwtValidator {
            issuers,
            clock: self.clock,
            revocations: self.revocations,
        })
    }
}

fn decode_part<T: for<'de> Deserialize<'de>>(part: &str, what: &str) -> Result<T> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Error::malformed(format!("the {what} is not base64url")))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| Error::malformed(format!("the {what} is not the expected JSON")))
}

fn map_jwt_error(error: jsonwebtoken::errors::Error) -> Error {
    match error.into_kind() {
        JwtErrorKind::InvalidSignature => Error::InvalidSignature,
        JwtErrorKind::ExpiredSignature => Error::Expired,
        JwtErrorKind::ImmatureSignature => Error::NotYetValid,
        JwtErrorKind::InvalidIssuer => Error::wrong_issuer("(another issuer)"),
        JwtErrorKind::InvalidAudience => Error::WrongAudience,
        JwtErrorKind::InvalidAlgorithm
        | JwtErrorKind::InvalidKeyFormat
        | JwtErrorKind::UnsupportedAlgorithm => Error::disallowed_algorithm("(for this key)"),
        JwtErrorKind::MissingRequiredClaim(claim) => Error::missing_claim(claim),
        JwtErrorKind::InvalidClaimFormat(claim) => Error::invalid_claim(claim, "wrong type"),
        JwtErrorKind::InvalidSubject => Error::invalid_claim("sub", "unexpected subject"),
        JwtErrorKind::Base64(_) => Error::malformed("a part is not base64url"),
        JwtErrorKind::Json(_) | JwtErrorKind::Utf8(_) => Error::malformed("a part is not JSON"),
        JwtErrorKind::InvalidToken => Error::malformed("not a JWT"),
        JwtErrorKind::InvalidRsaKey(_)
        | JwtErrorKind::InvalidEcdsaKey
        | JwtErrorKind::InvalidEddsaKey => Error::InvalidSignature,
        other => Error::Internal(format!("token verification failed: {other:?}")),
    }
}

/// A NumericDate claim as whole seconds.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            .or_else(|| number.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| Error::invalid_claim(name, "not a NumericDate")),
        Some(_) => Err(Error::invalid_claim(name, "not a NumericDate")),
    }
}

/// The value at `path`: the key as written if present, else a dot-separated path.
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// Strings from an array of strings or a space-separated string.
fn string_set(claim: &str, value: Option<&Value>) -> Result<BTreeSet<String>> {
    match value {
        None | Some(Value::Null) => Ok(BTreeSet::new()),
        Some(Value::String(text)) => Ok(text.split_whitespace().map(str::to_owned).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::invalid_claim(claim, "must hold strings"))
            })
            .collect(),
        Some(_) => Err(Error::invalid_claim(
            claim,
            "must be an array of strings or a space-separated string",
        )),
    }
}

fn principal(
    issuer: &str,
    mapping: &ClaimsMapping,
    claims: &Map<String, Value>,
    exp: i64,
) -> Result<Principal> {
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        Some(_) => return Err(Error::invalid_claim("sub", "must be a non-empty string")),
        None => return Err(Error::missing_claim("sub")),
    };
    let expires_at = DateTime::<Utc>::from_timestamp(exp, 0)
        .ok_or_else(|| Error::invalid_claim("exp", "out of range"))?;
    let mut principal = Principal::new(subject, issuer, expires_at);
    principal.roles = string_set(&mapping.roles, claim_at(claims, &mapping.roles))?;
    principal.scopes = string_set(&mapping.scopes, claim_at(claims, &mapping.scopes))?;
    if mapping.scopes == "scope" {
        principal
            .scopes
            .extend(string_set("scp", claims.get("scp"))?);
    }
    if let Some(claim) = &mapping.user_id
        && let Some(value) = claim_at(claims, claim)
    {
        let id = value
            .as_str()
            .and_then(|text| text.parse::<Id<seam_domain::User>>().ok())
            .ok_or_else(|| Error::invalid_claim(claim.clone(), "not a user id (UUID)"))?;
        principal.user_id = Some(id);
    }
    principal.token_id = match claims.get("jti") {
        Some(Value::String(jti)) if !jti.is_empty() => Some(jti.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(Error::invalid_claim("jti", "must be a non-empty string")),
    };
    Ok(principal)
}
