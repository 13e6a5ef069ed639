//! What a stream entry carries: the envelope as JSON with its delivery and failure history.

use chrono::{DateTime, Utc};
use seam_queue::{DeadLetter, Envelope};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The message type given to an entry whose data is not a record (written by hand, or by
/// another program), so that it can be dead-lettered and inspected instead of looping.
pub(crate) const UNDECODABLE_TYPE: &str = "seam.undecodable";

/// The `data` field of a queue stream entry, and the member of the delayed set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) envelope: Envelope,
    /// Deliveries that happened before this copy was added to the stream.
    #[serde(default)]
    pub(crate) deliveries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) first_failed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_failed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// Makes two retries of the same message distinct members of the delayed set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nonce: Option<Uuid>,
}

impl Record {
    /// A freshly published message.
    pub(crate) fn new(envelope: Envelope) -> Self {
        Self {
            envelope,
            deliveries: 0,
            first_failed_at: None,
            last_failed_at: None,
            reason: None,
            nonce: None,
        }
    }

    /// Decodes an entry's data; data that is not a record becomes an undecodable envelope
    /// carrying the raw text, so it can be dead-lettered.
    pub(crate) fn decode(data: &str) -> Self {
        serde_json::from_str(data).unwrap_or_else(|_| {
            Self::new(Envelope::new(
                UNDECODABLE_TYPE,
                serde_json::Value::String(data.to_owned()),
            ))
        })
    }

    pub(crate) fn encode(&self) -> String {
        // A record is plain data with string keys: serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The copy that goes to the delayed set after `count` deliveries of this one failed.
    pub(crate) fn retried(&self, count: u32, reason: &str, now: DateTime<Utc>) -> Self {
        let mut envelope = self.envelope.clone();
        envelope.attempt = envelope.attempt.saturating_add(1);
        Self {
            envelope,
            deliveries: self.deliveries.saturating_add(count),
            first_failed_at: Some(self.first_failed_at.unwrap_or(now)),
            last_failed_at: Some(now),
            reason: Some(reason.to_owned()),
            nonce: Some(Uuid::now_v7()),
        }
    }

    /// The dead letter this record becomes after `count` deliveries of this copy.
    pub(crate) fn dead(
        &self,
        id: Uuid,
        queue: &str,
        count: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> DeadRecord {
        DeadRecord {
            id,
            queue: queue.to_owned(),
            envelope: self.envelope.clone(),
            reason: reason.to_owned(),
            attempts: self.deliveries.saturating_add(count),
            first_failed_at: self.first_failed_at.unwrap_or(now),
            last_failed_at: now,
            dead_lettered_at: now,
        }
    }
}

/// The `data` field of a dead-letter stream entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeadRecord {
    pub(crate) id: Uuid,
    pub(crate) queue: String,
    pub(crate) envelope: Envelope,
    pub(crate) reason: String,
    pub(crate) attempts: u32,
    pub(crate) first_failed_at: DateTime<Utc>,
    pub(crate) last_failed_at: DateTime<Utc>,
    pub(crate) dead_lettered_at: DateTime<Utc>,
}

impl DeadRecord {
    pub(crate) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// What a replay puts back on the queue: the message with its attempt count reset.
    pub(crate) fn replayed(&self) -> Record {
        let mut envelope = self.envelope.clone();
        envelope.attempt = 0;
        Record::new(envelope)
    }

    pub(crate) fn into_dead_letter(self) -> DeadLetter {
        DeadLetter::new(
            self.id,
            self.queue,
            self.envelope,
            self.reason,
            self.attempts,
            self.first_failed_at,
            self.last_failed_at,
            self.dead_lettered_at,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_history_accumulates() {
        let record = Record::new(Envelope::new("order.created", serde_json::json!({"n": 1})));
        assert_eq!(Record::decode(&record.encode()), record);

        let now = Utc::now();
        let retried = record.retried(2, "boom", now);
        assert_eq!(retried.envelope.attempt, 1);
        assert_eq!(retried.deliveries, 2);
        assert_eq!(retried.first_failed_at, Some(now));
        let again = retried.retried(1, "bang", now + chrono::Duration::seconds(1));
        assert_eq!(again.deliveries, 3);
        assert_eq!(again.first_failed_at, Some(now));
        assert_ne!(again.nonce, retried.nonce);

        let dead = again.dead(Uuid::now_v7(), "orders", 1, "gave up", now);
        assert_eq!(dead.attempts, 4);
        assert_eq!(dead.replayed().envelope.attempt, 0);
    }

    #[test]
    fn foreign_data_becomes_an_undecodable_envelope() {
        let record = Record::decode("not json");
        assert_eq!(record.envelope.message_type, UNDECODABLE_TYPE);
        assert_eq!(record.envelope.payload, serde_json::json!("not json"));
    }
}
