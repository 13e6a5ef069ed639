//! How an envelope and its delivery history travel: a JSON body, AMQP properties and
//! `x-seam-*` headers.

use chrono::{DateTime, TimeZone, Utc};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use seam_queue::Envelope;
use uuid::Uuid;

const DELIVERIES: &str = "x-seam-deliveries";
const FIRST_FAILED_AT: &str = "x-seam-first-failed-at";
const LAST_FAILED_AT: &str = "x-seam-last-failed-at";
const REASON: &str = "x-seam-reason";
const DEAD_LETTER_ID: &str = "x-seam-dead-letter-id";
const DEAD_LETTERED_AT: &str = "x-seam-dead-lettered-at";

/// The message type given to a body that is not an envelope.
pub(crate) const UNDECODABLE_TYPE: &str = "seam.undecodable";

/// What a message carries besides its envelope: its delivery and failure history.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Meta {
    /// Deliveries that happened before this copy was published.
    pub(crate) deliveries: u32,
    pub(crate) first_failed_at: Option<DateTime<Utc>>,
    pub(crate) last_failed_at: Option<DateTime<Utc>>,
    pub(crate) reason: Option<String>,
    pub(crate) dead_letter_id: Option<Uuid>,
    pub(crate) dead_lettered_at: Option<DateTime<Utc>>,
}

/// The body of a message: the envelope as JSON.
pub(crate) fn encode(envelope: &Envelope) -> Vec<u8> {
    // An Envelope is plain data with string keys: serialising it cannot fail.
    serde_json::to_vec(envelope).unwrap_or_default()
}

/// Persistent JSON properties with the envelope's identity and the history in headers.
pub(crate) fn properties(envelope: &Envelope, meta: &Meta) -> BasicProperties {
    let mut headers = FieldTable::default();
    let mut put = |key: &str, value: AMQPValue| {
        headers.insert(ShortString::from(key), value);
    };
    if meta.deliveries > 0 {
        put(
            DELIVERIES,
            AMQPValue::LongLongInt(i64::from(meta.deliveries)),
        );
    }
    let millis = |at: DateTime<Utc>| AMQPValue::LongLongInt(at.timestamp_millis());
    if let Some(at) = meta.first_failed_at {
        put(FIRST_FAILED_AT, millis(at));
    }
    if let Some(at) = meta.last_failed_at {
        put(LAST_FAILED_AT, millis(at));
    }
    if let Some(reason) = &meta.reason {
        put(
            REASON,
            AMQPValue::LongString(LongString::from(reason.as_str())),
        );
    }
    if let Some(id) = meta.dead_letter_id {
        put(
            DEAD_LETTER_ID,
            AMQPValue::LongString(LongString::from(id.to_string())),
        );
    }
    if let Some(at) = meta.dead_lettered_at {
        put(DEAD_LETTERED_AT, millis(at));
    }
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_message_id(envelope.message_id.to_string().into())
        .with_correlation_id(envelope.correlation_id.to_string().into())
        .with_type(
            ShortString::try_new(envelope.message_type.clone()).unwrap_or_else(|_| {
                // Longer than 255 bytes: the body still carries the full type.
                ShortString::from(envelope.message_type.chars().take(60).collect::<String>())
            }),
        )
        .with_timestamp(u64::try_from(envelope.occurred_at.timestamp()).unwrap_or(0))
        .with_headers(headers)
}

/// The envelope and history of a received message. A body that is not an envelope
/// becomes one of type [`UNDECODABLE_TYPE`] holding the body as text, so that it can
/// still be dead-lettered and inspected; the flag says so.
pub(crate) fn decode(properties: &BasicProperties, body: &[u8]) -> (Envelope, Meta, bool) {
    let meta = read_meta(properties.headers().as_ref());
    match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) => (envelope, meta, true),
        Err(_) => {
            let mut envelope = Envelope::new(
                UNDECODABLE_TYPE,
                serde_json::Value::String(String::from_utf8_lossy(body).into_owned()),
            );
            if let Some(id) = properties
                .message_id()
                .as_ref()
                .and_then(|id| id.as_str().parse().ok())
            {
                envelope.message_id = id;
            }
            (envelope, meta, false)
        }
    }
}

fn read_meta(headers: Option<&FieldTable>) -> Meta {
    let Some(headers) = headers else {
        return Meta::default();
    };
    let get = |key: &str| headers.inner().get(key);
    let integer = |key: &str| match get(key)? {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::Timestamp(n) => i64::try_from(*n).ok(),
        _ => None,
    };
    let text = |key: &str| match get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    };
    let time = |key: &str| integer(key).and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    Meta {
        deliveries: integer(DELIVERIES)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        first_failed_at: time(FIRST_FAILED_AT),
        last_failed_at: time(LAST_FAILED_AT),
        reason: text(REASON),
        dead_letter_id: text(DEAD_LETTER_ID).and_then(|id| id.parse().ok()),
        dead_lettered_at: time(DEAD_LETTERED_AT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_envelope_and_history() {
        let envelope = Envelope::new("order.created", serde_json::json!({"id": 7}));
        let now = Utc
            .timestamp_millis_opt(Utc::now().timestamp_millis())
            .unwrap();
        let meta = Meta {
            deliveries: 3,
            first_failed_at: Some(now),
            last_failed_at: Some(now),
            reason: Some("downstream said 503".to_owned()),
            dead_letter_id: Some(Uuid::now_v7()),
            dead_lettered_at: Some(now),
        };
        let props = properties(&envelope, &meta);
        assert_eq!(props.delivery_mode(), &Some(2));
        let (back, back_meta, ok) = decode(&props, &encode(&envelope));
        assert!(ok);
        assert_eq!(back, envelope);
        assert_eq!(back_meta, meta);
    }

    #[test]
    fn a_foreign_body_becomes_an_undecodable_envelope() {
        let id = Uuid::now_v7();
        let props = BasicProperties::default().with_message_id(id.to_string().into());
        let (envelope, meta, ok) = decode(&props, b"not json");
        assert!(!ok);
        assert_eq!(envelope.message_type, UNDECODABLE_TYPE);
        assert_eq!(envelope.message_id, id);
        assert_eq!(envelope.payload, serde_json::json!("not json"));
        assert_eq!(meta, Meta::default());
    }
}
