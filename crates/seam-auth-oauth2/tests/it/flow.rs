//! The whole sign-in against a real OpenID Connect provider on loopback
//! (`scripts/oidc-provider.sh start`: node-oidc-provider on 127.0.0.1:9400), driven
//! headlessly: login -> callback -> session -> refresh -> logout -> revoked.

use std::collections::BTreeMap;

use oauth2::reqwest;
use seam_auth::SessionResolver;
use seam_auth_oauth2::{Callback, OidcConfig};
use seam_core::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::support::{CLIENT_ID, CLIENT_SECRET, Harness, advance, config, query_param};

/// The test provider's issuer.
pub(crate) const ISSUER: &str = "http://127.0.0.1:9400";

/// Fails (never skips) when the provider does not answer.
pub(crate) async fn require_provider() {
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        tokio::net::TcpStream::connect("127.0.0.1:9400"),
    )
    .await;
    if !matches!(answer, Ok(Ok(_))) {
        panic!(
            "the OpenID Connect test provider (node oidc-provider) does not answer on \
             127.0.0.1:9400: start it with `scripts/oidc-provider.sh start`"
        );
    }
}

/// A browser without JavaScript: keeps cookies, follows nothing by itself.
pub(crate) struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub(crate) fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookie = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie)
        };
        let response = request.send().await.expect("the provider answers");
        for header in response.headers().get_all("set-cookie") {
            let text = header.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        response
    }

    fn absolute(location: &str) -> String {
        if location.starts_with('/') {
            format!("{ISSUER}{location}")
        } else {
            location.to_owned()
        }
    }

    /// Signs in at the provider as `login` from the authorization URL, through the dev
    /// interactions (login form, then consent), and returns the redirect back to the
    /// application (its callback URL with `code` and `state`).
    pub(crate) async fn authorize(&mut self, authorization_url: &str, login: &str) -> String {
        let mut url = authorization_url.to_owned();
        for _ in 0..12 {
            if !url.starts_with(ISSUER) {
                return url;
            }
            let response = if url.contains("/interaction/") {
                let page = self.send(self.http.get(&url)).await.text().await.unwrap();
                let form: Vec<(&str, &str)> = if page.contains(r#"name="prompt" value="login""#) {
                    vec![("prompt", "login"), ("login", login), ("password", "any")]
                } else if page.contains(r#"name="prompt" value="consent""#) {
                    vec![("prompt", "consent")]
                } else {
                    panic!("unexpected interaction page: {page}");
                };
                self.send(self.http.post(&url).form(&form)).await
            } else {
                self.send(self.http.get(&url)).await
            };
            let status = response.status();
            let location = response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            match location {
                Some(location) if status.is_redirection() => url = Self::absolute(&location),
                _ => panic!(
                    "the provider answered {status} without a redirect: {}",
                    response.text().await.unwrap_or_default()
                ),
            }
        }
        panic!("the provider kept redirecting");
    }
}

/// The provider's RFC 7662 introspection of a token: is it active?
pub(crate) async fn active_at_provider(token: &SecretString) -> bool {
    let body = reqwest::Client::new()
        .post(format!("{ISSUER}/token/introspection"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", token.expose_secret().as_str())])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&body).expect("introspection JSON");
    answer["active"].as_bool().expect("an introspection answer")
}

/// A configuration for the loopback provider.
pub(crate) fn provider_config() -> OidcConfig {
    let mut config = config(ISSUER);
    config.redirect_url = "http://127.0.0.1:39999/auth/callback".to_owned();
    config
}

/// A login name of its own for each test.
pub(crate) fn unique_login(prefix: &str) -> String {
    format!("{prefix}-{}", uuid_like())
}

fn uuid_like() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn login_callback_session_refresh_logout_revoked() {
    require_provider().await;
    let harness = Harness::new(provider_config()).await;
    assert_eq!(
        harness
            .signin
            .metadata()
            .expect("discovered")
            .revocation_endpoint
            .as_deref(),
        Some("http://127.0.0.1:9400/token/revocation"),
        "endpoints come from discovery"
    );
    let login = unique_login("ada");

    // login
    let start = harness.signin.begin(Some("/orders")).await.unwrap();
    let mut browser = Browser::new();
    let back = browser.authorize(&start.redirect_url, &login).await;
    assert!(
        back.starts_with("http://127.0.0.1:39999/auth/callback?"),
        "{back}"
    );

    // callback
    let code = query_param(&back, "code").expect("a code");
    let state = query_param(&back, "state").expect("the state");
    let signed_in = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            previous_session: None,
            code: Some(&code),
            state: Some(&state),
            error: None,
            iss: query_param(&back, "iss").as_deref(),
        })
        .await
        .unwrap();
    assert_eq!(signed_in.user.email.as_str(), format!("{login}@seam.test"));
    assert_eq!(signed_in.return_to, "/orders");
    assert_eq!(signed_in.session.subject, login);
    assert_eq!(signed_in.session.issuer, ISSUER);
    assert_eq!(
        signed_in.session.picture.as_deref(),
        Some(format!("https://avatars.seam.test/{login}.png").as_str())
    );
    let linked = harness
        .identities
        .find(ISSUER, &login)
        .await
        .unwrap()
        .expect("the identity is linked");
    assert_eq!(linked.user_id, signed_in.user.id);

    // session
    let id = signed_in.session_id.expose_secret().to_owned();
    let principal = harness.signin.resolve(&id).await.unwrap().unwrap();
    assert_eq!(principal.user_id, Some(signed_in.user.id));
    let first_token = harness.signin.access_token(&id).await.unwrap().unwrap();
    assert!(active_at_provider(&first_token).await);

    // refresh: the provider's access tokens live 10 minutes, refreshed 1 minute early
    advance(&harness.clock, 9 * 60 + 5);
    let second_token = harness.signin.access_token(&id).await.unwrap().unwrap();
    assert_ne!(second_token.expose_secret(), first_token.expose_secret());
    assert!(active_at_provider(&second_token).await);

    // logout -> revoked
    let outcome = harness.signin.logout(&id).await.unwrap();
    assert!(outcome.ended && outcome.revoked, "{outcome:?}");
    assert!(harness.signin.resolve(&id).await.unwrap().is_none());
    assert!(!active_at_provider(&second_token).await);

    // The same account signs in again as the same user, in a new session.
    let start = harness.signin.begin(None).await.unwrap();
    let back = browser.authorize(&start.redirect_url, &login).await;
    let again = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            previous_session: Some(&id),
            code: query_param(&back, "code").as_deref(),
            state: query_param(&back, "state").as_deref(),
            error: None,
            iss: query_param(&back, "iss").as_deref(),
        })
        .await
        .unwrap();
    assert_eq!(again.user.id, signed_in.user.id);
    assert_ne!(again.session_id.expose_secret(), &id);
}

#[tokio::test]
async fn a_code_cannot_be_replayed() {
    require_provider().await;
    let harness = Harness::new(provider_config()).await;
    let start = harness.signin.begin(None).await.unwrap();
    let back = Browser::new()
        .authorize(&start.redirect_url, &unique_login("replay"))
        .await;
    let code = query_param(&back, "code").unwrap();
    let state = query_param(&back, "state").unwrap();
    harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            code: Some(&code),
            state: Some(&state),
            ..Callback::default()
        })
        .await
        .unwrap();

    // Replayed with a fresh pending sign-in of the attacker: the state differs.
    let other = harness.signin.begin(None).await.unwrap();
    let error = harness
        .signin
        .complete(Callback {
            login_id: Some(other.cookie.value()),
            code: Some(&code),
            state: Some(&state),
            ..Callback::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "state_mismatch");
}

#[tokio::test]
async fn an_existing_user_is_linked_by_verified_email() {
    require_provider().await;
    let harness = Harness::new(provider_config()).await;
    let login = unique_login("grace");
    let existing = harness
        .users
        .create(
            seam_domain::NewUser::new(
                seam_domain::EmailAddress::parse(&format!("{login}@seam.test")).unwrap(),
                "Grace Hopper",
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let start = harness.signin.begin(None).await.unwrap();
    let back = Browser::new().authorize(&start.redirect_url, &login).await;
    let signed_in = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            code: query_param(&back, "code").as_deref(),
            state: query_param(&back, "state").as_deref(),
            ..Callback::default()
        })
        .await
        .unwrap();
    assert_eq!(signed_in.user.id, existing.id);
    assert_eq!(signed_in.user.name, "Grace Hopper");

    // An unverified address at the provider does not take the account over.
    let start = harness.signin.begin(None).await.unwrap();
    let back = Browser::new()
        .authorize(&start.redirect_url, &format!("unverified-{login}"))
        .await;
    let error = harness
        .signin
        .complete(Callback {
            login_id: Some(start.cookie.value()),
            code: query_param(&back, "code").as_deref(),
            state: query_param(&back, "state").as_deref(),
            ..Callback::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "forbidden");
}
