//! Stripe's webhook event JSON: parsed into a [`PaymentEvent`], and built from a
//! [`Payment`] (the sandbox emits the same events Stripe does).
//!
//! Parsing only: the signature of the raw body must have been verified before (the
//! webhooks crate does that). Mapped types:
//!
//! | Stripe `type` | [`PaymentEventKind`] | payment id from |
//! | --- | --- | --- |
//! | `payment_intent.succeeded` | `PaymentSucceeded { amount_received }` | `data.object.id` |
//! | `payment_intent.payment_failed` | `PaymentFailed { last_payment_error }` | `data.object.id` |
//! | `charge.refunded` | `Refunded { amount_refunded, refunded }` | `data.object.payment_intent` |
//! | `charge.dispute.created` | `DisputeCreated { amount, reason }` | `data.object.payment_intent` |
//! | anything else | `Other { type }` | `payment_intent` or a payment intent's `id`, when present |
//!
//! The order reference is `data.object.metadata.order_id` (Stripe copies a payment
//! intent's metadata to its charges).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use seam_domain::{Currency, Money};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::event::{PaymentEvent, PaymentEventKind};
use crate::status::PaymentStatus;
use crate::types::{CaptureMode, Failure, ORDER_REFERENCE_KEY, Payment, PaymentId};

/// The Stripe API version the built events claim, and the one the Stripe adapter pins.
pub const API_VERSION: &str = "2025-12-15.clover";

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: Option<i64>,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: Value,
}

fn invalid(message: impl std::fmt::Display) -> Error {
    Error::invalid(format!("Stripe event: {message}"))
}

fn field<'a>(object: &'a Value, name: &str) -> Option<&'a str> {
    object.get(name).and_then(Value::as_str)
}

fn money(object: &Value, amount_field: &str) -> Result<Money> {
    let minor = object
        .get(amount_field)
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid(format!("data.object.{amount_field} is missing")))?;
    let currency =
        field(object, "currency").ok_or_else(|| invalid("data.object.currency is missing"))?;
    let currency = Currency::parse(currency).map_err(invalid)?;
    Ok(Money::new(minor, currency))
}

fn payment_id(value: Option<&str>) -> Result<Option<PaymentId>> {
    value.map(PaymentId::new).transpose()
}

/// Parses a Stripe event (the raw, verified webhook body). `occurred_at` is the
/// event's `created`, or the time of parsing when it has none.
///
/// # Errors
///
/// [`Error::Invalid`] when the body is not a Stripe event, or a mapped event lacks a
/// field it needs (amount, currency, payment intent).
pub fn parse(body: &[u8]) -> Result<PaymentEvent> {
    let envelope: Envelope = serde_json::from_slice(body).map_err(invalid)?;
    let object = &envelope.data.object;
    // Stripe always sends `created`; hand-written events may not, and then the time of
    // parsing is the best answer there is.
    let occurred_at = match envelope.created {
        Some(created) => DateTime::<Utc>::from_timestamp(created, 0)
            .ok_or_else(|| invalid("`created` is out of range"))?,
        None => Utc::now(),
    };
    let order_reference = object
        .get("metadata")
        .and_then(|metadata| field(metadata, ORDER_REFERENCE_KEY))
        .map(str::to_owned);
    let own_id = || {
        (field(object, "object") == Some("payment_intent"))
            .then(|| field(object, "id"))
            .flatten()
    };
    let (kind, payment) = match envelope.event_type.as_str() {
        "payment_intent.succeeded" => {
            let amount = if object.get("amount_received").is_some() {
                money(object, "amount_received")?
            } else {
                money(object, "amount")?
            };
            (
                PaymentEventKind::PaymentSucceeded { amount },
                field(object, "id"),
            )
        }
        "payment_intent.payment_failed" => {
            let error = object.get("last_payment_error").unwrap_or(&Value::Null);
            let failure = Failure {
                code: field(error, "code").unwrap_or("payment_failed").to_owned(),
                decline_code: field(error, "decline_code").map(str::to_owned),
                message: field(error, "message")
                    .unwrap_or("The payment failed.")
                    .to_owned(),
            };
            (
                PaymentEventKind::PaymentFailed { failure },
                field(object, "id"),
            )
        }
        "charge.refunded" => {
            let amount_refunded = money(object, "amount_refunded")?;
            let fully_refunded = object
                .get("refunded")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            (
                PaymentEventKind::Refunded {
                    amount_refunded,
                    fully_refunded,
                },
                field(object, "payment_intent"),
            )
        }
        "charge.dispute.created" => (
            PaymentEventKind::DisputeCreated {
                amount: money(object, "amount")?,
                reason: field(object, "reason").map(str::to_owned),
            },
            field(object, "payment_intent"),
        ),
        other => (
            PaymentEventKind::Other {
                event_type: other.to_owned(),
            },
            field(object, "payment_intent").or_else(own_id),
        ),
    };
    let needs_payment = !matches!(kind, PaymentEventKind::Other { .. });
    let payment_id = payment_id(payment)?;
    if needs_payment && payment_id.is_none() {
        return Err(invalid(format!(
            "{} names no payment intent",
            envelope.event_type
        )));
    }
    Ok(PaymentEvent {
        id: envelope.id,
        kind,
        payment_id,
        order_reference,
        occurred_at,
    })
}

/// Stripe's name for a payment's status (`failed` is `requires_payment_method`; refunds
/// and disputes live on the charge, so the intent stays `succeeded`).
pub fn intent_status(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::RequiresConfirmation => "requires_confirmation",
        PaymentStatus::RequiresAction => "requires_action",
        PaymentStatus::Processing => "processing",
        PaymentStatus::RequiresCapture => "requires_capture",
        PaymentStatus::Failed => "requires_payment_method",
        PaymentStatus::Canceled => "canceled",
        _ => "succeeded",
    }
}

fn metadata_json(metadata: &BTreeMap<String, String>) -> Value {
    Value::Object(
        metadata
            .iter()
            .map(|(key, value)| (key.clone(), Value::String(value.clone())))
            .collect(),
    )
}

/// A Stripe `payment_intent` object for `payment`.
pub fn payment_intent_object(payment: &Payment) -> Value {
    let currency = payment.amount.currency().code().to_ascii_lowercase();
    let capturable = if payment.status == PaymentStatus::RequiresCapture {
        payment.amount.minor()
    } else {
        0
    };
    let last_payment_error = payment.failure.as_ref().map(|failure| {
        json!({
            "type": "card_error",
            "code": failure.code,
            "decline_code": failure.decline_code,
            "message": failure.message,
        })
    });
    json!({
        "id": payment.id.as_str(),
        "object": "payment_intent",
        "amount": payment.amount.minor(),
        "amount_capturable": capturable,
        "amount_received": payment.amount_captured.minor(),
        "capture_method": match payment.capture {
            CaptureMode::Automatic => "automatic",
            CaptureMode::Manual => "manual",
        },
        "created": payment.created_at.timestamp(),
        "currency": currency,
        "description": payment.description,
        "last_payment_error": last_payment_error,
        "livemode": false,
        "metadata": metadata_json(&payment.metadata),
        "status": intent_status(payment.status),
    })
}

/// A Stripe `charge` object for `payment`, with its refunded amount.
pub fn charge_object(payment: &Payment, charge_id: &str) -> Value {
    json!({
        "id": charge_id,
        "object": "charge",
        "amount": payment.amount.minor(),
        "amount_captured": payment.amount_captured.minor(),
        "amount_refunded": payment.amount_refunded.minor(),
        "captured": payment.amount_captured.minor() > 0,
        "created": payment.created_at.timestamp(),
        "currency": payment.amount.currency().code().to_ascii_lowercase(),
        "disputed": payment.status == PaymentStatus::Disputed,
        "livemode": false,
        "metadata": metadata_json(&payment.metadata),
        "paid": payment.status.is_paid(),
        "payment_intent": payment.id.as_str(),
        "refunded": payment.amount_captured.minor() > 0
            && payment.amount_refunded == payment.amount_captured,
        "status": if payment.status.is_paid() { "succeeded" } else { "failed" },
    })
}

/// A Stripe `dispute` object for `payment`.
pub fn dispute_object(payment: &Payment, dispute_id: &str, charge_id: &str, reason: &str) -> Value {
    json!({
        "id": dispute_id,
        "object": "dispute",
        "amount": payment.amount_captured.minor(),
        "charge": charge_id,
        "created": payment.created_at.timestamp(),
        "currency": payment.amount.currency().code().to_ascii_lowercase(),
        "livemode": false,
        "metadata": {},
        "payment_intent": payment.id.as_str(),
        "reason": reason,
        "status": "needs_response",
    })
}

/// A Stripe event envelope around `object`, serialised as Stripe sends it.
pub fn event_json(id: &str, event_type: &str, created: DateTime<Utc>, object: Value) -> Vec<u8> {
    let event = json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created.timestamp(),
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type,
    });
    // A Value always serialises.
    serde_json::to_vec(&event).unwrap_or_default()
}
