//! Where a payment is in its life cycle, and which moves are forward.
//!
//! # The lattice
//!
//! Webhook events arrive late, twice, and out of order: a `payment_intent.succeeded`
//! may be delivered after the `charge.refunded` that followed it. A status is therefore
//! only ever *advanced*: [`PaymentStatus::advance`] keeps the current status unless the
//! new one is a forward move ([`PaymentStatus::can_transition_to`]).
//!
//! ```text
//!  requires_confirmation ─┐
//!          │              │
//!   requires_action ──────┤
//!          │              ├──> canceled            (terminal)
//!      processing ────────┤
//!          │              │
//!   requires_capture ─────┘
//!          │  (any pending state may also go to succeeded or failed)
//!          v
//!  failed ──> (a retry with another method: requires_action, processing,
//!          │   requires_capture, succeeded; or canceled)
//!          v
//!      succeeded ──> partially_refunded ──> refunded ──> disputed
//!          │                 │  (again)          ^
//!          └─────────────────┴───────────────────┘ (a dispute may follow any of these)
//! ```
//!
//! In words:
//! - the pending states (`requires_confirmation` < `requires_action` < `processing` <
//!   `requires_capture`) only move to a later pending state or out of pending;
//! - `failed` is not final: the customer may retry with another method, so it may move
//!   to a pending state again, to `succeeded`, or to `canceled` — but nothing moves
//!   back *to* `failed` from `succeeded` or later;
//! - `canceled` is final;
//! - after `succeeded` money only flows back: `partially_refunded` (repeatable),
//!   `refunded`, and `disputed`, which is final.
//!
//! Staying in the same status is always allowed (a duplicate event changes nothing),
//! and so is `partially_refunded` -> `partially_refunded` (a second partial refund).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a payment is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PaymentStatus {
    /// Created without confirming; waits for [`confirm`](crate::PaymentService::confirm).
    RequiresConfirmation,
    /// The customer must act (3-D Secure, a redirect) before it can proceed.
    RequiresAction,
    /// The provider is processing it (bank debits stay here until settled).
    Processing,
    /// Authorised; waits for [`capture`](crate::PaymentService::capture).
    RequiresCapture,
    /// The money was taken.
    Succeeded,
    /// The last attempt failed (declined, authentication failed); see `Payment::failure`.
    Failed,
    /// Canceled before the money was taken; an authorisation was released.
    Canceled,
    /// Part of the captured amount was refunded.
    PartiallyRefunded,
    /// The whole captured amount was refunded.
    Refunded,
    /// The customer disputed the payment with their bank.
    Disputed,
}

impl PaymentStatus {
    /// Every status, in lattice order.
    pub const ALL: [Self; 10] = [
        Self::RequiresConfirmation,
        Self::RequiresAction,
        Self::Processing,
        Self::RequiresCapture,
        Self::Failed,
        Self::Canceled,
        Self::Succeeded,
        Self::PartiallyRefunded,
        Self::Refunded,
        Self::Disputed,
    ];

    /// The `snake_case` name, as serialised.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::RequiresConfirmation => "requires_confirmation",
            Self::RequiresAction => "requires_action",
            Self::Processing => "processing",
            Self::RequiresCapture => "requires_capture",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
            Self::Disputed => "disputed",
        }
    }

    /// Whether the payment is still waiting for something before money moves.
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            Self::RequiresConfirmation
                | Self::RequiresAction
                | Self::Processing
                | Self::RequiresCapture
        )
    }

    /// Whether money was taken (and possibly given back since).
    pub fn is_paid(&self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::PartiallyRefunded | Self::Refunded | Self::Disputed
        )
    }

    /// The position among the pending states, for the forward-only rule.
    fn pending_rank(&self) -> Option<u8> {
        match self {
            Self::RequiresConfirmation => Some(0),
            Self::RequiresAction => Some(1),
            Self::Processing => Some(2),
            Self::RequiresCapture => Some(3),
            _ => None,
        }
    }

    /// Whether moving from `self` to `next` is a forward move of the lattice described
    /// in the [module documentation](self). Staying put is always allowed.
    pub fn can_transition_to(&self, next: Self) -> bool {
        use PaymentStatus::*;
        if *self == next {
            return true;
        }
        match (*self, next) {
            (from, to) if from.is_pending() => match to.pending_rank() {
                Some(rank) => from.pending_rank().is_some_and(|current| rank > current),
                None => matches!(to, Succeeded | Failed | Canceled),
            },
            (Failed, to) => to.is_pending() || matches!(to, Succeeded | Canceled),
            (Canceled, _) => false,
            (Succeeded, to) => matches!(to, PartiallyRefunded | Refunded | Disputed),
            (PartiallyRefunded, to) => matches!(to, Refunded | Disputed),
            (Refunded, to) => to == Disputed,
            (Disputed, _) => false,
            _ => false,
        }
    }

    /// The status after an update to `next`: `next` when it is a forward move, `self`
    /// otherwise (a late or duplicate event never moves a payment backwards).
    pub fn advance(self, next: Self) -> Self {
        if self.can_transition_to(next) {
            next
        } else {
            self
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a refund is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefundStatus {
    /// Accepted; the money is on its way back.
    Pending,
    /// The money was returned.
    Succeeded,
    /// The refund failed (for example the card was closed).
    Failed,
    /// The refund was canceled.
    Canceled,
    /// The customer must act (some payment methods need bank details for a refund).
    RequiresAction,
}

impl RefundStatus {
    /// The `snake_case` name, as serialised.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::RequiresAction => "requires_action",
        }
    }

    /// Whether the refunded amount counts against the payment (pending or succeeded).
    pub fn counts(&self) -> bool {
        matches!(self, Self::Pending | Self::Succeeded | Self::RequiresAction)
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentStatus::*;
    use super::*;

    #[test]
    fn out_of_order_events_never_move_backwards() {
        // `succeeded` delivered after `refunded`.
        assert_eq!(Refunded.advance(Succeeded), Refunded);
        assert_eq!(PartiallyRefunded.advance(Succeeded), PartiallyRefunded);
        assert_eq!(Succeeded.advance(Failed), Succeeded);
        assert_eq!(Succeeded.advance(Processing), Succeeded);
        assert_eq!(Disputed.advance(Refunded), Disputed);
        assert_eq!(Canceled.advance(Succeeded), Canceled);
        assert_eq!(Refunded.advance(PartiallyRefunded), Refunded);
        assert_eq!(RequiresCapture.advance(RequiresAction), RequiresCapture);
    }

    #[test]
    fn forward_moves_are_taken() {
        assert_eq!(RequiresAction.advance(Succeeded), Succeeded);
        assert_eq!(Processing.advance(RequiresCapture), RequiresCapture);
        assert_eq!(Failed.advance(Succeeded), Succeeded);
        assert_eq!(Failed.advance(RequiresAction), RequiresAction);
        assert_eq!(Succeeded.advance(PartiallyRefunded), PartiallyRefunded);
        assert_eq!(PartiallyRefunded.advance(Refunded), Refunded);
        assert_eq!(Refunded.advance(Disputed), Disputed);
        assert_eq!(Succeeded.advance(Disputed), Disputed);
        assert_eq!(RequiresCapture.advance(Canceled), Canceled);
    }

    #[test]
    fn the_relation_is_acyclic_apart_from_failed_retries() {
        // No two distinct statuses may each move to the other, except that a failed
        // attempt may be retried (failed -> pending) and a pending attempt may fail.
        for a in PaymentStatus::ALL {
            for b in PaymentStatus::ALL {
                if a == b || !(a.can_transition_to(b) && b.can_transition_to(a)) {
                    continue;
                }
                let pair = [a, b];
                assert!(
                    pair.contains(&Failed) && pair.iter().any(PaymentStatus::is_pending),
                    "{a} <-> {b}"
                );
            }
        }
        // Terminal states stay put.
        for next in PaymentStatus::ALL {
            if next != Canceled {
                assert!(!Canceled.can_transition_to(next), "canceled -> {next}");
            }
            if next != Disputed {
                assert!(!Disputed.can_transition_to(next), "disputed -> {next}");
            }
        }
    }

    #[test]
    fn names_match_serde() {
        for status in PaymentStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
        }
    }
}
