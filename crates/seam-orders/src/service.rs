//! The use cases.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use seam_core::{Classify, SharedClock};
use seam_domain::{
    EmailAddress, NewOrder, NewUser, Order, OrderId, OrderLine, OrderStatus, User, UserId,
};
use seam_email::{EmailMessage, EmailService, Mailbox, MessageId, OrderEmail, Templates};
use seam_queue::Envelope;
use seam_repository::{
    OutboxMessage, Page, RepositoryPorts, Reservation, StoredResponse, UserQuery, UserUpdate,
};
use sha2::{Digest, Sha256};

use crate::error::{OrdersError, Result};
use crate::events::{ORDER_CONFIRMED, ORDER_CREATED, ORDER_REJECTED, OrderCreated, OrderDecided};

/// The idempotency scope of order placement.
const PLACE_ORDER_SCOPE: &str = "orders.place";
/// The inbox consumer name of the `order.created` handler.
const ORDER_HANDLER: &str = "order-worker";
/// The inbox consumer name of the e-mail sender.
const EMAIL_HANDLER: &str = "order-emails";

/// Who sends the order e-mails, and how.
#[derive(Debug, Clone)]
pub struct EmailSender {
    /// The e-mail port.
    pub service: Arc<dyn EmailService>,
    /// The `From` of every message.
    pub from: Mailbox,
    /// The order templates.
    pub templates: Arc<Templates>,
}

/// A request to place an order, already validated by the domain.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    /// The order asked for.
    pub order: NewOrder,
    /// The client's `Idempotency-Key`, if it sent one, with the hash of its request
    /// (see [`request_hash`]).
    pub idempotency: Option<(String, String)>,
    /// The trace context to carry into the event.
    pub traceparent: Option<String>,
}

/// An order placed, or the earlier answer to the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The order as it was when first placed.
    pub order: Order,
    /// Whether this is a replay of an earlier request with the same key.
    pub replayed: bool,
}

/// What [`OrderService::handle_order_created`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandleOutcome {
    /// Stock reserved, order confirmed.
    Confirmed,
    /// Not enough stock; order rejected with this reason.
    Rejected(String),
    /// This message was processed before: nothing done.
    Duplicate,
    /// The order was decided already (by an earlier message): nothing done.
    AlreadyDecided(OrderStatus),
}

/// The order use cases over the repository, e-mail and clock ports.
#[derive(Debug, Clone)]
pub struct OrderService {
    repositories: RepositoryPorts,
    email: EmailSender,
    clock: SharedClock,
}

/// A stable hash of a request body, to tell a replay from a different request sent
/// with the same idempotency key.
pub fn request_hash(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Parses `Name <address>` or a bare address into a mailbox.
///
/// # Errors
///
/// [`OrdersError::Domain`] when the address is not valid.
pub fn parse_mailbox(text: &str) -> Result<Mailbox> {
    let text = text.trim();
    match text.rsplit_once('<') {
        Some((name, rest)) if rest.ends_with('>') => {
            let address = EmailAddress::parse(rest.trim_end_matches('>'))?;
            let name = name.trim().trim_matches('"').trim();
            Ok(if name.is_empty() {
                Mailbox::new(address)
            } else {
                Mailbox::named(name, address)
            })
        }
        _ => Ok(Mailbox::new(EmailAddress::parse(text)?)),
    }
}

impl OrderService {
    /// The use cases over these ports.
    pub fn new(repositories: RepositoryPorts, email: EmailSender, clock: SharedClock) -> Self {
        Self {
            repositories,
            email,
            clock,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }

    /// Places an order: prices its lines from the catalogue and writes it with its
    /// `order.created` event in one transaction. With an idempotency key, the same key
    /// and request give the first answer again; the same key with another request is
    /// [`OrdersError::IdempotencyMismatch`].
    ///
    /// # Errors
    ///
    /// [`OrdersError::UnknownReference`] for an unknown customer or SKU,
    /// [`OrdersError::Domain`] for a price in another currency, repository failures.
    #[tracing::instrument(skip_all, fields(customer_id = %request.order.customer_id()))]
    pub async fn place_order(&self, request: PlaceOrder) -> Result<Placed> {
        if let Some((key, hash)) = &request.idempotency
            && let Some(placed) = self.replay(key, hash).await?
        {
            return Ok(placed);
        }
        let new_order = &request.order;
        match self.repositories.users.get(new_order.customer_id()).await {
            Ok(_) => {}
            Err(error) if error.kind() == seam_core::ErrorKind::NotFound => {
                return Err(OrdersError::UnknownReference {
                    field: "customer_id".to_owned(),
                    message: format!("no customer with id {}", new_order.customer_id()),
                });
            }
            Err(error) => return Err(error.into()),
        }
        let lines = self.price(new_order).await?;
        let now = self.now();
        let order = Order::place(
            OrderId::new(),
            new_order.customer_id(),
            new_order.currency(),
            lines,
            now,
        )?;
        let payload = serde_json::to_value(OrderCreated {
            order_id: order.id,
            customer_id: order.customer_id,
        })
        .map_err(|error| OrdersError::Undecodable(error.to_string()))?;
        let mut event = OutboxMessage::new(ORDER_CREATED, ORDER_CREATED, payload);
        event.occurred_at = now;
        event.traceparent = request.traceparent.clone();

        let mut tx = self.repositories.unit_of_work.begin().await?;
        tx.insert_order(&order).await?;
        tx.add_outbox(event).await?;
        if let Some((key, hash)) = &request.idempotency {
            let stored = StoredResponse {
                request_hash: hash.clone(),
                status_code: 201,
                body: serde_json::to_value(&order)
                    .map_err(|error| OrdersError::Undecodable(error.to_string()))?,
            };
            if let Err(error) = tx.save_idempotency(PLACE_ORDER_SCOPE, key, stored).await {
                // Another request with the same key won the race: answer as it did.
                tx.rollback().await?;
                if error.kind() == seam_core::ErrorKind::AlreadyExists
                    && let Some(placed) = self.replay(key, hash).await?
                {
                    return Ok(placed);
                }
                return Err(error.into());
            }
        }
        tx.commit().await?;
        metrics::counter!("seam_orders_placed_total").increment(1);
        tracing::info!(order_id = %order.id, total = %order.total, "order placed");
        Ok(Placed {
            order,
            replayed: false,
        })
    }

    async fn replay(&self, key: &str, hash: &str) -> Result<Option<Placed>> {
        let mut tx = self.repositories.unit_of_work.begin().await?;
        let stored = tx.idempotency(PLACE_ORDER_SCOPE, key).await?;
        tx.rollback().await?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        if stored.request_hash != hash {
            return Err(OrdersError::IdempotencyMismatch {
                key: key.to_owned(),
            });
        }
        let order: Order = serde_json::from_value(stored.body)
            .map_err(|error| OrdersError::Undecodable(format!("stored response: {error}")))?;
        Ok(Some(Placed {
            order,
            replayed: true,
        }))
    }

    async fn price(&self, order: &NewOrder) -> Result<Vec<OrderLine>> {
        let skus: Vec<_> = order.lines().iter().map(|line| line.sku.clone()).collect();
        let products: HashMap<_, _> = self
            .repositories
            .inventory
            .products(&skus)
            .await?
            .into_iter()
            .map(|product| (product.sku.clone(), product))
            .collect();
        order
            .lines()
            .iter()
            .enumerate()
            .map(|(index, line)| {
                let product =
                    products
                        .get(&line.sku)
                        .ok_or_else(|| OrdersError::UnknownReference {
                            field: format!("lines[{index}].sku"),
                            message: format!("unknown SKU {}", line.sku),
                        })?;
                Ok(OrderLine {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                    unit_price: product.unit_price,
                })
            })
            .collect()
    }

    /// Handles one `order.created` message: reserves stock and confirms the order, or
    /// rejects it when stock is short, and queues the customer e-mail, all in one
    /// transaction together with the inbox entry of this message.
    ///
    /// # Errors
    ///
    /// [`OrdersError::Undecodable`] for a payload that is not an [`OrderCreated`]
    /// (permanent), [`OrdersError::NotFound`] for an unknown order (permanent),
    /// repository failures (retryable when the database is unavailable).
    #[tracing::instrument(skip_all, fields(message_id = %envelope.message_id))]
    pub async fn handle_order_created(&self, envelope: &Envelope) -> Result<HandleOutcome> {
        let event: OrderCreated = envelope
            .decode()
            .map_err(|error| OrdersError::Undecodable(error.to_string()))?;
        let mut tx = self.repositories.unit_of_work.begin().await?;
        if !tx.record_inbox(ORDER_HANDLER, envelope.message_id).await? {
            tx.rollback().await?;
            return Ok(HandleOutcome::Duplicate);
        }
        let Some(mut order) = tx.get_order_for_update(event.order_id).await? else {
            tx.rollback().await?;
            return Err(OrdersError::NotFound {
                entity: "order",
                id: event.order_id.to_string(),
            });
        };
        if order.status != OrderStatus::Pending {
            tx.commit().await?;
            return Ok(HandleOutcome::AlreadyDecided(order.status));
        }
        let items: Vec<_> = order
            .lines
            .iter()
            .map(|line| (line.sku.clone(), line.quantity))
            .collect();
        let now = self.now();
        let outcome = match tx.reserve_stock(&items).await? {
            Reservation::Reserved => {
                order.confirm(now)?;
                HandleOutcome::Confirmed
            }
            Reservation::Insufficient {
                sku,
                requested,
                available,
            } => {
                let reason = format!(
                    "out of stock: {sku} (ordered {requested}, {} available)",
                    available.max(0)
                );
                order.reject(reason.clone(), now)?;
                HandleOutcome::Rejected(reason)
            }
        };
        let expected_version = order.version;
        let order = tx.update_order(&order, expected_version).await?;
        let routing_key = match order.status {
            OrderStatus::Confirmed => ORDER_CONFIRMED,
            _ => ORDER_REJECTED,
        };
        let payload = serde_json::to_value(OrderDecided {
            order_id: order.id,
            status: order.status,
        })
        .map_err(|error| OrdersError::Undecodable(error.to_string()))?;
        let mut decided = OutboxMessage::new(routing_key, routing_key, payload);
        decided.correlation_id = envelope.correlation_id;
        decided.causation_id = Some(envelope.message_id);
        decided.traceparent = envelope.traceparent.clone();
        decided.occurred_at = now;
        tx.add_outbox(decided).await?;
        tx.commit().await?;
        metrics::counter!("seam_orders_decided_total", "status" => order.status.as_str())
            .increment(1);
        tracing::info!(order_id = %order.id, status = %order.status, "order decided");
        Ok(outcome)
    }

    /// Sends the confirmation or rejection e-mail for one `order.confirmed` /
    /// `order.rejected` message, unless this message was handled before.
    ///
    /// The inbox entry is written after the e-mail was accepted, so a crash in between
    /// sends it again on redelivery. The message carries an id derived from the event
    /// (`order-<order id>-<status>`), the same on every re-send, so
    /// an adapter that deduplicates (memory, file) delivers it once, and the others put
    /// it in the `Message-ID` (or a custom header) for receivers to deduplicate: e-mail
    /// is at-least-once only through adapters that cannot deduplicate. A failure to
    /// send (server down) is returned for the consumer to retry.
    ///
    /// # Errors
    ///
    /// [`OrdersError::Undecodable`], [`OrdersError::NotFound`] (permanent),
    /// [`OrdersError::Email`] (transient or permanent as the e-mail port says).
    #[tracing::instrument(skip_all, fields(message_id = %envelope.message_id))]
    pub async fn send_order_email(&self, envelope: &Envelope) -> Result<bool> {
        let event: OrderDecided = envelope
            .decode()
            .map_err(|error| OrdersError::Undecodable(error.to_string()))?;
        if self.already_processed(EMAIL_HANDLER, envelope).await? {
            return Ok(false);
        }
        let order = self.get_order(event.order_id).await?;
        let customer = self.repositories.users.get(order.customer_id).await?;
        let context = OrderEmail::from_order(&order, customer.name.clone())?;
        let rendered = match order.status {
            OrderStatus::Confirmed => self.email.templates.order_confirmation(&context)?,
            _ => self.email.templates.order_rejection(&context)?,
        };
        let message = EmailMessage::builder()
            .from(self.email.from.clone())
            .to(Mailbox::named(
                customer.name.clone(),
                customer.email.clone(),
            ))
            .rendered(rendered)
            .header("X-Seam-Order-Id", order.id.to_string())
            .message_id(order_email_id(&event)?)
            .build()?;
        self.email.service.send(&message).await?;
        let mut tx = self.repositories.unit_of_work.begin().await?;
        tx.record_inbox(EMAIL_HANDLER, envelope.message_id).await?;
        tx.commit().await?;
        metrics::counter!("seam_order_emails_sent_total", "status" => order.status.as_str())
            .increment(1);
        Ok(true)
    }

    /// Tells the customer that a payment for `order_id` failed, with `reason` (the
    /// provider's customer-safe message).
    ///
    /// The message id is derived from the provider's event id
    /// (`order-<order id>-payment-failed-<event id>`), so a redelivered event re-sends the
    /// same message, which deduplicating adapters deliver once (as the order e-mails).
    ///
    /// # Errors
    ///
    /// [`OrdersError::NotFound`], [`OrdersError::Email`] (transient or permanent as the
    /// e-mail port says).
    #[tracing::instrument(skip_all, fields(order_id = %order_id))]
    pub async fn send_payment_failed_email(
        &self,
        order_id: OrderId,
        reason: &str,
        event_id: &str,
    ) -> Result<()> {
        let order = self.get_order(order_id).await?;
        let customer = self.repositories.users.get(order.customer_id).await?;
        let mut context = OrderEmail::from_order(&order, customer.name.clone())?;
        context.reason = Some(reason.to_owned()).filter(|reason| !reason.trim().is_empty());
        let rendered = self.email.templates.payment_failed(&context)?;
        let event: String = event_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            .take(100)
            .collect();
        let message = EmailMessage::builder()
            .from(self.email.from.clone())
            .to(Mailbox::named(
                customer.name.clone(),
                customer.email.clone(),
            ))
            .rendered(rendered)
            .header("X-Seam-Order-Id", order.id.to_string())
            .message_id(MessageId::new(format!(
                "order-{order_id}-payment-failed-{event}"
            ))?)
            .build()?;
        self.email.service.send(&message).await?;
        metrics::counter!("seam_order_emails_sent_total", "status" => "payment_failed")
            .increment(1);
        Ok(())
    }

    /// Whether `consumer` recorded `envelope` already, without recording it.
    async fn already_processed(&self, consumer: &str, envelope: &Envelope) -> Result<bool> {
        // The inbox only has "record if new"; recording and rolling back reads it
        // without holding a write transaction across the e-mail call.
        let mut tx = self.repositories.unit_of_work.begin().await?;
        let first = tx.record_inbox(consumer, envelope.message_id).await?;
        tx.rollback().await?;
        Ok(!first)
    }

    /// One order.
    ///
    /// # Errors
    ///
    /// [`OrdersError::NotFound`].
    pub async fn get_order(&self, id: OrderId) -> Result<Order> {
        self.repositories
            .orders
            .get(id)
            .await?
            .ok_or_else(|| OrdersError::NotFound {
                entity: "order",
                id: id.to_string(),
            })
    }

    /// A customer's orders, newest first.
    ///
    /// # Errors
    ///
    /// Repository failures; `Invalid` for a limit out of range.
    pub async fn list_orders(
        &self,
        customer: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Order>> {
        Ok(self
            .repositories
            .orders
            .list_by_customer(customer, limit, offset)
            .await?)
    }

    /// Registers a user.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` when the e-mail is taken.
    pub async fn create_user(&self, user: NewUser) -> Result<User> {
        Ok(self.repositories.users.create(user).await?)
    }

    /// One user.
    ///
    /// # Errors
    ///
    /// [`OrdersError::NotFound`].
    pub async fn get_user(&self, id: UserId) -> Result<User> {
        Ok(self.repositories.users.get(id).await?)
    }

    /// Changes a user, if it is still at `expected_version`.
    ///
    /// # Errors
    ///
    /// `Conflict` for a stale version, `NotFound`, `AlreadyExists` for a taken e-mail.
    pub async fn update_user(
        &self,
        id: UserId,
        expected_version: i64,
        changes: UserUpdate,
    ) -> Result<User> {
        Ok(self
            .repositories
            .users
            .update(id, expected_version, changes)
            .await?)
    }

    /// Deletes a user.
    ///
    /// # Errors
    ///
    /// `NotFound`.
    pub async fn delete_user(&self, id: UserId) -> Result<()> {
        Ok(self.repositories.users.delete(id).await?)
    }

    /// Users matching a query.
    ///
    /// # Errors
    ///
    /// `Invalid` for a limit out of range.
    pub async fn list_users(&self, query: UserQuery) -> Result<Page<User>> {
        Ok(self.repositories.users.list(query).await?)
    }
}

/// The id of the e-mail sent for `event`: `order-<order id>-<status>`. One decision of
/// one order gives one id, whichever delivery of the event (or re-publication of it)
/// is being handled, so a re-send after a crash is recognisable as the same message.
///
/// # Errors
///
/// Never in practice: the id is short and has no whitespace.
fn order_email_id(event: &OrderDecided) -> Result<MessageId> {
    Ok(MessageId::new(format!(
        "order-{}-{}",
        event.order_id,
        event.status.as_str()
    ))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_id_depends_on_the_order_and_the_decision_only() {
        let order_id = OrderId::new();
        let confirmed = OrderDecided {
            order_id,
            status: OrderStatus::Confirmed,
        };
        let id = order_email_id(&confirmed).unwrap();
        assert_eq!(id.as_str(), format!("order-{order_id}-confirmed"));
        assert_eq!(order_email_id(&confirmed.clone()).unwrap(), id);
        let rejected = OrderDecided {
            order_id,
            status: OrderStatus::Rejected,
        };
        assert_ne!(order_email_id(&rejected).unwrap(), id);
        let other = OrderDecided {
            order_id: OrderId::new(),
            status: OrderStatus::Confirmed,
        };
        assert_ne!(order_email_id(&other).unwrap(), id);
    }
}
