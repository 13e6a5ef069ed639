//! The OAuth2 side of sign-in, over the `oauth2` crate: the authorization URL (PKCE
//! S256, `state`, `nonce`), the code and refresh-token exchanges, RFC 7009 revocation.

use std::fmt;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, HttpClientError, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse,
    TokenResponse as _, TokenUrl,
};
use oauth2::{ErrorResponse, reqwest};
use seam_auth::Error;
use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::OidcConfig;
use crate::error::{ProviderError, config_error, provider_error};
use crate::provider::{ProviderMetadata, check_url};

/// The `id_token` an OpenID Connect token response adds to OAuth2's fields.
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenField")
            .field(
                "id_token",
                &self.id_token.as_ref().map(|_| seam_core::secret::REDACTED),
            )
            .finish()
    }
}

impl ExtraTokenFields for IdTokenField {}

type OidcTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

type Oauth2Client = oauth2::Client<
    BasicErrorResponse,
    OidcTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Tokens the provider issued. `Debug` shows none of them.
pub(crate) struct IssuedTokens {
    pub(crate) access_token: SecretString,
    pub(crate) refresh_token: Option<SecretString>,
    pub(crate) id_token: Option<SecretString>,
    pub(crate) expires_in: Option<std::time::Duration>,
    pub(crate) scopes: Vec<String>,
}

impl fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("access_token", &self.access_token)
            .field(
                "refresh_token",
                &self
                    .refresh_token
                    .as_ref()
                    .map(|_| seam_core::secret::REDACTED),
            )
            .field(
                "id_token",
                &self.id_token.as_ref().map(|_| seam_core::secret::REDACTED),
            )
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl From<OidcTokenResponse> for IssuedTokens {
    fn from(response: OidcTokenResponse) -> Self {
        Self {
            access_token: SecretString::from(response.access_token().secret().clone()),
            refresh_token: response
                .refresh_token()
                .map(|token| SecretString::from(token.secret().clone())),
            id_token: response
                .extra_fields()
                .id_token
                .clone()
                .map(SecretString::from),
            expires_in: response.expires_in(),
            scopes: response
                .scopes()
                .map(|scopes| scopes.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
        }
    }
}

/// A started authorization request: the URL to send the browser to, and what the
/// callback must be checked against.
pub(crate) struct AuthorizationRequest {
    pub(crate) url: String,
    pub(crate) state: SecretString,
    pub(crate) nonce: SecretString,
    pub(crate) pkce_verifier: SecretString,
}

/// The OAuth2 client for one provider.
#[derive(Debug, Clone)]
pub(crate) struct OidcClient {
    client: Oauth2Client,
    http: reqwest::Client,
    issuer: String,
    client_id: String,
    client_secret: Option<SecretString>,
    revocation: Option<oauth2::url::Url>,
    scopes: Vec<String>,
    extra: Vec<(String, String)>,
}

impl OidcClient {
    pub(crate) fn new(
        config: &OidcConfig,
        metadata: &ProviderMetadata,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let auth = AuthUrl::new(metadata.authorization_endpoint.clone())
            .map_err(|e| config_error("authorization_endpoint", e))?;
        let token = TokenUrl::new(metadata.token_endpoint.clone())
            .map_err(|e| config_error("token_endpoint", e))?;
        let revocation = metadata
            .revocation_endpoint
            .as_deref()
            .map(|url| check_url("revocation_endpoint", url))
            .transpose()?;
        check_url("redirect_url", &config.redirect_url)?;
        let redirect = RedirectUrl::new(config.redirect_url.clone())
            .map_err(|e| config_error("redirect_url", e))?;
        if config.client_id.trim().is_empty() {
            return Err(config_error("client_id", "must not be blank"));
        }
        let mut client = oauth2::Client::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(auth)
            .set_token_uri(token)
            .set_redirect_uri(redirect);
        if let Some(secret) = &config.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().clone()));
        }
        let mut scopes: Vec<String> = vec!["openid".to_owned()];
        for scope in &config.scopes {
            let scope = scope.trim();
            if scope.is_empty() || scope.contains(char::is_whitespace) {
                return Err(config_error("scopes", format!("{scope:?} is not a scope")));
            }
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        const RESERVED: &[&str] = &[
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
        ];
        if let Some(name) = config
            .extra_auth_params
            .keys()
            .find(|name| RESERVED.contains(&name.as_str()))
        {
            return Err(config_error(
                "extra_auth_params",
                format!("{name:?} is set by the sign-in flow itself"),
            ));
        }
        Ok(Self {
            client,
            http,
            issuer: metadata.issuer.clone(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            revocation,
            scopes,
            extra: config
                .extra_auth_params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    pub(crate) fn has_revocation(&self) -> bool {
        self.revocation.is_some()
    }

    /// A new authorization request with fresh `state`, `nonce` and PKCE verifier
    /// (each 256 random bits).
    pub(crate) fn authorization_request(&self) -> AuthorizationRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random_len(32);
        let mut request = self
            .client
            .authorize_url(|| CsrfToken::new_random_len(32))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce.secret().clone());
        for (name, value) in &self.extra {
            request = request.add_extra_param(name.clone(), value.clone());
        }
        let (url, state) = request.url();
        AuthorizationRequest {
            url: url.to_string(),
            state: SecretString::from(state.secret().clone()),
            nonce: SecretString::from(nonce.secret().clone()),
            pkce_verifier: SecretString::from(verifier.secret().clone()),
        }
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &SecretString,
    ) -> Result<IssuedTokens, Error> {
        self.client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose_secret().clone()))
            .request_async(&self.http)
            .await
            .map(IssuedTokens::from)
            .map_err(|e| provider_error(&self.issuer, convert("token", e)))
    }

    /// Exchanges a refresh token for fresh tokens; `invalid_grant` means the grant is
    /// gone (revoked, expired) and the user must sign in again.
    pub(crate) async fn refresh(
        &self,
        refresh_token: &SecretString,
    ) -> Result<IssuedTokens, Error> {
        let token = RefreshToken::new(refresh_token.expose_secret().clone());
        self.client
            .exchange_refresh_token(&token)
            .request_async(&self.http)
            .await
            .map(IssuedTokens::from)
            .map_err(|e| provider_error(&self.issuer, convert("token", e)))
    }

    /// Revokes a token at the RFC 7009 endpoint. `Ok(false)` when the provider has none.
    ///
    /// Written here rather than with `oauth2`'s revocation request, which refuses any
    /// endpoint that is not https: the endpoint was checked to be https, or plain http
    /// on a loopback host only (a local or test provider), like every other endpoint.
    pub(crate) async fn revoke(
        &self,
        token: &SecretString,
        hint: TokenHint,
    ) -> Result<bool, Error> {
        let Some(url) = &self.revocation else {
            return Ok(false);
        };
        let endpoint = "revocation";
        let mut form = vec![
            ("token", token.expose_secret().as_str()),
            ("token_type_hint", hint.as_str()),
        ];
        let mut request = self.http.post(url.clone());
        match &self.client_secret {
            // RFC 6749, 2.3.1: both are form-urlencoded before the Basic encoding.
            Some(secret) => {
                let encode = |s: &str| {
                    oauth2::url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                request = request.basic_auth(
                    encode(&self.client_id),
                    Some(encode(secret.expose_secret())),
                );
            }
            None => form.push(("client_id", self.client_id.as_str())),
        }
        let response = request
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|source| {
                provider_error(&self.issuer, ProviderError::Transport { endpoint, source })
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(true);
        }
        let body = response.bytes().await.unwrap_or_default();
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let error = match answer.get("error").and_then(serde_json::Value::as_str) {
            Some(code) => ProviderError::oauth(
                endpoint,
                code,
                answer
                    .get("error_description")
                    .and_then(serde_json::Value::as_str),
            ),
            None => ProviderError::Status {
                endpoint,
                status: status.as_u16(),
            },
        };
        Err(provider_error(&self.issuer, error))
    }
}

/// Which token a revocation names (RFC 7009 `token_type_hint`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum TokenHint {
    Access,
    Refresh,
}

impl TokenHint {
    fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access_token",
            Self::Refresh => "refresh_token",
        }
    }
}

fn convert<E>(
    endpoint: &'static str,
    error: RequestTokenError<HttpClientError<reqwest::Error>, E>,
) -> ProviderError
where
    E: ErrorResponse + 'static,
{
    match error {
        RequestTokenError::ServerResponse(response) => {
            // The error type is only known to serialise: read its standard fields.
            let value = serde_json::to_value(&response).unwrap_or_default();
            let code = value
                .get("error")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("unknown_error");
            let description = value
                .get("error_description")
                .and_then(serde_json::Value::as_str);
            ProviderError::oauth(endpoint, code, description)
        }
        RequestTokenError::Request(HttpClientError::Reqwest(source)) => ProviderError::Transport {
            endpoint,
            source: *source,
        },
        RequestTokenError::Request(other) => ProviderError::Parse {
            endpoint,
            message: other.to_string(),
        },
        RequestTokenError::Parse(error, _body) => ProviderError::Parse {
            endpoint,
            message: error.to_string(),
        },
        RequestTokenError::Other(message) => ProviderError::Parse { endpoint, message },
    }
}
