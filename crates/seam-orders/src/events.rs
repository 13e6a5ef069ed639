//! The events of the order flow, their routing keys and the queue topology.

use seam_domain::{OrderId, OrderStatus, UserId};
use seam_queue::QueueBinding;
use serde::{Deserialize, Serialize};

/// Routing key and message type of [`OrderCreated`].
pub const ORDER_CREATED: &str = "order.created";
/// Routing key and message type of an [`OrderDecided`] that confirmed the order.
pub const ORDER_CONFIRMED: &str = "order.confirmed";
/// Routing key and message type of an [`OrderDecided`] that rejected the order.
pub const ORDER_REJECTED: &str = "order.rejected";
/// The queue the worker consumes `order.created` from.
pub const ORDERS_QUEUE: &str = "orders";
/// The queue the worker consumes e-mail requests from.
pub const EMAILS_QUEUE: &str = "order-emails";

/// The queues of the order flow and what reaches them.
pub fn bindings() -> Vec<QueueBinding> {
    vec![
        QueueBinding::new(ORDERS_QUEUE, ORDER_CREATED),
        QueueBinding::new(EMAILS_QUEUE, ORDER_CONFIRMED),
        QueueBinding::new(EMAILS_QUEUE, ORDER_REJECTED),
    ]
}

/// An order was accepted. Schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCreated {
    /// The order.
    pub order_id: OrderId,
    /// Who placed it.
    pub customer_id: UserId,
}

/// The worker decided an order (confirmed or rejected). Schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDecided {
    /// The order.
    pub order_id: OrderId,
    /// `confirmed` or `rejected`.
    pub status: OrderStatus,
}
