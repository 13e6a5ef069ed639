//! The statements both dialects run alike, written once over any [`Dialect`]: the whole
//! [`UserRepository`](seam_repository::UserRepository) (each dialect's repositories hand
//! their pool to [`Statements`] through [`impl_user_repository!`]), the whole
//! [`OrderRepository`](seam_repository::OrderRepository) ([`impl_order_repository!`]),
//! reading orders with their lines; inside transactions inserting and updating orders,
//! reserving stock, the inbox and idempotency keys; reading products and stock, and the outbox's
//! release and backlog.

use seam_domain::{EmailAddress, NewUser, Order, OrderId, Quantity, Sku, User, UserId};
use seam_repository::{
    Error, Page, Product, Reservation, Result, SortDirection, StoredResponse, UserQuery, UserSort,
    UserUpdate, check_consumer, check_idempotency_key, check_limit, check_offset,
    check_stored_response,
};
use seam_sql::sqlx::{
    self, AssertSqlSafe, Database, Decode, Encode, Executor, FromRow, IntoArguments, Pool,
    QueryBuilder, Type,
};
use seam_telemetry::PortMetrics;
use uuid::Uuid;

use crate::dialect::Dialect;
use crate::error::{db, email_taken, not_updated, order_insert_error, user_in_use};
use crate::rows::{
    Columns, ORDER_COLUMNS, ORDER_LINE_COLUMNS, ORDER_LINES_ORDER, USER_COLUMNS, assemble_orders,
    in_requested_order, product_from_row, stored_response, user_from_row,
};

/// A product with its stock; append a `WHERE`.
const PRODUCT_COLUMNS: &str = "SELECT p.sku, p.name, p.price_minor, p.currency, \
     CAST(COALESCE(i.on_hand, 0) AS BIGINT) AS on_hand \
     FROM products p LEFT JOIN inventory i ON i.sku = p.sku";

/// The port metrics of dialect `D`'s calls.
pub(crate) const fn metrics<D: Dialect>() -> PortMetrics {
    PortMetrics::new("repository", D::ADAPTER)
}

/// The shared statements over one pool of dialect `D`.
pub(crate) struct Statements<'p, D: Dialect> {
    pool: &'p Pool<D::Db>,
    metrics: PortMetrics,
}

impl<'p, D: Dialect> Statements<'p, D> {
    pub(crate) fn new(pool: &'p Pool<D::Db>) -> Self {
        Self {
            pool,
            metrics: metrics::<D>(),
        }
    }
}

impl<D> Statements<'_, D>
where
    D: Dialect,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    <D::Db as Database>::Row: Columns,
    for<'t> &'t str: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> Option<&'t str>: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> String: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> i64: Encode<'t, D::Db> + Decode<'t, D::Db> + Type<D::Db>,
    (i64,): for<'r> FromRow<'r, <D::Db as Database>::Row>,
    (String, i64, String): for<'r> FromRow<'r, <D::Db as Database>::Row>,
{
    pub(crate) async fn create(&self, user: NewUser) -> Result<User> {
        self.metrics
            .call("users.create", async {
                let sql = format!(
                    "INSERT INTO users (id, email, name, created_at, updated_at, version) \
                     VALUES ($1, $2, $3, $4, $4, 1) RETURNING {USER_COLUMNS}"
                );
                let row = sqlx::query(AssertSqlSafe(sql))
                    .bind(D::id(UserId::new().into_uuid()))
                    .bind(user.email().as_str())
                    .bind(user.name())
                    .bind(D::now())
                    .fetch_one(self.pool)
                    .await
                    .map_err(|error| email_taken(D::ADAPTER, error, user.email()))?;
                user_from_row(&row)
            })
            .await
    }

    pub(crate) async fn get(&self, id: UserId) -> Result<User> {
        self.metrics
            .call("users.get", async {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                let row = sqlx::query(AssertSqlSafe(sql))
                    .bind(D::id(id.into_uuid()))
                    .fetch_optional(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?
                    .ok_or_else(|| Error::not_found("user", id))?;
                user_from_row(&row)
            })
            .await
    }

    pub(crate) async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>> {
        self.metrics
            .call("users.find_by_email", async {
                let sql =
                    format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)");
                let row = sqlx::query(AssertSqlSafe(sql))
                    .bind(email.as_str())
                    .fetch_optional(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                row.as_ref().map(user_from_row).transpose()
            })
            .await
    }

    pub(crate) async fn update(
        &self,
        id: UserId,
        expected_version: i64,
        changes: UserUpdate,
    ) -> Result<User> {
        self.metrics
            .call("users.update", async {
                let sql = format!(
                    "UPDATE users SET name = COALESCE($3, name), email = COALESCE($4, email), \
                     updated_at = {greatest}($5, updated_at), version = version + 1 \
                     WHERE id = $1 AND version = $2 RETURNING {USER_COLUMNS}",
                    greatest = D::GREATEST,
                );
                let updated = sqlx::query(AssertSqlSafe(sql))
                    .bind(D::id(id.into_uuid()))
                    .bind(expected_version)
                    .bind(changes.name())
                    .bind(changes.email().map(EmailAddress::as_str))
                    .bind(D::now())
                    .fetch_optional(self.pool)
                    .await
                    .map_err(|error| match changes.email() {
                        Some(email) => email_taken(D::ADAPTER, error, email),
                        None => db(D::ADAPTER, error),
                    })?;
                if let Some(row) = updated {
                    return user_from_row(&row);
                }
                let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id = $1")
                    .bind(D::id(id.into_uuid()))
                    .fetch_one(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                Err(not_updated("user", id, expected_version, exists > 0))
            })
            .await
    }

    pub(crate) async fn delete(&self, id: UserId) -> Result<()> {
        self.metrics
            .call("users.delete", async {
                let deleted = sqlx::query("DELETE FROM users WHERE id = $1 RETURNING id")
                    .bind(D::id(id.into_uuid()))
                    .fetch_optional(self.pool)
                    .await
                    .map_err(|error| user_in_use(D::ADAPTER, error, id))?;
                match deleted {
                    Some(_) => Ok(()),
                    None => Err(Error::not_found("user", id)),
                }
            })
            .await
    }

    pub(crate) async fn list(&self, query: UserQuery) -> Result<Page<User>> {
        self.metrics
            .call("users.list", async {
                query.validate()?;
                let mut count: QueryBuilder<D::Db> =
                    QueryBuilder::new("SELECT COUNT(*) FROM users");
                push_filters(&mut count, &query, D::FIND);
                let total: i64 = count
                    .build_query_scalar()
                    .fetch_one(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;

                let mut select: QueryBuilder<D::Db> =
                    QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users"));
                push_filters(&mut select, &query, D::FIND);
                push_order_and_page(&mut select, &query, D::COLLATE);
                let rows = select
                    .build()
                    .fetch_all(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                Ok(Page {
                    items: rows.iter().map(user_from_row).collect::<Result<_>>()?,
                    total: total as u64,
                    limit: query.limit,
                    offset: query.offset,
                })
            })
            .await
    }

    pub(crate) async fn release_outbox(&self, id: Uuid, error: &str) -> Result<()> {
        self.metrics
            .call("outbox.release", async {
                let released = sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2, \
                     locked_until = NULL WHERE id = $1 RETURNING id",
                )
                .bind(D::id(id))
                .bind(error)
                .fetch_optional(self.pool)
                .await
                .map_err(|error| db(D::ADAPTER, error))?;
                match released {
                    Some(_) => Ok(()),
                    None => Err(Error::not_found("outbox message", id)),
                }
            })
            .await
    }

    pub(crate) async fn outbox_backlog(&self) -> Result<u64> {
        self.metrics
            .call("outbox.backlog", async {
                let count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
                        .fetch_one(self.pool)
                        .await
                        .map_err(|error| db(D::ADAPTER, error))?;
                Ok(count as u64)
            })
            .await
    }

    /// Runs an order query (built on [`ORDER_COLUMNS`]) on `conn` and attaches each
    /// order's lines.
    pub(crate) async fn fetch_orders(
        conn: &mut <D::Db as Database>::Connection,
        mut query: QueryBuilder<D::Db>,
    ) -> Result<Vec<Order>> {
        let rows = query
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(|error| db(D::ADAPTER, error))?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut lines: QueryBuilder<D::Db> = QueryBuilder::new(ORDER_LINE_COLUMNS);
        lines.push("order_id IN (");
        let mut separated = lines.separated(", ");
        for row in &rows {
            separated.push_bind(D::id(row.uuid("id")?));
        }
        lines.push(")").push(ORDER_LINES_ORDER);
        let line_rows = lines
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(|error| db(D::ADAPTER, error))?;
        assemble_orders(&rows, &line_rows)
    }

    /// The order with this id, read on `conn`; `lock` is appended to the query (`""`, or
    /// `" FOR UPDATE"` inside a PostgreSQL transaction).
    pub(crate) async fn order_on(
        conn: &mut <D::Db as Database>::Connection,
        id: OrderId,
        lock: &str,
    ) -> Result<Option<Order>> {
        let mut query: QueryBuilder<D::Db> = QueryBuilder::new(ORDER_COLUMNS);
        query
            .push(" WHERE id = ")
            .push_bind(D::id(id.into_uuid()))
            .push(lock);
        Ok(Self::fetch_orders(conn, query).await?.into_iter().next())
    }

    pub(crate) async fn order(&self, id: OrderId) -> Result<Option<Order>> {
        self.metrics
            .call("orders.get", async {
                let mut conn = self
                    .pool
                    .acquire()
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                Self::order_on(&mut conn, id, "").await
            })
            .await
    }

    pub(crate) async fn orders_by_customer(
        &self,
        customer_id: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Order>> {
        self.metrics
            .call("orders.list_by_customer", async {
                check_limit(limit)?;
                check_offset(offset)?;
                let mut conn = self
                    .pool
                    .acquire()
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                let total: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE customer_id = $1")
                        .bind(D::id(customer_id.into_uuid()))
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(|error| db(D::ADAPTER, error))?;
                let mut query: QueryBuilder<D::Db> = QueryBuilder::new(ORDER_COLUMNS);
                query
                    .push(" WHERE customer_id = ")
                    .push_bind(D::id(customer_id.into_uuid()))
                    .push(" ORDER BY created_at DESC, id DESC LIMIT ")
                    .push_bind(i64::from(limit))
                    .push(" OFFSET ")
                    .push_bind(offset as i64);
                let items = Self::fetch_orders(&mut conn, query).await?;
                Ok(Page {
                    items,
                    total: total as u64,
                    limit,
                    offset,
                })
            })
            .await
    }

    pub(crate) async fn product(&self, sku: &Sku) -> Result<Option<Product>> {
        self.metrics
            .call("inventory.product", async {
                let mut query: QueryBuilder<D::Db> = QueryBuilder::new(PRODUCT_COLUMNS);
                query
                    .push(" WHERE p.sku = ")
                    .push_bind(sku.as_str().to_owned());
                let row = query
                    .build()
                    .fetch_optional(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                row.as_ref().map(product_from_row).transpose()
            })
            .await
    }

    pub(crate) async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>> {
        self.metrics
            .call("inventory.products", async {
                if skus.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query: QueryBuilder<D::Db> = QueryBuilder::new(PRODUCT_COLUMNS);
                query.push(" WHERE p.sku IN (");
                let mut separated = query.separated(", ");
                for sku in skus {
                    separated.push_bind(sku.as_str().to_owned());
                }
                query.push(")");
                let rows = query
                    .build()
                    .fetch_all(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                let found = rows
                    .iter()
                    .map(product_from_row)
                    .collect::<Result<Vec<Product>>>()?;
                Ok(in_requested_order(skus, found))
            })
            .await
    }

    pub(crate) async fn stock(&self, sku: &Sku) -> Result<i64> {
        self.metrics
            .call("inventory.stock", async {
                sqlx::query_scalar::<_, i64>(
                    "SELECT CAST(COALESCE(i.on_hand, 0) AS BIGINT) \
                     FROM products p LEFT JOIN inventory i ON i.sku = p.sku WHERE p.sku = $1",
                )
                .bind(sku.as_str())
                .fetch_optional(self.pool)
                .await
                .map_err(|error| db(D::ADAPTER, error))?
                .ok_or_else(|| Error::not_found("product", sku))
            })
            .await
    }

    /// Inserts an order and its lines on `conn` (a transaction).
    pub(crate) async fn insert_order(
        conn: &mut <D::Db as Database>::Connection,
        order: &Order,
    ) -> Result<()> {
        let id = D::id(order.id.into_uuid());
        sqlx::query(
            "INSERT INTO orders (id, customer_id, status, currency, total_minor, \
             rejection_reason, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.clone())
        .bind(D::id(order.customer_id.into_uuid()))
        .bind(order.status.as_str())
        .bind(order.total.currency().code())
        .bind(order.total.minor())
        .bind(order.rejection_reason.as_deref())
        .bind(D::time(order.created_at))
        .bind(D::time(order.updated_at))
        .bind(order.version)
        .execute(&mut *conn)
        .await
        .map_err(|error| order_insert_error(D::ADAPTER, error, order))?;
        if order.lines.is_empty() {
            return Ok(());
        }
        let mut lines: QueryBuilder<D::Db> = QueryBuilder::new(
            "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor, currency) ",
        );
        lines.push_values(order.lines.iter().enumerate(), |mut row, (index, line)| {
            row.push_bind(id.clone())
                .push_bind(index as i64 + 1)
                .push_bind(line.sku.as_str().to_owned())
                .push_bind(i64::from(line.quantity.get()))
                .push_bind(line.unit_price.minor())
                .push_bind(line.unit_price.currency().code());
        });
        lines
            .build()
            .execute(&mut *conn)
            .await
            .map_err(|error| order_insert_error(D::ADAPTER, error, order))?;
        Ok(())
    }

    /// Updates an order's status on `conn` (a transaction) if its version is still
    /// `expected_version`, and reads it back.
    pub(crate) async fn update_order(
        conn: &mut <D::Db as Database>::Connection,
        order: &Order,
        expected_version: i64,
    ) -> Result<Order> {
        let updated = sqlx::query(
            "UPDATE orders SET status = $3, rejection_reason = $4, updated_at = $5, \
             version = version + 1 WHERE id = $1 AND version = $2 RETURNING id",
        )
        .bind(D::id(order.id.into_uuid()))
        .bind(expected_version)
        .bind(order.status.as_str())
        .bind(order.rejection_reason.as_deref())
        .bind(D::time(order.updated_at))
        .fetch_optional(&mut *conn)
        .await
        .map_err(|error| db(D::ADAPTER, error))?;
        match (updated, Self::order_on(conn, order.id, "").await?) {
            (Some(_), Some(stored)) => Ok(stored),
            (_, stored) => Err(not_updated(
                "order",
                order.id,
                expected_version,
                stored.is_some(),
            )),
        }
    }

    /// The response stored under an idempotency key, read on `conn` (a transaction).
    pub(crate) async fn idempotency(
        conn: &mut <D::Db as Database>::Connection,
        scope: &str,
        key: &str,
    ) -> Result<Option<StoredResponse>> {
        check_idempotency_key(scope, key)?;
        let row: Option<(String, i64, String)> = sqlx::query_as(
            "SELECT request_hash, CAST(status_code AS BIGINT), CAST(response AS TEXT) \
             FROM idempotency_keys WHERE scope = $1 AND key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|error| db(D::ADAPTER, error))?;
        row.map(|row| stored_response(D::ADAPTER, row)).transpose()
    }

    /// Takes stock for every item on `conn` (a transaction), all or nothing: a guarded
    /// `UPDATE … WHERE on_hand >= n` per SKU inside a savepoint rolled back on shortage.
    pub(crate) async fn reserve_stock(
        conn: &mut <D::Db as Database>::Connection,
        items: &[(Sku, Quantity)],
    ) -> Result<Reservation> {
        // SKU order: concurrent reservations lock rows in the same order, so they wait for
        // each other instead of deadlocking.
        let mut sorted: Vec<&(Sku, Quantity)> = items.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let fail = |error| db(D::ADAPTER, error);
        sqlx::raw_sql("SAVEPOINT seam_reserve")
            .execute(&mut *conn)
            .await
            .map_err(fail)?;
        for (sku, quantity) in sorted {
            let units = i64::from(quantity.get());
            let mut take: QueryBuilder<D::Db> =
                QueryBuilder::new("UPDATE inventory SET on_hand = on_hand - ");
            take.push_bind(units).push(", updated_at = ");
            D::push_now(&mut take);
            take.push(" WHERE sku = ")
                .push_bind(sku.as_str().to_owned())
                .push(" AND on_hand >= ")
                .push_bind(units)
                .push(" RETURNING sku");
            let taken = take
                .build()
                .fetch_optional(&mut *conn)
                .await
                .map_err(fail)?;
            if taken.is_none() {
                sqlx::raw_sql("ROLLBACK TO SAVEPOINT seam_reserve; RELEASE SAVEPOINT seam_reserve")
                    .execute(&mut *conn)
                    .await
                    .map_err(fail)?;
                let available: Option<i64> = sqlx::query_scalar(
                    "SELECT CAST(on_hand AS BIGINT) FROM inventory WHERE sku = $1",
                )
                .bind(sku.as_str())
                .fetch_optional(&mut *conn)
                .await
                .map_err(fail)?;
                return Ok(Reservation::Insufficient {
                    sku: sku.clone(),
                    requested: *quantity,
                    available: available.unwrap_or(0),
                });
            }
        }
        sqlx::raw_sql("RELEASE SAVEPOINT seam_reserve")
            .execute(&mut *conn)
            .await
            .map_err(fail)?;
        Ok(Reservation::Reserved)
    }

    /// Records on `conn` (a transaction) that `consumer` handled a message; `false` when
    /// it already had.
    pub(crate) async fn record_inbox(
        conn: &mut <D::Db as Database>::Connection,
        consumer: &str,
        message_id: Uuid,
    ) -> Result<bool> {
        check_consumer(consumer)?;
        let mut query: QueryBuilder<D::Db> =
            QueryBuilder::new("INSERT INTO inbox (consumer, message_id, processed_at) VALUES (");
        query
            .push_bind(consumer.to_owned())
            .push(", ")
            .push_bind(D::id(message_id))
            .push(", ");
        D::push_now(&mut query);
        query.push(") ON CONFLICT (consumer, message_id) DO NOTHING RETURNING consumer");
        let recorded = query
            .build()
            .fetch_optional(&mut *conn)
            .await
            .map_err(|error| db(D::ADAPTER, error))?;
        Ok(recorded.is_some())
    }

    /// Stores a response under an idempotency key on `conn` (a transaction), once.
    pub(crate) async fn save_idempotency(
        conn: &mut <D::Db as Database>::Connection,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> Result<()> {
        check_idempotency_key(scope, key)?;
        check_stored_response(&response)?;
        let body = serde_json::to_string(&response.body)
            .map_err(|error| Error::invalid("body", error.to_string()))?;
        let mut query: QueryBuilder<D::Db> = QueryBuilder::new(
            "INSERT INTO idempotency_keys \
             (scope, key, request_hash, response, status_code, created_at) VALUES (",
        );
        query
            .push_bind(scope.to_owned())
            .push(", ")
            .push_bind(key.to_owned())
            .push(", ")
            .push_bind(response.request_hash)
            .push(", ");
        D::push_json(&mut query, body);
        query
            .push(", ")
            .push_bind(i64::from(response.status_code))
            .push(", ");
        D::push_now(&mut query);
        // DO NOTHING waits for a concurrent insert of the same key to commit or roll back,
        // and leaves this transaction usable either way.
        query.push(") ON CONFLICT (scope, key) DO NOTHING RETURNING key");
        let saved = query
            .build()
            .fetch_optional(&mut *conn)
            .await
            .map_err(|error| db(D::ADAPTER, error))?;
        match saved {
            Some(_) => Ok(()),
            None => Err(Error::already_exists(
                "idempotency key",
                format!("{scope}/{key}"),
            )),
        }
    }
}
/// Appends the filters of `query` as a `WHERE` clause. Filter text is only ever bound,
/// and matched with `find` (`strpos` on PostgreSQL, `instr` on SQLite), where `%` and
/// `_` are not wildcards.
fn push_filters<DB>(builder: &mut QueryBuilder<DB>, query: &UserQuery, find: &str)
where
    DB: Database,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    builder.push(" WHERE 1 = 1");
    for (column, needle) in [
        ("email", &query.email_contains),
        ("name", &query.name_contains),
    ] {
        if let Some(needle) = needle {
            builder
                .push(format_args!(" AND {find}(lower({column}), lower("))
                .push_bind(needle.clone())
                .push(")) > 0");
        }
    }
}

/// Appends the sort order and the page of `query`. Text sorts byte by byte in every
/// adapter: `collate` is what makes the dialect do so (empty where it is the default).
fn push_order_and_page<DB>(builder: &mut QueryBuilder<DB>, query: &UserQuery, collate: &str)
where
    DB: Database,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    let column = match query.sort {
        UserSort::CreatedAt => "created_at",
        UserSort::Name => "name",
        UserSort::Email => "email",
    };
    let collate = match query.sort {
        UserSort::CreatedAt => "",
        UserSort::Name | UserSort::Email => collate,
    };
    let direction = match query.direction {
        SortDirection::Asc => "ASC",
        SortDirection::Desc => "DESC",
    };
    builder
        .push(format_args!(
            " ORDER BY {column}{collate} {direction}, id {direction} LIMIT "
        ))
        .push_bind(i64::from(query.limit))
        .push(" OFFSET ")
        .push_bind(query.offset as i64);
}

/// Implements [`UserRepository`](seam_repository::UserRepository) for a dialect's
/// repositories (a struct with a `pool` field) through [`Statements`].
macro_rules! impl_user_repository {
    ($repositories:ty, $dialect:ty) => {
        #[async_trait::async_trait]
        impl seam_repository::UserRepository for $repositories {
            async fn create(
                &self,
                user: seam_domain::NewUser,
            ) -> seam_repository::Result<seam_domain::User> {
                $crate::statements::Statements::<$dialect>::new(&self.pool)
                    .create(user)
                    .await
            }

            async fn get(
                &self,
                id: seam_domain::UserId,
            ) -> seam_repository::Result<seam_domain::User> {
                $crate::statements::Statements::<$dialect>::new(&self.pool)
                    .get(id)
                    .await
            }

            async fn find_by_email(
                &self,
                email: &seam_domain::EmailAddress,
            ) -> seam_repository::Result<Option<seam_domain::User>> {
                $crate::statements::Statements::<$dialect>::new(&self.pool)
                    .find_by_email(email)
                    .await
            }

            async fn update(
                &self,
                id: seam_domain::UserId,
                expected_version: i64,
                changes: seam_repository::UserUpdate,
            ) -> seam_repository::Result<seam_domain::User> {
                $crate::statements::Statements::<$dialect>::new(&self.pool)
                    .update(id, expected_version, changes)
                    .await
            }

            async fn delete(&self, id: seam_domain::UserId) -> seam_repository::Result<()> {
                $crate::statements::Statements::<$dialect>::new(&self.pool)
                    .delete(id)
                    .await
            }

            async fn list(
                &self,
                query: seam_repository::UserQuery,
            ) -> seam_repository::Result<seam_repository::Page<seam_domain::User>> {
                $crate::statements::Statements::<$dialect>::new(&self.pool)
                    .list(query)
                    .await
            }
        }
    };
}

pub(crate) use impl_user_repository;

/// Implements [`OrderRepository`](seam_repository::OrderRepository) for a dialect's
/// repositories (a struct with a `pool` field) through [`Statements`].
macro_rules! impl_order_repository {
    ($repositories:ty, $dialect:ty) => {
        #[async_trait::async_trait]
        impl seam_repository::OrderRepository for $repositories {
            async fn get(
                &self,
                id: seam_domain::OrderId,
            ) -> seam_repository::Result<Option<seam_domain::Order>> {
                $crate::statements::Statements::<$dialect>::new(&self.pool)
                    .order(id)
                    .await
            }

            async fn list_by_customer(
                &self,
                customer_id: seam_domain::UserId,
                limit: u32,
                offset: u64,
            ) -> seam_repository::Result<seam_repository::Page<seam_domain::Order>> {
                $crate::statements::Statements::<$dialect>::new(&self.pool)
                    .orders_by_customer(customer_id, limit, offset)
                    .await
            }
        }
    };
}

pub(crate) use impl_order_repository;

/// Implements [`Transaction`](seam_repository::Transaction) for a dialect's transaction
/// (a struct with a `tx: sqlx::Transaction` field) through [`Statements`]; the items in
/// braces are the dialect's own methods (`get_order_for_update`, `add_outbox`,
/// `commit`). Every call records its port metric.
macro_rules! impl_transaction {
    ($transaction:ty, $dialect:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl seam_repository::Transaction for $transaction {
            $($own)*

            async fn insert_order(
                &mut self,
                order: &seam_domain::Order,
            ) -> seam_repository::Result<()> {
                $crate::statements::metrics::<$dialect>()
                    .call(
                        "tx.insert_order",
                        $crate::statements::Statements::<$dialect>::insert_order(
                            &mut self.tx,
                            order,
                        ),
                    )
                    .await
            }

            async fn update_order(
                &mut self,
                order: &seam_domain::Order,
                expected_version: i64,
            ) -> seam_repository::Result<seam_domain::Order> {
                $crate::statements::metrics::<$dialect>()
                    .call(
                        "tx.update_order",
                        $crate::statements::Statements::<$dialect>::update_order(
                            &mut self.tx,
                            order,
                            expected_version,
                        ),
                    )
                    .await
            }

            async fn reserve_stock(
                &mut self,
                items: &[(seam_domain::Sku, seam_domain::Quantity)],
            ) -> seam_repository::Result<seam_repository::Reservation> {
                $crate::statements::metrics::<$dialect>()
                    .call(
                        "tx.reserve_stock",
                        $crate::statements::Statements::<$dialect>::reserve_stock(
                            &mut self.tx,
                            items,
                        ),
                    )
                    .await
            }

            async fn record_inbox(
                &mut self,
                consumer: &str,
                message_id: uuid::Uuid,
            ) -> seam_repository::Result<bool> {
                $crate::statements::metrics::<$dialect>()
                    .call(
                        "tx.record_inbox",
                        $crate::statements::Statements::<$dialect>::record_inbox(
                            &mut self.tx,
                            consumer,
                            message_id,
                        ),
                    )
                    .await
            }

            async fn idempotency(
                &mut self,
                scope: &str,
                key: &str,
            ) -> seam_repository::Result<Option<seam_repository::StoredResponse>> {
                $crate::statements::metrics::<$dialect>()
                    .call(
                        "tx.idempotency",
                        $crate::statements::Statements::<$dialect>::idempotency(
                            &mut self.tx,
                            scope,
                            key,
                        ),
                    )
                    .await
            }

            async fn save_idempotency(
                &mut self,
                scope: &str,
                key: &str,
                response: seam_repository::StoredResponse,
            ) -> seam_repository::Result<()> {
                $crate::statements::metrics::<$dialect>()
                    .call(
                        "tx.save_idempotency",
                        $crate::statements::Statements::<$dialect>::save_idempotency(
                            &mut self.tx,
                            scope,
                            key,
                            response,
                        ),
                    )
                    .await
            }

            async fn rollback(self: Box<Self>) -> seam_repository::Result<()> {
                $crate::statements::metrics::<$dialect>()
                    .call("tx.rollback", async {
                        self.tx.rollback().await.map_err(|error| {
                            $crate::error::db(
                                <$dialect as $crate::dialect::Dialect>::ADAPTER,
                                error,
                            )
                        })
                    })
                    .await
            }
        }
    };
}

pub(crate) use impl_transaction;
