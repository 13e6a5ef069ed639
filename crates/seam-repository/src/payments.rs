//! Payments kept beside orders: one [`OrderPayment`] per order (the latest attempt and
//! where it stands) and its [`PaymentRefundRecord`]s.
//!
//! Payment state deliberately lives beside the order, not in `orders.status`: the
//! order's own life cycle (pending -> confirmed | rejected) is about stock, the
//! payment's about money, and webhook events move the second one out of order. The
//! `status` is stored as text — `pending` before the provider answered, otherwise a
//! payment-port status name (`succeeded`, `refunded`, …); the use case in `seam-orders`
//! owns its meaning, so this port does not depend on the payments port.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use seam_domain::{Money, OrderId};

use crate::error::{Error, Result};

/// The longest provider name, payment id, refund id, status or failure code accepted, in bytes.
pub const MAX_PAYMENT_FIELD_LEN: usize = 255;

/// The payment of an order, as last known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPayment {
    /// The order paid for (one payment record per order).
    pub order_id: OrderId,
    /// Which provider took it (`sandbox`, `stripe`, `memory`).
    pub provider: String,
    /// The provider's payment id, once the provider answered.
    pub payment_id: Option<String>,
    /// The amount asked for: the order total.
    pub amount: Money,
    /// `pending` before the provider answered, else the payment port's status name.
    pub status: String,
    /// How much was refunded so far, in minor units of `amount`'s currency.
    pub amount_refunded_minor: i64,
    /// The provider's failure or decline code of the last failed attempt.
    pub failure_code: Option<String>,
    /// How many payment attempts were started (1 for the first).
    pub attempts: i64,
    /// Optimistic-concurrency version: 1 when inserted, +1 per update.
    pub version: i64,
    /// When it last changed (microsecond precision).
    pub updated_at: DateTime<Utc>,
}

/// A refund of an order's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRefundRecord {
    /// The provider's refund id (or an id derived from the event that reported it).
    pub refund_id: String,
    /// The order whose payment was refunded.
    pub order_id: OrderId,
    /// How much, in minor units of the payment's currency.
    pub amount_minor: i64,
    /// The refund status name (`pending`, `succeeded`, …).
    pub status: String,
    /// When it was recorded (microsecond precision).
    pub created_at: DateTime<Utc>,
}

fn check_text(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be blank"));
    }
    if value.len() > MAX_PAYMENT_FIELD_LEN {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_PAYMENT_FIELD_LEN} bytes long"),
        ));
    }
    Ok(())
}

/// Checks a payment record before it is stored.
///
/// # Errors
///
/// [`Error::Invalid`] for a blank or over-long provider, payment id, status or failure
/// code, a negative amount or refunded amount, or a refunded amount above the amount.
pub fn check_order_payment(payment: &OrderPayment) -> Result<()> {
    check_text("provider", &payment.provider)?;
    check_text("status", &payment.status)?;
    if let Some(id) = &payment.payment_id {
        check_text("payment_id", id)?;
    }
    if let Some(code) = &payment.failure_code {
        check_text("failure_code", code)?;
    }
    if payment.amount.minor() < 0 {
        return Err(Error::invalid("amount", "must not be negative"));
    }
    if payment.amount_refunded_minor < 0 || payment.amount_refunded_minor > payment.amount.minor() {
        return Err(Error::invalid(
            "amount_refunded_minor",
            "must be between 0 and the amount",
        ));
    }
    if payment.attempts < 0 {
        return Err(Error::invalid("attempts", "must not be negative"));
    }
    Ok(())
}

/// Checks a refund record before it is stored.
///
/// # Errors
///
/// [`Error::Invalid`] for a blank or over-long refund id or status, or an amount that is
/// not positive.
pub fn check_refund_record(refund: &PaymentRefundRecord) -> Result<()> {
    check_text("refund_id", &refund.refund_id)?;
    check_text("status", &refund.status)?;
    if refund.amount_minor <= 0 {
        return Err(Error::invalid("amount_minor", "must be positive"));
    }
    Ok(())
}

/// Orders' payments and their refunds.
///
/// # Contract
///
/// - `get` MUST return `None` for an order without a payment record.
/// - `find_by_payment_id` MUST return the record whose `payment_id` is the one given,
///   `None` when there is none (payment ids are unique).
/// - `insert` MUST store a new record with version 1 and return it as `get` will;
///   `Error::AlreadyExists` when the order has a record, `Error::Conflict` for an
///   unknown order or a payment id that another order's record holds, `Error::Invalid`
///   for what [`check_order_payment`] refuses.
/// - `update` MUST store every field if the stored version is `expected_version`,
///   returning the record with the version incremented; otherwise `Error::Conflict`
///   (changing nothing), and `Error::NotFound` for an order without a record.
/// - `record_refund` MUST insert the refund and return `true`; for a refund id already
///   recorded it MUST update only its status and return `false`. `Error::Conflict` for
///   an unknown order, `Error::Invalid` for what [`check_refund_record`] refuses.
/// - `refunds` MUST list an order's refunds oldest first (ties by refund id).
#[async_trait]
pub trait OrderPaymentRepository: fmt::Debug + Send + Sync + 'static {
    /// The payment record of an order.
    async fn get(&self, order_id: OrderId) -> Result<Option<OrderPayment>>;

    /// The payment record holding a provider's payment id.
    async fn find_by_payment_id(&self, payment_id: &str) -> Result<Option<OrderPayment>>;

    /// Stores a new payment record.
    async fn insert(&self, payment: &OrderPayment) -> Result<OrderPayment>;

    /// Replaces a payment record if its version is still `expected_version`.
    async fn update(&self, payment: &OrderPayment, expected_version: i64) -> Result<OrderPayment>;

    /// Records a refund; `false` when it was recorded already (its status is updated).
    async fn record_refund(&self, refund: &PaymentRefundRecord) -> Result<bool>;

    /// An order's refunds, oldest first.
    async fn refunds(&self, order_id: OrderId) -> Result<Vec<PaymentRefundRecord>>;
}

/// An order payment repository as a trait object.
pub type DynOrderPaymentRepository = dyn OrderPaymentRepository;

#[async_trait]
impl<T: OrderPaymentRepository + ?Sized> OrderPaymentRepository for Arc<T> {
    async fn get(&self, order_id: OrderId) -> Result<Option<OrderPayment>> {
        (**self).get(order_id).await
    }
    async fn find_by_payment_id(&self, payment_id: &str) -> Result<Option<OrderPayment>> {
        (**self).find_by_payment_id(payment_id).await
    }
    async fn insert(&self, payment: &OrderPayment) -> Result<OrderPayment> {
        (**self).insert(payment).await
    }
    async fn update(&self, payment: &OrderPayment, expected_version: i64) -> Result<OrderPayment> {
        (**self).update(payment, expected_version).await
    }
    async fn record_refund(&self, refund: &PaymentRefundRecord) -> Result<bool> {
        (**self).record_refund(refund).await
    }
    async fn refunds(&self, order_id: OrderId) -> Result<Vec<PaymentRefundRecord>> {
        (**self).refunds(order_id).await
    }
}

#[derive(Debug, Default)]
struct MemoryState {
    payments: BTreeMap<OrderId, OrderPayment>,
    refunds: BTreeMap<String, PaymentRefundRecord>,
}

/// Orders' payments in memory (the fake for tests and the memory default).
///
/// It does not know which orders exist: any order id is accepted.
#[derive(Debug, Clone, Default)]
pub struct MemoryOrderPayments {
    state: Arc<Mutex<MemoryState>>,
}

impl MemoryOrderPayments {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn payment_id_taken(state: &MemoryState, payment: &OrderPayment) -> bool {
    payment.payment_id.as_ref().is_some_and(|id| {
        state.payments.values().any(|other| {
            other.order_id != payment.order_id && other.payment_id.as_ref() == Some(id)
        })
    })
}

#[async_trait]
impl OrderPaymentRepository for MemoryOrderPayments {
    async fn get(&self, order_id: OrderId) -> Result<Option<OrderPayment>> {
        Ok(self.state().payments.get(&order_id).cloned())
    }

    async fn find_by_payment_id(&self, payment_id: &str) -> Result<Option<OrderPayment>> {
        Ok(self
            .state()
            .payments
            .values()
            .find(|payment| payment.payment_id.as_deref() == Some(payment_id))
            .cloned())
    }

    async fn insert(&self, payment: &OrderPayment) -> Result<OrderPayment> {
        check_order_payment(payment)?;
        let mut state = self.state();
        if state.payments.contains_key(&payment.order_id) {
            return Err(Error::already_exists(
                "order payment",
                payment.order_id.to_string(),
            ));
        }
        if payment_id_taken(&state, payment) {
            return Err(Error::conflict(
                "order payment",
                payment.order_id,
                "the payment id belongs to another order",
            ));
        }
        let mut stored = payment.clone();
        stored.version = 1;
        stored.updated_at = stored.updated_at.trunc_subsecs(6);
        state.payments.insert(stored.order_id, stored.clone());
        Ok(stored)
    }

    async fn update(&self, payment: &OrderPayment, expected_version: i64) -> Result<OrderPayment> {
        check_order_payment(payment)?;
        let mut state = self.state();
        let Some(current) = state.payments.get(&payment.order_id) else {
            return Err(Error::not_found("order payment", payment.order_id));
        };
        if current.version != expected_version {
            return Err(Error::stale_version(
                "order payment",
                payment.order_id,
                expected_version,
            ));
        }
        if payment_id_taken(&state, payment) {
            return Err(Error::conflict(
                "order payment",
                payment.order_id,
                "the payment id belongs to another order",
            ));
        }
        let mut stored = payment.clone();
        stored.version = expected_version + 1;
        stored.updated_at = stored.updated_at.trunc_subsecs(6);
        state.payments.insert(stored.order_id, stored.clone());
        Ok(stored)
    }

    async fn record_refund(&self, refund: &PaymentRefundRecord) -> Result<bool> {
        check_refund_record(refund)?;
        let mut state = self.state();
        if let Some(existing) = state.refunds.get_mut(&refund.refund_id) {
            existing.status = refund.status.clone();
            return Ok(false);
        }
        let mut stored = refund.clone();
        stored.created_at = stored.created_at.trunc_subsecs(6);
        state.refunds.insert(stored.refund_id.clone(), stored);
        Ok(true)
    }

    async fn refunds(&self, order_id: OrderId) -> Result<Vec<PaymentRefundRecord>> {
        let mut found: Vec<PaymentRefundRecord> = self
            .state()
            .refunds
            .values()
            .filter(|refund| refund.order_id == order_id)
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.refund_id.cmp(&b.refund_id))
        });
        Ok(found)
    }
}

/// The checks of [`OrderPaymentRepository`]'s contract, for every adapter's tests.
///
/// `order_id` and `other_order_id` must be existing orders in `currency` without
/// payment records.
#[cfg(any(test, feature = "conformance"))]
pub async fn order_payments_conformance(
    repository: &dyn OrderPaymentRepository,
    order_id: OrderId,
    other_order_id: OrderId,
    amount: Money,
) {
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let now = Utc::now().trunc_subsecs(6);
    assert_eq!(repository.get(order_id).await.expect("get"), None);
    let record = OrderPayment {
        order_id,
        provider: "memory".to_owned(),
        payment_id: None,
        amount,
        status: "pending".to_owned(),
        amount_refunded_minor: 0,
        failure_code: None,
        attempts: 1,
        version: 0,
        updated_at: now,
    };
    let stored = repository.insert(&record).await.expect("insert");
    assert_eq!(stored.version, 1);
    assert_eq!(
        repository.get(order_id).await.expect("get"),
        Some(stored.clone())
    );
    assert!(matches!(
        repository.insert(&record).await,
        Err(Error::AlreadyExists { .. })
    ));
    let payment_id = format!("pi_{unique}");
    let paid = OrderPayment {
        payment_id: Some(payment_id.clone()),
        status: "succeeded".to_owned(),
        ..stored.clone()
    };
    let updated = repository.update(&paid, 1).await.expect("update");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.status, "succeeded");
    assert!(matches!(
        repository.update(&paid, 1).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        repository
            .find_by_payment_id(&payment_id)
            .await
            .expect("find"),
        Some(updated.clone())
    );
    assert_eq!(
        repository
            .find_by_payment_id(&format!("pi_missing_{unique}"))
            .await
            .expect("find"),
        None
    );
    let other = OrderPayment {
        order_id: other_order_id,
        payment_id: Some(payment_id.clone()),
        ..record.clone()
    };
    assert!(matches!(
        repository.insert(&other).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        repository
            .update(
                &OrderPayment {
                    order_id: other_order_id,
                    ..paid.clone()
                },
                1
            )
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        repository
            .insert(&OrderPayment {
                order_id: other_order_id,
                status: " ".to_owned(),
                ..record.clone()
            })
            .await,
        Err(Error::Invalid { .. })
    ));

    let refund = |id: &str, minor: i64, offset: i64| PaymentRefundRecord {
        refund_id: format!("re_{unique}_{id}"),
        order_id,
        amount_minor: minor,
        status: "pending".to_owned(),
        created_at: now + chrono::Duration::milliseconds(offset),
    };
    assert!(
        repository
            .record_refund(&refund("b", 100, 1))
            .await
            .expect("refund")
    );
    assert!(
        repository
            .record_refund(&refund("a", 200, 2))
            .await
            .expect("refund")
    );
    let mut again = refund("b", 100, 1);
    again.status = "succeeded".to_owned();
    assert!(
        !repository
            .record_refund(&again)
            .await
            .expect("refund again")
    );
    let refunds = repository.refunds(order_id).await.expect("refunds");
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[0].refund_id, format!("re_{unique}_b"));
    assert_eq!(refunds[0].status, "succeeded");
    assert_eq!(refunds[1].amount_minor, 200);
    assert!(
        repository
            .refunds(other_order_id)
            .await
            .expect("refunds")
            .is_empty()
    );
    assert!(matches!(
        repository.record_refund(&refund("c", 0, 3)).await,
        Err(Error::Invalid { .. })
    ));
}

#[cfg(test)]
mod tests {
    use seam_domain::Currency;

    use super::*;

    #[tokio::test]
    async fn memory_order_payments_honour_the_contract() {
        let eur = Currency::parse("EUR").unwrap();
        order_payments_conformance(
            &MemoryOrderPayments::new(),
            OrderId::new(),
            OrderId::new(),
            Money::new(4200, eur),
        )
        .await;
    }
}
