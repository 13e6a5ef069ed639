//! The repository port: where Seam keeps users, the catalogue and its stock, orders, and
//! the tables that make messaging safe (outbox, inbox, idempotency keys).
//!
//! Traits, each used as `Arc<dyn Trait>`:
//!
//! - [`UserRepository`]: users, with optimistic concurrency and case-insensitive unique
//!   e-mail addresses; filtered, sorted, paginated listing.
//! - [`InventoryRepository`]: products with their price and stock.
//! - [`OrderRepository`]: reading orders outside a transaction.
//! - [`UnitOfWork`] / [`Transaction`]: one database transaction for a use case: place an
//!   order with its outbox message, reserve stock all-or-nothing, record a processed
//!   message in the inbox, store an idempotent response. Nothing is visible before
//!   [`Transaction::commit`]; dropping a transaction rolls it back.
//! - [`OutboxStore`]: what the relay uses to publish the outbox: claim with a lease, mark
//!   published, release on failure, wait for new messages.
//! - [`FileRepository`]: records of files kept in object storage, and their attachment
//!   to orders.
//! - [`WebhookEventLog`]: the log of processed inbound webhook events
//!   ([`MemoryWebhookEvents`] in memory).
//! - [`OrderPaymentRepository`]: each order's payment and its refunds, beside the order
//!   ([`MemoryOrderPayments`] in memory).
//! - [`IdentityRepository`]: which identity-provider account signs in as which user
//!   ([`MemoryIdentities`] in memory).
//!
//! Every operation fails with the one [`Error`] enum, which implements
//! [`seam_core::Classify`]. [`memory::MemoryRepositories`] is the in-memory adapter (the
//! embedded default and the fake for tests); `seam-repository-sql` is the SQL adapter
//! (PostgreSQL and SQLite). Each passes the suite in
//! `conformance` (feature `conformance`).

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use seam_domain::{EmailAddress, NewUser, Order, OrderId, Quantity, Sku, User, UserId};
use uuid::Uuid;

mod blanket;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
mod files;
mod identities;
pub mod memory;
mod payments;
mod types;
mod webhook_events;

pub use error::{BoxError, Error, Result};
pub use files::{
    DynFileRepository, FileId, FileRecord, FileRepository, MAX_ATTACHMENT_ROLE_LEN,
    MAX_FILE_KEY_LEN, NewFile, OrderAttachment, check_attachment_role, check_new_file,
};
#[cfg(any(test, feature = "conformance"))]
pub use identities::identity_conformance;
pub use identities::{
    DynIdentityRepository, ExternalIdentity, IdentityRepository, MAX_PROVIDER_LEN, MAX_SUBJECT_LEN,
    MemoryIdentities, check_identity_key,
};
#[cfg(any(test, feature = "conformance"))]
pub use payments::order_payments_conformance;
pub use payments::{
    DynOrderPaymentRepository, MAX_PAYMENT_FIELD_LEN, MemoryOrderPayments, OrderPayment,
    OrderPaymentRepository, PaymentRefundRecord, check_order_payment, check_refund_record,
};
pub use types::{
    MAX_PAGE_SIZE, OutboxMessage, OutboxRecord, Page, Product, Reservation, SortDirection,
    StoredResponse, UserQuery, UserSort, UserUpdate, check_consumer, check_idempotency_key,
    check_limit, check_offset, check_product, check_stock, check_stored_response,
};
#[cfg(any(test, feature = "conformance"))]
pub use webhook_events::webhook_events_conformance;
pub use webhook_events::{
    DynWebhookEventLog, MAX_WEBHOOK_KEY_LEN, MemoryWebhookEvents, WebhookAttempt, WebhookEvent,
    WebhookEventLog, WebhookEventQuery, WebhookEventStatus, apply_webhook_attempt,
    check_webhook_attempt,
};

/// Users (customers).
///
/// # Contract
///
/// - `create` MUST return `Error::AlreadyExists` when a user with the same e-mail address
///   exists, whatever the case of either address; it assigns the id, the timestamps and
///   version 1.
/// - `get` MUST return `Error::NotFound` for an unknown id, and otherwise exactly what
///   `create`/`update` returned.
/// - `find_by_email` MUST match case-insensitively.
/// - `update` MUST return `Error::NotFound` for an unknown id, `Error::Conflict` when
///   `expected_version` is not the stored version (and change nothing), and
///   `Error::AlreadyExists` when the new address belongs to another user. On success the
///   version is incremented by one and `updated_at` moves.
/// - `delete` MUST return `Error::NotFound` for an unknown id, and `Error::Conflict` when
///   the user still has orders or files.
/// - `list` MUST return `Error::Invalid` for a limit outside 1..=100, filter literally
///   (a filter is data, never SQL) and case-insensitively, sort with ties broken by id,
///   and report the total number of matches.
#[async_trait]
pub trait UserRepository: Debug + Send + Sync + 'static {
    /// Creates a user.
    async fn create(&self, user: NewUser) -> Result<User>;

    /// The user with this id.
    async fn get(&self, id: UserId) -> Result<User>;

    /// The user with this address, whatever its case.
    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>>;

    /// Applies `changes` if the stored version is `expected_version`.
    async fn update(&self, id: UserId, expected_version: i64, changes: UserUpdate) -> Result<User>;

    /// Deletes the user.
    async fn delete(&self, id: UserId) -> Result<()>;

    /// One page of users.
    async fn list(&self, query: UserQuery) -> Result<Page<User>>;
}

/// The catalogue and its stock.
///
/// # Contract
///
/// - `product` MUST return `None` for an unknown SKU; a product without a stock row has
///   `on_hand` 0.
/// - `products` MUST return the products that exist, in the order of the SKUs given,
///   each once, leaving unknown SKUs out.
/// - `stock` and `set_stock` MUST return `Error::NotFound` for an unknown SKU;
///   `set_stock` MUST return `Error::Invalid` for a negative count.
/// - `put_product` creates or replaces a product and its stock; it MUST return
///   `Error::Invalid` for a negative price or stock.
#[async_trait]
pub trait InventoryRepository: Debug + Send + Sync + 'static {
    /// The product with this SKU.
    async fn product(&self, sku: &Sku) -> Result<Option<Product>>;

    /// The products with these SKUs.
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>>;

    /// Units in stock.
    async fn stock(&self, sku: &Sku) -> Result<i64>;

    /// Sets the units in stock (after a stock count or a delivery).
    async fn set_stock(&self, sku: &Sku, on_hand: i64) -> Result<()>;

    /// Creates or replaces a product of the catalogue, with its stock.
    async fn put_product(&self, product: &Product) -> Result<()>;
}

/// Reading orders outside a transaction.
///
/// # Contract
///
/// - `get` MUST return `None` for an unknown id, and the order with its lines in their
///   original order otherwise, as last committed.
/// - `list_by_customer` MUST list newest first (ties by id), return `Error::Invalid` for a
///   limit outside 1..=100, and report the customer's total number of orders.
#[async_trait]
pub trait OrderRepository: Debug + Send + Sync + 'static {
    /// The order with this id.
    async fn get(&self, id: OrderId) -> Result<Option<Order>>;

    /// One page of a customer's orders, newest first.
    async fn list_by_customer(
        &self,
        customer_id: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Order>>;
}

/// Starts database transactions.
///
/// SQLite and the memory adapter run one writer at a time: while a task holds an open
/// transaction it must not write through the other repositories (`users.create`,
/// `inventory.set_stock`, the outbox store) — that write waits for the transaction to
/// end (on SQLite until the busy timeout, then `Transient`; in memory for ever). Do the
/// whole unit of work through the transaction, or finish it first.
#[async_trait]
pub trait UnitOfWork: Debug + Send + Sync + 'static {
    /// Begins a transaction. Writers may wait here for another writer (SQLite and the
    /// memory adapter serialise transactions).
    async fn begin(&self) -> Result<Box<dyn Transaction>>;
}

/// One open database transaction.
///
/// # Contract
///
/// - Nothing written is visible outside before `commit`; `rollback`, or dropping the
///   transaction, MUST leave no trace of it (orders, stock, outbox, inbox, keys).
/// - After an operation failed, the transaction MUST be rolled back (or dropped); only
///   `Reservation::Insufficient`, `record_inbox` returning `false` and
///   `save_idempotency`'s `AlreadyExists` leave it usable.
/// - `insert_order` MUST return `Error::AlreadyExists` for an existing id and
///   `Error::Conflict` for an unknown customer or SKU.
/// - `get_order_for_update` MUST lock the order against concurrent transactions until
///   this one ends (where the backend can), and return `None` for an unknown id.
/// - `update_order` MUST store status, rejection reason and `updated_at` if the stored
///   version is `expected_version`, returning the order with the version incremented;
///   otherwise `Error::Conflict` (`Error::NotFound` for an unknown id).
/// - `reserve_stock` MUST be all-or-nothing and MUST never take stock below zero, even
///   with concurrent transactions: on shortage it returns `Reservation::Insufficient`
///   for the first short SKU (in SKU order) and leaves every count unchanged.
/// - `add_outbox` MUST return `Error::AlreadyExists` for a message id already in the
///   outbox, and `Error::Invalid` for a blank routing key or type.
/// - `record_inbox` MUST return `true` the first time a consumer records a message id
///   and `false` afterwards (including concurrently, once the other transaction commits).
/// - `save_idempotency` MUST return `Error::AlreadyExists` when the scope and key are
///   stored already, including by a concurrent transaction that committed first.
#[async_trait]
pub trait Transaction: Send {
    /// Inserts an order with its lines.
    async fn insert_order(&mut self, order: &Order) -> Result<()>;

    /// Reads an order with its lines and locks it for this transaction.
    async fn get_order_for_update(&mut self, id: OrderId) -> Result<Option<Order>>;

    /// Stores the order's new state if its version is still `expected_version`.
    async fn update_order(&mut self, order: &Order, expected_version: i64) -> Result<Order>;

    /// Takes `items` out of stock, all or nothing.
    async fn reserve_stock(&mut self, items: &[(Sku, Quantity)]) -> Result<Reservation>;

    /// Adds a message to the outbox, published after commit by the relay.
    async fn add_outbox(&mut self, message: OutboxMessage) -> Result<()>;

    /// Records that `consumer` processed `message_id`; `false` when it had already.
    async fn record_inbox(&mut self, consumer: &str, message_id: Uuid) -> Result<bool>;

    /// The stored response for an idempotency key.
    async fn idempotency(&mut self, scope: &str, key: &str) -> Result<Option<StoredResponse>>;

    /// Stores the response for an idempotency key.
    async fn save_idempotency(
        &mut self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> Result<()>;

    /// Makes every change visible, atomically.
    async fn commit(self: Box<Self>) -> Result<()>;

    /// Discards every change.
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// The outbox as the relay sees it, outside transactions.
///
/// # Contract
///
/// - `claim` MUST return at most `limit` (1..=100, else `Error::Invalid`) unpublished
///   messages whose lease has expired or was never taken, oldest first, and lease them
///   for `lease`: concurrent claimers (several relays) MUST never get the same message
///   while its lease runs.
/// - `mark_published` MUST take the messages out of the backlog for good; unknown ids
///   are ignored.
/// - `release` MUST end the lease at once, increment `attempts` and record the error;
///   `Error::NotFound` for an unknown id.
/// - `backlog` MUST count the unpublished messages, leased or not.
/// - `wait_for_work` MUST return `true` at once when a claimable message exists, and
///   otherwise as soon as a transaction that added a message commits (`true`) or when
///   `max_wait` has passed (`false`). Spurious `true`s are allowed.
#[async_trait]
pub trait OutboxStore: Debug + Send + Sync + 'static {
    /// Claims up to `limit` messages to publish, leasing them for `lease`.
    async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<OutboxRecord>>;

    /// Marks messages published.
    async fn mark_published(&self, ids: &[Uuid]) -> Result<()>;

    /// Gives a message back after a failed attempt.
    async fn release(&self, id: Uuid, error: &str) -> Result<()>;

    /// How many messages are not yet published.
    async fn backlog(&self) -> Result<u64>;

    /// Waits until a message may be claimable, or `max_wait` has passed.
    async fn wait_for_work(&self, max_wait: Duration) -> Result<bool>;
}

/// A user repository as a trait object.
pub type DynUserRepository = dyn UserRepository;
/// An inventory repository as a trait object.
pub type DynInventoryRepository = dyn InventoryRepository;
/// An order repository as a trait object.
pub type DynOrderRepository = dyn OrderRepository;
/// A unit of work as a trait object.
pub type DynUnitOfWork = dyn UnitOfWork;
/// An outbox store as a trait object.
pub type DynOutboxStore = dyn OutboxStore;

/// Every repository trait, each as a shared trait object, usually all from one adapter.
#[derive(Debug, Clone)]
pub struct RepositoryPorts {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Orders, outside transactions.
    pub orders: Arc<dyn OrderRepository>,
    /// The catalogue and its stock.
    pub inventory: Arc<dyn InventoryRepository>,
    /// Transactions.
    pub unit_of_work: Arc<dyn UnitOfWork>,
    /// The outbox, for the relay.
    pub outbox: Arc<dyn OutboxStore>,
    /// Records of stored files and their attachment to orders.
    pub files: Arc<dyn FileRepository>,
}

impl RepositoryPorts {
    /// Every port from one adapter that implements them all.
    pub fn from_shared<R>(repositories: Arc<R>) -> Self
    where
        R: UserRepository
            + OrderRepository
            + InventoryRepository
            + UnitOfWork
            + OutboxStore
            + FileRepository,
    {
        Self {
            users: repositories.clone(),
            orders: repositories.clone(),
            inventory: repositories.clone(),
            unit_of_work: repositories.clone(),
            outbox: repositories.clone(),
            files: repositories,
        }
    }
}
