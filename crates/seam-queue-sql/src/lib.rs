//! The queue port on a SQL table, over the project's [`Database`](seam_sql::Database):
//! PostgreSQL in production, SQLite as the embedded default.
//!
//! Messages live in `queue_messages` (one row per message per bound queue) and dead
//! letters in `queue_dead_letters`, both created by migration `0004_queue`. Publishing
//! commits the rows before returning, so an `Ok` is durable. Consumers claim a row by
//! leasing it for the visibility timeout: on Postgres with `FOR UPDATE SKIP LOCKED`, on
//! SQLite with one `UPDATE … RETURNING` inside `BEGIN IMMEDIATE`. Acking deletes the row,
//! retrying moves its `available_at`, dead-lettering moves it to `queue_dead_letters`;
//! each checks the lease, so a delivery that lost it cannot settle the message.
//!
//! `publish_unique` ([`UniquePublisher`](seam_queue::UniquePublisher)) inserts the
//! deduplication key into `queue_dedupe` (migration `0008_webhooks`; an expired key is
//! taken over) and the queue rows in one transaction: a live key publishes nothing.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use seam_queue::{Consumer, Envelope, Publisher, QueueBinding};
//! use seam_queue_sql::{SqlQueue, SqlQueueConfig};
//!
//! let db = seam_sql::Database::connect(&seam_sql::SqlConfig::default()).await?;
//! db.migrate_up().await?;
//! let queue = SqlQueue::new(db, SqlQueueConfig::new(vec![QueueBinding::new("orders", "order.*")]))?;
//! queue.publish("order.placed", &Envelope::new("order.placed", serde_json::json!({}))).await?;
//! if let Some(delivery) = queue.receive("orders", Duration::from_secs(5)).await? {
//!     delivery.ack().await?;
//! }
//! # Ok(()) }
//! ```

mod config;
mod error;
mod postgres;
mod queue;
mod rows;
mod sqlite;
mod unique;

pub use config::SqlQueueConfig;
pub use queue::SqlQueue;

/// The adapter's name in errors and metrics.
pub(crate) const ADAPTER: &str = "sql";
