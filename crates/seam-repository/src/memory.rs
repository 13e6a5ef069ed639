//! The in-memory adapter: every repository trait over maps in memory, with the same
//! contract as the SQL adapters. It is the embedded default and the fake for tests.
//!
//! Committed data sits behind a short-lived lock, so reads never wait. Writers (every
//! transaction, and the writes outside transactions) take one asynchronous writer lock,
//! as SQLite's `BEGIN IMMEDIATE` does: a transaction works on a copy of the data and
//! swaps it in on commit, so rollback and drop simply discard the copy.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use seam_domain::{EmailAddress, Money, NewUser, Order, OrderId, Quantity, Sku, User, UserId};
use tokio::sync::{Notify, OwnedMutexGuard};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::types::{
    OutboxMessage, OutboxRecord, Page, Product, Reservation, SortDirection, StoredResponse,
    UserQuery, UserSort, UserUpdate, check_consumer, check_idempotency_key, check_limit,
    check_offset, check_product, check_stock, check_stored_response,
};
mod files;

use crate::{
    InventoryRepository, OrderRepository, OutboxStore, RepositoryPorts, Transaction, UnitOfWork,
    UserRepository,
};

/// Every repository trait, in memory. Clones share the data.
///
/// ```
/// # async fn example() -> seam_repository::Result<()> {
/// use seam_repository::memory::MemoryRepositories;
///
/// let ports = MemoryRepositories::new().ports();
/// let mut tx = ports.unit_of_work.begin().await?;
/// tx.rollback().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryRepositories {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    committed: Mutex<State>,
    writer: Arc<tokio::sync::Mutex<()>>,
    outbox_added: Notify,
}

#[derive(Debug, Clone, Default)]
struct State {
    users: HashMap<UserId, User>,
    products: BTreeMap<Sku, StoredProduct>,
    orders: HashMap<OrderId, Order>,
    outbox: HashMap<Uuid, OutboxRow>,
    inbox: HashSet<(String, Uuid)>,
    idempotency: HashMap<(String, String), StoredResponse>,
    files: HashMap<crate::FileId, crate::FileRecord>,
    /// Attachments by (order, file): role and when.
    attachments: BTreeMap<(OrderId, crate::FileId), (String, DateTime<Utc>)>,
}

#[derive(Debug, Clone)]
struct StoredProduct {
    name: String,
    unit_price: Money,
    on_hand: i64,
}

#[derive(Debug, Clone)]
struct OutboxRow {
    record: OutboxRecord,
    published_at: Option<DateTime<Utc>>,
    locked_until: Option<DateTime<Utc>>,
}

impl OutboxRow {
    fn claimable(&self, now: DateTime<Utc>) -> bool {
        self.published_at.is_none() && self.locked_until.is_none_or(|until| until < now)
    }
}

/// The current time at the precision the SQL backends store (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn email_key(email: &EmailAddress) -> String {
    email.as_str().to_lowercase()
}

impl MemoryRepositories {
    /// Empty repositories.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every port, sharing this adapter's data.
    pub fn ports(&self) -> RepositoryPorts {
        RepositoryPorts::from_shared(Arc::new(self.clone()))
    }

    fn committed(&self) -> MutexGuard<'_, State> {
        // Every update replaces whole values, so a poisoned lock still holds consistent data.
        self.inner
            .committed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `change` on the committed data as a writer, after the open transactions.
    async fn write<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let _writer = self.inner.writer.lock().await;
        let mut state = self.committed();
        let mut copy = state.clone();
        let result = change(&mut copy)?;
        *state = copy;
        Ok(result)
    }
}

fn user_matches(user: &User, query: &UserQuery) -> bool {
    let contains = |haystack: &str, needle: &Option<String>| {
        needle
            .as_ref()
            .is_none_or(|needle| haystack.to_lowercase().contains(&needle.to_lowercase()))
    };
    contains(user.email.as_str(), &query.email_contains)
        && contains(&user.name, &query.name_contains)
}

fn page<T>(mut items: Vec<T>, limit: u32, offset: u64) -> Page<T> {
    let total = items.len() as u64;
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(items.len());
    let mut rest = items.split_off(start);
    rest.truncate(limit as usize);
    Page {
        items: rest,
        total,
        limit,
        offset,
    }
}

#[async_trait]
impl UserRepository for MemoryRepositories {
    async fn create(&self, user: NewUser) -> Result<User> {
        self.write(|state| {
            let key = email_key(user.email());
            if state.users.values().any(|u| email_key(&u.email) == key) {
                return Err(Error::already_exists(
                    "user",
                    format!("email {}", user.email()),
                ));
            }
            let at = now();
            let created = User {
                id: UserId::new(),
                email: user.email().clone(),
                name: user.name().to_owned(),
                created_at: at,
                updated_at: at,
                version: 1,
            };
            state.users.insert(created.id, created.clone());
            Ok(created)
        })
        .await
    }

    async fn get(&self, id: UserId) -> Result<User> {
        self.committed()
            .users
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found("user", id))
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>> {
        let key = email_key(email);
        Ok(self
            .committed()
            .users
            .values()
            .find(|user| email_key(&user.email) == key)
            .cloned())
    }

    async fn update(&self, id: UserId, expected_version: i64, changes: UserUpdate) -> Result<User> {
        self.write(|state| {
            let current = state
                .users
                .get(&id)
                .ok_or_else(|| Error::not_found("user", id))?;
            if current.version != expected_version {
                return Err(Error::stale_version("user", id, expected_version));
            }
            if let Some(email) = changes.email() {
                let key = email_key(email);
                if state
                    .users
                    .values()
                    .any(|other| other.id != id && email_key(&other.email) == key)
                {
                    return Err(Error::already_exists("user", format!("email {email}")));
                }
            }
            let mut updated = current.clone();
            if let Some(name) = changes.name() {
                updated.name = name.to_owned();
            }
            if let Some(email) = changes.email() {
                updated.email = email.clone();
            }
            updated.version += 1;
            updated.updated_at = now();
            state.users.insert(id, updated.clone());
            Ok(updated)
        })
        .await
    }

    async fn delete(&self, id: UserId) -> Result<()> {
        self.write(|state| {
            if !state.users.contains_key(&id) {
                return Err(Error::not_found("user", id));
            }
            if state.orders.values().any(|order| order.customer_id == id) {
                return Err(Error::conflict("user", id, "the user has orders"));
            }
            if state.files.values().any(|file| file.owner_id == id) {
                return Err(Error::conflict("user", id, "the user has files"));
            }
            state.users.remove(&id);
            Ok(())
        })
        .await
    }

    async fn list(&self, query: UserQuery) -> Result<Page<User>> {
        query.validate()?;
        let mut users: Vec<User> = self
            .committed()
            .users
            .values()
            .filter(|user| user_matches(user, &query))
            .cloned()
            .collect();
        users.sort_by(|a, b| {
            let by_key = match query.sort {
                UserSort::CreatedAt => a.created_at.cmp(&b.created_at),
                UserSort::Name => a.name.cmp(&b.name),
                UserSort::Email => a.email.as_str().cmp(b.email.as_str()),
            }
            .then_with(|| a.id.cmp(&b.id));
            match query.direction {
                SortDirection::Asc => by_key,
                SortDirection::Desc => by_key.reverse(),
            }
        });
        Ok(page(users, query.limit, query.offset))
    }
}

fn to_product(sku: &Sku, stored: &StoredProduct) -> Product {
    Product {
        sku: sku.clone(),
        name: stored.name.clone(),
        unit_price: stored.unit_price,
        on_hand: stored.on_hand,
    }
}

#[async_trait]
impl InventoryRepository for MemoryRepositories {
    async fn product(&self, sku: &Sku) -> Result<Option<Product>> {
        Ok(self
            .committed()
            .products
            .get(sku)
            .map(|stored| to_product(sku, stored)))
    }

    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>> {
        let state = self.committed();
        let mut seen = HashSet::new();
        Ok(skus
            .iter()
            .filter(|sku| seen.insert(*sku))
            .filter_map(|sku| {
                state
                    .products
                    .get(sku)
                    .map(|stored| to_product(sku, stored))
            })
            .collect())
    }

    async fn stock(&self, sku: &Sku) -> Result<i64> {
        self.committed()
            .products
            .get(sku)
            .map(|stored| stored.on_hand)
            .ok_or_else(|| Error::not_found("product", sku))
    }

    async fn set_stock(&self, sku: &Sku, on_hand: i64) -> Result<()> {
        check_stock(on_hand)?;
        self.write(|state| {
            let stored = state
                .products
                .get_mut(sku)
                .ok_or_else(|| Error::not_found("product", sku))?;
            stored.on_hand = on_hand;
            Ok(())
        })
        .await
    }

    async fn put_product(&self, product: &Product) -> Result<()> {
        check_product(product)?;
        self.write(|state| {
            state.products.insert(
                product.sku.clone(),
                StoredProduct {
                    name: product.name.clone(),
                    unit_price: product.unit_price,
                    on_hand: product.on_hand,
                },
            );
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl OrderRepository for MemoryRepositories {
    async fn get(&self, id: OrderId) -> Result<Option<Order>> {
        Ok(self.committed().orders.get(&id).cloned())
    }

    async fn list_by_customer(
        &self,
        customer_id: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Order>> {
        check_limit(limit)?;
        check_offset(offset)?;
        let mut orders: Vec<Order> = self
            .committed()
            .orders
            .values()
            .filter(|order| order.customer_id == customer_id)
            .cloned()
            .collect();
        orders.sort_by_key(|order| std::cmp::Reverse((order.created_at, order.id)));
        Ok(page(orders, limit, offset))
    }
}

#[async_trait]
impl UnitOfWork for MemoryRepositories {
    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        let writer = self.inner.writer.clone().lock_owned().await;
        let working = self.committed().clone();
        Ok(Box::new(MemoryTransaction {
            _writer: writer,
            working,
            repositories: self.clone(),
            outbox_added: false,
        }))
    }
}

/// A transaction of [`MemoryRepositories`]: the writer lock and a working copy.
struct MemoryTransaction {
    _writer: OwnedMutexGuard<()>,
    working: State,
    repositories: MemoryRepositories,
    outbox_added: bool,
}

fn truncate_order(order: &Order) -> Order {
    let mut stored = order.clone();
    stored.created_at = stored.created_at.trunc_subsecs(6);
    stored.updated_at = stored.updated_at.trunc_subsecs(6);
    stored
}

#[async_trait]
impl Transaction for MemoryTransaction {
    async fn insert_order(&mut self, order: &Order) -> Result<()> {
        let state = &mut self.working;
        if state.orders.contains_key(&order.id) {
            return Err(Error::already_exists("order", format!("id {}", order.id)));
        }
        if !state.users.contains_key(&order.customer_id) {
            return Err(Error::conflict(
                "order",
                order.id,
                format!("customer {} does not exist", order.customer_id),
            ));
        }
        if let Some(line) = order
            .lines
            .iter()
            .find(|line| !state.products.contains_key(&line.sku))
        {
            return Err(Error::conflict(
                "order",
                order.id,
                format!("product {} does not exist", line.sku),
            ));
        }
        if order.total.is_negative() || order.lines.iter().any(|l| l.unit_price.is_negative()) {
            return Err(Error::invalid("total", "must not be negative"));
        }
        state.orders.insert(order.id, truncate_order(order));
        Ok(())
    }

    async fn get_order_for_update(&mut self, id: OrderId) -> Result<Option<Order>> {
        // The writer lock held by this transaction already excludes every other writer.
        Ok(self.working.orders.get(&id).cloned())
    }

    async fn update_order(&mut self, order: &Order, expected_version: i64) -> Result<Order> {
        let stored = self
            .working
            .orders
            .get_mut(&order.id)
            .ok_or_else(|| Error::not_found("order", order.id))?;
        if stored.version != expected_version {
            return Err(Error::stale_version("order", order.id, expected_version));
        }
        stored.status = order.status;
        stored.rejection_reason = order.rejection_reason.clone();
        stored.updated_at = order.updated_at.trunc_subsecs(6);
        stored.version += 1;
        Ok(stored.clone())
    }

    async fn reserve_stock(&mut self, items: &[(Sku, Quantity)]) -> Result<Reservation> {
        let mut sorted: Vec<&(Sku, Quantity)> = items.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut remaining: HashMap<&Sku, i64> = HashMap::new();
        for (sku, quantity) in sorted {
            let available = self.working.products.get(sku).map_or(0, |p| p.on_hand);
            let left = remaining.entry(sku).or_insert(available);
            let wanted = i64::from(quantity.get());
            if *left < wanted {
                return Ok(Reservation::Insufficient {
                    sku: sku.clone(),
                    requested: *quantity,
                    available,
                });
            }
            *left -= wanted;
        }
        for (sku, left) in remaining {
            if let Some(product) = self.working.products.get_mut(sku) {
                product.on_hand = left;
            }
        }
        Ok(Reservation::Reserved)
    }

    async fn add_outbox(&mut self, message: OutboxMessage) -> Result<()> {
        message.validate()?;
        if self.working.outbox.contains_key(&message.id) {
            return Err(Error::already_exists(
                "outbox message",
                format!("id {}", message.id),
            ));
        }
        let mut message = message;
        message.occurred_at = message.occurred_at.trunc_subsecs(6);
        self.working.outbox.insert(
            message.id,
            OutboxRow {
                record: OutboxRecord {
                    message,
                    attempts: 0,
                    last_error: None,
                    created_at: now(),
                },
                published_at: None,
                locked_until: None,
            },
        );
        self.outbox_added = true;
        Ok(())
    }

    async fn record_inbox(&mut self, consumer: &str, message_id: Uuid) -> Result<bool> {
        check_consumer(consumer)?;
        Ok(self.working.inbox.insert((consumer.to_owned(), message_id)))
    }

    async fn idempotency(&mut self, scope: &str, key: &str) -> Result<Option<StoredResponse>> {
        check_idempotency_key(scope, key)?;
        Ok(self
            .working
            .idempotency
            .get(&(scope.to_owned(), key.to_owned()))
            .cloned())
    }

    async fn save_idempotency(
        &mut self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> Result<()> {
        check_idempotency_key(scope, key)?;
        check_stored_response(&response)?;
        let entry = (scope.to_owned(), key.to_owned());
        if self.working.idempotency.contains_key(&entry) {
            return Err(Error::already_exists(
                "idempotency key",
                format!("{scope}/{key}"),
            ));
        }
        self.working.idempotency.insert(entry, response);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let this = *self;
        *this.repositories.committed() = this.working;
        if this.outbox_added {
            this.repositories.inner.outbox_added.notify_waiters();
        }
        // The writer lock is released here, after the swap.
        drop(this._writer);
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for MemoryRepositories {
    async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<OutboxRecord>> {
        check_limit(limit)?;
        let lease = chrono::Duration::from_std(lease)
            .map_err(|_| Error::invalid("lease", "is too long"))?;
        self.write(|state| {
            let at = now();
            let mut claimable: Vec<&mut OutboxRow> = state
                .outbox
                .values_mut()
                .filter(|row| row.claimable(at))
                .collect();
            claimable.sort_by(|a, b| {
                (a.record.created_at, a.record.message.id)
                    .cmp(&(b.record.created_at, b.record.message.id))
            });
            Ok(claimable
                .into_iter()
                .take(limit as usize)
                .map(|row| {
                    row.locked_until = Some(at + lease);
                    row.record.clone()
                })
                .collect())
        })
        .await
    }

    async fn mark_published(&self, ids: &[Uuid]) -> Result<()> {
        self.write(|state| {
            let at = now();
            for id in ids {
                if let Some(row) = state.outbox.get_mut(id) {
                    row.published_at = Some(at);
                    row.locked_until = None;
                }
            }
            Ok(())
        })
        .await
    }

    async fn release(&self, id: Uuid, error: &str) -> Result<()> {
        self.write(|state| {
            let row = state
                .outbox
                .get_mut(&id)
                .ok_or_else(|| Error::not_found("outbox message", id))?;
            row.record.attempts += 1;
            row.record.last_error = Some(error.to_owned());
            row.locked_until = None;
            Ok(())
        })
        .await
    }

    async fn backlog(&self) -> Result<u64> {
        Ok(self
            .committed()
            .outbox
            .values()
            .filter(|row| row.published_at.is_none())
            .count() as u64)
    }

    async fn wait_for_work(&self, max_wait: Duration) -> Result<bool> {
        let notified = self.inner.outbox_added.notified();
        tokio::pin!(notified);
        // Registered before looking, so a commit in between is not missed.
        notified.as_mut().enable();
        let at = now();
        if self
            .committed()
            .outbox
            .values()
            .any(|row| row.claimable(at))
        {
            return Ok(true);
        }
        Ok(tokio::time::timeout(max_wait, notified).await.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn setup() -> (RepositoryPorts, ()) {
        (MemoryRepositories::new().ports(), ())
    }

    async fn teardown(_: ()) {}

    crate::conformance_tests!(setup, teardown);

    #[tokio::test]
    async fn run_all_passes_on_one_shared_instance() {
        crate::conformance::run_all(&MemoryRepositories::new().ports()).await;
    }
}
