//! Provider-neutral payment events, as delivered by webhooks.

use chrono::{DateTime, Utc};
use seam_domain::Money;
use serde::{Deserialize, Serialize};

use crate::status::PaymentStatus;
use crate::types::{Failure, PaymentId};

/// What happened to a payment, as a provider's webhook told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PaymentEventKind {
    /// The money was taken.
    PaymentSucceeded {
        /// The amount received.
        amount: Money,
    },
    /// An attempt failed.
    PaymentFailed {
        /// Why.
        failure: Failure,
    },
    /// (Part of) the payment was refunded.
    Refunded {
        /// The total refunded so far, this refund included.
        amount_refunded: Money,
        /// Whether everything captured has now been refunded.
        fully_refunded: bool,
    },
    /// The customer disputed the payment.
    DisputeCreated {
        /// The disputed amount.
        amount: Money,
        /// The provider's reason (`fraudulent`, `product_not_received`, …).
        reason: Option<String>,
    },
    /// An event this port does not model, by its provider type.
    Other {
        /// The provider's event type (`customer.created`).
        event_type: String,
    },
}

/// One webhook event about a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    /// The provider's event id (`evt_…`): the deduplication key.
    pub id: String,
    /// What happened.
    pub kind: PaymentEventKind,
    /// The payment concerned, when the event names one.
    pub payment_id: Option<PaymentId>,
    /// The order the payment pays for (metadata `order_id`), when the event carries it.
    pub order_reference: Option<String>,
    /// When the provider recorded the event.
    pub occurred_at: DateTime<Utc>,
}

impl PaymentEvent {
    /// The payment status this event reports, to be merged with
    /// [`PaymentStatus::advance`] (never assigned: events arrive out of order).
    pub fn status(&self) -> Option<PaymentStatus> {
        match &self.kind {
            PaymentEventKind::PaymentSucceeded { .. } => Some(PaymentStatus::Succeeded),
            PaymentEventKind::PaymentFailed { .. } => Some(PaymentStatus::Failed),
            PaymentEventKind::Refunded {
                fully_refunded: true,
                ..
            } => Some(PaymentStatus::Refunded),
            PaymentEventKind::Refunded { .. } => Some(PaymentStatus::PartiallyRefunded),
            PaymentEventKind::DisputeCreated { .. } => Some(PaymentStatus::Disputed),
            PaymentEventKind::Other { .. } => None,
        }
    }

    /// A short name of the kind (`payment_succeeded`, …, `other`), for logs and metrics.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            PaymentEventKind::PaymentSucceeded { .. } => "payment_succeeded",
            PaymentEventKind::PaymentFailed { .. } => "payment_failed",
            PaymentEventKind::Refunded { .. } => "refunded",
            PaymentEventKind::DisputeCreated { .. } => "dispute_created",
            PaymentEventKind::Other { .. } => "other",
        }
    }
}
