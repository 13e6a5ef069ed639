//! Orders and their life cycle.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use seam_core::Id;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::money::{Currency, Money};
use crate::sku::{Quantity, Sku};
use crate::user::UserId;

/// The id of an [`Order`].
pub type OrderId = Id<Order>;

/// Where an order is in its life cycle.
///
/// `pending` -> `confirmed` (stock reserved) or `rejected` (with a reason). Later
/// states (payment) extend this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OrderStatus {
    /// Accepted, waiting for the worker to reserve stock.
    Pending,
    /// Stock reserved; the customer was told.
    Confirmed,
    /// Could not be fulfilled (out of stock, ...); the customer was told why.
    Rejected,
}

impl OrderStatus {
    /// The snake-case name, as stored and shown.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
        }
    }

    /// Whether the life cycle allows moving from `self` to `next`.
    pub fn can_become(&self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Pending, Self::Confirmed | Self::Rejected)
        )
    }

    /// Whether no further change is expected.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Rejected)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "confirmed" => Ok(Self::Confirmed),
            "rejected" => Ok(Self::Rejected),
            other => Err(DomainError::invalid(
                "status",
                format!("unknown status {other:?}; expected pending, confirmed or rejected"),
            )),
        }
    }
}

/// One line of an order as the customer asks for it: a product and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrderLine {
    /// The product.
    pub sku: Sku,
    /// How many.
    pub quantity: Quantity,
}

/// An order as the customer asks for it, before prices are looked up; validated at
/// construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewOrder {
    customer_id: UserId,
    currency: Currency,
    lines: Vec<NewOrderLine>,
}

impl NewOrder {
    /// The most lines one order may have.
    pub const MAX_LINES: usize = 100;

    /// An order of `lines` for `customer_id`, priced in `currency`.
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] for no lines, too many lines, or the same SKU twice
    /// (field `lines` or `lines[i].sku`).
    pub fn new(
        customer_id: UserId,
        currency: Currency,
        lines: Vec<NewOrderLine>,
    ) -> Result<Self, DomainError> {
        if lines.is_empty() {
            return Err(DomainError::invalid("lines", "must have at least one line"));
        }
        if lines.len() > Self::MAX_LINES {
            return Err(DomainError::invalid(
                "lines",
                format!(
                    "must have at most {} lines, got {}",
                    Self::MAX_LINES,
                    lines.len()
                ),
            ));
        }
        let mut seen = HashMap::new();
        for (index, line) in lines.iter().enumerate() {
            if let Some(first) = seen.insert(&line.sku, index) {
                return Err(DomainError::invalid(
                    format!("lines[{index}].sku"),
                    format!(
                        "{} is already on lines[{first}]; combine the quantities",
                        line.sku
                    ),
                ));
            }
        }
        Ok(Self {
            customer_id,
            currency,
            lines,
        })
    }

    /// The customer.
    pub fn customer_id(&self) -> UserId {
        self.customer_id
    }

    /// The currency the order is priced in.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The lines, in the order given.
    pub fn lines(&self) -> &[NewOrderLine] {
        &self.lines
    }
}

/// One priced line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The product.
    pub sku: Sku,
    /// How many.
    pub quantity: Quantity,
    /// The price of one unit when the order was placed.
    pub unit_price: Money,
}

impl OrderLine {
    /// The unit price times the quantity.
    ///
    /// # Errors
    ///
    /// [`DomainError::Overflow`].
    pub fn total(&self) -> Result<Money, DomainError> {
        self.unit_price.checked_mul(i64::from(self.quantity.get()))
    }
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Its id.
    pub id: OrderId,
    /// Who placed it.
    pub customer_id: UserId,
    /// What was ordered, priced.
    pub lines: Vec<OrderLine>,
    /// Where it is in its life cycle.
    pub status: OrderStatus,
    /// The sum of the lines.
    pub total: Money,
    /// Why it was rejected, when it was.
    pub rejection_reason: Option<String>,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Incremented on every change, for optimistic concurrency.
    pub version: i64,
}

impl Order {
    /// A pending order with priced `lines`, its total computed.
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] when a line is priced in another currency than
    /// `currency`; [`DomainError::Overflow`] when the total overflows.
    pub fn place(
        id: OrderId,
        customer_id: UserId,
        currency: Currency,
        lines: Vec<OrderLine>,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let mut total = Money::zero(currency);
        for (index, line) in lines.iter().enumerate() {
            if line.unit_price.currency() != currency {
                return Err(DomainError::invalid(
                    format!("lines[{index}].sku"),
                    format!(
                        "{} is priced in {}, the order in {currency}",
                        line.sku,
                        line.unit_price.currency()
                    ),
                ));
            }
            total = total.checked_add(line.total()?)?;
        }
        Ok(Self {
            id,
            customer_id,
            lines,
            status: OrderStatus::Pending,
            total,
            rejection_reason: None,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }

    /// Marks the order confirmed.
    ///
    /// # Errors
    ///
    /// [`DomainError::InvalidTransition`] unless it is pending.
    pub fn confirm(&mut self, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.transition(OrderStatus::Confirmed, now)
    }

    /// Marks the order rejected, with a reason the customer will read.
    ///
    /// # Errors
    ///
    /// [`DomainError::InvalidTransition`] unless it is pending.
    pub fn reject(
        &mut self,
        reason: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        self.transition(OrderStatus::Rejected, now)?;
        self.rejection_reason = Some(reason.into());
        Ok(())
    }

    fn transition(&mut self, next: OrderStatus, now: DateTime<Utc>) -> Result<(), DomainError> {
        if !self.status.can_become(next) {
            return Err(DomainError::InvalidTransition {
                entity: "order",
                from: self.status.to_string(),
                to: next.to_string(),
            });
        }
        self.status = next;
        self.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn line(sku: &str, quantity: u32, price: i64) -> OrderLine {
        OrderLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
            unit_price: Money::new(price, eur()),
        }
    }

    fn new_line(sku: &str, quantity: u32) -> NewOrderLine {
        NewOrderLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
        }
    }

    #[test]
    fn new_orders_need_distinct_lines() {
        let customer = UserId::new();
        assert_eq!(
            NewOrder::new(customer, eur(), vec![])
                .unwrap_err()
                .to_string(),
            "lines: must have at least one line"
        );
        let error = NewOrder::new(
            customer,
            eur(),
            vec![new_line("MUG", 1), new_line("CAP", 1), new_line("mug", 2)],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "lines[2].sku: MUG is already on lines[0]; combine the quantities"
        );
        let too_many = (0..101).map(|i| new_line(&format!("SKU-{i}"), 1)).collect();
        assert!(NewOrder::new(customer, eur(), too_many).is_err());
    }

    #[test]
    fn placing_computes_the_total() {
        let order = Order::place(
            OrderId::new(),
            UserId::new(),
            eur(),
            vec![line("MUG", 2, 1250), line("CAP", 1, 999)],
            Utc::now(),
        )
        .unwrap();
        assert_eq!(order.total, Money::new(3499, eur()));
        assert_eq!(order.status, OrderStatus::Pending);
        assert_eq!(order.version, 1);
    }

    #[test]
    fn lines_in_another_currency_are_refused() {
        let usd_line = OrderLine {
            unit_price: Money::new(100, Currency::parse("USD").unwrap()),
            ..line("MUG", 1, 0)
        };
        let error = Order::place(
            OrderId::new(),
            UserId::new(),
            eur(),
            vec![usd_line],
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "lines[0].sku: MUG is priced in USD, the order in EUR"
        );
    }

    #[test]
    fn life_cycle_moves_only_forward_from_pending() {
        let now = Utc::now();
        let mut order = Order::place(
            OrderId::new(),
            UserId::new(),
            eur(),
            vec![line("MUG", 1, 100)],
            now,
        )
        .unwrap();
        order.confirm(now).unwrap();
        assert_eq!(order.status, OrderStatus::Confirmed);
        let error = order.reject("too late", now).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot move order from confirmed to rejected"
        );
        assert_eq!(
            seam_core::Classify::kind(&error),
            seam_core::ErrorKind::Conflict
        );

        let mut other = Order::place(
            OrderId::new(),
            UserId::new(),
            eur(),
            vec![line("MUG", 1, 100)],
            now,
        )
        .unwrap();
        other.reject("out of stock: MUG", now).unwrap();
        assert_eq!(other.rejection_reason.as_deref(), Some("out of stock: MUG"));
        assert!(other.confirm(now).is_err());
    }

    #[test]
    fn statuses_parse_and_print() {
        for status in [
            OrderStatus::Pending,
            OrderStatus::Confirmed,
            OrderStatus::Rejected,
        ] {
            assert_eq!(status.as_str().parse::<OrderStatus>().unwrap(), status);
        }
        assert!("shipped".parse::<OrderStatus>().is_err());
    }
}
