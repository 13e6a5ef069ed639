//! [`UserRepository`] on SQLite: the shared [`Users`] over this pool.

use async_trait::async_trait;
use seam_domain::{EmailAddress, NewUser, User, UserId};
use seam_repository::{Page, Result, UserQuery, UserRepository, UserUpdate};

use super::{SqliteDialect, SqliteRepositories};
use crate::users::Users;

impl SqliteRepositories {
    fn users(&self) -> Users<'_, SqliteDialect> {
        Users::new(&self.pool)
    }
}

#[async_trait]
impl UserRepository for SqliteRepositories {
    async fn create(&self, user: NewUser) -> Result<User> {
        self.users().create(user).await
    }

    async fn get(&self, id: UserId) -> Result<User> {
        self.users().get(id).await
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>> {
        self.users().find_by_email(email).await
    }

    async fn update(&self, id: UserId, expected_version: i64, changes: UserUpdate) -> Result<User> {
        self.users().update(id, expected_version, changes).await
    }

    async fn delete(&self, id: UserId) -> Result<()> {
        self.users().delete(id).await
    }

    async fn list(&self, query: UserQuery) -> Result<Page<User>> {
        self.users().list(query).await
    }
}
