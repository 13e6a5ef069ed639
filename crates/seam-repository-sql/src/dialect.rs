//! What a SQL dialect is to the code both dialects share: its `sqlx` database, how it
//! stores ids and times, and the few words its SQL spells differently. Shared statements
//! use `$n` placeholders, which both PostgreSQL and `sqlx`'s SQLite driver accept.

use chrono::{DateTime, Utc};
use seam_sql::sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;

/// A SQL dialect: PostgreSQL or SQLite.
pub(crate) trait Dialect: Send + Sync + 'static {
    /// The `sqlx` database.
    type Db: Database;
    /// An id as bound: a native UUID, or its hyphenated text.
    type Id: for<'t> Encode<'t, Self::Db> + Type<Self::Db> + Clone + Send + 'static;
    /// A time as bound: a native timestamp, or RFC 3339 text; microsecond precision.
    type Time: for<'t> Encode<'t, Self::Db> + Type<Self::Db> + Send + 'static;

    /// The adapter's name, in errors and metrics.
    const ADAPTER: &'static str;
    /// The function finding a string in another, 1-based, 0 when absent.
    const FIND: &'static str;
    /// The function returning the greater of two values.
    const GREATEST: &'static str;
    /// What makes text sort byte by byte (empty where that is the default).
    const COLLATE: &'static str;

    /// An id, as bound.
    fn id(id: Uuid) -> Self::Id;
    /// A time, as bound, at microsecond precision.
    fn time(time: DateTime<Utc>) -> Self::Time;

    /// Now, as bound.
    fn now() -> Self::Time {
        Self::time(Utc::now())
    }

    /// Pushes "now" into a statement: the server's `now()` on PostgreSQL (the
    /// transaction's time), the bound time on SQLite.
    fn push_now(query: &mut QueryBuilder<Self::Db>);

    /// Pushes JSON text, bound, as the column stores it: `jsonb` on PostgreSQL, text on
    /// SQLite.
    fn push_json(query: &mut QueryBuilder<Self::Db>, json: String);
}
