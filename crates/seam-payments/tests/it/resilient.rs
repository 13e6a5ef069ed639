use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use seam_core::{Classify, ErrorKind, HealthCheck, HealthStatus, ManualClock};
use seam_domain::{Currency, Money};
use seam_payments::{
    CreatePayment, CreateRefund, Error, IdempotencyKey, InMemoryPayments, Payment, PaymentId,
    PaymentMethod, PaymentService, PaymentStatus, Refund, ResilientPayments, Result,
};
use seam_resilience::CircuitState;

/// What the flaky wrapper does with the next calls.
const HEALTHY: u32 = 0;
/// Fails before reaching the provider (connection refused).
const DOWN: u32 = 1;
/// Reaches the provider, then loses the answer once (the request took effect).
const LOSE_ONE_ANSWER: u32 = 2;

/// A payment service that fails on demand in front of the memory adapter.
#[derive(Debug)]
struct Flaky {
    inner: InMemoryPayments,
    mode: AtomicU32,
    calls: AtomicU32,
}

impl Flaky {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: InMemoryPayments::new().with_declining_token("tok_declined", "generic_decline"),
            mode: AtomicU32::new(HEALTHY),
            calls: AtomicU32::new(0),
        })
    }

    fn set(&self, mode: u32) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn through<T, F>(&self, call: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.mode.load(Ordering::SeqCst) {
            DOWN => Err(Error::transient("connection refused")),
            LOSE_ONE_ANSWER => {
                let _ = call.await;
                self.set(HEALTHY);
                Err(Error::transient("connection reset before the answer"))
            }
            _ => call.await,
        }
    }
}

#[async_trait]
impl PaymentService for Flaky {
    async fn create(&self, request: &CreatePayment) -> Result<Payment> {
        self.through(self.inner.create(request)).await
    }
    async fn get(&self, id: &PaymentId) -> Result<Payment> {
        self.through(self.inner.get(id)).await
    }
    async fn confirm(&self, id: &PaymentId, key: &IdempotencyKey) -> Result<Payment> {
        self.through(self.inner.confirm(id, key)).await
    }
    async fn capture(
        &self,
        id: &PaymentId,
        amount: Option<Money>,
        key: &IdempotencyKey,
    ) -> Result<Payment> {
        self.through(self.inner.capture(id, amount, key)).await
    }
    async fn cancel(&self, id: &PaymentId, key: &IdempotencyKey) -> Result<Payment> {
        self.through(self.inner.cancel(id, key)).await
    }
    async fn refund(&self, request: &CreateRefund) -> Result<Refund> {
        self.through(self.inner.refund(request)).await
    }
    async fn list_refunds(&self, id: &PaymentId) -> Result<Vec<Refund>> {
        self.through(self.inner.list_refunds(id)).await
    }
}

fn request(token: &str) -> CreatePayment {
    CreatePayment::new(
        Money::new(1500, Currency::parse("EUR").unwrap()),
        PaymentMethod::card(token).unwrap(),
        IdempotencyKey::generate(),
    )
}

#[tokio::test]
async fn breaker_opens_after_five_failures_fails_fast_and_closes_after_trials() {
    let clock = ManualClock::new();
    let flaky = Flaky::new();
    let payments = ResilientPayments::classic(flaky.clone(), clock.shared()).unwrap();
    let breaker = payments.breaker().unwrap().clone();
    assert_eq!(HealthCheck::name(&breaker), "breaker:payments");
    let mut events = breaker.subscribe();

    flaky.set(DOWN);
    // First call: three attempts (retry), three failures.
    let error = payments.create(&request("tok_visa")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error}");
    assert_eq!(flaky.calls(), 3);
    assert_eq!(breaker.state(), CircuitState::Closed);
    // Second call: two more failures open the circuit; its third attempt is refused.
    let error = payments.create(&request("tok_visa")).await.unwrap_err();
    assert_eq!(flaky.calls(), 5, "the fifth failure opens the circuit");
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");

    // While open: fail fast, without calling the provider, with a retry-after.
    let error = payments.create(&request("tok_visa")).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    let wait = error.retry_after().expect("retry-after while open");
    assert!(
        wait <= Duration::from_secs(30) && wait > Duration::ZERO,
        "{wait:?}"
    );
    assert_eq!(
        flaky.calls(),
        5,
        "an open circuit must not call the provider"
    );
    assert_eq!(breaker.check().await.status, HealthStatus::Down);

    // After the open duration the provider is back: three trial calls close the circuit.
    flaky.set(HEALTHY);
    clock.advance(Duration::from_secs(30));
    for trial in 0..3 {
        let payment = payments.create(&request("tok_visa")).await.unwrap();
        assert_eq!(payment.status, PaymentStatus::Succeeded, "trial {trial}");
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
    assert_eq!(flaky.calls(), 8);

    let transitions: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|event| (event.from, event.to))
        .collect();
    assert_eq!(
        transitions,
        vec![
            (CircuitState::Closed, CircuitState::Open),
            (CircuitState::Open, CircuitState::HalfOpen),
            (CircuitState::HalfOpen, CircuitState::Closed),
        ]
    );
}

#[tokio::test]
async fn a_retried_create_reuses_its_key_and_charges_once() {
    let clock = ManualClock::new();
    let flaky = Flaky::new();
    let payments = ResilientPayments::classic(flaky.clone(), clock.shared()).unwrap();
    flaky.set(LOSE_ONE_ANSWER);
    let payment = payments.create(&request("tok_visa")).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(flaky.calls(), 2, "one lost answer, one retry");
    assert_eq!(
        flaky.inner.payments().len(),
        1,
        "the retry must not charge twice"
    );
    assert_eq!(clock.sleeps().len(), 1, "one backoff before the retry");
}

#[tokio::test]
async fn declines_are_neither_retried_nor_counted_by_the_breaker() {
    let clock = ManualClock::new();
    let flaky = Flaky::new();
    let payments = ResilientPayments::classic(flaky.clone(), clock.shared()).unwrap();
    for _ in 0..10 {
        let error = payments.create(&request("tok_declined")).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Permanent);
        assert_eq!(error.decline_code(), Some("generic_decline"));
    }
    assert_eq!(flaky.calls(), 10, "a decline is answered at once");
    assert_eq!(payments.breaker().unwrap().state(), CircuitState::Closed);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_config_file_section_builds_the_same_decorator() {
    let config: seam_resilience::ResilienceConfig = serde_json::from_value(serde_json::json!({
        "retry": {"max_attempts": 1},
        "circuit_breaker": {"failure_count_threshold": 2, "window": "60s", "open_duration": "10s"},
    }))
    .unwrap();
    let clock = ManualClock::new();
    let flaky = Flaky::new();
    let payments = ResilientPayments::from_config(flaky.clone(), &config, clock.shared()).unwrap();
    flaky.set(DOWN);
    payments.create(&request("tok_visa")).await.unwrap_err();
    payments.create(&request("tok_visa")).await.unwrap_err();
    assert_eq!(flaky.calls(), 2, "no retries with max_attempts = 1");
    let breaker = payments.breaker().unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(breaker.name(), "payments");
    let error = payments
        .get(&PaymentId::new("pi_x").unwrap())
        .await
        .unwrap_err();
    assert!(error.retry_after().unwrap() <= Duration::from_secs(10));
}
