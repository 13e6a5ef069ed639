//! `POST /v1/orders`, `GET /v1/orders/{id}`, `GET /v1/orders?customer_id=..`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use seam_domain::{Currency, Money, NewOrder, NewOrderLine, Order, OrderId, Quantity, Sku, UserId};
use seam_orders::{PlaceOrder, request_hash};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, invalid};
use crate::problem::Problem;

/// The header that makes `POST /v1/orders` safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// An order as a client asks for it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    /// The customer's user id.
    #[schema(value_type = String, format = Uuid)]
    pub customer_id: String,
    /// ISO 4217 code the order is priced in, e.g. `EUR`.
    #[schema(example = "EUR")]
    pub currency: String,
    /// What is ordered: 1 to 100 lines, each SKU once.
    pub lines: Vec<OrderLineRequest>,
}

/// One requested line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLineRequest {
    /// The product's SKU.
    #[schema(example = "MUG-SEAM")]
    pub sku: String,
    /// How many, 1 to 10000.
    pub quantity: i64,
}

/// An amount of money.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyView {
    /// Minor units (cents for EUR, yen for JPY).
    pub minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Human-readable, e.g. `19.99 EUR`.
    pub formatted: String,
}

impl From<Money> for MoneyView {
    fn from(money: Money) -> Self {
        Self {
            minor: money.minor(),
            currency: money.currency().code().to_owned(),
            formatted: money.to_string(),
        }
    }
}

/// One line of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineView {
    /// The product.
    pub sku: String,
    /// How many.
    pub quantity: u32,
    /// Price of one unit when ordered.
    pub unit_price: MoneyView,
    /// `quantity * unit_price`.
    pub line_total: MoneyView,
}

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: String,
    /// Who placed it.
    #[schema(value_type = String, format = Uuid)]
    pub customer_id: String,
    /// `pending`, `confirmed` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// The lines.
    pub lines: Vec<OrderLineView>,
    /// The total.
    pub total: MoneyView,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Its version (for optimistic concurrency).
    pub version: i64,
    /// Its payment, once one was started (`GET /v1/orders/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<crate::payments::PaymentView>,
}

impl From<&Order> for OrderView {
    fn from(order: &Order) -> Self {
        Self {
            id: order.id.to_string(),
            customer_id: order.customer_id.to_string(),
            status: order.status.to_string(),
            rejection_reason: order.rejection_reason.clone(),
            lines: order
                .lines
                .iter()
                .map(|line| OrderLineView {
                    sku: line.sku.to_string(),
                    quantity: line.quantity.get(),
                    unit_price: line.unit_price.into(),
                    line_total: line.total().unwrap_or(line.unit_price).into(),
                })
                .collect(),
            total: order.total.into(),
            created_at: order.created_at,
            updated_at: order.updated_at,
            version: order.version,
            payment: None,
        }
    }
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    /// The orders on this page.
    pub items: Vec<OrderView>,
    /// How many there are in all.
    pub total: u64,
    /// The page size asked for.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}

/// Query of `GET /v1/orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListOrders {
    /// Whose orders.
    pub customer_id: String,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<u32>,
    /// How many to skip (default 0).
    pub offset: Option<u64>,
}

pub(crate) fn parse_id<T>(field: &str, text: &str) -> Result<seam_core::Id<T>, ApiError> {
    text.parse()
        .map_err(|error: seam_core::ParseIdError| invalid(format!("{field}: {error}")))
}

fn to_new_order(request: PlaceOrderRequest) -> Result<NewOrder, ApiError> {
    let customer: UserId = parse_id("customer_id", &request.customer_id)?;
    let currency = Currency::parse(&request.currency)?;
    let mut lines = Vec::with_capacity(request.lines.len());
    for (index, line) in request.lines.into_iter().enumerate() {
        let prefix = format!("lines[{index}]");
        let sku = Sku::parse(&line.sku).map_err(|error| error.within(&prefix))?;
        let units = u32::try_from(line.quantity).map_err(|_| {
            invalid(format!(
                "{prefix}.quantity: must be between 1 and {}, got {}",
                Quantity::MAX,
                line.quantity
            ))
        })?;
        let quantity = Quantity::new(units).map_err(|error| error.within(&prefix))?;
        lines.push(NewOrderLine { sku, quantity });
    }
    Ok(NewOrder::new(customer, currency, lines)?)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|key| {
            !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::Problem(Problem::new(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key must be 1 to 255 visible ASCII characters".to_owned(),
            ))
        })?;
    Ok(Some(key.to_owned()))
}

/// Places an order.
#[utoipa::path(
    post,
    path = "/v1/orders",
    request_body = PlaceOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry: the same key and body give the same answer")),
    responses(
        (status = 201, description = "Order accepted; it is confirmed or rejected asynchronously", body = OrderView),
        (status = 400, description = "Malformed JSON or header"),
        (status = 413, description = "Body too large"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "Invalid order, unknown SKU or customer, or an idempotency key reused with another body"),
        (status = 503, description = "A dependency is unavailable"),
    ),
    tag = "orders"
)]
pub(crate) async fn place_order(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let request: PlaceOrderRequest = crate::json::parse(&headers, &body)?;
    let order = to_new_order(request)?;
    let hash = request_hash(&body);
    let placed = state
        .orders
        .place_order(PlaceOrder {
            order,
            idempotency: key.map(|key| (key, hash)),
            traceparent: seam_telemetry::propagation::current_traceparent(),
        })
        .await?;
    let location = format!("/v1/orders/{}", placed.order.id);
    let mut response = (StatusCode::CREATED, Json(OrderView::from(&placed.order))).into_response();
    if let Ok(value) = location.parse() {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    if placed.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// One order.
#[utoipa::path(
    get,
    path = "/v1/orders/{id}",
    params(("id" = String, Path, description = "The order id")),
    responses((status = 200, body = OrderView), (status = 404), (status = 422, description = "Not a UUID")),
    tag = "orders"
)]
pub(crate) async fn get_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let id: OrderId = parse_id("id", &id)?;
    let order = state.orders.get_order(id).await?;
    let mut view = OrderView::from(&order);
    // The payment lives beside the order; a failure to read it must not hide the order.
    match state.payments.payment(id).await {
        Ok(payment) => view.payment = payment.as_ref().map(Into::into),
        Err(error) => tracing::warn!(error.message = %error, "order payment not read"),
    }
    Ok(Json(view))
}

/// A customer's orders, newest first.
#[utoipa::path(
    get,
    path = "/v1/orders",
    params(ListOrders),
    responses((status = 200, body = OrderPage), (status = 422)),
    tag = "orders"
)]
pub(crate) async fn list_orders(
    State(state): State<AppState>,
    query: Result<Query<ListOrders>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OrderPage>, ApiError> {
    let Query(query) = query.map_err(|error| invalid(error.body_text()))?;
    let customer: UserId = parse_id("customer_id", &query.customer_id)?;
    let page = state
        .orders
        .list_orders(
            customer,
            query.limit.unwrap_or(20),
            query.offset.unwrap_or(0),
        )
        .await?;
    Ok(Json(OrderPage {
        items: page.items.iter().map(OrderView::from).collect(),
        total: page.total,
        limit: page.limit,
        offset: page.offset,
    }))
}
