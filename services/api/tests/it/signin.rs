//! Sign-in through the API against the loopback OpenID Connect provider
//! (`scripts/oidc-provider.sh start`): `/auth/login` -> provider -> `/auth/callback`
//! -> session cookie -> `/v1/me` and a protected route -> `/auth/logout`.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use seam_wiring::Settings;
use seam_wiring::oidc::{OidcSettings, OidcTokenKey};
use serde_json::Value;

use crate::{TestApp, seeded_settings, sqlite_settings};

const ISSUER: &str = "http://127.0.0.1:9400";

async fn require_provider() {
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

/// Settings over a migrated SQLite database, signing in at the loopback provider.
async fn signin_settings(data_dir: &std::path::Path) -> Settings {
    let mut settings = seeded_settings(data_dir).await;
    settings.auth.oidc = Some(OidcSettings {
        issuer: ISSUER.to_owned(),
        client_id: "seam-test".to_owned(),
        client_secret: Some("seam-test-secret".to_owned().into()),
        // The test carries the provider's redirect to the API itself.
        redirect_url: "http://127.0.0.1:1/auth/callback".to_owned(),
        token_keys: vec![OidcTokenKey {
            id: "k1".to_owned(),
            key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
                .to_owned()
                .into(),
        }],
        active_token_key: "k1".to_owned(),
        cookie_secure: false,
        ..OidcSettings::default()
    });
    settings
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `name=value` of each `Set-Cookie`, and the whole header by name.
fn set_cookies(response: &reqwest::Response) -> BTreeMap<String, (String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|h| h.to_str().unwrap().to_owned())
        .filter_map(|header| {
            let pair = header.split(';').next()?.to_owned();
            let (name, value) = pair.split_once('=')?;
            Some((name.to_owned(), (value.to_owned(), header.clone())))
        })
        .collect()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Signs in at the provider as `login` (dev interactions: login form, consent) and
/// returns its redirect back to the application.
async fn authorize_at_provider(authorization_url: &str, login: &str) -> String {
    let http = no_redirects();
    let mut jar: BTreeMap<String, String> = BTreeMap::new();
    let mut url = authorization_url.to_owned();
    for _ in 0..12 {
        if !url.starts_with(ISSUER) {
            return url;
        }
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = if url.contains("/interaction/") {
            let page = http
                .get(&url)
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let form = if page.contains(r#"value="login""#) {
                format!("prompt=login&login={login}&password=any")
            } else {
                "prompt=consent".to_owned()
            };
            http.post(&url)
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap()
        } else {
            http.get(&url)
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
        };
        for (name, (value, _)) in set_cookies(&response) {
            jar.insert(name, value);
        }
        assert!(response.status().is_redirection(), "{}", response.status());
        let next = location(&response);
        url = if next.starts_with('/') {
            format!("{ISSUER}{next}")
        } else {
            next
        };
    }
    panic!("the provider kept redirecting");
}

#[tokio::test]
async fn sign_in_me_and_logout_through_the_api() {
    require_provider().await;
    let data = tempfile::tempdir().unwrap();
    sign_in_me_and_logout(signin_settings(data.path()).await).await;
}

#[tokio::test]
async fn sessions_live_in_redis_when_the_cache_is_redis() {
    require_provider().await;
    let redis_url = seam_testkit::require_redis();
    let data = tempfile::tempdir().unwrap();
    let mut settings = signin_settings(data.path()).await;
    settings.cache.backend = seam_wiring::CacheBackend::Redis;
    settings.cache.redis_url = redis_url.into();
    // A prefix of its own, so parallel tests never see each other's sessions.
    settings.cache.key_prefix = format!("seam-test-signin-{}:", std::process::id());
    sign_in_me_and_logout(settings).await;
}

/// The whole flow through the API with `settings`.
async fn sign_in_me_and_logout(settings: Settings) {
    let app = TestApp::spawn(settings).await;
    let http = no_redirects();
    let login = format!(
        "api-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );

    // Without credentials, /v1/me is a 401 problem.
    let response = http.get(app.url("/v1/me")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    // GET /auth/login: to the provider, with the pre-authentication cookie.
    let response = http
        .get(app.url("/auth/login?return_to=/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let provider_url = location(&response);
    assert!(
        provider_url.starts_with(&format!("{ISSUER}/auth?")),
        "{provider_url}"
    );
    let cookies = set_cookies(&response);
    let (login_cookie, header) = cookies.get("seam_login").expect("the login cookie").clone();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(header.contains(attribute), "{header}");
    }

    // The provider signs the user in and sends the browser back.
    let back = authorize_at_provider(&provider_url, &login).await;
    let code = param(&back, "code").expect("a code");
    assert!(param(&back, "state").is_some(), "{back}");

    // A forged state is a 400 problem, and spends the pending sign-in.
    let response = http
        .get(app.url(&format!("/auth/callback?code={code}&state=forged")))
        .header("cookie", format!("seam_login={login_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("state"), "{body}");

    // Again from the start, this time with the right state.
    let response = http
        .get(app.url("/auth/login?return_to=/v1/me"))
        .send()
        .await
        .unwrap();
    let provider_url = location(&response);
    let (login_cookie, _) = set_cookies(&response)["seam_login"].clone();
    let back = authorize_at_provider(&provider_url, &login).await;
    let code = param(&back, "code").unwrap();
    let state = param(&back, "state").unwrap();
    let response = http
        .get(app.url(&format!(
            "/auth/callback?code={code}&state={state}&iss=http%3A%2F%2F127.0.0.1%3A9400"
        )))
        .header("cookie", format!("seam_login={login_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "{:?}",
        response.text().await
    );
    assert_eq!(location(&response), "/v1/me");
    let cookies = set_cookies(&response);
    let (session, header) = cookies
        .get("seam_session")
        .expect("a session cookie")
        .clone();
    assert_eq!(session.len(), 43);
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(header.contains(attribute), "{header}");
    }
    assert!(
        cookies["seam_login"].0.is_empty(),
        "the login cookie is removed"
    );

    // The session authenticates /v1/me and the protected routes.
    let response = http
        .get(app.url("/v1/me"))
        .header("cookie", format!("seam_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["via"], "session");
    assert_eq!(me["subject"], login.as_str());
    assert_eq!(me["issuer"], ISSUER);
    assert_eq!(me["user"]["email"], format!("{login}@seam.test").as_str());
    assert_eq!(
        me["profile"]["picture"],
        format!("https://avatars.seam.test/{login}.png").as_str()
    );
    let orders = http
        .get(app.url("/v1/orders"))
        .header("cookie", format!("seam_session={session}"))
        .send()
        .await
        .unwrap();
    assert_ne!(orders.status(), StatusCode::UNAUTHORIZED);

    // Logout ends the session.
    let response = http
        .post(app.url("/auth/logout"))
        .header("cookie", format!("seam_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(set_cookies(&response)["seam_session"].0.is_empty());
    let response = http
        .get(app.url("/v1/me"))
        .header("cookie", format!("seam_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn bad_callbacks_are_400_problems_never_500() {
    require_provider().await;
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(signin_settings(data.path()).await).await;
    let http = no_redirects();
    for query in [
        "",
        "?code=x&state=y",
        "?error=access_denied",
        "?code=%FF%FE&state=%00",
    ] {
        let response = http
            .get(app.url(&format!("/auth/callback{query}")))
            .header("cookie", "seam_login=not-a-real-login-id")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    // Logging out without a session is harmless.
    let response = http.post(app.url("/auth/logout")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

#[tokio::test]
async fn without_oidc_settings_sign_in_is_not_found() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(sqlite_settings(data.path())).await;
    let response = no_redirects()
        .get(app.url("/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
