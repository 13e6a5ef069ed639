use std::sync::Arc;
use std::time::Duration;

use seam_core::SecretString;
use seam_domain::{Currency, Money};
use seam_payments::{CreatePayment, IdempotencyKey, PaymentMethod, PaymentService};
use seam_payments_sandbox::{HttpEventSink, RecordingSink, SandboxConfig};
use wiremock::matchers::{header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn payment() -> CreatePayment {
    CreatePayment::new(
        Money::new(1200, Currency::parse("EUR").unwrap()),
        PaymentMethod::card("tok_visa").unwrap(),
        IdempotencyKey::generate(),
    )
}

#[tokio::test]
async fn events_are_posted_as_stripe_posts_them() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/webhooks/stripe"))
        .and(header("content-type", "application/json"))
        .and(header_exists("stripe-signature"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    // Record what the sandbox sends, and post it with the HTTP sink ourselves.
    let recorded = RecordingSink::new();
    let sandbox = SandboxConfig {
        webhook_secret: Some(SecretString::from("whsec_http")),
        webhook_url: None,
    }
    .build()
    .unwrap()
    .with_sink(recorded.clone());
    sandbox.create(&payment()).await.unwrap();
    let event = recorded.events().pop().unwrap();
    let sink = HttpEventSink::new(&format!("{}/webhooks/stripe", server.uri())).unwrap();
    assert_eq!(sink.send(&event).await.unwrap(), 200);
    let received = &server.received_requests().await.unwrap()[0];
    assert_eq!(received.body, event.provider_event_json);
    assert_eq!(
        received
            .headers
            .get("stripe-signature")
            .unwrap()
            .to_str()
            .unwrap(),
        event.signature_header.as_deref().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_url_receives_every_event_despite_a_failing_first_attempt() {
    let server = MockServer::start().await;
    // The endpoint fails once, then accepts: the sink retries.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let sink = HttpEventSink::new(&format!("{}/webhooks/stripe", server.uri()))
        .unwrap()
        .with_retries(3, Duration::from_millis(10));
    let sandbox = SandboxConfig::default()
        .build()
        .unwrap()
        .with_sink(Arc::new(sink));
    sandbox.create(&payment()).await.unwrap();
    // created + succeeded, one of them posted twice. Delivery is asynchronous: wait,
    // boundedly, for the posts to arrive.
    let mut posts = 0;
    for _ in 0..500 {
        posts = server.received_requests().await.unwrap().len();
        if posts >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(posts, 3, "two events, one retried once");
}

#[test]
fn only_http_urls_are_accepted() {
    assert!(HttpEventSink::new("not a url").is_err());
    assert!(HttpEventSink::new("file:///etc/passwd").is_err());
    assert!(HttpEventSink::new("http://127.0.0.1:8080/webhooks/stripe").is_ok());
}
