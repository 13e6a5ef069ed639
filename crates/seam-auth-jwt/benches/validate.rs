//! RS256 validation with a cached JWKS: through `JwtValidator` and through the axum
//! middleware, against its floor, `jsonwebtoken::decode` alone with the same key and
//! checks. Prints both and the ratio (floor time / our time; target >= 0.9).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::Criterion;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use seam_auth::{DynTokenValidator, TokenValidator};
use seam_auth_jwt::axum::{Authenticator, authenticate};
use seam_auth_jwt::{JwksCacheConfig, JwtValidator, KeySource, TrustedIssuer, ValidatorConfig};
use serde::Deserialize;
use tokio::runtime::Runtime;
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RSA: &str = include_str!("../tests/data/rsa_a.pem");
const ISSUER: &str = "https://idp.bench.test";
const AUDIENCE: &str = "seam-api";

/// The claims a typical handler would decode with plain jsonwebtoken.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Claims {
    sub: String,
    exp: u64,
    jti: String,
    roles: Vec<String>,
    scope: String,
}

struct Setup {
    runtime: Runtime,
    token: String,
    key: DecodingKey,
    validation: Validation,
    validator: Arc<JwtValidator>,
    router: Router,
    _server: MockServer,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let encoding = EncodingKey::from_rsa_pem(RSA.as_bytes()).unwrap();
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("bench".to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let set = JwkSet {
        keys: vec![jwk.clone()],
    };
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(&set))
            .mount(&server)
            .await;
        server
    });
    let now = chrono::Utc::now().timestamp();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("bench".to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &serde_json::json!({
            "iss": ISSUER, "sub": "user-1", "aud": AUDIENCE, "exp": now + 3600, "nbf": now,
            "iat": now, "jti": "bench-jti", "roles": ["admin"], "scope": "orders:read",
        }),
        &encoding,
    )
    .unwrap();

    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;

    let config = ValidatorConfig {
        issuers: vec![TrustedIssuer::with_keys(
            ISSUER,
            KeySource::JwksUrl(format!("{}/jwks", server.uri())),
            AUDIENCE,
        )],
        jwks: JwksCacheConfig::default(),
    };
    let validator = Arc::new(JwtValidator::new(&config).unwrap());
    // Warm the JWKS cache: every measured call is served from it.
    runtime.block_on(validator.validate(&token)).unwrap();
    let dynamic: Arc<DynTokenValidator> = validator.clone();
    let router = Router::new()
        .route("/v1/orders", get(|| async { "ok" }))
        .layer(axum::middleware::from_fn_with_state(
            Authenticator::new(dynamic).protect(["/v1"]),
            authenticate,
        ));
    Setup {
        runtime,
        token,
        key: DecodingKey::from_jwk(&jwk).unwrap(),
        validation,
        validator,
        router,
        _server: server,
    }
}

fn floor(s: &Setup) {
    black_box(jsonwebtoken::decode::<Claims>(black_box(&s.token), &s.key, &s.validation).unwrap());
}

fn through_validator(s: &Setup) {
    black_box(
        s.runtime
            .block_on(s.validator.validate(black_box(&s.token)))
            .unwrap(),
    );
}

fn through_middleware(s: &Setup, bearer: &str) {
    let request = http::Request::get("/v1/orders")
        .header(http::header::AUTHORIZATION, bearer)
        .body(Body::empty())
        .unwrap();
    let response = s
        .runtime
        .block_on(s.router.clone().oneshot(request))
        .unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    black_box(response);
}

/// Mean time per call of each of `fs`, measured in `rounds` alternating slices of
/// `per_slice` calls, so that load from elsewhere on the machine falls on all alike.
fn per_call(rounds: u32, per_slice: u32, fs: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    let mut totals = vec![Duration::ZERO; fs.len()];
    for f in fs.iter_mut() {
        for _ in 0..per_slice {
            f();
        }
    }
    for round in 0..rounds {
        // Mirrored order every other round: no function always runs first.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..fs.len()).collect()
        } else {
            (0..fs.len()).rev().collect()
        };
        for i in order {
            let start = Instant::now();
            for _ in 0..per_slice {
                (fs[i])();
            }
            totals[i] += start.elapsed();
        }
    }
    totals
        .into_iter()
        .map(|total| total / (rounds * per_slice))
        .collect()
}

fn main() {
    let s = setup();
    let bearer = format!("Bearer {}", s.token);
    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("rs256_cached_jwks");
        group.bench_function("jsonwebtoken_decode", |b| b.iter(|| floor(&s)));
        group.bench_function("jwt_validator", |b| b.iter(|| through_validator(&s)));
        group.bench_function("axum_middleware", |b| {
            b.iter(|| through_middleware(&s, &bearer))
        });
        group.finish();
    }
    criterion.final_summary();

    let costs = per_call(
        20,
        100,
        &mut [
            &mut || floor(&s),
            &mut || through_validator(&s),
            &mut || through_middleware(&s, &bearer),
        ],
    );
    let (floor_cost, validator_cost, middleware_cost) = (costs[0], costs[1], costs[2]);
    let ratio = |ours: Duration| floor_cost.as_secs_f64() / ours.as_secs_f64();
    // Printing the figures is this binary's job.
    #[allow(clippy::print_stdout)]
    {
        println!(
            "RS256, cached JWKS, per call: jsonwebtoken::decode {:.1} us (floor); JwtValidator {:.1} us = {:.2}x of the floor; axum middleware {:.1} us = {:.2}x (target >= 0.9x)",
            floor_cost.as_secs_f64() * 1e6,
            validator_cost.as_secs_f64() * 1e6,
            ratio(validator_cost),
            middleware_cost.as_secs_f64() * 1e6,
            ratio(middleware_cost),
        );
    }
}
