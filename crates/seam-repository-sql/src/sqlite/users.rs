//! [`UserRepository`] on SQLite.

use async_trait::async_trait;
use seam_domain::{EmailAddress, NewUser, User, UserId};
use seam_repository::{Error, Page, Result, UserQuery, UserRepository, UserUpdate};
use seam_sql::sqlx::{self, QueryBuilder, Sqlite};

use super::rows::{id_text, now};
use super::{ADAPTER, METRICS, SqliteRepositories, db};
use crate::error::{email_taken, not_updated, user_in_use};
use crate::rows::{USER_COLUMNS, user_from_row};
use crate::users::{push_filters, push_order_and_page};

#[async_trait]
impl UserRepository for SqliteRepositories {
    async fn create(&self, user: NewUser) -> Result<User> {
        METRICS
            .call("users.create", async {
                let (_, at) = now();
                let sql = format!(
                    "INSERT INTO users (id, email, name, created_at, updated_at, version) \
                     VALUES (?1, ?2, ?3, ?4, ?4, 1) RETURNING {USER_COLUMNS}"
                );
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id_text(UserId::new().into_uuid()))
                    .bind(user.email().as_str())
                    .bind(user.name())
                    .bind(at)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|error| email_taken(ADAPTER, error, user.email()))?;
                user_from_row(&row)
            })
            .await
    }

    async fn get(&self, id: UserId) -> Result<User> {
        METRICS
            .call("users.get", async {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id_text(id.into_uuid()))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .ok_or_else(|| Error::not_found("user", id))?;
                user_from_row(&row)
            })
            .await
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>> {
        METRICS
            .call("users.find_by_email", async {
                let sql =
                    format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower(?1)");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(email.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                row.as_ref().map(user_from_row).transpose()
            })
            .await
    }

    async fn update(&self, id: UserId, expected_version: i64, changes: UserUpdate) -> Result<User> {
        METRICS
            .call("users.update", async {
                let (_, at) = now();
                let sql = format!(
                    "UPDATE users SET name = COALESCE(?3, name), email = COALESCE(?4, email), \
                     updated_at = max(?5, updated_at), version = version + 1 \
                     WHERE id = ?1 AND version = ?2 RETURNING {USER_COLUMNS}"
                );
                let updated = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id_text(id.into_uuid()))
                    .bind(expected_version)
                    .bind(changes.name())
                    .bind(changes.email().map(EmailAddress::as_str))
                    .bind(at)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|error| match changes.email() {
                        Some(email) => email_taken(ADAPTER, error, email),
                        None => db(error),
                    })?;
                if let Some(row) = updated {
                    return user_from_row(&row);
                }
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM users WHERE id = ?1")
                        .bind(id_text(id.into_uuid()))
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                Err(not_updated("user", id, expected_version, exists.is_some()))
            })
            .await
    }

    async fn delete(&self, id: UserId) -> Result<()> {
        METRICS
            .call("users.delete", async {
                let done = sqlx::query("DELETE FROM users WHERE id = ?1")
                    .bind(id_text(id.into_uuid()))
                    .execute(&self.pool)
                    .await
                    .map_err(|error| user_in_use(ADAPTER, error, id))?;
                if done.rows_affected() == 0 {
                    return Err(Error::not_found("user", id));
                }
                Ok(())
            })
            .await
    }

    async fn list(&self, query: UserQuery) -> Result<Page<User>> {
        METRICS
            .call("users.list", async {
                query.validate()?;
                let mut count: QueryBuilder<Sqlite> =
                    QueryBuilder::new("SELECT COUNT(*) FROM users");
                push_filters(&mut count, &query, "instr");
                let total: i64 = count
                    .build_query_scalar()
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;

                let mut select: QueryBuilder<Sqlite> =
                    QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users"));
                push_filters(&mut select, &query, "instr");
                // Text compares byte by byte (BINARY collation), as in every adapter;
                // times compare correctly as text in their fixed stored format.
                push_order_and_page(&mut select, &query, "");
                let rows = select.build().fetch_all(&self.pool).await.map_err(db)?;
                Ok(Page {
                    items: rows.iter().map(user_from_row).collect::<Result<_>>()?,
                    total: total as u64,
                    limit: query.limit,
                    offset: query.offset,
                })
            })
            .await
    }
}
