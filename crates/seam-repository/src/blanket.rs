//! Every shared trait is implemented for `Arc<T>` and `Box<T>` of an implementation, so
//! that a decorator or a composition can hold either.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use seam_domain::{EmailAddress, NewUser, Order, OrderId, Sku, User, UserId};
use uuid::Uuid;

use crate::{
    InventoryRepository, OrderRepository, OutboxRecord, OutboxStore, Page, Product, Result,
    Transaction, UnitOfWork, UserQuery, UserRepository, UserUpdate,
};

macro_rules! delegate {
    ($($pointer:ident),+) => {$(
        #[async_trait]
        impl<T: UserRepository + ?Sized> UserRepository for $pointer<T> {
            async fn create(&self, user: NewUser) -> Result<User> {
                (**self).create(user).await
            }
            async fn get(&self, id: UserId) -> Result<User> {
                (**self).get(id).await
            }
            async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>> {
                (**self).find_by_email(email).await
            }
            async fn update(
                &self,
                id: UserId,
                expected_version: i64,
                changes: UserUpdate,
            ) -> Result<User> {
                (**self).update(id, expected_version, changes).await
            }
            async fn delete(&self, id: UserId) -> Result<()> {
                (**self).delete(id).await
            }
            async fn list(&self, query: UserQuery) -> Result<Page<User>> {
                (**self).list(query).await
            }
        }

        #[async_trait]
        impl<T: InventoryRepository + ?Sized> InventoryRepository for $pointer<T> {
            async fn product(&self, sku: &Sku) -> Result<Option<Product>> {
                (**self).product(sku).await
            }
            async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>> {
                (**self).products(skus).await
            }
            async fn stock(&self, sku: &Sku) -> Result<i64> {
                (**self).stock(sku).await
            }
            async fn set_stock(&self, sku: &Sku, on_hand: i64) -> Result<()> {
                (**self).set_stock(sku, on_hand).await
            }
            async fn put_product(&self, product: &Product) -> Result<()> {
                (**self).put_product(product).await
            }
        }

        #[async_trait]
        impl<T: OrderRepository + ?Sized> OrderRepository for $pointer<T> {
            async fn get(&self, id: OrderId) -> Result<Option<Order>> {
                (**self).get(id).await
            }
            async fn list_by_customer(
                &self,
                customer_id: UserId,
                limit: u32,
                offset: u64,
            ) -> Result<Page<Order>> {
                (**self).list_by_customer(customer_id, limit, offset).await
            }
        }

        #[async_trait]
        impl<T: UnitOfWork + ?Sized> UnitOfWork for $pointer<T> {
            async fn begin(&self) -> Result<Box<dyn Transaction>> {
                (**self).begin().await
            }
        }

        #[async_trait]
        impl<T: OutboxStore + ?Sized> OutboxStore for $pointer<T> {
            async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<OutboxRecord>> {
                (**self).claim(limit, lease).await
            }
            async fn mark_published(&self, ids: &[Uuid]) -> Result<()> {
                (**self).mark_published(ids).await
            }
            async fn release(&self, id: Uuid, error: &str) -> Result<()> {
                (**self).release(id, error).await
            }
            async fn backlog(&self) -> Result<u64> {
                (**self).backlog().await
            }
            async fn wait_for_work(&self, max_wait: Duration) -> Result<bool> {
                (**self).wait_for_work(max_wait).await
            }
        }
    )+};
}

delegate!(Arc, Box);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryRepositories;

    fn assert_all<T>()
    where
        T: UserRepository + InventoryRepository + OrderRepository + UnitOfWork + OutboxStore,
    {
    }

    #[test]
    fn pointers_to_implementations_implement_the_traits() {
        assert_all::<Arc<MemoryRepositories>>();
        assert_all::<Box<MemoryRepositories>>();
        let shared: Arc<dyn UserRepository> = Arc::new(MemoryRepositories::new());
        let _nested: Arc<dyn UserRepository> = Arc::new(shared);
    }
}
