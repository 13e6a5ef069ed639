//! Endpoint configuration: from TOML to a working verifier, with clear errors.

use std::time::Duration;

use seam_webhooks::{EndpointConfig, Provider, WebhookVerifier, sign};

use crate::support::{clock_at, headers, secrets};

const NOW: i64 = 1_764_400_000;

#[test]
fn a_stripe_endpoint_from_toml_verifies_with_either_secret() {
    let config: EndpointConfig = toml::from_str(
        r#"
        provider = "stripe"
        secrets = ["whsec_new", "whsec_old"]
        tolerance = "2m"
        "#,
    )
    .unwrap();
    assert_eq!(config.tolerance, Duration::from_secs(120));
    assert!(!format!("{config:?}").contains("whsec_new"));
    let verifier = config.build(clock_at(NOW).shared()).unwrap();
    assert_eq!(verifier.provider(), Provider::Stripe);
    let body = b"{}";
    let header = sign::stripe(&secrets(&["whsec_old"]), NOW - 100, body).unwrap();
    let verified = verifier
        .verify(&headers(&[("stripe-signature", &header)]), body)
        .unwrap();
    assert_eq!(verified.key_index, 1);
    // 2 minutes, not the default 5.
    let stale = sign::stripe(&secrets(&["whsec_new"]), NOW - 121, body).unwrap();
    assert!(
        verifier
            .verify(&headers(&[("stripe-signature", &stale)]), body)
            .is_err()
    );
}

#[test]
fn every_provider_builds_from_config() {
    let sendgrid: EndpointConfig = toml::from_str(
        r#"
        provider = "sendgrid"
        public_keys = ["MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERFn23B+GTA+zqHW1eLjM836S6HKFaeOC+p8OXbP4FNLzlhz0dtuMNhS1z7q/utAGM0DL/XMp2ijKVorBgRQWYg=="]
        "#,
    )
    .unwrap();
    assert_eq!(sendgrid.tolerance, seam_webhooks::DEFAULT_TOLERANCE);
    let clock = clock_at(NOW).shared();
    assert_eq!(
        sendgrid.build(clock.clone()).unwrap().provider(),
        Provider::Sendgrid
    );
    for (provider, secret) in [
        (Provider::StandardWebhooks, "whsec_c2VhbS1zdGFuZGFyZA=="),
        (Provider::Github, "gh-secret"),
    ] {
        let config = EndpointConfig::new(provider, secrets(&[secret]));
        assert_eq!(config.build(clock.clone()).unwrap().provider(), provider);
    }
}

#[test]
fn misconfigurations_fail_with_a_clear_message() {
    let clock = clock_at(NOW).shared();
    let cases = [
        (r#"provider = "stripe""#, "no signing secret"),
        (r#"provider = "github""#, "no webhook secret"),
        (
            r#"provider = "standard_webhooks"
            secrets = ["whsec_%%%"]"#,
            "base64",
        ),
        (r#"provider = "sendgrid""#, "no verification public key"),
        (
            r#"provider = "sendgrid"
            secrets = ["x"]"#,
            "public_keys",
        ),
        (
            r#"provider = "stripe"
            secrets = ["whsec_x"]
            public_keys = ["AAAA"]"#,
            "public_keys",
        ),
        (
            r#"provider = "stripe"
            secrets = ["whsec_x"]
            tolerance = "0s""#,
            "tolerance",
        ),
    ];
    for (text, says) in cases {
        let config: EndpointConfig = toml::from_str(text).unwrap();
        let error = config.build(clock.clone()).unwrap_err();
        assert!(error.to_string().contains(says), "{text}: {error}");
    }
    let unknown = toml::from_str::<EndpointConfig>(r#"provider = "paypal""#).unwrap_err();
    assert!(unknown.to_string().contains("paypal"), "{unknown}");
    let typo =
        toml::from_str::<EndpointConfig>("provider = \"stripe\"\nsecret = \"x\"").unwrap_err();
    assert!(typo.to_string().contains("secret"), "{typo}");
}
