use seam_domain::{Currency, Money};
use seam_payments::{
    BankScheme, CaptureMode, CreatePayment, CreateRefund, CustomerRef, IdempotencyKey,
    PaymentMethod, PaymentService, PaymentStatus, PaymentToken, RefundReason,
};
use seam_payments_stripe::STRIPE_VERSION;

use crate::mock_and_adapter;

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap())
}

#[tokio::test]
async fn create_sends_the_documented_form_and_headers() {
    let (mock, stripe) = mock_and_adapter().await;
    let key = IdempotencyKey::new("order-42:create").unwrap();
    let request = CreatePayment::new(eur(1999), PaymentMethod::card("tok_visa").unwrap(), key)
        .with_order_reference("order-42")
        .with_metadata("channel", "web")
        .with_customer(CustomerRef::Internal("user-7".into()))
        .with_description("Order 42");
    let payment = stripe.create(&request).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(payment.order_reference(), Some("order-42"));
    assert_eq!(
        payment.customer,
        Some(CustomerRef::Internal("user-7".into()))
    );
    assert!(!payment.metadata.contains_key("seam_customer"));

    let sent = &mock.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/payment_intents")
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {}", mock.api_key()).as_str())
    );
    assert_eq!(sent.header("stripe-version"), Some(STRIPE_VERSION));
    assert_eq!(sent.header("idempotency-key"), Some("order-42:create"));
    assert!(
        sent.header("content-type")
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    for (field, value) in [
        ("amount", "1999"),
        ("currency", "eur"),
        ("confirm", "true"),
        ("capture_method", "automatic"),
        ("payment_method_types[]", "card"),
        ("payment_method_data[type]", "card"),
        ("payment_method_data[card][token]", "tok_visa"),
        ("metadata[order_id]", "order-42"),
        ("metadata[channel]", "web"),
        ("metadata[seam_customer]", "user-7"),
        ("description", "Order 42"),
        ("expand[]", "latest_charge"),
    ] {
        assert_eq!(sent.form_value(field), Some(value), "{field}");
    }
    assert!(sent.form_value("payment_method").is_none());
    mock.assert_no_violations();
}

#[tokio::test]
async fn pm_ids_bank_debits_and_provider_customers() {
    let (mock, stripe) = mock_and_adapter().await;
    let request = CreatePayment::new(
        eur(5000),
        PaymentMethod::BankTransfer {
            scheme: BankScheme::SepaDebit,
            token: PaymentToken::new("pm_sepa_1").unwrap(),
        },
        IdempotencyKey::generate(),
    )
    .with_customer(CustomerRef::Provider("cus_123".into()))
    .with_capture(CaptureMode::Manual);
    let payment = stripe.create(&request).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Processing);
    assert_eq!(
        payment.customer,
        Some(CustomerRef::Provider("cus_123".into()))
    );
    let sent = &mock.requests()[0];
    assert_eq!(sent.form_value("payment_method"), Some("pm_sepa_1"));
    assert_eq!(
        sent.form_value("payment_method_types[]"),
        Some("sepa_debit")
    );
    assert_eq!(sent.form_value("customer"), Some("cus_123"));
    assert_eq!(sent.form_value("capture_method"), Some("manual"));
}

#[tokio::test]
async fn capture_refund_and_list_send_their_forms() {
    let (mock, stripe) = mock_and_adapter().await;
    let request = CreatePayment::new(
        eur(3000),
        PaymentMethod::card("tok_visa").unwrap(),
        IdempotencyKey::generate(),
    )
    .with_capture(CaptureMode::Manual);
    let payment = stripe.create(&request).await.unwrap();
    let capture_key = IdempotencyKey::new("cap-1").unwrap();
    stripe
        .capture(&payment.id, Some(eur(2500)), &capture_key)
        .await
        .unwrap();
    let refund_key = IdempotencyKey::new("ref-1").unwrap();
    let refund = stripe
        .refund(
            &CreateRefund::partial(payment.id.clone(), eur(500), refund_key)
                .with_reason(RefundReason::RequestedByCustomer)
                .with_metadata("ticket", "T-9"),
        )
        .await
        .unwrap();
    assert_eq!(refund.reason, Some(RefundReason::RequestedByCustomer));
    assert_eq!(
        refund.metadata.get("ticket").map(String::as_str),
        Some("T-9")
    );
    let refunds = stripe.list_refunds(&payment.id).await.unwrap();
    assert_eq!(refunds, vec![refund]);

    let requests = mock.requests();
    let capture = requests
        .iter()
        .find(|r| r.path.ends_with("/capture"))
        .unwrap();
    assert_eq!(capture.form_value("amount_to_capture"), Some("2500"));
    assert_eq!(capture.header("idempotency-key"), Some("cap-1"));
    let refund = requests
        .iter()
        .find(|r| r.method == "POST" && r.path == "/v1/refunds")
        .unwrap();
    assert_eq!(
        refund.form_value("payment_intent"),
        Some(payment.id.as_str())
    );
    assert_eq!(refund.form_value("amount"), Some("500"));
    assert_eq!(refund.form_value("reason"), Some("requested_by_customer"));
    assert_eq!(refund.form_value("metadata[ticket]"), Some("T-9"));
    assert_eq!(refund.header("idempotency-key"), Some("ref-1"));
    let list = requests
        .iter()
        .find(|r| r.method == "GET" && r.path == "/v1/refunds")
        .unwrap();
    assert_eq!(
        list.query_value("payment_intent"),
        Some(payment.id.as_str())
    );
    assert!(
        list.header("idempotency-key").is_none(),
        "reads carry no key"
    );
    mock.assert_no_violations();
}

#[tokio::test]
async fn refunds_and_disputes_show_in_the_status() {
    let (mock, stripe) = mock_and_adapter().await;
    let payment = stripe
        .create(&CreatePayment::new(
            eur(1000),
            PaymentMethod::card("tok_visa").unwrap(),
            IdempotencyKey::generate(),
        ))
        .await
        .unwrap();
    stripe
        .refund(&CreateRefund::partial(
            payment.id.clone(),
            eur(100),
            IdempotencyKey::generate(),
        ))
        .await
        .unwrap();
    let refunded = stripe.get(&payment.id).await.unwrap();
    assert_eq!(refunded.status, PaymentStatus::PartiallyRefunded);
    assert_eq!(refunded.amount_refunded, eur(100));
    assert!(mock.dispute(payment.id.as_str()));
    assert_eq!(
        stripe.get(&payment.id).await.unwrap().status,
        PaymentStatus::Disputed
    );
}
