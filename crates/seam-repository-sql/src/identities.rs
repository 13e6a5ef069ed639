//! [`IdentityRepository`](seam_repository::IdentityRepository) on both dialects, written
//! once over any [`Dialect`] (each dialect's repositories get it through
//! [`impl_identity_repository!`]): the `identities` table of migration 0006.

use chrono::{SubsecRound, Utc};
use seam_core::ErrorKind;
use seam_domain::UserId;
use seam_repository::{Error, ExternalIdentity, Result, check_identity_key};
use seam_sql::sqlx::{self, Database, Encode, Executor, IntoArguments, Pool, Type};
use seam_telemetry::PortMetrics;

use crate::dialect::Dialect;
use crate::error::{db, violated};
use crate::rows::Columns;
use crate::statements::metrics;

fn identity_from_row<R: Columns>(row: &R) -> Result<ExternalIdentity> {
    Ok(ExternalIdentity {
        provider: row.text("provider")?,
        subject: row.text("subject")?,
        user_id: UserId::from_uuid(row.uuid("user_id")?),
        email: row.optional_text("email")?,
        created_at: row.time("created_at")?,
    })
}

/// The identity statements over one pool of dialect `D`.
pub(crate) struct IdentityStatements<'p, D: Dialect> {
    pool: &'p Pool<D::Db>,
    metrics: PortMetrics,
}

impl<'p, D: Dialect> IdentityStatements<'p, D> {
    pub(crate) fn new(pool: &'p Pool<D::Db>) -> Self {
        Self {
            pool,
            metrics: metrics::<D>(),
        }
    }
}

impl<D> IdentityStatements<'_, D>
where
    D: Dialect,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    <D::Db as Database>::Row: Columns,
    for<'t> &'t str: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> Option<&'t str>: Encode<'t, D::Db> + Type<D::Db>,
{
    pub(crate) async fn link(
        &self,
        provider: &str,
        subject: &str,
        user_id: UserId,
        email: Option<&str>,
    ) -> Result<ExternalIdentity> {
        self.metrics
            .call("identities.link", async {
                check_identity_key(provider, subject)?;
                let created_at = Utc::now().trunc_subsecs(6);
                sqlx::query(
                    "INSERT INTO identities (provider, subject, user_id, email, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(provider)
                .bind(subject)
                .bind(D::id(user_id.into_uuid()))
                .bind(email)
                .bind(D::time(created_at))
                .execute(self.pool)
                .await
                .map_err(|error| match violated(&error) {
                    Some(ErrorKind::AlreadyExists) => {
                        Error::already_exists("identity", format!("{provider} {subject}"))
                    }
                    Some(ErrorKind::Conflict) => {
                        Error::conflict("user", user_id, "the user does not exist")
                    }
                    _ => db(D::ADAPTER, error),
                })?;
                Ok(ExternalIdentity {
                    provider: provider.to_owned(),
                    subject: subject.to_owned(),
                    user_id,
                    email: email.map(str::to_owned),
                    created_at,
                })
            })
            .await
    }

    pub(crate) async fn find(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<ExternalIdentity>> {
        self.metrics
            .call("identities.find", async {
                let row = sqlx::query(
                    "SELECT provider, subject, user_id, email, created_at FROM identities \
                     WHERE provider = $1 AND subject = $2",
                )
                .bind(provider)
                .bind(subject)
                .fetch_optional(self.pool)
                .await
                .map_err(|error| db(D::ADAPTER, error))?;
                row.as_ref().map(identity_from_row).transpose()
            })
            .await
    }

    pub(crate) async fn list_by_user(&self, user_id: UserId) -> Result<Vec<ExternalIdentity>> {
        self.metrics
            .call("identities.list_by_user", async {
                let order = format!(
                    "ORDER BY created_at, provider{collate}, subject{collate}",
                    collate = D::COLLATE
                );
                let sql = format!(
                    "SELECT provider, subject, user_id, email, created_at FROM identities \
                     WHERE user_id = $1 {order}"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(D::id(user_id.into_uuid()))
                    .fetch_all(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                rows.iter().map(identity_from_row).collect()
            })
            .await
    }

    pub(crate) async fn unlink(&self, provider: &str, subject: &str) -> Result<()> {
        self.metrics
            .call("identities.unlink", async {
                let deleted = sqlx::query(
                    "DELETE FROM identities WHERE provider = $1 AND subject = $2 \
                     RETURNING provider",
                )
                .bind(provider)
                .bind(subject)
                .fetch_optional(self.pool)
                .await
                .map_err(|error| db(D::ADAPTER, error))?;
                match deleted {
                    Some(_) => Ok(()),
                    None => Err(Error::not_found(
                        "identity",
                        format!("{provider} {subject}"),
                    )),
                }
            })
            .await
    }
}

/// Implements `IdentityRepository` for a dialect's repositories (a type with a `pool`
/// field of that dialect) through [`IdentityStatements`].
macro_rules! impl_identity_repository {
    ($repositories:ty, $dialect:ty) => {
        #[async_trait::async_trait]
        impl seam_repository::IdentityRepository for $repositories {
            async fn link(
                &self,
                provider: &str,
                subject: &str,
                user_id: seam_domain::UserId,
                email: Option<&str>,
            ) -> seam_repository::Result<seam_repository::ExternalIdentity> {
                $crate::identities::IdentityStatements::<$dialect>::new(&self.pool)
                    .link(provider, subject, user_id, email)
                    .await
            }

            async fn find(
                &self,
                provider: &str,
                subject: &str,
            ) -> seam_repository::Result<Option<seam_repository::ExternalIdentity>> {
                $crate::identities::IdentityStatements::<$dialect>::new(&self.pool)
                    .find(provider, subject)
                    .await
            }

            async fn list_by_user(
                &self,
                user_id: seam_domain::UserId,
            ) -> seam_repository::Result<Vec<seam_repository::ExternalIdentity>> {
                $crate::identities::IdentityStatements::<$dialect>::new(&self.pool)
                    .list_by_user(user_id)
                    .await
            }

            async fn unlink(&self, provider: &str, subject: &str) -> seam_repository::Result<()> {
                $crate::identities::IdentityStatements::<$dialect>::new(&self.pool)
                    .unlink(provider, subject)
                    .await
            }
        }
    };
}

pub(crate) use impl_identity_repository;

#[cfg(test)]
mod tests {
    use seam_sql::{Database, SqlConfig};
    use seam_testkit::{TestPostgres, TestSqlite};

    use crate::SqlRepositories;

    async fn run(database: &Database) {
        database.migrate_up().await.expect("migrate");
        let repositories = SqlRepositories::new(database).unwrap();
        let users = repositories.ports().users;
        match &repositories {
            SqlRepositories::Postgres(pg) => {
                seam_repository::identity_conformance(users.as_ref(), pg).await;
            }
            SqlRepositories::Sqlite(lite) => {
                seam_repository::identity_conformance(users.as_ref(), lite).await;
            }
        }
    }

    #[tokio::test]
    async fn identities_conform_on_sqlite() {
        let file = TestSqlite::new().await;
        let database = Database::connect(&SqlConfig::new(file.url().to_owned()))
            .await
            .expect("open the test database");
        run(&database).await;
        // Migration 0006 reverts cleanly.
        database.migrate_down(Some(5)).await.expect("revert 0006");
        database.close().await;
        file.cleanup().await;
    }

    #[tokio::test]
    async fn identities_conform_on_postgres() {
        let server = TestPostgres::new().await;
        let database = Database::connect(&SqlConfig::new(server.url().to_owned()))
            .await
            .expect("open the test database");
        run(&database).await;
        database.migrate_down(Some(5)).await.expect("revert 0006");
        database.close().await;
        server.cleanup().await;
    }
}
