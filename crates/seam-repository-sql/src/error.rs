//! Driver errors become repository errors here, and nowhere else. Both dialects share
//! these conversions; each passes its own adapter name (`"postgres"`, `"sqlite"`).

use seam_core::ErrorKind;
use seam_domain::{EmailAddress, Order, UserId};
use seam_repository::Error;
use seam_sql::classify_sqlx_error;
use seam_sql::sqlx;

/// Converts a driver error by its kind. Call sites that know what a unique or
/// foreign-key violation means (a taken e-mail address, an unknown customer) check
/// [`violated`] first and build a precise error.
pub(crate) fn db(adapter: &'static str, error: sqlx::Error) -> Error {
    match classify_sqlx_error(&error) {
        ErrorKind::Unavailable | ErrorKind::Unauthorized | ErrorKind::Forbidden => {
            Error::Unavailable {
                adapter,
                source: Box::new(error),
            }
        }
        ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::RateLimited { .. } => {
            Error::Transient {
                adapter,
                source: Box::new(error),
            }
        }
        ErrorKind::Invalid => Error::invalid(
            constraint(&error).unwrap_or("value").to_owned(),
            database_message(&error),
        ),
        ErrorKind::AlreadyExists => Error::already_exists(
            "row",
            constraint(&error).unwrap_or("a unique key").to_owned(),
        ),
        ErrorKind::Conflict => Error::conflict("row", "", database_message(&error)),
        ErrorKind::NotFound => Error::not_found("row", ""),
        _ => Error::Internal {
            adapter,
            message: "unexpected database error".to_owned(),
            source: Some(Box::new(error)),
        },
    }
}

/// The kind of constraint violation behind an error, if it is one.
pub(crate) fn violated(error: &sqlx::Error) -> Option<ErrorKind> {
    match classify_sqlx_error(error) {
        kind @ (ErrorKind::AlreadyExists | ErrorKind::Conflict) => Some(kind),
        _ => None,
    }
}

/// The name of the violated constraint.
pub(crate) fn constraint(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(database) => database.constraint(),
        _ => None,
    }
}

fn database_message(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(database) => database.message().to_owned(),
        other => other.to_string(),
    }
}

/// A row that cannot be turned back into domain values: the schema and the code disagree.
pub(crate) fn corrupt(adapter: &'static str, what: &str, detail: impl std::fmt::Display) -> Error {
    Error::internal(adapter, format!("stored {what} is invalid: {detail}"))
}

/// A user insert or update that failed: a unique violation on users is the
/// case-insensitive e-mail index (ids are new UUIDs).
pub(crate) fn email_taken(
    adapter: &'static str,
    error: sqlx::Error,
    email: &EmailAddress,
) -> Error {
    match violated(&error) {
        Some(ErrorKind::AlreadyExists) => Error::already_exists("user", format!("email {email}")),
        _ => db(adapter, error),
    }
}

/// A user delete that failed: a foreign-key violation means the user has orders or
/// files (SQLite does not say which).
pub(crate) fn user_in_use(adapter: &'static str, error: sqlx::Error, id: UserId) -> Error {
    match violated(&error) {
        Some(ErrorKind::Conflict) => Error::conflict("user", id, "the user has orders or files"),
        _ => db(adapter, error),
    }
}

/// An order insert that failed: a duplicate id, or an unknown customer or product (named
/// when the database names the violated foreign key, as PostgreSQL does and SQLite does
/// not).
pub(crate) fn order_insert_error(
    adapter: &'static str,
    error: sqlx::Error,
    order: &Order,
) -> Error {
    match violated(&error) {
        Some(ErrorKind::AlreadyExists) => {
            Error::already_exists("order", format!("id {}", order.id))
        }
        Some(ErrorKind::Conflict) => {
            let message = match constraint(&error) {
                Some("orders_customer_id_fkey") => {
                    format!("customer {} does not exist", order.customer_id)
                }
                Some("order_lines_sku_fkey") => "a product of the order does not exist".to_owned(),
                _ => "the customer or a product of the order does not exist".to_owned(),
            };
            Error::conflict("order", order.id, message)
        }
        _ => db(adapter, error),
    }
}

/// Why a versioned update changed no row: the row is gone, or its version moved on.
pub(crate) fn not_updated(
    entity: &'static str,
    id: impl std::fmt::Display,
    expected_version: i64,
    exists: bool,
) -> Error {
    if exists {
        Error::stale_version(entity, id, expected_version)
    } else {
        Error::not_found(entity, id)
    }
}
