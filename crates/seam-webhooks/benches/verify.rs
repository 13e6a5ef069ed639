//! Signature verification cost per 1 KB event, per scheme, beside its floor: the raw
//! primitive over the same bytes (HMAC-SHA256 for the HMAC schemes, one P-256 ECDSA
//! verification for SendGrid).

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::Criterion;
use hmac::Mac;
use http::{HeaderMap, HeaderValue};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use seam_core::{ManualClock, SecretString};
use seam_webhooks::{
    GithubVerifier, SendgridVerifier, StandardWebhooksVerifier, StripeVerifier, WebhookVerifier,
    sign,
};

const NOW: i64 = 1_764_000_000;

fn body() -> Vec<u8> {
    let mut body = br#"{"id":"evt_bench","object":"event","type":"payment_intent.succeeded","data":{"object":{"pad":""#.to_vec();
    while body.len() < 1024 - 4 {
        body.push(b'x');
    }
    body.extend_from_slice(b"\"}}}");
    body
}

struct Case {
    name: &'static str,
    verifier: Box<dyn WebhookVerifier>,
    headers: HeaderMap,
}

fn header_map(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

fn cases(body: &[u8], sendgrid_key: &SigningKey) -> Vec<Case> {
    let clock = ManualClock::starting_at(
        std::time::UNIX_EPOCH + Duration::from_secs(NOW.try_into().unwrap()),
    )
    .shared();
    let tolerance = seam_webhooks::DEFAULT_TOLERANCE;
    let stripe_secret = vec![SecretString::from("whsec_bench_secret")];
    let standard_secret = vec![SecretString::from(
        "whsec_YmVuY2gtc3RhbmRhcmQtd2ViaG9va3Mta2V5IQ==",
    )];
    let github_secret = vec![SecretString::from("bench-github-secret")];
    let t = NOW.to_string();
    let mut content = t.as_bytes().to_vec();
    content.extend_from_slice(body);
    let signature: Signature = sendgrid_key.sign(&content);
    // DER SubjectPublicKeyInfo: the P-256 algorithm prefix, then the uncompressed point.
    let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    der.extend_from_slice(
        sendgrid_key
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes(),
    );
    let public = STANDARD.encode(der);
    vec![
        Case {
            name: "stripe",
            headers: header_map(&[(
                "stripe-signature",
                sign::stripe(&stripe_secret, NOW, body).unwrap(),
            )]),
            verifier: Box::new(
                StripeVerifier::new(stripe_secret, tolerance, clock.clone()).unwrap(),
            ),
        },
        Case {
            name: "standard_webhooks",
            headers: header_map(&[
                ("webhook-id", "msg_bench".to_owned()),
                ("webhook-timestamp", t.clone()),
                (
                    "webhook-signature",
                    sign::standard_webhooks(&standard_secret, "msg_bench", NOW, body).unwrap(),
                ),
            ]),
            verifier: Box::new(
                StandardWebhooksVerifier::new(standard_secret, tolerance, clock.clone()).unwrap(),
            ),
        },
        Case {
            name: "github",
            headers: header_map(&[(
                "x-hub-signature-256",
                sign::github(&github_secret[0], body).unwrap(),
            )]),
            verifier: Box::new(GithubVerifier::new(github_secret).unwrap()),
        },
        Case {
            name: "sendgrid",
            headers: header_map(&[
                (
                    "x-twilio-email-event-webhook-signature",
                    STANDARD.encode(signature.to_der().as_bytes()),
                ),
                ("x-twilio-email-event-webhook-timestamp", t),
            ]),
            verifier: Box::new(SendgridVerifier::new(&[public], tolerance, clock).unwrap()),
        },
    ]
}

fn hmac_floor(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn benches(criterion: &mut Criterion, body: &[u8], key: &SigningKey) {
    let cases = cases(body, key);
    let verifying_key: VerifyingKey = *key.verifying_key();
    let signature: Signature = key.sign(body);
    let mut group = criterion.benchmark_group("verify_1kb");
    group.bench_function("floor_hmac_sha256", |b| {
        b.iter(|| hmac_floor(black_box(b"whsec_bench_secret"), black_box(body)))
    });
    group.bench_function("floor_p256_ecdsa_verify", |b| {
        b.iter(|| {
            verifying_key
                .verify(black_box(body), black_box(&signature))
                .unwrap()
        })
    });
    for case in &cases {
        group.bench_function(case.name, |b| {
            b.iter(|| {
                case.verifier
                    .verify(black_box(&case.headers), black_box(body))
                    .unwrap()
            })
        });
    }
    group.finish();
}

/// Mean time per call over `iterations`, after a warm-up.
fn per_call(iterations: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed() / iterations
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn main() {
    let body = body();
    let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion, &body, &key);
    criterion.final_summary();

    // One summary line per scheme, figure beside floor, from one run.
    let hmac = per_call(20_000, || {
        black_box(hmac_floor(
            black_box(b"whsec_bench_secret"),
            black_box(&body),
        ));
    });
    let verifying_key: VerifyingKey = *key.verifying_key();
    let signature: Signature = key.sign(&body);
    let ecdsa = per_call(500, || {
        verifying_key
            .verify(black_box(&body), black_box(&signature))
            .unwrap();
    });
    let mut lines = vec![format!(
        "floors per {} B event: HMAC-SHA256 {:.2} µs, P-256 ECDSA verify {:.1} µs",
        body.len(),
        micros(hmac),
        micros(ecdsa)
    )];
    for case in cases(&body, &key) {
        let (iterations, floor) = if case.name == "sendgrid" {
            (500, ecdsa)
        } else {
            (20_000, hmac)
        };
        let cost = per_call(iterations, || {
            case.verifier
                .verify(black_box(&case.headers), black_box(&body))
                .unwrap();
        });
        lines.push(format!(
            "{:<18} {:>8.2} µs per 1 KB event (floor {:.2} µs, x{:.2})",
            case.name,
            micros(cost),
            micros(floor),
            cost.as_secs_f64() / floor.as_secs_f64()
        ));
    }
    // Printing the result is this binary's job.
    #[allow(clippy::print_stdout)]
    {
        for line in lines {
            println!("{line}");
        }
    }
}
