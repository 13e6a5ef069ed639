//! Shared test set-up: a sign-in over in-memory users, identities and cache driven by a
//! manual clock, and a wiremock OpenID provider that signs its own ID tokens.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use seam_auth_oauth2::{Callback, OidcConfig, OidcSignIn, SignInDeps, SignedIn, TokenKeyConfig};
use seam_cache::InMemoryCache;
use seam_core::{Clock, ManualClock, SecretString};
use seam_repository::memory::MemoryRepositories;
use seam_repository::{DynIdentityRepository, DynUserRepository, MemoryIdentities};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const CLIENT_ID: &str = "seam-test";
pub(crate) const CLIENT_SECRET: &str = "seam-test-secret";
pub(crate) const TEST_KID: &str = "test-key-1";

/// A token key `id` whose 32 bytes are all `byte`.
pub(crate) fn token_key(id: &str, byte: u8) -> TokenKeyConfig {
    TokenKeyConfig {
        id: id.to_owned(),
        key: SecretString::from(base64::engine::general_purpose::STANDARD.encode([byte; 32])),
    }
}

/// A configuration for a provider at `issuer`, over plain http (cookies not `Secure`).
pub(crate) fn config(issuer: &str) -> OidcConfig {
    let mut config = OidcConfig::new(
        issuer,
        CLIENT_ID,
        "http://127.0.0.1:8080/auth/callback",
        vec![token_key("k1", 1)],
        "k1",
    );
    config.client_secret = Some(SecretString::from(CLIENT_SECRET.to_owned()));
    config.session.cookie_secure = false;
    config
}

/// A sign-in with everything it works with, the clock in the test's hand.
pub(crate) struct Harness {
    pub(crate) signin: OidcSignIn,
    pub(crate) clock: ManualClock,
    pub(crate) users: Arc<DynUserRepository>,
    pub(crate) identities: Arc<DynIdentityRepository>,
    pub(crate) deps: SignInDeps,
}

impl Harness {
    pub(crate) async fn new(config: OidcConfig) -> Self {
        Self::with_clock(config, ManualClock::new()).await
    }

    pub(crate) async fn with_clock(config: OidcConfig, clock: ManualClock) -> Self {
        seam_testkit::init_test_logging();
        let users: Arc<DynUserRepository> = MemoryRepositories::new().ports().users;
        let identities: Arc<DynIdentityRepository> = Arc::new(MemoryIdentities::new(users.clone()));
        let deps = SignInDeps {
            cache: Arc::new(InMemoryCache::with_clock(clock.shared())),
            users: users.clone(),
            identities: identities.clone(),
            clock: clock.shared(),
        };
        let signin = OidcSignIn::build(config, deps.clone())
            .await
            .expect("build the sign-in");
        Self {
            signin,
            clock,
            users,
            identities,
            deps,
        }
    }

    /// A second sign-in over the same cache, users and clock, with another config
    /// (a rotated key, say).
    pub(crate) async fn rebuild(&self, config: OidcConfig) -> OidcSignIn {
        OidcSignIn::build(config, self.deps.clone())
            .await
            .expect("build the sign-in")
    }
}

/// The value of query parameter `name` in `url`.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let url = oauth2::url::Url::parse(url).expect("an absolute URL");
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A wiremock OpenID provider: discovery, JWKS (`tests/data/jwks.json`), revocation,
/// and a token endpoint the test programs.
pub(crate) struct MockProvider {
    pub(crate) server: MockServer,
}

impl MockProvider {
    pub(crate) async fn start() -> Self {
        let server = MockServer::start().await;
        let issuer = server.uri();
        let discovery = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "revocation_endpoint": format!("{issuer}/revoke"),
        });
        Mock::given(method("GET"))
            .and(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(discovery))
            .mount(&server)
            .await;
        let jwks: Value =
            serde_json::from_str(include_str!("../data/jwks.json")).expect("test JWKS");
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(jwks))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/revoke"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        Self { server }
    }

    pub(crate) fn issuer(&self) -> String {
        self.server.uri()
    }

    /// Standard claims for `subject`, valid for ten minutes from `clock`'s now.
    pub(crate) fn claims(&self, clock: &ManualClock, subject: &str, nonce: &str) -> Value {
        let now = clock
            .system_time()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        json!({
            "iss": self.issuer(),
            "aud": CLIENT_ID,
            "sub": subject,
            "exp": now + 600,
            "iat": now,
            "nonce": nonce,
            "email": format!("{subject}@example.com"),
            "email_verified": true,
            "name": "Mock User",
        })
    }

    /// The next code exchange answers with `id_token` and, for refreshes, `refresh`.
    pub(crate) async fn answer_code_exchange(&self, id_token: &str, expires_in: u64) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=authorization_code"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "mock-access-1",
                "token_type": "Bearer",
                "expires_in": expires_in,
                "refresh_token": "mock-refresh-1",
                "id_token": id_token,
                "scope": "openid email profile",
            })))
            .up_to_n_times(1)
            .mount(&self.server)
            .await;
    }

    /// Signs in through `harness` with claims changed by `edit`, answering the code
    /// exchange with an ID token carrying them, signed with the first test key.
    pub(crate) async fn sign_in_with(
        &self,
        harness: &Harness,
        previous_session: Option<&str>,
        edit: impl FnOnce(&mut Value),
    ) -> seam_auth::Result<SignedIn> {
        self.sign_in_signed(harness, previous_session, edit, |claims| {
            sign(claims, TEST_KID)
        })
        .await
    }

    /// As [`sign_in_with`](Self::sign_in_with), the ID token made by `signer`.
    pub(crate) async fn sign_in_signed(
        &self,
        harness: &Harness,
        previous_session: Option<&str>,
        edit: impl FnOnce(&mut Value),
        signer: impl FnOnce(&Value) -> String,
    ) -> seam_auth::Result<SignedIn> {
        let start = harness.signin.begin(Some("/orders")).await.unwrap();
        let state = query_param(&start.redirect_url, "state").unwrap();
        let nonce = query_param(&start.redirect_url, "nonce").unwrap();
        let mut claims = self.claims(&harness.clock, "mock-user", &nonce);
        edit(&mut claims);
        self.answer_code_exchange(&signer(&claims), 300).await;
        harness
            .signin
            .complete(Callback {
                login_id: Some(start.cookie.value()),
                previous_session,
                code: Some("mock-code"),
                state: Some(&state),
                error: None,
                iss: None,
            })
            .await
    }

    /// How many times the JWKS was fetched.
    pub(crate) async fn jwks_fetches(&self) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|request| request.url.path() == "/jwks")
            .count()
    }
}

/// Signs `claims` with the first test RSA key (`tests/data/rsa-test-key.pem`), RS256.
pub(crate) fn sign(claims: &Value, kid: &str) -> String {
    sign_with(claims, kid, include_bytes!("../data/rsa-test-key.pem"))
}

/// Signs `claims` with an RSA key in PEM, RS256, naming `kid`.
pub(crate) fn sign_with(claims: &Value, kid: &str, pem: &[u8]) -> String {
    let key = EncodingKey::from_rsa_pem(pem).expect("test RSA key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

/// Time passes on the manual clock.
pub(crate) fn advance(clock: &ManualClock, seconds: u64) {
    clock.advance(Duration::from_secs(seconds));
}
