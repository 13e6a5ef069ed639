//! Paying and refunding orders over HTTP: the sandbox on SQLite, declines, refunds, and
//! the payments breaker end to end against the Stripe mock.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use seam_alerts::{AlertCall, InMemoryAlerts};
use seam_api::Application;
use seam_config::PaymentsBackend;
use seam_core::SecretString;
use seam_domain::OrderId;
use seam_repository_sql::SqlRepositories;
use seam_sql::{DEMO_CUSTOMER_ID, DEMO_PRODUCTS, Database};
use seam_testkit::stripe_mock::{MOCK_API_KEY, ScriptedResponse, StripeMock};
use seam_wiring::Settings;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{TestApp, admin_token, authorized_client, seeded_settings};

/// Places an order of `quantity` units of the first demo product, and confirms it as the
/// worker would (stock is the worker's business, not this test's).
async fn confirmed_order(
    client: &reqwest::Client,
    base: &str,
    settings: &Settings,
    quantity: i64,
) -> (String, i64) {
    let body = json!({
        "customer_id": DEMO_CUSTOMER_ID.to_string(),
        "currency": "EUR",
        "lines": [{"sku": DEMO_PRODUCTS[0].sku, "quantity": quantity}],
    });
    let response = client
        .post(format!("{base}/v1/orders"))
        .json(&body)
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: Value = response.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    let total = order["total"]["minor"].as_i64().unwrap();
    let database = Database::connect(&seam_wiring::sql_config(settings))
        .await
        .expect("the test database opens");
    let ports = SqlRepositories::new(&database).unwrap().ports();
    let mut tx = ports.unit_of_work.begin().await.unwrap();
    let mut stored = tx
        .get_order_for_update(id.parse::<OrderId>().unwrap())
        .await
        .unwrap()
        .expect("the order exists");
    let version = stored.version;
    stored.confirm(chrono::Utc::now()).unwrap();
    tx.update_order(&stored, version).await.unwrap();
    tx.commit().await.unwrap();
    database.close().await;
    (id, total)
}

fn card(token: &str) -> String {
    json!({"method": {"type": "card", "token": token}}).to_string()
}

async fn pay(app: &TestApp, id: &str, token: &str) -> reqwest::Response {
    app.post_json(&format!("/v1/orders/{id}/pay"), &card(token))
        .await
}

/// No events posted to port 8080 of whatever runs there.
fn quiet(mut settings: Settings) -> Settings {
    settings.payments.sandbox.webhook_url = String::new();
    settings
}

#[tokio::test]
async fn pay_then_refund_in_parts_on_sqlite_with_the_sandbox() {
    let data = tempfile::tempdir().unwrap();
    let settings = quiet(seeded_settings(data.path()).await);
    let app = TestApp::spawn(settings.clone()).await;
    let base = app.url("");
    let (id, total) = confirmed_order(&app.client, &base, &settings, 3).await;

    let response = pay(&app, &id, "tok_visa").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let payment: Value = response.json().await.unwrap();
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(payment["amount"]["minor"], total);
    assert!(!payment["payment_id"].as_str().unwrap().is_empty());

    // Paying again answers the payment, charging nothing more.
    let again = pay(&app, &id, "tok_visa").await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["payment_id"], payment["payment_id"]);

    let order: Value = app
        .get(&format!("/v1/orders/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["payment"]["status"], "succeeded");

    let refunds = format!("/v1/orders/{id}/refunds");
    let first = app.post_json(&refunds, r#"{"amount": 100}"#).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["payment"]["status"], "partially_refunded");
    assert_eq!(first["payment"]["refunded"]["minor"], 100);
    let second = app.post_json(&refunds, r#"{"amount": 200}"#).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["payment"]["refunded"]["minor"], 300);
    assert_ne!(second["refund_id"], first["refund_id"]);

    // More than what is left: refused, nothing refunded.
    let over = app
        .post_json(&refunds, &json!({"amount": total - 300 + 1}).to_string())
        .await;
    assert_eq!(over.status(), StatusCode::CONFLICT);
    let zero = app.post_json(&refunds, r#"{"amount": 0}"#).await;
    assert_eq!(zero.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The rest, then nothing is left.
    let rest = app.post_json(&refunds, "{}").await;
    assert_eq!(rest.status(), StatusCode::CREATED);
    let rest: Value = rest.json().await.unwrap();
    assert_eq!(rest["amount"]["minor"], total - 300);
    assert_eq!(rest["payment"]["status"], "refunded");
    let none = app.post_json(&refunds, "{}").await;
    assert_eq!(none.status(), StatusCode::CONFLICT);

    let payment: Value = app
        .get(&format!("/v1/orders/{id}/payment"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payment["status"], "refunded");
    assert_eq!(payment["refunded"]["minor"], total);
    app.stop().await;
}

#[tokio::test]
async fn declines_card_numbers_and_unconfirmed_orders_are_refused() {
    let data = tempfile::tempdir().unwrap();
    let settings = quiet(seeded_settings(data.path()).await);
    let app = TestApp::spawn(settings.clone()).await;
    let base = app.url("");
    let (id, _) = confirmed_order(&app.client, &base, &settings, 1).await;

    let declined = pay(&app, &id, "tok_chargeDeclinedInsufficientFunds").await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(
        declined.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = declined.json().await.unwrap();
    assert_eq!(problem["status"], 402);
    assert_eq!(problem["decline_code"], "insufficient_funds");
    let payment: Value = app
        .get(&format!("/v1/orders/{id}/payment"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payment["status"], "failed");
    assert_eq!(payment["failure_code"], "insufficient_funds");

    // A card number never gets in, and is never echoed back.
    let pan = pay(&app, &id, "4242424242424242").await;
    assert_eq!(pan.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!pan.text().await.unwrap().contains("4242424242424242"));

    // The order stays payable with another card.
    let paid = pay(&app, &id, "tok_visa").await;
    assert_eq!(paid.status(), StatusCode::CREATED);

    // A pending (unconfirmed) order cannot be paid; an unknown one is 404.
    let pending: Value = app
        .post_json(
            "/v1/orders",
            &json!({
                "customer_id": DEMO_CUSTOMER_ID.to_string(),
                "currency": "EUR",
                "lines": [{"sku": DEMO_PRODUCTS[0].sku, "quantity": 1}],
            })
            .to_string(),
        )
        .await
        .json()
        .await
        .unwrap();
    let refused = pay(&app, pending["id"].as_str().unwrap(), "tok_visa").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let unknown = pay(&app, &OrderId::new().to_string(), "tok_visa").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let no_refund = app
        .post_json(
            &format!("/v1/orders/{}/refunds", pending["id"].as_str().unwrap()),
            "{}",
        )
        .await;
    assert_eq!(no_refund.status(), StatusCode::CONFLICT);
    app.stop().await;
}

struct BreakerApp {
    base: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

fn breaker_calls(alerts: &InMemoryAlerts) -> Vec<AlertCall> {
    alerts.calls_for("breaker:payments")
}

#[tokio::test]
async fn the_payments_breaker_opens_fails_fast_pages_once_and_closes() {
    seam_testkit::init_test_logging();
    let mock = StripeMock::start().await;
    for _ in 0..5 {
        mock.script(ScriptedResponse::server_error().on("POST", "/v1/payment_intents"));
    }
    let data = tempfile::tempdir().unwrap();
    let mut settings = seeded_settings(data.path()).await;
    settings.payments.backend = PaymentsBackend::Stripe;
    settings.payments.stripe.base_url = mock.base_url().to_owned();
    settings.payments.stripe.secret_key = Some(SecretString::from(MOCK_API_KEY.to_owned()));
    // One attempt per call, so five calls are five failures; a short open period.
    settings.payments.retry_attempts = 1;
    settings.payments.breaker.open_duration = Duration::from_secs(1);
    settings.payments.breaker.half_open_calls = 3;
    let alerts = Arc::new(InMemoryAlerts::new());
    let token = admin_token(&settings);
    let app = Application::build_with_alerts(settings.clone(), alerts.clone())
        .await
        .expect("the API builds");
    let app = BreakerApp {
        base: format!("http://{}", app.local_addr()),
        client: authorized_client(&token),
        shutdown: app.shutdown_token(),
        task: tokio::spawn(app.run_until_stopped()),
    };
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(
            confirmed_order(&app.client, &app.base, &settings, 1)
                .await
                .0,
        );
    }
    let pay = |id: String| {
        app.client
            .post(format!("{}/v1/orders/{id}/pay", app.base))
            .header("content-type", "application/json")
            .body(card("tok_visa"))
            .send()
    };

    // Five provider failures: each a 503 with Retry-After.
    for _ in 0..5 {
        let response = pay(orders[0].clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key("retry-after"));
    }
    assert_eq!(mock.requests().len(), 5);

    // Open: the next call fails fast, without reaching the provider.
    let fast = pay(orders[0].clone()).await.unwrap();
    assert_eq!(fast.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry_after: u64 = fast.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    assert_eq!(mock.requests().len(), 5, "an open breaker calls nobody");
    let health: Value = app
        .client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        health.to_string().contains("breaker:payments"),
        "the breaker is in /health: {health}"
    );

    // Exactly one page, for the opening (the forwarding task is asynchronous).
    let mut opened = false;
    for _ in 0..100 {
        if alerts
            .incident("breaker:payments")
            .is_some_and(|incident| incident.state.is_open())
        {
            opened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(opened, "breaker:payments was paged: {:?}", alerts.calls());

    // After the open period, three trial calls succeed and close it.
    let mut first_trial = None;
    for _ in 0..100 {
        let response = pay(orders[0].clone()).await.unwrap();
        if response.status() != StatusCode::SERVICE_UNAVAILABLE {
            first_trial = Some(response.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(first_trial, Some(StatusCode::CREATED));
    for id in &orders[1..3] {
        assert_eq!(pay(id.clone()).await.unwrap().status(), StatusCode::CREATED);
    }
    let mut resolved = false;
    for _ in 0..100 {
        if alerts
            .incident("breaker:payments")
            .is_some_and(|incident| !incident.state.is_open())
        {
            resolved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(resolved, "the page was resolved: {:?}", alerts.calls());
    let triggers = breaker_calls(&alerts)
        .into_iter()
        .filter(|call| matches!(call, AlertCall::Trigger(_)))
        .count();
    assert_eq!(triggers, 1, "{:?}", alerts.calls());
    // Closed: calls go through again.
    assert_eq!(
        pay(orders[3].clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    mock.assert_no_violations();

    app.shutdown.cancel();
    app.task
        .await
        .expect("the server task does not panic")
        .expect("the server stops cleanly");
}
