//! The payments port: how Seam takes and returns money without knowing who moves it.
//!
//! - [`PaymentService`]: create, get, confirm, capture, cancel, refund and list refunds,
//!   used as `Arc<dyn PaymentService>`. Every mutating call carries an
//!   [`IdempotencyKey`], so a retried call cannot charge or refund twice.
//! - Typed values: [`CreatePayment`], [`Payment`], [`PaymentStatus`] (with the forward-only
//!   lattice that keeps out-of-order webhook events from moving a payment backwards),
//!   [`CreateRefund`], [`Refund`], [`PaymentMethod`] over provider tokens only: a card
//!   number is refused at construction ([`PaymentToken`]).
//! - [`Error`]: one error enum, [`seam_core::Classify`]: a decline is `Permanent`, a
//!   reused idempotency key `Conflict`, rate limiting `RateLimited { retry_after }`,
//!   network and 5xx `Transient`.
//! - [`PaymentEvent`]: a provider-neutral webhook event; `stripe_event` (feature
//!   `stripe-events`) parses Stripe's event JSON into it and builds Stripe-shaped events.
//! - [`memory::InMemoryPayments`]: the in-memory adapter, honouring the whole contract.
//! - `conformance` (feature `conformance`): the suite every adapter's test runs.
//! - `resilient` (feature `resilience`): [`ResilientPayments`], retry and circuit breaker
//!   around any payment service.
//!
//! ```
//! use seam_domain::{Currency, Money};
//! use seam_payments::{
//!     CreatePayment, CreateRefund, IdempotencyKey, InMemoryPayments, PaymentMethod,
//!     PaymentService, PaymentStatus,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> seam_payments::Result<()> {
//! let payments = InMemoryPayments::new();
//! let eur = Currency::parse("EUR").unwrap();
//! // The key is stored with the order before the call, so a retry after a crash reuses it.
//! let request = CreatePayment::new(
//!     Money::new(4200, eur),
//!     PaymentMethod::card("tok_visa")?,
//!     IdempotencyKey::new("order-42:pay")?,
//! )
//! .with_order_reference("order-42");
//! let payment = payments.create(&request).await?;
//! assert_eq!(payment.status, PaymentStatus::Succeeded);
//! // The same call again charges nothing more.
//! assert_eq!(payments.create(&request).await?.id, payment.id);
//!
//! let key = IdempotencyKey::new("order-42:refund:1")?;
//! let refund = CreateRefund::partial(payment.id.clone(), Money::new(1000, eur), key);
//! payments.refund(&refund).await?;
//! assert_eq!(payments.get(&payment.id).await?.status, PaymentStatus::PartiallyRefunded);
//!
//! // Card numbers never get in.
//! assert!(PaymentMethod::card("4242 4242 4242 4242").is_err());
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod event;
pub mod memory;
#[cfg(feature = "resilience")]
pub mod resilient;
pub mod status;
#[cfg(feature = "stripe-events")]
pub mod stripe_event;
pub mod types;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use seam_domain::Money;

pub use error::{Error, Result};
pub use event::{PaymentEvent, PaymentEventKind};
pub use memory::InMemoryPayments;
#[cfg(feature = "resilience")]
pub use resilient::ResilientPayments;
pub use status::{PaymentStatus, RefundStatus};
pub use types::{
    BankScheme, CaptureMode, CreatePayment, CreateRefund, CustomerRef, Failure, IdempotencyKey,
    ORDER_REFERENCE_KEY, Payment, PaymentId, PaymentMethod, PaymentToken, Refund, RefundId,
    RefundReason, WalletKind, looks_like_pan,
};

/// Takes and returns money through a payment provider.
///
/// # Contract
///
/// Validation and safety:
/// - Every method MUST return [`Error::Invalid`] for a request that fails
///   [`CreatePayment::validate`] / [`CreateRefund::validate`], before calling the provider.
/// - Nothing an adapter logs or puts in an error message MAY contain a secret key or a
///   card number; card input is only ever a [`PaymentToken`].
///
/// `create`:
/// - MUST answer [`PaymentStatus::Succeeded`] for an automatic-capture payment that went
///   through at once, [`PaymentStatus::RequiresCapture`] for a manual-capture one,
///   [`PaymentStatus::RequiresConfirmation`] when `confirm` is false,
///   [`PaymentStatus::RequiresAction`] when the customer must authenticate, and
///   [`PaymentStatus::Processing`] when the provider settles later (bank debits).
/// - MUST return [`Error::CardDeclined`] with the issuer's decline code for a declined
///   card; when the provider created a payment for the attempt, the error carries its
///   id and [`get`](Self::get) answers it as [`PaymentStatus::Failed`] with its [`Failure`].
/// - Idempotency: a second call with the same key and the same request MUST answer the
///   first call's result (the same payment, or the same decline) without charging again;
///   a call with a key already used with a different request, or by another operation,
///   MUST return [`Error::IdempotencyConflict`]. This holds for every mutating method.
///
/// `get` MUST return the payment as last known, and [`Error::NotFound`] for an unknown id.
///
/// `confirm` MUST move a [`PaymentStatus::RequiresConfirmation`] payment on as `create`
/// with `confirm` would have, and re-attempt a [`PaymentStatus::RequiresAction`] one
/// (answering `RequiresAction` again while the customer has not acted); any other
/// status MUST be [`Error::InvalidState`].
///
/// `capture`:
/// - MUST take `amount` (or the whole authorised amount when `None`) of a
///   [`PaymentStatus::RequiresCapture`] payment, answer it as
///   [`PaymentStatus::Succeeded`] with `amount_captured` set, and release the rest.
/// - MUST return [`Error::Invalid`] for an amount that is not positive, in another
///   currency, or above the authorised amount, and [`Error::InvalidState`] when the
///   payment is not waiting for capture.
///
/// `cancel` MUST cancel a pending or failed payment ([`PaymentStatus::Canceled`],
/// releasing any authorisation) and return [`Error::InvalidState`] once money was taken
/// or the payment was canceled already.
///
/// `refund`:
/// - MUST refund `amount` (everything still refundable when `None`) of a paid payment,
///   answering a [`Refund`] whose status is [`RefundStatus::Succeeded`] or
///   [`RefundStatus::Pending`]; afterwards the payment's `amount_refunded` includes it and
///   its status is [`PaymentStatus::PartiallyRefunded`] or [`PaymentStatus::Refunded`].
///   Several partial refunds, each with its own key, MUST be accepted up to the captured
///   amount.
/// - MUST return [`Error::InvalidState`] for a payment that is not paid, was refunded in
///   full, or is disputed, and for an amount above what is still refundable;
///   [`Error::Invalid`] for an amount in another currency; [`Error::NotFound`] for an
///   unknown payment.
///
/// `list_refunds` MUST return the payment's refunds, oldest first, and
/// [`Error::NotFound`] for an unknown payment.
///
/// Provider faults MUST be mapped: [`Error::Transient`] for connection failures and 5xx,
/// [`Error::RateLimited`] (with `Retry-After`) for 429, [`Error::Timeout`] when the
/// provider did not answer in time, [`Error::Unauthorized`] for rejected credentials.
#[async_trait]
pub trait PaymentService: Debug + Send + Sync + 'static {
    /// Creates (and by default confirms) a payment.
    async fn create(&self, request: &CreatePayment) -> Result<Payment>;

    /// The payment as the provider last reported it.
    async fn get(&self, id: &PaymentId) -> Result<Payment>;

    /// Confirms a payment created without confirmation, or re-attempts one that needed
    /// customer action.
    async fn confirm(&self, id: &PaymentId, idempotency_key: &IdempotencyKey) -> Result<Payment>;

    /// Captures an authorised payment: `amount`, or everything authorised when `None`.
    async fn capture(
        &self,
        id: &PaymentId,
        amount: Option<Money>,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Payment>;

    /// Cancels a payment before the money was taken.
    async fn cancel(&self, id: &PaymentId, idempotency_key: &IdempotencyKey) -> Result<Payment>;

    /// Refunds (part of) a paid payment.
    async fn refund(&self, request: &CreateRefund) -> Result<Refund>;

    /// The refunds of a payment, oldest first.
    async fn list_refunds(&self, id: &PaymentId) -> Result<Vec<Refund>>;
}

/// The port as a trait object: what services hold, as `Arc<DynPaymentService>`.
pub type DynPaymentService = dyn PaymentService;

macro_rules! forward_impl {
    ($ty:ident) => {
        #[async_trait]
        impl<T: PaymentService + ?Sized> PaymentService for $ty<T> {
            async fn create(&self, request: &CreatePayment) -> Result<Payment> {
                (**self).create(request).await
            }

            async fn get(&self, id: &PaymentId) -> Result<Payment> {
                (**self).get(id).await
            }

            async fn confirm(
                &self,
                id: &PaymentId,
                idempotency_key: &IdempotencyKey,
            ) -> Result<Payment> {
                (**self).confirm(id, idempotency_key).await
            }

            async fn capture(
                &self,
                id: &PaymentId,
                amount: Option<Money>,
                idempotency_key: &IdempotencyKey,
            ) -> Result<Payment> {
                (**self).capture(id, amount, idempotency_key).await
            }

            async fn cancel(
                &self,
                id: &PaymentId,
                idempotency_key: &IdempotencyKey,
            ) -> Result<Payment> {
                (**self).cancel(id, idempotency_key).await
            }

            async fn refund(&self, request: &CreateRefund) -> Result<Refund> {
                (**self).refund(request).await
            }

            async fn list_refunds(&self, id: &PaymentId) -> Result<Vec<Refund>> {
                (**self).list_refunds(id).await
            }
        }
    };
}

forward_impl!(Arc);
forward_impl!(Box);
