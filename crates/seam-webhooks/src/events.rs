//! Reading the event id and type from a verified body, for deduplication and routing.
//!
//! Call these only on a body that has been [`Verified`](crate::Verified): parsing
//! untrusted JSON is exactly what verification is there to avoid.

use serde::Deserialize;
use serde_json::{Map, Value};

/// A verified body is not the JSON the scheme promises.
#[derive(Debug, thiserror::Error)]
#[error("webhook body is not a {what}: {source}")]
pub struct EventParseError {
    what: &'static str,
    #[source]
    source: serde_json::Error,
}

/// The envelope of a Stripe event: enough to deduplicate and route it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StripeEvent {
    /// The event id (`evt_…`): the deduplication key.
    pub id: String,
    /// The event type (`payment_intent.succeeded`…).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When Stripe created the event (Unix seconds), when present.
    #[serde(default)]
    pub created: Option<i64>,
    /// Whether the event comes from live mode, when present.
    #[serde(default)]
    pub livemode: Option<bool>,
    /// The object the event is about (`data.object`), unparsed.
    #[serde(default)]
    pub data: Option<StripeEventData>,
}

/// The `data` member of a Stripe event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StripeEventData {
    /// The object (a PaymentIntent, a Charge…), as sent.
    pub object: Value,
}

/// Reads a Stripe event's envelope.
///
/// # Errors
///
/// [`EventParseError`] when the body is not a JSON object with string `id` and `type`.
pub fn stripe_event(body: &[u8]) -> Result<StripeEvent, EventParseError> {
    serde_json::from_slice(body).map_err(|source| EventParseError {
        what: "Stripe event",
        source,
    })
}

/// One event of a SendGrid Event Webhook batch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SendgridEvent {
    /// The event's unique id: the deduplication key (SendGrid may deliver an event twice).
    pub sg_event_id: String,
    /// The event (`delivered`, `bounce`, `dropped`, `spamreport`, `open`, `click`…).
    pub event: String,
    /// The recipient.
    #[serde(default)]
    pub email: Option<String>,
    /// SendGrid's message id (`<X-Message-Id>.filter…`).
    #[serde(default)]
    pub sg_message_id: Option<String>,
    /// When it happened (Unix seconds).
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Why, for bounces and drops.
    #[serde(default)]
    pub reason: Option<String>,
    /// Everything else, including the message's `custom_args`, which SendGrid puts at
    /// the top level of each event.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Reads a SendGrid Event Webhook body: a JSON array of events.
///
/// # Errors
///
/// [`EventParseError`] when the body is not an array of objects each with string
/// `sg_event_id` and `event`.
pub fn sendgrid_events(body: &[u8]) -> Result<Vec<SendgridEvent>, EventParseError> {
    serde_json::from_slice(body).map_err(|source| EventParseError {
        what: "SendGrid event array",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_envelope() {
        let event = stripe_event(
            br#"{"id":"evt_1","object":"event","type":"charge.refunded","created":5,"data":{"object":{"id":"ch_1"}}}"#,
        )
        .unwrap();
        assert_eq!(event.id, "evt_1");
        assert_eq!(event.event_type, "charge.refunded");
        assert_eq!(event.created, Some(5));
        assert_eq!(event.data.unwrap().object["id"], "ch_1");
        assert!(stripe_event(br#"{"type":"x"}"#).is_err());
        assert!(stripe_event(b"not json").is_err());
    }

    #[test]
    fn sendgrid_batch_keeps_custom_args() {
        let events = sendgrid_events(
            br#"[{"email":"a@example.com","event":"bounce","sg_event_id":"e1","reason":"550","seam_message_id":"m-1"},
                {"event":"open","sg_event_id":"e2"}]"#,
        )
        .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].reason.as_deref(), Some("550"));
        assert_eq!(events[0].other["seam_message_id"], "m-1");
        assert_eq!(events[1].sg_event_id, "e2");
        assert!(sendgrid_events(br#"{"event":"open"}"#).is_err());
        assert!(sendgrid_events(br#"[{"event":"open"}]"#).is_err());
    }
}
