//! The mock itself: it must catch what a broken adapter would do wrong.

use seam_testkit::stripe_mock::StripeMock;

#[tokio::test]
async fn the_mock_flags_missing_headers_raw_card_data_and_unknown_endpoints() {
    let mock = StripeMock::builder()
        .stripe_version("2025-12-15.clover")
        .start()
        .await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", mock.base_url());
    let bearer = format!("Bearer {}", mock.api_key());

    // No Idempotency-Key on a POST.
    let response = client
        .post(url("/v1/payment_intents"))
        .header("authorization", &bearer)
        .header("stripe-version", "2025-12-15.clover")
        .form(&[("amount", "100"), ("currency", "eur")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Another version than pinned.
    client
        .get(url("/v1/payment_intents/pi_1"))
        .header("authorization", &bearer)
        .header("stripe-version", "2020-08-27")
        .send()
        .await
        .unwrap();
    // A card number.
    client
        .post(url("/v1/payment_intents"))
        .header("authorization", &bearer)
        .header("stripe-version", "2025-12-15.clover")
        .header("idempotency-key", "k1")
        .form(&[("payment_method_data[card][number]", "4242424242424242")])
        .send()
        .await
        .unwrap();
    // An endpoint the adapter has no business calling.
    client
        .post(url("/v1/charges"))
        .header("authorization", &bearer)
        .header("stripe-version", "2025-12-15.clover")
        .header("idempotency-key", "k2")
        .form(&[("amount", "100")])
        .send()
        .await
        .unwrap();
    // A wrong key is answered 401 but is not a violation (tests provoke it on purpose).
    let response = client
        .get(url("/v1/payment_intents/pi_1"))
        .header("authorization", "Bearer sk_test_wrong")
        .header("stripe-version", "2025-12-15.clover")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let violations = mock.violations();
    assert_eq!(violations.len(), 4, "{violations:#?}");
    assert!(
        violations[0].contains("Idempotency-Key"),
        "{}",
        violations[0]
    );
    assert!(
        violations[1].contains("Stripe-Version"),
        "{}",
        violations[1]
    );
    assert!(violations[2].contains("raw card data"), "{}", violations[2]);
    assert!(violations[3].contains("/v1/charges"), "{}", violations[3]);
    assert_eq!(mock.requests().len(), 5, "every request is recorded");
}
