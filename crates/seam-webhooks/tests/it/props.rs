//! Whatever a client sends, verification answers an error: never a panic, never `Ok`.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use seam_webhooks::{EndpointConfig, Provider, WebhookVerifier};

use crate::support::{clock_at, secrets};

const NOW: i64 = 1_764_500_000;

fn verifiers() -> Vec<Box<dyn WebhookVerifier>> {
    let clock = clock_at(NOW).shared();
    let mut list: Vec<Box<dyn WebhookVerifier>> = [
        (Provider::Stripe, "whsec_prop"),
        (
            Provider::StandardWebhooks,
            "whsec_cHJvcC10ZXN0LWtleS0yNC1ieXRlcyE=",
        ),
        (Provider::Github, "prop-secret"),
    ]
    .into_iter()
    .map(|(provider, secret)| {
        EndpointConfig::new(provider, secrets(&[secret]))
            .build(clock.clone())
            .unwrap()
    })
    .collect();
    let mut sendgrid = EndpointConfig::new(Provider::Sendgrid, vec![]);
    sendgrid.public_keys = vec!["MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERFn23B+GTA+zqHW1eLjM836S6HKFaeOC+p8OXbP4FNLzlhz0dtuMNhS1z7q/utAGM0DL/XMp2ijKVorBgRQWYg==".into()];
    sendgrid.tolerance = Duration::from_secs(300);
    list.push(sendgrid.build(clock).unwrap());
    list
}

const NAMES: &[&str] = &[
    "stripe-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "x-hub-signature-256",
    "x-twilio-email-event-webhook-signature",
    "x-twilio-email-event-webhook-timestamp",
];

/// Header values shaped like the real ones, with random parts.
fn value() -> impl Strategy<Value = Vec<u8>> {
    let now = NOW.to_string();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        "[ -~]{0,120}".prop_map(String::into_bytes),
        ("[0-9a-f]{0,70}", 0i64..2_000_000_000)
            .prop_map(|(hex, t)| format!("t={t},v1={hex}").into_bytes()),
        "[0-9a-f]{64}".prop_map(move |hex| format!("t={now},v1={hex},v0={hex}").into_bytes()),
        "[A-Za-z0-9+/=]{0,90}".prop_map(|b64| format!("v1,{b64} v1a,{b64}").into_bytes()),
        "[0-9a-f]{0,64}".prop_map(|hex| format!("sha256={hex}").into_bytes()),
        Just(NOW.to_string().into_bytes()),
        "MEUCI[A-Za-z0-9+/]{60,90}=?".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_headers_and_bodies_never_panic_and_never_verify(
        pairs in proptest::collection::vec((0..NAMES.len(), value()), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                headers.append(HeaderName::from_static(NAMES[name]), value);
            }
        }
        for verifier in verifiers() {
            let result = verifier.verify(&headers, &body);
            prop_assert!(result.is_err(), "{:?} verified {:?}", verifier.provider(), headers);
            let error = result.unwrap_err();
            prop_assert_eq!(error.public_message(), "invalid signature");
            prop_assert!((400..500).contains(&verifier.provider().rejection_status()));
        }
    }
}
