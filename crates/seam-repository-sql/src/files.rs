//! [`FileRepository`](seam_repository::FileRepository) on both dialects, written once
//! over any [`Dialect`] (each dialect's repositories get it through
//! [`impl_file_repository!`]): the `files` and `order_attachments` tables of migration
//! 0005.
//!
//! `public` is a `boolean` on PostgreSQL and a 0/1 `INTEGER` on SQLite: it is bound as a
//! `bool` (both drivers encode it natively) and read back as a number.

use chrono::{SubsecRound, Utc};
use seam_core::ErrorKind;
use seam_domain::{OrderId, UserId};
use seam_repository::{
    Error, FileId, FileRecord, NewFile, OrderAttachment, Page, Result, check_attachment_role,
    check_limit, check_new_file, check_offset,
};
use seam_sql::sqlx::{
    self, AssertSqlSafe, Database, Decode, Encode, Executor, FromRow, IntoArguments, Pool, Type,
};
use seam_telemetry::PortMetrics;

use crate::dialect::Dialect;
use crate::error::{constraint, db, violated};
use crate::rows::Columns;
use crate::statements::metrics;

/// The columns of a file, qualified by `f`, in what [`file_from_row`] reads.
const FILE_COLUMNS: &str = "f.id, f.owner_id, f.key, f.size, f.content_type, f.checksum_sha256, \
     CAST(CASE WHEN f.public THEN 1 ELSE 0 END AS BIGINT) AS public, f.created_at";

/// An attachment's columns with its file's, for [`attachment_from_row`].
const ATTACHMENT_SELECT: &str = "SELECT a.order_id, a.role, a.created_at AS attached_at, \
     f.id, f.owner_id, f.key, f.size, f.content_type, f.checksum_sha256, \
     CAST(CASE WHEN f.public THEN 1 ELSE 0 END AS BIGINT) AS public, f.created_at \
     FROM order_attachments a JOIN files f ON f.id = a.file_id";

fn file_from_row<R: Columns>(row: &R) -> Result<FileRecord> {
    let size = row.big("size")?;
    Ok(FileRecord {
        id: FileId::from_uuid(row.uuid("id")?),
        owner_id: UserId::from_uuid(row.uuid("owner_id")?),
        key: row.text("key")?,
        size: u64::try_from(size).map_err(|error| R::corrupt("file size", error))?,
        content_type: row.text("content_type")?,
        checksum_sha256: row.text("checksum_sha256")?,
        public: row.big("public")? != 0,
        created_at: row.time("created_at")?,
    })
}

fn attachment_from_row<R: Columns>(row: &R) -> Result<OrderAttachment> {
    Ok(OrderAttachment {
        order_id: OrderId::from_uuid(row.uuid("order_id")?),
        role: row.text("role")?,
        created_at: row.time("attached_at")?,
        file: file_from_row(row)?,
    })
}

/// A file insert that failed: a taken id or key, or an unknown owner (the only foreign
/// key of `files`).
fn file_insert_error(adapter: &'static str, error: sqlx::Error, file: &NewFile) -> Error {
    match violated(&error) {
        Some(ErrorKind::AlreadyExists) => {
            // PostgreSQL names the constraint, SQLite the column in its message.
            let on_key = constraint(&error) == Some("files_key_key")
                || matches!(&error, sqlx::Error::Database(database)
                    if database.message().contains("files.key"));
            if on_key {
                Error::already_exists("file", format!("key {}", file.key))
            } else {
                Error::already_exists("file", format!("id {}", file.id))
            }
        }
        Some(ErrorKind::Conflict) => Error::conflict(
            "file",
            file.id,
            format!("owner {} does not exist", file.owner_id),
        ),
        _ => db(adapter, error),
    }
}

/// The file statements over one pool of dialect `D`.
pub(crate) struct FileStatements<'p, D: Dialect> {
    pool: &'p Pool<D::Db>,
    metrics: PortMetrics,
}

impl<'p, D: Dialect> FileStatements<'p, D> {
    pub(crate) fn new(pool: &'p Pool<D::Db>) -> Self {
        Self {
            pool,
            metrics: metrics::<D>(),
        }
    }
}

impl<D> FileStatements<'_, D>
where
    D: Dialect,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    <D::Db as Database>::Row: Columns,
    for<'t> &'t str: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> i64: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    for<'t> bool: Encode<'t, D::Db> + Type<D::Db>,
    (i64,): for<'r> FromRow<'r, <D::Db as Database>::Row>,
{
    pub(crate) async fn create(&self, file: NewFile) -> Result<FileRecord> {
        self.metrics
            .call("files.create", async {
                check_new_file(&file)?;
                let size =
                    i64::try_from(file.size).map_err(|_| Error::invalid("size", "is too large"))?;
                // The record is built from what was bound: RETURNING cannot cast
                // `public` back alike on both dialects.
                let created_at = Utc::now().trunc_subsecs(6);
                sqlx::query(
                    "INSERT INTO files (id, owner_id, key, size, content_type, \
                     checksum_sha256, public, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(D::id(file.id.into_uuid()))
                .bind(D::id(file.owner_id.into_uuid()))
                .bind(file.key.as_str())
                .bind(size)
                .bind(file.content_type.as_str())
                .bind(file.checksum_sha256.as_str())
                .bind(file.public)
                .bind(D::time(created_at))
                .execute(self.pool)
                .await
                .map_err(|error| file_insert_error(D::ADAPTER, error, &file))?;
                Ok(FileRecord {
                    id: file.id,
                    owner_id: file.owner_id,
                    key: file.key,
                    size: file.size,
                    content_type: file.content_type,
                    checksum_sha256: file.checksum_sha256,
                    public: file.public,
                    created_at,
                })
            })
            .await
    }

    pub(crate) async fn get(&self, id: FileId) -> Result<FileRecord> {
        self.metrics
            .call("files.get", async {
                let sql = format!("SELECT {FILE_COLUMNS} FROM files f WHERE f.id = $1");
                let row = sqlx::query(AssertSqlSafe(sql))
                    .bind(D::id(id.into_uuid()))
                    .fetch_optional(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?
                    .ok_or_else(|| Error::not_found("file", id))?;
                file_from_row(&row)
            })
            .await
    }

    pub(crate) async fn delete(&self, id: FileId) -> Result<()> {
        self.metrics
            .call("files.delete", async {
                // Attachments go with the file (ON DELETE CASCADE).
                let deleted = sqlx::query("DELETE FROM files WHERE id = $1 RETURNING id")
                    .bind(D::id(id.into_uuid()))
                    .fetch_optional(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                match deleted {
                    Some(_) => Ok(()),
                    None => Err(Error::not_found("file", id)),
                }
            })
            .await
    }

    pub(crate) async fn list_by_owner(
        &self,
        owner: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<FileRecord>> {
        self.metrics
            .call("files.list_by_owner", async {
                check_limit(limit)?;
                check_offset(offset)?;
                let total: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM files WHERE owner_id = $1")
                        .bind(D::id(owner.into_uuid()))
                        .fetch_one(self.pool)
                        .await
                        .map_err(|error| db(D::ADAPTER, error))?;
                let sql = format!(
                    "SELECT {FILE_COLUMNS} FROM files f WHERE f.owner_id = $1 \
                     ORDER BY f.created_at DESC, f.id DESC LIMIT $2 OFFSET $3"
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(D::id(owner.into_uuid()))
                    .bind(i64::from(limit))
                    .bind(offset as i64)
                    .fetch_all(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                Ok(Page {
                    items: rows.iter().map(file_from_row).collect::<Result<_>>()?,
                    total: total as u64,
                    limit,
                    offset,
                })
            })
            .await
    }

    pub(crate) async fn attach_to_order(
        &self,
        order_id: OrderId,
        file_id: FileId,
        role: &str,
    ) -> Result<OrderAttachment> {
        self.metrics
            .call("files.attach_to_order", async {
                check_attachment_role(role)?;
                let order = D::id(order_id.into_uuid());
                let file = D::id(file_id.into_uuid());
                // Inserted only when both exist, so that a missing one is named below
                // (SQLite does not name the violated foreign key).
                let inserted = sqlx::query(
                    "INSERT INTO order_attachments (order_id, file_id, role, created_at) \
                     SELECT $1, $2, $3, $4 \
                     WHERE EXISTS (SELECT 1 FROM orders WHERE id = $1) \
                     AND EXISTS (SELECT 1 FROM files WHERE id = $2) \
                     ON CONFLICT (order_id, file_id) DO NOTHING RETURNING order_id",
                )
                .bind(order.clone())
                .bind(file.clone())
                .bind(role)
                .bind(D::now())
                .fetch_optional(self.pool)
                .await
                .map_err(|error| match violated(&error) {
                    // Deleted between the check and the insert.
                    Some(ErrorKind::Conflict) => Error::not_found("file", file_id),
                    _ => db(D::ADAPTER, error),
                })?;
                let sql = format!("{ATTACHMENT_SELECT} WHERE a.order_id = $1 AND a.file_id = $2");
                let row = sqlx::query(AssertSqlSafe(sql))
                    .bind(order.clone())
                    .bind(file.clone())
                    .fetch_optional(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                match (inserted, row) {
                    (Some(_), Some(row)) => attachment_from_row(&row),
                    (None, Some(_)) => Err(Error::already_exists(
                        "attachment",
                        format!("file {file_id} on order {order_id}"),
                    )),
                    (_, None) => {
                        let order_exists: i64 =
                            sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE id = $1")
                                .bind(order)
                                .fetch_one(self.pool)
                                .await
                                .map_err(|error| db(D::ADAPTER, error))?;
                        if order_exists == 0 {
                            Err(Error::not_found("order", order_id))
                        } else {
                            Err(Error::not_found("file", file_id))
                        }
                    }
                }
            })
            .await
    }

    pub(crate) async fn list_order_attachments(
        &self,
        order_id: OrderId,
    ) -> Result<Vec<OrderAttachment>> {
        self.metrics
            .call("files.list_order_attachments", async {
                let sql = format!(
                    "{ATTACHMENT_SELECT} WHERE a.order_id = $1 ORDER BY a.created_at, a.file_id"
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(D::id(order_id.into_uuid()))
                    .fetch_all(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                rows.iter().map(attachment_from_row).collect()
            })
            .await
    }
}

/// Implements [`FileRepository`](seam_repository::FileRepository) for a dialect's
/// repositories (a struct with a `pool` field) through [`FileStatements`].
macro_rules! impl_file_repository {
    ($repositories:ty, $dialect:ty) => {
        #[async_trait::async_trait]
        impl seam_repository::FileRepository for $repositories {
            async fn create(
                &self,
                file: seam_repository::NewFile,
            ) -> seam_repository::Result<seam_repository::FileRecord> {
                $crate::files::FileStatements::<$dialect>::new(&self.pool)
                    .create(file)
                    .await
            }

            async fn get(
                &self,
                id: seam_repository::FileId,
            ) -> seam_repository::Result<seam_repository::FileRecord> {
                $crate::files::FileStatements::<$dialect>::new(&self.pool)
                    .get(id)
                    .await
            }

            async fn delete(&self, id: seam_repository::FileId) -> seam_repository::Result<()> {
                $crate::files::FileStatements::<$dialect>::new(&self.pool)
                    .delete(id)
                    .await
            }

            async fn list_by_owner(
                &self,
                owner: seam_domain::UserId,
                limit: u32,
                offset: u64,
            ) -> seam_repository::Result<seam_repository::Page<seam_repository::FileRecord>> {
                $crate::files::FileStatements::<$dialect>::new(&self.pool)
                    .list_by_owner(owner, limit, offset)
                    .await
            }

            async fn attach_to_order(
                &self,
                order_id: seam_domain::OrderId,
                file_id: seam_repository::FileId,
                role: &str,
            ) -> seam_repository::Result<seam_repository::OrderAttachment> {
                $crate::files::FileStatements::<$dialect>::new(&self.pool)
                    .attach_to_order(order_id, file_id, role)
                    .await
            }

            async fn list_order_attachments(
                &self,
                order_id: seam_domain::OrderId,
            ) -> seam_repository::Result<Vec<seam_repository::OrderAttachment>> {
                $crate::files::FileStatements::<$dialect>::new(&self.pool)
                    .list_order_attachments(order_id)
                    .await
            }
        }
    };
}

pub(crate) use impl_file_repository;
