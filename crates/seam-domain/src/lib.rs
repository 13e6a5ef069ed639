//! Seam's domain: values and entities that cannot be built invalid.
//!
//! Every constructor validates (`Sku::parse`, `Quantity::new`, `EmailAddress::parse`,
//! `Money::new`, ...), so code that holds one of these types never checks it again.
//! Invalid input is a [`DomainError`], which classifies as
//! [`ErrorKind::Invalid`](seam_core::ErrorKind::Invalid) and carries a message fit for
//! an API client. The crate is pure: no I/O, no clock (timestamps are passed in).

mod email;
mod error;
mod money;
mod order;
mod sku;
mod user;

pub use email::EmailAddress;
pub use error::DomainError;
pub use money::{Currency, Money};
pub use order::{NewOrder, NewOrderLine, Order, OrderId, OrderLine, OrderStatus};
pub use sku::{Quantity, Sku};
pub use user::{NewUser, User, UserId};
