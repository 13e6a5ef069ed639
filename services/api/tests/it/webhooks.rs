//! `POST /webhooks/{provider}`: verified, deduplicated and enqueued on the embedded
//! default (SQLite + SQL queue); every bad request a 4xx, never a 5xx.

use reqwest::StatusCode;
use seam_core::SecretString;
use seam_wiring::Settings;
use seam_wiring::webhooks::WebhookComponents;
use serde_json::Value;

use crate::{TestApp, seeded_settings};

const SECRET: &str = "whsec_api_test_secret";

fn with_stripe(mut settings: Settings) -> Settings {
    settings.webhooks.stripe = Some(seam_config::WebhookEndpointSettings {
        secrets: vec![SecretString::from("whsec_old"), SecretString::from(SECRET)],
        ..seam_config::WebhookEndpointSettings::default()
    });
    settings.webhooks.body_limit_bytes = 4096;
    settings
}

fn event(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","object":"event","type":"payment_intent.succeeded","created":1750000000,"data":{{"object":{{"id":"pi_1","object":"payment_intent","amount":1000,"amount_received":1000,"currency":"eur","status":"succeeded","metadata":{{"order_id":"o-1"}}}}}}}}"#
    )
}

fn signature(body: &str) -> String {
    seam_webhooks::sign::stripe(
        &[SecretString::from(SECRET)],
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    )
    .unwrap()
}

async fn post(
    app: &TestApp,
    path: &str,
    content_type: &str,
    signature: Option<&str>,
    body: String,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    request.send().await.expect("request sent")
}

#[tokio::test]
async fn a_signed_event_is_accepted_once_then_acknowledged_as_a_duplicate() {
    let data = tempfile::tempdir().unwrap();
    let settings = with_stripe(seeded_settings(data.path()).await);
    let app = TestApp::spawn(settings.clone()).await;
    let body = event("evt_api_1");
    let response = post(
        &app,
        "/webhooks/stripe",
        "application/json",
        Some(&signature(&body)),
        body.clone(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["status"], "accepted");

    let response = post(
        &app,
        "/webhooks/stripe",
        "application/json; charset=utf-8",
        Some(&signature(&body)),
        body,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["status"], "duplicate");
    app.stop().await;

    // One message on the webhook queue.
    let database = seam_sql::Database::connect(&seam_wiring::sql_config(&settings))
        .await
        .unwrap();
    let components = WebhookComponents::build(&settings, &database)
        .await
        .unwrap();
    let delivery = components
        .queue
        .consumer
        .receive("webhooks", std::time::Duration::ZERO)
        .await
        .unwrap()
        .expect("the event is queued");
    let message: seam_webhooks::WebhookMessage = delivery.decode().unwrap();
    assert_eq!(message.event_id, "evt_api_1");
    delivery.ack().await.unwrap();
    assert!(
        components
            .queue
            .consumer
            .receive("webhooks", std::time::Duration::ZERO)
            .await
            .unwrap()
            .is_none(),
        "the duplicate was not queued"
    );
    database.close().await;
}

#[tokio::test]
async fn bad_requests_are_4xx_never_5xx() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(with_stripe(seeded_settings(data.path()).await)).await;
    let body = event("evt_api_bad");
    let good = signature(&body);

    // Tampered body.
    let tampered = body.replace("1000", "1");
    let response = post(
        &app,
        "/webhooks/stripe",
        "application/json",
        Some(&good),
        tampered,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["detail"], "invalid signature");

    // Missing and malformed signature headers.
    let response = post(
        &app,
        "/webhooks/stripe",
        "application/json",
        None,
        body.clone(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = post(
        &app,
        "/webhooks/stripe",
        "application/json",
        Some("t=abc,v1=zz"),
        body.clone(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["detail"], "invalid signature");

    // Wrong content type.
    let response = post(
        &app,
        "/webhooks/stripe",
        "text/plain",
        Some(&good),
        body.clone(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Oversized body (limit 4096 bytes in these settings).
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(10_000));
    let response = post(
        &app,
        "/webhooks/stripe",
        "application/json",
        Some(&signature(&big)),
        big,
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Unknown and unconfigured providers.
    let response = post(
        &app,
        "/webhooks/paypal",
        "application/json",
        Some(&good),
        body.clone(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = post(
        &app,
        "/webhooks/github",
        "application/json",
        Some(&good),
        body.clone(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // A verified body that is not a Stripe event.
    let odd = r#"{"type":"no id"}"#.to_owned();
    let response = post(
        &app,
        "/webhooks/stripe",
        "application/json",
        Some(&signature(&odd)),
        odd,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn the_event_log_is_listed_with_filters() {
    let data = tempfile::tempdir().unwrap();
    let settings = with_stripe(seeded_settings(data.path()).await);
    let database = seam_sql::Database::connect(&seam_wiring::sql_config(&settings))
        .await
        .unwrap();
    let log = seam_repository_sql::SqlWebhookEvents::new(&database);
    for (id, status) in [
        ("evt_a", seam_repository::WebhookEventStatus::Processed),
        ("evt_b", seam_repository::WebhookEventStatus::Failed),
    ] {
        seam_repository::WebhookEventLog::record(
            &log,
            &seam_repository::WebhookAttempt {
                provider: "stripe".into(),
                event_id: id.into(),
                event_type: "payment_intent.succeeded".into(),
                status,
                received_at: chrono::Utc::now(),
                finished_at: chrono::Utc::now(),
                error: None,
                processing_ms: 3,
                payload: "{}".into(),
            },
        )
        .await
        .unwrap();
    }
    database.close().await;
    let app = TestApp::spawn(settings).await;
    let failed: Value = app
        .get("/v1/webhook-events?status=failed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed.as_array().unwrap().len(), 1, "{failed}");
    assert_eq!(failed[0]["event_id"], "evt_b");
    assert_eq!(failed[0]["attempts"], 1);
    let all: Value = app
        .get("/v1/webhook-events?provider=stripe&limit=10")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let response = app.get("/v1/webhook-events?status=bogus").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app.get("/v1/webhook-events/stripe/evt_a").await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.get("/v1/webhook-events/stripe/evt_none").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
