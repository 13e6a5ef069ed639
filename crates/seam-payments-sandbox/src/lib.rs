//! The embedded sandbox payment provider: deterministic, in-process, no account and
//! nothing installed, yet it declines, times out, fails transiently and sends signed,
//! Stripe-shaped webhook events, so retries, the circuit breaker and the webhook path
//! can be seen working on a laptop.
//!
//! Payments, refunds and idempotency are those of the port's in-memory adapter
//! ([`seam_payments::InMemoryPayments`]); the sandbox adds the magic values below and
//! the events.
//!
//! # Magic values
//!
//! | input | outcome |
//! | --- | --- |
//! | any other card token, e.g. `tok_visa`, `pm_card_visa` | succeeds |
//! | `tok_chargeDeclined`, `pm_card_chargeDeclined` | [`Error::CardDeclined`] `generic_decline` |
//! | `tok_insufficientFunds`, `tok_chargeDeclinedInsufficientFunds` | declined `insufficient_funds` |
//! | `tok_chargeDeclinedExpiredCard` | declined `expired_card` |
//! | `tok_requires_action`, `tok_threeDSecureRequired` | `requires_action`; `confirm` completes it |
//! | `tok_timeout` | [`Error::Timeout`] on create; nothing is created |
//! | `tok_rateLimited` | [`Error::RateLimited`] (retry after 1 s) on create |
//! | amount ending in `13` minor units (`10.13`) | [`Error::Transient`] on every create: watch the breaker open |
//! | amount ending in `14` minor units (`10.14`) | [`Error::Transient`] on the first create of each idempotency key, success on the retry: watch a retry charge once |
//! | a bank-debit method | `processing` until [`SandboxPayments::settle`] |
//!
//! [`SandboxPayments::dispute`] records a chargeback on a paid payment.
//!
//! # Events
//!
//! Every change of a payment is sent to the configured [`EventSink`] as the event
//! Stripe would send, signed like Stripe (`Stripe-Signature: t=…,v1=…`, HMAC-SHA256
//! over `{t}.{body}` keyed with the endpoint secret) when a `webhook_secret` is
//! configured: `payment_intent.created`, `payment_intent.succeeded`,
//! `payment_intent.payment_failed`, `payment_intent.requires_action`,
//! `payment_intent.processing`, `payment_intent.amount_capturable_updated`,
//! `payment_intent.canceled`, `charge.refunded` and `charge.dispute.created`. An
//! idempotent replay sends nothing. With `webhook_url` configured, an [`HttpEventSink`]
//! posts them to the service's own `/webhooks/stripe`, so the whole webhook path runs
//! with nothing installed.

mod http_sink;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use seam_core::{ExposeSecret, SecretString, SharedClock, SystemClock};
use seam_domain::Money;
use seam_payments::stripe_event::{
    charge_object, dispute_object, event_json, payment_intent_object,
};
use seam_payments::{
    CreatePayment, CreateRefund, Error, IdempotencyKey, InMemoryPayments, Payment, PaymentId,
    PaymentService, PaymentStatus, Refund, Result,
};
use seam_telemetry::PortMetrics;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use http_sink::HttpEventSink;

const METRICS: PortMetrics = PortMetrics::new("payments", "sandbox");

/// The header Stripe puts its signature in, and the sandbox too.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Tokens that decline, with their decline codes.
pub const DECLINING_TOKENS: [(&str, &str); 5] = [
    ("tok_chargeDeclined", "generic_decline"),
    ("pm_card_chargeDeclined", "generic_decline"),
    ("tok_insufficientFunds", "insufficient_funds"),
    ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ("tok_chargeDeclinedExpiredCard", "expired_card"),
];
/// Tokens that need customer action.
pub const ACTION_REQUIRED_TOKENS: [&str; 2] = ["tok_requires_action", "tok_threeDSecureRequired"];
/// The token whose create times out.
pub const TIMEOUT_TOKEN: &str = "tok_timeout";
/// The token whose create is rate limited.
pub const RATE_LIMITED_TOKEN: &str = "tok_rateLimited";
/// Amounts whose minor units end in this always fail transiently.
pub const ALWAYS_TRANSIENT_SUFFIX: i64 = 13;
/// Amounts whose minor units end in this fail transiently once per idempotency key.
pub const TRANSIENT_ONCE_SUFFIX: i64 = 14;

/// How the sandbox is set up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// The endpoint secret events are signed with (`whsec_…`); unsigned when absent.
    #[serde(default)]
    pub webhook_secret: Option<SecretString>,
    /// Where to post the events (`http://127.0.0.1:8080/webhooks/stripe`), with an
    /// [`HttpEventSink`]; nowhere when absent (or set a sink with
    /// [`SandboxPayments::with_sink`]).
    #[serde(default)]
    pub webhook_url: Option<String>,
}

impl SandboxConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an empty webhook secret or a webhook URL that is not http(s).
    pub fn validate(&self) -> Result<()> {
        if let Some(url) = &self.webhook_url {
            HttpEventSink::new(url)?;
        }
        match &self.webhook_secret {
            Some(secret) if secret.expose_secret().trim().is_empty() => Err(Error::invalid(
                "sandbox configuration: `webhook_secret` must not be empty (omit it to send unsigned events)",
            )),
            _ => Ok(()),
        }
    }

    /// Validates the configuration and builds the sandbox, on the system clock, posting
    /// its events to `webhook_url` when set.
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate).
    pub fn build(self) -> Result<SandboxPayments> {
        self.validate()?;
        let sink = match &self.webhook_url {
            Some(url) => Some(HttpEventSink::new(url)?),
            None => None,
        };
        let sandbox = SandboxPayments::with_config(self);
        Ok(match sink {
            Some(sink) => sandbox.with_sink(Arc::new(sink)),
            None => sandbox,
        })
    }
}

/// One webhook delivery, as Stripe would make it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxEvent {
    /// The event id (`evt_sbx_…`).
    pub event_id: String,
    /// The Stripe event type (`payment_intent.succeeded`).
    pub event_type: String,
    /// The raw JSON body.
    pub provider_event_json: Vec<u8>,
    /// The value of the [`SIGNATURE_HEADER`], when a secret is configured.
    pub signature_header: Option<String>,
}

/// Where the sandbox sends its webhook events. Called inside the payment call that
/// caused the event, so an implementation should hand the event off quickly (queue it,
/// or spawn the HTTP post) rather than process it in place.
#[async_trait]
pub trait EventSink: fmt::Debug + Send + Sync + 'static {
    /// Delivers one event.
    async fn deliver(&self, event: SandboxEvent);
}

/// An [`EventSink`] that keeps every event, for tests and demos.
#[derive(Debug, Default)]
pub struct RecordingSink {
    events: Mutex<Vec<SandboxEvent>>,
}

impl RecordingSink {
    /// An empty sink.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Every event delivered so far, oldest first.
    pub fn events(&self) -> Vec<SandboxEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The types of every event delivered so far, oldest first.
    pub fn event_types(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .map(|event| event.event_type)
            .collect()
    }
}

#[async_trait]
impl EventSink for RecordingSink {
    async fn deliver(&self, event: SandboxEvent) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }
}

/// Signs `body` as Stripe does: `t={timestamp},v1={hex HMAC-SHA256 of "{t}.{body}"}`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// What the sandbox last told the sink about a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    status: PaymentStatus,
    refunded: i64,
}

/// The sandbox [`PaymentService`]; see the crate documentation.
pub struct SandboxPayments {
    inner: InMemoryPayments,
    secret: Option<SecretString>,
    sink: Option<Arc<dyn EventSink>>,
    clock: SharedClock,
    seen: Mutex<HashMap<PaymentId, Seen>>,
    failed_once: Mutex<HashSet<IdempotencyKey>>,
}

impl fmt::Debug for SandboxPayments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxPayments")
            .field("signed", &self.secret.is_some())
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

impl Default for SandboxPayments {
    fn default() -> Self {
        Self::with_config(SandboxConfig::default())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only whole values are inserted under these locks.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SandboxPayments {
    fn with_config(config: SandboxConfig) -> Self {
        let inner = DECLINING_TOKENS.iter().fold(
            InMemoryPayments::new().with_id_prefix("sbx"),
            |inner, (token, code)| inner.with_declining_token(*token, *code),
        );
        let inner = ACTION_REQUIRED_TOKENS.iter().fold(inner, |inner, token| {
            inner.with_action_required_token(*token)
        });
        Self {
            inner,
            secret: config.webhook_secret,
            sink: None,
            clock: SystemClock::shared(),
            seen: Mutex::new(HashMap::new()),
            failed_once: Mutex::new(HashSet::new()),
        }
    }

    /// Sends events to `sink`.
    pub fn with_sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Uses `clock` for timestamps and signatures.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.inner = self.inner.with_clock(clock.clone());
        self.clock = clock;
        self
    }

    /// Settles a processing (bank-debit) payment, as the bank would, and sends its event.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], or [`Error::InvalidState`] when it is not processing.
    pub async fn settle(&self, id: &PaymentId) -> Result<Payment> {
        let payment = self.inner.settle(id)?;
        self.observe(&payment).await;
        Ok(payment)
    }

    /// Records a chargeback on a paid payment and sends `charge.dispute.created`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], or [`Error::InvalidState`] when no money was taken.
    pub async fn dispute(&self, id: &PaymentId) -> Result<Payment> {
        let payment = self.inner.dispute(id)?;
        self.observe(&payment).await;
        Ok(payment)
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }

    /// The magic failures of `create`, before anything is created.
    fn magic_failure(&self, request: &CreatePayment) -> Option<Error> {
        let token = request.method.token().as_str();
        if token == TIMEOUT_TOKEN {
            return Some(Error::Timeout(
                "sandbox: tok_timeout never answers".to_owned(),
            ));
        }
        if token == RATE_LIMITED_TOKEN {
            return Some(Error::RateLimited {
                retry_after: Some(Duration::from_secs(1)),
            });
        }
        match request.amount.minor().rem_euclid(100) {
            ALWAYS_TRANSIENT_SUFFIX => Some(Error::transient(
                "sandbox: amounts ending in 13 always fail transiently",
            )),
            TRANSIENT_ONCE_SUFFIX
                if lock(&self.failed_once).insert(request.idempotency_key.clone()) =>
            {
                Some(Error::transient(
                    "sandbox: amounts ending in 14 fail once per idempotency key",
                ))
            }
            _ => None,
        }
    }

    /// Sends the events that take the sink from what it last saw to `payment`.
    async fn observe(&self, payment: &Payment) {
        let now_seen = Seen {
            status: payment.status,
            refunded: payment.amount_refunded.minor(),
        };
        let before = lock(&self.seen).insert(payment.id.clone(), now_seen);
        if before == Some(now_seen) {
            return;
        }
        let mut types: Vec<&str> = Vec::new();
        if before.is_none() {
            types.push("payment_intent.created");
        }
        let status_changed = before.is_none_or(|seen| seen.status != payment.status);
        let refund_changed = before.is_some_and(|seen| seen.refunded != now_seen.refunded);
        if status_changed {
            match payment.status {
                PaymentStatus::Succeeded => types.push("payment_intent.succeeded"),
                PaymentStatus::Failed => types.push("payment_intent.payment_failed"),
                PaymentStatus::RequiresAction => types.push("payment_intent.requires_action"),
                PaymentStatus::Processing => types.push("payment_intent.processing"),
                PaymentStatus::RequiresCapture => {
                    types.push("payment_intent.amount_capturable_updated");
                }
                PaymentStatus::Canceled => types.push("payment_intent.canceled"),
                PaymentStatus::Disputed => types.push("charge.dispute.created"),
                _ => {}
            }
        }
        if refund_changed {
            types.push("charge.refunded");
        }
        for event_type in types {
            self.emit(event_type, payment).await;
        }
    }

    async fn emit(&self, event_type: &str, payment: &Payment) {
        let Some(sink) = &self.sink else {
            return;
        };
        let suffix = payment
            .id
            .as_str()
            .strip_prefix("pi_")
            .unwrap_or(payment.id.as_str());
        let charge_id = format!("ch_{suffix}");
        let object = match event_type {
            "charge.refunded" => charge_object(payment, &charge_id),
            "charge.dispute.created" => {
                dispute_object(payment, &format!("dp_{suffix}"), &charge_id, "fraudulent")
            }
            _ => payment_intent_object(payment),
        };
        let event_id = format!(
            "evt_sbx_{}",
            seam_core::Id::<SandboxEvent>::new()
                .to_string()
                .replace('-', "")
        );
        let now = self.now();
        let body = event_json(&event_id, event_type, now, object);
        let signature_header = self
            .secret
            .as_ref()
            .map(|secret| sign(secret.expose_secret(), now.timestamp(), &body));
        tracing::debug!(event_id = %event_id, event_type, payment_id = %payment.id, "sandbox: sending webhook event");
        sink.deliver(SandboxEvent {
            event_id,
            event_type: event_type.to_owned(),
            provider_event_json: body,
            signature_header,
        })
        .await;
    }

    /// Observes the payment named by a decline, so its `payment_failed` is sent.
    async fn observe_decline(&self, error: &Error) {
        if let Error::CardDeclined {
            payment_id: Some(id),
            ..
        } = error
            && let Ok(payment) = self.inner.get(id).await
        {
            self.observe(&payment).await;
        }
    }

    async fn observed(&self, result: Result<Payment>) -> Result<Payment> {
        match &result {
            Ok(payment) => self.observe(payment).await,
            Err(error) => self.observe_decline(error).await,
        }
        result
    }
}

#[async_trait]
impl PaymentService for SandboxPayments {
    async fn create(&self, request: &CreatePayment) -> Result<Payment> {
        METRICS
            .call("create", async {
                request.validate()?;
                if let Some(error) = self.magic_failure(request) {
                    return Err(error);
                }
                let result = self.inner.create(request).await;
                self.observed(result).await
            })
            .await
    }

    async fn get(&self, id: &PaymentId) -> Result<Payment> {
        METRICS.call("get", self.inner.get(id)).await
    }

    async fn confirm(&self, id: &PaymentId, idempotency_key: &IdempotencyKey) -> Result<Payment> {
        METRICS
            .call("confirm", async {
                let result = self.inner.confirm(id, idempotency_key).await;
                self.observed(result).await
            })
            .await
    }

    async fn capture(
        &self,
        id: &PaymentId,
        amount: Option<Money>,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Payment> {
        METRICS
            .call("capture", async {
                let result = self.inner.capture(id, amount, idempotency_key).await;
                self.observed(result).await
            })
            .await
    }

    async fn cancel(&self, id: &PaymentId, idempotency_key: &IdempotencyKey) -> Result<Payment> {
        METRICS
            .call("cancel", async {
                let result = self.inner.cancel(id, idempotency_key).await;
                self.observed(result).await
            })
            .await
    }

    async fn refund(&self, request: &CreateRefund) -> Result<Refund> {
        METRICS
            .call("refund", async {
                let refund = self.inner.refund(request).await?;
                if let Ok(payment) = self.inner.get(&request.payment_id).await {
                    self.observe(&payment).await;
                }
                Ok(refund)
            })
            .await
    }

    async fn list_refunds(&self, id: &PaymentId) -> Result<Vec<Refund>> {
        METRICS
            .call("list_refunds", self.inner.list_refunds(id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_stripes_scheme() {
        // HMAC-SHA256("whsec_test", "1700000000.{}"), computed independently with
        // `printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test`.
        assert_eq!(
            sign("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn empty_secret_is_refused() {
        let config = SandboxConfig {
            webhook_secret: Some(SecretString::from(" ")),
            webhook_url: None,
        };
        assert!(matches!(config.build(), Err(Error::Invalid(_))));
        let config = SandboxConfig {
            webhook_secret: None,
            webhook_url: Some("ftp://x".to_owned()),
        };
        assert!(matches!(config.build(), Err(Error::Invalid(_))));
        assert!(SandboxConfig::default().build().is_ok());
    }
}
