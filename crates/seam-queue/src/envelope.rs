//! The envelope every message travels in: identity, type, version, tracing and payload.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// A message and what a consumer needs to process it safely: an id to deduplicate on
/// (the inbox), a type and schema version to dispatch and decode, a correlation id and
/// trace context to follow it, and how many times it has been retried.
///
/// ```
/// use seam_queue::Envelope;
///
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct OrderPlaced { order: u32 }
///
/// let envelope = Envelope::new("order.placed", serde_json::json!({ "order": 7 }))
///     .with_schema_version(2);
/// assert_eq!(envelope.attempt, 0);
/// assert_eq!(envelope.correlation_id, envelope.message_id);
/// assert_eq!(envelope.decode::<OrderPlaced>().unwrap(), OrderPlaced { order: 7 });
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique per message (UUIDv7); consumers deduplicate on it.
    pub message_id: Uuid,
    /// What the message means, e.g. `order.placed`.
    pub message_type: String,
    /// The version of the payload's schema for this type.
    pub schema_version: u32,
    /// The id shared by every message of one business flow (the first message's id by default).
    pub correlation_id: Uuid,
    /// The id of the message that caused this one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// W3C trace context of the publisher, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// When the message was created.
    pub occurred_at: DateTime<Utc>,
    /// How many times processing was retried (0 when first published; 1 after one
    /// [`Delivery::retry`](crate::Delivery::retry); back to 0 when replayed from the dead letters).
    #[serde(default)]
    pub attempt: u32,
    /// The message itself.
    pub payload: serde_json::Value,
}

impl Envelope {
    /// A new message: a fresh UUIDv7 id (also its correlation id), schema version 1,
    /// occurred now, attempt 0.
    pub fn new(message_type: impl Into<String>, payload: serde_json::Value) -> Self {
        let message_id = Uuid::now_v7();
        Self {
            message_id,
            message_type: message_type.into(),
            schema_version: 1,
            correlation_id: message_id,
            causation_id: None,
            traceparent: None,
            occurred_at: Utc::now(),
            attempt: 0,
            payload,
        }
    }

    /// A new message whose payload is `payload` serialised to JSON.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `payload` cannot be serialised.
    pub fn from_payload<T: Serialize>(
        message_type: impl Into<String>,
        payload: &T,
    ) -> Result<Self> {
        let value = serde_json::to_value(payload).map_err(|source| Error::Invalid {
            message: "the payload cannot be serialised to JSON".to_owned(),
            source: Some(source.into()),
        })?;
        Ok(Self::new(message_type, value))
    }

    /// Sets the schema version.
    #[must_use]
    pub fn with_schema_version(mut self, version: u32) -> Self {
        self.schema_version = version;
        self
    }

    /// Sets the correlation id.
    #[must_use]
    pub fn with_correlation_id(mut self, correlation_id: Uuid) -> Self {
        self.correlation_id = correlation_id;
        self
    }

    /// Marks this message as caused by `cause`: same correlation id, causation id = its id.
    #[must_use]
    pub fn caused_by(mut self, cause: &Envelope) -> Self {
        self.correlation_id = cause.correlation_id;
        self.causation_id = Some(cause.message_id);
        self
    }

    /// Sets the W3C `traceparent`.
    #[must_use]
    pub fn with_traceparent(mut self, traceparent: impl Into<String>) -> Self {
        self.traceparent = Some(traceparent.into());
        self
    }

    /// Sets when the message occurred.
    #[must_use]
    pub fn with_occurred_at(mut self, occurred_at: DateTime<Utc>) -> Self {
        self.occurred_at = occurred_at;
        self
    }

    /// Decodes the payload.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the message type, version and id when the payload does not
    /// decode into `T` (a poison message: dead-letter it rather than retry).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        T::deserialize(&self.payload).map_err(|source| Error::Invalid {
            message: format!(
                "the payload of message {} ({} v{}) does not decode into {}: {source}",
                self.message_id,
                self.message_type,
                self.schema_version,
                std::any::type_name::<T>()
            ),
            source: Some(source.into()),
        })
    }

    /// Checks what every adapter requires before publishing: a non-blank message type.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the message type is blank.
    pub fn validate(&self) -> Result<()> {
        if self.message_type.trim().is_empty() {
            return Err(Error::invalid(format!(
                "message {} has a blank message_type",
                self.message_id
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use seam_core::{Classify, ErrorKind};

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Typed {
        order: u32,
    }

    #[test]
    fn serde_round_trip() {
        let envelope = Envelope::new("order.placed", serde_json::json!({"order": 1}))
            .with_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        let json = serde_json::to_string(&envelope).unwrap();
        let back: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, envelope);
        let bare = Envelope::new("x", serde_json::Value::Null);
        let json = serde_json::to_value(&bare).unwrap();
        assert!(json.get("causation_id").is_none());
    }

    #[test]
    fn caused_by_keeps_the_correlation() {
        let first = Envelope::new("order.placed", serde_json::Value::Null);
        let second = Envelope::new("payment.requested", serde_json::Value::Null).caused_by(&first);
        assert_eq!(second.correlation_id, first.message_id);
        assert_eq!(second.causation_id, Some(first.message_id));
        assert_ne!(second.message_id, first.message_id);
    }

    #[test]
    fn undecodable_payload_is_invalid_and_says_why() {
        let envelope = Envelope::new("order.placed", serde_json::json!({"order": "seven"}));
        let error = envelope.decode::<Typed>().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Invalid);
        let message = error.to_string();
        assert!(message.contains("order.placed v1"), "{message}");
        assert!(
            message.contains(&envelope.message_id.to_string()),
            "{message}"
        );
        assert!(message.contains("Typed"), "{message}");
    }

    #[test]
    fn blank_type_is_invalid() {
        let error = Envelope::new("  ", serde_json::Value::Null)
            .validate()
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Invalid);
    }
}
