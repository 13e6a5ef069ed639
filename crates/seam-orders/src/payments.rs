//! Orders meet payments: paying a confirmed order, refunding it, and following the
//! provider's webhook events.
//!
//! # Where the payment lives
//!
//! Beside the order, in an [`OrderPayment`] record (`order_payments` table), not in the
//! order's own status: the order's life cycle (pending -> confirmed | rejected) is about
//! stock; the payment's is about money and is moved by webhooks that arrive late, twice
//! and out of order. The record's status is `pending` until the provider answered, then
//! a [`PaymentStatus`] name, merged forward-only with [`PaymentStatus::advance`]: a
//! `payment_intent.succeeded` delivered after the `charge.refunded` that followed it
//! leaves the payment `refunded`.
//!
//! # Idempotency
//!
//! - `pay`: the provider idempotency key is `order-{id}-pay-{client key}` when the client
//!   sent an `Idempotency-Key`, else `order-{id}-pay` (then `order-{id}-pay-{n}` for the
//!   n-th attempt after a decline). An attempt that ended without an answer (provider
//!   down, breaker open) keeps its key, so retrying it cannot charge twice.
//! - `refund`: `order-{id}-refund-{client key}`, else `order-{id}-refund-{n}` for the n-th
//!   refund (a client that wants a retried refund to be safe sends its own key).
//!
//! # When the provider is down
//!
//! A call rejected by the open breaker (or failing transiently after the retries) is
//! returned as [`PaymentsError::Provider`] with its kind (`Unavailable` with a retry-after
//! for an open breaker): the API answers `503` + `Retry-After`, fast, and the order stays
//! payable — the client retries. Nothing is queued in the background.
//!
//! # Events
//!
//! [`Payments::apply_payment_event`]: succeeded -> `succeeded`; failed -> `failed` (the
//! failure code kept); refunded -> the refunded total and `partially_refunded` /
//! `refunded`; dispute created -> `disputed` and an alert through the alerts port (dedup
//! key `payment-dispute:{payment id}`, so a redelivery does not page twice). Events of
//! other types, or for payments no order knows, are [`EventOutcome::Ignored`].
//! A failed payment is logged for the customer's attention; no e-mail template exists
//! for it yet, so no e-mail is sent.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use seam_alerts::{Alert, AlertService, Severity};
use seam_core::{Classify, ErrorKind, SharedClock};
use seam_domain::{Money, Order, OrderId, OrderStatus};
use seam_payments::{
    CreatePayment, CreateRefund, CustomerRef, IdempotencyKey, PaymentEvent, PaymentEventKind,
    PaymentId, PaymentMethod, PaymentService, PaymentStatus,
};
use seam_repository::{OrderPayment, OrderPaymentRepository, OrderRepository, PaymentRefundRecord};

/// The record status before the provider answered.
pub const PENDING: &str = "pending";

/// How often a record update is retried when a concurrent writer (a webhook) won.
const UPDATE_ATTEMPTS: usize = 8;

/// A payment use case failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaymentsError {
    /// No such order.
    #[error("order {0} not found")]
    OrderNotFound(OrderId),
    /// The order cannot be paid now (not confirmed, or paid already differently).
    #[error("order {order_id} cannot be paid: {reason}")]
    NotPayable {
        /// The order.
        order_id: OrderId,
        /// Why, fit for the client.
        reason: String,
    },
    /// The refund is not possible (nothing paid, more than what is left).
    #[error("order {order_id} cannot be refunded: {reason}")]
    NotRefundable {
        /// The order.
        order_id: OrderId,
        /// Why, fit for the client.
        reason: String,
    },
    /// The card was declined.
    #[error("card declined ({}): {message}", decline_code.as_deref().unwrap_or("no decline code"))]
    Declined {
        /// The issuer's decline code.
        decline_code: Option<String>,
        /// A message fit for the customer.
        message: String,
    },
    /// The request is malformed (an amount in another currency, a bad key).
    #[error("{0}")]
    Invalid(String),
    /// The payment provider failed (unavailable, rate limited, timed out, …).
    #[error(transparent)]
    Provider(seam_payments::Error),
    /// The repository failed.
    #[error(transparent)]
    Repository(#[from] seam_repository::Error),
    /// The alerts port failed (a dispute could not be reported; retry the event).
    #[error(transparent)]
    Alerts(#[from] seam_alerts::Error),
}

impl From<seam_payments::Error> for PaymentsError {
    fn from(error: seam_payments::Error) -> Self {
        match error {
            seam_payments::Error::CardDeclined {
                decline_code,
                message,
                ..
            } => Self::Declined {
                decline_code,
                message,
            },
            seam_payments::Error::Invalid(reason) => Self::Invalid(reason),
            other => Self::Provider(other),
        }
    }
}

impl PaymentsError {
    /// How long the client should wait before retrying, when the provider said so (an
    /// open breaker, rate limiting).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Provider(error) => error.retry_after(),
            _ => None,
        }
    }
}

impl Classify for PaymentsError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::OrderNotFound(_) => ErrorKind::NotFound,
            Self::NotPayable { .. } | Self::NotRefundable { .. } => ErrorKind::Conflict,
            Self::Declined { .. } => ErrorKind::Permanent,
            Self::Invalid(_) => ErrorKind::Invalid,
            Self::Provider(error) => error.kind(),
            Self::Repository(error) => error.kind(),
            Self::Alerts(error) => error.kind(),
        }
    }
}

/// The result of a payment use case.
pub type PaymentsResult<T> = std::result::Result<T, PaymentsError>;

/// What [`Payments::pay`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayOutcome {
    /// The order's payment record afterwards.
    pub payment: OrderPayment,
    /// Whether this call started a payment (`false`: the order was paid already).
    pub created: bool,
}

/// What [`Payments::refund`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    /// The refund.
    pub refund: PaymentRefundRecord,
    /// The order's payment record afterwards.
    pub payment: OrderPayment,
}

/// What [`Payments::apply_payment_event`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventOutcome {
    /// The event moved the order's payment forward.
    Applied {
        /// The order.
        order_id: OrderId,
        /// The payment status afterwards.
        status: PaymentStatus,
    },
    /// The event was a duplicate or arrived late: nothing changed.
    Unchanged {
        /// The order.
        order_id: OrderId,
        /// The payment status, as it stays.
        status: String,
    },
    /// Nothing to do: a type this use case does not handle, or no order for it.
    Ignored {
        /// Why, for the event log.
        reason: String,
    },
}

/// The payment use cases over the payments, repository and alerts ports.
#[derive(Debug, Clone)]
pub struct Payments {
    orders: Arc<dyn OrderRepository>,
    records: Arc<dyn OrderPaymentRepository>,
    provider: Arc<dyn PaymentService>,
    provider_name: String,
    alerts: Arc<dyn AlertService>,
    alert_source: String,
    clock: SharedClock,
}

/// The payment status a record's text names; `None` for `pending` (or anything unknown).
pub fn parse_status(status: &str) -> Option<PaymentStatus> {
    PaymentStatus::ALL
        .into_iter()
        .find(|candidate| candidate.as_str() == status)
}

/// Merges a reported status into a record's, forward only. From `pending` any reported
/// status is taken.
fn merge_status(current: &str, next: PaymentStatus) -> PaymentStatus {
    match parse_status(current) {
        Some(current) => current.advance(next),
        None => next,
    }
}

fn key(text: String) -> PaymentsResult<IdempotencyKey> {
    IdempotencyKey::new(text).map_err(|error| PaymentsError::Invalid(error.to_string()))
}

impl Payments {
    /// The use cases. `provider_name` is stored with each payment (`sandbox`, `stripe`);
    /// `alert_source` names this service in alerts (`seam-worker@host`).
    pub fn new(
        orders: Arc<dyn OrderRepository>,
        records: Arc<dyn OrderPaymentRepository>,
        provider: Arc<dyn PaymentService>,
        provider_name: impl Into<String>,
        alerts: Arc<dyn AlertService>,
        alert_source: impl Into<String>,
        clock: SharedClock,
    ) -> Self {
        Self {
            orders,
            records,
            provider,
            provider_name: provider_name.into(),
            alerts,
            alert_source: alert_source.into(),
            clock,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }

    async fn order(&self, order_id: OrderId) -> PaymentsResult<Order> {
        self.orders
            .get(order_id)
            .await?
            .ok_or(PaymentsError::OrderNotFound(order_id))
    }

    /// The order's payment record, `None` when it was never paid.
    ///
    /// # Errors
    ///
    /// [`PaymentsError::OrderNotFound`], repository failures.
    pub async fn payment(&self, order_id: OrderId) -> PaymentsResult<Option<OrderPayment>> {
        self.order(order_id).await?;
        Ok(self.records.get(order_id).await?)
    }

    /// The order's refunds, oldest first.
    ///
    /// # Errors
    ///
    /// Repository failures.
    pub async fn refunds(&self, order_id: OrderId) -> PaymentsResult<Vec<PaymentRefundRecord>> {
        Ok(self.records.refunds(order_id).await?)
    }

    /// Applies `change` to the order's record, re-reading and retrying when a concurrent
    /// writer (a webhook) updated it in between. `change` answers whether it changed
    /// anything; the stored record is returned either way.
    async fn modify(
        &self,
        order_id: OrderId,
        mut change: impl FnMut(&mut OrderPayment) -> bool,
    ) -> PaymentsResult<OrderPayment> {
        let mut last_error = None;
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(current) = self.records.get(order_id).await? else {
                return Err(seam_repository::Error::not_found("order payment", order_id).into());
            };
            let mut next = current.clone();
            if !change(&mut next) {
                return Ok(current);
            }
            next.updated_at = self.now();
            match self.records.update(&next, current.version).await {
                Ok(stored) => return Ok(stored),
                Err(error) if error.kind() == ErrorKind::Conflict => last_error = Some(error),
                Err(error) => return Err(error.into()),
            }
        }
        Err(last_error
            .unwrap_or_else(|| seam_repository::Error::conflict("order payment", order_id, "busy"))
            .into())
    }

    /// Pays a confirmed order's total with `method`.
    ///
    /// `client_key` is the client's `Idempotency-Key`, if it sent one (see the
    /// [module documentation](self)). An order paid already answers its payment with
    /// `created: false`; a payment still in progress (customer action, processing) is
    /// answered as it stands.
    ///
    /// # Errors
    ///
    /// [`PaymentsError::OrderNotFound`]; [`PaymentsError::NotPayable`] for an order that
    /// is not confirmed; [`PaymentsError::Declined`] for a declined card (the record keeps
    /// `failed` and the code, and the order stays payable); [`PaymentsError::Provider`]
    /// when the provider is unavailable (`Unavailable` with a retry-after while the
    /// breaker is open); repository failures.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    pub async fn pay(
        &self,
        order_id: OrderId,
        method: PaymentMethod,
        client_key: Option<&str>,
    ) -> PaymentsResult<PayOutcome> {
        let order = self.order(order_id).await?;
        if order.status != OrderStatus::Confirmed {
            return Err(PaymentsError::NotPayable {
                order_id,
                reason: format!(
                    "the order is {}; only a confirmed order can be paid",
                    order.status.as_str()
                ),
            });
        }
        let record = match self.records.get(order_id).await? {
            None => {
                let fresh = OrderPayment {
                    order_id,
                    provider: self.provider_name.clone(),
                    payment_id: None,
                    amount: order.total,
                    status: PENDING.to_owned(),
                    amount_refunded_minor: 0,
                    failure_code: None,
                    attempts: 1,
                    version: 0,
                    updated_at: self.now(),
                };
                match self.records.insert(&fresh).await {
                    Ok(stored) => stored,
                    // A concurrent pay call inserted it: go on with its record.
                    Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                        self.records.get(order_id).await?.ok_or_else(|| {
                            seam_repository::Error::not_found("order payment", order_id)
                        })?
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            Some(existing) => existing,
        };
        let record = match parse_status(&record.status) {
            None => record,
            Some(status) if status.is_paid() || status.is_pending() => {
                return Ok(PayOutcome {
                    payment: record,
                    created: false,
                });
            }
            // Failed or canceled: a new attempt, with a new key.
            Some(_) => {
                self.modify(order_id, |next| {
                    if parse_status(&next.status).is_some_and(|status| {
                        matches!(status, PaymentStatus::Failed | PaymentStatus::Canceled)
                    }) {
                        next.attempts += 1;
                        next.status = PENDING.to_owned();
                        next.failure_code = None;
                        next.provider.clone_from(&self.provider_name);
                        true
                    } else {
                        false
                    }
                })
                .await?
            }
        };
        if record.status != PENDING {
            // A webhook settled it meanwhile.
            return Ok(PayOutcome {
                payment: record,
                created: false,
            });
        }
        let idempotency_key = match client_key {
            Some(client) => key(format!("order-{order_id}-pay-{client}"))?,
            None if record.attempts <= 1 => key(format!("order-{order_id}-pay"))?,
            None => key(format!("order-{order_id}-pay-{}", record.attempts))?,
        };
        let request = CreatePayment::new(record.amount, method, idempotency_key)
            .with_order_reference(order_id)
            .with_customer(CustomerRef::Internal(order.customer_id.to_string()));
        match self.provider.create(&request).await {
            Ok(payment) => {
                let payment_id = payment.id.as_str().to_owned();
                let stored = self
                    .modify(order_id, |next| {
                        let status = merge_status(&next.status, payment.status);
                        let changed = next.payment_id.as_deref() != Some(payment_id.as_str())
                            || next.status != status.as_str();
                        next.payment_id = Some(payment_id.clone());
                        next.status = status.as_str().to_owned();
                        next.amount_refunded_minor = next
                            .amount_refunded_minor
                            .max(payment.amount_refunded.minor())
                            .min(next.amount.minor());
                        changed
                    })
                    .await?;
                metrics::counter!("seam_order_payments_total", "outcome" => "created").increment(1);
                tracing::info!(status = %stored.status, "order payment created");
                Ok(PayOutcome {
                    payment: stored,
                    created: true,
                })
            }
            Err(seam_payments::Error::CardDeclined {
                decline_code,
                message,
                payment_id,
            }) => {
                let code = decline_code
                    .clone()
                    .unwrap_or_else(|| "card_declined".to_owned());
                self.modify(order_id, |next| {
                    let status = merge_status(&next.status, PaymentStatus::Failed);
                    if status != PaymentStatus::Failed {
                        return false;
                    }
                    next.status = status.as_str().to_owned();
                    next.failure_code = Some(code.clone());
                    if let Some(id) = &payment_id {
                        next.payment_id = Some(id.as_str().to_owned());
                    }
                    true
                })
                .await?;
                metrics::counter!("seam_order_payments_total", "outcome" => "declined")
                    .increment(1);
                tracing::info!(decline_code = %code, "order payment declined");
                Err(PaymentsError::Declined {
                    decline_code,
                    message,
                })
            }
            // Unanswered: the record stays pending with its key, the client retries.
            Err(error) => {
                metrics::counter!("seam_order_payments_total", "outcome" => "error").increment(1);
                tracing::warn!(error.message = %error, "order payment not taken");
                Err(error.into())
            }
        }
    }

    /// Refunds `amount` (everything still refundable when `None`) of a paid order.
    ///
    /// # Errors
    ///
    /// [`PaymentsError::NotRefundable`] when the order has no paid payment, or the amount
    /// is above what is still refundable; [`PaymentsError::Invalid`] for an amount that is
    /// not positive or in another currency; [`PaymentsError::Provider`] when the provider
    /// failed; repository failures.
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    pub async fn refund(
        &self,
        order_id: OrderId,
        amount: Option<Money>,
        client_key: Option<&str>,
    ) -> PaymentsResult<RefundOutcome> {
        self.order(order_id).await?;
        let not_refundable = |reason: String| PaymentsError::NotRefundable { order_id, reason };
        let record = self
            .records
            .get(order_id)
            .await?
            .ok_or_else(|| not_refundable("the order was not paid".to_owned()))?;
        let status = parse_status(&record.status);
        let (Some(payment_id), Some(PaymentStatus::Succeeded | PaymentStatus::PartiallyRefunded)) =
            (record.payment_id.clone(), status)
        else {
            return Err(not_refundable(format!(
                "the payment is {}; only a paid payment can be refunded",
                record.status
            )));
        };
        let refundable = record.amount.minor() - record.amount_refunded_minor;
        let currency = record.amount.currency();
        let amount = match amount {
            Some(amount) if amount.currency() != currency => {
                return Err(PaymentsError::Invalid(format!(
                    "amount: the payment is in {}, not {}",
                    currency.code(),
                    amount.currency().code()
                )));
            }
            Some(amount) if amount.minor() <= 0 => {
                return Err(PaymentsError::Invalid(
                    "amount: must be positive".to_owned(),
                ));
            }
            Some(amount) if amount.minor() > refundable => {
                return Err(not_refundable(format!(
                    "{} minor units asked, {refundable} still refundable",
                    amount.minor()
                )));
            }
            Some(amount) => amount,
            None => Money::new(refundable, currency),
        };
        let earlier = self.records.refunds(order_id).await?;
        let idempotency_key = match client_key {
            Some(client) => key(format!("order-{order_id}-refund-{client}"))?,
            None => key(format!("order-{order_id}-refund-{}", earlier.len() + 1))?,
        };
        let payment_id = PaymentId::new(payment_id)
            .map_err(|error| PaymentsError::Invalid(error.to_string()))?;
        let request = CreateRefund::partial(payment_id, amount, idempotency_key);
        let refund = match self.provider.refund(&request).await {
            Ok(refund) => refund,
            Err(seam_payments::Error::InvalidState(reason)) => return Err(not_refundable(reason)),
            Err(error) => return Err(error.into()),
        };
        let record = PaymentRefundRecord {
            refund_id: refund.id.as_str().to_owned(),
            order_id,
            amount_minor: refund.amount.minor(),
            status: refund.status.as_str().to_owned(),
            created_at: self.now(),
        };
        self.records.record_refund(&record).await?;
        let refunded: i64 = self
            .records
            .refunds(order_id)
            .await?
            .iter()
            .filter(|refund| !matches!(refund.status.as_str(), "failed" | "canceled"))
            .map(|refund| refund.amount_minor)
            .sum();
        let payment = self
            .modify(order_id, |next| {
                let total = next
                    .amount_refunded_minor
                    .max(refunded)
                    .min(next.amount.minor());
                let reported = if total >= next.amount.minor() {
                    PaymentStatus::Refunded
                } else {
                    PaymentStatus::PartiallyRefunded
                };
                let status = merge_status(&next.status, reported);
                let changed = total != next.amount_refunded_minor || status.as_str() != next.status;
                next.amount_refunded_minor = total;
                next.status = status.as_str().to_owned();
                changed
            })
            .await?;
        metrics::counter!("seam_order_refunds_total").increment(1);
        tracing::info!(amount = %refund.amount, "order refunded");
        Ok(RefundOutcome {
            refund: record,
            payment,
        })
    }

    /// Applies a provider's webhook event to the order's payment, forward only (see the
    /// [module documentation](self)). Safe to call again with the same event.
    ///
    /// # Errors
    ///
    /// Repository failures, and the alerts port failing to report a dispute; all
    /// retryable (the event changes nothing the second time, and the alert is deduplicated).
    #[tracing::instrument(skip_all, fields(event_id = %event.id, kind = event.kind_name()))]
    pub async fn apply_payment_event(&self, event: &PaymentEvent) -> PaymentsResult<EventOutcome> {
        let Some(reported) = event.status() else {
            return Ok(EventOutcome::Ignored {
                reason: format!("{} events are not handled", event.kind_name()),
            });
        };
        let Some(record) = self.record_for(event).await? else {
            return Ok(EventOutcome::Ignored {
                reason: "no order is paid by this payment".to_owned(),
            });
        };
        let order_id = record.order_id;
        let before_status = record.status.clone();
        let mut applied = false;
        let stored = self
            .modify(order_id, |next| {
                let mut changed = false;
                if next.payment_id.is_none()
                    && let Some(id) = &event.payment_id
                {
                    next.payment_id = Some(id.as_str().to_owned());
                    changed = true;
                }
                if let PaymentEventKind::Refunded {
                    amount_refunded, ..
                } = &event.kind
                {
                    let total = next
                        .amount_refunded_minor
                        .max(amount_refunded.minor())
                        .min(next.amount.minor());
                    changed |= total != next.amount_refunded_minor;
                    next.amount_refunded_minor = total;
                }
                let status = merge_status(&next.status, reported);
                if status.as_str() != next.status {
                    next.status = status.as_str().to_owned();
                    if let PaymentEventKind::PaymentFailed { failure } = &event.kind {
                        next.failure_code = Some(
                            failure
                                .decline_code
                                .clone()
                                .unwrap_or_else(|| failure.code.clone()),
                        );
                    }
                    changed = true;
                }
                applied = changed;
                changed
            })
            .await?;
        if let PaymentEventKind::DisputeCreated { amount, reason } = &event.kind
            && stored.status == PaymentStatus::Disputed.as_str()
        {
            self.report_dispute(&stored, *amount, reason.as_deref())
                .await?;
        }
        let status = stored.status.clone();
        if !applied {
            return Ok(EventOutcome::Unchanged { order_id, status });
        }
        if stored.status == PaymentStatus::Failed.as_str() && before_status != stored.status {
            // No e-mail template for a failed payment exists yet: leave a trace instead.
            tracing::warn!(
                order_id = %order_id,
                failure_code = stored.failure_code.as_deref().unwrap_or("unknown"),
                "payment failed; the customer must pay again"
            );
        }
        metrics::counter!("seam_payment_events_applied_total", "kind" => event.kind_name())
            .increment(1);
        match parse_status(&status) {
            Some(status) => Ok(EventOutcome::Applied { order_id, status }),
            None => Ok(EventOutcome::Unchanged { order_id, status }),
        }
    }

    /// The record an event is about: by payment id, else by the order reference
    /// (an event may overtake the `pay` call that stores the payment id). An order
    /// paid outside Seam gets its record from the event.
    async fn record_for(&self, event: &PaymentEvent) -> PaymentsResult<Option<OrderPayment>> {
        if let Some(id) = &event.payment_id
            && let Some(record) = self.records.find_by_payment_id(id.as_str()).await?
        {
            return Ok(Some(record));
        }
        let Some(order_id) = event
            .order_reference
            .as_deref()
            .and_then(|reference| reference.parse::<OrderId>().ok())
        else {
            return Ok(None);
        };
        if let Some(record) = self.records.get(order_id).await? {
            // Another payment than the one on record (an earlier attempt's late event):
            // only the current payment moves the record.
            if let (Some(known), Some(id)) = (&record.payment_id, &event.payment_id)
                && known != id.as_str()
            {
                return Ok(None);
            }
            return Ok(Some(record));
        }
        let Some(order) = self.orders.get(order_id).await? else {
            return Ok(None);
        };
        let fresh = OrderPayment {
            order_id,
            provider: self.provider_name.clone(),
            payment_id: event.payment_id.as_ref().map(|id| id.as_str().to_owned()),
            amount: order.total,
            status: PENDING.to_owned(),
            amount_refunded_minor: 0,
            failure_code: None,
            attempts: 1,
            version: 0,
            updated_at: self.now(),
        };
        match self.records.insert(&fresh).await {
            Ok(stored) => Ok(Some(stored)),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                Ok(self.records.get(order_id).await?)
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn report_dispute(
        &self,
        record: &OrderPayment,
        amount: Money,
        reason: Option<&str>,
    ) -> PaymentsResult<()> {
        let subject = record
            .payment_id
            .clone()
            .unwrap_or_else(|| record.order_id.to_string());
        let alert = Alert::new(
            format!("payment-dispute:{subject}"),
            Severity::Error,
            format!("payment of order {} disputed", record.order_id),
            self.alert_source.clone(),
        )
        .with_component("payments")
        .with_detail("order_id", record.order_id.to_string())
        .with_detail("amount", amount.to_string())
        .with_detail("reason", reason.unwrap_or("unknown").to_owned());
        self.alerts.trigger(&alert).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use seam_alerts::InMemoryAlerts;
    use seam_core::SystemClock;
    use seam_domain::{Currency, EmailAddress, NewUser, OrderLine, Quantity, Sku};
    use seam_payments::{Failure, InMemoryPayments};
    use seam_repository::memory::MemoryRepositories;
    use seam_repository::{MemoryOrderPayments, Product, RepositoryPorts};

    use super::*;

    struct Fixture {
        ports: RepositoryPorts,
        provider: Arc<InMemoryPayments>,
        alerts: Arc<InMemoryAlerts>,
        payments: Payments,
        eur: Currency,
    }

    fn fixture() -> Fixture {
        let ports = MemoryRepositories::new().ports();
        let provider = Arc::new(
            InMemoryPayments::new().with_declining_token("tok_decline", "insufficient_funds"),
        );
        let alerts = Arc::new(InMemoryAlerts::new());
        let payments = Payments::new(
            ports.orders.clone(),
            Arc::new(MemoryOrderPayments::new()),
            provider.clone(),
            "memory",
            alerts.clone(),
            "seam-test",
            SystemClock::shared(),
        );
        Fixture {
            ports,
            provider,
            alerts,
            payments,
            eur: Currency::parse("EUR").unwrap(),
        }
    }

    impl Fixture {
        /// An order of 2 x 21.00 EUR, confirmed when `confirm`.
        async fn order(&self, confirm: bool) -> OrderId {
            let unique = uuid::Uuid::now_v7().simple().to_string();
            let user = self
                .ports
                .users
                .create(
                    NewUser::new(
                        EmailAddress::parse(&format!("{unique}@example.com")).unwrap(),
                        "Ada",
                    )
                    .unwrap(),
                )
                .await
                .unwrap();
            let sku = Sku::parse("SKU-1").unwrap();
            let price = Money::new(2100, self.eur);
            self.ports
                .inventory
                .put_product(&Product {
                    sku: sku.clone(),
                    name: "Widget".to_owned(),
                    unit_price: price,
                    on_hand: 10,
                })
                .await
                .unwrap();
            let line = OrderLine {
                sku,
                quantity: Quantity::new(2).unwrap(),
                unit_price: price,
            };
            let now = Utc::now();
            let mut order =
                Order::place(OrderId::new(), user.id, self.eur, vec![line], now).unwrap();
            let mut tx = self.ports.unit_of_work.begin().await.unwrap();
            tx.insert_order(&order).await.unwrap();
            if confirm {
                let version = order.version;
                order.confirm(now).unwrap();
                tx.update_order(&order, version).await.unwrap();
            }
            tx.commit().await.unwrap();
            order.id
        }

        async fn paid_order(&self) -> (OrderId, PaymentId) {
            let order_id = self.order(true).await;
            let paid = self
                .payments
                .pay(order_id, PaymentMethod::card("tok_visa").unwrap(), None)
                .await
                .unwrap();
            let id = PaymentId::new(paid.payment.payment_id.clone().unwrap()).unwrap();
            (order_id, id)
        }

        fn event(&self, id: &str, payment_id: &PaymentId, kind: PaymentEventKind) -> PaymentEvent {
            PaymentEvent {
                id: id.to_owned(),
                kind,
                payment_id: Some(payment_id.clone()),
                order_reference: None,
                occurred_at: Utc::now(),
            }
        }

        fn refunded(&self, minor: i64, full: bool) -> PaymentEventKind {
            PaymentEventKind::Refunded {
                amount_refunded: Money::new(minor, self.eur),
                fully_refunded: full,
            }
        }

        fn succeeded(&self) -> PaymentEventKind {
            PaymentEventKind::PaymentSucceeded {
                amount: Money::new(4200, self.eur),
            }
        }
    }

    #[tokio::test]
    async fn pays_a_confirmed_order_once() {
        let f = fixture();
        let order_id = f.order(true).await;
        let card = PaymentMethod::card("tok_visa").unwrap();
        let first = f.payments.pay(order_id, card.clone(), None).await.unwrap();
        assert!(first.created);
        assert_eq!(first.payment.status, "succeeded");
        assert_eq!(first.payment.amount.minor(), 4200);
        let again = f.payments.pay(order_id, card, None).await.unwrap();
        assert!(!again.created);
        assert_eq!(again.payment.payment_id, first.payment.payment_id);
        assert_eq!(f.provider.payments().len(), 1);
        let charged = &f.provider.payments()[0];
        assert_eq!(
            charged.order_reference(),
            Some(order_id.to_string().as_str())
        );
    }

    #[tokio::test]
    async fn only_a_confirmed_order_is_payable() {
        let f = fixture();
        let order_id = f.order(false).await;
        let error = f
            .payments
            .pay(order_id, PaymentMethod::card("tok_visa").unwrap(), None)
            .await
            .unwrap_err();
        assert!(matches!(error, PaymentsError::NotPayable { .. }), "{error}");
        assert_eq!(error.kind(), ErrorKind::Conflict);
        let missing = f
            .payments
            .pay(
                OrderId::new(),
                PaymentMethod::card("tok_visa").unwrap(),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(missing, PaymentsError::OrderNotFound(_)));
    }

    #[tokio::test]
    async fn a_decline_is_recorded_and_the_order_stays_payable() {
        let f = fixture();
        let order_id = f.order(true).await;
        let error = f
            .payments
            .pay(order_id, PaymentMethod::card("tok_decline").unwrap(), None)
            .await
            .unwrap_err();
        match &error {
            PaymentsError::Declined { decline_code, .. } => {
                assert_eq!(decline_code.as_deref(), Some("insufficient_funds"));
            }
            other => panic!("expected a decline, got {other}"),
        }
        let record = f.payments.payment(order_id).await.unwrap().unwrap();
        assert_eq!(record.status, "failed");
        assert_eq!(record.failure_code.as_deref(), Some("insufficient_funds"));
        // Another card: a new attempt with a new key.
        let paid = f
            .payments
            .pay(order_id, PaymentMethod::card("tok_visa").unwrap(), None)
            .await
            .unwrap();
        assert_eq!(paid.payment.status, "succeeded");
        assert_eq!(paid.payment.attempts, 2);
        assert_eq!(paid.payment.failure_code, None);
    }

    #[tokio::test]
    async fn partial_refunds_up_to_the_captured_amount() {
        let f = fixture();
        let (order_id, _) = f.paid_order().await;
        let ten = Money::new(1000, f.eur);
        let first = f.payments.refund(order_id, Some(ten), None).await.unwrap();
        assert_eq!(first.payment.status, "partially_refunded");
        assert_eq!(first.payment.amount_refunded_minor, 1000);
        let second = f.payments.refund(order_id, Some(ten), None).await.unwrap();
        assert_eq!(second.payment.amount_refunded_minor, 2000);
        let over = f
            .payments
            .refund(order_id, Some(Money::new(2201, f.eur)), None)
            .await
            .unwrap_err();
        assert!(
            matches!(over, PaymentsError::NotRefundable { .. }),
            "{over}"
        );
        let rest = f.payments.refund(order_id, None, None).await.unwrap();
        assert_eq!(rest.refund.amount_minor, 2200);
        assert_eq!(rest.payment.status, "refunded");
        assert_eq!(f.payments.refunds(order_id).await.unwrap().len(), 3);
        let more = f.payments.refund(order_id, None, None).await.unwrap_err();
        assert!(matches!(more, PaymentsError::NotRefundable { .. }));
        let usd = Money::new(1, Currency::parse("USD").unwrap());
        let (other, _) = f.paid_order().await;
        assert!(matches!(
            f.payments.refund(other, Some(usd), None).await,
            Err(PaymentsError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn succeeded_after_refunded_does_not_move_back() {
        let f = fixture();
        let (order_id, payment_id) = f.paid_order().await;
        let refunded = f.event("evt_2", &payment_id, f.refunded(4200, true));
        let outcome = f.payments.apply_payment_event(&refunded).await.unwrap();
        assert_eq!(
            outcome,
            EventOutcome::Applied {
                order_id,
                status: PaymentStatus::Refunded
            }
        );
        let late = f.event("evt_1", &payment_id, f.succeeded());
        let outcome = f.payments.apply_payment_event(&late).await.unwrap();
        assert_eq!(
            outcome,
            EventOutcome::Unchanged {
                order_id,
                status: "refunded".to_owned()
            }
        );
        let record = f.payments.payment(order_id).await.unwrap().unwrap();
        assert_eq!(record.status, "refunded");
        assert_eq!(record.amount_refunded_minor, 4200);
    }

    #[tokio::test]
    async fn a_late_partial_refund_keeps_the_larger_total() {
        let f = fixture();
        let (order_id, payment_id) = f.paid_order().await;
        f.payments
            .apply_payment_event(&f.event("evt_b", &payment_id, f.refunded(3000, false)))
            .await
            .unwrap();
        let outcome = f
            .payments
            .apply_payment_event(&f.event("evt_a", &payment_id, f.refunded(1000, false)))
            .await
            .unwrap();
        assert!(
            matches!(outcome, EventOutcome::Unchanged { .. }),
            "{outcome:?}"
        );
        let record = f.payments.payment(order_id).await.unwrap().unwrap();
        assert_eq!(record.status, "partially_refunded");
        assert_eq!(record.amount_refunded_minor, 3000);
    }

    #[tokio::test]
    async fn failed_after_succeeded_is_ignored_and_duplicates_change_nothing() {
        let f = fixture();
        let (order_id, payment_id) = f.paid_order().await;
        let failed = f.event(
            "evt_f",
            &payment_id,
            PaymentEventKind::PaymentFailed {
                failure: Failure {
                    code: "card_declined".to_owned(),
                    decline_code: Some("expired_card".to_owned()),
                    message: "Your card has expired.".to_owned(),
                },
            },
        );
        let outcome = f.payments.apply_payment_event(&failed).await.unwrap();
        assert!(matches!(outcome, EventOutcome::Unchanged { .. }));
        let succeeded = f.event("evt_s", &payment_id, f.succeeded());
        for _ in 0..2 {
            let outcome = f.payments.apply_payment_event(&succeeded).await.unwrap();
            assert!(matches!(outcome, EventOutcome::Unchanged { .. }));
        }
        let record = f.payments.payment(order_id).await.unwrap().unwrap();
        assert_eq!(record.status, "succeeded");
        assert_eq!(record.failure_code, None);
    }

    #[tokio::test]
    async fn an_event_may_overtake_the_pay_call() {
        let f = fixture();
        let order_id = f.order(true).await;
        // The webhook arrives first, naming the order in metadata.
        let payment_id = PaymentId::new("pi_early").unwrap();
        let mut event = f.event("evt_early", &payment_id, f.succeeded());
        event.order_reference = Some(order_id.to_string());
        let outcome = f.payments.apply_payment_event(&event).await.unwrap();
        assert_eq!(
            outcome,
            EventOutcome::Applied {
                order_id,
                status: PaymentStatus::Succeeded
            }
        );
        let record = f.payments.payment(order_id).await.unwrap().unwrap();
        assert_eq!(record.payment_id.as_deref(), Some("pi_early"));
        // A paid order is answered as it is, not charged again.
        let again = f
            .payments
            .pay(order_id, PaymentMethod::card("tok_visa").unwrap(), None)
            .await
            .unwrap();
        assert!(!again.created);
        assert!(f.provider.payments().is_empty());
    }

    #[tokio::test]
    async fn a_dispute_pages_once() {
        let f = fixture();
        let (order_id, payment_id) = f.paid_order().await;
        let dispute = f.event(
            "evt_d",
            &payment_id,
            PaymentEventKind::DisputeCreated {
                amount: Money::new(4200, f.eur),
                reason: Some("fraudulent".to_owned()),
            },
        );
        let outcome = f.payments.apply_payment_event(&dispute).await.unwrap();
        assert_eq!(
            outcome,
            EventOutcome::Applied {
                order_id,
                status: PaymentStatus::Disputed
            }
        );
        f.payments.apply_payment_event(&dispute).await.unwrap();
        let key = format!("payment-dispute:{}", payment_id.as_str());
        assert_eq!(f.alerts.incidents().len(), 1);
        assert!(
            f.alerts
                .incident(&key)
                .is_some_and(|incident| incident.state.is_open())
        );
        // Nothing moves a disputed payment.
        let late = f.event("evt_r", &payment_id, f.refunded(4200, true));
        f.payments.apply_payment_event(&late).await.unwrap();
        let record = f.payments.payment(order_id).await.unwrap().unwrap();
        assert_eq!(record.status, "disputed");
    }

    #[tokio::test]
    async fn unknown_events_and_payments_are_ignored() {
        let f = fixture();
        let other = PaymentEvent {
            id: "evt_o".to_owned(),
            kind: PaymentEventKind::Other {
                event_type: "customer.created".to_owned(),
            },
            payment_id: None,
            order_reference: None,
            occurred_at: Utc::now(),
        };
        assert!(matches!(
            f.payments.apply_payment_event(&other).await.unwrap(),
            EventOutcome::Ignored { .. }
        ));
        let stranger = f.event(
            "evt_x",
            &PaymentId::new("pi_unknown").unwrap(),
            f.succeeded(),
        );
        assert!(matches!(
            f.payments.apply_payment_event(&stranger).await.unwrap(),
            EventOutcome::Ignored { .. }
        ));
    }
}
