//! `POST /v1/orders/{id}/pay`, `POST /v1/orders/{id}/refunds`, `GET /v1/orders/{id}/payment`.
//!
//! Payment is a separate step after placement: an order is paid once the worker has
//! confirmed it (stock reserved), so money is never taken for an order that cannot be
//! delivered.
//!
//! While the payment provider is unavailable — the circuit breaker is open, or it keeps
//! failing transiently — the API answers fast with `503` and `Retry-After` (the time
//! until the breaker lets a trial call through). Nothing is queued: the order stays
//! payable and the client retries, with the same `Idempotency-Key` so a retry cannot
//! charge twice.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use seam_core::{Classify, ErrorKind};
use seam_domain::{Money, OrderId};
use seam_orders::PaymentsError;
use seam_orders::payments::Payments;
use seam_payments::{BankScheme, PaymentMethod, PaymentToken, WalletKind};
use seam_repository::{OrderPayment, PaymentRefundRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::orders::{IDEMPOTENCY_KEY, MoneyView};
use crate::problem::{ApiJson, Problem};

/// The payment routes (under authentication, like the other order routes).
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/v1/orders/{id}/pay", post(pay_order))
        .route("/v1/orders/{id}/refunds", post(refund_order))
        .route("/v1/orders/{id}/payment", get(get_payment))
}

/// How the customer pays: a provider token, never a card number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MethodRequest {
    /// A card, by its token or payment-method id (`tok_visa`, `pm_…`).
    Card {
        /// The token.
        token: String,
    },
    /// A SEPA or ACH debit, by its payment-method id.
    BankTransfer {
        /// `sepa_debit`, `us_bank_account` or `bacs_debit`.
        scheme: String,
        /// The payment-method id.
        token: String,
    },
    /// A wallet (`apple_pay`, `google_pay`), by its token.
    Wallet {
        /// `apple_pay` or `google_pay`.
        kind: String,
        /// The token.
        token: String,
    },
}

/// `POST /v1/orders/{id}/pay`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// The payment method.
    pub method: MethodRequest,
}

/// `POST /v1/orders/{id}/refunds`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units to refund; everything still refundable when absent.
    pub amount: Option<i64>,
}

/// An order's payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    /// `pending` until the provider answered, then `succeeded`, `failed`,
    /// `requires_action`, `processing`, `partially_refunded`, `refunded`, `disputed`, …
    pub status: String,
    /// The provider's payment id.
    pub payment_id: Option<String>,
    /// The amount charged: the order total.
    pub amount: MoneyView,
    /// How much was refunded so far.
    pub refunded: MoneyView,
    /// The failure or decline code of the last failed attempt.
    pub failure_code: Option<String>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&OrderPayment> for PaymentView {
    fn from(payment: &OrderPayment) -> Self {
        Self {
            status: payment.status.clone(),
            payment_id: payment.payment_id.clone(),
            amount: payment.amount.into(),
            refunded: Money::new(payment.amount_refunded_minor, payment.amount.currency()).into(),
            failure_code: payment.failure_code.clone(),
            updated_at: payment.updated_at,
        }
    }
}

/// A refund.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    /// The provider's refund id.
    pub refund_id: String,
    /// How much.
    pub amount: MoneyView,
    /// `pending`, `succeeded`, …
    pub status: String,
    /// The order's payment after the refund.
    pub payment: PaymentView,
}

impl RefundView {
    fn new(refund: &PaymentRefundRecord, payment: &OrderPayment) -> Self {
        Self {
            refund_id: refund.refund_id.clone(),
            amount: Money::new(refund.amount_minor, payment.amount.currency()).into(),
            status: refund.status.clone(),
            payment: payment.into(),
        }
    }
}

/// A problem document with the issuer's decline code.
#[derive(Debug, Serialize)]
struct DeclineProblem {
    #[serde(flatten)]
    problem: Problem,
    decline_code: Option<String>,
}

/// A payment use case failed; mapped to a problem document.
#[derive(Debug)]
pub(crate) struct PaymentApiError(PaymentsError);

impl From<PaymentsError> for PaymentApiError {
    fn from(error: PaymentsError) -> Self {
        Self(error)
    }
}

fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    Problem::new(status, detail.into()).into_response()
}

impl IntoResponse for PaymentApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        if let PaymentsError::Declined { decline_code, .. } = &error {
            let body = DeclineProblem {
                problem: Problem::new(StatusCode::PAYMENT_REQUIRED, error.to_string()),
                decline_code: decline_code.clone(),
            };
            return (
                StatusCode::PAYMENT_REQUIRED,
                [(header::CONTENT_TYPE, "application/problem+json")],
                Json(body),
            )
                .into_response();
        }
        let kind = error.kind();
        match kind {
            ErrorKind::NotFound => problem(StatusCode::NOT_FOUND, error.to_string()),
            ErrorKind::Conflict | ErrorKind::AlreadyExists => {
                problem(StatusCode::CONFLICT, error.to_string())
            }
            ErrorKind::Invalid => problem(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()),
            ErrorKind::Unavailable
            | ErrorKind::Transient
            | ErrorKind::RateLimited { .. }
            | ErrorKind::Timeout => {
                tracing::warn!(error.message = %error, error.kind = %kind, "payment provider unavailable");
                let mut response = problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the payment provider is unavailable; the order stays payable, try again later",
                );
                let after = error
                    .retry_after()
                    .or(kind.retry_after())
                    .map_or(1, |after| after.as_millis().div_ceil(1000).max(1));
                if let Ok(value) = HeaderValue::from_str(&after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            _ => {
                tracing::error!(error.message = %error, error.kind = %kind, error.cause_chain = ?error, "payment request failed");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, None).into_response()
            }
        }
    }
}

fn unprocessable(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail.into())
}

fn order_id(id: &str) -> Result<OrderId, Problem> {
    id.parse::<OrderId>()
        .map_err(|_| unprocessable(format!("id: {id:?} is not a UUID")))
}

fn method(request: MethodRequest) -> Result<PaymentMethod, Problem> {
    let token = |token: String| {
        PaymentToken::new(token).map_err(|error| unprocessable(format!("method.token: {error}")))
    };
    Ok(match request {
        MethodRequest::Card { token: value } => PaymentMethod::Card {
            token: token(value)?,
        },
        MethodRequest::BankTransfer {
            scheme,
            token: value,
        } => PaymentMethod::BankTransfer {
            scheme: match scheme.as_str() {
                "sepa_debit" => BankScheme::SepaDebit,
                "us_bank_account" => BankScheme::UsBankAccount,
                "bacs_debit" => BankScheme::BacsDebit,
                other => {
                    return Err(unprocessable(format!(
                        "method.scheme: {other:?} is not sepa_debit, us_bank_account or bacs_debit"
                    )));
                }
            },
            token: token(value)?,
        },
        MethodRequest::Wallet { kind, token: value } => PaymentMethod::Wallet {
            kind: match kind.as_str() {
                "apple_pay" => WalletKind::ApplePay,
                "google_pay" => WalletKind::GooglePay,
                other => {
                    return Err(unprocessable(format!(
                        "method.kind: {other:?} is not apple_pay or google_pay"
                    )));
                }
            },
            token: token(value)?,
        },
    })
}

fn client_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    match headers.get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(value) => match value.to_str() {
            Ok(key) if !key.trim().is_empty() && key.len() <= 200 => Ok(Some(key.to_owned())),
            _ => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key: 1 to 200 visible ASCII characters".to_owned(),
            )),
        },
    }
}

fn payments(state: &AppState) -> &Payments {
    &state.payments
}

/// Pays a confirmed order's total.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/pay",
    params(("id" = String, Path, description = "The order id")),
    request_body = PayRequest,
    responses(
        (status = 201, description = "Payment taken (or started: see `status`)", body = PaymentView),
        (status = 200, description = "The order was paid already", body = PaymentView),
        (status = 402, description = "Card declined; `decline_code` says why"),
        (status = 404, description = "No such order"),
        (status = 409, description = "The order is not confirmed"),
        (status = 422, description = "Bad method, or a card number instead of a token"),
        (status = 503, description = "Payment provider unavailable (breaker open); see Retry-After"),
    ),
    tag = "payments"
)]
pub(crate) async fn pay_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PayRequest>,
) -> Response {
    let order_id = match order_id(&id) {
        Ok(id) => id,
        Err(problem) => return problem.into_response(),
    };
    let (method, key) = match (method(request.method), client_key(&headers)) {
        (Ok(method), Ok(key)) => (method, key),
        (Err(problem), _) | (_, Err(problem)) => return problem.into_response(),
    };
    match payments(&state).pay(order_id, method, key.as_deref()).await {
        Ok(outcome) => {
            let status = if outcome.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (status, Json(PaymentView::from(&outcome.payment))).into_response()
        }
        Err(error) => PaymentApiError(error).into_response(),
    }
}

/// Refunds (part of) a paid order.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/refunds",
    params(("id" = String, Path, description = "The order id")),
    request_body = RefundRequest,
    responses(
        (status = 201, description = "Refund accepted", body = RefundView),
        (status = 404, description = "No such order"),
        (status = 409, description = "Not paid, or more than what is still refundable"),
        (status = 422, description = "Amount not positive"),
        (status = 503, description = "Payment provider unavailable; see Retry-After"),
    ),
    tag = "payments"
)]
pub(crate) async fn refund_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RefundRequest>,
) -> Response {
    let order_id = match order_id(&id) {
        Ok(id) => id,
        Err(problem) => return problem.into_response(),
    };
    let key = match client_key(&headers) {
        Ok(key) => key,
        Err(problem) => return problem.into_response(),
    };
    let payments = payments(&state);
    let amount = match request.amount {
        None => None,
        Some(minor) => match payments.payment(order_id).await {
            Ok(Some(payment)) => Some(Money::new(minor, payment.amount.currency())),
            Ok(None) => {
                return problem(StatusCode::CONFLICT, "the order was not paid");
            }
            Err(error) => return PaymentApiError(error).into_response(),
        },
    };
    match payments.refund(order_id, amount, key.as_deref()).await {
        Ok(outcome) => (
            StatusCode::CREATED,
            Json(RefundView::new(&outcome.refund, &outcome.payment)),
        )
            .into_response(),
        Err(error) => PaymentApiError(error).into_response(),
    }
}

/// The order's payment.
#[utoipa::path(
    get,
    path = "/v1/orders/{id}/payment",
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 200, body = PaymentView),
        (status = 404, description = "No such order, or it was never paid"),
    ),
    tag = "payments"
)]
pub(crate) async fn get_payment(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let order_id = match order_id(&id) {
        Ok(id) => id,
        Err(problem) => return problem.into_response(),
    };
    match payments(&state).payment(order_id).await {
        Ok(Some(payment)) => Json(PaymentView::from(&payment)).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, "the order has no payment"),
        Err(error) => PaymentApiError(error).into_response(),
    }
}
