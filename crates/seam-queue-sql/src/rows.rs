//! The rows both backends read and write, in Rust types.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One copy of a published message, for one queue.
#[derive(Debug)]
pub(crate) struct NewMessage {
    pub(crate) id: Uuid,
    pub(crate) queue: String,
    pub(crate) message_id: Uuid,
    pub(crate) message_type: String,
    pub(crate) routing_key: String,
    /// The envelope as JSON text.
    pub(crate) envelope: String,
}

/// A row just claimed by a delivery.
#[derive(Debug)]
pub(crate) struct Claimed {
    pub(crate) id: Uuid,
    pub(crate) envelope: String,
    pub(crate) attempt: i64,
    pub(crate) deliveries: i64,
}

/// A dead letter as stored.
#[derive(Debug)]
pub(crate) struct DeadRow {
    pub(crate) id: Uuid,
    pub(crate) queue: String,
    pub(crate) envelope: String,
    pub(crate) reason: String,
    pub(crate) attempts: i64,
    pub(crate) first_failed_at: DateTime<Utc>,
    pub(crate) last_failed_at: DateTime<Utc>,
    pub(crate) dead_lettered_at: DateTime<Utc>,
}

/// What a settling statement is told: which delivery, and when it happens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lease {
    pub(crate) id: Uuid,
    pub(crate) lease: Uuid,
}

/// Sets `attempt` in an envelope's JSON (the column is the source of truth).
pub(crate) fn with_attempt(envelope: &str, attempt: i64) -> Result<String, serde_json::Error> {
    let mut value: serde_json::Value = serde_json::from_str(envelope)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("attempt".to_owned(), attempt.into());
    }
    serde_json::to_string(&value)
}
