use reqwest::StatusCode;
use seam_sql::{DEMO_CUSTOMER_ID, DEMO_PRODUCTS};
use serde_json::{Value, json};

use crate::{TestApp, seeded_settings};

fn order_body(sku: &str, quantity: i64) -> String {
    json!({
        "customer_id": DEMO_CUSTOMER_ID.to_string(),
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": quantity}],
    })
    .to_string()
}

async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn placing_and_reading_an_order() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let sku = DEMO_PRODUCTS[0].sku;

    let response = app.post_json("/v1/orders", &order_body(sku, 2)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["status"], "pending");
    assert_eq!(order["lines"][0]["sku"], sku);
    assert_eq!(order["lines"][0]["quantity"], 2);
    let unit = order["lines"][0]["unit_price"]["minor"].as_i64().unwrap();
    assert_eq!(order["total"]["minor"].as_i64().unwrap(), 2 * unit);
    assert_eq!(
        location,
        format!("/v1/orders/{}", order["id"].as_str().unwrap())
    );

    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched["id"], order["id"]);

    let listed: Value = app
        .get(&format!("/v1/orders?customer_id={DEMO_CUSTOMER_ID}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"], order["id"]);
    app.stop().await;
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let sku = DEMO_PRODUCTS[0].sku;
    let send = |body: String| {
        app.client
            .post(app.url("/v1/orders"))
            .header("content-type", "application/json")
            .header("idempotency-key", "order-42")
            .body(body)
            .send()
    };
    let first = send(order_body(sku, 1)).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = send(order_body(sku, 1)).await.unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first, second);

    let (status, body) = problem(send(order_body(sku, 2)).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["detail"],
        "Idempotency-Key \"order-42\" was already used with a different request body"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_bad_input_gets_a_precise_4xx() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let sku = DEMO_PRODUCTS[0].sku;
    let customer = DEMO_CUSTOMER_ID.to_string();
    let cases: Vec<(String, StatusCode, &str)> = vec![
        ("{\"customer_id\": ".to_owned(), StatusCode::BAD_REQUEST, "malformed JSON: "),
        (
            json!({"customer_id": customer, "currency": "EUR", "lines": [{"sku": sku, "quantity": "two"}]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines[0].quantity: invalid type: string \"two\", expected i64",
        ),
        (
            json!({"customer_id": customer, "currency": "EUR", "lines": [{"sku": sku, "quantity": 0}]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines[0].quantity: must be at least 1, got 0",
        ),
        (
            json!({"customer_id": customer, "currency": "EUR", "lines": [{"sku": "NO-SUCH-SKU", "quantity": 1}]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines[0].sku: unknown SKU NO-SUCH-SKU",
        ),
        (
            json!({"customer_id": customer, "currency": "XYZ", "lines": [{"sku": sku, "quantity": 1}]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency: \"XYZ\" is not a supported ISO 4217 currency code",
        ),
        (
            json!({"customer_id": customer, "currency": "USD", "lines": [{"sku": sku, "quantity": 1}]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "is priced in EUR, the order in USD",
        ),
        (
            json!({"customer_id": "nope", "currency": "EUR", "lines": [{"sku": sku, "quantity": 1}]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "customer_id: invalid id \"nope\"",
        ),
        (
            json!({"customer_id": customer, "currency": "EUR", "lines": []}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines: must have at least one line",
        ),
        (
            json!({"customer_id": customer, "currency": "EUR", "lines": [{"sku": sku, "quantity": 1}], "coupon": "X"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `coupon`",
        ),
    ];
    for (body, expected_status, expected_detail) in cases {
        let (status, problem) = problem(app.post_json("/v1/orders", &body).await).await;
        assert_eq!(status, expected_status, "{body}: {problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(expected_detail), "{body}: {detail}");
    }

    // Not JSON at all.
    let response = app
        .client
        .post(app.url("/v1/orders"))
        .header("content-type", "text/plain")
        .body(order_body(sku, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(response).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    // Larger than server.body_limit_bytes (1 MiB by default).
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (status, body) = problem(app.post_json("/v1/orders", &huge).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        body["detail"],
        "the request body is larger than the limit of 1048576 bytes"
    );

    // Unknown and malformed ids.
    let (status, _) = problem(
        app.get(&format!("/v1/orders/{}", seam_core::Id::<()>::new()))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = problem(app.get("/v1/orders/42").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("id: invalid id \"42\"")
    );
    let (status, _) = problem(app.get("/v1/orders?customer_id=x").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = problem(app.get("/v1/orders").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, _) = problem(
        app.client
            .post(app.url("/v1/orders"))
            .header("content-type", "application/json")
            .header("idempotency-key", "")
            .body(order_body(sku, 1))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_routes() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(seeded_settings(data.path()).await).await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/users",
        "/v1/users/{id}",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    assert!(document["components"]["schemas"]["PlaceOrderRequest"].is_object());
    app.stop().await;
}
