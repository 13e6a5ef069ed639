//! Nothing sensitive reaches the logs, even at `trace`: not the secret key, not a card token.

use std::io::Write;
use std::sync::{Arc, Mutex};

use seam_domain::{Currency, Money};
use seam_payments::{CreatePayment, IdempotencyKey, PaymentMethod, PaymentService};
use seam_testkit::stripe_mock::ScriptedResponse;

use crate::mock_and_adapter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn secret_key_and_tokens_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let (mock, stripe) = mock_and_adapter().await;
            let eur = Currency::parse("EUR").unwrap();
            let token = "tok_visa";
            let request = CreatePayment::new(
                Money::new(900, eur),
                PaymentMethod::card(token).unwrap(),
                IdempotencyKey::generate(),
            );
            stripe.create(&request).await.unwrap();
            mock.script(ScriptedResponse::server_error());
            stripe.create(&request).await.unwrap_err();
            let declined = CreatePayment::new(
                Money::new(900, eur),
                PaymentMethod::card("tok_chargeDeclined").unwrap(),
                IdempotencyKey::generate(),
            );
            stripe.create(&declined).await.unwrap_err();
            mock.api_key().to_owned()
        })
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("Stripe answered"),
        "the test captured the adapter's logs: {logs}"
    );
    assert!(!logs.contains(&key), "secret key logged:\n{logs}");
    assert!(!logs.contains("tok_visa"), "card token logged:\n{logs}");
    assert!(
        !logs.contains("tok_chargeDeclined"),
        "card token logged:\n{logs}"
    );
}
