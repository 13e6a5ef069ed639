//! The order system's use cases, over ports only.
//!
//! - [`OrderService::place_order`]: validates, honours an `Idempotency-Key`, and writes
//!   the order with its `order.created` outbox event in one transaction.
//! - [`OrderService::handle_order_created`]: the worker's step. Skips a message it has
//!   seen (inbox), reserves stock, confirms or rejects the order and queues the
//!   customer e-mail as another outbox event, all in one transaction, so a crash at
//!   any point neither decrements stock twice nor loses the e-mail.
//! - [`OrderService::send_order_email`]: sends the confirmation or rejection e-mail
//!   for an `order.confirmed` / `order.rejected` event, once.
//! - [`OutboxRelay`]: publishes outbox rows with confirms, marking them sent only
//!   after the broker confirmed.
//! - [`ConsumerLoop`]: receive -> handle -> ack, with delayed retry for transient
//!   failures and dead-lettering for permanent ones or when attempts run out.
//!
//! - [`payments::Payments`]: paying a confirmed order, refunding it, and applying the
//!   provider's webhook events forward only.
//!
//! This crate depends on ports, the domain and `seam-core` only, never on an adapter.

mod consumer;
mod error;
mod events;
pub mod payments;
mod relay;
mod service;

pub use consumer::{ConsumerLoop, MessageHandler, Processed, RetrySchedule};
pub use error::{OrdersError, Result};
pub use events::{
    EMAILS_QUEUE, ORDER_CONFIRMED, ORDER_CREATED, ORDER_REJECTED, ORDERS_QUEUE, OrderCreated,
    OrderDecided, bindings,
};
pub use payments::{EventOutcome, PayOutcome, Payments, PaymentsError, RefundOutcome};
pub use relay::{OutboxRelay, RelayConfig};
pub use service::{
    EmailSender, HandleOutcome, OrderService, PlaceOrder, Placed, parse_mailbox, request_hash,
};
