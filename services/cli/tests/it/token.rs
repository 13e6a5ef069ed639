//! `seam token issue`: a token the API's validator accepts, with the asked roles and TTL.

use std::path::Path;
use std::process::{Command, Output};

use seam_auth::TokenValidator;
use seam_wiring::{AuthComponents, Settings};
use serde_json::Value;

fn seam(data: &Path, args: &[&str]) -> Output {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(args)
        .env("SEAM_CONFIG_DIR", config)
        .env("SEAM_DATA_DIR", data)
        .env_remove("SEAM_ENV")
        .output()
        .expect("seam runs")
}

#[tokio::test]
async fn issue_prints_a_token_the_services_accept() {
    let data = tempfile::tempdir().unwrap();
    let user = "0190b9b0-1234-7000-8000-000000000042";
    let output = seam(
        data.path(),
        &[
            "token", "issue", "--user", user, "--role", "admin", "--ttl", "10m",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a compact JWT: {token:.20}");
    // The key was generated under the data folder, where the services find it.
    assert!(data.path().join("keys/dev-signing.pem").exists());

    let settings = Settings {
        data_dir: data.path().to_path_buf(),
        ..Settings::default()
    };
    let auth = AuthComponents::build(&settings).unwrap();
    let principal = auth.validator.validate(&token).await.unwrap();
    assert_eq!(principal.subject, user);
    assert_eq!(principal.user_id.unwrap().to_string(), user);
    assert!(principal.has_role("admin"));
    let lifetime = principal.expires_at - chrono::Utc::now();
    assert!(lifetime <= chrono::Duration::minutes(10), "{lifetime}");
    assert!(lifetime > chrono::Duration::minutes(8), "{lifetime}");

    let output = seam(
        data.path(),
        &["token", "issue", "--user", "billing-service", "--json"],
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["token_type"], "Bearer");
    let principal = auth
        .validator
        .validate(json["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(principal.subject, "billing-service");
    assert_eq!(principal.user_id, None);
}

#[test]
fn bad_usage_exits_2_with_a_message() {
    let data = tempfile::tempdir().unwrap();
    let output = seam(
        data.path(),
        &["token", "issue", "--user", "x", "--ttl", "soon"],
    );
    assert_eq!(output.status.code(), Some(2));
    let output = seam(data.path(), &["token", "issue", "--user", " "]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--user"));
}

#[test]
fn refresh_needs_a_shared_store() {
    let data = tempfile::tempdir().unwrap();
    let output = seam(
        data.path(),
        &["token", "issue", "--user", "svc", "--refresh"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("auth.store"));
}

#[tokio::test]
async fn refresh_starts_a_family_the_services_can_rotate() {
    let redis = seam_testkit::require_redis();
    let data = tempfile::tempdir().unwrap();
    let prefix = format!("seam-test:cli:{}:", std::process::id());
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let output = Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(["token", "issue", "--user", "svc", "--refresh"])
        .env("SEAM_CONFIG_DIR", config)
        .env("SEAM_DATA_DIR", data.path())
        .env_remove("SEAM_ENV")
        .env("SEAM_AUTH__STORE", "cache")
        .env("SEAM_AUTH__ISSUER__ACCESS_TTL", "1m")
        .env("SEAM_AUTH__ISSUER__REFRESH_TTL", "2m")
        .env("SEAM_CACHE__BACKEND", "redis")
        .env("SEAM_CACHE__REDIS_URL", &redis)
        .env("SEAM_CACHE__KEY_PREFIX", &prefix)
        .output()
        .expect("seam runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let refresh = json["refresh_token"].as_str().unwrap();

    // A service with the same settings rotates it; every key expires within two minutes.
    let mut settings = Settings {
        data_dir: data.path().to_path_buf(),
        ..Settings::default()
    };
    settings.auth.store = seam_wiring::auth::Store::Cache;
    settings.auth.issuer.access_ttl = std::time::Duration::from_secs(60);
    settings.auth.issuer.refresh_ttl = std::time::Duration::from_secs(120);
    settings.cache.backend = seam_wiring::CacheBackend::Redis;
    settings.cache.redis_url = redis.into();
    settings.cache.key_prefix = prefix;
    let auth = AuthComponents::build(&settings).unwrap();
    let pair = auth.refresh.refresh(refresh).await.unwrap();
    auth.validator
        .validate(seam_core::ExposeSecret::expose_secret(&pair.access.token))
        .await
        .unwrap();
    assert!(matches!(
        auth.refresh.refresh(refresh).await,
        Err(seam_auth::Error::RefreshReuseDetected)
    ));
}
