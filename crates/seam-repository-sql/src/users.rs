//! The parts of the user queries both dialects share: filters, sort order and paging,
//! written over any `sqlx` database with the dialect's few words passed in.

use seam_repository::{SortDirection, UserQuery, UserSort};
use seam_sql::sqlx::{Database, Encode, QueryBuilder, Type};

/// Appends the filters of `query` as a `WHERE` clause. Filter text is only ever bound,
/// and matched with `find` (`strpos` on PostgreSQL, `instr` on SQLite), where `%` and
/// `_` are not wildcards.
pub(crate) fn push_filters<DB>(builder: &mut QueryBuilder<DB>, query: &UserQuery, find: &str)
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
pub(crate) fn push_order_and_page<DB>(
    builder: &mut QueryBuilder<DB>,
    query: &UserQuery,
    collate: &str,
) where
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
