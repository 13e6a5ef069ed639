//! Stripe adapter of the payments port: PaymentIntents and Refunds over Stripe's REST
//! API, form-encoded over `reqwest` (rustls).
//!
//! | port call | Stripe call |
//! | --- | --- |
//! | `create` | `POST /v1/payment_intents` (`confirm`, `capture_method`, `metadata[…]`) |
//! | `get` | `GET /v1/payment_intents/{id}` |
//! | `confirm` / `capture` / `cancel` | `POST /v1/payment_intents/{id}/confirm` / `capture` / `cancel` |
//! | `refund` | `POST /v1/refunds` (`payment_intent`, `amount`) |
//! | `list_refunds` | `GET /v1/refunds?payment_intent=…` (every page, oldest first) |
//!
//! Every call sends `Authorization: Bearer <secret key>` and the pinned
//! `Stripe-Version` ([`STRIPE_VERSION`]); every `POST` sends the caller's
//! `Idempotency-Key`. Payment-intent calls ask for `expand[]=latest_charge`, because
//! since 2022 refunds and disputes live on the charge: a succeeded intent whose charge
//! is refunded in part answers [`PaymentStatus::PartiallyRefunded`], and so on.
//!
//! Card tokens (`tok_…`) travel as `payment_method_data[card][token]`, payment-method
//! ids (`pm_…`) as `payment_method`; a wallet's token is a card token to Stripe (Apple
//! Pay and Google Pay tokenise into cards); a bank debit adds its scheme to
//! `payment_method_types[]` (its mandate must have been set up client-side). A
//! [`CustomerRef::Provider`] is Stripe's `customer`; a [`CustomerRef::Internal`] id is
//! kept in `metadata[seam_customer]`.
//!
//! Stripe's refund and capture calls take no currency: when an amount is given, the
//! adapter reads the payment intent first and refuses another currency as
//! [`Error::Invalid`].
//!
//! # Errors
//!
//! | Stripe answer | port error |
//! | --- | --- |
//! | 402, or `card_error` | [`Error::CardDeclined`] with `decline_code` (else `code`) and the intent's id |
//! | `idempotency_error` | [`Error::IdempotencyConflict`] |
//! | 400 `payment_intent_unexpected_state`, `charge_already_refunded`, `charge_disputed`, `charge_already_captured`, `charge_not_refundable`; on a refund, `amount_too_large` or a code-less error on `param: amount` | [`Error::InvalidState`] |
//! | 404, `resource_missing` | [`Error::NotFound`] |
//! | other 400 | [`Error::Invalid`] with Stripe's message |
//! | 401, 403 | [`Error::Unauthorized`] |
//! | 429 | [`Error::RateLimited`] with `Retry-After` |
//! | 409 (concurrent use of a key), 5xx, connection failure | [`Error::Transient`] |
//! | no answer within `timeout` | [`Error::Timeout`] |
//!
//! A refund's amount is checked here first (positive, the payment's currency), so the
//! only reason left for Stripe to refuse it is that it exceeds what is still refundable
//! — which Stripe reports without a `code`, naming only `param: amount`.
//!
//! Nothing sensitive is logged: not the key, not the token; Stripe's own messages are
//! safe (it masks keys itself).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::RETRY_AFTER;
use reqwest::{Method, StatusCode, Url};
use seam_core::{ExposeSecret, SecretString};
use seam_domain::{Currency, Money};
use seam_payments::{
    CaptureMode, CreatePayment, CreateRefund, CustomerRef, Error, Failure, IdempotencyKey, Payment,
    PaymentId, PaymentMethod, PaymentService, PaymentStatus, Refund, RefundId, RefundReason,
    RefundStatus, Result,
};
use seam_telemetry::PortMetrics;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const METRICS: PortMetrics = PortMetrics::new("payments", "stripe");

/// Stripe's API.
pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";
/// The pinned API version, sent as `Stripe-Version` on every call.
pub const STRIPE_VERSION: &str = seam_payments::stripe_event::API_VERSION;
/// The metadata key holding an internal customer id.
pub const INTERNAL_CUSTOMER_KEY: &str = "seam_customer";
/// Most refund pages read by `list_refunds` (100 refunds each).
const MAX_REFUND_PAGES: usize = 100;

/// How to reach Stripe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeConfig {
    /// The secret (`sk_…`) or restricted (`rk_…`) key.
    pub secret_key: SecretString,
    /// The API base URL: [`DEFAULT_BASE_URL`], or a local mock in tests.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Longest wait for one API call.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_secs(20)
}

impl StripeConfig {
    /// Stripe's API with `secret_key` and a 20 s timeout.
    pub fn new(secret_key: SecretString) -> Self {
        Self {
            secret_key,
            base_url: default_base_url(),
            timeout: default_timeout(),
        }
    }

    /// Checks the configuration, naming every problem (never the key).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`]: a key that is empty or not `sk_…`/`rk_…`, a base URL that is
    /// not `http(s)://…`, plain `http` to a host that is not this machine (the key would
    /// travel in clear), or a zero timeout.
    pub fn validate(&self) -> Result<()> {
        self.base().map(|_| ())
    }

    fn base(&self) -> Result<Url> {
        let mut problems = Vec::new();
        let key = self.secret_key.expose_secret();
        if key.trim().is_empty() {
            problems.push("`secret_key` must not be empty".to_owned());
        } else if !(key.starts_with("sk_") || key.starts_with("rk_")) {
            problems.push(
                "`secret_key` must be a secret (sk_…) or restricted (rk_…) key; publishable keys (pk_…) cannot create payments"
                    .to_owned(),
            );
        }
        if self.timeout.is_zero() {
            problems.push("`timeout` must be more than 0".to_owned());
        }
        let base = match Url::parse(self.base_url.trim_end_matches('/')) {
            Ok(url) if matches!(url.scheme(), "https" | "http") && url.host_str().is_some() => {
                let loopback = matches!(url.host_str(), Some("localhost" | "[::1]"))
                    || url.host_str().is_some_and(|host| host.starts_with("127."));
                if url.scheme() == "http" && !loopback {
                    problems.push(format!(
                        "`base_url` {} would send the secret key in clear: use https",
                        self.base_url
                    ));
                }
                Some(url)
            }
            _ => {
                problems.push(format!(
                    "`base_url` {:?} must be an http(s) URL such as {DEFAULT_BASE_URL}",
                    self.base_url
                ));
                None
            }
        };
        match base {
            Some(base) if problems.is_empty() => Ok(base),
            _ => Err(Error::invalid(format!(
                "Stripe configuration: {}",
                problems.join("; ")
            ))),
        }
    }

    /// Validates the configuration and builds the adapter.
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate), or when the HTTP client cannot be built.
    pub fn build(self) -> Result<StripePayments> {
        let base = self.base()?;
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("seam-payments-stripe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Error::invalid(format!("Stripe HTTP client: {error}")))?;
        Ok(StripePayments {
            client,
            base: base.as_str().trim_end_matches('/').to_owned(),
            secret_key: self.secret_key,
            timeout: self.timeout,
        })
    }
}

/// A [`PaymentService`] over Stripe's API; see the crate documentation.
#[derive(Debug)]
pub struct StripePayments {
    client: reqwest::Client,
    base: String,
    secret_key: SecretString,
    timeout: Duration,
}

/// Which port call a Stripe error answers: the same Stripe code means different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Get,
    Confirm,
    Capture,
    Cancel,
    Refund,
    ListRefunds,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Get => "get",
            Self::Confirm => "confirm",
            Self::Capture => "capture",
            Self::Cancel => "cancel",
            Self::Refund => "refund",
            Self::ListRefunds => "list_refunds",
        }
    }
}

/// Stripe's error object.
#[derive(Debug, Default, Deserialize)]
struct ApiError {
    #[serde(rename = "type", default)]
    error_type: String,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    param: Option<String>,
    payment_intent: Option<Value>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ApiError,
}

/// What went wrong calling Stripe, before it becomes the port's error.
#[derive(Debug, thiserror::Error)]
enum StripeError {
    #[error("Stripe answered {status}: {}", .error.message.as_deref().unwrap_or("no message"))]
    Api {
        status: StatusCode,
        error: Box<ApiError>,
        retry_after: Option<Duration>,
    },
    #[error("Stripe did not answer within {0:?}")]
    Timeout(Duration),
    #[error("calling Stripe failed")]
    Http(#[source] reqwest::Error),
    #[error("unexpected answer from Stripe: {0}")]
    Decode(String),
}

impl StripeError {
    fn into_port(self, op: Op, key: Option<&IdempotencyKey>) -> Error {
        let (status, error, retry_after) = match self {
            Self::Timeout(wait) => {
                return Error::Timeout(format!("Stripe did not answer within {wait:?}"));
            }
            Self::Http(source) => {
                return Error::transient_from("Stripe could not be reached", source);
            }
            Self::Decode(message) => {
                return Error::transient(format!("unexpected answer from Stripe: {message}"));
            }
            Self::Api {
                status,
                error,
                retry_after,
            } => (status, error, retry_after),
        };
        let message = error
            .message
            .clone()
            .unwrap_or_else(|| format!("Stripe answered {status}"));
        let code = error.code.as_deref().unwrap_or_default();
        match status.as_u16() {
            429 => return Error::RateLimited { retry_after },
            401 | 403 => return Error::Unauthorized(message),
            _ => {}
        }
        if status == StatusCode::PAYMENT_REQUIRED || error.error_type == "card_error" {
            let payment_id = match &error.payment_intent {
                Some(Value::Object(intent)) => intent.get("id").and_then(Value::as_str),
                Some(Value::String(id)) => Some(id.as_str()),
                _ => None,
            }
            .and_then(|id| PaymentId::new(id).ok());
            return Error::CardDeclined {
                decline_code: error.decline_code.clone().or(error.code.clone()),
                message,
                payment_id,
            };
        }
        if error.error_type == "idempotency_error" {
            return match key {
                Some(key) => Error::IdempotencyConflict { key: key.clone() },
                None => Error::invalid(message),
            };
        }
        if status == StatusCode::NOT_FOUND || code == "resource_missing" {
            return Error::NotFound(message);
        }
        if status == StatusCode::CONFLICT
            || status == StatusCode::REQUEST_TIMEOUT
            || status.is_server_error()
        {
            return Error::transient(format!("Stripe answered {status}: {message}"));
        }
        let state_conflict = matches!(
            code,
            "payment_intent_unexpected_state"
                | "charge_already_refunded"
                | "charge_already_captured"
                | "charge_disputed"
                | "charge_expired_for_capture"
                | "charge_not_refundable"
        ) || (op == Op::Refund
            && (code == "amount_too_large"
                || (code.is_empty() && error.param.as_deref() == Some("amount"))));
        if state_conflict {
            Error::invalid_state(message)
        } else {
            Error::invalid(message)
        }
    }
}

/// A payment intent, as far as the port needs it.
#[derive(Debug, Deserialize)]
struct PaymentIntent {
    id: String,
    amount: i64,
    #[serde(default)]
    amount_received: i64,
    currency: String,
    status: String,
    #[serde(default)]
    capture_method: String,
    created: i64,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    description: Option<String>,
    customer: Option<Value>,
    last_payment_error: Option<ApiError>,
    latest_charge: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct StripeRefund {
    id: String,
    amount: i64,
    currency: String,
    payment_intent: Option<String>,
    status: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    created: i64,
}

#[derive(Debug, Deserialize)]
struct RefundList {
    data: Vec<StripeRefund>,
    #[serde(default)]
    has_more: bool,
}

fn currency(code: &str) -> Result<Currency, StripeError> {
    Currency::parse(code).map_err(|error| StripeError::Decode(error.to_string()))
}

fn timestamp(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default()
}

impl PaymentIntent {
    fn into_payment(mut self) -> Result<Payment, StripeError> {
        let currency = currency(&self.currency)?;
        let charge = self
            .latest_charge
            .as_ref()
            .filter(|charge| charge.is_object());
        let charge_number = |field: &str| {
            charge
                .and_then(|charge| charge.get(field))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        let refunded = charge_number("amount_refunded");
        let disputed = charge
            .and_then(|charge| charge.get("disputed"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let status = match self.status.as_str() {
            "requires_payment_method" if self.last_payment_error.is_some() => PaymentStatus::Failed,
            "requires_payment_method" | "requires_confirmation" => {
                PaymentStatus::RequiresConfirmation
            }
            "requires_action" => PaymentStatus::RequiresAction,
            "processing" => PaymentStatus::Processing,
            "requires_capture" => PaymentStatus::RequiresCapture,
            "canceled" => PaymentStatus::Canceled,
            "succeeded" if disputed => PaymentStatus::Disputed,
            "succeeded" if refunded > 0 && refunded >= self.amount_received => {
                PaymentStatus::Refunded
            }
            "succeeded" if refunded > 0 => PaymentStatus::PartiallyRefunded,
            "succeeded" => PaymentStatus::Succeeded,
            other => {
                return Err(StripeError::Decode(format!(
                    "unknown payment intent status {other:?}"
                )));
            }
        };
        let customer = match self.metadata.remove(INTERNAL_CUSTOMER_KEY) {
            Some(internal) => Some(CustomerRef::Internal(internal)),
            None => match &self.customer {
                Some(Value::String(id)) => Some(CustomerRef::Provider(id.clone())),
                Some(Value::Object(object)) => object
                    .get("id")
                    .and_then(Value::as_str)
                    .map(|id| CustomerRef::Provider(id.to_owned())),
                _ => None,
            },
        };
        let failure = self.last_payment_error.as_ref().map(|error| Failure {
            code: error
                .code
                .clone()
                .unwrap_or_else(|| "payment_failed".to_owned()),
            decline_code: error.decline_code.clone(),
            message: error
                .message
                .clone()
                .unwrap_or_else(|| "The payment failed.".to_owned()),
        });
        let id = PaymentId::new(self.id).map_err(|error| StripeError::Decode(error.to_string()))?;
        let capture = if self.capture_method == "manual" {
            CaptureMode::Manual
        } else {
            CaptureMode::Automatic
        };
        let mut payment = Payment::record(
            id,
            Money::new(self.amount, currency),
            status,
            capture,
            timestamp(self.created),
        );
        payment.amount_captured = Money::new(self.amount_received, currency);
        payment.amount_refunded = Money::new(refunded, currency);
        payment.failure = failure;
        payment.customer = customer;
        payment.metadata = self.metadata;
        payment.description = self.description;
        Ok(payment)
    }
}

impl StripeRefund {
    fn into_refund(self, fallback_payment: &PaymentId) -> Result<Refund, StripeError> {
        let decode = |error: Error| StripeError::Decode(error.to_string());
        let payment_id = match self.payment_intent {
            Some(id) => PaymentId::new(id).map_err(decode)?,
            None => fallback_payment.clone(),
        };
        let status = match self.status.as_deref() {
            Some("succeeded") => RefundStatus::Succeeded,
            Some("failed") => RefundStatus::Failed,
            Some("canceled") => RefundStatus::Canceled,
            Some("requires_action") => RefundStatus::RequiresAction,
            _ => RefundStatus::Pending,
        };
        let reason = match self.reason.as_deref() {
            Some("duplicate") => Some(RefundReason::Duplicate),
            Some("fraudulent") => Some(RefundReason::Fraudulent),
            Some("requested_by_customer") => Some(RefundReason::RequestedByCustomer),
            _ => None,
        };
        let amount = Money::new(self.amount, currency(&self.currency)?);
        let mut refund = Refund::record(
            RefundId::new(self.id).map_err(decode)?,
            payment_id,
            amount,
            status,
            timestamp(self.created),
        );
        refund.reason = reason;
        refund.metadata = self.metadata;
        Ok(refund)
    }
}

/// The form of a create call.
fn create_form(request: &CreatePayment) -> Vec<(String, String)> {
    let mut form = vec![
        ("amount".to_owned(), request.amount.minor().to_string()),
        (
            "currency".to_owned(),
            request.amount.currency().code().to_ascii_lowercase(),
        ),
        ("confirm".to_owned(), request.confirm.to_string()),
        (
            "capture_method".to_owned(),
            match request.capture {
                CaptureMode::Automatic => "automatic",
                CaptureMode::Manual => "manual",
            }
            .to_owned(),
        ),
    ];
    let (token, kind) = match &request.method {
        PaymentMethod::BankTransfer { scheme, token } => (token.as_str(), scheme.as_str()),
        other => (other.token().as_str(), "card"),
    };
    form.push(("payment_method_types[]".to_owned(), kind.to_owned()));
    if token.starts_with("tok_") {
        form.push(("payment_method_data[type]".to_owned(), "card".to_owned()));
        form.push((
            "payment_method_data[card][token]".to_owned(),
            token.to_owned(),
        ));
    } else {
        form.push(("payment_method".to_owned(), token.to_owned()));
    }
    match &request.customer {
        Some(CustomerRef::Provider(id)) => form.push(("customer".to_owned(), id.clone())),
        Some(CustomerRef::Internal(id)) => {
            form.push((format!("metadata[{INTERNAL_CUSTOMER_KEY}]"), id.clone()));
        }
        _ => {}
    }
    for (key, value) in &request.metadata {
        form.push((format!("metadata[{key}]"), value.clone()));
    }
    if let Some(description) = &request.description {
        form.push(("description".to_owned(), description.clone()));
    }
    form.push(("expand[]".to_owned(), "latest_charge".to_owned()));
    form
}

/// Stripe ids are letters, digits, `_` and `-`; anything else names no Stripe object
/// (and must not reach a URL path).
fn path_id(id: &str) -> Result<&str> {
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(id)
    } else {
        Err(Error::NotFound(format!(
            "no Stripe object has the id {id:?}"
        )))
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

impl StripePayments {
    /// One API call: the JSON body on success, the classified error otherwise.
    async fn call(
        &self,
        op: Op,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        form: Option<&[(String, String)]>,
        key: Option<&IdempotencyKey>,
    ) -> Result<Value> {
        self.send(method, path, query, form, key)
            .await
            .map_err(|error| error.into_port(op, key))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        form: Option<&[(String, String)]>,
        key: Option<&IdempotencyKey>,
    ) -> Result<Value, StripeError> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.secret_key.expose_secret())
            .header("Stripe-Version", STRIPE_VERSION);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key.as_str());
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.http_error(error))?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let retry_after = retry_after(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|error| self.http_error(error))?;
        tracing::debug!(%status, stripe_request_id = %request_id, path, "Stripe answered");
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|error| StripeError::Decode(error.to_string()));
        }
        let error = serde_json::from_slice::<ErrorEnvelope>(&body)
            .map(|envelope| Box::new(envelope.error))
            .unwrap_or_default();
        Err(StripeError::Api {
            status,
            error,
            retry_after,
        })
    }

    fn http_error(&self, error: reqwest::Error) -> StripeError {
        if error.is_timeout() {
            StripeError::Timeout(self.timeout)
        } else {
            StripeError::Http(error.without_url())
        }
    }

    fn payment(value: Value) -> Result<Payment> {
        serde_json::from_value::<PaymentIntent>(value)
            .map_err(|error| StripeError::Decode(error.to_string()))
            .and_then(PaymentIntent::into_payment)
            .map_err(|error| error.into_port(Op::Get, None))
    }

    async fn intent_action(
        &self,
        op: Op,
        id: &PaymentId,
        action: &str,
        mut form: Vec<(String, String)>,
        key: &IdempotencyKey,
    ) -> Result<Payment> {
        let id = path_id(id.as_str())?;
        form.push(("expand[]".to_owned(), "latest_charge".to_owned()));
        let value = self
            .call(
                op,
                Method::POST,
                &format!("/v1/payment_intents/{id}/{action}"),
                &[],
                Some(&form),
                Some(key),
            )
            .await?;
        Self::payment(value)
    }

    async fn fetch(&self, id: &PaymentId) -> Result<Payment> {
        let path_id = path_id(id.as_str())?;
        let value = self
            .call(
                Op::Get,
                Method::GET,
                &format!("/v1/payment_intents/{path_id}"),
                &[("expand[]", "latest_charge")],
                None,
                None,
            )
            .await?;
        Self::payment(value)
    }

    /// Refuses an amount in another currency than the payment's (Stripe takes none).
    async fn check_currency(&self, what: &str, id: &PaymentId, amount: Money) -> Result<()> {
        let payment = self.fetch(id).await?;
        if payment.amount.currency() == amount.currency() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "{what} is in {}, the payment in {}",
                amount.currency(),
                payment.amount.currency()
            )))
        }
    }
}

#[async_trait]
impl PaymentService for StripePayments {
    async fn create(&self, request: &CreatePayment) -> Result<Payment> {
        METRICS
            .call(Op::Create.name(), async {
                request.validate()?;
                let form = create_form(request);
                let value = self
                    .call(
                        Op::Create,
                        Method::POST,
                        "/v1/payment_intents",
                        &[],
                        Some(&form),
                        Some(&request.idempotency_key),
                    )
                    .await?;
                Self::payment(value)
            })
            .await
    }

    async fn get(&self, id: &PaymentId) -> Result<Payment> {
        METRICS.call(Op::Get.name(), self.fetch(id)).await
    }

    async fn confirm(&self, id: &PaymentId, idempotency_key: &IdempotencyKey) -> Result<Payment> {
        METRICS
            .call(
                Op::Confirm.name(),
                self.intent_action(Op::Confirm, id, "confirm", Vec::new(), idempotency_key),
            )
            .await
    }

    async fn capture(
        &self,
        id: &PaymentId,
        amount: Option<Money>,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Payment> {
        METRICS
            .call(Op::Capture.name(), async {
                let mut form = Vec::new();
                if let Some(amount) = amount {
                    if amount.minor() <= 0 {
                        return Err(Error::invalid(format!(
                            "capture amount must be positive, got {amount}"
                        )));
                    }
                    self.check_currency("capture amount", id, amount).await?;
                    form.push(("amount_to_capture".to_owned(), amount.minor().to_string()));
                }
                self.intent_action(Op::Capture, id, "capture", form, idempotency_key)
                    .await
            })
            .await
    }

    async fn cancel(&self, id: &PaymentId, idempotency_key: &IdempotencyKey) -> Result<Payment> {
        METRICS
            .call(
                Op::Cancel.name(),
                self.intent_action(Op::Cancel, id, "cancel", Vec::new(), idempotency_key),
            )
            .await
    }

    async fn refund(&self, request: &CreateRefund) -> Result<Refund> {
        METRICS
            .call(Op::Refund.name(), async {
                request.validate()?;
                let payment_id = path_id(request.payment_id.as_str())?;
                let mut form = vec![("payment_intent".to_owned(), payment_id.to_owned())];
                if let Some(amount) = request.amount {
                    self.check_currency("refund amount", &request.payment_id, amount)
                        .await?;
                    form.push(("amount".to_owned(), amount.minor().to_string()));
                }
                if let Some(reason) = request.reason {
                    form.push(("reason".to_owned(), reason.as_str().to_owned()));
                }
                for (key, value) in &request.metadata {
                    form.push((format!("metadata[{key}]"), value.clone()));
                }
                let value = self
                    .call(
                        Op::Refund,
                        Method::POST,
                        "/v1/refunds",
                        &[],
                        Some(&form),
                        Some(&request.idempotency_key),
                    )
                    .await?;
                serde_json::from_value::<StripeRefund>(value)
                    .map_err(|error| StripeError::Decode(error.to_string()))
                    .and_then(|refund| refund.into_refund(&request.payment_id))
                    .map_err(|error| error.into_port(Op::Refund, None))
            })
            .await
    }

    async fn list_refunds(&self, id: &PaymentId) -> Result<Vec<Refund>> {
        METRICS
            .call(Op::ListRefunds.name(), async {
                let payment_id = path_id(id.as_str())?;
                let mut refunds = Vec::new();
                let mut starting_after: Option<String> = None;
                for _ in 0..MAX_REFUND_PAGES {
                    let mut query = vec![("payment_intent", payment_id), ("limit", "100")];
                    if let Some(after) = &starting_after {
                        query.push(("starting_after", after.as_str()));
                    }
                    let value = self
                        .call(
                            Op::ListRefunds,
                            Method::GET,
                            "/v1/refunds",
                            &query,
                            None,
                            None,
                        )
                        .await?;
                    let page: RefundList = serde_json::from_value(value).map_err(|error| {
                        StripeError::Decode(error.to_string()).into_port(Op::ListRefunds, None)
                    })?;
                    starting_after = page.data.last().map(|refund| refund.id.clone());
                    let more = page.has_more && starting_after.is_some();
                    for refund in page.data {
                        refunds.push(
                            refund
                                .into_refund(id)
                                .map_err(|error| error.into_port(Op::ListRefunds, None))?,
                        );
                    }
                    if !more {
                        // Stripe lists newest first; the port answers oldest first.
                        refunds.reverse();
                        return Ok(refunds);
                    }
                }
                Err(Error::transient(format!(
                    "payment {id} has more than {} refunds",
                    MAX_REFUND_PAGES * 100
                )))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_refuses_what_would_leak_or_fail() {
        let config = |key: &str, url: &str| StripeConfig {
            secret_key: SecretString::from(key),
            base_url: url.to_owned(),
            timeout: Duration::from_secs(1),
        };
        assert!(config("sk_test_1", DEFAULT_BASE_URL).validate().is_ok());
        assert!(config("sk_test_1", "http://127.0.0.1:9").validate().is_ok());
        for (key, url, expected) in [
            ("", DEFAULT_BASE_URL, "must not be empty"),
            ("pk_test_1", DEFAULT_BASE_URL, "publishable keys"),
            ("sk_test_1", "http://api.stripe.com", "in clear"),
            ("sk_test_1", "ftp://x", "must be an http(s) URL"),
        ] {
            let error = config(key, url).validate().unwrap_err();
            assert!(matches!(error, Error::Invalid(_)), "{error:?}");
            assert!(error.to_string().contains(expected), "{error}");
            assert!(!error.to_string().contains("sk_test_1"), "{error}");
        }
        let debug = format!("{:?}", config("sk_live_secret", DEFAULT_BASE_URL));
        assert!(!debug.contains("sk_live_secret"), "{debug}");
    }

    #[test]
    fn stripe_error_kinds_depend_on_the_operation() {
        let api = |status: u16, error_type: &str, code: &str| StripeError::Api {
            status: StatusCode::from_u16(status).unwrap(),
            error: Box::new(ApiError {
                error_type: error_type.to_owned(),
                code: Some(code.to_owned()),
                message: Some("m".to_owned()),
                ..ApiError::default()
            }),
            retry_after: None,
        };
        assert!(matches!(
            api(400, "invalid_request_error", "amount_too_large").into_port(Op::Refund, None),
            Error::InvalidState(_)
        ));
        assert!(matches!(
            api(400, "invalid_request_error", "amount_too_large").into_port(Op::Capture, None),
            Error::Invalid(_)
        ));
        let over_refund = StripeError::Api {
            status: StatusCode::BAD_REQUEST,
            error: Box::new(ApiError {
                error_type: "invalid_request_error".to_owned(),
                param: Some("amount".to_owned()),
                message: Some(
                    "Refund amount ($20.00) is greater than unrefunded amount on charge ($5.00)"
                        .to_owned(),
                ),
                ..ApiError::default()
            }),
            retry_after: None,
        };
        assert!(matches!(
            over_refund.into_port(Op::Refund, None),
            Error::InvalidState(_)
        ));
        assert!(matches!(
            api(409, "invalid_request_error", "lock_timeout").into_port(Op::Create, None),
            Error::Transient { .. }
        ));
        assert!(matches!(
            api(400, "invalid_request_error", "resource_missing").into_port(Op::Refund, None),
            Error::NotFound(_)
        ));
    }

    #[test]
    fn ids_that_are_not_stripe_ids_never_reach_a_path() {
        assert!(path_id("pi_3Abc-def_1").is_ok());
        for bad in ["", "../v1/charges", "pi_1?expand=x", "pi 1", "pi_1/cancel"] {
            assert!(matches!(path_id(bad), Err(Error::NotFound(_))), "{bad}");
        }
    }
}
